//! Detection rules: the expression language over event fields, rules and rules files, and
//! the default ruleset.
//!
//! # Expression language
//!
//! ```text
//! exec.file.name in ["sh", "bash"] && process.ancestors.file.name in web_servers
//! open.file.path ~ "/etc/sudoers.d/*" && "write" in open.flags
//! dns.question.name ~ ["*.minexmr.com", "pool.*"] || exec.args =~ r"bash\s+-i"
//! ```
//!
//! - Fields are dotted names ([`Field::ALL`]). A field the event's kind does not carry is
//!   *absent*, and every test of an absent field is false, `!=` and `not in` included.
//! - `==`, `!=` with a string, integer or `true`/`false`; `<`, `<=`, `>`, `>=` on integers.
//! - `in [..]`, `not in [..]` against a list literal or a list macro.
//! - `~ "glob"` or `~ ["glob", ..]`: `*` within a path segment, `**` across segments, `?`
//!   one character; the whole value must match.
//! - `=~ r"regex"` (or `=~ "regex"`): Rust regex syntax, unanchored search.
//! - `contains "text"`: substring.
//! - List fields (`process.ancestors.file.name`, `process.ancestors.file.path`,
//!   `open.flags`): a test holds if it holds for any element (`!=`/`not in` are the
//!   negations of `==`/`in`). `"x" in list_field` is membership. `list_field == [..]` is
//!   exact, ordered list equality (ancestors are nearest first); it is what suppressions
//!   use to pin a process lineage.
//! - Argument lists (`exec.args`, `process.args`): `==`, `in` and `"x" in exec.args` work
//!   on the single arguments; `~`, `=~` and `contains` on the command line joined with
//!   spaces; `== [..]` compares the whole argv.
//! - Boolean fields (`chmod.file.setuid`, `chmod.file.setgid`) can stand alone as
//!   conditions.
//! - `&&` binds tighter than `||`; `!` negates; parentheses group; `#` starts a comment.
//! - Integers: decimal, `0x..`, `0o..`, `0b..`, optionally negative.
//! - Strings: `"..."` with `\" \\ \n \t \r \u{..}` escapes, or raw `r"..."`.
//! - Macros: a bare name refers to a macro from the rules file: a list macro wherever a
//!   list goes, an expression macro wherever a condition goes.
//!
//! [`Expr`]'s `Display` is canonical: parsing the printed text gives the same expression.

mod error;
mod eval;
mod expr;
mod field;
mod lexer;
mod macros;
mod parser;
mod pattern;
mod ruleset;

#[cfg(test)]
mod default_rules_tests;
#[cfg(test)]
mod tests;

pub use error::{ParseError, ParseErrorKind, RuleFileError, Suggestion};
pub use expr::{suppression_expr, write_str_literal, CompareOp, Expr, Globs, List, Scalar, Test};
pub use field::{Field, FieldType, KindSet, Value, KIND_NAMES};
pub use macros::{MacroDef, Macros, RawMacro};
pub use parser::{parse, parse_with, MAX_DEPTH, MAX_OPERATORS};
pub use pattern::{Glob, Pattern};
pub use ruleset::{
    Rule, RuleExpression, RuleFormat, RuleSet, Severity, DEFAULT_RULES_ORIGIN, DEFAULT_RULES_TOML,
};
