//! One thing a workload did, as seen by capture (live) or replayed (demo).
//!
//! Events are the input of both the activity-tree builder ([`crate::tree`]) and the
//! detection rules. Paths and arguments are raw here; folding and scrubbing happen when an
//! event is recorded into a tree or turned into a signal.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The container an event came from, resolved to its image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct ContainerRef {
    /// Full container id (64 hex for docker/podman/containerd).
    pub id: String,
    /// Image name without registry noise, e.g. `nginx` or `demo/web`.
    pub image: String,
    /// Image version: the tag, or the digest where there is no tag.
    pub version: String,
    /// `key:value` tags, sorted: `host:`, `container:` (its name), `pod:`, `namespace:` and
    /// the runtime's other labels. Absent in files written before tags existed.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Digest of the image the container runs (`sha256:..`), empty when unknown.
    #[serde(default)]
    pub digest: String,
}

/// Tag keys the kubelet's labels map to (`io.kubernetes.pod.namespace` -> `namespace`, ...).
pub const TAG_HOST: &str = "host";
pub const TAG_CONTAINER: &str = "container";
pub const TAG_POD: &str = "pod";
pub const TAG_NAMESPACE: &str = "namespace";

impl ContainerRef {
    /// The value of tag `key` (`namespace` -> `payments`), if tagged.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find_map(|t| t.split_once(':').filter(|(k, _)| *k == key).map(|(_, v)| v))
    }

    /// Set tag `key` to `value` (replacing an earlier value), keeping tags sorted.
    pub fn set_tag(&mut self, key: &str, value: &str) {
        self.tags
            .retain(|t| t.split_once(':').map(|(k, _)| k) != Some(key));
        self.tags.push(format!("{key}:{value}"));
        self.tags.sort();
    }
}

/// The process that did something, with its exec lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Path of the executable this process runs (after its last exec).
    pub exec_path: String,
    /// argv, scrubbed of secrets before anything is stored or shown.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    /// Exec paths of the ancestors inside the container, nearest (parent) first.
    #[serde(default)]
    pub ancestors: Vec<String>,
    /// The kernel marked the executed file as having no link left (`i_nlink == 0`): a
    /// memfd or a deleted file. Set from the kernel, not from the path's text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fileless: bool,
    /// For a `#!` script (`exec_path`), the interpreter the kernel ran for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
}

impl ProcessInfo {
    /// Base name of the executable (`/usr/sbin/nginx` -> `nginx`).
    pub fn file_name(&self) -> &str {
        base_name(&self.exec_path)
    }

    /// The lineage from the container's root process down to this one (root first).
    pub fn lineage(&self) -> Vec<&str> {
        let mut l: Vec<&str> = self.ancestors.iter().rev().map(String::as_str).collect();
        l.push(&self.exec_path);
        l
    }
}

/// Base name of a path.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// File access kinds, as a bit set (stable bit values: they are stored).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, PartialOrd, Ord,
)]
#[serde(transparent)]
pub struct Access(pub u16);

impl Access {
    pub const READ: Access = Access(1);
    pub const WRITE: Access = Access(1 << 1);
    pub const CREATE: Access = Access(1 << 2);
    pub const TRUNCATE: Access = Access(1 << 3);
    pub const UNLINK: Access = Access(1 << 4);
    pub const RENAME: Access = Access(1 << 5);
    pub const CHMOD: Access = Access(1 << 6);
    pub const CHOWN: Access = Access(1 << 7);
    pub const EXEC: Access = Access(1 << 8);
    pub const MKDIR: Access = Access(1 << 9);
    /// The open was attempted and failed (the other bits are what was asked for).
    pub const FAILED: Access = Access(1 << 10);

    const NAMES: [(Access, &'static str); 11] = [
        (Access::READ, "read"),
        (Access::WRITE, "write"),
        (Access::CREATE, "create"),
        (Access::TRUNCATE, "truncate"),
        (Access::UNLINK, "unlink"),
        (Access::RENAME, "rename"),
        (Access::CHMOD, "chmod"),
        (Access::CHOWN, "chown"),
        (Access::EXEC, "exec"),
        (Access::MKDIR, "mkdir"),
        (Access::FAILED, "failed"),
    ];

    pub fn union(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }
    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Names of the kinds set, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        self.name_iter().collect()
    }
    /// [`Self::names`] without a vector.
    pub fn name_iter(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .filter(move |(a, _)| self.contains(*a))
            .map(|(_, n)| *n)
    }
    /// Parse one kind name (`read`, `write`, ...).
    pub fn from_name(name: &str) -> Option<Access> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// Class of a remote address: profiles key on the class, not the address, so the same
/// behaviour has the same key across containers with different peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetClass {
    Loopback,
    Private,
    LinkLocal,
    Public,
    Unspecified,
    Unix,
}

