//! The collapsible process tree of a profile, with fuzzy search that keeps matches and
//! expands their ancestors.

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use std::collections::{BTreeSet, HashMap};
use store::NodeRow;

/// One visible row of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeRow {
    /// Index into `nodes`.
    pub node: usize,
    pub depth: usize,
    pub has_children: bool,
    pub collapsed: bool,
    /// Matched the search itself (not only kept as an ancestor).
    pub matched: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileTree {
    pub nodes: Vec<NodeRow>,
    /// Process node index -> child process indexes.
    children: HashMap<usize, Vec<usize>>,
    /// Process node index -> its file/DNS/net/kernel node indexes.
    leaves: HashMap<usize, Vec<usize>>,
    roots: Vec<usize>,
    collapsed: BTreeSet<String>,
    query: String,
    rows: Vec<TreeRow>,
    sel: usize,
}

impl ProfileTree {
    pub fn new(nodes: Vec<NodeRow>) -> ProfileTree {
        let mut t = ProfileTree {
            nodes: Vec::new(),
            children: HashMap::new(),
            leaves: HashMap::new(),
            roots: Vec::new(),
            collapsed: BTreeSet::new(),
            query: String::new(),
            rows: Vec::new(),
            sel: 0,
        };
        t.replace_nodes(nodes);
        t
    }

