//! Per-container activity trees and snapshot cutting, with at most N containers profiled at
//! once.
//!
//! Admission: a container seen for the first time takes a free slot; when all slots are
//! taken, the least recently started profiled container is evicted (its partial snapshot is
//! emitted) and waits. Fairness: at every interval cut, containers that have waited get the
//! slots of those profiled longest, round robin, so every container is profiled in turn.

use model::{ActivityTree, ContainerRef, Event, Snapshot};
use std::collections::{HashMap, VecDeque};

#[derive(Debug)]
struct Slot {
    container: ContainerRef,
    tree: ActivityTree,
    /// Start of the current snapshot.
    started_ms: i64,
    /// When the container started (first seen), for eviction order.
    container_started_ms: i64,
    /// When this slot was given to the container (for fair rotation).
    profiled_since_ms: i64,
    events: u64,
}

/// What happened to an event offered to the profiler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Recorded,
    /// The container waits for a slot.
    Waiting,
}

pub struct Profiler {
    max: usize,
    host: String,
    slots: HashMap<String, Slot>,
    /// Containers waiting for a slot, in the order they were evicted/refused, with their start.
    waiting: VecDeque<(String, i64)>,
    /// Containers given a freed slot at rotation, admitted on their next event.
    reserved: Vec<String>,
    seq: u64,
}

impl Profiler {
    pub fn new(max_containers: usize, host: String) -> Profiler {
        Profiler {
            max: max_containers.max(1),
            host,
            slots: HashMap::new(),
            waiting: VecDeque::new(),
            reserved: Vec::new(),
            seq: 0,
        }
    }

