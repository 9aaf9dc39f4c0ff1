//! Macros: named lists and named sub-expressions, defined in rules files and referenced
//! by name in expressions.

use super::error::{RuleFileError, Suggestion};
use super::expr::{Expr, Scalar};
use super::field::Field;
use super::lexer::{Lexer, Tok};
use super::parser::parse_with;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One macro definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroDef {
    /// A named list, usable wherever a list literal is (`in shells`, `~ pool_domains`).
    List(Vec<Scalar>),
    /// A named condition, usable wherever a condition is.
    Expr { source: String, expr: Arc<Expr> },
}

/// A set of macros, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Macros {
    defs: BTreeMap<String, MacroDef>,
}

/// A macro as written in a rules file, before its expression is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawMacro {
    List(Vec<Scalar>),
    Expr(String),
}

impl Macros {
    pub fn get(&self, name: &str) -> Option<&MacroDef> {
        self.defs.get(name)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MacroDef)> {
        self.defs.iter().map(|(k, v)| (k.as_str(), v))
    }
    pub fn len(&self) -> usize {
        self.defs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }
    /// The closest known macro or field name to `name`.
    pub fn suggest(&self, name: &str) -> Suggestion {
        let names = self
            .defs
            .keys()
            .map(String::as_str)
            .chain(Field::ALL.iter().map(|f| f.name()));
        Suggestion(super::field::closest(name, names).map(str::to_string))
    }

    /// Adds a list macro (replacing one of the same name).
    pub fn insert_list(&mut self, name: &str, items: Vec<Scalar>) {
        self.defs.insert(name.to_string(), MacroDef::List(items));
    }

    /// Resolves raw definitions on top of `base` (a raw definition replaces a base one of
    /// the same name). Expression macros may use any other macro, in any order, as long
    /// as they do not form a cycle.
    pub fn resolve(
        base: &Macros,
        raw: &BTreeMap<String, RawMacro>,
        origin: &str,
    ) -> Result<Macros, RuleFileError> {
        for name in raw.keys() {
            check_name(name, origin)?;
        }
        // Re-resolve the base's expression macros too: one of them may use a list the
        // raw definitions replace.
        let mut all: BTreeMap<String, RawMacro> = base
            .defs
            .iter()
            .map(|(name, def)| (name.clone(), def.to_raw()))
            .collect();
        all.extend(raw.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut out = Macros::default();
        for (name, def) in &all {
            if let RawMacro::List(items) = def {
                out.insert_list(name, items.clone());
            }
        }
        let mut visiting = Vec::new();
        for name in all.keys() {
            resolve_one(name, &all, &mut out, &mut visiting, origin)?;
        }
        Ok(out)
    }
}

impl MacroDef {
    pub(crate) fn to_raw(&self) -> RawMacro {
        match self {
            MacroDef::List(items) => RawMacro::List(items.clone()),
            MacroDef::Expr { source, .. } => RawMacro::Expr(source.clone()),
        }
    }
}

fn check_name(name: &str, origin: &str) -> Result<(), RuleFileError> {
    let bad = |reason| {
        Err(RuleFileError::BadMacroName {
            origin: origin.to_string(),
            name: name.to_string(),
            reason,
        })
    };
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad("use letters, digits and `_`, starting with a letter or `_`");
    }
    if matches!(name, "in" | "not" | "contains" | "true" | "false") {
        return bad("it is a keyword");
    }
    Ok(())
}

fn resolve_one(
    name: &str,
    raw: &BTreeMap<String, RawMacro>,
    out: &mut Macros,
    visiting: &mut Vec<String>,
    origin: &str,
) -> Result<(), RuleFileError> {
    let Some(RawMacro::Expr(source)) = raw.get(name) else {
        return Ok(());
    };
    if out.defs.contains_key(name) {
        return Ok(());
    }
    if let Some(start) = visiting.iter().position(|v| v == name) {
        let mut cycle = visiting[start..].to_vec();
        cycle.push(name.to_string());
        return Err(RuleFileError::MacroCycle {
            origin: origin.to_string(),
            cycle,
        });
    }
    visiting.push(name.to_string());
    for dep in identifiers(source) {
        if raw.contains_key(&dep) {
            resolve_one(&dep, raw, out, visiting, origin)?;
        }
    }
    visiting.pop();
    let expr = parse_with(source, out).map_err(|error| RuleFileError::Macro {
        origin: origin.to_string(),
        name: name.to_string(),
        error: Box::new(error),
    })?;
    out.defs.insert(
        name.to_string(),
        MacroDef::Expr {
            source: source.clone(),
            expr: Arc::new(expr),
        },
    );
    Ok(())
}

/// The identifiers an expression text mentions (up to its first lexical error).
fn identifiers(source: &str) -> BTreeSet<String> {
    let mut lexer = Lexer::new(source);
    let mut out = BTreeSet::new();
    while let Ok(t) = lexer.next_token() {
        match t.tok {
            Tok::Eof => break,
            Tok::Ident(s) => {
                out.insert(s);
            }
            _ => {}
        }
    }
    out
}
