//! The activity tree of one workload: process nodes by exec lineage, and under each process
//! its file, DNS, network and kernel-activity nodes. Paths are folded and argv scrubbed on
//! the way in, so the same behaviour has the same [`NodeKey`] in every container.

use crate::event::{base_name, Access, Event, EventKind, NetClass};
use crate::fold::fold_path;
use crate::scrub::scrub_args;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most argv entries kept as the sample of a process node.
pub const MAX_SAMPLE_ARGS: usize = 16;

/// Kind of a node. The `as_str` names are stored; do not rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Process,
    File,
    Dns,
    Net,
    Kernel,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Process => "process",
            NodeKind::File => "file",
            NodeKind::Dns => "dns",
            NodeKind::Net => "net",
            NodeKind::Kernel => "kernel",
        }
    }
    fn tag(self) -> char {
        match self {
            NodeKind::Process => 'p',
            NodeKind::File => 'f',
            NodeKind::Dns => 'd',
            NodeKind::Net => 'n',
            NodeKind::Kernel => 'k',
        }
    }
    pub fn parse(s: &str) -> Option<NodeKind> {
        [
            NodeKind::Process,
            NodeKind::File,
            NodeKind::Dns,
            NodeKind::Net,
            NodeKind::Kernel,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A node's path from the tree root: the process lineage plus the node's own key, as
/// `p:/usr/sbin/nginx|p:/bin/sh|f:/etc/passwd`. `|` inside a label is escaped as `%7C`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeKey(pub String);

impl NodeKey {
    pub fn root(kind: NodeKind, label: &str) -> NodeKey {
        NodeKey(segment(kind, label))
    }
    pub fn child(&self, kind: NodeKind, label: &str) -> NodeKey {
        NodeKey(format!("{}|{}", self.0, segment(kind, label)))
    }
    /// Key of a process lineage (root first).
    pub fn of_lineage<S: AsRef<str>>(lineage: &[S]) -> Option<NodeKey> {
        let mut it = lineage.iter();
        let mut key = NodeKey::root(NodeKind::Process, it.next()?.as_ref());
        for p in it {
            key = key.child(NodeKind::Process, p.as_ref());
        }
        Some(key)
    }
    pub fn parent(&self) -> Option<NodeKey> {
        self.0.rfind('|').map(|i| NodeKey(self.0[..i].to_string()))
    }
    pub fn depth(&self) -> usize {
        self.0.matches('|').count()
    }
    /// Kind and label of the last segment.
    pub fn last(&self) -> (NodeKind, String) {
        let seg = self.0.rsplit('|').next().unwrap_or("");
        let kind = match seg.as_bytes().first() {
            Some(b'f') => NodeKind::File,
            Some(b'd') => NodeKind::Dns,
            Some(b'n') => NodeKind::Net,
            Some(b'k') => NodeKind::Kernel,
            _ => NodeKind::Process,
        };
        (kind, seg.get(2..).unwrap_or("").replace("%7C", "|"))
    }
    /// The node as a person reads it: the base names of its process lineage, then (for a
    /// file, DNS, network or kernel node) its kind and label:
    /// `nginx > sh > bash > cat: file /etc/shadow`.
    pub fn describe(&self) -> String {
        let lineage: Vec<String> = self
            .lineage()
            .iter()
            .map(|p| crate::event::base_name(p).to_string())
            .collect();
        let (kind, label) = self.last();
        match kind {
            NodeKind::Process => lineage.join(" > "),
            k => format!("{}: {} {label}", lineage.join(" > "), k.as_str()),
        }
    }

    /// Labels of the process segments (the lineage), root first.
    pub fn lineage(&self) -> Vec<String> {
        self.0
            .split('|')
            .filter(|s| s.starts_with("p:"))
            .map(|s| s[2..].replace("%7C", "|"))
            .collect()
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn segment(kind: NodeKind, label: &str) -> String {
    format!("{}:{}", kind.tag(), label.replace('|', "%7C"))
}

/// A file touched by a process, with the union of its access kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileNode {
    pub path: String,
    #[serde(with = "access_names")]
    pub access: Access,
}

/// A DNS question asked by a process.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DnsNode {
    pub name: String,
    pub qtype: String,
}

/// A connect or bind, keyed by family, port and the class of the address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NetNode {
    /// `connect` or `bind`.
    pub op: String,
    pub family: String,
    pub port: u16,
    pub class: NetClass,
}

/// Kernel activity: ptrace, module load, bpf(), mount, setuid/setgid, capset, memfd.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KernelNode {
    pub op: String,
    #[serde(default)]
    pub detail: String,
}

