//! Process identity: which path names the program an exec ran.
//!
//! The kernel side sends, with every exec, the path of the file the kernel executed
//! (`bprm->file`, walked up its dentries and mounts to the process's root: see
//! [`KernelFile`]) next to the name the caller asked for (`bprm->filename`) and argv. The
//! exec path is the kernel's file, named the way the caller named it only when that name
//! is a name of the same file:
//!
//! - the caller's name equals the kernel's path: kept;
//! - the caller's name is a link to the executed file in the directory the file is in
//!   (`/bin/cat -> busybox`, `/bin/sh -> dash` with `/bin -> usr/bin`, a hard link): kept,
//!   so multi-call binaries keep their applet names;
//! - anything else (a link into another directory, `/proc/self/exe` or `/dev/fd/N` with an
//!   argv[0] that names another file, a name that no longer resolves): the kernel's path;
//! - the file has no link left (`i_nlink == 0`, marked by the kernel): the kernel's path
//!   with ` (deleted)`, as `/proc/PID/exe` shows it (`/memfd:NAME (deleted)` for a memfd).
//!
//! Names are resolved inside the process's root (`/proc/PID/root`, or a process of the same
//! container when it has exited already), component by component, so absolute links stay
//! inside the container. Answers are cached per (container cgroup, name, kernel path).

use std::collections::HashMap;
use std::path::PathBuf;

/// The executed file as the exec program saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KernelFile {
    /// Absolute path (components joined), relative to the process's root, or to the root of
    /// the file's mount when `detached`; its last components only when `truncated`.
    pub path: String,
    /// No link left (memfd, O_TMPFILE, deleted).
    pub fileless: bool,
    /// On a mount outside the process's root (a memfd's internal mount).
    pub detached: bool,
    /// The walk stopped before a root.
    pub truncated: bool,
}

impl KernelFile {
    /// From the kernel's NUL-separated components, leaf first.
    pub fn from_components(bytes: &[u8], fileless: bool, detached: bool, truncated: bool) -> Self {
        let mut parts: Vec<String> = bytes
            .split(|b| *b == 0)
            .filter(|c| !c.is_empty() && *c != b"/")
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        parts.reverse();
        KernelFile {
            path: format!("/{}", parts.join("/")),
            fileless,
            detached,
            truncated,
        }
    }

    /// The file is the root of a mount attached nowhere in the process's tree (a detached
    /// bind mount of a single file, as runc makes of its own binary): the kernel has no
    /// path for it (`/proc/PID/exe` reads `/`).
    pub fn unnamed(&self) -> bool {
        self.detached && self.path == "/"
    }

    /// How the file is shown when the caller's name is not kept: its path, with
    /// ` (deleted)` when it has no link left.
    pub fn shown(&self) -> String {
        if self.fileless {
            format!("{} (deleted)", self.path)
        } else {
            self.path.clone()
        }
    }
}

/// `/proc/self/exe`, `/proc/PID/exe`, `/dev/fd/N`, `/proc/self/fd/N`: names that point at
/// an open file, not at a place in the file system.
pub fn is_magic_link(path: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(fd) = path.strip_prefix("/dev/fd/") {
        return digits(fd);
    }
    let Some(rest) = path.strip_prefix("/proc/") else {
        return false;
    };
    let Some((who, what)) = rest.split_once('/') else {
        return false;
    };
    if !(who == "self" || who == "thread-self" || digits(who)) {
        return false;
    }
    what == "exe" || what.strip_prefix("fd/").is_some_and(digits)
}

/// `path` with `.` and `..` folded and repeated slashes removed (no file system access).
pub fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// A process's root directory as seen from here (`/proc/PID/root`), for resolving names
/// the way that process would.
#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
}

impl Root {
    /// The root of `pid`, when the process is still there.
    pub fn of_pid(pid: u32) -> Option<Root> {
        let base = PathBuf::from(format!("/proc/{pid}/root"));
        std::fs::symlink_metadata(&base).ok()?;
        Some(Root { base })
    }

