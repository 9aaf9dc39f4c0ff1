//! Errors of the expression language and of rule files.

use std::fmt;

/// A problem in an expression, at a 1-based line and column (in characters) of its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub kind: ParseErrorKind,
}

/// Optional "did you mean" hint, printed after an unknown name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion(pub Option<String>);

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => write!(f, " (did you mean `{s}`?)"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("expected {expected}, found {found}")]
    Unexpected { expected: String, found: String },
    #[error("unknown field `{name}`{suggestion}")]
    UnknownField {
        name: String,
        suggestion: Suggestion,
    },
    #[error("unknown macro `{name}`{suggestion}")]
    UnknownMacro {
        name: String,
        suggestion: Suggestion,
    },
    #[error("unknown event kind `{name}`{suggestion}")]
    UnknownEventKind {
        name: String,
        suggestion: Suggestion,
    },
    #[error("unknown file access `{name}` (one of: {known})")]
    UnknownAccess { name: String, known: String },
    #[error("`{op}` does not apply to `{field}`, which is {ty}")]
    BadOperator {
        op: String,
        field: String,
        ty: &'static str,
    },
    #[error("invalid regex {pattern:?}: {message}")]
    InvalidRegex { pattern: String, message: String },
    #[error("invalid glob {pattern:?}: {message}")]
    InvalidGlob { pattern: String, message: String },
    #[error("unterminated string")]
    UnterminatedString,
    #[error("invalid escape `{0}` in string")]
    InvalidEscape(String),
    #[error("integer `{0}` out of range")]
    IntegerOutOfRange(String),
    #[error("expression nests too deeply (more than {0} levels)")]
    TooDeep(usize),
    #[error("expression has too many `&&`/`||` operators (more than {0})")]
    TooLong(usize),
}

impl ParseError {
    pub fn new(line: usize, column: usize, kind: ParseErrorKind) -> ParseError {
        ParseError { line, column, kind }
    }
}

/// A problem in a rules file. Every variant names the file (`origin`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleFileError {
    /// The TOML/YAML text itself is malformed, or has a wrong or missing key.
    #[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Syntax {
        origin: String,
        line: Option<usize>,
        message: String,
    },
    /// A rule's expression does not parse; `error` has the line and column within it.
    #[error("{origin}{}: rule `{rule}`: {error}", file_line.map(|l| format!(":{l}")).unwrap_or_default())]
    Expression {
        origin: String,
        rule: String,
        /// Line of the expression in the file, when the format reports it.
        file_line: Option<usize>,
        error: Box<ParseError>,
    },
    #[error("{origin}: macro `{name}`: {error}")]
    Macro {
        origin: String,
        name: String,
        error: Box<ParseError>,
    },
    #[error("{origin}: macros refer to each other in a cycle: {}", cycle.join(" -> "))]
    MacroCycle { origin: String, cycle: Vec<String> },
    #[error("{origin}: macro name `{name}` is invalid ({reason})")]
    BadMacroName {
        origin: String,
        name: String,
        reason: &'static str,
    },
    #[error("{origin}: rule id `{id}` is defined more than once")]
    DuplicateId { origin: String, id: String },
    #[error(
        "{origin}: rule id `{id}` is not kebab-case (lowercase letters, digits, single dashes)"
    )]
    BadId { origin: String, id: String },
    #[error(
        "{origin}: rule `{rule}`: MITRE technique `{mitre}` is not of the form T1234 or T1234.001"
    )]
    BadMitre {
        origin: String,
        rule: String,
        mitre: String,
    },
}
