//! Live capture feeding the engine: snapshots are ingested, every event goes through
//! detection, and capture counters are kept for the status line and recorded in the store.

use crate::changes::{ChangeKind, ChangeLog};
use crate::engine::WriteCmd;
use capture::{Capture, CaptureOptions, CaptureOutput, CaptureStats};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Loss between capture and the store, counted by reason: the kernel's ring buffer was
/// full, capture's queue was full, or the detection queue (capture -> engine) was full.
#[derive(Debug, Default)]
pub struct Pipeline {
    pub detection_dropped: AtomicU64,
}

impl Pipeline {
    /// Loss by reason and in total, for `status` and the status line.
    pub fn loss(&self, st: &CaptureStats) -> Loss {
        Loss::of(st, self.detection_dropped.load(Ordering::Relaxed))
    }
}

/// What was lost, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Loss {
    pub total: u64,
    pub kernel_ring_buffer: u64,
    pub capture_queue: u64,
    pub detection_queue: u64,
}

impl Loss {
    pub fn of(st: &CaptureStats, detection_dropped: u64) -> Loss {
        Loss {
            total: st.lost + st.queue_dropped + detection_dropped,
            kernel_ring_buffer: st.lost,
            capture_queue: st.queue_dropped,
            detection_queue: detection_dropped,
        }
    }

    /// "0" or "12 (kernel ring buffer 10, detection queue 2)".
    pub fn text(&self) -> String {
        let parts: Vec<String> = [
            ("kernel ring buffer", self.kernel_ring_buffer),
            ("capture queue", self.capture_queue),
            ("detection queue", self.detection_queue),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(w, n)| format!("{w} {n}"))
        .collect();
        if parts.is_empty() {
            self.total.to_string()
        } else {
            format!("{} ({})", self.total, parts.join(", "))
        }
    }
}

/// Start capture (errors such as "not root" come back here, before any UI starts) and a
/// feeder thread that forwards what it sees to the engine until `stop` is set. Snapshots
/// wait for room in the engine's queue; events that find it full are dropped and counted
/// in `pipeline` (detection falls behind visibly, memory does not grow).
pub fn spawn_capture(
    mut opts: CaptureOptions,
    tx: SyncSender<WriteCmd>,
    stats: Arc<Mutex<CaptureStats>>,
    stop: Arc<AtomicBool>,
    changes: Arc<ChangeLog>,
    pipeline: Arc<Pipeline>,
) -> Result<JoinHandle<Result<CaptureStats, String>>, capture::CaptureError> {
    opts.emit_events = true;
    let mut cap = Capture::start(opts)?;
    let handle = std::thread::Builder::new()
        .name("wsprof-capture".into())
        .spawn(move || {
            let mut last_record = Instant::now();
            let mut last_clock = Instant::now();
            let forward = |out: CaptureOutput, last_record: &mut Instant| -> bool {
                let sent = match out {
                    CaptureOutput::Snapshot(s) => tx.send(WriteCmd::Snapshots(vec![s])).is_ok(),
                    CaptureOutput::Event(e) => match tx.try_send(WriteCmd::Event(Box::new(e))) {
                        Ok(()) => true,
                        Err(TrySendError::Full(_)) => {
                            pipeline.detection_dropped.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        Err(TrySendError::Disconnected(_)) => false,
                    },
                    CaptureOutput::Stats(st) => {
                        let loss = pipeline.loss(&st);
                        changes.publish(
                            ChangeKind::Capture,
                            serde_json::json!({
                                "events": st.events, "events_per_sec": st.events_per_sec,
                                "lost": loss, "snapshots": st.snapshots,
                                "profiled": st.profiled.len(), "waiting": st.waiting_containers,
                            }),
                        );
                        let due = last_record.elapsed() >= Duration::from_secs(5);
                        let record = due.then(|| WriteCmd::CaptureStats {
                            stats: Box::new(st.clone()),
                            loss,
                        });
                        if let Ok(mut s) = stats.lock() {
                            *s = st;
                        }
                        match record {
                            Some(cmd) => {
                                *last_record = Instant::now();
                                // counters come again in a second: never wait for room
                                !matches!(tx.try_send(cmd), Err(TrySendError::Disconnected(_)))
                            }
                            None => true,
                        }
                    }
                };
                sent
            };
            while !stop.load(Ordering::Relaxed) {
                if last_clock.elapsed() >= Duration::from_secs(60) {
                    last_clock = Instant::now();
                    if tx.send(WriteCmd::Clock(store::now_ms())).is_err() {
                        break;
                    }
                }
                let Some(out) = cap.recv_timeout(Duration::from_millis(200)) else {
                    if !cap.is_running() {
                        break;
                    }
                    continue;
                };
                if !forward(out, &mut last_record) {
                    break;
                }
            }
            let result = cap.stop().map_err(|e| e.to_string());
            while let Ok(out) = cap.receiver().try_recv() {
                if !forward(out, &mut last_record) {
                    break;
                }
            }
            if let Ok(st) = &result {
                let _ = tx.send(WriteCmd::CaptureStats {
                    stats: Box::new(st.clone()),
                    loss: pipeline.loss(st),
                });
                if let Ok(mut s) = stats.lock() {
                    *s = st.clone();
                }
            }
            let _ = tx.send(WriteCmd::FeedDone);
            result
        })
        .expect("spawn capture thread");
    Ok(handle)
}

/// The status-line text of a capture.
pub fn status_text(st: &CaptureStats, loss: &Loss) -> String {
    let profiled: Vec<String> = st
        .profiled
        .iter()
        .map(|c| format!("{}:{}", c.image, c.version))
        .collect();
    format!(
        "{:.0} events/s | {} events | lost {} | {} snapshots | profiling {} container(s){}{}",
        st.events_per_sec,
        st.events,
        loss.text(),
        st.snapshots,
        st.profiled.len(),
        if profiled.is_empty() {
            String::new()
        } else {
            format!(": {}", profiled.join(", "))
        },
        if st.waiting_containers > 0 {
            format!(" ({} waiting)", st.waiting_containers)
        } else {
            String::new()
        }
    )
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catch SIGINT/SIGTERM so a headless capture stops cleanly (last snapshots stored).
pub fn catch_interrupts() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
