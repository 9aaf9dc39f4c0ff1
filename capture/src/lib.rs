//! wsprof live capture (user side): loads the eBPF programs of `capture-ebpf`, reads their
//! ring buffer, resolves cgroups to containers and images, keeps process lineage, builds an
//! activity tree per container and cuts snapshots every interval.
//!
//! ```no_run
//! let mut cap = capture::Capture::start(capture::CaptureOptions::default())?;
//! while let Some(out) = cap.recv_timeout(std::time::Duration::from_secs(1)) {
//!     match out {
//!         capture::CaptureOutput::Snapshot(s) => println!("{}", s.id),
//!         capture::CaptureOutput::Event(e) => println!("{}", e.summary()),
//!         capture::CaptureOutput::Stats(st) => println!("{} events", st.events),
//!     }
//! }
//! # Ok::<(), capture::CaptureError>(())
//! ```

pub mod btf;
pub mod convert;
pub mod freezer;
pub mod identity;
pub mod loader;
pub mod procs;
pub mod profiler;
pub mod resolve;
pub mod runtime;

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use capture_common::*;
use model::{ContainerRef, Event, EventKind, Snapshot};
use procs::ProcTable;
use profiler::{Admission, Profiler};
use resolve::{CgroupKind, Resolver};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why capture could not start (or stopped). Each renders as one line for the CLI.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("live capture needs root (run with sudo)")]
    NotRoot,
    #[error("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing); live capture needs CONFIG_DEBUG_INFO_BTF")]
    NoBtf,
    #[error("tracefs is not available at /sys/kernel/tracing: {0}")]
    NoTracefs(String),
    #[error("no cgroup v2 hierarchy is mounted (needed for container ids)")]
    NoCgroup2,
    #[error("the kernel lacks tracepoint {0}")]
    MissingTracepoint(String),
    #[error("the kernel rejected eBPF program `{program}`: {reason}")]
    ProgramRejected { program: String, reason: String },
    /// The kernel's BTF lacks a struct member the programs read (named in the message).
    #[error("{0} (live capture reads it to name executed files)")]
    Btf(String),
    #[error("loading the eBPF programs failed: {0}")]
    Load(String),
    #[error("eBPF map `{0}` is missing or has the wrong type")]
    Map(String),
    #[error("capture thread failed: {0}")]
    Thread(String),
}

/// How to capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Snapshot cut interval (`--snapshot-interval`, default 30 min).
    pub snapshot_interval: Duration,
    /// Most containers profiled at once (`--max-containers`, default 5).
    pub max_containers: usize,
    /// Docker-compatible API sockets (`--runtime-socket`); empty = docker and podman defaults.
    pub runtime_sockets: Vec<PathBuf>,
    /// Also profile host processes outside containers (`--host`).
    pub capture_host: bool,
    /// Send every event as `CaptureOutput::Event` (for live signal detection).
    pub emit_events: bool,
    /// How often `CaptureOutput::Stats` is sent (default 1 s).
    pub stats_interval: Duration,
    /// Host name put in snapshots (default: this host's name).
    pub host_name: Option<String>,
    /// Mount tracefs when it is missing (default true).
    pub mount_tracefs: bool,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            snapshot_interval: Duration::from_secs(30 * 60),
            max_containers: 5,
            runtime_sockets: Vec::new(),
            capture_host: false,
            emit_events: false,
            stats_interval: Duration::from_secs(1),
            host_name: None,
            mount_tracefs: true,
        }
    }
}

/// What capture hands out.
#[derive(Debug, Clone)]
pub enum CaptureOutput {
    Snapshot(Snapshot),
    Event(Event),
    Stats(CaptureStats),
}

/// Capture counters (cumulative since start, except `events_per_sec`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaptureStats {
    /// Records read from the ring buffer.
    pub events: u64,
    /// Records the kernel could not put in the ring buffer (ring full): lost events.
    pub lost: u64,
    /// Events dropped in user space because the consumer of [`Capture`]'s queue fell
    /// behind (the queue is bounded; snapshots are never dropped, events are).
    #[serde(default)]
    pub queue_dropped: u64,
    /// Lost records per kind name.
    pub drops_by_kind: BTreeMap<String, u64>,
    /// Records the kernel sent, per kind name.
    pub sent_by_kind: BTreeMap<String, u64>,
    /// Repeated identical file accesses suppressed in the kernel.
    pub dedup_hits: u64,
    /// Records that failed to decode.
    pub decode_errors: u64,
    /// Events recorded into a container's activity tree.
    pub recorded: u64,
    /// Events from processes outside containers (ignored unless host capture is on).
    pub ignored_host: u64,
    /// Events of containers waiting for a profiling slot (checked by detection, not put
    /// into a snapshot).
    pub ignored_waiting: u64,
    /// Events from runtime glue (processes with no exec inside the container yet).
    pub ignored_glue: u64,
    pub snapshots: u64,
    pub events_per_sec: f64,
    pub profiled: Vec<ContainerRef>,
    pub waiting_containers: usize,
    pub attached_programs: usize,
    pub skipped_programs: Vec<String>,
    /// Containers seen whose runtime could not name their image: short id -> why
    /// ("containerd at /x.sock: connection refused").
    #[serde(default)]
    pub unresolved: BTreeMap<String, String>,
}

