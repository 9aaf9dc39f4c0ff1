//! Version diff: what one profile (usually a newer version of an image) holds that another
//! does not, what it no longer holds, and which nodes' commonality moved.
//!
//! For two profiles `from` and `to` and a threshold `t` (0..1):
//! - **added**: a node of `to` that `from` does not hold;
//! - **removed**: a node of `from` that `to` does not hold;
//! - **moved**: a node of both whose commonality changed by more than `t`
//!   (`|c_to - c_from| > t`);
//! - every other node is unchanged and only shown (as **context**) when it is an ancestor
//!   of a change, so the changes appear in their tree.

use crate::profile::Profile;
use crate::tree::{NodeKey, NodeKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The threshold `wsprof profile diff` uses when none is given.
pub const DEFAULT_THRESHOLD: f64 = 0.2;

/// What happened to a node between the two profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    /// In both, commonality moved by more than the threshold.
    Moved,
    /// In both and unchanged: shown because a change lies below it.
    Context,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Moved => "moved",
            Change::Context => "context",
        }
    }
}

/// One profile of the two compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffSide {
    pub image: String,
    pub version: String,
    pub status: String,
    pub snapshots: u32,
    pub nodes: u32,
    pub commonality: f64,
}

impl DiffSide {
    fn of(p: &Profile) -> DiffSide {
        DiffSide {
            image: p.image.clone(),
            version: p.version.clone(),
            status: p.status.as_str().to_string(),
            snapshots: p.snapshot_count,
            nodes: p.nodes.len() as u32,
            commonality: p.commonality(),
        }
    }

    /// `image:version`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.image, self.version)
    }
}

/// A node of the diff tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffNode {
    pub key: String,
    pub parent: Option<String>,
    pub kind: String,
    pub label: String,
    pub depth: u32,
    pub change: Change,
    /// Commonality in `from` (None: not there).
    pub before: Option<f64>,
    /// Commonality in `to` (None: not there).
    pub after: Option<f64>,
    /// Snapshots of `from` / `to` holding the node.
    pub before_snapshots: u32,
    pub after_snapshots: u32,
}

impl DiffNode {
    /// The commonality the node is coloured by: in `to` where it is there, else in `from`.
    pub fn shown_commonality(&self) -> f64 {
        self.after.or(self.before).unwrap_or(0.0)
    }
}

/// The difference between two profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileDiff {
    pub from: DiffSide,
    pub to: DiffSide,
    pub threshold: f64,
    pub added: u32,
    pub removed: u32,
    pub moved: u32,
    /// The changes and their ancestors, depth first (under a process: its files, DNS,
    /// network and kernel nodes, then its child processes).
    pub nodes: Vec<DiffNode>,
}

impl ProfileDiff {
    /// Nothing added, removed or moved.
    pub fn is_empty(&self) -> bool {
        self.added + self.removed + self.moved == 0
    }
}

/// Compare `from` with `to` (see the module documentation).
pub fn diff(from: &Profile, to: &Profile, threshold: f64) -> ProfileDiff {
    let keys: BTreeSet<&NodeKey> = from.nodes.keys().chain(to.nodes.keys()).collect();
    let mut change: BTreeMap<&NodeKey, Change> = BTreeMap::new();
    for k in &keys {
        let c = match (from.nodes.contains_key(k), to.nodes.contains_key(k)) {
            (false, true) => Some(Change::Added),
            (true, false) => Some(Change::Removed),
            _ => {
                let moved = (to.node_commonality(k) - from.node_commonality(k)).abs() > threshold;
                moved.then_some(Change::Moved)
            }
        };
        if let Some(c) = c {
            change.insert(k, c);
        }
    }
    // The ancestors of every change, as context.
    let mut shown: BTreeSet<NodeKey> = change.keys().map(|k| (*k).clone()).collect();
    for k in change.keys() {
        let mut p = k.parent();
        while let Some(x) = p {
            p = x.parent();
            if !shown.insert(x) {
                break;
            }
        }
    }
    let mut children: BTreeMap<Option<NodeKey>, Vec<&NodeKey>> = BTreeMap::new();
    for k in &shown {
        children.entry(k.parent()).or_default().push(k);
    }
    // Leaves before child processes, each group by key.
    for v in children.values_mut() {
        v.sort_by_key(|k| (k.last().0 == NodeKind::Process, *k));
    }
    let mut nodes = Vec::with_capacity(shown.len());
    let mut stack: Vec<&NodeKey> = children
        .get(&None)
        .map(|v| v.iter().rev().copied().collect())
        .unwrap_or_default();
    while let Some(k) = stack.pop() {
        let a = from.nodes.get(k);
        let b = to.nodes.get(k);
        let (kind, label) = match (a, b) {
            (_, Some(s)) | (Some(s), None) => (s.kind, s.label.clone()),
            (None, None) => k.last(),
        };
        nodes.push(DiffNode {
            key: k.0.clone(),
            parent: k.parent().map(|p| p.0),
            kind: kind.as_str().to_string(),
            label,
            depth: k.depth() as u32,
            change: change.get(k).copied().unwrap_or(Change::Context),
            before: a.map(|_| from.node_commonality(k)),
            after: b.map(|_| to.node_commonality(k)),
            before_snapshots: a.map_or(0, |s| s.snapshots),
            after_snapshots: b.map_or(0, |s| s.snapshots),
        });
        if let Some(kids) = children.get(&Some(k.clone())) {
            stack.extend(kids.iter().rev());
        }
    }
    let count = |c: Change| change.values().filter(|x| **x == c).count() as u32;
    ProfileDiff {
        from: DiffSide::of(from),
        to: DiffSide::of(to),
        threshold,
        added: count(Change::Added),
        removed: count(Change::Removed),
        moved: count(Change::Moved),
        nodes,
    }
}

