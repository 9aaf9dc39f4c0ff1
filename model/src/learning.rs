//! Learning progress: how many nodes each merged snapshot brought to its profile that no
//! earlier snapshot (in ingest order) had, per node kind. A profile converges when its
//! snapshots stop bringing new nodes; a person reads that from the last N of them before
//! trusting (or promoting) the profile.

use crate::tree::{ActivityTree, NodeKey, NodeKind};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Node counts per kind (process, file, DNS, network, kernel activity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub process: u32,
    pub file: u32,
    pub dns: u32,
    pub net: u32,
    pub kernel: u32,
}

impl KindCounts {
    /// Every kind, in the order screens show them.
    pub const KINDS: [NodeKind; 5] = [
        NodeKind::Process,
        NodeKind::File,
        NodeKind::Dns,
        NodeKind::Net,
        NodeKind::Kernel,
    ];

    pub fn get(&self, kind: NodeKind) -> u32 {
        match kind {
            NodeKind::Process => self.process,
            NodeKind::File => self.file,
            NodeKind::Dns => self.dns,
            NodeKind::Net => self.net,
            NodeKind::Kernel => self.kernel,
        }
    }

    fn add(&mut self, kind: NodeKind, n: u32) {
        match kind {
            NodeKind::Process => self.process += n,
            NodeKind::File => self.file += n,
            NodeKind::Dns => self.dns += n,
            NodeKind::Net => self.net += n,
            NodeKind::Kernel => self.kernel += n,
        }
    }

    pub fn total(&self) -> u32 {
        Self::KINDS.iter().map(|k| self.get(*k)).sum()
    }
}

impl std::ops::AddAssign for KindCounts {
    fn add_assign(&mut self, o: KindCounts) {
        for k in Self::KINDS {
            self.add(k, o.get(k));
        }
    }
}

/// The nodes a profile has seen so far; feed it the merged snapshots in ingest order.
#[derive(Debug, Default)]
pub struct Learning {
    seen: HashSet<NodeKey>,
}

impl Learning {
    /// The nodes of `tree` not seen in any earlier snapshot, counted by kind (and now seen).
    pub fn step(&mut self, tree: &ActivityTree) -> KindCounts {
        let mut out = KindCounts::default();
        for n in tree.nodes() {
            if self.seen.insert(n.key) {
                out.add(n.kind, 1);
            }
        }
        out
    }

    /// Keys of the nodes of `tree` not seen yet (parents before children), without
    /// counting them as seen.
    pub fn unseen(&self, tree: &ActivityTree) -> Vec<String> {
        tree.nodes()
            .into_iter()
            .filter(|n| !self.seen.contains(&n.key))
            .map(|n| n.key.0)
            .collect()
    }

    /// Distinct nodes seen so far (the profile's node count after these snapshots).
    pub fn nodes(&self) -> usize {
        self.seen.len()
    }
}

/// Per kind: how many snapshots (of `steps`, oldest first) came after the last one that
/// brought a new node of that kind; None when none of them brought one.
pub fn since_last_new(steps: &[KindCounts]) -> [Option<usize>; 5] {
    KindCounts::KINDS.map(|k| {
        steps
            .iter()
            .rposition(|s| s.get(k) > 0)
            .map(|i| steps.len() - 1 - i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};

    fn tree(files: &[&str], dns: Option<&str>) -> ActivityTree {
        let c = ContainerRef::default();
        let ev = |kind| Event {
            ts_ms: 0,
            container: c.clone(),
            process: ProcessInfo {
                exec_path: "/usr/sbin/nginx".into(),
                ..Default::default()
            },
            kind,
        };
        let mut t = ActivityTree::default();
        t.record(&ev(EventKind::Exec));
        for f in files {
            t.record(&ev(EventKind::Open {
                path: f.to_string(),
                access: Access::READ,
                errno: 0,
                requested: None,
            }));
        }
        if let Some(d) = dns {
            t.record(&ev(EventKind::Dns {
                name: d.into(),
                qtype: "A".into(),
            }));
        }
        t
    }

    #[test]
    fn each_snapshot_counts_what_no_earlier_one_had() {
        let mut l = Learning::default();
        let steps: Vec<KindCounts> = [
            tree(&["/etc/a", "/etc/b"], None),
            tree(&["/etc/a"], Some("example.org")),
            tree(&["/etc/b", "/etc/c"], Some("example.org")),
            tree(&["/etc/a"], None),
        ]
        .iter()
        .map(|t| l.step(t))
        .collect();
        let files: Vec<u32> = steps.iter().map(|s| s.file).collect();
        let procs: Vec<u32> = steps.iter().map(|s| s.process).collect();
        let dns: Vec<u32> = steps.iter().map(|s| s.dns).collect();
        assert_eq!(files, [2, 0, 1, 0]);
        assert_eq!(procs, [1, 0, 0, 0]);
        assert_eq!(dns, [0, 1, 0, 0]);
        assert_eq!(l.nodes(), 5);
        let t = tree(&["/etc/a", "/etc/d"], None);
        assert_eq!(l.unseen(&t), ["p:/usr/sbin/nginx|f:/etc/d"]);
        assert_eq!(l.nodes(), 5, "unseen does not count them");
        let total: u32 = steps.iter().map(KindCounts::total).sum();
        assert_eq!(total as usize, l.nodes(), "every node is new exactly once");
        assert_eq!(
            since_last_new(&steps),
            [Some(3), Some(1), Some(2), None, None]
        );
    }
}