/// Outputs queued for the consumer at most; past that, events are dropped and counted
/// (`queue_dropped`) rather than memory growing without bound.
pub const QUEUE: usize = 16 * 1024;

/// A running capture. Dropping it stops capture (without waiting for the final snapshots;
/// call [`Capture::stop`] for those).
pub struct Capture {
    rx: Receiver<CaptureOutput>,
    stop: Arc<AtomicBool>,
    cut: Arc<AtomicBool>,
    stats: Arc<Mutex<CaptureStats>>,
    thread: Option<JoinHandle<Result<(), CaptureError>>>,
}

impl Capture {
    /// Check prerequisites, load and attach the programs, seed processes from /proc and
    /// start the capture thread. Errors are one line each (see [`CaptureError`]).
    pub fn start(opts: CaptureOptions) -> Result<Capture, CaptureError> {
        loader::preflight(opts.mount_tracefs)?;
        let cgroup_root = resolve::cgroup2_mount().ok_or(CaptureError::NoCgroup2)?;
        let (mut bpf, mut attached) = loader::load_and_attach(&cgroup_root)?;
        let file_exit_links = std::mem::take(&mut attached.file_exit_links);
        let host_cgroup = std::fs::metadata(&cgroup_root)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .map_err(|_| CaptureError::NoCgroup2)?;
        let mut config: Array<MapData, u64> = Array::try_from(
            bpf.take_map("CONFIG")
                .ok_or_else(|| CaptureError::Map("CONFIG".into()))?,
        )
        .map_err(|_| CaptureError::Map("CONFIG".into()))?;
        let counters: PerCpuArray<MapData, u64> = PerCpuArray::try_from(
            bpf.take_map("COUNTERS")
                .ok_or_else(|| CaptureError::Map("COUNTERS".into()))?,
        )
        .map_err(|_| CaptureError::Map("COUNTERS".into()))?;
        let ring: RingBuf<MapData> = RingBuf::try_from(
            bpf.take_map("EVENTS")
                .ok_or_else(|| CaptureError::Map("EVENTS".into()))?,
        )
        .map_err(|_| CaptureError::Map("EVENTS".into()))?;
        let fork_off = loader::tracepoint_field_offset("sched", "sched_process_fork", "child_pid")
            .unwrap_or(20);
        let exit_off =
            loader::tracepoint_field_offset("sched", "sched_process_exit", "pid").unwrap_or(24);
        let set = |c: &mut Array<MapData, u64>, i: u32, v: u64| {
            c.set(i, v, 0)
                .map_err(|e| CaptureError::Map(format!("CONFIG[{i}]: {e}")))
        };
        set(&mut config, CFG_HOST_CGROUP, host_cgroup)?;
        set(&mut config, CFG_CAPTURE_HOST, opts.capture_host as u64)?;
        set(&mut config, CFG_SELF_TGID, std::process::id() as u64)?;
        set(&mut config, CFG_DEDUP_EPOCH, 0)?;
        set(&mut config, CFG_FORK_CHILD_OFF, fork_off)?;
        set(&mut config, CFG_EXIT_PID_OFF, exit_off)?;

        let host = opts.host_name.clone().unwrap_or_else(host_name);
        let mut engine = Engine::new(&opts, cgroup_root, host_cgroup, host);
        engine.stats.attached_programs = attached.attached.len();
        engine.stats.skipped_programs = attached.skipped.clone();
        // Seed before enabling, then enable: events from here on update the seeded table.
        let seeded = engine.seed_from_proc();
        set(&mut config, CFG_READY, 1)?;
        tracing::info!(
            programs = attached.attached.len(),
            skipped = attached.skipped.len(),
            seeded,
            "capture started"
        );

        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(engine.stats.clone()));
        let thread = {
            let (stop, cut, stats) = (stop.clone(), cut.clone(), stats.clone());
            std::thread::Builder::new()
                .name("wsprof-capture".into())
                .spawn(move || {
                    let programs = Programs {
                        bpf,
                        file_exit_links,
                    };
                    let r = run_loop(
                        programs, ring, config, counters, engine, tx, &stop, &cut, &stats, opts,
                    );
                    if let Err(e) = &r {
                        tracing::error!("capture stopped: {e}");
                    }
                    r
                })
                .map_err(|e| CaptureError::Thread(e.to_string()))?
        };
        Ok(Capture {
            rx,
            stop,
            cut,
            stats,
            thread: Some(thread),
        })
    }

    /// The outputs channel (snapshots, events when asked for, stats).
    pub fn receiver(&self) -> &Receiver<CaptureOutput> {
        &self.rx
    }

    /// Next output, waiting at most `timeout`; None on timeout or when capture has ended.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<CaptureOutput> {
        match self.rx.recv_timeout(timeout) {
            Ok(o) => Some(o),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Latest counters.
    pub fn stats(&self) -> CaptureStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Cut snapshots now instead of waiting for the interval.
    pub fn cut_now(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    /// Is the capture thread still running?
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stop: drain the ring buffer, emit the last snapshot of every profiled container and
    /// detach. The final outputs stay readable on [`Capture::receiver`].
    pub fn stop(&mut self) -> Result<CaptureStats, CaptureError> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| CaptureError::Thread("capture thread panicked".into()))??;
        }
        Ok(self.stats())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The loaded object and the links stopping detaches itself (see [`detach`]).
