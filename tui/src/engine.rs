//! The engine behind the screens and the agent, without UI: the store's one connection
//! sits behind a mutex; a writer thread applies what feeders (the demo replayer, live
//! capture) send it, one command per lock, in order, through a bounded queue. Readers (the
//! UI, the agent's API) take the same lock to read and to write the person's decisions, and
//! learn what changed from the [`ChangeLog`]: profiles, signals, suppressions, capture.

use crate::changes::{ChangeKind, ChangeLog};
use crate::source::{Source, SplitSource};
use model::rule::RuleSet;
use model::snapshot::Snapshot;
use model::Event;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use store::detect::{DetectStats, Detector};
use store::{Store, StoreReader};

/// The store shared by the writer thread and the person's decisions.
pub type SharedStore = Arc<Mutex<Store>>;

/// Reader connections of their own (see `store::StoreReader`): reads take one, never the
/// writer's lock, so they never wait for ingest.
pub struct ReaderPool {
    free: Mutex<Vec<StoreReader>>,
    cv: std::sync::Condvar,
    size: usize,
}

/// Readers per engine: the UI, or the agent's concurrent API requests.
pub const READERS: usize = 4;

impl ReaderPool {
    /// `n` readers on `store` (none when the store cannot give any: reads then take the
    /// writer's lock).
    pub fn new(store: &Store, n: usize) -> ReaderPool {
        let mut free = Vec::with_capacity(n);
        for _ in 0..n {
            match store.reader() {
                Ok(r) => free.push(r),
                Err(e) => {
                    tracing::warn!("no reader connection: {e}");
                    break;
                }
            }
        }
        let size = free.len();
        ReaderPool {
            free: Mutex::new(free),
            cv: std::sync::Condvar::new(),
            size,
        }
    }

    /// Run `f` with a reader (waiting for a free one), or None when the pool has none.
    pub fn with<T>(&self, f: impl FnOnce(&StoreReader) -> T) -> Option<T> {
        if self.size == 0 {
            return None;
        }
        let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let r = loop {
            match g.pop() {
                Some(r) => break r,
                None => g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
            }
        };
        drop(g);
        let out = f(&r);
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(r);
        self.cv.notify_one();
        Some(out)
    }
}

/// Writes, applied in order by the writer thread.
pub enum WriteCmd {
    Snapshots(Vec<Snapshot>),
    Event(Box<Event>),
    /// Simulated or real time moved on: time-based Learning -> Stable.
    Clock(i64),
    /// Capture counters to record in the store, with what the pipeline lost by reason.
    CaptureStats {
        stats: Box<capture::CaptureStats>,
        loss: crate::live::Loss,
    },
    /// Replay or capture finished.
    FeedDone,
}

/// What the engine is doing, for the status line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineStatus {
    /// The clock the data runs on (simulated in demo mode).
    pub now_ms: i64,
    pub items_done: u64,
    pub items_total: u64,
    pub feed_done: bool,
    pub snapshots: u64,
    pub detect: DetectStats,
    pub error: Option<String>,
}

/// Handle to the writer thread.
pub struct Engine {
    tx: SyncSender<WriteCmd>,
    store: SharedStore,
    readers: Arc<ReaderPool>,
    changes: Arc<ChangeLog>,
    status: Arc<Mutex<EngineStatus>>,
    handle: Option<JoinHandle<()>>,
}

impl Engine {
    /// Start the writer thread; it owns `store`.
    pub fn start(store: Store, rules: RuleSet) -> Engine {
        let (tx, rx) = sync_channel::<WriteCmd>(QUEUE);
        let changes = Arc::new(ChangeLog::new());
        let readers = Arc::new(ReaderPool::new(&store, READERS));
        let status = Arc::new(Mutex::new(EngineStatus::default()));
        let store = Arc::new(Mutex::new(store));
        let (g, st, shared) = (changes.clone(), status.clone(), store.clone());
        let handle = std::thread::Builder::new()
            .name("wsprof-writer".into())
            .spawn(move || {
                let mut detector = Detector::new(rules);
                writer_loop(&shared, &mut detector, rx, &g, &st);
                if let Ok(mut s) = shared.lock() {
                    if let Err(e) = s.checkpoint() {
                        tracing::warn!("checkpoint at exit: {e}");
                    }
                }
            })
            .expect("spawn writer thread");
        Engine {
            tx,
            store,
            readers,
            changes,
            status,
            handle: Some(handle),
        }
    }