/// A process node: an executable in its exec lineage, with what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProcessNode {
    /// Folded exec path.
    pub path: String,
    /// A scrubbed sample argv (the first one seen).
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ProcessNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<DnsNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net: Vec<NetNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel: Vec<KernelNode>,
}

impl ProcessNode {
    pub fn new(path: &str) -> ProcessNode {
        ProcessNode {
            path: path.to_string(),
            ..Default::default()
        }
    }

    fn child_mut(&mut self, path: &str) -> &mut ProcessNode {
        let i = match self
            .children
            .binary_search_by(|c| c.path.as_str().cmp(path))
        {
            Ok(i) => i,
            Err(i) => {
                self.children.insert(i, ProcessNode::new(path));
                i
            }
        };
        &mut self.children[i]
    }

    pub fn add_file(&mut self, path: &str, access: Access) {
        match self.files.binary_search_by(|f| f.path.as_str().cmp(path)) {
            Ok(i) => self.files[i].access = self.files[i].access.union(access),
            Err(i) => self.files.insert(
                i,
                FileNode {
                    path: path.to_string(),
                    access,
                },
            ),
        }
    }

    fn add_sorted<T: Ord>(v: &mut Vec<T>, item: T) {
        if let Err(i) = v.binary_search(&item) {
            v.insert(i, item);
        }
    }

    pub fn add_dns(&mut self, node: DnsNode) {
        Self::add_sorted(&mut self.dns, node)
    }
    pub fn add_net(&mut self, node: NetNode) {
        Self::add_sorted(&mut self.net, node)
    }
    pub fn add_kernel(&mut self, node: KernelNode) {
        Self::add_sorted(&mut self.kernel, node)
    }
}

/// One node of a tree, flattened with its key (what the store keeps, one row per node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatNode {
    pub key: NodeKey,
    pub kind: NodeKind,
    pub label: String,
    /// File access kinds (files only; empty otherwise).
    pub access: Access,
    /// Sample argv (processes only).
    pub args: Vec<String>,
}

impl FlatNode {
    pub fn parent(&self) -> Option<NodeKey> {
        self.key.parent()
    }
    pub fn depth(&self) -> usize {
        self.key.depth()
    }
}

/// What one workload did: its root processes (the container's init and anything entered
/// with `exec`), sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ActivityTree {
    #[serde(default)]
    pub roots: Vec<ProcessNode>,
}

impl ActivityTree {
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The process node for a lineage (root first), created as needed.
    pub fn process_mut<S: AsRef<str>>(&mut self, lineage: &[S]) -> Option<&mut ProcessNode> {
        let (first, rest) = lineage.split_first()?;
        let first = fold_path(first.as_ref());
        let i = match self.roots.binary_search_by(|c| c.path.as_str().cmp(&first)) {
            Ok(i) => i,
            Err(i) => {
                self.roots.insert(i, ProcessNode::new(&first));
                i
            }
        };
        let mut node = &mut self.roots[i];
        for p in rest {
            node = node.child_mut(&fold_path(p.as_ref()));
        }
        Some(node)
    }