struct Programs {
    bpf: aya::Ebpf,
    file_exit_links: Vec<loader::FileExitLinkId>,
}

/// How often the ring buffer is drained when no backlog wakes the reader (milliseconds):
/// the most an event waits before rules and the profile see it.
const DRAIN_EVERY_MS: i32 = 20;

#[allow(clippy::too_many_arguments)]
fn run_loop(
    programs: Programs,
    mut ring: RingBuf<MapData>,
    mut config: Array<MapData, u64>,
    counters: PerCpuArray<MapData, u64>,
    mut engine: Engine,
    tx: SyncSender<CaptureOutput>,
    stop: &AtomicBool,
    cut: &AtomicBool,
    shared: &Mutex<CaptureStats>,
    opts: CaptureOptions,
) -> Result<(), CaptureError> {
    let fd = ring.as_raw_fd();
    let mut next_cut = Instant::now() + opts.snapshot_interval;
    let mut next_stats = Instant::now();
    let mut last_rate = (Instant::now(), 0u64);
    let mut epoch = 0u64;
    let queue_dropped = std::cell::Cell::new(0u64);
    // Events are dropped (counted) when the consumer falls behind; a snapshot waits for
    // room (losing one would lose a whole interval of a container); counters are sent again
    // a second later anyway.
    let send = |o: CaptureOutput| match o {
        CaptureOutput::Event(_) => {
            if let Err(mpsc::TrySendError::Full(_)) = tx.try_send(o) {
                queue_dropped.set(queue_dropped.get() + 1);
            }
        }
        CaptureOutput::Stats(_) => {
            let _ = tx.try_send(o);
        }
        CaptureOutput::Snapshot(_) => {
            let _ = tx.send(o);
        }
    };
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        if !stopping {
            // The kernel side wakes us only when a backlog builds; otherwise drain on a
            // short timer, so events are handled in batches.
            unsafe { libc::poll(&mut pfd, 1, DRAIN_EVERY_MS) };
        }
        while let Some(item) = ring.next() {
            let decoded = decode(&item);
            drop(item);
            match decoded {
                Ok(raw) => {
                    for o in engine.handle(&raw) {
                        send(o);
                    }
                }
                Err(e) => {
                    engine.stats.decode_errors += 1;
                    tracing::debug!("undecodable record: {e}");
                }
            }
        }
        let now = Instant::now();
        let want_cut = cut.swap(false, Ordering::SeqCst) || now >= next_cut;
        if want_cut {
            next_cut = now + opts.snapshot_interval;
            epoch += 1;
            let _ = config.set(CFG_DEDUP_EPOCH, epoch, 0);
            for s in engine.cut() {
                send(CaptureOutput::Snapshot(s));
            }
        }
        if now >= next_stats || stopping {
            next_stats = now + opts.stats_interval;
            for s in engine.reap_gone() {
                send(CaptureOutput::Snapshot(s));
            }
            read_counters(&counters, &mut engine.stats);
            engine.stats.queue_dropped = queue_dropped.get();
            let dt = last_rate.0.elapsed().as_secs_f64();
            if dt > 0.0 {
                engine.stats.events_per_sec = (engine.stats.events - last_rate.1) as f64 / dt;
            }
            last_rate = (Instant::now(), engine.stats.events);
            engine.stats.profiled = engine.profiler.profiled();
            engine.stats.waiting_containers = engine.profiler.waiting();
            engine.stats.unresolved = engine.resolver.unresolved_seen();
            if let Ok(mut s) = shared.lock() {
                *s = engine.stats.clone();
            }
            send(CaptureOutput::Stats(engine.stats.clone()));
        }
        if stopping {
            // One more drain happened above; flush and finish.
            for s in engine.flush() {
                send(CaptureOutput::Snapshot(s));
            }
            read_counters(&counters, &mut engine.stats);
            engine.stats.queue_dropped = queue_dropped.get();
            engine.stats.profiled = engine.profiler.profiled();
            if let Ok(mut s) = shared.lock() {
                *s = engine.stats.clone();
            }
            let _ = tx.send(CaptureOutput::Stats(engine.stats.clone()));
            let _ = config.set(CFG_READY, 0, 0);
            let t = Instant::now();
            drop(ring);
            detach(programs);
            tracing::info!(
                ms = t.elapsed().as_millis() as u64,
                "eBPF programs detached"
            );
            return Ok(());
        }
    }
}