    pub fn sender(&self) -> SyncSender<WriteCmd> {
        self.tx.clone()
    }

    /// What changed, by kind.
    pub fn changes(&self) -> Arc<ChangeLog> {
        self.changes.clone()
    }

    pub fn status(&self) -> EngineStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn status_handle(&self) -> Arc<Mutex<EngineStatus>> {
        self.status.clone()
    }

    /// The store, for the person's writes (and reads when there are no readers).
    pub fn store(&self) -> SharedStore {
        self.store.clone()
    }

    /// Reader connections that never wait for the writer.
    pub fn readers(&self) -> Arc<ReaderPool> {
        self.readers.clone()
    }

    /// Run `f` on a source that reads on a reader connection and writes the person's
    /// decisions on the store (behind its lock).
    pub fn with_source<T>(&self, f: impl FnOnce(&mut dyn Source) -> T) -> anyhow::Result<T> {
        with_source(&self.readers, &self.store, f)
    }

    /// Stop the writer after everything queued is applied.
    pub fn shutdown(mut self) -> EngineStatus {
        self.join()
    }

    fn join(&mut self) -> EngineStatus {
        let (tx, _) = sync_channel(1);
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.status()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.join();
    }
}

/// Commands applied in one batch at most: their writes are gathered and stored in one
/// transaction (see the store's `batch.rs`), and what they changed is published after.
const BATCH: usize = 1024;

fn writer_loop(
    shared: &Mutex<Store>,
    detector: &mut Detector,
    rx: Receiver<WriteCmd>,
    changes: &ChangeLog,
    status: &Mutex<EngineStatus>,
) {
    let settings = match shared.lock() {
        Ok(s) => s.settings,
        Err(_) => return,
    };
    let set_error = |e: String| {
        tracing::error!("{e}");
        if let Ok(mut s) = status.lock() {
            s.error = Some(e);
        }
    };
    while let Ok(first) = rx.recv() {
        let mut cmds = vec![first];
        while cmds.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => cmds.push(c),
                Err(_) => break,
            }
        }
        let Ok(mut guard) = shared.lock() else { return };
        let store = &mut *guard;
        let mut published = Vec::new();
        let mut feed_done = false;
        let ((), written) = store.batch(|store| {
            for cmd in cmds {
                if matches!(cmd, WriteCmd::FeedDone) {
                    feed_done = true;
                    continue;
                }
                let publish = |kind, detail| published.push((kind, detail));
                apply(store, detector, cmd, &settings, status, &set_error, publish);
            }
        });
        match written {
            Ok(()) => {
                for (kind, detail) in published {
                    changes.publish(kind, detail);
                }
            }
            Err(e) => set_error(format!("store: {e}")),
        }
        if feed_done {
            // after the batch is written: whoever waits for it finds everything stored
            if let Ok(mut st) = status.lock() {
                st.feed_done = true;
            }
            if let Err(e) = store.checkpoint() {
                tracing::warn!("checkpoint: {e}");
            }
        }
        drop(guard);
    }
}

