//! Event fields a rule can name, their types, the event kinds that carry them, and how
//! their values are read from an [`Event`].

use super::expr::Scalar;
use crate::event::{base_name, errno_name, Access, Event, EventKind, NetClass};
use std::borrow::Cow;
use std::fmt;

/// Stable names of the event kinds, in [`KindSet`] bit order.
pub const KIND_NAMES: [&str; 21] = [
    "exec",
    "fork",
    "exit",
    "open",
    "unlink",
    "rename",
    "chmod",
    "chown",
    "mkdir",
    "dns",
    "connect",
    "bind",
    "ptrace",
    "load_module",
    "bpf",
    "mount",
    "setuid",
    "setgid",
    "capset",
    "memfd_create",
    "io_uring_setup",
];

/// Position of an event kind in [`KIND_NAMES`].
pub fn kind_index(kind: &EventKind) -> usize {
    match kind {
        EventKind::Exec => 0,
        EventKind::Fork { .. } => 1,
        EventKind::Exit { .. } => 2,
        EventKind::Open { .. } => 3,
        EventKind::Unlink { .. } => 4,
        EventKind::Rename { .. } => 5,
        EventKind::Chmod { .. } => 6,
        EventKind::Chown { .. } => 7,
        EventKind::Mkdir { .. } => 8,
        EventKind::Dns { .. } => 9,
        EventKind::Connect { .. } => 10,
        EventKind::Bind { .. } => 11,
        EventKind::Ptrace { .. } => 12,
        EventKind::ModuleLoad { .. } => 13,
        EventKind::Bpf { .. } => 14,
        EventKind::Mount { .. } => 15,
        EventKind::Setuid { .. } => 16,
        EventKind::Setgid { .. } => 17,
        EventKind::Capset => 18,
        EventKind::MemfdCreate { .. } => 19,
        EventKind::IoUringSetup { .. } => 20,
    }
}

/// A set of event kinds (the kinds an expression can possibly match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindSet(u32);

impl KindSet {
    pub const NONE: KindSet = KindSet(0);
    pub const ALL: KindSet = KindSet((1 << KIND_NAMES.len()) - 1);

    /// The set holding one kind, by its stable name.
    pub fn of_name(name: &str) -> Option<KindSet> {
        KIND_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| KindSet(1 << i))
    }
    pub fn of_event(kind: &EventKind) -> KindSet {
        KindSet(1 << kind_index(kind))
    }
    pub fn union(self, other: KindSet) -> KindSet {
        KindSet(self.0 | other.0)
    }
    pub fn intersection(self, other: KindSet) -> KindSet {
        KindSet(self.0 & other.0)
    }
    pub fn contains(self, kind: &EventKind) -> bool {
        self.0 & (1 << kind_index(kind)) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Names of the kinds in the set, in [`KIND_NAMES`] order.
    pub fn names(self) -> Vec<&'static str> {
        KIND_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}

/// The type of a field, which decides the operators it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Str,
    Int,
    Bool,
    /// A list of strings: comparisons hold when any element matches.
    StrList,
    /// An argv: `==`, `in` and `"x" in` work on the elements, `~`, `=~` and `contains`
    /// on the command line joined with single spaces.
    Args,
}

impl FieldType {
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Str => "a string",
            FieldType::Int => "an integer",
            FieldType::Bool => "a boolean",
            FieldType::StrList => "a list of strings",
            FieldType::Args => "an argument list",
        }
    }
    pub fn is_list(self) -> bool {
        matches!(self, FieldType::StrList | FieldType::Args)
    }
}

macro_rules! fields {
    ($( $variant:ident = $name:literal : $ty:ident, [$($kind:literal),*] ; )*) => {
        /// A field of an event that rules can test.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Field {
            $( $variant, )*
        }

        impl Field {
            /// Every field, in documentation order.
            pub const ALL: &'static [Field] = &[ $( Field::$variant, )* ];

            /// The dotted name used in expressions.
            pub fn name(self) -> &'static str {
                match self { $( Field::$variant => $name, )* }
            }

            pub fn ty(self) -> FieldType {
                match self { $( Field::$variant => FieldType::$ty, )* }
            }

            /// The event kinds that carry this field (all kinds if the list is empty).
            pub fn kinds(self) -> KindSet {
                match self {
                    $( Field::$variant => {
                        let names: &[&str] = &[$($kind),*];
                        if names.is_empty() {
                            KindSet::ALL
                        } else {
                            names.iter().fold(KindSet::NONE, |s, n| {
                                s.union(KindSet::of_name(n).expect("known kind"))
                            })
                        }
                    } )*
                }
            }
        }
    };
}