    /// Record one event into the tree. Fork and exit add nothing (a fork without exec runs
    /// the same executable; exits are not behaviour).
    pub fn record(&mut self, ev: &Event) {
        if matches!(ev.kind, EventKind::Fork { .. } | EventKind::Exit { .. }) {
            return;
        }
        let lineage = ev.process.lineage();
        let Some(node) = self.process_mut(&lineage) else {
            return;
        };
        if node.args.is_empty() && !ev.process.args.is_empty() {
            let take = ev.process.args.len().min(MAX_SAMPLE_ARGS);
            node.args = scrub_args(&ev.process.args[..take]);
            node.uid = ev.process.uid;
            node.gid = ev.process.gid;
        }
        match &ev.kind {
            EventKind::Exec | EventKind::Fork { .. } | EventKind::Exit { .. } => {}
            EventKind::Open {
                path,
                access,
                errno,
                ..
            } => {
                let access = if *errno == 0 {
                    *access
                } else {
                    access.union(Access::FAILED)
                };
                node.add_file(&fold_path(path), access)
            }
            EventKind::Unlink { path } => node.add_file(&fold_path(path), Access::UNLINK),
            EventKind::Rename { from, to } => {
                node.add_file(&fold_path(from), Access::RENAME);
                node.add_file(&fold_path(to), Access::CREATE);
            }
            EventKind::Chmod { path, .. } => node.add_file(&fold_path(path), Access::CHMOD),
            EventKind::Chown { path, .. } => node.add_file(&fold_path(path), Access::CHOWN),
            EventKind::Mkdir { path } => node.add_file(&fold_path(path), Access::MKDIR),
            EventKind::Dns { name, qtype } => node.add_dns(DnsNode {
                name: name.trim_end_matches('.').to_ascii_lowercase(),
                qtype: qtype.to_ascii_uppercase(),
            }),
            EventKind::Connect { family, addr, port } | EventKind::Bind { family, addr, port } => {
                node.add_net(NetNode {
                    op: ev.kind.name().to_string(),
                    family: family.clone(),
                    port: *port,
                    class: NetClass::of_addr(addr),
                })
            }
            EventKind::Ptrace { request, .. } => node.add_kernel(KernelNode {
                op: "ptrace".into(),
                detail: format!("request {request}"),
            }),
            EventKind::ModuleLoad { name } => node.add_kernel(KernelNode {
                op: "load_module".into(),
                detail: base_name(name).to_string(),
            }),
            EventKind::Bpf { cmd } => node.add_kernel(KernelNode {
                op: "bpf".into(),
                detail: format!("cmd {cmd}"),
            }),
            EventKind::Mount { target, fstype, .. } => node.add_kernel(KernelNode {
                op: "mount".into(),
                detail: format!("{} on {}", fstype, fold_path(target)),
            }),
            EventKind::Setuid { uid } => node.add_kernel(KernelNode {
                op: "setuid".into(),
                detail: uid.to_string(),
            }),
            EventKind::Setgid { gid } => node.add_kernel(KernelNode {
                op: "setgid".into(),
                detail: gid.to_string(),
            }),
            EventKind::Capset => node.add_kernel(KernelNode {
                op: "capset".into(),
                detail: String::new(),
            }),
            EventKind::MemfdCreate { name } => node.add_kernel(KernelNode {
                op: "memfd_create".into(),
                detail: fold_path(name),
            }),
            EventKind::IoUringSetup { .. } => node.add_kernel(KernelNode {
                op: "io_uring_setup".into(),
                detail: String::new(),
            }),
        }
    }

    /// Every node with its key, parents before children.
    pub fn nodes(&self) -> Vec<FlatNode> {
        let mut out = Vec::new();
        for root in &self.roots {
            let key = NodeKey::root(NodeKind::Process, &root.path);
            flatten(root, key, &mut out);
        }
        out
    }

    /// Number of nodes (processes and their activity).
    pub fn node_count(&self) -> usize {
        self.nodes().len()
    }
}

/// One node of a tree as [`ActivityTree::visit`] shows it: borrowed, so a walk over a large
/// tree allocates nothing per node. The same nodes, keys and order as [`ActivityTree::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRef<'a> {
    pub key: &'a str,
    /// The parent's key (`key` up to its last `|`); None for a root process.
    pub parent: Option<&'a str>,
    pub kind: NodeKind,
    pub label: &'a str,
    /// Number of `|` in the key.
    pub depth: usize,
    /// File access kinds (files only; empty otherwise).
    pub access: Access,
    /// Sample argv (processes only).
    pub args: &'a [String],
}