/// Apply one command inside the writer's batch; what it changed goes to `publish`.
fn apply(
    store: &mut Store,
    detector: &mut Detector,
    cmd: WriteCmd,
    settings: &store::StoreSettings,
    status: &Mutex<EngineStatus>,
    set_error: &dyn Fn(String),
    mut publish: impl FnMut(ChangeKind, serde_json::Value),
) {
    match cmd {
        WriteCmd::Snapshots(snaps) => {
            let n = snaps.len() as u64;
            match store.ingest_snapshots(&snaps, &settings.lifecycle) {
                Ok(outcomes) => {
                    for s in &snaps {
                        detector.profile_changed(&s.container.image, &s.container.version);
                    }
                    let mut names: Vec<String> =
                        outcomes.iter().map(|o| o.profile.to_string()).collect();
                    names.sort_unstable();
                    names.dedup();
                    publish(
                        ChangeKind::Profiles,
                        serde_json::json!({ "profiles": names }),
                    );
                    for o in outcomes.iter().filter(|o| o.became_stable) {
                        tracing::info!(profile = %o.profile, "profile became Stable");
                    }
                    if let Ok(mut st) = status.lock() {
                        st.snapshots += n;
                        st.items_done += n;
                        if let Some(last) = snaps.iter().map(|s| s.ended_ms).max() {
                            st.now_ms = st.now_ms.max(last);
                        }
                    }
                }
                Err(e) => set_error(format!("ingest: {e}")),
            }
        }
        WriteCmd::Event(ev) => {
            match detector.on_event(store, &ev, ev.ts_ms) {
                Ok(outcomes) => publish_outcomes(&mut publish, &outcomes),
                Err(e) => set_error(format!("detection: {e}")),
            }
            if let Ok(mut st) = status.lock() {
                st.items_done += 1;
                st.now_ms = st.now_ms.max(ev.ts_ms);
                st.detect = detector.stats;
            }
        }
        WriteCmd::Clock(now) => {
            match store.refresh_statuses(now, &settings.lifecycle) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(n, "profiles became Stable by time");
                    publish(ChangeKind::Profiles, serde_json::json!({ "stable": n }));
                    // cached Learning profiles may now be Stable
                    detector.forget_profiles();
                }
                Err(e) => set_error(format!("lifecycle: {e}")),
            }
            if let Ok(mut st) = status.lock() {
                st.now_ms = st.now_ms.max(now);
            }
        }
        WriteCmd::CaptureStats { stats: st, loss } => {
            let mut detail = serde_json::to_value(&*st).unwrap_or_default();
            detail["loss"] = serde_json::to_value(loss).unwrap_or_default();
            let detail = detail.to_string();
            if let Err(e) =
                store.record_capture_stats(store::now_ms(), st.events, loss.total, &detail)
            {
                set_error(format!("capture stats: {e}"));
            }
        }
        WriteCmd::FeedDone => {}
    }
}

/// Run `f` on a [`SplitSource`] over a pooled reader and `store`; on the store alone when
/// the pool has no readers.
pub fn with_source<T>(
    readers: &ReaderPool,
    store: &Mutex<Store>,
    f: impl FnOnce(&mut dyn Source) -> T,
) -> anyhow::Result<T> {
    let mut f = Some(f);
    if let Some(out) = readers.with(|r| {
        let f = f.take().expect("called once");
        f(&mut SplitSource {
            reader: r,
            writer: store,
        })
    }) {
        return Ok(out);
    }
    let mut g = store
        .lock()
        .map_err(|_| anyhow::anyhow!("the store lock is poisoned (a writer panicked)"))?;
    let f = f.take().expect("called once");
    Ok(f(&mut *g))
}

/// Commands queued for the writer at most: feeders wait (snapshots) or drop and count
/// (events, see `live.rs`) beyond that.
pub const QUEUE: usize = 4096;