fields! {
    ExecFilePath = "exec.file.path": Str, ["exec"];
    ExecFileName = "exec.file.name": Str, ["exec"];
    ExecArgs = "exec.args": Args, ["exec"];
    ExecFileless = "exec.fileless": Bool, ["exec"];
    ExecInterpreterPath = "exec.interpreter.path": Str, ["exec"];
    ProcessFilePath = "process.file.path": Str, [];
    ProcessFileName = "process.file.name": Str, [];
    ProcessArgs = "process.args": Args, [];
    ProcessFileless = "process.fileless": Bool, [];
    ProcessParentFilePath = "process.parent.file.path": Str, [];
    ProcessParentFileName = "process.parent.file.name": Str, [];
    ProcessAncestorsFileName = "process.ancestors.file.name": StrList, [];
    ProcessAncestorsFilePath = "process.ancestors.file.path": StrList, [];
    ProcessUser = "process.user": Str, [];
    ProcessUid = "process.uid": Int, [];
    ProcessGid = "process.gid": Int, [];
    ProcessPid = "process.pid": Int, [];
    OpenFilePath = "open.file.path": Str, ["open"];
    OpenFileName = "open.file.name": Str, ["open"];
    OpenFileRequestedPath = "open.file.requested_path": Str, ["open"];
    OpenFlags = "open.flags": StrList, ["open"];
    OpenRetval = "open.retval": Int, ["open"];
    OpenError = "open.error": Str, ["open"];
    UnlinkFilePath = "unlink.file.path": Str, ["unlink"];
    UnlinkFileName = "unlink.file.name": Str, ["unlink"];
    RenameFilePath = "rename.file.path": Str, ["rename"];
    RenameFileDestinationPath = "rename.file.destination.path": Str, ["rename"];
    ChmodFilePath = "chmod.file.path": Str, ["chmod"];
    ChmodFileMode = "chmod.file.mode": Int, ["chmod"];
    ChmodFileSetuid = "chmod.file.setuid": Bool, ["chmod"];
    ChmodFileSetgid = "chmod.file.setgid": Bool, ["chmod"];
    ChmodFileExecutable = "chmod.file.executable": Bool, ["chmod"];
    ChownFilePath = "chown.file.path": Str, ["chown"];
    ChownFileUid = "chown.file.uid": Int, ["chown"];
    ChownFileGid = "chown.file.gid": Int, ["chown"];
    MkdirFilePath = "mkdir.file.path": Str, ["mkdir"];
    DnsQuestionName = "dns.question.name": Str, ["dns"];
    DnsQuestionType = "dns.question.type": Str, ["dns"];
    ConnectAddrIp = "connect.addr.ip": Str, ["connect"];
    ConnectAddrPort = "connect.addr.port": Int, ["connect"];
    ConnectAddrFamily = "connect.addr.family": Str, ["connect"];
    ConnectAddrClass = "connect.addr.class": Str, ["connect"];
    BindAddrIp = "bind.addr.ip": Str, ["bind"];
    BindAddrPort = "bind.addr.port": Int, ["bind"];
    BindAddrFamily = "bind.addr.family": Str, ["bind"];
    PtraceRequest = "ptrace.request": Int, ["ptrace"];
    LoadModuleName = "load_module.name": Str, ["load_module"];
    BpfCmd = "bpf.cmd": Int, ["bpf"];
    MountSourcePath = "mount.source.path": Str, ["mount"];
    MountMountpointPath = "mount.mountpoint.path": Str, ["mount"];
    MountFsType = "mount.fs_type": Str, ["mount"];
    SetuidUid = "setuid.uid": Int, ["setuid"];
    SetgidGid = "setgid.gid": Int, ["setgid"];
    MemfdCreateName = "memfd_create.name": Str, ["memfd_create"];
    IoUringSetupEntries = "io_uring_setup.entries": Int, ["io_uring_setup"];
    EventKindName = "event.kind": Str, [];
    ContainerId = "container.id": Str, [];
    ContainerImageName = "container.image.name": Str, [];
    ContainerImageVersion = "container.image.version": Str, [];
    ContainerTags = "container.tags": StrList, [];
}

