//! The profile merge of one batch, in memory: the distinct nodes of the batch's merged
//! snapshots of one profile, each with the number of snapshots holding it, the union of its
//! access kinds and its smallest sample argv, as the SQL merge counted them before (see
//! `batch.rs` for how they reach `profile_nodes`).
//!
//! A node is found by its parent and its own key segment, not by its whole key: a lookup
//! hashes a label, not a lineage (a million lookups per large import).

use crate::batch::FastMap;
use model::snapshot::Snapshot;
use model::tree::{NodeKind, NodeRef};
use std::borrow::Cow;
use std::hash::BuildHasher;

/// One distinct node.
pub(crate) struct NodeMerge {
    pub key: String,
    /// Length of the parent's key (a prefix of `key`); 0 for a root.
    pub parent_len: usize,
    parent: u32,
    pub kind: NodeKind,
    pub label: String,
    pub depth: u32,
    /// Snapshots of the batch holding the node.
    pub snapshots: u32,
    pub access: u16,
    /// The sample argv as JSON (`[]` when none yet), and the argv it is: the smallest
    /// non-empty one of the first ingest call that had one (as the SQL merge did: the
    /// smallest of a call, kept by later calls), so the result does not depend on how
    /// calls are batched.
    pub args_json: String,
    args: Vec<String>,
    /// The ingest call `args` is from.
    args_call: u32,
}

impl NodeMerge {
    pub fn parent_key(&self) -> Option<&str> {
        (self.parent_len > 0).then(|| &self.key[..self.parent_len])
    }

    /// The node's own key segment without its kind tag (`|` escaped).
    fn segment(&self) -> &str {
        let start = if self.parent_len > 0 {
            self.parent_len + 1
        } else {
            0
        };
        &self.key[start + 2..]
    }
}

const ROOT: u32 = u32::MAX;

#[derive(Default)]
pub(crate) struct ProfileMerge {
    nodes: Vec<NodeMerge>,
    /// hash of (parent, kind, segment) -> node
    index: FastMap<u64, u32>,
    /// Nodes whose hash another node had first, by key.
    collided: FastMap<String, u32>,
    /// The process node at each depth of the walk.
    lineage: Vec<u32>,
    /// Ingest calls seen (see `NodeMerge::args_json`).
    call: u32,
}

impl ProfileMerge {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn nodes(&self) -> &[NodeMerge] {
        &self.nodes
    }

    /// The snapshots added from now on come from another ingest call.
    pub fn next_call(&mut self) {
        self.call += 1;
    }

    /// Count every node of a snapshot; returns how many nodes it has.
    pub fn add(&mut self, s: &Snapshot) -> usize {
        let mut count = 0;
        s.tree.visit(|n| {
            count += 1;
            self.add_node(n);
        });
        count
    }

    fn add_node(&mut self, n: &NodeRef<'_>) {
        let parent = match n.depth {
            0 => ROOT,
            d => self.lineage[d - 1],
        };
        let segment: Cow<str> = if n.label.contains('|') {
            Cow::Owned(n.label.replace('|', "%7C"))
        } else {
            Cow::Borrowed(n.label)
        };
        let hash = self
            .index
            .hasher()
            .hash_one((parent, n.kind as u8, segment.as_ref()));
        let found = match self.index.get(&hash) {
            Some(&i) => {
                let m = &self.nodes[i as usize];
                if m.parent == parent && m.kind == n.kind && m.segment() == segment {
                    Some(i)
                } else {
                    self.collided.get(n.key).copied()
                }
            }
            None => None,
        };
        let i = match found {
            Some(i) => {
                let m = &mut self.nodes[i as usize];
                m.snapshots += 1;
                m.access |= n.access.0;
                if !n.args.is_empty() && m.args != n.args {
                    if m.args.is_empty() {
                        m.args_json = args_json(n.args);
                        m.args = n.args.to_vec();
                        m.args_call = self.call;
                    } else if m.args_call == self.call {
                        let json = args_json(n.args);
                        if json < m.args_json {
                            m.args_json = json;
                            m.args = n.args.to_vec();
                        }
                    }
                }
                i
            }
            None => {
                let i = self.nodes.len() as u32;
                match self.index.entry(hash) {
                    std::collections::hash_map::Entry::Occupied(_) => {
                        self.collided.insert(n.key.to_string(), i);
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(i);
                    }
                }
                self.nodes.push(NodeMerge {
                    key: n.key.to_string(),
                    parent_len: n.parent.map_or(0, str::len),
                    parent,
                    kind: n.kind,
                    label: n.label.to_string(),
                    depth: n.depth as u32,
                    snapshots: 1,
                    access: n.access.0,
                    args_json: args_json(n.args),
                    args: n.args.to_vec(),
                    args_call: self.call,
                });
                i
            }
        };
        if n.kind == NodeKind::Process {
            self.lineage.truncate(n.depth);
            self.lineage.push(i);
        }
    }
}

