//! Raw kernel records -> `model::EventKind`: open flags -> access kinds, socket addresses,
//! DNS question parsing, kernel-activity arguments.

use capture_common::*;
use model::{Access, EventKind};
use std::net::{Ipv4Addr, Ipv6Addr};

const AT_FDCWD: i32 = -100;

pub fn cstr(buf: &[u8]) -> String {
    String::from_utf8_lossy(c_str(buf)).into_owned()
}

/// Access kinds of an open() with these flags.
pub fn open_access(flags: u32) -> Access {
    let mut a = match flags & O_ACCMODE {
        O_WRONLY => Access::WRITE,
        O_RDWR => Access::READ.union(Access::WRITE),
        _ => Access::READ,
    };
    if flags & O_CREAT != 0 {
        a = a.union(Access::CREATE);
    }
    if flags & O_TRUNC != 0 {
        a = a.union(Access::TRUNCATE);
    }
    a
}

/// Make a path absolute: relative paths are joined to the directory fd's path or the
/// process's cwd, read from /proc while the process lives and taken relative to the
/// process's own root. A path that cannot be resolved is marked with the reason
/// (`<unresolved: cwd gone>/www`), never left looking like a path of its own: `mkdir -p
/// /tmp/www` (coreutils) does `chdir("/tmp")` then `mkdir("www")` and exits, so the cwd was
/// often gone when the record was read, and `www` reached the profile while a slower run
/// arrived as `/tmp/www`. Normalisation (`.`, `..`, `//`, trailing `/`) and folding happen
/// once, in `model::fold`, for profiles and live events alike.
pub fn absolute(path: String, tgid: u32, dfd: i32) -> String {
    if path.is_empty() {
        return model::fold::EMPTY_PATH.to_string();
    }
    if path.starts_with('/') {
        return path;
    }
    let (base, what) = if dfd == AT_FDCWD {
        (std::fs::read_link(format!("/proc/{tgid}/cwd")), "cwd")
    } else {
        (
            std::fs::read_link(format!("/proc/{tgid}/fd/{dfd}")),
            "dirfd",
        )
    };
    let root = std::fs::read_link(format!("/proc/{tgid}/root"));
    match base {
        Ok(b) => {
            let b = b.to_string_lossy();
            // seen from another mount namespace the link may carry the process's root
            let b = match root.as_ref().map(|r| r.to_string_lossy()) {
                Ok(r) if r != "/" && b.starts_with(r.as_ref()) => {
                    let rest = &b[r.len()..];
                    if rest.is_empty() {
                        "/".to_string()
                    } else {
                        rest.to_string()
                    }
                }
                _ => b.into_owned(),
            };
            let p = path.trim_start_matches("./");
            if b == "/" {
                format!("/{p}")
            } else {
                format!("{b}/{p}")
            }
        }
        Err(_) => format!("<unresolved: {what} gone>/{path}"),
    }
}

/// The kernel's path of the file a file event acted on ([`FLAG_KERNEL_PATH`]), when its walk
/// reached the process's root (a truncated walk or a file outside the process's tree, such
/// as a pipe or a memfd, leaves the requested path in charge).
pub fn kernel_path(ev: &FileEvent) -> Option<String> {
    let f = ev.hdr.flags;
    if f & FLAG_KERNEL_PATH == 0 || f & (FLAG_EXEC_FILE_TRUNCATED | FLAG_EXEC_FILE_DETACHED) != 0 {
        return None;
    }
    let used = (ev.path2_len as usize).min(PATH_LEN);
    Some(crate::identity::KernelFile::from_components(&ev.path2[..used], false, false, false).path)
}

/// The path an open is known by, and the caller's path when it differs: the kernel's path of
/// the opened file wins over the requested one (a symlink, `cd /etc && cat passwd`, `..`, a
/// buffer another thread rewrote after the read), except for `/proc/self/...` and
/// `/proc/thread-self/...` names of procfs files, which the kernel spells with the opener's
/// own pid: those stay as asked, so "another process's environ" stays apart from one's own.
pub fn opened_path(requested: &str, kernel: Option<String>) -> (String, Option<String>) {
    let Some(k) = kernel else {
        return (requested.to_string(), None);
    };
    let own_proc =
        requested.starts_with("/proc/self/") || requested.starts_with("/proc/thread-self/");
    if own_proc && k.starts_with("/proc/") {
        return (requested.to_string(), None);
    }
    if requested.starts_with('/') && crate::identity::normalize(requested) == k {
        return (k, None);
    }
    (k, Some(requested.to_string()))
}

