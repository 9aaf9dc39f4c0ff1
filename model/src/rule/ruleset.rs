//! Rules, rule sets and rules files (TOML or YAML).
//!
//! A rules file holds `macros` (name -> list, or name -> expression text) and `rules`:
//!
//! ```toml
//! [macros]
//! shells = ["sh", "bash"]
//! web_parent = 'process.ancestors.file.name in ["nginx", "httpd"]'
//!
//! [[rules]]
//! id = "shell-from-web-server"        # kebab-case, stable
//! description = "A shell started by a web server"
//! expression = 'exec.file.name in shells && web_parent'
//! severity = "high"                   # info | low | medium | high | critical
//! mitre = "T1059.004"                 # optional
//! tags = ["process"]                  # optional
//! enabled = true                      # optional, default true
//! ```

use super::error::{ParseError, RuleFileError};
use super::expr::{Expr, Scalar};
use super::field::{kind_index, KindSet, KIND_NAMES};
use super::macros::{Macros, RawMacro};
use super::parser::parse_with;
use crate::event::Event;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// The default ruleset shipped with wsprof (`rules/default.toml`).
pub const DEFAULT_RULES_TOML: &str = include_str!("../../../rules/default.toml");
/// Name the default rules report as their origin.
pub const DEFAULT_RULES_ORIGIN: &str = "rules/default.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown severity `{s}` (info, low, medium, high, critical)"))
    }
}

/// A rule's condition: its source text and the compiled expression, with the event kinds
/// it can match (so a rule set skips rules that cannot match an event's kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleExpression {
    source: String,
    expr: Expr,
    kinds: KindSet,
}

impl RuleExpression {
    pub fn compile(source: &str, macros: &Macros) -> Result<RuleExpression, ParseError> {
        let expr = parse_with(source, macros)?;
        Ok(RuleExpression::from_expr(source.to_string(), expr))
    }
    fn from_expr(source: String, expr: Expr) -> RuleExpression {
        let kinds = expr.kinds();
        RuleExpression {
            source,
            expr,
            kinds,
        }
    }
    /// The text as written in the rules file.
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
    pub fn kinds(&self) -> KindSet {
        self.kinds
    }
    pub fn matches(&self, ev: &Event) -> bool {
        self.kinds.contains(&ev.kind) && self.expr.matches(ev)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable kebab-case id; user files override default rules by id.
    pub id: String,
    pub description: String,
    pub expression: RuleExpression,
    pub severity: Severity,
    /// MITRE ATT&CK technique, e.g. `T1059.004`.
    pub mitre: Option<String>,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// The file the rule came from.
    pub origin: String,
}

impl Rule {
    pub fn matches(&self, ev: &Event) -> bool {
        self.enabled && self.expression.matches(ev)
    }
}

/// The syntax of a rules file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleFormat {
    Toml,
    Yaml,
}

impl RuleFormat {
    /// The format of a file by its extension (`.toml`, `.yaml`, `.yml`).
    pub fn from_path(path: &str) -> Option<RuleFormat> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(RuleFormat::Toml),
            "yaml" | "yml" => Some(RuleFormat::Yaml),
            _ => None,
        }
    }
}

/// Rules and the macros they use. Rule ids are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<Rule>,
    macros: Macros,
    /// For each event kind (in [`KIND_NAMES`] order), the rules that can match it.
    by_kind: Vec<Vec<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "E: Deserialize<'de>"))]
