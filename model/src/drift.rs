//! Drift: activity of a container whose profile is Stable that the profile does not hold,
//! kept node by node. Every node of an event's chain that the profile lacks is a novel node
//! (a new process with everything it did is a novel sub-tree); each is ranked by what it is
//! (a new executable, a write to a system path, an outbound connection rank above a new read
//! of a data file) and given a MITRE ATT&CK tactic where one fits. The store aggregates the
//! novel nodes of one container into one drift signal per window.

use crate::event::{base_name, Access, Event, EventKind, NetClass};
use crate::profile::{Profile, ProfileStatus};
use crate::rule::Severity;
use crate::tree::{ActivityTree, NodeKey, NodeKind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Rule id of drift signals.
pub const DRIFT_RULE: &str = "profile-drift";

/// What a novel node is, for severity and for deciding when a drift signal is raised again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftCategory {
    /// A process (executable) the profile never ran at that place in the tree.
    Exec,
    /// A write, create, unlink, rename, chmod/chown or mkdir under a system path.
    SystemWrite,
    /// A connect to a non-local address.
    Outbound,
    /// ptrace, module load, bpf(), mount, setuid/setgid, capset, memfd_create.
    Kernel,
    /// Any other file access.
    File,
    Dns,
    /// A bind, or a connect to a local address.
    Net,
}

impl DriftCategory {
    pub const ALL: [DriftCategory; 7] = [
        DriftCategory::Exec,
        DriftCategory::SystemWrite,
        DriftCategory::Outbound,
        DriftCategory::Kernel,
        DriftCategory::File,
        DriftCategory::Dns,
        DriftCategory::Net,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftCategory::Exec => "exec",
            DriftCategory::SystemWrite => "system_write",
            DriftCategory::Outbound => "outbound",
            DriftCategory::Kernel => "kernel",
            DriftCategory::File => "file",
            DriftCategory::Dns => "dns",
            DriftCategory::Net => "net",
        }
    }

    pub fn parse(s: &str) -> Option<DriftCategory> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Crossing into one of these raises a drift signal again (back to open if decided).
    pub fn matters(self) -> bool {
        matches!(
            self,
            DriftCategory::Exec
                | DriftCategory::SystemWrite
                | DriftCategory::Outbound
                | DriftCategory::Kernel
        )
    }
}

impl fmt::Display for DriftCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node of an event's chain that the Stable profile lacks, ranked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NovelNode {
    pub key: NodeKey,
    pub kind: NodeKind,
    pub label: String,
    /// File access kinds (files only).
    pub access: Access,
    pub category: DriftCategory,
    pub severity: Severity,
    /// MITRE ATT&CK tactic (`TA0007 Discovery`), empty when none fits.
    pub tactic: String,
    /// Why it ranks as it does (`new executable`, `write under /etc`).
    pub why: String,
}

/// MITRE ATT&CK tactics named by drift.
pub mod tactic {
    pub const EXECUTION: &str = "TA0002 Execution";
    pub const PERSISTENCE: &str = "TA0003 Persistence";
    pub const PRIVILEGE_ESCALATION: &str = "TA0004 Privilege Escalation";
    pub const DEFENSE_EVASION: &str = "TA0005 Defense Evasion";
    pub const CREDENTIAL_ACCESS: &str = "TA0006 Credential Access";
    pub const DISCOVERY: &str = "TA0007 Discovery";
    pub const LATERAL_MOVEMENT: &str = "TA0008 Lateral Movement";
    pub const COLLECTION: &str = "TA0009 Collection";
    pub const EXFILTRATION: &str = "TA0010 Exfiltration";
    pub const COMMAND_AND_CONTROL: &str = "TA0011 Command and Control";
}

/// Paths under which a write changes the system (binaries, libraries, configuration,
/// keys, scheduled jobs).
const SYSTEM_PREFIXES: &[&str] = &[
    "/etc/",
    "/usr/",
    "/bin/",
    "/sbin/",
    "/lib/",
    "/lib32/",
    "/lib64/",
    "/libx32/",
    "/boot/",
    "/root/.ssh/",
    "/var/spool/cron/",
];

