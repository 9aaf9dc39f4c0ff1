//! Detection: every event goes through the enabled rules and, when its workload's profile
//! is Stable, through the drift check; what fires becomes a signal in the store (rules:
//! de-duplicated, or counted on a suppression that hides it, every distinct match kept;
//! drift: every novel node counted on the container's drift signal).

use crate::{AddOutcome, Result, Store};
use model::drift::{novel_nodes, written_paths};
use model::profile::{Profile, ProfileStatus};
use model::rule::RuleSet;
use model::signal::{anomaly, NewSignal, SignalKind};
use model::Event;
use std::collections::{HashMap, HashSet};

/// Paths remembered per container as written in its lifetime (exec of one ranks high).
const WRITTEN_PER_CONTAINER: usize = 10_000;
/// Containers whose written paths are remembered; past this the memory starts over.
const WRITTEN_CONTAINERS: usize = 4096;

/// Counters of what detection did, for status lines and the CLI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectStats {
    pub events: u64,
    pub signals: u64,
    pub deduplicated: u64,
    pub suppressed: u64,
    /// Events with activity their Stable profile lacks.
    pub anomalies: u64,
    /// Novel nodes first counted on a drift signal.
    pub drift_nodes: u64,
}

/// What detection knows of a workload's profile. Only Stable profiles are loaded: they
/// are immutable, and only they raise anomalies.
enum Known {
    Absent,
    Learning,
    Stable(Box<Profile>),
}

/// Rules plus a cache of profiles (Stable ones never change; the others are looked up
/// again after a snapshot of theirs is ingested).
pub struct Detector {
    rules: RuleSet,
    profiles: HashMap<(String, String), Known>,
    /// container -> folded paths it wrote (bounded)
    written: HashMap<String, HashSet<String>>,
    /// The store's lifecycle epoch the cached profiles were read at: a person's promote or
    /// reset moves it, and the cache is read again.
    epoch: u64,
    pub stats: DetectStats,
}

impl Detector {
    pub fn new(rules: RuleSet) -> Detector {
        Detector {
            rules,
            profiles: HashMap::new(),
            written: HashMap::new(),
            epoch: 0,
            stats: DetectStats::default(),
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Forget every cached profile (after statuses changed by time).
    pub fn forget_profiles(&mut self) {
        self.profiles.clear();
    }

    /// Forget what is known of an image version's profile unless it is Stable (call after
    /// ingesting its snapshot).
    pub fn profile_changed(&mut self, image: &str, version: &str) {
        let key = (image.to_string(), version.to_string());
        if !matches!(self.profiles.get(&key), Some(Known::Stable(_))) {
            self.profiles.remove(&key);
        }
    }

    /// The workload's profile if it is Stable.
    fn stable_profile(&mut self, store: &mut Store, ev: &Event) -> Result<Option<&Profile>> {
        if self.epoch != store.lifecycle_epoch() {
            // a person promoted or reset a profile: Stable ones may have changed too
            self.profiles.clear();
            self.epoch = store.lifecycle_epoch();
        }
        let key = (ev.container.image.clone(), ev.container.version.clone());
        if !self.profiles.contains_key(&key) {
            // as the writer sees them: with what its open batch gathered
            let known = match store.status_now(&key.0, &key.1)? {
                None => Known::Absent,
                Some(ProfileStatus::Learning) => Known::Learning,
                Some(ProfileStatus::Stable) => match store.profile_now(&key.0, &key.1)? {
                    Some(p) => Known::Stable(Box::new(p)),
                    None => Known::Absent,
                },
            };
            self.profiles.insert(key.clone(), known);
        }
        Ok(match self.profiles.get(&key) {
            Some(Known::Stable(p)) => Some(p),
            _ => None,
        })
    }

    /// Remember what the event wrote in its container.
    fn remember_writes(&mut self, ev: &Event) {
        let paths = written_paths(ev);
        if paths.is_empty() {
            return;
        }
        if self.written.len() >= WRITTEN_CONTAINERS && !self.written.contains_key(&ev.container.id)
        {
            self.written.clear();
        }
        let w = self.written.entry(ev.container.id.clone()).or_default();
        for p in paths {
            if w.len() < WRITTEN_PER_CONTAINER {
                w.insert(p);
            }
        }
    }

    /// Evaluate one event at `now_ms`; returns what each raised signal became.
    pub fn on_event(
        &mut self,
        store: &mut Store,
        ev: &Event,
        now_ms: i64,
    ) -> Result<Vec<AddOutcome>> {
        self.stats.events += 1;
        let raised: Vec<NewSignal> = self
            .rules
            .matching(ev)
            .map(|r| {
                let mut s = NewSignal::from_event(
                    ev,
                    SignalKind::Rule,
                    &r.id,
                    r.severity.as_str(),
                    r.mitre.as_deref().unwrap_or(""),
                    r.description.clone(),
                );
                if r.expression.expr().uses_command_line() {
                    s.suggestion_block = Some(format!(
                        "rule {} matches on the command line, which profiles do not record",
                        r.id
                    ));
                }
                s
            })
            .collect();
        let mut out = Vec::with_capacity(raised.len() + 1);
        let mut drift = None;
        if self.stable_profile(store, ev)?.is_some() {
            let key = (ev.container.image.clone(), ev.container.version.clone());
            let Some(Known::Stable(p)) = self.profiles.get(&key) else {
                unreachable!("stable_profile cached it");
            };
            let written = self.written.get(&ev.container.id);
            let is_written = |path: &str| written.is_some_and(|w| w.contains(path));
            let nodes = novel_nodes(ev, p, &is_written);
            if !nodes.is_empty() {
                drift = Some((nodes, anomaly(ev, p).unwrap_or_default()));
            }
        }
        if let Some((nodes, reason)) = drift {
            self.stats.anomalies += 1;
            if let Some(o) = store.add_drift(ev, &nodes, &reason)? {
                self.stats.drift_nodes += o.new_nodes as u64;
                if o.new_signal {
                    self.stats.signals += 1;
                }
                out.push(AddOutcome::Drift(o));
            }
        }
        self.remember_writes(ev);
        for s in &raised {
            let o = store.add_signal(s, now_ms)?;
            match o {
                AddOutcome::Inserted(_) => self.stats.signals += 1,
                AddOutcome::Deduplicated(_) | AddOutcome::RateLimited(_) => {
                    self.stats.deduplicated += 1
                }
                AddOutcome::Suppressed(_) => self.stats.suppressed += 1,
                AddOutcome::Drift(_) => {}
            }
            out.push(o);
        }
        Ok(out)
    }
}