struct RawFile<E> {
    #[serde(default)]
    macros: BTreeMap<String, RawMacroText>,
    #[serde(default)]
    rules: Vec<RawRule<E>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMacroText {
    List(Vec<RawScalar>),
    Expr(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawScalar {
    Int(i64),
    Bool(bool),
    Str(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule<E> {
    id: String,
    description: String,
    expression: E,
    severity: Severity,
    #[serde(default)]
    mitre: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// An expression's text and, where the format tells, the file line it starts on.
struct ExprText {
    text: String,
    line: Option<usize>,
    /// Whether the value starts with a newline the format dropped (TOML `'''\n`).
    skipped_newline: bool,
}

fn line_of(text: &str, byte: usize) -> usize {
    text.as_bytes()[..byte.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl RuleSet {
    /// Parses a rules file on its own (it may use only its own macros).
    pub fn parse(text: &str, format: RuleFormat, origin: &str) -> Result<RuleSet, RuleFileError> {
        RuleSet::parse_with_macros(text, format, origin, &Macros::default())
    }

    /// Parses a rules file whose expressions may also use `base` macros (e.g. a user file
    /// using the default ruleset's macros). Its own macros replace base ones by name.
    pub fn parse_with_macros(
        text: &str,
        format: RuleFormat,
        origin: &str,
        base: &Macros,
    ) -> Result<RuleSet, RuleFileError> {
        let syntax = |line: Option<usize>, message: String| RuleFileError::Syntax {
            origin: origin.to_string(),
            line,
            message,
        };
        let (raw_macros, raw_rules) = match format {
            RuleFormat::Toml => {
                let file: RawFile<toml::Spanned<String>> = toml::from_str(text).map_err(|e| {
                    syntax(
                        e.span().map(|s| line_of(text, s.start)),
                        e.message()
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .collect::<Vec<_>>()
                            .join(": "),
                    )
                })?;
                let rules = file.rules.into_iter().map(|r| {
                    let span = r.expression.span();
                    let raw = &text[span.start.min(text.len())..];
                    let skipped_newline = raw.starts_with("'''\n")
                        || raw.starts_with("\"\"\"\n")
                        || raw.starts_with("'''\r\n")
                        || raw.starts_with("\"\"\"\r\n");
                    let expr = ExprText {
                        text: r.expression.get_ref().clone(),
                        line: Some(line_of(text, span.start)),
                        skipped_newline,
                    };
                    r.with_expression(expr)
                });
                (file.macros, rules.collect::<Vec<_>>())
            }
            RuleFormat::Yaml => {
                let file: RawFile<String> = if text.trim().is_empty() {
                    RawFile {
                        macros: BTreeMap::new(),
                        rules: Vec::new(),
                    }
                } else {
                    serde_yaml::from_str(text).map_err(|e| {
                        let message = e.to_string();
                        // serde_yaml appends " at line L column C"; the line goes in `line`.
                        let message = match message.rfind(" at line ") {
                            Some(i) if e.location().is_some() => message[..i].to_string(),
                            _ => message,
                        };
                        syntax(e.location().map(|l| l.line()), message)
                    })?
                };
                let rules = file.rules.into_iter().map(|r| {
                    let expr = ExprText {
                        text: r.expression.clone(),
                        line: None,
                        skipped_newline: false,
                    };
                    r.with_expression(expr)
                });
                (file.macros, rules.collect::<Vec<_>>())
            }
        };

        let raw_macros: BTreeMap<String, RawMacro> = raw_macros
            .into_iter()
            .map(|(name, def)| {
                let def = match def {
                    RawMacroText::Expr(s) => RawMacro::Expr(s),
                    RawMacroText::List(items) => RawMacro::List(
                        items
                            .into_iter()
                            .map(|s| match s {
                                RawScalar::Int(i) => Scalar::Int(i),
                                RawScalar::Bool(b) => Scalar::Bool(b),
                                RawScalar::Str(s) => Scalar::Str(s),
                            })
                            .collect(),
                    ),
                };
                (name, def)
            })
            .collect();
        let macros = Macros::resolve(base, &raw_macros, origin)?;

        let mut seen = HashSet::new();
        let mut rules = Vec::with_capacity(raw_rules.len());
        for r in raw_rules {
            check_id(&r.id, origin)?;
            if !seen.insert(r.id.clone()) {
                return Err(RuleFileError::DuplicateId {
                    origin: origin.to_string(),
                    id: r.id,
                });
            }
            if let Some(m) = &r.mitre {
                check_mitre(m, &r.id, origin)?;
            }
            let expression =
                RuleExpression::compile(&r.expression.text, &macros).map_err(|error| {
                    let file_line = r
                        .expression
                        .line
                        .map(|l| l + error.line - 1 + usize::from(r.expression.skipped_newline));
                    RuleFileError::Expression {
                        origin: origin.to_string(),
                        rule: r.id.clone(),
                        file_line,
                        error: Box::new(error),
                    }
                })?;
            rules.push(Rule {
                id: r.id,
                description: r.description,
                expression,
                severity: r.severity,
                mitre: r.mitre,
                tags: r.tags,
                enabled: r.enabled,
                origin: origin.to_string(),
            });
        }
        Ok(RuleSet::new(rules, macros))
    }

    /// The default ruleset shipped with wsprof.
    pub fn defaults() -> RuleSet {
        RuleSet::parse(DEFAULT_RULES_TOML, RuleFormat::Toml, DEFAULT_RULES_ORIGIN)
            .expect("the default ruleset parses (checked by tests)")
    }

    /// Parses a user rules file on top of this set (it may use this set's macros) and
    /// merges it in: see [`RuleSet::merge`].
    pub fn extend_from_text(
        &mut self,
        text: &str,
        format: RuleFormat,
        origin: &str,
    ) -> Result<(), RuleFileError> {
        let other = RuleSet::parse_with_macros(text, format, origin, &self.macros)?;
        self.merge(other)
    }

    /// Merges `other` into this set: its macros replace macros of the same name, its
    /// rules replace rules of the same id (keeping their position) and the others are
    /// appended. Rules kept from this set are recompiled against the merged macros, which
    /// fails if a replaced macro no longer fits them.
    pub fn merge(&mut self, other: RuleSet) -> Result<(), RuleFileError> {
        let raw: BTreeMap<String, RawMacro> = other
            .macros
            .iter()
            .map(|(name, def)| (name.to_string(), def.to_raw()))
            .collect();
        let origin = other
            .rules
            .first()
            .map(|r| r.origin.clone())
            .unwrap_or_default();
        let macros = Macros::resolve(&self.macros, &raw, &origin)?;
        let mut incoming: Vec<Option<Rule>> = other.rules.into_iter().map(Some).collect();
        let by_id: BTreeMap<String, usize> = incoming
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (r.id.clone(), i)))
            .collect();
        let mut rules = Vec::with_capacity(self.rules.len() + incoming.len());
        for rule in &self.rules {
            if let Some(replacement) = by_id.get(&rule.id).and_then(|i| incoming[*i].take()) {
                rules.push(replacement);
            } else {
                let expression = RuleExpression::compile(rule.expression.source(), &macros)
                    .map_err(|error| RuleFileError::Expression {
                        origin: rule.origin.clone(),
                        rule: rule.id.clone(),
                        file_line: None,
                        error: Box::new(error),
                    })?;
                rules.push(Rule {
                    expression,
                    ..rule.clone()
                });
            }
        }
        rules.extend(incoming.into_iter().flatten());
        *self = RuleSet::new(rules, macros);
        Ok(())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
    pub fn macros(&self) -> &Macros {
        &self.macros
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
    /// Enables or disables a rule; false if there is no rule with that id.
    pub fn set_enabled(&mut self, id: &str, enabled: bool) -> bool {
        match self.rules.iter_mut().find(|r| r.id == id) {
            Some(r) => {
                r.enabled = enabled;
                true
            }
            None => false,
        }
    }

    /// Parses an expression with this set's macros (e.g. a suppression or a filter).
    pub fn parse_expr(&self, text: &str) -> Result<Expr, ParseError> {
        parse_with(text, &self.macros)
    }

    /// The enabled rules `ev` matches, in rule order. Only the rules whose expression can
    /// match the event's kind (indexed when the set is built) are evaluated.
    pub fn matching<'a, 'e>(&'a self, ev: &'e Event) -> impl Iterator<Item = &'a Rule> + 'e
    where
        'a: 'e,
    {
        let candidates = self
            .by_kind
            .get(kind_index(&ev.kind))
            .map(Vec::as_slice)
            .unwrap_or_default();
        candidates
            .iter()
            .map(|i| &self.rules[*i])
            .filter(move |r| r.enabled && r.expression.expr().matches(ev))
    }

    fn new(rules: Vec<Rule>, macros: Macros) -> RuleSet {
        let by_kind = KIND_NAMES
            .iter()
            .map(|name| {
                let kind = KindSet::of_name(name).expect("known kind");
                rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| !r.expression.kinds().intersection(kind).is_empty())
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        RuleSet {
            rules,
            macros,
            by_kind,
        }
    }
}

impl<E> RawRule<E> {
    fn with_expression(self, expression: ExprText) -> RawRule<ExprText> {
        RawRule {
            id: self.id,
            description: self.description,
            expression,
            severity: self.severity,
            mitre: self.mitre,
            tags: self.tags,
            enabled: self.enabled,
        }
    }
}

fn check_id(id: &str, origin: &str) -> Result<(), RuleFileError> {
    let ok = !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(RuleFileError::BadId {
            origin: origin.to_string(),
            id: id.to_string(),
        })
    }
}

fn check_mitre(m: &str, rule: &str, origin: &str) -> Result<(), RuleFileError> {
    let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    let ok = match m.strip_prefix('T') {
        Some(rest) => match rest.split_once('.') {
            Some((a, b)) => digits(a, 4) && digits(b, 3),
            None => digits(rest, 4),
        },
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(RuleFileError::BadMitre {
            origin: origin.to_string(),
            rule: rule.to_string(),
            mitre: m.to_string(),
        })
    }
}
