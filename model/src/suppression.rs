//! Suppressions: accepted suggestions that keep a rule from raising signals for one image
//! and one process lineage again. Stored, visible as text, undoable, optionally expiring.

use crate::signal::NewSignal;
use serde::{Deserialize, Serialize};

/// A suppression as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub id: i64,
    pub rule_id: String,
    pub image: String,
    /// Folded process lineage, root first.
    pub lineage: Vec<String>,
    /// The suppression as a rule-language expression (what the person sees).
    pub expression: String,
    pub created_ms: i64,
    pub created_by: String,
    pub reason: String,
    pub expires_ms: Option<i64>,
    pub removed_ms: Option<i64>,
}

impl Suppression {
    /// In force at `now_ms`: not removed, not expired.
    pub fn active_at(&self, now_ms: i64) -> bool {
        self.removed_ms.is_none() && self.expires_ms.is_none_or(|e| now_ms < e)
    }

    /// Does it hide this signal at `now_ms`?
    pub fn hides(&self, s: &NewSignal, now_ms: i64) -> bool {
        self.active_at(now_ms)
            && self.rule_id == s.rule_id
            && self.image == s.container.image
            && self.lineage == s.node.lineage()
    }
}

/// The suppression as rule-language text (parsable by [`crate::rule::parse`]): the image
/// and the exact process lineage. The rule it applies to is stored beside it.
pub fn expression_text(image: &str, lineage: &[String]) -> String {
    let (path, ancestors) = lineage
        .split_last()
        .map_or(("", &[][..]), |(l, a)| (l.as_str(), a));
    let nearest_first: Vec<String> = ancestors.iter().rev().cloned().collect();
    crate::rule::suppression_expr(image, path, &nearest_first).to_string()
}

/// [`expression_text`] limited to containers carrying `tag` (`namespace:payments`): the
/// suppression of one namespace (or pod, or any runtime label) only.
pub fn scoped_expression_text(image: &str, lineage: &[String], tag: Option<&str>) -> String {
    let base = expression_text(image, lineage);
    match tag {
        Some(t) => format!(
            "{base} && container.tags contains \"{}\"",
            t.replace('\\', "\\\\").replace('"', "\\\"")
        ),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ContainerRef, Event, EventKind, ProcessInfo};

    #[test]
    fn a_scoped_expression_parses_and_holds_only_in_its_namespace() {
        let lineage = vec!["/usr/sbin/nginx".to_string(), "/bin/sh".to_string()];
        let text = scoped_expression_text("nginx", &lineage, Some("namespace:payments"));
        assert!(
            text.ends_with("container.tags contains \"namespace:payments\""),
            "{text}"
        );
        let expr = crate::rule::parse(&text).unwrap();
        let ev = |tags: &[&str]| Event {
            ts_ms: 0,
            container: ContainerRef {
                id: "c".into(),
                image: "nginx".into(),
                version: "1".into(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                ..Default::default()
            },
            process: ProcessInfo {
                exec_path: "/bin/sh".into(),
                ancestors: vec!["/usr/sbin/nginx".into()],
                ..Default::default()
            },
            kind: EventKind::Exec,
        };
        assert!(expr.matches(&ev(&["namespace:payments", "pod:web-1"])));
        assert!(!expr.matches(&ev(&["namespace:shop"])));
    }

    #[test]
    fn expression_parses_back_and_matches_the_process() {
        let lineage = vec!["/usr/sbin/nginx".to_string(), "/bin/sh".to_string()];
        let text = expression_text("nginx", &lineage);
        let expr = crate::rule::parse(&text).unwrap();
        let ev = |anc: &str| Event {
            ts_ms: 0,
            container: ContainerRef {
                id: "c".into(),
                image: "nginx".into(),
                version: "1".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                exec_path: "/bin/sh".into(),
                ancestors: vec![anc.to_string()],
                ..Default::default()
            },
            kind: EventKind::Exec,
        };
        assert!(expr.matches(&ev("/usr/sbin/nginx")), "{text}");
        assert!(!expr.matches(&ev("/usr/sbin/apache2")), "{text}");
    }
}