/// Detach and unload every program at once: each detach waits for a kernel grace period
/// (about 70 ms here), so one after the other 59 programs took 4 s; in parallel the waits
/// overlap. The shared `sys_exit_file` program has one link per file syscall: its links are
/// taken out and dropped (detached) each on its own thread too, or its unload would detach
/// them one after the other.
fn detach(programs: Programs) {
    let Programs {
        mut bpf,
        file_exit_links,
    } = programs;
    let links: Vec<_> = match bpf
        .program_mut("sys_exit_file")
        .and_then(|p| <&mut aya::programs::TracePoint>::try_from(p).ok())
    {
        Some(p) => file_exit_links
            .into_iter()
            .filter_map(|id| p.take_link(id).ok())
            .collect(),
        None => Vec::new(),
    };
    std::thread::scope(|scope| {
        for link in links {
            scope.spawn(move || drop(link));
        }
    });
    std::thread::scope(|scope| {
        for (name, prog) in bpf.programs_mut() {
            scope.spawn(move || {
                use aya::programs::Program;
                let r = match prog {
                    Program::TracePoint(p) => p.unload(),
                    Program::RawTracePoint(p) => p.unload(),
                    Program::BtfTracePoint(p) => p.unload(),
                    Program::CgroupSockAddr(p) => p.unload(),
                    Program::CgroupSkb(p) => p.unload(),
                    Program::CgroupSock(p) => p.unload(),
                    // other kinds are not used here; they go with the object
                    _ => Ok(()),
                };
                if let Err(e) = r {
                    tracing::debug!(program = name, "unload: {e}");
                }
            });
        }
    });
}

fn read_counters(counters: &PerCpuArray<MapData, u64>, st: &mut CaptureStats) {
    let get = |i: u32| -> u64 {
        counters
            .get(&i, 0)
            .map(|v| v.iter().sum::<u64>())
            .unwrap_or(0)
    };
    let mut lost = 0;
    for (kind, name) in KINDS {
        let sent = get(COUNTER_SENT + kind as u32);
        let dropped = get(COUNTER_DROPPED + kind as u32);
        lost += dropped;
        if sent > 0 {
            st.sent_by_kind.insert(name.to_string(), sent);
        }
        if dropped > 0 {
            st.drops_by_kind.insert(name.to_string(), dropped);
        }
    }
    st.lost = lost;
    st.dedup_hits = get(COUNTER_DEDUP);
}

/// The user-side state machine: raw records in, snapshots and events out. Holds no kernel
/// resources, so it is testable with synthetic records.
pub struct Engine {
    pub procs: ProcTable,
    pub resolver: Resolver,
    pub profiler: Profiler,
    pub stats: CaptureStats,
    capture_host: bool,
    emit_events: bool,
    host_cgroup: u64,
    /// Monotonic -> wall clock offset.
    boot_offset_ms: i64,
    /// First time each container was seen (its start, for eviction order).
    first_seen: HashMap<String, i64>,
    /// cgroup id and path of each container / host workload seen.
    cgroups_of: HashMap<String, (u64, String)>,
    /// This host's name: every container is tagged `host:NAME`.
    host: String,
    /// Names executed files (the caller's name or the kernel's path).
    pub identity: identity::Identity,
}

