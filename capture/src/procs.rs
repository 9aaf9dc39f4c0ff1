//! Process table: exec lineage per process, built from fork/exec/exit events and seeded from
//! /proc for processes already running.
//!
//! A process's lineage is the chain of exec paths *inside its cgroup*, root first: a fork
//! copies the parent's lineage, an exec appends the new path when the lineage was built in
//! the same cgroup and starts a new root otherwise (the container runtime's `runc init` is
//! exec'd outside the container and then joins it; the workload's first exec starts the
//! tree). A process with no exec inside its cgroup is runtime glue and has no lineage.

use model::ProcessInfo;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct ProcEntry {
    /// Exec paths, root first; the last one is this process's executable.
    pub lineage: Arc<Vec<String>>,
    /// Which file this process runs (glue included), when known.
    pub exe_id: Option<FileId>,
    /// The kernel marked that file as having no link left.
    pub fileless: bool,
    /// The interpreter the kernel ran for a `#!` script.
    pub interpreter: Option<Arc<str>>,
    /// cgroup the lineage was built in.
    pub lineage_cgroup: u64,
    pub args: Arc<Vec<String>>,
    pub uid: u32,
    pub gid: u32,
    pub ppid: u32,
}

/// A file's identity: (device as user space numbers it, inode number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// From the kernel's `s_dev` (major << 20 | minor) and `i_ino`.
    pub fn from_kernel(s_dev: u32, ino: u64) -> FileId {
        FileId {
            dev: libc::makedev(s_dev >> 20, s_dev & 0xf_ffff),
            ino,
        }
    }

    /// The file a path names (following links), as `stat` sees it.
    pub fn of_path(path: &str) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).ok()?;
        Some(FileId {
            dev: md.dev(),
            ino: md.ino(),
        })
    }
}

/// What an exec ran, as named by [`crate::identity`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecImage {
    /// The exec path to record.
    pub path: String,
    /// Which file the kernel executed (None without kernel identity).
    pub file_id: Option<FileId>,
    /// Whether the kernel saw the process execute the very file it was running (None: the
    /// kernel did not see the file it ran before, e.g. its execve entry happened in an
    /// ignored cgroup).
    pub same_file: Option<bool>,
    /// The caller named the file by an open fd or /proc/self/exe (`/dev/fd/N`).
    pub requested_magic: bool,
    /// The kernel marked the file as having no link left.
    pub fileless: bool,
    /// A script's interpreter.
    pub interpreter: Option<String>,
}

impl From<String> for ExecImage {
    /// An exec known by its path only (no kernel identity).
    fn from(path: String) -> ExecImage {
        ExecImage {
            path,
            ..Default::default()
        }
    }
}

impl From<&str> for ExecImage {
    fn from(path: &str) -> ExecImage {
        path.to_string().into()
    }
}

#[derive(Default)]
pub struct ProcTable {
    procs: HashMap<u32, ProcEntry>,
}