impl ActivityTree {
    /// Call `f` on every node, parents before children, in the order of [`Self::nodes`].
    pub fn visit(&self, mut f: impl FnMut(&NodeRef<'_>)) {
        let mut key = String::new();
        let mut label = String::new();
        for root in &self.roots {
            visit_process(root, 0, &mut key, &mut label, &mut f);
        }
    }
}

/// Append the key segment of a node (`f:/etc/passwd`, `|` escaped) to `key`.
fn push_segment(key: &mut String, kind: NodeKind, label: &str) {
    key.push(kind.tag());
    key.push(':');
    let mut rest = label;
    while let Some(i) = rest.find('|') {
        key.push_str(&rest[..i]);
        key.push_str("%7C");
        rest = &rest[i + 1..];
    }
    key.push_str(rest);
}

fn visit_process(
    p: &ProcessNode,
    depth: usize,
    key: &mut String,
    label: &mut String,
    f: &mut impl FnMut(&NodeRef<'_>),
) {
    use std::fmt::Write;
    let parent_len = key.len();
    if depth > 0 {
        key.push('|');
    }
    push_segment(key, NodeKind::Process, &p.path);
    f(&NodeRef {
        key,
        parent: (depth > 0).then(|| &key[..parent_len]),
        kind: NodeKind::Process,
        label: &p.path,
        depth,
        access: Access::default(),
        args: &p.args,
    });
    let here = key.len();
    let mut leaf = |key: &mut String, kind: NodeKind, label: &str, access: Access| {
        key.push('|');
        push_segment(key, kind, label);
        f(&NodeRef {
            key,
            parent: Some(&key[..here]),
            kind,
            label,
            depth: depth + 1,
            access,
            args: &[],
        });
        key.truncate(here);
    };
    for file in &p.files {
        leaf(key, NodeKind::File, &file.path, file.access);
    }
    for d in &p.dns {
        label.clear();
        let _ = write!(label, "{} {}", d.name, d.qtype);
        leaf(key, NodeKind::Dns, label, Access::default());
    }
    for n in &p.net {
        label.clear();
        let _ = write!(
            label,
            "{} {}/{} {}",
            n.op,
            n.family,
            n.port,
            n.class.as_str()
        );
        leaf(key, NodeKind::Net, label, Access::default());
    }
    for k in &p.kernel {
        label.clear();
        label.push_str(&k.op);
        if !k.detail.is_empty() {
            label.push(' ');
            label.push_str(&k.detail);
        }
        leaf(key, NodeKind::Kernel, label, Access::default());
    }
    for c in &p.children {
        visit_process(c, depth + 1, key, label, f);
    }
    key.truncate(parent_len);
}

/// Label of a network node as shown and keyed: `connect tcp/5432 private`.
pub fn net_label(n: &NetNode) -> String {
    format!("{} {}/{} {}", n.op, n.family, n.port, n.class.as_str())
}

/// A network node read back from its label (`connect tcp/5432 private`); None when the
/// label is not one [`net_label`] writes.
pub fn parse_net_label(label: &str) -> Option<NetNode> {
    let mut parts = label.split(' ');
    let op = parts.next()?;
    let (family, port) = parts.next()?.split_once('/')?;
    let class = NetClass::parse(parts.next()?)?;
    if parts.next().is_some() || !matches!(op, "connect" | "bind") {
        return None;
    }
    Some(NetNode {
        op: op.to_string(),
        family: family.to_string(),
        port: port.parse().ok()?,
        class,
    })
}

/// Label of a DNS node: `example.com A`.
pub fn dns_label(n: &DnsNode) -> String {
    format!("{} {}", n.name, n.qtype)
}

/// Label of a kernel node: `ptrace request 16`.
pub fn kernel_label(n: &KernelNode) -> String {
    if n.detail.is_empty() {
        n.op.clone()
    } else {
        format!("{} {}", n.op, n.detail)
    }
}

fn flatten(p: &ProcessNode, key: NodeKey, out: &mut Vec<FlatNode>) {
    out.push(FlatNode {
        key: key.clone(),
        kind: NodeKind::Process,
        label: p.path.clone(),
        access: Access::default(),
        args: p.args.clone(),
    });
    let leaf = |kind: NodeKind, label: String, access: Access| FlatNode {
        key: key.child(kind, &label),
        kind,
        label,
        access,
        args: Vec::new(),
    };
    for f in &p.files {
        out.push(leaf(NodeKind::File, f.path.clone(), f.access));
    }
    for d in &p.dns {
        out.push(leaf(NodeKind::Dns, dns_label(d), Access::default()));
    }
    for n in &p.net {
        out.push(leaf(NodeKind::Net, net_label(n), Access::default()));
    }
    for k in &p.kernel {
        out.push(leaf(NodeKind::Kernel, kernel_label(k), Access::default()));
    }
    for c in &p.children {
        flatten(c, key.child(NodeKind::Process, &c.path), out);
    }
}

/// Access kinds as a list of names in JSON (`["read","write"]`).
mod access_names {
    use crate::event::Access;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Access, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(a.name_iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Access, D::Error> {
        // Names are matched as they are read (no string kept per name, a file node per
        // tree line); an unknown one is reported after the list, where it always was.
        let names = Vec::<Name>::deserialize(d)?;
        names
            .into_iter()
            .try_fold(Access::default(), |acc, n| match n {
                Name::Known(a) => Ok(acc.union(a)),
                Name::Unknown(n) => Err(D::Error::custom(format!("unknown access kind `{n}`"))),
            })
    }

    enum Name {
        Known(Access),
        Unknown(String),
    }

    impl<'de> Deserialize<'de> for Name {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Name;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_str<E: Error>(self, v: &str) -> Result<Name, E> {
                    Ok(Access::from_name(v)
                        .map_or_else(|| Name::Unknown(v.to_string()), Name::Known))
                }
            }
            d.deserialize_str(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ContainerRef, ProcessInfo};

    pub(crate) fn ev(lineage: &[&str], kind: EventKind) -> Event {
        let (last, anc) = lineage.split_last().unwrap();
        Event {
            ts_ms: 0,
            container: ContainerRef {
                id: "c".into(),
                image: "img".into(),
                version: "1".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                pid: 1,
                exec_path: last.to_string(),
                args: vec![last.to_string(), "--password=x".into()],
                uid: 0,
                gid: 0,
                ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            kind,
        }
    }

    #[test]
    fn builds_lineage_and_leaves_with_folded_keys() {
        let mut t = ActivityTree::default();
        t.record(&ev(&["/usr/sbin/nginx"], EventKind::Exec));
        t.record(&ev(
            &["/usr/sbin/nginx", "/bin/sh"],
            EventKind::Open {
                path: "/proc/42/status".into(),
                access: Access::READ,
                errno: 0,
                requested: None,
            },
        ));
        t.record(&ev(
            &["/usr/sbin/nginx", "/bin/sh"],
            EventKind::Open {
                path: "/proc/43/status".into(),
                access: Access::WRITE,
                errno: 0,
                requested: None,
            },
        ));
        t.record(&ev(
            &["/usr/sbin/nginx"],
            EventKind::Connect {
                family: "tcp".into(),
                addr: "10.0.0.5".into(),
                port: 5432,
            },
        ));
        let keys: Vec<String> = t.nodes().into_iter().map(|n| n.key.0).collect();
        assert_eq!(
            keys,
            vec![
                "p:/usr/sbin/nginx",
                "p:/usr/sbin/nginx|n:connect tcp/5432 private",
                "p:/usr/sbin/nginx|p:/bin/sh",
                "p:/usr/sbin/nginx|p:/bin/sh|f:/proc/*/status",
            ]
        );
        let sh = &t.roots[0].children[0];
        assert_eq!(sh.files[0].access, Access::READ.union(Access::WRITE));
        assert_eq!(sh.args, vec!["/bin/sh", "--password=***"]);
    }

    #[test]
    fn visit_gives_the_nodes_of_nodes() {
        let mut t = ActivityTree::default();
        t.record(&ev(&["/init|x"], EventKind::Exec));
        t.record(&ev(
            &["/init|x", "/bin/sh"],
            EventKind::Open {
                path: "/etc/a|b".into(),
                access: Access::READ,
                errno: 0,
                requested: None,
            },
        ));
        t.record(&ev(
            &["/init|x", "/bin/sh"],
            EventKind::Dns {
                name: "example.com".into(),
                qtype: "A".into(),
            },
        ));
        t.record(&ev(
            &["/init|x"],
            EventKind::Connect {
                family: "tcp".into(),
                addr: "10.0.0.5".into(),
                port: 5432,
            },
        ));
        t.record(&ev(&["/init|x"], EventKind::Capset));
        t.record(&ev(&["/init|x"], EventKind::Setuid { uid: 0 }));
        t.record(&ev(&["/other"], EventKind::Exec));
        let mut seen = Vec::new();
        t.visit(|n| {
            seen.push(FlatNode {
                key: NodeKey(n.key.to_string()),
                kind: n.kind,
                label: n.label.to_string(),
                access: n.access,
                args: n.args.to_vec(),
            });
            assert_eq!(
                n.parent.map(str::to_string),
                NodeKey(n.key.to_string()).parent().map(|k| k.0)
            );
            assert_eq!(n.depth, NodeKey(n.key.to_string()).depth());
        });
        assert_eq!(seen, t.nodes());
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn an_unknown_access_kind_is_reported_after_its_list() {
        let j = r#"{"roots":[{"path":"/a","files":[{"path":"/x","access":["read","frob"]}]}]}"#;
        let e = serde_json::from_str::<ActivityTree>(j)
            .unwrap_err()
            .to_string();
        // where the list ends (serde_json reports the character after the `]`)
        let col = j.find(r#""frob"]"#).unwrap() + r#""frob"]"#.len() + 1;
        assert_eq!(
            e,
            format!("unknown access kind `frob` at line 1 column {col}")
        );
        let e = serde_json::from_str::<ActivityTree>(&j.replace(r#""frob""#, "1"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid type: integer `1`, expected a string"),
            "{e}"
        );
    }

    #[test]
    fn node_key_parts() {
        let k = NodeKey::of_lineage(&["/a", "/b|c"])
            .unwrap()
            .child(NodeKind::File, "/etc/x");
        assert_eq!(k.depth(), 2);
        assert_eq!(k.last(), (NodeKind::File, "/etc/x".to_string()));
        assert_eq!(k.lineage(), vec!["/a", "/b|c"]);
        assert_eq!(
            k.parent().unwrap().last(),
            (NodeKind::Process, "/b|c".to_string())
        );
    }

    #[test]
    fn net_labels_read_back_and_keys_describe_themselves() {
        let n = NetNode {
            op: "connect".into(),
            family: "udp6".into(),
            port: 53,
            class: NetClass::LinkLocal,
        };
        assert_eq!(parse_net_label(&net_label(&n)), Some(n));
        assert_eq!(parse_net_label("connect tcp/x public"), None);
        assert_eq!(parse_net_label("connect tcp/80 galaxy"), None);
        assert_eq!(parse_net_label("listen tcp/80 public"), None);
        let k = NodeKey::of_lineage(&["/usr/sbin/nginx", "/bin/sh", "/bin/cat"]).unwrap();
        assert_eq!(k.describe(), "nginx > sh > cat");
        assert_eq!(
            k.child(NodeKind::File, "/etc/shadow").describe(),
            "nginx > sh > cat: file /etc/shadow"
        );
    }

    #[test]
    fn tree_json_round_trip() {
        let mut t = ActivityTree::default();
        t.record(&ev(
            &["/init", "/bin/app"],
            EventKind::Dns {
                name: "Example.COM.".into(),
                qtype: "a".into(),
            },
        ));
        t.record(&ev(
            &["/init"],
            EventKind::Open {
                path: "/etc/hosts".into(),
                access: Access::READ,
                errno: 0,
                requested: None,
            },
        ));
        let j = serde_json::to_string(&t).unwrap();
        assert!(j.contains("\"access\":[\"read\"]"), "{j}");
        assert!(j.contains("example.com"), "{j}");
        let back: ActivityTree = serde_json::from_str(&j).unwrap();
        assert_eq!(back, t);
    }
}
