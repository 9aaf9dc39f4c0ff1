//! What changed, for clients that refresh only that: a numbered log of changes (new or
//! updated signals, profile updates, suppressions, capture counters) kept in a bounded ring.
//! The agent streams it (`GET /v1/events?since=N`, one JSON document per line); the UI
//! compares per-kind counters and reloads only the lists whose kind moved.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Changes kept for late readers; older ones answer "expired, read everything again".
pub const RING: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Profiles,
    Signals,
    Suppressions,
    Capture,
    /// A container frozen or thawed (the responses audit table grew).
    Responses,
}

/// One change, as streamed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: u64,
    pub ts_ms: i64,
    pub kind: ChangeKind,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// How many changes of each kind there have been (a kind's counter moves when its data
/// changed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub profiles: u64,
    pub signals: u64,
    pub suppressions: u64,
    pub capture: u64,
    #[serde(default)]
    pub responses: u64,
}

impl Counters {
    pub fn bump(&mut self, kind: ChangeKind) {
        match kind {
            ChangeKind::Profiles => self.profiles += 1,
            ChangeKind::Signals => self.signals += 1,
            ChangeKind::Suppressions => self.suppressions += 1,
            ChangeKind::Capture => self.capture += 1,
            ChangeKind::Responses => self.responses += 1,
        }
    }

    /// Everything moved (a client that lost track reloads all).
    pub fn all_moved(&self) -> Counters {
        Counters {
            profiles: self.profiles + 1,
            signals: self.signals + 1,
            suppressions: self.suppressions + 1,
            capture: self.capture + 1,
            responses: self.responses + 1,
        }
    }
}

/// `since` is older than what the ring holds: read everything again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub oldest: u64,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    ring: VecDeque<Change>,
    counters: Counters,
    closed: bool,
}

#[derive(Default)]
pub struct ChangeLog {
    inner: Mutex<Inner>,
    cv: Condvar,
}

impl ChangeLog {
    pub fn new() -> ChangeLog {
        ChangeLog::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record a change and wake the waiting readers.
    pub fn publish(&self, kind: ChangeKind, detail: serde_json::Value) -> u64 {
        let mut g = self.lock();
        g.next_seq += 1;
        let seq = g.next_seq;
        g.counters.bump(kind);
        g.ring.push_back(Change {
            seq,
            ts_ms: store::now_ms(),
            kind,
            detail,
        });
        while g.ring.len() > RING {
            g.ring.pop_front();
        }
        drop(g);
        self.cv.notify_all();
        seq
    }

    /// The newest sequence number (0 before the first change).
    pub fn seq(&self) -> u64 {
        self.lock().next_seq
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    /// Changes after `since`, or `Expired` when some were dropped from the ring.
    pub fn since(&self, since: u64) -> Result<Vec<Change>, Expired> {
        collect(&self.lock(), since)
    }

    /// Like [`since`](Self::since), waiting up to `timeout` for something new. Returns
    /// `Ok(empty)` on timeout or when the log is closed.
    pub fn wait_since(&self, since: u64, timeout: Duration) -> Result<Vec<Change>, Expired> {
        let g = self.lock();
        let (g, _) = self
            .cv
            .wait_timeout_while(g, timeout, |i| i.next_seq <= since && !i.closed)
            .unwrap_or_else(|e| e.into_inner());
        collect(&g, since)
    }

    /// Wake every reader for good (shutdown).
    pub fn close(&self) {
        self.lock().closed = true;
        self.cv.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

fn collect(g: &Inner, since: u64) -> Result<Vec<Change>, Expired> {
    if since >= g.next_seq {
        return Ok(Vec::new());
    }
    let oldest = g.ring.front().map_or(g.next_seq + 1, |c| c.seq);
    if since + 1 < oldest {
        return Err(Expired { oldest });
    }
    Ok(g.ring.iter().filter(|c| c.seq > since).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_get_what_they_missed_or_are_told_to_reload() {
        let log = ChangeLog::new();
        assert_eq!(log.since(0), Ok(vec![]));
        let a = log.publish(ChangeKind::Signals, serde_json::json!({"id": 1}));
        let b = log.publish(ChangeKind::Profiles, serde_json::Value::Null);
        let got: Vec<u64> = log.since(0).unwrap().iter().map(|c| c.seq).collect();
        assert_eq!(got, vec![a, b]);
        assert_eq!(log.since(a).unwrap().len(), 1);
        assert_eq!(log.counters().signals, 1);
        assert_eq!(log.counters().profiles, 1);
        for _ in 0..RING {
            log.publish(ChangeKind::Capture, serde_json::Value::Null);
        }
        assert!(log.since(0).is_err(), "older than the ring: expired");
        assert_eq!(log.since(log.seq()).unwrap(), vec![]);
    }

    #[test]
    fn a_waiting_reader_wakes_on_a_change() {
        let log = std::sync::Arc::new(ChangeLog::new());
        let l2 = log.clone();
        let t = std::thread::spawn(move || l2.wait_since(0, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        log.publish(ChangeKind::Suppressions, serde_json::Value::Null);
        let got = t.join().unwrap().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, ChangeKind::Suppressions);
    }
}
