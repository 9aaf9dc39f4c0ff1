//! Recursive-descent parser: text to a type-checked [`Expr`], with globs and regexes
//! compiled once here.
//!
//! ```text
//! expr     := and ("||" and)*
//! and      := unary ("&&" unary)*
//! unary    := "!" unary | primary
//! primary  := "(" expr ")" | "true" | "false" | MACRO
//!           | FIELD [op operand]                      (bare FIELD only for booleans)
//!           | STRING ("in" | "not" "in") LIST_FIELD   (membership)
//! op       := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
//!           | "~" | "=~" | "contains"
//! operand  := STRING | INT | "true" | "false" | "[" [scalar ("," scalar)* [","]] "]" | LIST_MACRO
//! ```

use super::error::{ParseError, ParseErrorKind as K, Suggestion};
use super::expr::{CompareOp, Expr, Globs, List, Scalar, Test};
use super::field::{Field, FieldType, KindSet, KIND_NAMES};
use super::lexer::{Lexer, Tok, Token};
use super::macros::{MacroDef, Macros};
use super::pattern::{Glob, Pattern};
use crate::event::Access;
use std::str::FromStr;

/// Deepest nesting of parentheses and `!` accepted.
pub const MAX_DEPTH: usize = 100;
/// Most `&&`/`||` operators accepted in one expression (bounds the tree's depth, which
/// evaluation and printing recurse through).
pub const MAX_OPERATORS: usize = 1000;

/// Parses an expression that uses no macros.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    parse_with(src, &Macros::default())
}

/// Parses an expression that may reference `macros`.
pub fn parse_with(src: &str, macros: &Macros) -> Result<Expr, ParseError> {
    let mut lexer = Lexer::new(src);
    let peeked = lexer.next_token()?;
    let mut p = Parser {
        lexer,
        peeked,
        macros,
        depth: 0,
        operators: 0,
    };
    let e = p.expr()?;
    match p.peeked.tok {
        Tok::Eof => Ok(e),
        _ => Err(p.unexpected("`&&`, `||` or end of expression")),
    }
}

impl FromStr for Expr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Expr, ParseError> {
        parse(s)
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Token,
    macros: &'a Macros,
    depth: usize,
    operators: usize,
}

/// What a field compares with: the element type of its values.
fn element_type(field: Field) -> FieldType {
    match field.ty() {
        FieldType::StrList | FieldType::Args => FieldType::Str,
        t => t,
    }
}

fn describe_scalar(s: &Scalar) -> String {
    match s {
        Scalar::Str(s) => {
            let mut out = String::from("string ");
            super::expr::write_str_literal(&mut out, s).expect("write to String");
            out
        }
        Scalar::Int(i) => format!("integer {i}"),
        Scalar::Bool(b) => format!("`{b}`"),
    }
}