/// Writes here make something run again later.
const PERSISTENCE_PREFIXES: &[&str] = &[
    "/etc/cron",
    "/var/spool/cron/",
    "/etc/systemd/",
    "/lib/systemd/",
    "/usr/lib/systemd/",
    "/etc/init.d/",
    "/etc/rc",
    "/etc/profile",
    "/etc/bash.bashrc",
    "/etc/ld.so.preload",
    "/root/.bashrc",
    "/root/.profile",
];

/// Reads here are credentials.
fn is_credential(path: &str) -> bool {
    matches!(
        path,
        "/etc/shadow" | "/etc/gshadow" | "/etc/shadow-" | "/etc/gshadow-" | "/etc/sudoers"
    ) || path.contains("/.ssh/id_")
        || path.ends_with("/.ssh/authorized_keys")
        || path.contains("/.aws/credentials")
        || path.contains("/.kube/config")
        || path.contains("/.docker/config.json")
        || path.ends_with(".pem")
        || path.ends_with(".key")
        || path.contains("/secrets/")
}

/// Reads here enumerate the system, its users or its processes.
fn is_discovery(path: &str) -> bool {
    matches!(
        path,
        "/etc/passwd" | "/etc/group" | "/etc/hosts" | "/etc/resolv.conf" | "/etc/os-release"
    ) || (path.starts_with("/proc/*/")
        && ["environ", "cmdline", "maps", "mountinfo"]
            .iter()
            .any(|s| path.ends_with(s)))
}

/// Executables whose first run says what the intruder is doing.
fn exec_tactic(path: &str) -> Option<&'static str> {
    let name = base_name(path);
    Some(match name {
        "id" | "whoami" | "uname" | "hostname" | "ps" | "pgrep" | "netstat" | "ss" | "ip"
        | "ifconfig" | "arp" | "route" | "w" | "who" | "last" | "lsof" | "env" | "printenv"
        | "getent" | "find" | "lscpu" | "lsmod" | "df" | "mount" | "nproc" => tactic::DISCOVERY,
        "curl" | "wget" | "nc" | "ncat" | "socat" | "scp" | "ftp" | "tftp" => {
            tactic::COMMAND_AND_CONTROL
        }
        "tar" | "gzip" | "zip" | "bzip2" | "xz" | "7z" | "base64" => tactic::COLLECTION,
        "crontab" | "systemctl" | "useradd" | "adduser" | "usermod" => tactic::PERSISTENCE,
        "sudo" | "su" | "chroot" | "nsenter" | "unshare" | "setcap" => tactic::PRIVILEGE_ESCALATION,
        "shred" | "history" | "touch" | "chattr" | "kill" | "pkill" => tactic::DEFENSE_EVASION,
        _ => return None,
    })
}

const WRITE_LIKE: [Access; 8] = [
    Access::WRITE,
    Access::CREATE,
    Access::TRUNCATE,
    Access::UNLINK,
    Access::RENAME,
    Access::CHMOD,
    Access::CHOWN,
    Access::MKDIR,
];

/// True when the access changes the file (anything but read and exec).
pub fn is_write(access: Access) -> bool {
    WRITE_LIKE.iter().any(|a| access.contains(*a))
}

/// Paths (folded) an event writes, for remembering what a container wrote in its lifetime.
pub fn written_paths(ev: &Event) -> Vec<String> {
    use crate::fold::fold_path;
    match &ev.kind {
        EventKind::Open { path, access, .. } if is_write(*access) => vec![fold_path(path)],
        EventKind::Rename { to, .. } => vec![fold_path(to)],
        EventKind::Chmod { path, .. } => vec![fold_path(path)],
        _ => Vec::new(),
    }
}