impl Engine {
    pub fn new(
        opts: &CaptureOptions,
        cgroup_root: PathBuf,
        host_cgroup: u64,
        host: String,
    ) -> Engine {
        let boot_offset_ms = now_ms() - (monotonic_ns() / 1_000_000) as i64;
        Engine {
            procs: ProcTable::default(),
            resolver: Resolver::new(cgroup_root, opts.runtime_sockets.clone()),
            profiler: Profiler::new(opts.max_containers, host.clone()),
            host,
            stats: CaptureStats::default(),
            capture_host: opts.capture_host,
            emit_events: opts.emit_events,
            host_cgroup,
            boot_offset_ms,
            first_seen: HashMap::new(),
            cgroups_of: HashMap::new(),
            identity: identity::Identity::default(),
        }
    }

    /// Seed the process table from /proc; returns how many processes were seeded.
    pub fn seed_from_proc(&mut self) -> usize {
        let mut seeds = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                    if let Some(s) = procs::read_proc(pid) {
                        seeds.push(s);
                    }
                }
            }
        }
        let root = self.resolver.cgroup_root().to_path_buf();
        let mut ids: HashMap<String, u64> = HashMap::new();
        for s in &seeds {
            if !ids.contains_key(&s.cgroup_path) {
                if let Ok(md) = std::fs::metadata(root.join(s.cgroup_path.trim_start_matches('/')))
                {
                    let id = std::os::unix::fs::MetadataExt::ino(&md);
                    ids.insert(s.cgroup_path.clone(), id);
                    self.resolver.remember(id, &s.cgroup_path);
                }
            }
        }
        procs::seed(&mut self.procs, &seeds, &|p: &str| ids.get(p).copied())
    }

    fn ts_ms(&self, h: &Header) -> i64 {
        self.boot_offset_ms + (h.ts_ns / 1_000_000) as i64
    }

    /// Which workload an event belongs to; None = ignored (host, capture_host off).
    fn workload(&mut self, h: &Header) -> Option<ContainerRef> {
        if h.cgroup_id == self.host_cgroup && !self.capture_host {
            return None;
        }
        match self.resolver.cgroup(h.cgroup_id, h.tgid)? {
            CgroupKind::Container { id, path } => {
                self.cgroups_of
                    .entry(id.clone())
                    .or_insert((h.cgroup_id, path));
                let mut c = self.resolver.container_ref(&id);
                c.set_tag(model::event::TAG_HOST, &self.host);
                Some(c)
            }
            CgroupKind::Host { path } => {
                if !self.capture_host {
                    return None;
                }
                let unit = path
                    .rsplit('/')
                    .find(|c| c.ends_with(".service") || c.ends_with(".scope"))
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        if path == "/" {
                            "host".into()
                        } else {
                            path.clone()
                        }
                    });
                let id = format!("host:{path}");
                let version = self
                    .procs
                    .get(h.tgid)
                    .and_then(|e| e.lineage.first().cloned())
                    .map(|exe| exe_hash(&exe))
                    .unwrap_or_else(|| "unknown".into());
                self.cgroups_of
                    .entry(id.clone())
                    .or_insert((h.cgroup_id, path));
                Some(ContainerRef {
                    id,
                    image: unit,
                    version,
                    ..Default::default()
                })
            }
        }
    }

    /// Handle one record; returns outputs (events when asked for, evicted snapshots).
    pub fn handle(&mut self, raw: &RawEvent) -> Vec<CaptureOutput> {
        self.stats.events += 1;
        let h = *raw.header();
        let kind = match raw {
            RawEvent::Fork(p) => {
                self.ensure_known(p.b);
                self.procs.on_fork(p.b, p.a);
                return Vec::new();
            }
            RawEvent::Exit(p) => {
                self.procs.on_exit(p.a);
                return Vec::new();
            }
            RawEvent::Exec(e) => {
                let image = self.exec_image(&h, e);
                let argv_len = (e.argv_len as usize).min(ARGV_LEN);
                let args = procs::split_nul(&e.argv[..argv_len]);
                self.ensure_known(h.tgid);
                self.procs
                    .on_exec(h.tgid, h.cgroup_id, image, args, h.uid, h.gid);
                Some(EventKind::Exec)
            }
            RawEvent::File(f) => convert::file_kind(f),
            RawEvent::Net(n) => convert::net_kind(n),
            RawEvent::Dns(d) => convert::dns_kind(d),
            RawEvent::Kernel(k) => convert::kernel_kind(k),
        };
        let Some(kind) = kind else { return Vec::new() };
        let Some(container) = self.workload(&h) else {
            self.stats.ignored_host += 1;
            return Vec::new();
        };
        self.ensure_known(h.tgid);
        let Some(process) = self.procs.info(h.tgid, h.cgroup_id) else {
            tracing::trace!(pid = h.tgid, cgroup = h.cgroup_id, entry = ?self.procs.get(h.tgid), ?kind, "runtime glue event dropped");
            self.stats.ignored_glue += 1;
            return Vec::new();
        };
        let ts_ms = self.ts_ms(&h);
        let started = *self.first_seen.entry(container.id.clone()).or_insert(ts_ms);
        let ev = Event {
            ts_ms,
            container,
            process,
            kind,
        };
        let mut out = Vec::new();
        let (adm, evicted) = self.profiler.record(&ev, started, now_ms());
        if let Some(s) = evicted {
            self.stats.snapshots += 1;
            out.push(CaptureOutput::Snapshot(s));
        }
        // Slots limit what goes into snapshots, never what detection sees: every
        // container's events go out, profiled or waiting for a slot.
        match adm {
            Admission::Recorded => self.stats.recorded += 1,
            Admission::Waiting => self.stats.ignored_waiting += 1,
        }
        if self.emit_events {
            out.push(CaptureOutput::Event(ev));
        }
        out
    }

    /// What an exec ran (see [`identity`]): the caller's name when it names the file the
    /// kernel executed, else the kernel's path; a script keeps its path, with the interpreter
    /// beside it. Without the kernel's path (the fallback exec program), the caller's name.
    fn exec_image(&mut self, h: &Header, e: &ExecEvent) -> procs::ExecImage {
        let requested = convert::cstr(&e.filename);
        let argv_len = (e.argv_len as usize).min(ARGV_LEN);
        let argv0 = procs::split_nul(&e.argv[..argv_len]).into_iter().next();
        // The caller's name, absolute; for /proc/self/exe and /dev/fd/N the name argv[0]
        // gives (busybox runs its applets so), checked against the kernel's file below.
        let name = if !requested.starts_with('/') {
            convert::absolute(requested.clone(), h.tgid, -100)
        } else if identity::is_magic_link(&requested) {
            self.ensure_known(h.tgid);
            self.self_exec_path(h.tgid, h.cgroup_id, argv0.as_deref())
                .unwrap_or_else(|| requested.clone())
        } else {
            requested.clone()
        };
        if h.flags & FLAG_EXEC_FILE == 0 {
            return name.into();
        }
        let used = (e.file_path_len as usize).min(FILE_PATH_LEN);
        let file = identity::KernelFile::from_components(
            &e.file_path[..used],
            h.flags & FLAG_FILELESS != 0,
            h.flags & FLAG_EXEC_FILE_DETACHED != 0,
            h.flags & FLAG_EXEC_FILE_TRUNCATED != 0,
        );
        let file_id = (e.file_ino != 0).then(|| procs::FileId::from_kernel(e.file_dev, e.file_ino));
        let same_file = (e.file_ino != 0 && e.prev_ino != 0)
            .then(|| (e.prev_ino, e.prev_dev) == (e.file_ino, e.file_dev));
        let requested_magic = identity::is_magic_link(&requested);
        // Names are judged per container and shared per image (see identity::Scope).
        let host = h.cgroup_id == self.host_cgroup;
        let image = match (!host).then(|| self.resolver.cgroup(h.cgroup_id, h.tgid)) {
            Some(Some(CgroupKind::Container { id, .. })) => {
                let c = self.resolver.container_ref(&id);
                Some(format!("{}:{}", c.image, c.version))
            }
            _ => None,
        };
        let scope = identity::Scope {
            image: image.as_deref(),
            cgroup: h.cgroup_id,
        };
        // Roots to resolve names in: the process's own, its parents' in the container, then
        // any other process of the container (the exec'ing one may have exited already);
        // looked at only when the answer is not cached.
        let (procs, names) = (&self.procs, &mut self.identity);
        let cgroup = h.cgroup_id;
        let roots = procs
            .same_cgroup_ancestry(h.tgid, cgroup, 4)
            .into_iter()
            .chain(std::iter::once(()).flat_map(move |_| procs.in_cgroup(cgroup, 8)))
            .filter_map(identity::Root::of_pid);
        let interp = convert::cstr(&e.interp);
        let script = !interp.is_empty() && !file.fileless && !identity::is_magic_link(&requested);
        if script {
            // A `#!` script: the kernel opened the script by this name and ran the
            // interpreter it names; the interpreter is checked like any exec.
            let interp = if interp.starts_with('/') {
                interp
            } else {
                convert::absolute(interp, h.tgid, -100)
            };
            let interpreter = names.exec_path(scope, &interp, &interp, &file, roots);
            return procs::ExecImage {
                path: name,
                file_id,
                same_file,
                requested_magic,
                fileless: false,
                interpreter: Some(interpreter),
            };
        }
        let path = names.exec_path(scope, &requested, &name, &file, roots);
        procs::ExecImage {
            path,
            fileless: file.fileless,
            file_id,
            same_file,
            requested_magic,
            interpreter: None,
        }
    }

    /// A workload process re-exec'ing itself (`/proc/self/exe`, as busybox does for its
    /// applets) is named after its argv[0] next to the caller's executable (`/bin/sh` running
    /// `cat` -> `/bin/cat`); [`identity`] keeps that name only when it names the file the
    /// kernel executed.
    fn self_exec_path(&self, pid: u32, cgroup: u64, argv0: Option<&str>) -> Option<String> {
        let caller = self.procs.info(pid, cgroup)?;
        // A script's process runs its interpreter: that is the file re-executed.
        let running = caller.interpreter.unwrap_or(caller.exec_path);
        let argv0 = argv0.unwrap_or("");
        if argv0.starts_with('/') {
            return Some(argv0.to_string());
        }
        if argv0.is_empty() || argv0.contains('/') {
            return Some(running);
        }
        let dir = running.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        Some(format!("{dir}/{argv0}"))
    }

    /// A process we have no entry for (missed fork, started before seeding): read /proc.
    fn ensure_known(&mut self, pid: u32) {
        if self.procs.get(pid).is_some() {
            return;
        }
        let Some(seed) = procs::read_proc(pid) else {
            return;
        };
        let root = self.resolver.cgroup_root().to_path_buf();
        let Ok(md) = std::fs::metadata(root.join(seed.cgroup_path.trim_start_matches('/'))) else {
            return;
        };
        let id = std::os::unix::fs::MetadataExt::ino(&md);
        let mut seeds = vec![seed];
        // Ancestors in the same cgroup, for the lineage.
        let mut guard = 0;
        while guard < 32 {
            let last = seeds.last().expect("non-empty");
            let Some(parent) = procs::read_proc(last.ppid) else {
                break;
            };
            if parent.cgroup_path != last.cgroup_path {
                break;
            }
            seeds.push(parent);
            guard += 1;
        }
        let cg = seeds[0].cgroup_path.clone();
        let pid0 = seeds[0].pid;
        let mut tmp = ProcTable::default();
        procs::seed(&mut tmp, &seeds, &|p: &str| (p == cg).then_some(id));
        if let Some(e) = tmp.get(pid0) {
            self.procs.insert(pid0, e.clone());
        }
    }

    pub fn cut(&mut self) -> Vec<Snapshot> {
        let s = self.profiler.cut(now_ms());
        self.stats.snapshots += s.len() as u64;
        s
    }

    pub fn flush(&mut self) -> Vec<Snapshot> {
        let s = self.profiler.flush(now_ms());
        self.stats.snapshots += s.len() as u64;
        s
    }

    /// Final snapshots of profiled containers whose cgroup is gone.
    pub fn reap_gone(&mut self) -> Vec<Snapshot> {
        let mut out = Vec::new();
        let ids: Vec<(String, u64, String)> = self
            .cgroups_of
            .iter()
            .map(|(id, (cg, path))| (id.clone(), *cg, path.clone()))
            .collect();
        for (id, cg, path) in ids {
            if !self.resolver.cgroup_alive(&path) {
                if let Some(s) = self.profiler.container_gone(&id, now_ms()) {
                    self.stats.snapshots += 1;
                    out.push(s);
                }
                self.cgroups_of.remove(&id);
                self.resolver.forget(cg);
                self.identity.forget(cg);
            }
        }
        out
    }
}

