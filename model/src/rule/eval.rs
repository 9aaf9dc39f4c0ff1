//! Evaluating an expression against an event, and the event kinds an expression can match.
//!
//! A field the event does not carry is absent, and every test of an absent field is false
//! (including `!=` and `not in`): `open.file.path != "/x"` does not hold on an exec.

use super::expr::{CompareOp, Expr, Scalar, Test};
use super::field::{Field, KindSet, Value};
use crate::event::Event;

impl Expr {
    /// Whether the expression holds for `ev`.
    pub fn matches(&self, ev: &Event) -> bool {
        match self {
            Expr::Literal(b) => *b,
            Expr::Flag(field) => matches!(field.value(ev), Some(Value::Bool(true))),
            Expr::Test { field, test } => field.value(ev).is_some_and(|v| test.holds(&v)),
            Expr::Member {
                item,
                field,
                negated,
            } => field.value(ev).is_some_and(|v| {
                let found = match item {
                    Scalar::Str(s) => v.any_str(|x| x == s),
                    _ => false,
                };
                found != *negated
            }),
            Expr::Not(e) => !e.matches(ev),
            Expr::And(a, b) => a.matches(ev) && b.matches(ev),
            Expr::Or(a, b) => a.matches(ev) || b.matches(ev),
            Expr::Macro { body, .. } => body.matches(ev),
        }
    }

    /// Whether the expression reads a field (macro bodies included).
    pub fn uses_field(&self, wanted: Field) -> bool {
        match self {
            Expr::Literal(_) => false,
            Expr::Flag(field) | Expr::Test { field, .. } | Expr::Member { field, .. } => {
                *field == wanted
            }
            Expr::Not(e) => e.uses_field(wanted),
            Expr::And(a, b) | Expr::Or(a, b) => a.uses_field(wanted) || b.uses_field(wanted),
            Expr::Macro { body, .. } => body.uses_field(wanted),
        }
    }

    /// Whether the expression looks at command lines (`exec.args`, `process.args`), which
    /// profiles do not record: a profile cannot vouch for such a match.
    pub fn uses_command_line(&self) -> bool {
        self.uses_field(Field::ExecArgs) || self.uses_field(Field::ProcessArgs)
    }

    /// The event kinds this expression can possibly hold on (a superset: used to skip
    /// rules cheaply, never to decide a match).
    pub fn kinds(&self) -> KindSet {
        match self {
            Expr::Literal(true) | Expr::Not(_) => KindSet::ALL,
            Expr::Literal(false) => KindSet::NONE,
            Expr::Flag(field) | Expr::Member { field, .. } => field.kinds(),
            Expr::Test {
                field: Field::EventKindName,
                test,
            } => match test {
                Test::Compare(CompareOp::Eq, Scalar::Str(s)) => {
                    KindSet::of_name(s).unwrap_or(KindSet::NONE)
                }
                Test::In {
                    negated: false,
                    list,
                } => list.strings().fold(KindSet::NONE, |k, s| {
                    k.union(KindSet::of_name(s).unwrap_or(KindSet::NONE))
                }),
                _ => KindSet::ALL,
            },
            Expr::Test { field, .. } => field.kinds(),
            Expr::And(a, b) => a.kinds().intersection(b.kinds()),
            Expr::Or(a, b) => a.kinds().union(b.kinds()),
            Expr::Macro { body, .. } => body.kinds(),
        }
    }
}

impl Test {
    fn holds(&self, v: &Value<'_>) -> bool {
        match self {
            Test::Compare(op, rhs) => compare(v, *op, rhs),
            Test::ListEq { negated, list } => v.list_eq(&list.items) != *negated,
            Test::In { negated, list } => {
                let found = match v {
                    Value::Int(i) => list.items.contains(&Scalar::Int(*i)),
                    Value::Bool(b) => list.items.contains(&Scalar::Bool(*b)),
                    _ => v.any_str(|x| list.strings().any(|s| s == x)),
                };
                found != *negated
            }
            Test::Glob(globs) => text_or_any(v, |x| globs.iter().any(|g| g.is_match(x))),
            Test::Regex(p) => text_or_any(v, |x| p.is_match(x)),
            // A tag list holds a tag or not: `namespace:prod` is not in `namespace:prod-eu`.
            Test::Contains(needle) => match v {
                Value::Tags(tags) => tags.iter().any(|t| t == needle),
                _ => text_or_any(v, |x| x.contains(needle.as_str())),
            },
        }
    }
}

/// Pattern operators work on the text of strings and argvs, element-wise on other lists.
fn text_or_any(v: &Value<'_>, mut pred: impl FnMut(&str) -> bool) -> bool {
    match v.text() {
        Some(t) => pred(&t),
        None => v.any_str(pred),
    }
}

fn compare(v: &Value<'_>, op: CompareOp, rhs: &Scalar) -> bool {
    match (v, rhs) {
        (Value::Int(a), Scalar::Int(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
        },
        (Value::Bool(a), Scalar::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (v, Scalar::Str(s)) => match op {
            CompareOp::Eq => v.any_str(|x| x == s),
            CompareOp::Ne => !v.any_str(|x| x == s),
            _ => false,
        },
        _ => false,
    }
}