/// Tell clients which signals detection raised or counted, and which suppressions hid one.
fn publish_outcomes(
    publish: &mut impl FnMut(ChangeKind, serde_json::Value),
    outcomes: &[store::AddOutcome],
) {
    use store::AddOutcome;
    let mut signals = Vec::new();
    let mut suppressions = Vec::new();
    let mut new = Vec::new();
    let mut reraised = Vec::new();
    for o in outcomes {
        match o {
            AddOutcome::Inserted(id) => {
                signals.push(*id);
                new.push(*id);
            }
            AddOutcome::Deduplicated(id) | AddOutcome::RateLimited(id) => signals.push(*id),
            AddOutcome::Suppressed(id) => suppressions.push(*id),
            AddOutcome::Drift(d) => {
                signals.push(d.signal_id);
                if d.new_signal {
                    new.push(d.signal_id);
                }
                if d.reraised {
                    reraised.push(d.signal_id);
                }
            }
        }
    }
    if !signals.is_empty() {
        let mut detail = serde_json::json!({ "signals": signals, "new": new });
        if !reraised.is_empty() {
            // drift that crossed into a category that matters: open again, severity up
            detail["reraised"] = reraised.into();
        }
        publish(ChangeKind::Signals, detail);
    }
    if !suppressions.is_empty() {
        publish(
            ChangeKind::Suppressions,
            serde_json::json!({ "hid_with": suppressions }),
        );
    }
}

/// How fast the demo replays: simulated ms per real ms, or as fast as possible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Factor(f64),
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Speed, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
            _ => Err(format!(
                "`{s}` is not a speed: give a positive number (e.g. 600) or `max`"
            )),
        }
    }
}

/// Replay a demo bundle into the engine on a clock. Returns the feeder thread.
pub fn spawn_demo(
    bundle: Arc<demo_data::Bundle>,
    speed: Speed,
    tx: SyncSender<WriteCmd>,
    status: Arc<Mutex<EngineStatus>>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("wsprof-demo".into())
        .spawn(move || {
            let timeline = bundle.timeline();
            if let Ok(mut st) = status.lock() {
                st.items_total = timeline.len() as u64;
                st.now_ms = bundle.span_ms().0;
            }
            let start_sim = bundle.span_ms().0;
            let start = Instant::now();
            let mut batch: Vec<Snapshot> = Vec::new();
            let mut last_clock = start_sim;
            let batch_max = if speed == Speed::Max { 500 } else { 1 };
            for item in timeline {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let t = item_time(&item);
                if let Speed::Factor(f) = speed {
                    let due = Duration::from_secs_f64(((t - start_sim).max(0) as f64 / f) / 1000.0);
                    let elapsed = start.elapsed();
                    if due > elapsed {
                        // sleep in slices so a stop is noticed
                        let mut left = due - elapsed;
                        while left > Duration::ZERO && !stop.load(Ordering::Relaxed) {
                            let step = left.min(Duration::from_millis(50));
                            std::thread::sleep(step);
                            left = left.saturating_sub(step);
                        }
                    }
                }
                let sent = match item {
                    demo_data::TimelineItem::Snapshot(s) => {
                        batch.push(s.clone());
                        if batch.len() >= batch_max {
                            tx.send(WriteCmd::Snapshots(std::mem::take(&mut batch)))
                        } else {
                            Ok(())
                        }
                    }
                    demo_data::TimelineItem::Event(e) => {
                        let flushed = if batch.is_empty() {
                            Ok(())
                        } else {
                            tx.send(WriteCmd::Snapshots(std::mem::take(&mut batch)))
                        };
                        flushed.and_then(|_| tx.send(WriteCmd::Event(Box::new(e.clone()))))
                    }
                };
                if sent.is_err() {
                    return;
                }
                if t - last_clock >= 3_600_000 {
                    last_clock = t;
                    if tx.send(WriteCmd::Clock(t)).is_err() {
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(WriteCmd::Snapshots(batch));
            }
            let _ = tx.send(WriteCmd::Clock(bundle.span_ms().1));
            let _ = tx.send(WriteCmd::FeedDone);
        })
        .expect("spawn demo thread")
}

fn item_time(item: &demo_data::TimelineItem<'_>) -> i64 {
    match item {
        demo_data::TimelineItem::Snapshot(s) => s.ended_ms,
        demo_data::TimelineItem::Event(e) => e.ts_ms,
    }
}