/// Version of a host workload: a hash of its executable's bytes (FNV-1a 64).
fn exe_hash(path: &str) -> String {
    let mut h = FNV_OFFSET;
    match std::fs::read(path) {
        Ok(bytes) => {
            for b in bytes {
                h ^= b as u64;
                h = h.wrapping_mul(FNV_PRIME);
            }
            format!("exe-{h:016x}")
        }
        Err(_) => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that knows no container (its events update the process table only).
    fn engine() -> Engine {
        Engine::new(
            &CaptureOptions::default(),
            PathBuf::from("/nonexistent-cgroup-root"),
            1,
            "test-host".into(),
        )
    }

    /// Processes that do not exist here, so nothing is read from /proc for them.
    const PID: u32 = 3_999_001;
    const CG: u64 = 77;

    fn put(buf: &mut [u8], s: &[u8]) {
        buf[..s.len()].copy_from_slice(s);
    }

    /// An exec record: `file` is the kernel's path as components, leaf first.
    fn exec(filename: &str, argv: &[&str], file: Option<&[&str]>, flags: u16) -> RawEvent {
        let mut e = ExecEvent {
            hdr: Header {
                kind: KIND_EXEC,
                flags,
                tgid: PID,
                tid: PID,
                cgroup_id: CG,
                ..Default::default()
            },
            ..Default::default()
        };
        put(&mut e.filename, filename.as_bytes());
        let args: Vec<u8> = argv
            .iter()
            .flat_map(|a| [a.as_bytes(), b"\0"].concat())
            .collect();
        put(&mut e.argv, &args);
        e.argc = argv.len() as u32;
        e.argv_len = args.len() as u32;
        if let Some(comps) = file {
            let bytes: Vec<u8> = comps
                .iter()
                .flat_map(|c| [c.as_bytes(), b"\0"].concat())
                .collect();
            put(&mut e.file_path, &bytes);
            e.file_path_len = bytes.len() as u32;
            e.hdr.flags |= FLAG_EXEC_FILE;
            e.file_ino = 1000 + comps.len() as u64;
            e.file_dev = 8 << 20;
        }
        RawEvent::Exec(Box::new(e))
    }

    fn info(e: &Engine) -> Option<model::ProcessInfo> {
        e.procs.info(PID, CG)
    }

    #[test]
    fn exec_records_are_named_by_the_kernels_file() {
        let mut e = engine();
        e.handle(&exec("/bin/sh", &["sh"], Some(&["sh", "bin"]), 0));
        assert_eq!(info(&e).unwrap().exec_path, "/bin/sh");
        // /proc/self/exe with a false argv[0]; no root to look in: the kernel's path
        e.handle(&exec(
            "/proc/self/exe",
            &["/usr/sbin/sshd"],
            Some(&["helper", "tmp"]),
            0,
        ));
        let p = info(&e).unwrap();
        assert_eq!(p.exec_path, "/tmp/helper");
        assert_eq!(p.args, vec!["/usr/sbin/sshd"], "argv stays what was passed");
        // a memfd: marked by the kernel, shown as /proc/PID/exe shows it
        e.handle(&exec(
            "/dev/fd/3",
            &["cat"],
            Some(&["memfd:payload"]),
            FLAG_FILELESS | FLAG_EXEC_FILE_DETACHED,
        ));
        let p = info(&e).unwrap();
        assert_eq!(p.exec_path, "/memfd:payload (deleted)");
        assert!(p.fileless);
        assert_eq!(p.ancestors, vec!["/tmp/helper", "/bin/sh"]);
        // a script: its path, the interpreter beside it (not fileless any more)
        let mut s = exec("/tmp/job.sh", &["/tmp/job.sh"], Some(&["sh", "bin"]), 0);
        if let RawEvent::Exec(x) = &mut s {
            put(&mut x.interp, b"/bin/sh");
        }
        e.handle(&s);
        let p = info(&e).unwrap();
        assert_eq!(p.exec_path, "/tmp/job.sh");
        assert_eq!(p.interpreter.as_deref(), Some("/bin/sh"));
        assert!(!p.fileless);
        // a name the caller passed that is not the executed file (no root to show it is a
        // link): the kernel's path
        e.handle(&exec(
            "/bin/innocent",
            &["innocent"],
            Some(&["evil", "tmp"]),
            0,
        ));
        assert_eq!(info(&e).unwrap().exec_path, "/tmp/evil");
        assert!(e.identity.renamed >= 2);
    }

    #[test]
    fn without_the_kernels_file_the_callers_name_is_used() {
        let mut e = engine();
        e.handle(&exec("/bin/sh", &["sh"], None, 0));
        e.handle(&exec("/proc/self/exe", &["cat"], None, 0));
        let p = info(&e).unwrap();
        assert_eq!(
            p.exec_path, "/bin/cat",
            "argv[0] beside the caller (fallback)"
        );
        assert_eq!(p.ancestors, vec!["/bin/sh"]);
    }

    #[test]
    fn a_process_re_executing_its_own_file_before_the_workload_is_glue() {
        let mut e = engine();
        let mut again = exec(
            "/dev/fd/6",
            &["runc", "init"],
            Some(&[]),
            FLAG_EXEC_FILE_DETACHED,
        );
        if let RawEvent::Exec(x) = &mut again {
            x.prev_ino = x.file_ino;
            x.prev_dev = x.file_dev;
        }
        e.handle(&again);
        assert!(info(&e).is_none(), "runc init is glue");
        e.handle(&exec("/bin/sh", &["sh"], Some(&["busybox", "bin"]), 0));
        assert_eq!(info(&e).unwrap().lineage(), vec!["/bin/busybox"]);
    }
}