pub fn file_kind(ev: &FileEvent) -> Option<EventKind> {
    let raw = cstr(&ev.path);
    let kernel = kernel_path(ev);
    Some(match ev.hdr.kind {
        KIND_OPEN => {
            let (path, requested) = match kernel {
                Some(k) => opened_path(&raw, Some(k)),
                // No kernel path (a failed attempt, a file outside the process's tree):
                // the requested path made absolute from the process's cwd.
                None => (absolute(raw, ev.hdr.tgid, ev.dfd), None),
            };
            EventKind::Open {
                path,
                access: open_access(ev.flags),
                errno: if ev.ret < 0 {
                    u16::try_from(-i64::from(ev.ret)).unwrap_or(u16::MAX)
                } else {
                    0
                },
                requested,
            }
        }
        KIND_CHMOD | KIND_CHOWN | KIND_UNLINK | KIND_RENAME | KIND_MKDIR => {
            // An fd-based chmod/chown names its file by the kernel's path; the others act on
            // a name, which is what they change.
            let path = match kernel {
                Some(k) => k,
                None => absolute(raw, ev.hdr.tgid, ev.dfd),
            };
            named_kind(ev, path)?
        }
        _ => return None,
    })
}

fn named_kind(ev: &FileEvent, path: String) -> Option<EventKind> {
    Some(match ev.hdr.kind {
        KIND_UNLINK => EventKind::Unlink { path },
        KIND_RENAME => EventKind::Rename {
            from: path,
            to: absolute(cstr(&ev.path2), ev.hdr.tgid, ev.dfd),
        },
        KIND_CHMOD => EventKind::Chmod {
            path,
            mode: ev.mode & 0o7777,
        },
        KIND_CHOWN => EventKind::Chown {
            path,
            uid: ev.uid,
            gid: ev.gid,
        },
        KIND_MKDIR => EventKind::Mkdir { path },
        _ => return None,
    })
}

pub fn net_family(ev: &NetEvent) -> String {
    let proto = match (ev.protocol, ev.sock_type) {
        (6, _) | (_, 1) => "tcp",
        (17, _) | (_, 2) => "udp",
        _ => "ip",
    };
    if ev.family == 10 {
        format!("{proto}6")
    } else {
        proto.to_string()
    }
}

pub fn net_addr(ev: &NetEvent) -> String {
    if ev.family == 10 {
        Ipv6Addr::from(ev.addr).to_string()
    } else {
        Ipv4Addr::new(ev.addr[0], ev.addr[1], ev.addr[2], ev.addr[3]).to_string()
    }
}

pub fn net_kind(ev: &NetEvent) -> Option<EventKind> {
    let family = net_family(ev);
    let addr = net_addr(ev);
    let port = ev.port;
    match ev.hdr.kind {
        KIND_CONNECT => Some(EventKind::Connect { family, addr, port }),
        KIND_BIND => Some(EventKind::Bind { family, addr, port }),
        _ => None,
    }
}

/// Name of a DNS query type.
pub fn qtype_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        64 => "SVCB".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

/// The first question (name, type) of a DNS query message; None when the bytes are not a
/// well-formed query.
pub fn parse_dns_question(msg: &[u8]) -> Option<(String, String)> {
    if msg.len() < 12 + 5 {
        return None;
    }
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if flags & 0x8000 != 0 || qdcount == 0 {
        return None; // a response, or no question
    }
    let mut i = 12;
    let mut labels: Vec<String> = Vec::new();
    let mut total = 0usize;
    loop {
        let len = *msg.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // compression pointers do not occur in a question name
        }
        let label = msg.get(i..i + len)?;
        total += len + 1;
        if total > 255 || !label.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(i)?, *msg.get(i + 1)?]);
    let name = if labels.is_empty() {
        ".".to_string()
    } else {
        labels.join(".")
    };
    Some((name, qtype_name(qtype)))
}

pub fn dns_kind(ev: &DnsEvent) -> Option<EventKind> {
    let n = (ev.len as usize).min(DNS_LEN);
    let mut msg = &ev.data[..n];
    if ev.hdr.flags & FLAG_DNS_TCP != 0 {
        msg = strip_tcp_length(msg);
    }
    let (name, qtype) = parse_dns_question(msg)?;
    Some(EventKind::Dns { name, qtype })
}

