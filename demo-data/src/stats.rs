//! Figures about a bundle, for the generator's output and the README: per profile, how many
//! snapshots and containers, and where the default lifecycle puts it at the end of the span.

use crate::bundle::Bundle;
use model::{LifecycleSettings, Profile, ProfileStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One image version in the bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileStats {
    pub image: String,
    pub version: String,
    pub snapshots: usize,
    pub containers: usize,
    pub hosts: usize,
    /// Snapshots merged before the profile turned Stable (all of them if it did not).
    pub merged: u32,
    /// When it turned Stable, as an offset from the bundle start, if it did in the span.
    pub stable_after_ms: Option<i64>,
    /// Status at the end of the span (default thresholds).
    pub status: ProfileStatus,
    pub events: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BundleStats {
    pub profiles: Vec<ProfileStats>,
    pub snapshots: usize,
    pub events: usize,
    pub events_by_kind: BTreeMap<&'static str, usize>,
    pub span_ms: (i64, i64),
}

impl BundleStats {
    pub fn of(bundle: &Bundle) -> BundleStats {
        let settings = LifecycleSettings::default();
        let span = bundle.span_ms();
        let mut by_profile: BTreeMap<(&str, &str), Vec<&model::Snapshot>> = BTreeMap::new();
        for s in &bundle.snapshots {
            by_profile
                .entry((&s.container.image, &s.container.version))
                .or_default()
                .push(s);
        }
        let mut profiles = Vec::new();
        for ((image, version), snaps) in by_profile {
            let mut p = Profile::new(image, version);
            let mut stable_at = None;
            for s in &snaps {
                if p.merge(s, &settings).is_err() || p.status == ProfileStatus::Stable {
                    stable_at.get_or_insert(s.ended_ms - span.0);
                }
            }
            if p.refresh_status(span.1, &settings) == ProfileStatus::Stable && stable_at.is_none() {
                let by_time = p.first_snapshot_ms.unwrap_or(span.0) + settings.stable_after_ms;
                stable_at = Some(by_time - span.0);
            }
            let containers: BTreeSet<&str> =
                snaps.iter().map(|s| s.container.id.as_str()).collect();
            let hosts: BTreeSet<&str> = snaps.iter().map(|s| s.host.as_str()).collect();
            profiles.push(ProfileStats {
                image: image.to_string(),
                version: version.to_string(),
                snapshots: snaps.len(),
                containers: containers.len(),
                hosts: hosts.len(),
                merged: p.snapshot_count,
                stable_after_ms: stable_at,
                status: p.status,
                events: bundle
                    .events
                    .iter()
                    .filter(|e| e.container.image == image && e.container.version == version)
                    .count(),
            });
        }
        let mut events_by_kind = BTreeMap::new();
        for e in &bundle.events {
            *events_by_kind.entry(e.kind.name()).or_insert(0) += 1;
        }
        BundleStats {
            profiles,
            snapshots: bundle.snapshots.len(),
            events: bundle.events.len(),
            events_by_kind,
            span_ms: span,
        }
    }
}

impl fmt::Display for BundleStats {
    /// A Markdown table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| image | version | snapshots | containers | hosts | events | status at end (default thresholds) |")?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---|")?;
        for p in &self.profiles {
            let status = match (p.status, p.stable_after_ms) {
                (ProfileStatus::Stable, Some(t)) => format!(
                    "Stable from +{:.1} h ({} snapshots merged)",
                    t as f64 / 3_600_000.0,
                    p.merged
                ),
                _ => format!("Learning ({} snapshots merged)", p.merged),
            };
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} |",
                p.image, p.version, p.snapshots, p.containers, p.hosts, p.events, status
            )?;
        }
        writeln!(f)?;
        let kinds: Vec<String> = self
            .events_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(
            f,
            "{} snapshots, {} events ({}), over {:.1} h",
            self.snapshots,
            self.events,
            kinds.join(", "),
            (self.span_ms.1 - self.span_ms.0) as f64 / 3_600_000.0
        )
    }
}
