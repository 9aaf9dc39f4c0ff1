//! Detection: every event goes through the enabled rules and, when its workload's profile
//! is Stable, through the anomaly check; what fires becomes a signal in the store
//! (de-duplicated, or counted on a suppression that hides it).

use crate::{AddOutcome, Result, Store};
use model::profile::{Profile, ProfileStatus};
use model::rule::RuleSet;
use model::signal::{anomaly, NewSignal, SignalKind, ANOMALY_RULE};
use model::Event;
use std::collections::HashMap;

/// Counters of what detection did, for status lines and the CLI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectStats {
    pub events: u64,
    pub signals: u64,
    pub deduplicated: u64,
    pub suppressed: u64,
    pub anomalies: u64,
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
    pub stats: DetectStats,
}

impl Detector {
    pub fn new(rules: RuleSet) -> Detector {
        Detector {
            rules,
            profiles: HashMap::new(),
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
    fn stable_profile(&mut self, store: &Store, ev: &Event) -> Result<Option<&Profile>> {
        let key = (ev.container.image.clone(), ev.container.version.clone());
        if !self.profiles.contains_key(&key) {
            let known = match store.profile_status(&key.0, &key.1)? {
                None => Known::Absent,
                Some(ProfileStatus::Learning) => Known::Learning,
                Some(ProfileStatus::Stable) => match store.profile(&key.0, &key.1)? {
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

    /// Evaluate one event at `now_ms`; returns what each raised signal became.
    pub fn on_event(
        &mut self,
        store: &mut Store,
        ev: &Event,
        now_ms: i64,
    ) -> Result<Vec<AddOutcome>> {
        self.stats.events += 1;
        let mut raised: Vec<NewSignal> = self
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
        if let Some(p) = self.stable_profile(store, ev)? {
            {
                if let Some(reason) = anomaly(ev, p) {
                    self.stats.anomalies += 1;
                    raised.push(NewSignal::from_event(
                        ev,
                        SignalKind::Anomaly,
                        ANOMALY_RULE,
                        "medium",
                        "",
                        reason,
                    ));
                }
            }
        }
        let mut out = Vec::with_capacity(raised.len());
        for s in &raised {
            let o = store.add_signal(s, now_ms)?;
            match o {
                AddOutcome::Inserted(_) => self.stats.signals += 1,
                AddOutcome::Deduplicated(_) | AddOutcome::RateLimited(_) => {
                    self.stats.deduplicated += 1
                }
                AddOutcome::Suppressed(_) => self.stats.suppressed += 1,
            }
            out.push(o);
        }
        Ok(out)
    }
}