/// Every node of the event's chain that the Stable profile lacks, ranked, parents first.
/// `written` says whether a (folded) path was written earlier in this container's
/// lifetime: exec of such a file is the strongest sign of an intruder.
pub fn novel_nodes(
    ev: &Event,
    profile: &Profile,
    written: &dyn Fn(&str) -> bool,
) -> Vec<NovelNode> {
    if profile.status != ProfileStatus::Stable {
        return Vec::new();
    }
    let mut t = ActivityTree::default();
    t.record(ev);
    t.nodes()
        .into_iter()
        .filter(|n| !profile.nodes.contains_key(&n.key))
        .map(|n| {
            let (category, severity, tactic, why) = rank(n.kind, &n.label, n.access, ev, written);
            NovelNode {
                key: n.key,
                kind: n.kind,
                label: n.label,
                access: n.access,
                category,
                severity,
                tactic: tactic.unwrap_or("").to_string(),
                why,
            }
        })
        .collect()
}

type Rank = (DriftCategory, Severity, Option<&'static str>, String);

fn rank(
    kind: NodeKind,
    label: &str,
    access: Access,
    ev: &Event,
    written: &dyn Fn(&str) -> bool,
) -> Rank {
    use DriftCategory as C;
    use Severity as S;
    match kind {
        NodeKind::Process => {
            if written(label) {
                (
                    C::Exec,
                    S::High,
                    Some(tactic::EXECUTION),
                    "exec of a file written in this container".into(),
                )
            } else {
                (
                    C::Exec,
                    S::High,
                    exec_tactic(label),
                    "new executable".into(),
                )
            }
        }
        NodeKind::File => rank_file(label, access),
        NodeKind::Dns => (C::Dns, S::Low, None, "new DNS name".into()),
        NodeKind::Net => {
            let class = match &ev.kind {
                EventKind::Connect { addr, .. } | EventKind::Bind { addr, .. } => {
                    NetClass::of_addr(addr)
                }
                _ => NetClass::Unspecified,
            };
            match (&ev.kind, class) {
                (EventKind::Connect { .. }, NetClass::Public) => (
                    C::Outbound,
                    S::High,
                    Some(tactic::EXFILTRATION),
                    "new outbound connection to a public address".into(),
                ),
                (EventKind::Connect { .. }, NetClass::LinkLocal) => (
                    C::Outbound,
                    S::High,
                    Some(tactic::CREDENTIAL_ACCESS),
                    "new connection to a link-local address (cloud metadata)".into(),
                ),
                (EventKind::Connect { .. }, NetClass::Private) => (
                    C::Outbound,
                    S::Medium,
                    Some(tactic::LATERAL_MOVEMENT),
                    "new connection to a private address".into(),
                ),
                (EventKind::Bind { .. }, _) => (
                    C::Net,
                    S::Medium,
                    Some(tactic::COMMAND_AND_CONTROL),
                    "new listening socket".into(),
                ),
                _ => (C::Net, S::Low, None, "new local connection".into()),
            }
        }
        NodeKind::Kernel => {
            let op = label.split(' ').next().unwrap_or("");
            let (sev, tac) = match op {
                "ptrace" => (S::High, tactic::PRIVILEGE_ESCALATION),
                "load_module" => (S::High, tactic::PERSISTENCE),
                "bpf" | "memfd_create" | "io_uring_setup" => (S::High, tactic::DEFENSE_EVASION),
                "mount" => (S::High, tactic::PRIVILEGE_ESCALATION),
                _ => (S::Medium, tactic::PRIVILEGE_ESCALATION),
            };
            (
                C::Kernel,
                sev,
                Some(tac),
                format!("new kernel activity: {op}"),
            )
        }
    }
}

fn rank_file(path: &str, access: Access) -> Rank {
    use DriftCategory as C;
    use Severity as S;
    let write = is_write(access);
    if write {
        if PERSISTENCE_PREFIXES.iter().any(|p| path.starts_with(p))
            || path.ends_with("/.ssh/authorized_keys")
        {
            return (
                C::SystemWrite,
                S::High,
                Some(tactic::PERSISTENCE),
                format!("write to {path}: runs again later"),
            );
        }
        if let Some(p) = SYSTEM_PREFIXES.iter().find(|p| path.starts_with(*p)) {
            return (
                C::SystemWrite,
                S::High,
                Some(tactic::DEFENSE_EVASION),
                format!("write under {}", p.trim_end_matches('/')),
            );
        }
        if path.ends_with("_history") {
            return (
                C::File,
                S::Medium,
                Some(tactic::DEFENSE_EVASION),
                "shell history changed".into(),
            );
        }
        return (C::File, S::Low, None, "new write of a data file".into());
    }
    if access.contains(Access::EXEC) {
        return (
            C::File,
            S::Medium,
            Some(tactic::EXECUTION),
            "new exec".into(),
        );
    }
    if is_credential(path) {
        return (
            C::File,
            S::High,
            Some(tactic::CREDENTIAL_ACCESS),
            "read of credentials".into(),
        );
    }
    if is_discovery(path) {
        return (
            C::File,
            S::Medium,
            Some(tactic::DISCOVERY),
            "enumeration of users, processes or the system".into(),
        );
    }
    (C::File, S::Low, None, "new read of a data file".into())
}

/// The queue line of a drift signal: `drift: 37 novel nodes (5 exec, 12 file, 2 net)`.
/// `by_kind` counts novel nodes per node kind.
pub fn drift_summary(by_kind: &[(NodeKind, u64)]) -> String {
    let total: u64 = by_kind.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = [
        (NodeKind::Process, "exec"),
        (NodeKind::File, "file"),
        (NodeKind::Dns, "dns"),
        (NodeKind::Net, "net"),
        (NodeKind::Kernel, "kernel"),
    ]
    .iter()
    .filter_map(|(k, name)| {
        let n: u64 = by_kind.iter().filter(|(x, _)| x == k).map(|(_, n)| n).sum();
        (n > 0).then(|| format!("{n} {name}"))
    })
    .collect();
    format!(
        "drift: {total} novel node{} ({})",
        if total == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ContainerRef, ProcessInfo};
    use crate::profile::LifecycleSettings;
    use crate::snapshot::Snapshot;

    fn ev(lineage: &[&str], kind: EventKind) -> Event {
        let (last, anc) = lineage.split_last().unwrap();
        Event {
            ts_ms: 1,
            container: ContainerRef {
                id: "c".into(),
                image: "web".into(),
                version: "1".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                pid: 3,
                exec_path: last.to_string(),
                args: vec![last.to_string()],
                ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            kind,
        }
    }

    fn open(path: &str, access: Access) -> EventKind {
        EventKind::Open {
            path: path.into(),
            access,
            errno: 0,
            requested: None,
        }
    }

    fn stable() -> Profile {
        let settings = LifecycleSettings {
            stable_after_snapshots: 2,
            stable_after_ms: i64::MAX,
        };
        let mut p = Profile::new("web", "1");
        for i in 0..2 {
            let mut tree = ActivityTree::default();
            tree.record(&ev(
                &["/usr/sbin/nginx"],
                open("/etc/nginx/nginx.conf", Access::READ),
            ));
            tree.record(&ev(&["/usr/sbin/nginx", "/bin/sh"], EventKind::Exec));
            let s = Snapshot {
                id: format!("s{i}"),
                container: ContainerRef {
                    id: format!("c{i}"),
                    image: "web".into(),
                    version: "1".into(),
                    ..Default::default()
                },
                host: String::new(),
                started_ms: 0,
                ended_ms: 0,
                tree,
            };
            let _ = p.merge(&s, &settings);
        }
        assert_eq!(p.status, ProfileStatus::Stable);
        p
    }

    fn never(_: &str) -> bool {
        false
    }

    #[test]
    fn every_missing_node_of_the_chain_is_novel_parents_first() {
        let p = stable();
        let e = ev(
            &["/usr/sbin/nginx", "/bin/sh", "/usr/bin/cat"],
            open("/etc/shadow", Access::READ),
        );
        let n = novel_nodes(&e, &p, &never);
        let keys: Vec<&str> = n.iter().map(|n| n.key.0.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "p:/usr/sbin/nginx|p:/bin/sh|p:/usr/bin/cat",
                "p:/usr/sbin/nginx|p:/bin/sh|p:/usr/bin/cat|f:/etc/shadow",
            ]
        );
        assert_eq!(n[0].category, DriftCategory::Exec);
        assert_eq!(n[0].severity, Severity::High);
        assert_eq!(n[1].severity, Severity::High);
        assert_eq!(n[1].tactic, tactic::CREDENTIAL_ACCESS);
        let known = ev(
            &["/usr/sbin/nginx"],
            open("/etc/nginx/nginx.conf", Access::READ),
        );
        assert!(novel_nodes(&known, &p, &never).is_empty());
    }

    #[test]
    fn severity_from_what_the_node_is() {
        let p = stable();
        let one = |kind: EventKind| {
            let n = novel_nodes(&ev(&["/usr/sbin/nginx"], kind), &p, &never);
            assert_eq!(n.len(), 1, "{n:?}");
            n.into_iter().next().unwrap()
        };
        let data = one(open("/srv/data/report.csv", Access::READ));
        assert_eq!(
            (data.category, data.severity),
            (DriftCategory::File, Severity::Low)
        );
        let etc = one(open("/etc/nginx/evil.conf", Access::WRITE));
        assert_eq!(
            (etc.category, etc.severity),
            (DriftCategory::SystemWrite, Severity::High)
        );
        let cron = one(open("/etc/cron.d/job", Access::CREATE));
        assert_eq!(cron.tactic, tactic::PERSISTENCE);
        let env = one(open("/proc/77/environ", Access::READ));
        assert_eq!(
            (env.severity, env.tactic.as_str()),
            (Severity::Medium, tactic::DISCOVERY)
        );
        let passwd = one(open("/etc/passwd", Access::READ));
        assert_eq!(passwd.tactic, tactic::DISCOVERY);
        let out = one(EventKind::Connect {
            family: "tcp".into(),
            addr: "93.184.216.34".into(),
            port: 443,
        });
        assert_eq!(
            (out.category, out.severity, out.tactic.as_str()),
            (
                DriftCategory::Outbound,
                Severity::High,
                tactic::EXFILTRATION
            )
        );
        let lo = one(EventKind::Connect {
            family: "tcp".into(),
            addr: "127.0.0.1".into(),
            port: 9000,
        });
        assert_eq!(
            (lo.category, lo.severity),
            (DriftCategory::Net, Severity::Low)
        );
        assert!(data.severity < out.severity);
    }

    #[test]
    fn exec_of_a_file_written_in_the_container_is_execution() {
        let p = stable();
        let e = ev(&["/usr/sbin/nginx", "/tmp/x/payload"], EventKind::Exec);
        let written = |path: &str| path == "/tmp/x/payload";
        let n = novel_nodes(&e, &p, &written);
        assert_eq!(n[0].tactic, tactic::EXECUTION);
        assert_eq!(n[0].why, "exec of a file written in this container");
        let w = ev(&["/usr/sbin/nginx"], open("/tmp/x/payload", Access::WRITE));
        assert_eq!(written_paths(&w), vec!["/tmp/x/payload"]);
    }

    #[test]
    fn learning_profiles_have_no_drift() {
        let mut p = stable();
        p.status = ProfileStatus::Learning;
        let e = ev(&["/usr/sbin/nginx", "/bin/bash"], EventKind::Exec);
        assert!(novel_nodes(&e, &p, &never).is_empty());
    }

    #[test]
    fn summary_counts_by_kind() {
        assert_eq!(
            drift_summary(&[
                (NodeKind::Process, 5),
                (NodeKind::File, 12),
                (NodeKind::Net, 2)
            ]),
            "drift: 19 novel nodes (5 exec, 12 file, 2 net)"
        );
        assert_eq!(
            drift_summary(&[(NodeKind::Dns, 1)]),
            "drift: 1 novel node (1 dns)"
        );
    }
}