impl Field {
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The value of this field in `ev`, or `None` when the event does not carry it.
    pub fn value(self, ev: &Event) -> Option<Value<'_>> {
        use EventKind as K;
        let p = &ev.process;
        fn s(x: &str) -> Option<Value<'_>> {
            Some(Value::Str(Cow::Borrowed(x)))
        }
        let i = |x: i64| Some(Value::Int(x));
        let exec = matches!(ev.kind, K::Exec);
        match (self, &ev.kind) {
            (Field::ExecFilePath, _) if exec => s(&p.exec_path),
            (Field::ExecFileName, _) if exec => s(p.file_name()),
            (Field::ExecArgs, _) if exec => Some(Value::Args(&p.args)),
            (Field::ExecFileless, _) if exec => Some(Value::Bool(p.fileless)),
            (Field::ExecInterpreterPath, _) if exec => p.interpreter.as_deref().and_then(s),
            (
                Field::ExecFilePath
                | Field::ExecFileName
                | Field::ExecArgs
                | Field::ExecFileless
                | Field::ExecInterpreterPath,
                _,
            ) => None,
            (Field::ProcessFileless, _) => Some(Value::Bool(p.fileless)),
            (Field::ProcessFilePath, _) => s(&p.exec_path),
            (Field::ProcessFileName, _) => s(p.file_name()),
            (Field::ProcessArgs, _) => Some(Value::Args(&p.args)),
            (Field::ProcessParentFilePath, _) => p.ancestors.first().and_then(|a| s(a)),
            (Field::ProcessParentFileName, _) => p.ancestors.first().and_then(|a| s(base_name(a))),
            (Field::ProcessAncestorsFileName, _) => Some(Value::Names(&p.ancestors)),
            (Field::ProcessAncestorsFilePath, _) => Some(Value::Paths(&p.ancestors)),
            (Field::ProcessUser, _) => Some(Value::Str(user_name(p.uid))),
            (Field::ProcessUid, _) => i(p.uid.into()),
            (Field::ProcessGid, _) => i(p.gid.into()),
            (Field::ProcessPid, _) => i(p.pid.into()),
            (Field::OpenFilePath, K::Open { path, .. }) => s(path),
            (Field::OpenFileName, K::Open { path, .. }) => s(base_name(path)),
            // The caller's path where it differs from the kernel's, else the same path.
            (
                Field::OpenFileRequestedPath,
                K::Open {
                    path, requested, ..
                },
            ) => s(requested.as_deref().unwrap_or(path)),
            (Field::OpenFlags, K::Open { access, .. }) => Some(Value::Flags(*access)),
            (Field::OpenRetval, K::Open { errno, .. }) => i(-i64::from(*errno)),
            (Field::OpenError, K::Open { errno, .. }) => Some(Value::Str(if *errno == 0 {
                Cow::Borrowed("")
            } else {
                errno_name(*errno)
            })),
            (Field::UnlinkFilePath, K::Unlink { path }) => s(path),
            (Field::UnlinkFileName, K::Unlink { path }) => s(base_name(path)),
            (Field::RenameFilePath, K::Rename { from, .. }) => s(from),
            (Field::RenameFileDestinationPath, K::Rename { to, .. }) => s(to),
            (Field::ChmodFilePath, K::Chmod { path, .. }) => s(path),
            (Field::ChmodFileMode, K::Chmod { mode, .. }) => i((*mode).into()),
            (Field::ChmodFileSetuid, K::Chmod { mode, .. }) => {
                Some(Value::Bool(mode & 0o4000 != 0))
            }
            (Field::ChmodFileSetgid, K::Chmod { mode, .. }) => {
                Some(Value::Bool(mode & 0o2000 != 0))
            }
            (Field::ChmodFileExecutable, K::Chmod { mode, .. }) => {
                Some(Value::Bool(mode & 0o111 != 0))
            }
            (Field::ChownFilePath, K::Chown { path, .. }) => s(path),
            (Field::ChownFileUid, K::Chown { uid, .. }) => i((*uid).into()),
            (Field::ChownFileGid, K::Chown { gid, .. }) => i((*gid).into()),
            (Field::MkdirFilePath, K::Mkdir { path }) => s(path),
            (Field::DnsQuestionName, K::Dns { name, .. }) => s(name),
            (Field::DnsQuestionType, K::Dns { qtype, .. }) => s(qtype),
            (Field::ConnectAddrIp, K::Connect { addr, .. }) => s(addr),
            (Field::ConnectAddrPort, K::Connect { port, .. }) => i((*port).into()),
            (Field::ConnectAddrFamily, K::Connect { family, .. }) => s(family),
            (Field::ConnectAddrClass, K::Connect { addr, .. }) => {
                s(NetClass::of_addr(addr).as_str())
            }
            (Field::BindAddrIp, K::Bind { addr, .. }) => s(addr),
            (Field::BindAddrPort, K::Bind { port, .. }) => i((*port).into()),
            (Field::BindAddrFamily, K::Bind { family, .. }) => s(family),
            (Field::PtraceRequest, K::Ptrace { request, .. }) => i((*request).into()),
            (Field::LoadModuleName, K::ModuleLoad { name }) => s(name),
            (Field::BpfCmd, K::Bpf { cmd }) => i((*cmd).into()),
            (Field::MountSourcePath, K::Mount { source, .. }) => s(source),
            (Field::MountMountpointPath, K::Mount { target, .. }) => s(target),
            (Field::MountFsType, K::Mount { fstype, .. }) => s(fstype),
            (Field::SetuidUid, K::Setuid { uid }) => i((*uid).into()),
            (Field::SetgidGid, K::Setgid { gid }) => i((*gid).into()),
            (Field::MemfdCreateName, K::MemfdCreate { name }) => s(name),
            (Field::IoUringSetupEntries, K::IoUringSetup { entries }) => i((*entries).into()),
            (Field::EventKindName, k) => s(k.name()),
            (Field::ContainerId, _) => s(&ev.container.id),
            (Field::ContainerImageName, _) => s(&ev.container.image),
            (Field::ContainerImageVersion, _) => s(&ev.container.version),
            (Field::ContainerTags, _) => Some(Value::Tags(&ev.container.tags)),
            _ => None,
        }
    }

    /// The closest field name to `name`, if one is close enough to be a likely typo.
    pub fn suggest(name: &str) -> Option<&'static str> {
        closest(name, Field::ALL.iter().map(|f| f.name()))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `process.user`: events carry the uid only, so uid 0 reads `root` and any other uid
