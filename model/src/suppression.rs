//! Suppressions: accepted suggestions that keep a rule from raising signals for one image
//! and one process lineage again. Stored, visible as text, undoable, optionally expiring.

use crate::signal::NewSignal;
use crate::tree::NodeKey;
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

/// Build the suppression expression text for a rule, an image and a lineage.
pub fn expression_text(rule_id: &str, image: &str, lineage: &[String]) -> String {
    let (path, ancestors) = lineage
        .split_last()
        .map_or(("", &[][..]), |(l, a)| (l.as_str(), a));
    let anc: Vec<String> = ancestors.iter().rev().map(|a| format!("{a:?}")).collect();
    format!(
        "rule == {rule_id:?} && container.image.name == {image:?} && process.file.path == {path:?} && process.ancestors.file.path == [{}]",
        anc.join(", ")
    )
}

/// The lineage a suppression for this signal node would hold.
pub fn lineage_of(node: &NodeKey) -> Vec<String> {
    node.lineage()
}