impl ProcTable {
    pub fn len(&self) -> usize {
        self.procs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn get(&self, pid: u32) -> Option<&ProcEntry> {
        self.procs.get(&pid)
    }

    pub fn insert(&mut self, pid: u32, e: ProcEntry) {
        self.procs.insert(pid, e);
    }

    pub fn on_fork(&mut self, parent: u32, child: u32) {
        let mut e = self.procs.get(&parent).cloned().unwrap_or_default();
        e.ppid = parent;
        self.procs.insert(child, e);
    }

    pub fn on_exec(
        &mut self,
        pid: u32,
        cgroup: u64,
        image: ExecImage,
        args: Vec<String>,
        uid: u32,
        gid: u32,
    ) {
        let e = self.procs.entry(pid).or_default();
        let workload = e.lineage_cgroup == cgroup && !e.lineage.is_empty();
        let previous = e.exe_id.take();
        e.exe_id = image.file_id;
        // Runtime glue is recognised by where it sits and what it runs, not by a name: a
        // process with no workload lineage in this cgroup yet (it came from the runtime,
        // outside) re-executing itself. With the kernel's identity that is an exec of the
        // very file (same device and inode) it was running (`runc init` through
        // /proc/self/exe or a detached bind mount of itself: the runtime's binary on the
        // host) or of a file with no link left (runc's memfd clone of itself); without it,
        // the form of the name (/proc/self/exe, /dev/fd/N, /memfd:). Its first other exec
        // starts the workload's tree, whatever the program is called.
        let reexec =
            image.same_file == Some(true) || (image.file_id.is_some() && image.file_id == previous);
        // The form of the name only where the kernel could not tell (no identity, or the
        // file run before is unknown).
        let unknown = image.file_id.is_none() || (image.same_file.is_none() && previous.is_none());
        let by_form = unknown && (image.requested_magic || is_runtime_exec(&image.path));
        if !workload && (reexec || image.fileless || by_form) {
            tracing::debug!(
                pid,
                cgroup,
                path = image.path,
                reexec,
                fileless = image.fileless,
                "runtime glue exec"
            );
            e.lineage = Arc::new(Vec::new());
            e.lineage_cgroup = cgroup;
            return;
        }
        let mut lineage: Vec<String> = if workload {
            e.lineage.as_ref().clone()
        } else {
            Vec::new()
        };
        lineage.push(image.path);
        if !workload {
            // A new root while the container's own processes run: something entered the
            // running container from outside (an exec session), not its entrypoint (a
            // restarted container has no process left, so its new entrypoint is a root).
            let running = self
                .procs
                .iter()
                .any(|(p, x)| *p != pid && x.lineage_cgroup == cgroup && !x.lineage.is_empty());
            if running {
                lineage.insert(0, model::event::EXEC_SESSION.to_string());
            }
        }
        let e = self.procs.entry(pid).or_default();
        e.lineage = Arc::new(lineage);
        e.lineage_cgroup = cgroup;
        e.args = Arc::new(args);
        e.uid = uid;
        e.gid = gid;
        e.fileless = image.fileless;
        e.interpreter = image.interpreter.as_deref().map(Arc::from);
    }

    /// `pid` and up to `max - 1` of its ancestors, as long as they are workload in `cgroup`
    /// (processes sharing `pid`'s root directory; runtime glue may still sit in the host's).
    pub fn same_cgroup_ancestry(&self, pid: u32, cgroup: u64, max: usize) -> Vec<u32> {
        let mut out = vec![pid];
        let mut cur = pid;
        while out.len() < max {
            let Some(parent) = self.procs.get(&cur).map(|e| e.ppid) else {
                break;
            };
            match self.procs.get(&parent) {
                Some(p)
                    if parent != 0
                        && p.lineage_cgroup == cgroup
                        && !p.lineage.is_empty()
                        && !out.contains(&parent) =>
                {
                    out.push(parent);
                    cur = parent;
                }
                _ => break,
            }
        }
        out
    }

    /// Up to `max` workload processes of `cgroup` (runtime glue excluded).
    pub fn in_cgroup(&self, cgroup: u64, max: usize) -> Vec<u32> {
        self.procs
            .iter()
            .filter(|(_, e)| e.lineage_cgroup == cgroup && !e.lineage.is_empty())
            .map(|(p, _)| *p)
            .take(max)
            .collect()
    }

    pub fn on_exit(&mut self, pid: u32) {
        self.procs.remove(&pid);
    }

    /// The ProcessInfo of a process acting in `cgroup`; None when it has no exec inside that
    /// cgroup (runtime glue) or is unknown.
    pub fn info(&self, pid: u32, cgroup: u64) -> Option<ProcessInfo> {
        let e = self.procs.get(&pid)?;
        if e.lineage_cgroup != cgroup || e.lineage.is_empty() {
            return None;
        }
        let (last, anc) = e.lineage.split_last()?;
        Some(ProcessInfo {
            pid,
            exec_path: last.clone(),
            args: e.args.as_ref().clone(),
            uid: e.uid,
            gid: e.gid,
            ancestors: anc.iter().rev().cloned().collect(),
            fileless: e.fileless,
            interpreter: e.interpreter.as_deref().map(str::to_string),
        })
    }
}

/// Could this exec be a container runtime re-executing itself (runc/crun `init` through
/// `/proc/self/exe`, a `/dev/fd/N` or memfd copy)? Only the form of the path counts, never
/// the program's name: a workload binary called `runc` or `conmon` is workload
/// ([`ProcTable::on_exec`] also requires the position of the runtime's init).
pub fn is_runtime_exec(path: &str) -> bool {
    path.starts_with("/dev/fd/")
        || path.starts_with("/proc/self/")
        || path.starts_with("/memfd:")
        || (path.starts_with("/proc/") && path.ends_with("/exe"))
}

/// What /proc says about one process.
#[derive(Debug, Clone)]
pub struct ProcSeed {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub exe: String,
    /// Which file `/proc/PID/exe` is.
    pub exe_id: Option<FileId>,
    /// That file has no link left.
    pub fileless: bool,
    pub args: Vec<String>,
    pub cgroup_path: String,
    /// The container runtime's own process (`runc init` and friends), not workload.
    pub glue: bool,
}

pub fn read_proc(pid: u32) -> Option<ProcSeed> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let tgid = field("Tgid:")?;
    if tgid != pid {
        return None;
    }
    let ppid = field("PPid:").unwrap_or(0);
    let uid = field("Uid:").unwrap_or(0);
    let gid = field("Gid:").unwrap_or(0);
    // /proc/PID/exe is the kernel's path of the file (with " (deleted)" when it has no link
    // left, which its link count confirms).
    let link = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()?
        .to_string_lossy()
        .into_owned();
    let fileless = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{pid}/exe")).is_ok_and(|m| m.nlink() == 0)
    };
    let kernel_path = link.trim_end_matches(" (deleted)").to_string();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args = split_nul(&cmdline);
    // Named like a live exec: argv[0] only when it is a link to that file in its directory
    // (`sh` -> /bin/sh for /bin/busybox).
    let exe = if fileless {
        link
    } else {
        seed_name(pid, &kernel_path, args.first().map(String::as_str))
    };
    let cgroup_path = crate::resolve::proc_cgroup_v2_path(pid)?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let glue = is_runtime_exec(&kernel_path)
        || kernel_path == "/"
        || kernel_path.is_empty()
        || comm.starts_with("runc:")
        || args.get(1).is_some_and(|a| a == "init") && args[0].ends_with("runc");
    Some(ProcSeed {
        pid,
        ppid,
        uid,
        gid,
        exe,
        exe_id: FileId::of_path(&format!("/proc/{pid}/exe")),
        fileless,
        args,
        cgroup_path,
        glue,
    })
}