/// Order of two image versions (tags): runs of digits compare as numbers, the rest as
/// text, so `1.9.0` < `1.10.0` and `7.0.15` < `7.2.4`.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(rb.iter()) {
        let o = match (x, y) {
            ((true, m), (true, n)) => {
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                m.len().cmp(&n.len()).then(m.cmp(n))
            }
            ((_, m), (_, n)) => m.cmp(n),
        };
        if o.is_ne() {
            return o;
        }
    }
    ra.len().cmp(&rb.len()).then(a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Access;
    use crate::profile::NodeStats;

    /// A profile of `n` snapshots holding `nodes` (key, snapshots holding it).
    fn profile(version: &str, n: u32, nodes: &[(&str, u32)]) -> Profile {
        let mut p = Profile::new("web", version);
        p.snapshot_count = n;
        for (k, s) in nodes {
            let key = NodeKey(k.to_string());
            let (kind, label) = key.last();
            p.nodes.insert(
                key,
                NodeStats {
                    kind,
                    label,
                    snapshots: *s,
                    access: Access::default(),
                    args: Vec::new(),
                },
            );
        }
        p
    }

    const NGINX: &str = "p:/usr/sbin/nginx";
    const CONF: &str = "p:/usr/sbin/nginx|f:/etc/nginx/nginx.conf";
    const SH: &str = "p:/usr/sbin/nginx|p:/bin/sh";
    const CURL: &str = "p:/usr/sbin/nginx|p:/bin/sh|p:/usr/bin/curl";
    const OCSP: &str = "p:/usr/sbin/nginx|p:/usr/sbin/nginx|n:connect tcp/80 public";
    const WORKER: &str = "p:/usr/sbin/nginx|p:/usr/sbin/nginx";
    const LOG: &str = "p:/usr/sbin/nginx|p:/usr/sbin/nginx|f:/var/log/nginx/error.log";

    #[test]
    fn added_removed_and_moved_by_more_than_the_threshold() {
        let old = profile(
            "1",
            10,
            &[
                (NGINX, 10),
                (CONF, 10),
                (SH, 10),
                (CURL, 9),
                (WORKER, 10),
                (LOG, 5),
            ],
        );
        // curl gone, the log written in 8 of 10 instead of 5 (+30%), the conf in 9 of 10
        // (-10%: under the threshold), a new connection under the worker.
        let new = profile(
            "2",
            10,
            &[
                (NGINX, 10),
                (CONF, 9),
                (SH, 10),
                (WORKER, 10),
                (LOG, 8),
                (OCSP, 4),
            ],
        );
        let d = diff(&old, &new, 0.2);
        assert_eq!((d.added, d.removed, d.moved), (1, 1, 1));
        let rows: Vec<(&str, Change)> =
            d.nodes.iter().map(|n| (n.key.as_str(), n.change)).collect();
        assert_eq!(
            rows,
            vec![
                (NGINX, Change::Context),
                (SH, Change::Context),
                (CURL, Change::Removed),
                (WORKER, Change::Context),
                (LOG, Change::Moved),
                (OCSP, Change::Added),
            ],
            "depth first, leaves before child processes, unchanged conf not shown"
        );
        let ocsp = d.nodes.iter().find(|n| n.key == OCSP).unwrap();
        assert_eq!((ocsp.before, ocsp.after), (None, Some(0.4)));
        assert_eq!(ocsp.label, "connect tcp/80 public");
        assert_eq!(ocsp.kind, "net");
        let curl = d.nodes.iter().find(|n| n.key == CURL).unwrap();
        assert_eq!(
            (curl.before, curl.after, curl.shown_commonality()),
            (Some(0.9), None, 0.9)
        );
        assert_eq!(d.from.name(), "web:1");
        assert_eq!(d.to.nodes, 6);
    }

    #[test]
    fn the_threshold_is_exclusive_and_a_profile_equals_itself() {
        let a = profile("1", 10, &[(NGINX, 10), (LOG, 5)]);
        let b = profile("2", 10, &[(NGINX, 10), (LOG, 7)]);
        assert!(diff(&a, &b, 0.2).is_empty(), "+20% is not more than 20%");
        assert_eq!(diff(&a, &b, 0.19).moved, 1);
        let same = diff(&a, &a, 0.0);
        assert!(same.is_empty() && same.nodes.is_empty());
        // everything added against an empty profile, parents before children
        let empty = profile("0", 0, &[]);
        let all = diff(&empty, &a, 0.2);
        assert_eq!(all.added, 2);
        assert_eq!(all.nodes[0].key, NGINX);
    }

    #[test]
    fn versions_in_order() {
        let mut v = vec![
            "1.10.0",
            "1.9.0",
            "1.27.0",
            "1.25.3",
            "1.9.0-rc1",
            "latest",
            "2",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "1.9.0",
                "1.9.0-rc1",
                "1.10.0",
                "1.25.3",
                "1.27.0",
                "2",
                "latest"
            ]
        );
    }

    #[test]
    fn a_removed_subtree_keeps_its_shape() {
        let a = profile("1", 4, &[(NGINX, 4), (SH, 1), (CURL, 1)]);
        let b = profile("2", 4, &[(NGINX, 4)]);
        let d = diff(&a, &b, 0.2);
        let depths: Vec<u32> = d.nodes.iter().map(|n| n.depth).collect();
        assert_eq!(depths, vec![0, 1, 2]);
        assert_eq!(d.removed, 2);
        assert_eq!(d.nodes[2].parent.as_deref(), Some(SH));
    }
}