    pub fn profiled(&self) -> Vec<ContainerRef> {
        let mut v: Vec<ContainerRef> = self.slots.values().map(|s| s.container.clone()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_profiled(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    /// Record one event of a container that started at `container_started_ms`. Returns the
    /// admission and, when another container had to make room, its partial snapshot.
    pub fn record(
        &mut self,
        ev: &Event,
        container_started_ms: i64,
        now_ms: i64,
    ) -> (Admission, Option<Snapshot>) {
        let id = &ev.container.id;
        let mut evicted = None;
        if !self.slots.contains_key(id) {
            let is_waiting = self.waiting.iter().any(|(w, _)| w == id);
            let reserved = self.reserved.iter().position(|r| r == id);
            if let Some(i) = reserved {
                self.reserved.remove(i);
                self.waiting.retain(|(w, _)| w != id);
            } else if self.slots.len() + self.reserved.len() >= self.max {
                if is_waiting {
                    return (Admission::Waiting, None);
                }
                // Evict the least recently started profiled container, if this one started later.
                let victim = self
                    .slots
                    .values()
                    .min_by_key(|s| (s.container_started_ms, s.container.id.clone()))
                    .map(|s| (s.container.id.clone(), s.container_started_ms));
                match victim {
                    Some((vid, vstart)) if vstart <= container_started_ms => {
                        evicted = self.release(&vid, now_ms);
                        self.waiting.push_back((vid, vstart));
                    }
                    _ => {
                        self.waiting.push_back((id.clone(), container_started_ms));
                        return (Admission::Waiting, None);
                    }
                }
            } else if is_waiting {
                self.waiting.retain(|(w, _)| w != id);
            }
            self.slots.insert(
                id.clone(),
                Slot {
                    container: ev.container.clone(),
                    tree: ActivityTree::default(),
                    started_ms: now_ms,
                    container_started_ms,
                    profiled_since_ms: now_ms,
                    events: 0,
                },
            );
        }
        let slot = self.slots.get_mut(id).expect("slot exists");
        if slot.container != ev.container {
            // Image resolved late (was `unresolved`), or tags learnt: adopt them.
            slot.container = ev.container.clone();
        }
        slot.tree.record(ev);
        slot.events += 1;
        (Admission::Recorded, evicted)
    }

    fn snapshot_of(&mut self, slot: &Slot, now_ms: i64) -> Option<Snapshot> {
        if slot.tree.is_empty() {
            return None;
        }
        self.seq += 1;
        let short: String = slot.container.id.chars().take(12).collect();
        Some(Snapshot {
            id: format!("{short}-{}-{}", slot.started_ms, self.seq),
            container: slot.container.clone(),
            host: self.host.clone(),
            started_ms: slot.started_ms,
            ended_ms: now_ms.max(slot.started_ms),
            tree: slot.tree.clone(),
        })
    }

    /// Stop profiling a container (gone or evicted); its partial snapshot if non-empty.
    pub fn release(&mut self, id: &str, now_ms: i64) -> Option<Snapshot> {
        let slot = self.slots.remove(id)?;
        self.snapshot_of(&slot, now_ms)
    }

    /// A container is gone: emit its last snapshot and forget it everywhere.
    pub fn container_gone(&mut self, id: &str, now_ms: i64) -> Option<Snapshot> {
        self.waiting.retain(|(w, _)| w != id);
        self.reserved.retain(|r| r != id);
        self.release(id, now_ms)
    }

    /// Cut a snapshot of every profiled container (empty ones are skipped) and start new
    /// ones; then rotate slots to waiting containers.
    pub fn cut(&mut self, now_ms: i64) -> Vec<Snapshot> {
        let mut out = Vec::new();
        let ids: Vec<String> = self.slots.keys().cloned().collect();
        for id in ids {
            let slot = self.slots.get(&id).expect("slot");
            let snap = Slot {
                container: slot.container.clone(),
                tree: slot.tree.clone(),
                started_ms: slot.started_ms,
                container_started_ms: 0,
                profiled_since_ms: 0,
                events: 0,
            };
            if let Some(s) = self.snapshot_of(&snap, now_ms) {
                out.push(s);
            }
            let slot = self.slots.get_mut(&id).expect("slot");
            slot.tree = ActivityTree::default();
            slot.started_ms = now_ms;
            slot.events = 0;
        }
        // Fair rotation: each waiting container takes the slot of the one profiled longest.
        let rotate = self.waiting.len().min(self.slots.len());
        for _ in 0..rotate {
            let Some((wid, wstart)) = self.waiting.pop_front() else {
                break;
            };
            let victim = self
                .slots
                .values()
                .min_by_key(|s| (s.profiled_since_ms, s.container.id.clone()))
                .map(|s| (s.container.id.clone(), s.container_started_ms));
            if let Some((vid, vstart)) = victim {
                self.slots.remove(&vid); // just cut: nothing to emit
                self.waiting.push_back((vid, vstart));
                self.reserved.push(wid);
            } else {
                self.waiting.push_front((wid, wstart));
            }
        }
        out
    }

    /// Snapshots of everything still profiled (at stop).
    pub fn flush(&mut self, now_ms: i64) -> Vec<Snapshot> {
        let ids: Vec<String> = self.slots.keys().cloned().collect();
        ids.iter()
            .filter_map(|id| self.release(id, now_ms))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{EventKind, ProcessInfo};

    fn ev(id: &str) -> Event {
        Event {
            ts_ms: 0,
            container: ContainerRef {
                id: id.into(),
                image: "demo/web".into(),
                version: "1.0".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                pid: 1,
                exec_path: "/bin/sh".into(),
                ..Default::default()
            },
            kind: EventKind::Exec,
        }
    }

    #[test]
    fn cuts_snapshots_per_container_and_skips_empty_ones() {
        let mut p = Profiler::new(5, "h".into());
        p.record(&ev("a"), 0, 10);
        p.record(&ev("b"), 0, 10);
        let s = p.cut(100);
        assert_eq!(s.len(), 2);
        assert!(s
            .iter()
            .all(|s| s.started_ms == 10 && s.ended_ms == 100 && s.validate().is_ok()));
        assert_ne!(s[0].id, s[1].id);
        assert!(p.cut(200).is_empty(), "nothing happened since");
        p.record(&ev("a"), 0, 250);
        let s = p.cut(300);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].started_ms, 200);
    }

    #[test]
    fn evicts_least_recently_started_and_rotates_fairly() {
        let mut p = Profiler::new(2, "h".into());
        p.record(&ev("old"), 1, 10);
        p.record(&ev("mid"), 2, 10);
        let (adm, evicted) = p.record(&ev("new"), 3, 20);
        assert_eq!(adm, Admission::Recorded);
        assert_eq!(evicted.unwrap().container.id, "old");
        assert!(!p.is_profiled("old"));
        assert_eq!(p.record(&ev("old"), 1, 21).0, Admission::Waiting);
        assert_eq!(p.waiting(), 1);
        // At the cut, `old` gets the slot of the one profiled longest (`mid`).
        p.cut(100);
        assert!(!p.is_profiled("mid"));
        assert_eq!(p.record(&ev("old"), 1, 101).0, Admission::Recorded);
        assert_eq!(p.record(&ev("mid"), 2, 102).0, Admission::Waiting);
        // A gone container frees its slot for a waiting one (its last snapshot is emitted).
        assert_eq!(p.record(&ev("new"), 3, 105).0, Admission::Recorded);
        assert!(p.container_gone("new", 110).is_some());
        assert_eq!(p.record(&ev("mid"), 2, 111).0, Admission::Recorded);
        assert_eq!(p.flush(200).len(), 2);
    }
}