    /// A directory standing for `/` (tests).
    pub fn at(base: impl Into<PathBuf>) -> Root {
        Root { base: base.into() }
    }

    fn host(&self, path: &str) -> PathBuf {
        self.base.join(path.trim_start_matches('/'))
    }

    /// `path` (absolute) with every symbolic link resolved inside this root; None when a
    /// component is missing or unreadable, or after 40 links (a loop).
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let here = format!("/{}", {
                let mut d = done.clone();
                d.push(c.clone());
                d.join("/")
            });
            let md = std::fs::symlink_metadata(self.host(&here)).ok()?;
            if md.file_type().is_symlink() {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = std::fs::read_link(self.host(&here)).ok()?;
                let target = target.to_str()?;
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            } else {
                done.push(c);
            }
        }
        Some(format!("/{}", done.join("/")))
    }

    /// (device, inode) of a path with no links left to follow.
    pub fn file_id(&self, resolved: &str) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::symlink_metadata(self.host(resolved)).ok()?;
        Some((md.dev(), md.ino()))
    }

    /// Is `name` a name of the file at `kernel_path` in the directory that file is in?
    pub fn names_file_in_its_directory(&self, name: &str, kernel_path: &str) -> Option<bool> {
        let dir = self.resolve(parent(name))?;
        if dir != parent(kernel_path) {
            return Some(false);
        }
        let Some(full) = self.resolve(name) else {
            return Some(false);
        };
        if full == kernel_path {
            return Some(true);
        }
        // a hard link: same file, another name
        Some(match (self.file_id(&full), self.file_id(kernel_path)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        })
    }
}

/// Does `name` end with the components of `tail` (`/data/x/run` ends with `/x/run`)?
fn ends_with_path(name: &str, tail: &str) -> bool {
    // `tail` starts with a slash, so a match starts at a component boundary
    tail != "/" && tail.starts_with('/') && name.ends_with(tail)
}

/// Most cached answers kept (a cache is emptied past this).
const CACHE_MAX: usize = 16 * 1024;

/// Where a name was judged: the image (names in a container's file system come from its
/// image, so a short-lived container of a known image is named like the others) and the
/// container's cgroup.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `image:version` of the container, when known.
    pub image: Option<&'a str>,
    pub cgroup: u64,
}

/// Chooses exec paths; remembers which names were names of which files.
#[derive(Debug, Default)]
pub struct Identity {
    /// (image, name, kernel path): the name was a name of that file in that image. Only
    /// "yes" is shared between containers of an image: one container changing its own files
    /// cannot make the others' names read as the kernel's paths.
    same_in_image: HashMap<(String, String, String), ()>,
    /// (cgroup, name, kernel path) -> answer, for one container.
    in_container: HashMap<(u64, String, String), bool>,
    /// Execs whose caller's name was replaced by the kernel's path.
    pub renamed: u64,
}