impl NetClass {
    pub fn as_str(self) -> &'static str {
        match self {
            NetClass::Loopback => "loopback",
            NetClass::Private => "private",
            NetClass::LinkLocal => "link-local",
            NetClass::Public => "public",
            NetClass::Unspecified => "any",
            NetClass::Unix => "unix",
        }
    }

    /// The class named by [`NetClass::as_str`].
    pub fn parse(s: &str) -> Option<NetClass> {
        [
            NetClass::Loopback,
            NetClass::Private,
            NetClass::LinkLocal,
            NetClass::Public,
            NetClass::Unspecified,
            NetClass::Unix,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Classify an IPv4 or IPv6 address given as text.
    pub fn of_addr(addr: &str) -> NetClass {
        use std::net::IpAddr;
        match addr.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => {
                if a.is_loopback() {
                    NetClass::Loopback
                } else if a.is_unspecified() {
                    NetClass::Unspecified
                } else if a.is_private() || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64 {
                    NetClass::Private
                } else if a.is_link_local() {
                    NetClass::LinkLocal
                } else {
                    NetClass::Public
                }
            }
            Ok(IpAddr::V6(a)) => {
                if a.is_loopback() {
                    NetClass::Loopback
                } else if a.is_unspecified() {
                    NetClass::Unspecified
                } else if let Some(v4) = a.to_ipv4_mapped() {
                    NetClass::of_addr(&v4.to_string())
                } else if (a.segments()[0] & 0xfe00) == 0xfc00 {
                    NetClass::Private
                } else if (a.segments()[0] & 0xffc0) == 0xfe80 {
                    NetClass::LinkLocal
                } else {
                    NetClass::Public
                }
            }
            Err(_) => NetClass::Unix,
        }
    }
}

/// The lineage root put above a process that entered a running container from outside
/// (`podman exec`, `docker exec`, `kubectl exec`): an interactive session, which groups
/// everything it does under one node of the tree.
pub const EXEC_SESSION: &str = "[exec session]";

/// What happened. Kind names (`kind()`) are stable: rules and the store use them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The process (see [`Event::process`]) was exec'd.
    Exec,
    Fork {
        child_pid: u32,
    },
    Exit {
        code: i32,
    },
    Open {
        path: String,
        access: Access,
        /// 0: the kernel opened the file. Otherwise the errno of a failed attempt (sent for
        /// permission errors anywhere and for missing files under sensitive directories):
        /// an attempt is evidence too, and rules match it (`open.retval`, `open.error`).
        #[serde(default, skip_serializing_if = "is_zero")]
        errno: u16,
        /// The path as the caller passed it, kept when it differs from `path`, the kernel's
        /// path of the file it opened (a symlink, a relative path, `..`, a buffer rewritten
        /// by another thread). Rules see it as `open.file.requested_path`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requested: Option<String>,
    },
    Unlink {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Chmod {
        path: String,
        mode: u32,
    },
    Chown {
        path: String,
        uid: u32,
        gid: u32,
    },
    Mkdir {
        path: String,
    },
    Dns {
        name: String,
        qtype: String,
    },
    Connect {
        family: String,
        addr: String,
        port: u16,
    },
    Bind {
        family: String,
        addr: String,
        port: u16,
    },
    Ptrace {
        request: u32,
        target_pid: u32,
    },
    ModuleLoad {
        name: String,
    },
    Bpf {
        cmd: u32,
    },
    Mount {
        source: String,
        target: String,
        fstype: String,
    },
    Setuid {
        uid: u32,
    },
    Setgid {
        gid: u32,
    },
    Capset,
    MemfdCreate {
        name: String,
    },
    /// io_uring_setup(2): a ring whose submissions (opens, connects, reads) bypass the
    /// syscall tracepoints.
    IoUringSetup {
        entries: u32,
    },
}

impl EventKind {
    /// Stable name of the event kind (used by rules: `exec`, `open`, `dns`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Exec => "exec",
            EventKind::Fork { .. } => "fork",
            EventKind::Exit { .. } => "exit",
            EventKind::Open { .. } => "open",
            EventKind::Unlink { .. } => "unlink",
            EventKind::Rename { .. } => "rename",
            EventKind::Chmod { .. } => "chmod",
            EventKind::Chown { .. } => "chown",
            EventKind::Mkdir { .. } => "mkdir",
            EventKind::Dns { .. } => "dns",
            EventKind::Connect { .. } => "connect",
            EventKind::Bind { .. } => "bind",
            EventKind::Ptrace { .. } => "ptrace",
            EventKind::ModuleLoad { .. } => "load_module",
            EventKind::Bpf { .. } => "bpf",
            EventKind::Mount { .. } => "mount",
            EventKind::Setuid { .. } => "setuid",
            EventKind::Setgid { .. } => "setgid",
            EventKind::Capset => "capset",
            EventKind::MemfdCreate { .. } => "memfd_create",
            EventKind::IoUringSetup { .. } => "io_uring_setup",
        }
    }
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// The symbolic name of an errno a failed open reports (`EACCES`), or its number.
pub fn errno_name(errno: u16) -> Cow<'static, str> {
    Cow::Borrowed(match errno {
        1 => "EPERM",
        2 => "ENOENT",
        13 => "EACCES",
        20 => "ENOTDIR",
        21 => "EISDIR",
        30 => "EROFS",
        40 => "ELOOP",
        _ => return Cow::Owned(format!("errno {errno}")),
    })
}

