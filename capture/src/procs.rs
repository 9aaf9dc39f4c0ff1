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
    /// cgroup the lineage was built in.
    pub lineage_cgroup: u64,
    pub args: Arc<Vec<String>>,
    pub uid: u32,
    pub gid: u32,
    pub ppid: u32,
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
        path: String,
        args: Vec<String>,
        uid: u32,
        gid: u32,
    ) {
        let e = self.procs.entry(pid).or_default();
        let workload = e.lineage_cgroup == cgroup && !e.lineage.is_empty();
        // Runtime glue is recognised by where it sits and how it execs, not by a name: a
        // process with no workload lineage in this cgroup yet (it came from the runtime,
        // outside) re-executing through /proc/self/exe, a /dev/fd/N or a memfd copy (runc
        // init does one or two of these); its first other exec starts the workload's tree,
        // whatever the program is called.
        if !workload && is_runtime_exec(&path) {
            // The runtime re-exec'ing itself inside the new cgroup (`runc init` from a
            // memfd): glue, not workload; the workload's tree starts at its next exec.
            e.lineage = Arc::new(Vec::new());
            e.lineage_cgroup = cgroup;
            return;
        }
        let mut lineage: Vec<String> = if workload {
            e.lineage.as_ref().clone()
        } else {
            Vec::new()
        };
        lineage.push(path);
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
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()?
        .to_string_lossy()
        .trim_end_matches(" (deleted)")
        .to_string();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args = split_nul(&cmdline);
    let cgroup_path = crate::resolve::proc_cgroup_v2_path(pid)?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let glue = is_runtime_exec(&exe)
        || exe == "/"
        || exe.is_empty()
        || comm.starts_with("runc:")
        || args.get(1).is_some_and(|a| a == "init") && args[0].ends_with("runc");
    Some(ProcSeed {
        pid,
        ppid,
        uid,
        gid,
        exe,
        args,
        cgroup_path,
        glue,
    })
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
