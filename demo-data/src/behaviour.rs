//! How an image version behaves, as data: its processes (with the process that starts each
//! one, which gives the exec lineage) and its activities (what the processes do, how often).
//!
//! Strings in file paths, DNS names, addresses and argv may hold placeholders that the
//! generator fills per activity run: `{tmp}` a temp-file name (`Xa81kq`, the same within
//! one run), `{pid}` the pid of the process doing the op, `{oct}` an address octet.

use model::{Access, EventKind};

/// Index of a process in [`ImageModel::procs`].
pub type ProcId = usize;

/// One executable as it runs in the image.
#[derive(Debug, Clone)]
pub struct Proc {
    pub path: String,
    pub args: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    /// The process that starts this one; `None` for a container root (init, or a process
    /// entered with `exec`).
    pub parent: Option<ProcId>,
}

/// How often an activity happens in a snapshot interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Freq {
    /// Once, at the start of the container's first interval.
    Startup,
    /// In every interval.
    Every,
    /// In an interval with this probability.
    Chance(f64),
}

/// Which events of an activity go to the bundle's event stream (all of them always go
/// into the snapshot's activity tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    None,
    /// Only the exec events.
    Execs,
    All,
}

/// One thing a process does.
#[derive(Debug, Clone)]
pub struct Op {
    pub proc: ProcId,
    pub kind: EventKind,
}

/// A named piece of behaviour: ops run in order, a little apart.
#[derive(Debug, Clone)]
pub struct Activity {
    pub name: &'static str,
    pub freq: Freq,
    pub stream: Stream,
    /// Gap between consecutive ops, in ms (min, max).
    pub gap_ms: (i64, i64),
    pub ops: Vec<Op>,
}

/// The behaviour of one image version.
#[derive(Debug, Clone)]
pub struct ImageModel {
    pub image: &'static str,
    pub version: &'static str,
    pub procs: Vec<Proc>,
    pub activities: Vec<Activity>,
    /// Processes other parts of the generator refer to (outliers), by role name.
    pub roles: Vec<(&'static str, ProcId)>,
}

pub const R: Access = Access::READ;
pub const W: Access = Access::WRITE;
/// Write to a new or truncated file.
pub const WC: Access = Access(Access::WRITE.0 | Access::CREATE.0 | Access::TRUNCATE.0);
/// Append-style write that may create the file (logs).
pub const WA: Access = Access(Access::WRITE.0 | Access::CREATE.0);
pub const RW: Access = Access(Access::READ.0 | Access::WRITE.0);

impl ImageModel {
    pub fn new(image: &'static str, version: &'static str) -> ImageModel {
        ImageModel {
            image,
            version,
            procs: Vec::new(),
            activities: Vec::new(),
            roles: Vec::new(),
        }
    }

    /// Names a process for later lookup with [`ImageModel::role`].
    pub fn set_role(&mut self, role: &'static str, p: ProcId) {
        self.roles.push((role, p));
    }

    /// The process named `role`. Panics if there is none: a generator bug.
    pub fn role(&self, role: &str) -> ProcId {
        self.roles
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("{}:{} has no `{role}` process", self.image, self.version))
    }

    /// Adds a process; `args` is the full argv (argv\[0\] included).
    pub fn proc(
        &mut self,
        parent: Option<ProcId>,
        path: &str,
        args: &[&str],
        uid: u32,
        gid: u32,
    ) -> ProcId {
        self.procs.push(Proc {
            path: path.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            uid,
            gid,
            parent,
        });
        self.procs.len() - 1
    }

    /// A child process with its parent's uid and gid.
    pub fn child(&mut self, parent: ProcId, path: &str, args: &[&str]) -> ProcId {
        let (uid, gid) = (self.procs[parent].uid, self.procs[parent].gid);
        self.proc(Some(parent), path, args, uid, gid)
    }

    /// Adds an activity and returns it for its ops to be added.
    pub fn activity(&mut self, name: &'static str, freq: Freq, stream: Stream) -> &mut Activity {
        self.activities.push(Activity::new(name, freq, stream));
        self.activities.last_mut().expect("just pushed")
    }

