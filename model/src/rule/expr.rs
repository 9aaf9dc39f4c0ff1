//! The expression tree and its canonical printer.
//!
//! `Display` prints an expression in canonical form: `parse(print(e)) == e` for every
//! expression (given the same macros), which is what lets suppressions be stored as text.

use super::field::Field;
use super::pattern::{Glob, Pattern};
use std::fmt;
use std::sync::Arc;

/// A literal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// A list literal, or a list macro (printed by its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The list macro this list came from, if any.
    pub macro_name: Option<String>,
    pub items: Vec<Scalar>,
}

impl List {
    pub fn literal(items: Vec<Scalar>) -> List {
        List {
            macro_name: None,
            items,
        }
    }
    pub fn strings(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|s| match s {
            Scalar::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Comparison operators between a field and a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// One or more globs (`~ "g"` or `~ ["g1", "g2"]`, matching if any matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Globs {
    One(Glob),
    List {
        macro_name: Option<String>,
        globs: Vec<Glob>,
    },
}

impl Globs {
    pub fn iter(&self) -> impl Iterator<Item = &Glob> {
        match self {
            Globs::One(g) => std::slice::from_ref(g).iter(),
            Globs::List { globs, .. } => globs.iter(),
        }
    }
}

/// What is tested about a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `field OP scalar`. On list fields `==` means "any element equals" and `!=` is its
    /// negation.
    Compare(CompareOp, Scalar),
    /// `field == [..]` / `field != [..]` on a list field: exact, ordered list equality.
    ListEq { negated: bool, list: List },
    /// `field in [..]` / `field not in [..]`. On list fields: any element is in the list.
    In { negated: bool, list: List },
    /// `field ~ glob` or `field ~ [globs]`.
    Glob(Globs),
    /// `field =~ regex`.
    Regex(Pattern),
    /// `field contains "text"`: substring.
    Contains(String),
}

/// A rule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `true` / `false`.
    Literal(bool),
    /// A boolean field used as a condition (`chmod.file.setuid`).
    Flag(Field),
    /// A test of one field.
    Test {
        field: Field,
        test: Test,
    },
    /// `"x" in list_field` / `"x" not in list_field`: list membership.
    Member {
        item: Scalar,
        field: Field,
        negated: bool,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// A reference to an expression macro (printed by its name).
    Macro {
        name: String,
        body: Arc<Expr>,
    },
}

impl Expr {
    pub fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }
    pub fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }
    #[allow(clippy::should_implement_trait)]
    pub fn not(a: Expr) -> Expr {
        Expr::Not(Box::new(a))
    }
    pub fn test(field: Field, test: Test) -> Expr {
        Expr::Test { field, test }
    }

    /// Binding strength for printing: `||` < `&&` < unary/atoms.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(..) => 1,
            Expr::And(..) => 2,
            _ => 3,
        }
    }
}

/// The expression a suppression stores: this image, this process, this exact lineage.
///
/// `ancestors` are exec paths nearest (parent) first, as in
/// [`crate::event::ProcessInfo::ancestors`]. The lineage test uses exact list equality
/// (`process.ancestors.file.path == [...]`), so the suppression does not cover the same
/// executable started from a different parent chain.
pub fn suppression_expr(image: &str, process_path: &str, ancestors: &[String]) -> Expr {
    let image = Expr::test(
        Field::ContainerImageName,
        Test::Compare(CompareOp::Eq, Scalar::Str(image.to_string())),
    );
    let process = Expr::test(
        Field::ProcessFilePath,
        Test::Compare(CompareOp::Eq, Scalar::Str(process_path.to_string())),
    );
    let lineage = Expr::test(
        Field::ProcessAncestorsFilePath,
        Test::ListEq {
            negated: false,
            list: List::literal(ancestors.iter().map(|a| Scalar::Str(a.clone())).collect()),
        },
    );
    Expr::and(Expr::and(image, process), lineage)
}

/// Writes `s` as a quoted string literal the lexer reads back to `s`.
pub fn write_str_literal(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Regexes print raw (`r"..."`) when they can, so backslashes stay readable.
fn write_regex_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if s.chars().any(|c| c == '"' || c.is_control()) {
        write_str_literal(f, s)
    } else {
        write!(f, "r\"{s}\"")
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(s) => write_str_literal(f, s),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

fn write_items<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    mut each: impl FnMut(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    f.write_str("[")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    f.write_str("]")
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.macro_name {
            Some(name) => f.write_str(name),
            None => write_items(f, &self.items, |f, s| write!(f, "{s}")),
        }
    }
}

impl fmt::Display for Globs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Globs::One(g) => write_str_literal(f, g.source()),
            Globs::List {
                macro_name: Some(name),
                ..
            } => f.write_str(name),
            Globs::List { globs, .. } => {
                write_items(f, globs, |f, g| write_str_literal(f, g.source()))
            }
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Compare(op, v) => write!(f, "{} {v}", op.symbol()),
            Test::ListEq { negated, list } => {
                write!(f, "{} {list}", if *negated { "!=" } else { "==" })
            }
            Test::In { negated, list } => {
                write!(f, "{} {list}", if *negated { "not in" } else { "in" })
            }
            Test::Glob(g) => write!(f, "~ {g}"),
            Test::Regex(p) => {
                f.write_str("=~ ")?;
                write_regex_literal(f, p.source())
            }
            Test::Contains(s) => {
                f.write_str("contains ")?;
                write_str_literal(f, s)
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left operands of a left-associative operator need parentheses only when they
        // bind more loosely; right operands also when they bind equally.
        let side = |f: &mut fmt::Formatter<'_>, e: &Expr, min: u8| {
            if e.precedence() < min {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        };
        match self {
            Expr::Literal(b) => write!(f, "{b}"),
            Expr::Flag(field) => write!(f, "{field}"),
            Expr::Test { field, test } => write!(f, "{field} {test}"),
            Expr::Member {
                item,
                field,
                negated,
            } => write!(
                f,
                "{item} {} {field}",
                if *negated { "not in" } else { "in" }
            ),
            Expr::Not(e) => {
                f.write_str("!")?;
                side(f, e, 3)
            }
            Expr::And(a, b) => {
                side(f, a, 2)?;
                f.write_str(" && ")?;
                side(f, b, 3)
            }
            Expr::Or(a, b) => {
                side(f, a, 1)?;
                f.write_str(" || ")?;
                side(f, b, 2)
            }
            Expr::Macro { name, .. } => f.write_str(name),
        }
    }
}