/// DNS over TCP prefixes each message with its length (RFC 1035 4.2.2); a client may write
/// the prefix with the message or on its own (then this write is the bare message). A copy
/// of `DNS_LEN` bytes may be cut short of the length the prefix announces.
fn strip_tcp_length(msg: &[u8]) -> &[u8] {
    match msg {
        [hi, lo, rest @ ..] => {
            let want = usize::from(u16::from_be_bytes([*hi, *lo])) + 2;
            if want == msg.len() || (msg.len() == DNS_LEN && want > DNS_LEN) {
                rest
            } else {
                msg
            }
        }
        _ => msg,
    }
}

fn set_id(variant: u32, a0: u64, a1: u64) -> u32 {
    let keep = u32::MAX;
    match variant {
        VARIANT_SET => a0 as u32,
        // setreuid(ruid, euid) / setresuid(ruid, euid, suid): the effective id if changed.
        _ if a1 as u32 != keep => a1 as u32,
        _ => a0 as u32,
    }
}

pub fn kernel_kind(ev: &KernelEvent) -> Option<EventKind> {
    Some(match ev.hdr.kind {
        KIND_PTRACE => EventKind::Ptrace {
            request: ev.a0 as u32,
            target_pid: ev.a1 as u32,
        },
        KIND_MODULE_LOAD => {
            let name = if ev.hdr.aux == 1 {
                // finit_module(fd, ...): the module file behind the fd.
                std::fs::read_link(format!("/proc/{}/fd/{}", ev.hdr.tgid, ev.a0 as i32))
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| format!("fd:{}", ev.a0 as i32))
            } else {
                "init_module".to_string()
            };
            EventKind::ModuleLoad { name }
        }
        KIND_BPF => EventKind::Bpf { cmd: ev.a0 as u32 },
        // fsopen(2) names only the filesystem type; move_mount(2) may give no paths (it
        // moves a detached mount by fd): empty stays empty.
        KIND_MOUNT => EventKind::Mount {
            source: cstr(&ev.s2),
            target: match cstr(&ev.s1) {
                t if t.is_empty() && ev.hdr.aux != 0 => t,
                t => absolute(t, ev.hdr.tgid, AT_FDCWD),
            },
            fstype: cstr(&ev.s3),
        },
        KIND_SETUID => EventKind::Setuid {
            uid: set_id(ev.hdr.aux, ev.a0, ev.a1),
        },
        KIND_SETGID => EventKind::Setgid {
            gid: set_id(ev.hdr.aux, ev.a0, ev.a1),
        },
        KIND_CAPSET => EventKind::Capset,
        KIND_MEMFD_CREATE => EventKind::MemfdCreate { name: cstr(&ev.s1) },
        KIND_IO_URING => EventKind::IoUringSetup {
            entries: ev.a0 as u32,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    #[test]
    fn parses_dns_questions() {
        assert_eq!(
            parse_dns_question(&query("Example.TEST", 1)),
            Some(("example.test".into(), "A".into()))
        );
        assert_eq!(
            parse_dns_question(&query("a.b.c", 28)),
            Some(("a.b.c".into(), "AAAA".into()))
        );
        let mut resp = query("x.y", 1);
        resp[2] |= 0x80;
        assert_eq!(parse_dns_question(&resp), None);
        let q = query("example.test", 1);
        assert_eq!(parse_dns_question(&q[..q.len() - 4]), None, "truncated");
        let mut bad = query("ab.cd", 1);
        bad[12] = 0xc0;
        assert_eq!(parse_dns_question(&bad), None, "pointer in question");
        assert_eq!(parse_dns_question(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        // DNS over TCP: the 2-byte length prefix, written with the message or before it
        let q = query("evil.example", 16);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        assert_eq!(strip_tcp_length(&framed), &q[..]);
        assert_eq!(strip_tcp_length(&q), &q[..], "a bare message is kept whole");
        assert_eq!(
            parse_dns_question(strip_tcp_length(&framed)),
            Some(("evil.example".into(), "TXT".into()))
        );
    }

    #[test]
    fn open_flags_to_access() {
        assert_eq!(open_access(0), Access::READ);
        assert_eq!(open_access(O_WRONLY), Access::WRITE);
        assert_eq!(open_access(O_RDWR), Access::READ.union(Access::WRITE));
        assert_eq!(
            open_access(O_WRONLY | O_CREAT | O_TRUNC),
            Access::WRITE.union(Access::CREATE).union(Access::TRUNCATE)
        );
    }

    #[test]
    fn net_events_to_kinds() {
        let mut ev = NetEvent {
            hdr: Header {
                kind: KIND_CONNECT,
                ..Default::default()
            },
            family: 2,
            port: 8080,
            sock_type: 1,
            protocol: 6,
            addr: [0; 16],
        };
        ev.addr[..4].copy_from_slice(&[10, 0, 0, 7]);
        assert_eq!(
            net_kind(&ev),
            Some(EventKind::Connect {
                family: "tcp".into(),
                addr: "10.0.0.7".into(),
                port: 8080
            })
        );
        ev.family = 10;
        ev.sock_type = 2;
        ev.protocol = 0;
        ev.addr = Ipv6Addr::LOCALHOST.octets();
        ev.hdr.kind = KIND_BIND;
        assert_eq!(
            net_kind(&ev),
            Some(EventKind::Bind {
                family: "udp6".into(),
                addr: "::1".into(),
                port: 8080
            })
        );
    }

    #[test]
    fn set_ids_pick_the_effective_id() {
        assert_eq!(set_id(VARIANT_SET, 33, 0), 33);
        assert_eq!(set_id(VARIANT_SETRE, 5, u32::MAX as u64), 5);
        assert_eq!(set_id(VARIANT_SETRES, 5, 7), 7);
    }

    /// A file event as the kernel sends it: `path` requested, `path2` the kernel's walk
    /// (components leaf first) when `kernel` is given.
    fn file_ev(kind: u16, path: &str, kernel: Option<&[&str]>, extra: u16) -> FileEvent {
        let mut ev = FileEvent::default();
        ev.hdr.kind = kind;
        ev.hdr.tgid = u32::MAX; // no such process: relative paths cannot be resolved
        ev.dfd = AT_FDCWD;
        ev.path[..path.len()].copy_from_slice(path.as_bytes());
        ev.path_len = path.len() as u32 + 1;
        if let Some(parts) = kernel {
            let mut at = 0;
            for p in parts.iter().rev() {
                ev.path2[at..at + p.len()].copy_from_slice(p.as_bytes());
                at += p.len() + 1;
            }
            ev.path2_len = at as u32;
            ev.hdr.flags = FLAG_KERNEL_PATH | extra;
        }
        ev
    }

    fn open_of(ev: &FileEvent) -> (String, Option<String>) {
        match file_kind(ev) {
            Some(EventKind::Open {
                path, requested, ..
            }) => (path, requested),
            other => panic!("not an open: {other:?}"),
        }
    }

    #[test]
    fn an_open_is_known_by_the_kernels_path_with_the_requested_one_beside_it() {
        let shadow: &[&str] = &["etc", "shadow"];
        // Through a symlink: the file opened, and the link as asked.
        assert_eq!(
            open_of(&file_ev(KIND_OPEN, "/tmp/s", Some(shadow), 0)),
            ("/etc/shadow".into(), Some("/tmp/s".into()))
        );
        // Relative, its process gone: no `<unresolved: cwd gone>`, the kernel knows.
        assert_eq!(
            open_of(&file_ev(KIND_OPEN, "shadow", Some(shadow), 0)),
            ("/etc/shadow".into(), Some("shadow".into()))
        );
        // The same path (spelled loosely): nothing kept beside it.
        assert_eq!(
            open_of(&file_ev(KIND_OPEN, "/etc//shadow", Some(shadow), 0)),
            ("/etc/shadow".into(), None)
        );
        // A racing thread rewrote the buffer: the kernel opened /etc/shadow, the copy read
        // at entry said /tmp/harmless.
        assert_eq!(
            open_of(&file_ev(KIND_OPEN, "/tmp/harmless", Some(shadow), 0)),
            ("/etc/shadow".into(), Some("/tmp/harmless".into()))
        );
        // One's own procfs files keep their `self` name (the kernel spells its own pid).
        assert_eq!(
            open_of(&file_ev(
                KIND_OPEN,
                "/proc/self/environ",
                Some(&["proc", "4242", "environ"]),
                0
            )),
            ("/proc/self/environ".into(), None)
        );
        // ...but `/proc/self/root/...` and `/proc/self/fd/N` name a real file.
        assert_eq!(
            open_of(&file_ev(
                KIND_OPEN,
                "/proc/self/root/etc/shadow",
                Some(shadow),
                0
            )),
            (
                "/etc/shadow".into(),
                Some("/proc/self/root/etc/shadow".into())
            )
        );
        // A walk that did not reach the process's root (a pipe, a truncated path): as asked.
        for end in [FLAG_EXEC_FILE_DETACHED, FLAG_EXEC_FILE_TRUNCATED] {
            assert_eq!(
                open_of(&file_ev(KIND_OPEN, "/dev/stdin", Some(&["pipe:[7]"]), end)),
                ("/dev/stdin".into(), None)
            );
        }
        // No kernel path (a failed attempt): the requested path.
        assert_eq!(
            open_of(&file_ev(KIND_OPEN, "/etc/shadow", None, 0)),
            ("/etc/shadow".into(), None)
        );
    }

    #[test]
    fn fd_based_chmod_and_chown_name_the_kernels_file_and_renames_keep_their_target() {
        let ev = file_ev(KIND_CHMOD, "", Some(&["etc", "passwd"]), 0);
        assert!(
            matches!(file_kind(&ev), Some(EventKind::Chmod { path, .. }) if path == "/etc/passwd")
        );
        let ev = file_ev(KIND_CHOWN, "", None, 0);
        assert!(
            matches!(file_kind(&ev), Some(EventKind::Chown { path, .. }) if path == model::fold::EMPTY_PATH)
        );
        // path2 of a rename is its target, never a kernel path.
        let mut ev = file_ev(KIND_RENAME, "/tmp/a", None, 0);
        ev.path2[..6].copy_from_slice(b"/tmp/b");
        ev.path2_len = 7;
        assert_eq!(
            file_kind(&ev),
            Some(EventKind::Rename {
                from: "/tmp/a".into(),
                to: "/tmp/b".into()
            })
        );
    }

    #[test]
    fn relative_paths_resolve_against_cwd() {
        let me = std::process::id();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute("x/y".into(), me, AT_FDCWD),
            format!("{}/x/y", cwd.display())
        );
        assert_eq!(absolute("/abs".into(), me, AT_FDCWD), "/abs");
        assert_eq!(
            absolute("rel".into(), u32::MAX - 1, AT_FDCWD),
            "<unresolved: cwd gone>/rel"
        );
        assert_eq!(
            absolute(String::new(), me, AT_FDCWD),
            "<unresolved: empty path>"
        );
    }

    /// What capture records for a relative mkdir, open and rename of a process whose
    /// working directory changed, keyed through the same tree builder as profiles.
    fn keys(kind: EventKind) -> Vec<String> {
        let ev = model::Event {
            ts_ms: 0,
            container: model::ContainerRef {
                id: "c".into(),
                image: "i".into(),
                version: "1".into(),
                ..Default::default()
            },
            process: model::ProcessInfo {
                exec_path: "/bin/mkdir".into(),
                ..Default::default()
            },
            kind,
        };
        let mut t = model::ActivityTree::default();
        t.record(&ev);
        t.nodes().into_iter().map(|n| n.key.0).collect()
    }

    #[test]
    fn relative_mkdir_open_rename_in_a_changed_cwd_key_as_their_absolute_forms() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        // a process that changed its working directory (as `mkdir -p` does) and lives on
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(&work)
            .spawn()
            .unwrap();
        let pid = child.id();
        let w = work.display().to_string();
        let rel = |p: &str| absolute(p.to_string(), pid, AT_FDCWD);
        let cases = [
            (
                EventKind::Mkdir { path: rel("www") },
                EventKind::Mkdir {
                    path: format!("{w}/www"),
                },
            ),
            (
                EventKind::Mkdir {
                    path: rel("./www/"),
                },
                EventKind::Mkdir {
                    path: format!("{w}/www"),
                },
            ),
            (
                EventKind::Open {
                    path: rel("../work/a.txt"),
                    access: Access::READ,
                    errno: 0,
                    requested: None,
                },
                EventKind::Open {
                    path: format!("{w}/a.txt"),
                    access: Access::READ,
                    errno: 0,
                    requested: None,
                },
            ),
            (
                EventKind::Rename {
                    from: rel("a.txt"),
                    to: rel("b.txt"),
                },
                EventKind::Rename {
                    from: format!("{w}/a.txt"),
                    to: format!("{w}/b.txt"),
                },
            ),
        ];
        for (relative, abs) in cases {
            assert_eq!(keys(relative.clone()), keys(abs), "{relative:?}");
        }
        // relative to a directory fd (mkdirat/openat/renameat with a dirfd)
        let d = std::fs::File::open(&work).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&d);
        assert_eq!(
            absolute("c.txt".into(), std::process::id(), fd),
            format!("{w}/c.txt")
        );
        let _ = child.kill();
        let _ = child.wait();
        // once the process is gone the path is marked, not mistaken for `www`
        assert_eq!(
            keys(EventKind::Mkdir { path: rel("www") }),
            vec![
                "p:/bin/mkdir".to_string(),
                "p:/bin/mkdir|f:<unresolved: cwd gone>/www".to_string()
            ]
        );
    }
}