    /// New data for the same profile: keep collapsed state, query and selected node.
    pub fn replace_nodes(&mut self, nodes: Vec<NodeRow>) {
        let selected = self.selected().map(|n| n.key.clone());
        let index: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.key.as_str(), i))
            .collect();
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut leaves: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let parent = n.parent.as_deref().and_then(|p| index.get(p)).copied();
            match (n.kind == "process", parent) {
                (true, Some(p)) => children.entry(p).or_default().push(i),
                (true, None) => roots.push(i),
                (false, Some(p)) => leaves.entry(p).or_default().push(i),
                (false, None) => {}
            }
        }
        self.nodes = nodes;
        self.children = children;
        self.leaves = leaves;
        self.roots = roots;
        self.rebuild();
        if let Some(k) = selected {
            self.select_key(&k);
        }
    }

    pub fn set_query(&mut self, q: &str) {
        if self.query != q {
            self.query = q.to_string();
            self.sel = 0;
            self.rebuild();
        }
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    fn rebuild(&mut self) {
        let keep = if self.query.is_empty() {
            None
        } else {
            Some(self.matches())
        };
        let mut rows = Vec::new();
        for &r in &self.roots {
            self.walk(r, 0, keep.as_ref(), &mut rows);
        }
        self.rows = rows;
        self.sel = self.sel.min(self.rows.len().saturating_sub(1));
    }

    /// Processes that match (by their label or one of their leaves) -> true, and their
    /// ancestors -> false.
    fn matches(&self) -> HashMap<usize, bool> {
        let m = SkimMatcherV2::default().ignore_case();
        let hit = |i: usize| m.fuzzy_match(&self.nodes[i].label, &self.query).is_some();
        let parent_of: HashMap<usize, usize> = self
            .children
            .iter()
            .flat_map(|(p, cs)| cs.iter().map(move |c| (*c, *p)))
            .collect();
        let mut keep = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.kind != "process" {
                continue;
            }
            let own = hit(i)
                || self
                    .leaves
                    .get(&i)
                    .is_some_and(|ls| ls.iter().any(|&l| hit(l)));
            if own {
                keep.insert(i, true);
                let mut p = parent_of.get(&i).copied();
                while let Some(x) = p {
                    keep.entry(x).or_insert(false);
                    p = parent_of.get(&x).copied();
                }
            }
        }
        keep
    }

    fn walk(
        &self,
        i: usize,
        depth: usize,
        keep: Option<&HashMap<usize, bool>>,
        rows: &mut Vec<TreeRow>,
    ) {
        let matched = match keep {
            Some(k) => match k.get(&i) {
                Some(m) => *m,
                None => return,
            },
            None => false,
        };
        let kids = self.children.get(&i).map(Vec::as_slice).unwrap_or(&[]);
        // while searching, matches expand their ancestors
        let collapsed = keep.is_none() && self.collapsed.contains(&self.nodes[i].key);
        rows.push(TreeRow {
            node: i,
            depth,
            has_children: !kids.is_empty(),
            collapsed,
            matched,
        });
        if !collapsed {
            for &c in kids {
                self.walk(c, depth + 1, keep, rows);
            }
        }
    }

    pub fn rows(&self) -> &[TreeRow] {
        &self.rows
    }
    pub fn selected_row(&self) -> usize {
        self.sel
    }
    pub fn selected(&self) -> Option<&NodeRow> {
        self.rows.get(self.sel).map(|r| &self.nodes[r.node])
    }

    /// Files, DNS, network and kernel nodes of the selected process.
    pub fn selected_leaves(&self) -> Vec<&NodeRow> {
        self.rows
            .get(self.sel)
            .and_then(|r| self.leaves.get(&r.node))
            .map(|ls| ls.iter().map(|&l| &self.nodes[l]).collect())
            .unwrap_or_default()
    }

    pub fn move_sel(&mut self, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        self.sel = (self.sel as isize + delta).clamp(0, self.rows.len() as isize - 1) as usize;
    }

    pub fn select_row(&mut self, row: usize) {
        if row < self.rows.len() {
            self.sel = row;
        }
    }

    /// The key of the process row a node key shows under: the node itself when it is a
    /// process of the tree, else the deepest process of the tree on its path (a leaf's
    /// process; for a node the tree lacks, its nearest known ancestor).
    pub fn owner_of(&self, key: &str) -> Option<&str> {
        self.nodes
            .iter()
            .filter(|n| {
                n.kind == "process"
                    && (key == n.key
                        || (key.starts_with(&n.key) && key[n.key.len()..].starts_with('|')))
            })
            .max_by_key(|n| n.key.len())
            .map(|n| n.key.as_str())
    }

    /// Select the process of a node key (a leaf selects its process), expanding ancestors.
    pub fn select_key(&mut self, key: &str) {
        let Some(pk) = self.owner_of(key).map(str::to_string) else {
            return;
        };
        let ancestors: Vec<String> = self
            .collapsed
            .iter()
            .filter(|c| pk.starts_with(&format!("{c}|")))
            .cloned()
            .collect();
        for a in ancestors {
            self.collapsed.remove(&a);
        }
        self.rebuild();
        if let Some(pos) = self.rows.iter().position(|r| self.nodes[r.node].key == pk) {
            self.sel = pos;
        }
    }

    pub fn toggle(&mut self) {
        if let Some(n) = self.selected().map(|n| n.key.clone()) {
            let now = !self.collapsed.contains(&n);
            self.set_key_collapsed(n, now);
        }
    }

    pub fn set_collapsed(&mut self, collapsed: bool) {
        if let Some(n) = self.selected().map(|n| n.key.clone()) {
            self.set_key_collapsed(n, collapsed);
        }
    }

    fn set_key_collapsed(&mut self, key: String, collapsed: bool) {
        let has_children = self.rows.get(self.sel).is_some_and(|r| r.has_children);
        if !has_children {
            return;
        }
        if collapsed {
            self.collapsed.insert(key.clone());
        } else {
            self.collapsed.remove(&key);
        }
        self.rebuild();
        if let Some(pos) = self.rows.iter().position(|r| self.nodes[r.node].key == key) {
            self.sel = pos;
        }
    }

    pub fn expand_all(&mut self) {
        self.collapsed.clear();
        self.rebuild();
    }

    pub fn collapse_all(&mut self) {
        self.collapsed = self
            .children
            .keys()
            .map(|&i| self.nodes[i].key.clone())
            .collect();
        self.sel = 0;
        self.rebuild();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(key: &str, kind: &str) -> NodeRow {
        let k = model::NodeKey(key.to_string());
        NodeRow {
            key: key.into(),
            parent: k.parent().map(|p| p.0),
            kind: kind.into(),
            label: k.last().1,
            depth: k.depth() as u32,
            snapshots: 1,
            commonality: 1.0,
            access: vec![],
            args: vec![],
        }
    }

    fn tree() -> ProfileTree {
        ProfileTree::new(vec![
            node("p:/init", "process"),
            node("p:/init|f:/etc/hosts", "file"),
            node("p:/init|p:/usr/sbin/nginx", "process"),
            node("p:/init|p:/usr/sbin/nginx|p:/bin/sh", "process"),
            node("p:/init|p:/usr/sbin/nginx|p:/bin/sh|d:example.com A", "dns"),
            node("p:/init|p:/usr/bin/redis", "process"),
        ])
    }

    fn labels(t: &ProfileTree) -> Vec<String> {
        t.rows()
            .iter()
            .map(|r| t.nodes[r.node].label.clone())
            .collect()
    }

    #[test]
    fn collapse_expand_and_leaves() {
        let mut t = tree();
        assert_eq!(
            labels(&t),
            ["/init", "/usr/sbin/nginx", "/bin/sh", "/usr/bin/redis"]
        );
        assert_eq!(t.selected_leaves()[0].label, "/etc/hosts");
        t.move_sel(1);
        t.toggle();
        assert_eq!(labels(&t), ["/init", "/usr/sbin/nginx", "/usr/bin/redis"]);
        assert!(t.rows()[1].collapsed);
        t.expand_all();
        assert_eq!(t.rows().len(), 4);
        t.collapse_all();
        assert_eq!(labels(&t), ["/init"]);
    }

    #[test]
    fn search_keeps_matches_and_their_ancestors_expanded() {
        let mut t = tree();
        t.collapse_all();
        t.set_query("example");
        assert_eq!(labels(&t), ["/init", "/usr/sbin/nginx", "/bin/sh"]);
        assert!(t.rows()[2].matched && !t.rows()[1].matched);
        t.set_query("");
        assert_eq!(labels(&t), ["/init"], "collapsed state comes back");
        t.select_key("p:/init|p:/usr/sbin/nginx|p:/bin/sh|d:example.com A");
        assert_eq!(t.selected().unwrap().label, "/bin/sh");
        assert_eq!(
            t.owner_of("p:/init|p:/usr/sbin/nginx|p:/bin/bash|f:/etc/shadow"),
            Some("p:/init|p:/usr/sbin/nginx"),
            "a node the tree lacks shows under its nearest known process"
        );
        assert_eq!(t.owner_of("p:/init|p:/usr/sbin/nginxd"), Some("p:/init"));
        assert_eq!(t.owner_of("p:/other"), None);
    }
}