    /// Exec paths of the ancestors of `p`, nearest (parent) first.
    pub fn ancestors(&self, p: ProcId) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = self.procs[p].parent;
        while let Some(q) = cur {
            out.push(self.procs[q].path.clone());
            cur = self.procs[q].parent;
        }
        out
    }
}

impl Activity {
    pub fn new(name: &'static str, freq: Freq, stream: Stream) -> Activity {
        Activity {
            name,
            freq,
            stream,
            gap_ms: (2, 250),
            ops: Vec::new(),
        }
    }

    pub fn gaps(&mut self, min_ms: i64, max_ms: i64) -> &mut Self {
        self.gap_ms = (min_ms, max_ms);
        self
    }

    pub fn op(&mut self, proc: ProcId, kind: EventKind) -> &mut Self {
        self.ops.push(Op { proc, kind });
        self
    }

    pub fn exec(&mut self, p: ProcId) -> &mut Self {
        self.op(p, EventKind::Exec)
    }

    pub fn open(&mut self, p: ProcId, path: &str, access: Access) -> &mut Self {
        self.op(
            p,
            EventKind::Open {
                path: path.to_string(),
                access,
                errno: 0,
                requested: None,
            },
        )
    }

    pub fn read(&mut self, p: ProcId, paths: &[&str]) -> &mut Self {
        for path in paths {
            self.open(p, path, R);
        }
        self
    }

    pub fn unlink(&mut self, p: ProcId, path: &str) -> &mut Self {
        self.op(
            p,
            EventKind::Unlink {
                path: path.to_string(),
            },
        )
    }

    pub fn rename(&mut self, p: ProcId, from: &str, to: &str) -> &mut Self {
        self.op(
            p,
            EventKind::Rename {
                from: from.to_string(),
                to: to.to_string(),
            },
        )
    }

    pub fn chmod(&mut self, p: ProcId, path: &str, mode: u32) -> &mut Self {
        self.op(
            p,
            EventKind::Chmod {
                path: path.to_string(),
                mode,
            },
        )
    }

    pub fn chown(&mut self, p: ProcId, path: &str, uid: u32, gid: u32) -> &mut Self {
        self.op(
            p,
            EventKind::Chown {
                path: path.to_string(),
                uid,
                gid,
            },
        )
    }

    pub fn dns(&mut self, p: ProcId, name: &str) -> &mut Self {
        self.op(
            p,
            EventKind::Dns {
                name: name.to_string(),
                qtype: "A".into(),
            },
        )
    }

    /// A DNS A and AAAA question (what glibc's resolver asks in parallel).
    pub fn dns46(&mut self, p: ProcId, name: &str) -> &mut Self {
        self.dns(p, name).op(
            p,
            EventKind::Dns {
                name: name.to_string(),
                qtype: "AAAA".into(),
            },
        )
    }

    pub fn connect(&mut self, p: ProcId, addr: &str, port: u16) -> &mut Self {
        let family = if addr.starts_with('/') {
            "unix"
        } else if addr.contains(':') {
            "tcp6"
        } else {
            "tcp"
        };
        self.op(
            p,
            EventKind::Connect {
                family: family.into(),
                addr: addr.to_string(),
                port,
            },
        )
    }

    pub fn bind(&mut self, p: ProcId, addr: &str, port: u16) -> &mut Self {
        let family = if addr.starts_with('/') {
            "unix"
        } else if addr.contains(':') {
            "tcp6"
        } else {
            "tcp"
        };
        self.op(
            p,
            EventKind::Bind {
                family: family.into(),
                addr: addr.to_string(),
                port,
            },
        )
    }

    /// Drop privileges: setgid then setuid.
    pub fn drop_to(&mut self, p: ProcId, uid: u32, gid: u32) -> &mut Self {
        self.op(p, EventKind::Setgid { gid })
            .op(p, EventKind::Setuid { uid })
    }
}
