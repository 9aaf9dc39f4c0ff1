//! Tokens of the expression language, with their line and column.

use super::error::{ParseError, ParseErrorKind};
use std::fmt;
use std::iter::Peekable;
use std::str::Chars;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A field, macro name or keyword (`in`, `not`, `contains`, `true`, `false`).
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    EqEq,
    NotEq,
    Tilde,
    RegexMatch,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

impl fmt::Display for Tok {
    /// How a token is named in "found ..." messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sym = match self {
            Tok::Ident(s) => return write!(f, "`{s}`"),
            Tok::Str(s) => {
                f.write_str("string ")?;
                return super::expr::write_str_literal(f, s);
            }
            Tok::Int(i) => return write!(f, "integer {i}"),
            Tok::Eof => return f.write_str("end of expression"),
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Tilde => "~",
            Tok::RegexMatch => "=~",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
        };
        write!(f, "`{sym}`")
    }
}

/// A token and where it starts (1-based line and column, counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub column: usize,
}

pub struct Lexer<'a> {
    chars: Peekable<Chars<'a>>,
    line: usize,
    column: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            chars: src.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.chars.peek() == Some(&c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn skip_blanks(&mut self) {
        while let Some(&c) = self.chars.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '#' {
                while self.chars.peek().is_some_and(|&c| c != '\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_blanks();
        let (line, column) = (self.line, self.column);
        let err = |kind| ParseError::new(line, column, kind);
        let Some(c) = self.bump() else {
            return Ok(Token {
                tok: Tok::Eof,
                line,
                column,
            });
        };
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '~' => Tok::Tilde,
            '=' if self.eat('=') => Tok::EqEq,
            '=' if self.eat('~') => Tok::RegexMatch,
            '!' if self.eat('=') => Tok::NotEq,
            '!' => Tok::Bang,
            '<' if self.eat('=') => Tok::Le,
            '<' => Tok::Lt,
            '>' if self.eat('=') => Tok::Ge,
            '>' => Tok::Gt,
            '&' if self.eat('&') => Tok::AndAnd,
            '|' if self.eat('|') => Tok::OrOr,
            '"' => Tok::Str(self.string(line, column)?),
            'r' if self.chars.peek() == Some(&'"') => {
                self.bump();
                Tok::Str(self.raw_string(line, column)?)
            }
            c if c.is_ascii_digit() => Tok::Int(self.integer(c, false, line, column)?),
            '-' if self.chars.peek().is_some_and(char::is_ascii_digit) => {
                let first = self.bump().expect("peeked");
                Tok::Int(self.integer(first, true, line, column)?)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut s = String::from(c);
                while let Some(&c) = self.chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                        s.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                Tok::Ident(s)
            }
            c => {
                return Err(err(ParseErrorKind::Unexpected {
                    expected: "a field, literal, operator or parenthesis".into(),
                    found: format!("`{}`", c.escape_debug()),
                }))
            }
        };
        Ok(Token { tok, line, column })
    }

    fn string(&mut self, line: usize, column: usize) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            let (el, ec) = (self.line, self.column);
            match self.bump() {
                None => {
                    return Err(ParseError::new(
                        line,
                        column,
                        ParseErrorKind::UnterminatedString,
                    ))
                }
                Some('"') => return Ok(s),
                Some('\\') => {
                    let bad = |e: &str| {
                        ParseError::new(el, ec, ParseErrorKind::InvalidEscape(format!("\\{e}")))
                    };
                    match self.bump() {
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('r') => s.push('\r'),
                        Some('u') => s.push(self.unicode_escape().map_err(|e| bad(&e))?),
                        Some(c) => return Err(bad(&c.to_string())),
                        None => {
                            return Err(ParseError::new(
                                line,
                                column,
                                ParseErrorKind::UnterminatedString,
                            ))
                        }
                    }
                }
                Some(c) => s.push(c),
            }
        }
    }

    /// The part after `\u`: `{hex}`. On error, returns the escape text read so far.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let mut text = String::from("u");
        if !self.eat('{') {
            return Err(text);
        }
        text.push('{');
        let mut hex = String::new();
        loop {
            match self.bump() {
                Some('}') => break,
                Some(c) if c.is_ascii_hexdigit() && hex.len() < 6 => hex.push(c),
                Some(c) => {
                    text.push_str(&hex);
                    text.push(c);
                    return Err(text);
                }
                None => return Err(text + &hex),
            }
        }
        text.push_str(&hex);
        text.push('}');
        u32::from_str_radix(&hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or(text)
    }

    fn raw_string(&mut self, line: usize, column: usize) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(ParseError::new(
                        line,
                        column,
                        ParseErrorKind::UnterminatedString,
                    ))
                }
                Some('"') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn integer(
        &mut self,
        first: char,
        negative: bool,
        line: usize,
        column: usize,
    ) -> Result<i64, ParseError> {
        let mut text = String::from(first);
        let radix = match (first, self.chars.peek()) {
            ('0', Some('x')) => 16,
            ('0', Some('o')) => 8,
            ('0', Some('b')) => 2,
            _ => 10,
        };
        if radix != 10 {
            text.push(self.bump().expect("peeked"));
        }
        let mut digits = if radix == 10 {
            String::from(first)
        } else {
            String::new()
        };
        while let Some(&c) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                text.push(c);
                self.bump();
                if c != '_' {
                    digits.push(c);
                }
            } else {
                break;
            }
        }
        let shown = if negative { format!("-{text}") } else { text };
        let magnitude = u64::from_str_radix(&digits, radix).map_err(|e| {
            let kind = match e.kind() {
                std::num::IntErrorKind::PosOverflow => {
                    ParseErrorKind::IntegerOutOfRange(shown.clone())
                }
                _ => ParseErrorKind::Unexpected {
                    expected: "an integer".into(),
                    found: format!("`{shown}`"),
                },
            };
            ParseError::new(line, column, kind)
        })?;
        let value = if negative {
            -i128::from(magnitude)
        } else {
            i128::from(magnitude)
        };
        i64::try_from(value)
            .map_err(|_| ParseError::new(line, column, ParseErrorKind::IntegerOutOfRange(shown)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut l = Lexer::new(src);
        let mut out = vec![];
        loop {
            let t = l.next_token().unwrap();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn operators_and_literals() {
        assert_eq!(
            toks(r#"a.b == "x\"y" && c =~ r"\d+" || !d <= -0x10 ~ 0o4000"#),
            vec![
                Tok::Ident("a.b".into()),
                Tok::EqEq,
                Tok::Str("x\"y".into()),
                Tok::AndAnd,
                Tok::Ident("c".into()),
                Tok::RegexMatch,
                Tok::Str("\\d+".into()),
                Tok::OrOr,
                Tok::Bang,
                Tok::Ident("d".into()),
                Tok::Le,
                Tok::Int(-16),
                Tok::Tilde,
                Tok::Int(2048),
            ]
        );
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let mut l = Lexer::new("é\n  ab # comment\n ==");
        assert_eq!(
            l.next_token().unwrap_err(),
            ParseError::new(
                1,
                1,
                ParseErrorKind::Unexpected {
                    expected: "a field, literal, operator or parenthesis".into(),
                    found: "`é`".into()
                }
            )
        );
        let t = l.next_token().unwrap();
        assert_eq!((t.line, t.column), (2, 3));
        let t = l.next_token().unwrap();
        assert_eq!((t.tok, t.line, t.column), (Tok::EqEq, 3, 2));
    }

    #[test]
    fn string_errors() {
        let e = Lexer::new("  \"abc").next_token().unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
        assert_eq!(e.kind, ParseErrorKind::UnterminatedString);
        let e = Lexer::new(r#""a\qb""#).next_token().unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1, column 3: invalid escape `\\q` in string"
        );
        assert_eq!(toks(r#""\u{e9}""#), vec![Tok::Str("é".into())]);
    }

    #[test]
    fn integer_limits() {
        assert_eq!(toks("-9223372036854775808"), vec![Tok::Int(i64::MIN)]);
        let e = Lexer::new("9223372036854775808").next_token().unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::IntegerOutOfRange(_)));
        let e = Lexer::new("12ab").next_token().unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1, column 1: expected an integer, found `12ab`"
        );
    }
}