/// One event of one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix time in milliseconds.
    pub ts_ms: i64,
    pub container: ContainerRef,
    pub process: ProcessInfo,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// Short human text of what happened (`exec /bin/sh`, `open /etc/shadow (read)`).
    pub fn summary(&self) -> String {
        match &self.kind {
            EventKind::Exec => format!("exec {}", self.process.exec_path),
            EventKind::Fork { child_pid } => format!("fork -> {child_pid}"),
            EventKind::Exit { code } => format!("exit {code}"),
            EventKind::Open {
                path,
                access,
                errno,
                requested,
            } => {
                let mut s = format!("open {path} ({access})");
                if let Some(r) = requested {
                    s.push_str(&format!(" requested as {r}"));
                }
                if *errno != 0 {
                    s.push_str(&format!(" failed: {}", errno_name(*errno)));
                }
                s
            }
            EventKind::Unlink { path } => format!("unlink {path}"),
            EventKind::Rename { from, to } => format!("rename {from} -> {to}"),
            EventKind::Chmod { path, mode } => format!("chmod {path} {mode:o}"),
            EventKind::Chown { path, uid, gid } => format!("chown {path} {uid}:{gid}"),
            EventKind::Mkdir { path } => format!("mkdir {path}"),
            EventKind::Dns { name, qtype } => format!("dns {name} {qtype}"),
            EventKind::Connect { addr, port, .. } => format!("connect {addr}:{port}"),
            EventKind::Bind { addr, port, .. } => format!("bind {addr}:{port}"),
            EventKind::Ptrace {
                request,
                target_pid,
            } => {
                format!("ptrace request {request} pid {target_pid}")
            }
            EventKind::ModuleLoad { name } => format!("load module {name}"),
            EventKind::Bpf { cmd } => format!("bpf cmd {cmd}"),
            EventKind::Mount {
                source,
                target,
                fstype,
            } => {
                format!("mount {source} on {target} ({fstype})")
            }
            EventKind::Setuid { uid } => format!("setuid {uid}"),
            EventKind::Setgid { gid } => format!("setgid {gid}"),
            EventKind::Capset => "capset".to_string(),
            EventKind::MemfdCreate { name } => format!("memfd_create {name}"),
            EventKind::IoUringSetup { entries } => format!("io_uring_setup {entries} entries"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_class_of_common_addresses() {
        assert_eq!(NetClass::of_addr("127.0.0.1"), NetClass::Loopback);
        assert_eq!(NetClass::of_addr("10.1.2.3"), NetClass::Private);
        assert_eq!(NetClass::of_addr("192.168.0.9"), NetClass::Private);
        assert_eq!(NetClass::of_addr("8.8.8.8"), NetClass::Public);
        assert_eq!(NetClass::of_addr("::1"), NetClass::Loopback);
        assert_eq!(NetClass::of_addr("fd00::1"), NetClass::Private);
        assert_eq!(NetClass::of_addr("::ffff:10.0.0.1"), NetClass::Private);
        assert_eq!(NetClass::of_addr("0.0.0.0"), NetClass::Unspecified);
        assert_eq!(NetClass::of_addr("/run/x.sock"), NetClass::Unix);
    }

    #[test]
    fn access_names_round_trip() {
        let a = Access::READ.union(Access::WRITE).union(Access::EXEC);
        assert_eq!(a.to_string(), "read,write,exec");
        for n in a.names() {
            assert!(a.contains(Access::from_name(n).unwrap()));
        }
        assert!(!a.contains(Access::UNLINK));
    }

    #[test]
    fn event_json_round_trip_keeps_kind() {
        let e = Event {
            ts_ms: 5,
            container: ContainerRef {
                id: "c1".into(),
                image: "nginx".into(),
                version: "1.25".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                pid: 7,
                exec_path: "/bin/sh".into(),
                args: vec!["sh".into(), "-c".into(), "id".into()],
                ancestors: vec!["/usr/sbin/nginx".into()],
                ..Default::default()
            },
            kind: EventKind::Open {
                path: "/etc/shadow".into(),
                access: Access::READ,
                errno: 0,
                requested: None,
            },
        };
        let j = serde_json::to_string(&e).unwrap();
        assert!(j.contains("\"kind\":\"open\""), "{j}");
        let back: Event = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.process.lineage(), vec!["/usr/sbin/nginx", "/bin/sh"]);
    }
}