impl Identity {
    /// The path to record for an exec: `name` (the caller's name, absolute) when it names the
    /// executed file `file` (see the module doc), else the kernel's path. `requested` is
    /// the file name the caller passed to execve, used as it is for a file the kernel has
    /// no path for ([`KernelFile::unnamed`]). `scope` keys the caches; `roots` yields
    /// candidate roots to resolve names in, first the exec'ing process's own.
    pub fn exec_path(
        &mut self,
        scope: Scope<'_>,
        requested: &str,
        name: &str,
        file: &KernelFile,
        roots: impl IntoIterator<Item = Root>,
    ) -> String {
        if file.fileless {
            return file.shown();
        }
        if file.unnamed() {
            // not argv[0]: the name the kernel opened (`/proc/self/exe`, `/dev/fd/5`)
            return requested.to_string();
        }
        let name = if name.starts_with('/') && !is_magic_link(name) {
            normalize(name)
        } else {
            String::new()
        };
        if name == file.path {
            return name;
        }
        if name.is_empty() {
            self.renamed += 1;
            return file.shown();
        }
        if file.detached || file.truncated {
            // The kernel's path is the tail of the real one (inside a mount we could not
            // place): the caller's name is kept when it ends with it.
            if ends_with_path(&name, &file.path) {
                return name;
            }
            self.renamed += 1;
            return file.shown();
        }
        let ckey = (scope.cgroup, name.clone(), file.path.clone());
        let ikey = scope
            .image
            .map(|i| (i.to_string(), name.clone(), file.path.clone()));
        let known = self.in_container.get(&ckey).copied().or_else(|| {
            ikey.as_ref()
                .and_then(|k| self.same_in_image.get(k))
                .map(|_| true)
        });
        let same = known.or_else(|| {
            let answer = roots
                .into_iter()
                .find_map(|r| r.names_file_in_its_directory(&name, &file.path));
            if let Some(a) = answer {
                if self.in_container.len() >= CACHE_MAX {
                    self.in_container.clear();
                }
                self.in_container.insert(ckey, a);
                if let (true, Some(k)) = (a, ikey) {
                    if self.same_in_image.len() >= CACHE_MAX {
                        self.same_in_image.clear();
                    }
                    self.same_in_image.insert(k, ());
                }
            }
            answer
        });
        if same == Some(true) {
            name
        } else {
            tracing::debug!(name, kernel = file.path, "exec path: the kernel's file");
            self.renamed += 1;
            file.shown()
        }
    }

