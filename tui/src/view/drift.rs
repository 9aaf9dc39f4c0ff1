//! The novel sub-tree of a drift signal as indented text lines, shared by the signal panel
//! and `wsprof signal show`: each novel node under its novel parent, or under the last
//! process the profile knows (named once), in order of first appearance.

use store::DriftNodeRow;

/// One line of the novel tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeLine {
    pub depth: usize,
    pub text: String,
    /// The node's severity; empty for context lines (known parents).
    pub severity: String,
}

/// The tree of `nodes`, parents before children; `compact` (the panel) leaves out why and
/// names tactics by id.
pub fn tree_lines(nodes: &[DriftNodeRow], compact: bool) -> Vec<TreeLine> {
    use std::collections::{HashMap, HashSet};
    let keys: HashSet<&str> = nodes.iter().map(|n| n.node_key.as_str()).collect();
    let mut children: HashMap<&str, Vec<&DriftNodeRow>> = HashMap::new();
    // roots grouped under their known parent, in order of first appearance
    let mut roots: Vec<(Option<&str>, Vec<&DriftNodeRow>)> = Vec::new();
    for n in nodes {
        match n.parent_key.as_deref() {
            Some(p) if keys.contains(p) => children.entry(p).or_default().push(n),
            p => match roots.iter_mut().find(|(k, _)| *k == p) {
                Some((_, v)) => v.push(n),
                None => roots.push((p, vec![n])),
            },
        }
    }
    let mut out = Vec::new();
    for (parent, group) in roots {
        let depth = match parent {
            Some(p) => {
                let lineage = model::NodeKey(p.to_string()).lineage();
                out.push(TreeLine {
                    depth: 0,
                    text: format!("under {} (known)", lineage.join(" > ")),
                    severity: String::new(),
                });
                1
            }
            None => 0,
        };
        for n in group {
            walk(n, depth, compact, &children, &mut out);
        }
    }
    out
}

fn walk(
    n: &DriftNodeRow,
    depth: usize,
    compact: bool,
    children: &std::collections::HashMap<&str, Vec<&DriftNodeRow>>,
    out: &mut Vec<TreeLine>,
) {
    out.push(TreeLine {
        depth,
        text: node_text(n, compact),
        severity: n.severity.clone(),
    });
    for c in children.get(n.node_key.as_str()).into_iter().flatten() {
        walk(c, depth + 1, compact, children, out);
    }
}

/// `exec /bin/bash  high: new executable  ×3  TA0007 Discovery`; compact:
/// `exec /bin/bash  high ×3 TA0007`.
pub fn node_text(n: &DriftNodeRow, compact: bool) -> String {
    let what = match n.kind.as_str() {
        "process" => format!("exec {}", n.label),
        "file" if !n.access.is_empty() => format!("{} ({})", n.label, n.access.join(",")),
        _ => n.label.clone(),
    };
    if compact {
        let mut t = format!("{what}  {}", n.severity);
        if n.count > 1 {
            t.push_str(&format!(" ×{}", n.count));
        }
        if let Some(id) = n.tactic.split(' ').next().filter(|s| !s.is_empty()) {
            t.push_str(&format!(" {id}"));
        }
        return t;
    }
    let mut t = format!("{what}  {}: {}", n.severity, n.why);
    if n.count > 1 {
        t.push_str(&format!("  ×{}", n.count));
    }
    if !n.tactic.is_empty() {
        t.push_str(&format!("  {}", n.tactic));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(key: &str, kind: &str, label: &str) -> DriftNodeRow {
        DriftNodeRow {
            node_key: key.into(),
            parent_key: model::NodeKey(key.into()).parent().map(|p| p.0),
            kind: kind.into(),
            label: label.into(),
            access: if kind == "file" {
                vec!["read".into()]
            } else {
                vec![]
            },
            category: "file".into(),
            severity: "low".into(),
            tactic: String::new(),
            why: "new".into(),
            count: 1,
            first_ms: 0,
            last_ms: 0,
        }
    }

    #[test]
    fn novel_nodes_nest_under_their_novel_parent_or_a_known_one() {
        let lines = tree_lines(
            &[
                node("p:/nginx|p:/bin/sh", "process", "/bin/sh"),
                node("p:/nginx|f:/srv/a", "file", "/srv/a"),
                node("p:/nginx|p:/bin/sh|f:/etc/passwd", "file", "/etc/passwd"),
            ],
            false,
        );
        let text: Vec<String> = lines
            .iter()
            .map(|l| format!("{}{}", "  ".repeat(l.depth), l.text))
            .collect();
        assert_eq!(
            text,
            vec![
                "under /nginx (known)",
                "  exec /bin/sh  low: new",
                "    /etc/passwd (read)  low: new",
                "  /srv/a (read)  low: new",
            ]
        );
    }
}