/// reads as its number.
fn user_name(uid: u32) -> Cow<'static, str> {
    if uid == 0 {
        Cow::Borrowed("root")
    } else {
        Cow::Owned(uid.to_string())
    }
}

/// The value of a field in one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    /// Ancestor exec paths.
    Paths(&'a [String]),
    /// Base names of ancestor exec paths.
    Names(&'a [String]),
    Args(&'a [String]),
    Flags(Access),
    /// `key:value` container tags: `contains` tests for a whole tag, not a substring.
    Tags(&'a [String]),
}

impl Value<'_> {
    /// Whether any element of a list value (or a string value itself) satisfies `pred`.
    pub fn any_str(&self, mut pred: impl FnMut(&str) -> bool) -> bool {
        match self {
            Value::Str(s) => pred(s),
            Value::Paths(l) | Value::Args(l) | Value::Tags(l) => l.iter().any(|x| pred(x)),
            Value::Names(l) => l.iter().any(|x| pred(base_name(x))),
            Value::Flags(a) => a.names().into_iter().any(pred),
            Value::Int(_) | Value::Bool(_) => false,
        }
    }

    /// Exact, ordered equality of a list value with `items` (which must all be strings).
    pub fn list_eq(&self, items: &[Scalar]) -> bool {
        fn same<'x>(mut elems: impl ExactSizeIterator<Item = &'x str>, items: &[Scalar]) -> bool {
            elems.len() == items.len()
                && items
                    .iter()
                    .all(|i| matches!((i, elems.next()), (Scalar::Str(a), Some(b)) if a == b))
        }
        match self {
            Value::Paths(l) | Value::Args(l) | Value::Tags(l) => {
                same(l.iter().map(String::as_str), items)
            }
            Value::Names(l) => same(l.iter().map(|p| base_name(p)), items),
            Value::Flags(a) => same(a.names().into_iter(), items),
            Value::Str(_) | Value::Int(_) | Value::Bool(_) => false,
        }
    }

    /// The text pattern operators work on: a string, or an argv joined with spaces.
    /// `None` for list values, which are matched element by element.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Args(l) => Some(Cow::Owned(l.join(" "))),
            _ => None,
        }
    }
}

/// The candidate closest to `name` by edit distance, if within a third of its length.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of adjacent
/// characters (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_unique_and_resolve() {
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(*f));
        }
        assert_eq!(Field::from_name("exec.file.nam"), None);
    }

    #[test]
    fn suggestions_find_typos_only() {
        assert_eq!(Field::suggest("exec.file.nmae"), Some("exec.file.name"));
        assert_eq!(
            Field::suggest("dns.question.nme"),
            Some("dns.question.name")
        );
        assert_eq!(Field::suggest("totally.different"), None);
        assert_eq!(edit_distance("exce", "exec"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn kind_names_match_event_kind_names() {
        let k = EventKind::MemfdCreate { name: "x".into() };
        assert_eq!(KIND_NAMES[kind_index(&k)], k.name());
        let k = EventKind::ModuleLoad { name: "x".into() };
        assert_eq!(KIND_NAMES[kind_index(&k)], k.name());
        assert_eq!(KindSet::ALL.names().len(), KIND_NAMES.len());
    }
}