impl Parser<'_> {
    fn advance(&mut self) -> Result<Token, ParseError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.peeked, next))
    }

    fn error_at(&self, t: &Token, kind: K) -> ParseError {
        ParseError::new(t.line, t.column, kind)
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        self.error_at(
            &self.peeked,
            K::Unexpected {
                expected: expected.to_string(),
                found: self.peeked.tok.to_string(),
            },
        )
    }

    fn is_ident(&self, word: &str) -> bool {
        matches!(&self.peeked.tok, Tok::Ident(s) if s == word)
    }

    fn expect(&mut self, tok: Tok) -> Result<Token, ParseError> {
        if self.peeked.tok == tok {
            self.advance()
        } else {
            Err(self.unexpected(&tok.to_string()))
        }
    }

    fn nest(&mut self, t: &Token) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(t, K::TooDeep(MAX_DEPTH)));
        }
        Ok(())
    }

    /// Consumes a `&&` or `||`, counting it against [`MAX_OPERATORS`].
    fn operator(&mut self) -> Result<(), ParseError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(self.error_at(&self.peeked, K::TooLong(MAX_OPERATORS)));
        }
        self.advance()?;
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.and()?;
        while self.peeked.tok == Tok::OrOr {
            self.operator()?;
            e = Expr::or(e, self.and()?);
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        while self.peeked.tok == Tok::AndAnd {
            self.operator()?;
            e = Expr::and(e, self.unary()?);
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peeked.tok == Tok::Bang {
            let t = self.advance()?;
            self.nest(&t)?;
            let e = Expr::not(self.unary()?);
            self.depth -= 1;
            return Ok(e);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        const CONDITION: &str = "a condition (field, macro, `!`, `(` or literal)";
        match self.peeked.tok.clone() {
            Tok::LParen => {
                let t = self.advance()?;
                self.nest(&t)?;
                let e = self.expr()?;
                self.expect(Tok::RParen)?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Ident(word) => match word.as_str() {
                "true" | "false" => {
                    self.advance()?;
                    Ok(Expr::Literal(word == "true"))
                }
                "in" | "not" | "contains" => Err(self.unexpected(CONDITION)),
                _ => {
                    if let Some(field) = Field::from_name(&word) {
                        let t = self.advance()?;
                        return self.field_test(field, &t);
                    }
                    match self.macros.get(&word) {
                        Some(MacroDef::Expr { expr, .. }) => {
                            let body = expr.clone();
                            self.advance()?;
                            Ok(Expr::Macro { name: word, body })
                        }
                        Some(MacroDef::List(_)) => Err(self.error_at(
                            &self.peeked,
                            K::Unexpected {
                                expected: CONDITION.into(),
                                found: format!("list macro `{word}`"),
                            },
                        )),
                        None => Err(self.unknown_name(&self.peeked, &word)),
                    }
                }
            },
            Tok::Str(_) | Tok::Int(_) => self.membership(),
            _ => Err(self.unexpected(CONDITION)),
        }
    }

    fn unknown_name(&self, t: &Token, word: &str) -> ParseError {
        let kind = if word.contains('.') {
            K::UnknownField {
                name: word.to_string(),
                suggestion: Suggestion(Field::suggest(word).map(str::to_string)),
            }
        } else {
            K::UnknownMacro {
                name: word.to_string(),
                suggestion: self.macros.suggest(word),
            }
        };
        self.error_at(t, kind)
    }

    /// `"x" in list_field` / `"x" not in list_field`.
    fn membership(&mut self) -> Result<Expr, ParseError> {
        let item_tok = self.advance()?;
        let item = match &item_tok.tok {
            Tok::Str(s) => Scalar::Str(s.clone()),
            Tok::Int(i) => Scalar::Int(*i),
            _ => unreachable!("membership starts with a literal"),
        };
        let negated = self.in_or_not_in("`in` or `not in` after a literal")?;
        let field_tok = self.advance()?;
        let field = match &field_tok.tok {
            Tok::Ident(w) => match Field::from_name(w) {
                Some(f) => f,
                None if w.contains('.') => return Err(self.unknown_name(&field_tok, w)),
                None => return Err(self.list_field_expected(&field_tok)),
            },
            _ => return Err(self.list_field_expected(&field_tok)),
        };
        if !field.ty().is_list() {
            return Err(self.error_at(
                &field_tok,
                K::BadOperator {
                    op: format!("{} in", describe_scalar(&item)),
                    field: field.name().into(),
                    ty: field.ty().describe(),
                },
            ));
        }
        self.check_scalar(field, &item, &item_tok, None)?;
        Ok(Expr::Member {
            item,
            field,
            negated,
        })
    }

    fn list_field_expected(&self, t: &Token) -> ParseError {
        self.error_at(
            t,
            K::Unexpected {
                expected: "a list field".into(),
                found: t.tok.to_string(),
            },
        )
    }

    /// Consumes `in` (false) or `not in` (true).
    fn in_or_not_in(&mut self, expected: &str) -> Result<bool, ParseError> {
        if self.is_ident("in") {
            self.advance()?;
            Ok(false)
        } else if self.is_ident("not") {
            self.advance()?;
            if !self.is_ident("in") {
                return Err(self.unexpected("`in` after `not`"));
            }
            self.advance()?;
            Ok(true)
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn field_test(&mut self, field: Field, field_tok: &Token) -> Result<Expr, ParseError> {
        let ty = field.ty();
        let op_tok = self.peeked.clone();
        let bad_op = |p: &Self, op: &str| {
            Err(p.error_at(
                &op_tok,
                K::BadOperator {
                    op: op.to_string(),
                    field: field.name().into(),
                    ty: ty.describe(),
                },
            ))
        };
        let test = match &op_tok.tok {
            Tok::EqEq | Tok::NotEq => {
                let negated = op_tok.tok == Tok::NotEq;
                self.advance()?;
                if ty.is_list() && self.list_ahead() {
                    let list = self.list(field)?;
                    Test::ListEq { negated, list }
                } else {
                    let op = if negated {
                        CompareOp::Ne
                    } else {
                        CompareOp::Eq
                    };
                    Test::Compare(op, self.scalar(field)?)
                }
            }
            Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => {
                if ty != FieldType::Int {
                    return bad_op(self, &op_tok.tok.to_string().replace('`', ""));
                }
                self.advance()?;
                let op = match op_tok.tok {
                    Tok::Lt => CompareOp::Lt,
                    Tok::Le => CompareOp::Le,
                    Tok::Gt => CompareOp::Gt,
                    _ => CompareOp::Ge,
                };
                Test::Compare(op, self.scalar(field)?)
            }
            Tok::Ident(w) if w == "in" || w == "not" => {
                let negated = self.in_or_not_in("`in`")?;
                Test::In {
                    negated,
                    list: self.list(field)?,
                }
            }
            Tok::Tilde => {
                if element_type(field) != FieldType::Str {
                    return bad_op(self, "~");
                }
                self.advance()?;
                Test::Glob(self.globs()?)
            }
            Tok::RegexMatch => {
                if element_type(field) != FieldType::Str {
                    return bad_op(self, "=~");
                }
                self.advance()?;
                let t = self.advance()?;
                let Tok::Str(src) = &t.tok else {
                    return Err(self.found(&t, "a regex string"));
                };
                let pattern = Pattern::new(src).map_err(|message| {
                    self.error_at(
                        &t,
                        K::InvalidRegex {
                            pattern: src.clone(),
                            message,
                        },
                    )
                })?;
                Test::Regex(pattern)
            }
            Tok::Ident(w) if w == "contains" => {
                if element_type(field) != FieldType::Str {
                    return bad_op(self, "contains");
                }
                self.advance()?;
                let t = self.advance()?;
                let Tok::Str(s) = &t.tok else {
                    return Err(self.found(&t, "a string"));
                };
                Test::Contains(s.clone())
            }
            _ if ty == FieldType::Bool => return Ok(Expr::Flag(field)),
            _ => {
                return Err(self.unexpected(&format!(
                    "an operator after `{}` (`==`, `!=`, `in`, `not in`, {})",
                    field_tok.tok.to_string().trim_matches('`'),
                    match ty {
                        FieldType::Int => "`<`, `<=`, `>`, `>=`",
                        _ => "`~`, `=~`, `contains`",
                    }
                )))
            }
        };
        Ok(Expr::Test { field, test })
    }

    fn found(&self, t: &Token, expected: &str) -> ParseError {
        self.error_at(
            t,
            K::Unexpected {
                expected: expected.into(),
                found: t.tok.to_string(),
            },
        )
    }

    /// Whether a list (literal or list macro) comes next.
    fn list_ahead(&self) -> bool {
        match &self.peeked.tok {
            Tok::LBracket => true,
            Tok::Ident(w) => matches!(self.macros.get(w), Some(MacroDef::List(_))),
            _ => false,
        }
    }

    fn scalar_token(&mut self, expected: &str) -> Result<(Scalar, Token), ParseError> {
        let t = self.advance()?;
        let s = match &t.tok {
            Tok::Str(s) => Scalar::Str(s.clone()),
            Tok::Int(i) => Scalar::Int(*i),
            Tok::Ident(w) if w == "true" || w == "false" => Scalar::Bool(w == "true"),
            _ => return Err(self.found(&t, expected)),
        };
        Ok((s, t))
    }

    fn scalar(&mut self, field: Field) -> Result<Scalar, ParseError> {
        let expected = format!("{} for `{field}`", element_type(field).describe());
        let (s, t) = self.scalar_token(&expected)?;
        self.check_scalar(field, &s, &t, None)?;
        Ok(s)
    }

    /// Checks that `s` fits `field`: its type, and known names for `event.kind` and
    /// `open.flags`.
    fn check_scalar(
        &self,
        field: Field,
        s: &Scalar,
        t: &Token,
        in_macro: Option<&str>,
    ) -> Result<(), ParseError> {
        let want = element_type(field);
        let fits = matches!(
            (want, s),
            (FieldType::Str, Scalar::Str(_))
                | (FieldType::Int, Scalar::Int(_))
                | (FieldType::Bool, Scalar::Bool(_))
        );
        if !fits {
            let mut found = describe_scalar(s);
            if let Some(m) = in_macro {
                found.push_str(&format!(" (in macro `{m}`)"));
            }
            return Err(self.error_at(
                t,
                K::Unexpected {
                    expected: format!("{} for `{field}`", want.describe()),
                    found,
                },
            ));
        }
        if let Scalar::Str(v) = s {
            match field {
                Field::EventKindName if KindSet::of_name(v).is_none() => {
                    let suggestion = super::field::closest(v, KIND_NAMES.iter().copied());
                    return Err(self.error_at(
                        t,
                        K::UnknownEventKind {
                            name: v.clone(),
                            suggestion: Suggestion(suggestion.map(str::to_string)),
                        },
                    ));
                }
                Field::OpenFlags if Access::from_name(v).is_none() => {
                    return Err(self.error_at(
                        t,
                        K::UnknownAccess {
                            name: v.clone(),
                            known: Access(u16::MAX).names().join(", "),
                        },
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A list literal or list macro, each item checked against `field`.
    fn list(&mut self, field: Field) -> Result<List, ParseError> {
        if let Tok::Ident(w) = &self.peeked.tok {
            let name = w.clone();
            return match self.macros.get(&name) {
                Some(MacroDef::List(items)) => {
                    let items = items.clone();
                    let t = self.advance()?;
                    for item in &items {
                        self.check_scalar(field, item, &t, Some(&name))?;
                    }
                    Ok(List {
                        macro_name: Some(name),
                        items,
                    })
                }
                Some(MacroDef::Expr { .. }) => Err(self.found(&self.peeked, "a list")),
                None if name.contains('.') || Field::from_name(&name).is_some() => {
                    Err(self.found(&self.peeked, "a list"))
                }
                None => Err(self.unknown_name(&self.peeked, &name)),
            };
        }
        let expected = format!(
            "a list of {}s",
            element_type(field)
                .describe()
                .trim_start_matches("a ")
                .trim_start_matches("an ")
        );
        if self.peeked.tok != Tok::LBracket {
            return Err(self.unexpected(&expected));
        }
        self.advance()?;
        let mut items = Vec::new();
        while self.peeked.tok != Tok::RBracket {
            let (s, t) =
                self.scalar_token(&format!("{} or `]`", element_type(field).describe()))?;
            self.check_scalar(field, &s, &t, None)?;
            items.push(s);
            if self.peeked.tok == Tok::Comma {
                self.advance()?;
            } else if self.peeked.tok != Tok::RBracket {
                return Err(self.unexpected("`,` or `]`"));
            }
        }
        self.advance()?;
        Ok(List::literal(items))
    }

    /// The operand of `~`: one glob string, or a list of them.
    fn globs(&mut self) -> Result<Globs, ParseError> {
        let compile = |p: &Self, src: &str, t: &Token| {
            Glob::new(src).map_err(|message| {
                p.error_at(
                    t,
                    K::InvalidGlob {
                        pattern: src.to_string(),
                        message,
                    },
                )
            })
        };
        if let Tok::Str(s) = &self.peeked.tok {
            let s = s.clone();
            let t = self.advance()?;
            return Ok(Globs::One(compile(self, &s, &t)?));
        }
        if !matches!(self.peeked.tok, Tok::LBracket | Tok::Ident(_)) {
            return Err(self.unexpected("a glob string or a list of globs"));
        }
        let macro_tok = self.peeked.clone();
        let list = self.list(Field::ProcessFilePath)?;
        let globs = list
            .strings()
            .map(|s| compile(self, s, &macro_tok))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Globs::List {
            macro_name: list.macro_name,
            globs,
        })
    }
}