/// The exec path of a process found running: `argv0` (absolute, or beside the file) when it
/// names the file at `kernel_path` from that file's directory, else `kernel_path`.
fn seed_name(pid: u32, kernel_path: &str, argv0: Option<&str>) -> String {
    let candidate = match argv0 {
        Some(a) if a.starts_with('/') => a.to_string(),
        Some(a) if !a.is_empty() && !a.contains('/') && kernel_path.starts_with('/') => {
            let dir = kernel_path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            format!("{dir}/{a}")
        }
        _ => return kernel_path.to_string(),
    };
    let candidate = crate::identity::normalize(&candidate);
    if candidate == kernel_path {
        return candidate;
    }
    match crate::identity::Root::of_pid(pid)
        .and_then(|r| r.names_file_in_its_directory(&candidate, kernel_path))
    {
        Some(true) => candidate,
        _ => kernel_path.to_string(),
    }
}

pub fn split_nul(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Build table entries from /proc seeds: the lineage of a process is its ancestors' exes
/// within the same cgroup. `cgroup_id` maps a cgroup path to its id.
pub fn seed(
    table: &mut ProcTable,
    seeds: &[ProcSeed],
    cgroup_id: &dyn Fn(&str) -> Option<u64>,
) -> usize {
    let by_pid: HashMap<u32, &ProcSeed> = seeds.iter().map(|s| (s.pid, s)).collect();
    let mut n = 0;
    for s in seeds {
        let Some(cg) = cgroup_id(&s.cgroup_path) else {
            continue;
        };
        let mut lineage = if s.glue {
            Vec::new()
        } else {
            vec![s.exe.clone()]
        };
        let mut cur = s;
        let mut guard = 0;
        while let Some(p) = by_pid.get(&cur.ppid) {
            if p.cgroup_path != s.cgroup_path || p.glue || guard > 64 {
                break;
            }
            lineage.push(p.exe.clone());
            cur = p;
            guard += 1;
        }
        lineage.reverse();
        if lineage.is_empty() {
            // Runtime glue: known, but without a workload lineage.
            table.insert(
                s.pid,
                ProcEntry {
                    lineage_cgroup: cg,
                    ppid: s.ppid,
                    exe_id: s.exe_id,
                    ..Default::default()
                },
            );
            n += 1;
            continue;
        }
        table.insert(
            s.pid,
            ProcEntry {
                lineage: Arc::new(lineage),
                lineage_cgroup: cg,
                args: Arc::new(s.args.clone()),
                uid: s.uid,
                gid: s.gid,
                ppid: s.ppid,
                exe_id: s.exe_id,
                fileless: s.fileless,
                ..Default::default()
            },
        );
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_follows_exec_inside_the_cgroup() {
        let mut t = ProcTable::default();
        // runc init: exec'd outside the container (cgroup 1), joins cgroup 7, execs sh.
        t.on_exec(10, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
        assert!(
            t.info(10, 7).is_none(),
            "runtime glue has no lineage in the container"
        );
        // Newer runc: re-exec through a memfd already inside the container cgroup.
        t.on_exec(
            10,
            7,
            "/dev/fd/6".into(),
            vec!["runc".into(), "init".into()],
            0,
            0,
        );
        assert!(t.info(10, 7).is_none(), "runc init is glue");
        // busybox re-exec'ing itself for an applet is workload once the tree has started.
        // (in another container: a second root in this one would be an exec session)
        t.on_exec(12, 8, "/bin/sh".into(), vec![], 0, 0);
        t.on_exec(12, 8, "/proc/self/exe".into(), vec!["cat".into()], 0, 0);
        assert_eq!(
            t.info(12, 8).unwrap().lineage(),
            vec!["/bin/sh", "/proc/self/exe"]
        );
        t.on_exec(10, 7, "/bin/sh".into(), vec!["sh".into()], 0, 0);
        t.on_fork(10, 11);
        let forked = t.info(11, 7).unwrap();
        assert_eq!(forked.exec_path, "/bin/sh");
        assert!(forked.ancestors.is_empty());
        t.on_exec(
            11,
            7,
            "/bin/cat".into(),
            vec!["cat".into(), "/etc/hosts".into()],
            5,
            6,
        );
        let cat = t.info(11, 7).unwrap();
        assert_eq!(cat.exec_path, "/bin/cat");
        assert_eq!(cat.ancestors, vec!["/bin/sh"]);
        assert_eq!((cat.uid, cat.gid), (5, 6));
        assert_eq!(cat.lineage(), vec!["/bin/sh", "/bin/cat"]);
        t.on_exit(11);
        assert!(t.info(11, 7).is_none());
    }

    /// `podman exec c /tmp/runc`: after runc init (glue), the exec'd program is workload
    /// whatever its name.
    #[test]
    fn a_workload_program_named_like_the_runtime_is_workload() {
        let mut t = ProcTable::default();
        t.on_exec(20, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
        t.on_exec(
            20,
            7,
            "/proc/self/exe".into(),
            vec!["runc".into(), "init".into()],
            0,
            0,
        );
        assert!(t.info(20, 7).is_none(), "runc init is glue");
        t.on_exec(20, 7, "/tmp/runc".into(), vec!["runc".into()], 0, 0);
        assert_eq!(t.info(20, 7).unwrap().lineage(), vec!["/tmp/runc"]);
        for name in [
            "/usr/bin/conmon",
            "/usr/local/bin/crun",
            "/tmp/containerd-shim",
        ] {
            let mut t = ProcTable::default();
            t.on_exec(30, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
            t.on_exec(30, 7, "/dev/fd/5".into(), vec![], 0, 0);
            t.on_exec(30, 7, name.into(), vec![], 0, 0);
            assert_eq!(t.info(30, 7).unwrap().exec_path, name, "{name} is workload");
        }
        // runc init re-executes itself twice (/proc/self/exe, then its memfd clone): glue
        let mut t = ProcTable::default();
        t.on_exec(40, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
        t.on_exec(40, 7, "/proc/self/exe".into(), vec![], 0, 0);
        t.on_exec(40, 7, "/dev/fd/5".into(), vec![], 0, 0);
        assert!(t.info(40, 7).is_none(), "runc init is glue");
        t.on_exec(40, 7, "/bin/sh".into(), vec![], 0, 0);
        assert_eq!(t.info(40, 7).unwrap().lineage(), vec!["/bin/sh"]);
    }

    /// With the kernel's identity, runc's init is glue because it runs the very file it was
    /// running (same device and inode: through /proc/self/exe, or a detached bind mount of
    /// itself the kernel has no path for) or a fileless copy; a copy of busybox named runc
    /// is another file and starts the workload.
    #[test]
    fn runtime_glue_by_the_kernels_file_identity() {
        let runc = FileId { dev: 8, ino: 1234 };
        let kernel = |path: &str, id: FileId, fileless: bool| ExecImage {
            path: path.into(),
            file_id: Some(id),
            fileless,
            ..Default::default()
        };
        let mut t = ProcTable::default();
        // conmon execs runc (host cgroup 1), runc forks its init
        t.on_exec(50, 1, kernel("/usr/sbin/runc", runc, false), vec![], 0, 0);
        t.on_fork(50, 51);
        // init re-execs the runtime's own binary, already in the container's cgroup 7,
        // under whatever name (the kernel has no path for a detached bind mount)
        t.on_exec(51, 7, kernel("/proc/self/exe", runc, false), vec![], 0, 0);
        assert!(t.info(51, 7).is_none(), "the same file again: glue");
        t.on_exec(51, 7, kernel("/usr/sbin/runc", runc, false), vec![], 0, 0);
        assert!(t.info(51, 7).is_none(), "and again: glue");
        // a memfd copy of itself
        t.on_exec(
            51,
            7,
            kernel(
                "/memfd:runc_cloned (deleted)",
                FileId { dev: 1, ino: 9 },
                true,
            ),
            vec![],
            0,
            0,
        );
        assert!(
            t.info(51, 7).is_none(),
            "a fileless copy before the workload: glue"
        );
        // the workload: a copy of busybox named runc is another file
        let copy = FileId { dev: 40, ino: 77 };
        t.on_exec(51, 7, kernel("/tmp/runc", copy, false), vec![], 0, 0);
        assert_eq!(t.info(51, 7).unwrap().lineage(), vec!["/tmp/runc"]);
        // once the tree has started, the same file again is workload (a self re-exec)
        t.on_exec(51, 7, kernel("/tmp/runc", copy, false), vec![], 0, 0);
        assert_eq!(
            t.info(51, 7).unwrap().lineage(),
            vec!["/tmp/runc", "/tmp/runc"]
        );
        // and so is a fileless exec, marked
        t.on_exec(
            51,
            7,
            kernel("/memfd:x (deleted)", FileId { dev: 1, ino: 10 }, true),
            vec![],
            0,
            0,
        );
        let p = t.info(51, 7).unwrap();
        assert!(p.fileless);
        assert_eq!(p.exec_path, "/memfd:x (deleted)");
        // a process started from a seed knows its file too
        let seeds = vec![ProcSeed {
            pid: 60,
            ppid: 1,
            uid: 0,
            gid: 0,
            exe: "/usr/sbin/runc".into(),
            exe_id: Some(runc),
            fileless: false,
            args: vec!["runc".into()],
            cgroup_path: "/conmon".into(),
            glue: false,
        }];
        let mut t = ProcTable::default();
        seed(&mut t, &seeds, &|_| Some(1));
        t.on_exec(60, 7, kernel("/", runc, false), vec![], 0, 0);
        assert!(
            t.info(60, 7).is_none(),
            "seeded runc re-executing itself: glue"
        );
        // a process we know nothing of: the kernel saw it execute the file it was running
        let mut t = ProcTable::default();
        let again = ExecImage {
            path: "/dev/fd/6".into(),
            file_id: Some(runc),
            same_file: Some(true),
            ..Default::default()
        };
        t.on_exec(70, 7, again, vec![], 0, 0);
        assert!(t.info(70, 7).is_none(), "the kernel's same-file mark: glue");
        t.on_exec(70, 7, kernel("/bin/sh", copy, false), vec![], 0, 0);
        assert_eq!(t.info(70, 7).unwrap().lineage(), vec!["/bin/sh"]);
        // the kernel did not see what it ran before (its execve entry was in the host's
        // cgroup): an fd exec before the workload is glue by its form
        let mut t = ProcTable::default();
        let unseen = ExecImage {
            path: "/usr/sbin/runc".into(),
            file_id: Some(runc),
            same_file: None,
            requested_magic: true,
            ..Default::default()
        };
        t.on_exec(80, 7, unseen.clone(), vec![], 0, 0);
        assert!(t.info(80, 7).is_none(), "unknown before, fd exec: glue");
        // known not to be the same file: the form does not matter
        let mut t = ProcTable::default();
        let other = ExecImage {
            same_file: Some(false),
            ..unseen
        };
        t.on_exec(81, 7, other, vec![], 0, 0);
        assert_eq!(t.info(81, 7).unwrap().lineage(), vec!["/usr/sbin/runc"]);
    }

    /// A process found running is named like a live exec: its argv[0] only when that names
    /// its file from the file's directory (real processes, real links).
    #[test]
    fn running_processes_are_named_by_their_file() {
        use std::os::unix::process::CommandExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().canonicalize().unwrap();
        let real = dir.join("real-sleep");
        std::fs::copy("/bin/sleep", &real).unwrap();
        std::os::unix::fs::symlink("real-sleep", dir.join("alias")).unwrap();
        std::fs::create_dir(dir.join("other")).unwrap();
        std::os::unix::fs::symlink(&real, dir.join("other/elsewhere")).unwrap();
        let spawn = |path: std::path::PathBuf, argv0: &str| {
            std::process::Command::new(path)
                .arg0(argv0)
                .arg("5")
                .spawn()
                .unwrap()
        };
        let real_s = real.to_str().unwrap().to_string();
        let alias = dir.join("alias").to_str().unwrap().to_string();
        let cases = [
            (spawn(dir.join("alias"), &alias), alias.clone()),
            (spawn(real.clone(), "alias"), alias.clone()),
            (spawn(real.clone(), "/usr/sbin/sshd"), real_s.clone()),
            (
                spawn(
                    dir.join("other/elsewhere"),
                    dir.join("other/elsewhere").to_str().unwrap(),
                ),
                real_s.clone(),
            ),
        ];
        std::thread::sleep(std::time::Duration::from_millis(100));
        for (mut child, want) in cases {
            let seed = read_proc(child.id());
            let _ = child.kill();
            let _ = child.wait();
            let seed = seed.expect("read_proc");
            assert_eq!(seed.exe, want, "argv {:?}", seed.args);
            assert!(!seed.fileless);
            assert!(seed.exe_id.is_some());
        }
    }

    /// Names are resolved in the roots of the exec'ing process and of the container's other
    /// workload processes, never of runtime glue (which may still sit in the host's root).
    #[test]
    fn roots_to_resolve_names_in_are_workload_of_the_container() {
        let mut t = ProcTable::default();
        t.on_exec(10, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
        t.on_exec(10, 7, "/dev/fd/6".into(), vec![], 0, 0);
        t.on_fork(10, 11);
        t.on_exec(11, 7, "/bin/sh".into(), vec![], 0, 0);
        t.on_fork(11, 12);
        t.on_fork(12, 13);
        t.on_exec(13, 7, "/bin/cat".into(), vec![], 0, 0);
        assert_eq!(t.same_cgroup_ancestry(13, 7, 4), vec![13, 12, 11]);
        assert_eq!(
            t.same_cgroup_ancestry(11, 7, 4),
            vec![11],
            "runc init is glue"
        );
        assert_eq!(t.same_cgroup_ancestry(13, 7, 2), vec![13, 12]);
        let mut all = t.in_cgroup(7, 8);
        all.sort();
        assert_eq!(all, vec![11, 12, 13]);
        assert!(t.in_cgroup(9, 8).is_empty());
    }

    /// `podman exec` into a running container: a new root while the container's processes
    /// run is an exec session; a restarted container's entrypoint is not.
    #[test]
    fn a_new_root_in_a_running_container_is_an_exec_session() {
        let mut t = ProcTable::default();
        // the entrypoint
        t.on_exec(10, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
        t.on_exec(10, 7, "/dev/fd/5".into(), vec![], 0, 0);
        t.on_exec(10, 7, "/bin/sleep".into(), vec![], 0, 0);
        assert_eq!(t.info(10, 7).unwrap().lineage(), vec!["/bin/sleep"]);
        // podman exec c sh: runc init, then sh, which runs cat
        t.on_exec(20, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
        t.on_exec(20, 7, "/proc/self/exe".into(), vec![], 0, 0);
        t.on_exec(20, 7, "/bin/sh".into(), vec![], 0, 0);
        let sh = t.info(20, 7).unwrap();
        assert_eq!(sh.lineage(), vec![model::event::EXEC_SESSION, "/bin/sh"]);
        t.on_fork(20, 21);
        t.on_exec(21, 7, "/bin/cat".into(), vec![], 0, 0);
        assert_eq!(
            t.info(21, 7).unwrap().lineage(),
            vec![model::event::EXEC_SESSION, "/bin/sh", "/bin/cat"]
        );
        // the container stops; it restarts: the new entrypoint is a root again
        for p in [10, 20, 21] {
            t.on_exit(p);
        }
        t.on_exec(30, 1, "/usr/sbin/runc".into(), vec![], 0, 0);
        t.on_exec(30, 7, "/dev/fd/5".into(), vec![], 0, 0);
        t.on_exec(30, 7, "/bin/sleep".into(), vec![], 0, 0);
        assert_eq!(t.info(30, 7).unwrap().lineage(), vec!["/bin/sleep"]);
    }

    #[test]
    fn seeding_builds_lineage_within_a_cgroup() {
        let mk = |pid, ppid, exe: &str, cg: &str| ProcSeed {
            pid,
            ppid,
            uid: 0,
            gid: 0,
            exe: exe.into(),
            exe_id: None,
            fileless: false,
            args: vec![exe.into()],
            cgroup_path: cg.into(),
            glue: exe.ends_with("runc"),
        };
        let seeds = vec![
            mk(1, 0, "/sbin/init", "/"),
            mk(50, 1, "/usr/bin/conmon", "/libpod_parent/conmon"),
            mk(60, 50, "/usr/sbin/runc", "/c2"),
            mk(51, 50, "/bin/sh", "/c1"),
            mk(52, 51, "/usr/bin/sleep", "/c1"),
        ];
        let mut t = ProcTable::default();
        let n = seed(&mut t, &seeds, &|p: &str| Some(p.len() as u64));
        assert_eq!(n, 5);
        assert!(t.info(60, 4).is_none(), "runc init is glue");
        let sleep = t.info(52, 3).unwrap();
        assert_eq!(sleep.lineage(), vec!["/bin/sh", "/usr/bin/sleep"]);
        assert_eq!(t.info(51, 3).unwrap().lineage(), vec!["/bin/sh"]);
    }
}