fn args_json(args: &[String]) -> String {
    serde_json::to_string(args).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::event::{Access, ContainerRef};
    use model::tree::{ActivityTree, ProcessNode};
    use std::collections::BTreeMap;

    fn snapshot(tree: ActivityTree) -> Snapshot {
        Snapshot {
            id: "s".into(),
            container: ContainerRef::default(),
            host: String::new(),
            started_ms: 0,
            ended_ms: 0,
            tree,
        }
    }

    fn process(path: &str, args: &[&str]) -> ProcessNode {
        let mut p = ProcessNode::new(path);
        p.args = args.iter().map(|a| a.to_string()).collect();
        p
    }

    #[test]
    fn counts_nodes_by_key_as_the_sql_merge_did() {
        // `a|b` and `a%7Cb` share a key; so do the two files below
        let mut a = ActivityTree::default();
        let mut root = process("/init", &["init", "-b"]);
        root.add_file("/etc/x|y", Access::READ);
        root.add_file("/etc/x%7Cy", Access::WRITE);
        root.children.push(process("/bin/sh", &[]));
        a.roots.push(root);
        a.roots.push(process("/a|b", &[]));
        let mut b = ActivityTree::default();
        let mut root = process("/init", &["init", "-a"]);
        root.children.push(process("/bin/sh", &["sh"]));
        b.roots.push(root);
        b.roots.push(process("/a%7Cb", &["x"]));

        let mut m = ProfileMerge::default();
        assert_eq!(m.add(&snapshot(a.clone())), 5);
        assert_eq!(m.add(&snapshot(b.clone())), 3);
        let got: BTreeMap<&str, (u32, u16, &str, Option<&str>, u32)> = m
            .nodes()
            .iter()
            .map(|n| {
                (
                    n.key.as_str(),
                    (
                        n.snapshots,
                        n.access,
                        n.args_json.as_str(),
                        n.parent_key(),
                        n.depth,
                    ),
                )
            })
            .collect();
        let mut want = BTreeMap::new();
        for t in [&a, &b] {
            for n in t.nodes() {
                let e = want.entry(n.key.0.clone()).or_insert((
                    0u32,
                    0u16,
                    "[]".to_string(),
                    n.parent().map(|p| p.0),
                    n.depth() as u32,
                ));
                e.0 += 1;
                e.1 |= n.access.0;
                let j = serde_json::to_string(&n.args).unwrap();
                if !n.args.is_empty() && (e.2 == "[]" || j < e.2) {
                    e.2 = j;
                }
            }
        }
        let want: BTreeMap<&str, (u32, u16, &str, Option<&str>, u32)> = want
            .iter()
            .map(|(k, v)| (k.as_str(), (v.0, v.1, v.2.as_str(), v.3.as_deref(), v.4)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(got["p:/a%7Cb"].0, 2);
        assert_eq!(
            got["p:/init|f:/etc/x%7Cy"].0, 2,
            "once per node, as count(*)"
        );
        assert_eq!(got["p:/init"].2, r#"["init","-a"]"#, "the smallest argv");

        // a later call keeps the argv of the first call that had one
        let mut m = ProfileMerge::default();
        m.add(&snapshot(a.clone()));
        m.next_call();
        m.add(&snapshot(b.clone()));
        let init = m.nodes().iter().find(|n| n.key == "p:/init").unwrap();
        assert_eq!(init.args_json, r#"["init","-b"]"#);
        let sh = m
            .nodes()
            .iter()
            .find(|n| n.key == "p:/init|p:/bin/sh")
            .unwrap();
        assert_eq!(sh.args_json, r#"["sh"]"#, "the first call had none");
    }
}