    /// Forget what was learned in one container (its cgroup is gone).
    pub fn forget(&mut self, cgroup: u64) {
        self.in_container.retain(|(c, _, _), _| *c != cgroup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn sc(cgroup: u64) -> Scope<'static> {
        Scope {
            image: None,
            cgroup,
        }
    }

    fn kf(path: &str) -> KernelFile {
        KernelFile {
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn components_leaf_first_become_a_path() {
        let k = KernelFile::from_components(b"busybox\0bin\0", false, false, false);
        assert_eq!(k.path, "/bin/busybox");
        let m = KernelFile::from_components(b"memfd:payload\0", true, true, false);
        assert_eq!(m.shown(), "/memfd:payload (deleted)");
        // a bare root and a cut-off "/" component
        assert_eq!(
            KernelFile::from_components(b"", false, false, false).path,
            "/"
        );
        assert_eq!(
            KernelFile::from_components(b"x\0/\0", false, true, false).path,
            "/x"
        );
    }

    #[test]
    fn magic_links_and_normal_paths() {
        for p in [
            "/proc/self/exe",
            "/proc/thread-self/exe",
            "/proc/123/exe",
            "/dev/fd/3",
            "/proc/self/fd/7",
            "/proc/42/fd/10",
        ] {
            assert!(is_magic_link(p), "{p}");
        }
        for p in [
            "/proc/self/exe2",
            "/dev/fd/3/run",
            "/proc/cpuinfo",
            "/proc/self/fd/x",
            "/bin/sh",
            "/dev/fd/",
        ] {
            assert!(!is_magic_link(p), "{p}");
        }
        assert_eq!(normalize("/a/./b//c/../d"), "/a/b/d");
        assert_eq!(normalize("/../x"), "/x");
        assert!(ends_with_path("/data/x/run", "/x/run"));
        assert!(!ends_with_path("/data/xx/run", "/x/run"));
        assert!(!ends_with_path("/data", "/"));
    }

    /// A container root made of real files and links in a temporary directory.
    fn rootfs() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for dir in ["bin", "usr/bin", "tmp", "opt/tool"] {
            std::fs::create_dir_all(r.join(dir)).unwrap();
        }
        std::fs::write(r.join("bin/busybox"), b"\x7fELF").unwrap();
        symlink("busybox", r.join("bin/cat")).unwrap();
        symlink("/bin/busybox", r.join("bin/abs-cat")).unwrap();
        std::fs::write(r.join("usr/bin/dash"), b"\x7fELF").unwrap();
        symlink("dash", r.join("usr/bin/sh")).unwrap();
        symlink("usr/bin", r.join("ubin")).unwrap();
        std::fs::write(r.join("tmp/evil"), b"\x7fELF").unwrap();
        symlink("/tmp/evil", r.join("bin/innocent")).unwrap();
        std::fs::hard_link(r.join("bin/busybox"), r.join("bin/ls")).unwrap();
        std::fs::write(r.join("opt/tool/run"), b"\x7fELF").unwrap();
        symlink("loop2", r.join("bin/loop1")).unwrap();
        symlink("loop1", r.join("bin/loop2")).unwrap();
        d
    }

    #[test]
    fn names_resolve_inside_the_root() {
        let d = rootfs();
        let root = Root::at(d.path());
        assert_eq!(root.resolve("/bin/cat").as_deref(), Some("/bin/busybox"));
        assert_eq!(
            root.resolve("/bin/abs-cat").as_deref(),
            Some("/bin/busybox"),
            "an absolute link stays inside the root"
        );
        assert_eq!(root.resolve("/ubin/sh").as_deref(), Some("/usr/bin/dash"));
        assert_eq!(
            root.resolve("/bin/../ubin/./sh").as_deref(),
            Some("/usr/bin/dash")
        );
        assert_eq!(root.resolve("/bin/missing"), None);
        assert_eq!(root.resolve("/bin/loop1"), None, "a link loop ends");
    }

    #[test]
    fn the_callers_name_is_kept_only_when_it_names_the_executed_file() {
        let d = rootfs();
        let mut id = Identity::default();
        let roots = || std::iter::once(Root::at(d.path()));
        let mut path = |name: &str, k: &KernelFile| id.exec_path(sc(7), name, name, k, roots());
        // the same path
        assert_eq!(path("/bin/busybox", &kf("/bin/busybox")), "/bin/busybox");
        // an applet link in the binary's directory: the applet's name
        assert_eq!(path("/bin/cat", &kf("/bin/busybox")), "/bin/cat");
        assert_eq!(path("/bin/abs-cat", &kf("/bin/busybox")), "/bin/abs-cat");
        // a link through a directory link, still the file's directory
        assert_eq!(path("/ubin/sh", &kf("/usr/bin/dash")), "/ubin/sh");
        // a hard link
        assert_eq!(path("/bin/ls", &kf("/bin/busybox")), "/bin/ls");
        // a link into another directory: the file's own path
        assert_eq!(path("/bin/innocent", &kf("/tmp/evil")), "/tmp/evil");
        // argv[0] naming another file (a /proc/self/exe exec with a false argv[0])
        assert_eq!(path("/usr/sbin/sshd", &kf("/tmp/evil")), "/tmp/evil");
        assert_eq!(path("/bin/cat", &kf("/tmp/evil")), "/tmp/evil");
        // a magic link or nothing at all: the kernel's path
        assert_eq!(path("/proc/self/exe", &kf("/bin/busybox")), "/bin/busybox");
        assert_eq!(path("", &kf("/bin/busybox")), "/bin/busybox");
        assert_eq!(
            path("<unresolved: cwd gone>/x", &kf("/opt/tool/run")),
            "/opt/tool/run"
        );
        // lexically different spellings of the same path
        assert_eq!(path("/bin/./cat", &kf("/bin/busybox")), "/bin/cat");
    }

    #[test]
    fn fileless_files_show_as_the_kernel_names_them() {
        let mut id = Identity::default();
        let memfd = KernelFile {
            path: "/memfd:payload".into(),
            fileless: true,
            detached: true,
            truncated: false,
        };
        let none = || std::iter::empty::<Root>();
        assert_eq!(
            id.exec_path(sc(7), "/dev/fd/3", "/dev/fd/3", &memfd, none()),
            "/memfd:payload (deleted)"
        );
        let deleted = KernelFile {
            path: "/tmp/agent".into(),
            fileless: true,
            ..Default::default()
        };
        // even when the caller's name is the same path
        assert_eq!(
            id.exec_path(sc(7), "/tmp/agent", "/tmp/agent", &deleted, none()),
            "/tmp/agent (deleted)"
        );
    }

    #[test]
    fn a_file_without_a_path_shows_the_requested_name_not_argv0() {
        let mut id = Identity::default();
        let bindfd = KernelFile {
            path: "/".into(),
            detached: true,
            ..Default::default()
        };
        assert!(bindfd.unnamed());
        assert_eq!(
            id.exec_path(
                sc(7),
                "/proc/self/exe",
                "/usr/sbin/sshd",
                &bindfd,
                std::iter::empty()
            ),
            "/proc/self/exe"
        );
    }

    #[test]
    fn a_path_inside_another_mount_keeps_the_callers_name_when_it_ends_with_it() {
        let mut id = Identity::default();
        let inside = KernelFile {
            path: "/tools/run".into(),
            detached: true,
            ..Default::default()
        };
        let none = || std::iter::empty::<Root>();
        assert_eq!(
            id.exec_path(sc(7), "/data/tools/run", "/data/tools/run", &inside, none()),
            "/data/tools/run"
        );
        assert_eq!(
            id.exec_path(sc(7), "/data/other/run", "/data/other/run", &inside, none()),
            "/tools/run"
        );
    }

    #[test]
    fn answers_are_cached_per_container_and_image_and_unresolvable_names_are_not() {
        let d = rootfs();
        let mut id = Identity::default();
        let k = kf("/bin/busybox");
        let none = || std::iter::empty::<Root>();
        let root = || std::iter::once(Root::at(d.path()));
        assert_eq!(
            id.exec_path(sc(7), "/bin/cat", "/bin/cat", &k, root()),
            "/bin/cat"
        );
        // cached: no root needed any more
        assert_eq!(
            id.exec_path(sc(7), "/bin/cat", "/bin/cat", &k, none()),
            "/bin/cat"
        );
        // another container, no root to look in: the kernel's path, not cached
        assert_eq!(
            id.exec_path(sc(8), "/bin/cat", "/bin/cat", &k, none()),
            "/bin/busybox"
        );
        assert_eq!(
            id.exec_path(sc(8), "/bin/cat", "/bin/cat", &k, root()),
            "/bin/cat"
        );
        id.forget(7);
        assert_eq!(
            id.exec_path(sc(7), "/bin/cat", "/bin/cat", &k, none()),
            "/bin/busybox"
        );
        assert_eq!(id.renamed, 2);

        // a container of a known image whose processes are all gone: named like the others
        let web = |cgroup| Scope {
            image: Some("demo/web:1.0"),
            cgroup,
        };
        assert_eq!(
            id.exec_path(web(20), "/bin/cat", "/bin/cat", &k, root()),
            "/bin/cat"
        );
        assert_eq!(
            id.exec_path(web(21), "/bin/cat", "/bin/cat", &k, none()),
            "/bin/cat"
        );
        // a "no" stays with its container: another container of the image asks again
        let evil = kf("/tmp/evil");
        assert_eq!(
            id.exec_path(web(20), "/bin/innocent", "/bin/innocent", &evil, root()),
            "/tmp/evil"
        );
        assert_eq!(
            id.exec_path(web(22), "/bin/innocent", "/bin/innocent", &evil, none()),
            "/tmp/evil",
            "no root: the kernel's path"
        );
        // answers are per (name, kernel path): a cached yes never names another file
        assert_eq!(
            id.exec_path(web(21), "/bin/cat", "/bin/cat", &evil, none()),
            "/tmp/evil"
        );
    }
}
