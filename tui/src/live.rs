//! Live capture feeding the engine: snapshots are ingested, every event goes through
//! detection, and capture counters are kept for the status line and recorded in the store.

use crate::engine::WriteCmd;
use capture::{Capture, CaptureOptions, CaptureOutput, CaptureStats};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Start capture (errors such as "not root" come back here, before any UI starts) and a
/// feeder thread that forwards what it sees to the engine until `stop` is set.
pub fn spawn_capture(
    mut opts: CaptureOptions,
    tx: SyncSender<WriteCmd>,
    stats: Arc<Mutex<CaptureStats>>,
    stop: Arc<AtomicBool>,
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
                    CaptureOutput::Snapshot(s) => tx.send(WriteCmd::Snapshots(vec![s])),
                    CaptureOutput::Event(e) => tx.send(WriteCmd::Event(Box::new(e))),
                    CaptureOutput::Stats(st) => {
                        let due = last_record.elapsed() >= Duration::from_secs(5);
                        let record = due.then(|| WriteCmd::CaptureStats(Box::new(st.clone())));
                        if let Ok(mut s) = stats.lock() {
                            *s = st;
                        }
                        match record {
                            Some(cmd) => {
                                *last_record = Instant::now();
                                tx.send(cmd)
                            }
                            None => Ok(()),
                        }
                    }
                };
                sent.is_ok()
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
                let _ = tx.send(WriteCmd::CaptureStats(Box::new(st.clone())));
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
pub fn status_text(st: &CaptureStats) -> String {
    let profiled: Vec<String> = st
        .profiled
        .iter()
        .map(|c| format!("{}:{}", c.image, c.version))
        .collect();
    format!(
        "{:.0} events/s | {} events | lost {} | {} snapshots | profiling {} container(s){}{}",
        st.events_per_sec,
        st.events,
        st.lost,
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
