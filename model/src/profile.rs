//! Profiles: the merge of all snapshots of one `{image name, image version}`, with node and
//! profile commonality and the Learning -> Stable lifecycle.
//!
//! - node commonality = snapshots containing the node / snapshots merged;
//! - profile commonality = mean node commonality over all nodes (equal to the mean, over
//!   snapshots, of the share of the profile's nodes each covers);
//! - Learning until `stable_after_snapshots` snapshots are merged or `stable_after_ms` has
//!   passed since the first merged snapshot, whichever comes first; then Stable, immutable.

use crate::event::Access;
use crate::snapshot::Snapshot;
use crate::tree::{NodeKey, NodeKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The lifecycle thresholds (settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleSettings {
    pub stable_after_snapshots: u32,
    pub stable_after_ms: i64,
}

impl LifecycleSettings {
    /// The Learning -> Stable rule, the one definition of it: a profile with `snapshots`
    /// merged snapshots, the first of them started at `first_snapshot_ms`, is Stable at
    /// `now_ms` once either threshold is reached.
    pub fn is_stable(&self, snapshots: u32, first_snapshot_ms: Option<i64>, now_ms: i64) -> bool {
        snapshots >= self.stable_after_snapshots
            || first_snapshot_ms.is_some_and(|f| now_ms.saturating_sub(f) >= self.stable_after_ms)
    }
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            stable_after_snapshots: 200,
            stable_after_ms: 48 * 3600 * 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileStatus {
    Learning,
    Stable,
}

impl ProfileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileStatus::Learning => "learning",
            ProfileStatus::Stable => "stable",
        }
    }
    pub fn parse(s: &str) -> Option<ProfileStatus> {
        match s {
            "learning" => Some(ProfileStatus::Learning),
            "stable" => Some(ProfileStatus::Stable),
            _ => None,
        }
    }
}

/// A person's decision on a profile's lifecycle, beside the automatic rule
/// ([`LifecycleSettings::is_stable`]): the rule only ever makes a Learning profile Stable;
/// a person may promote a Learning profile to Stable early, or reset a Stable one to
/// Learning (it then learns again from the next snapshot). Both are recorded and undoable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    /// Learning -> Stable now, whatever the thresholds say: nothing more is merged.
    Promote,
    /// -> Learning with an empty profile: what it learned so far becomes the archived
    /// generation (kept, with its snapshots, as evidence; an undo adds it back).
    Reset,
}

impl LifecycleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Promote => "promote",
            LifecycleAction::Reset => "reset",
        }
    }
    pub fn parse(s: &str) -> Option<LifecycleAction> {
        match s {
            "promote" => Some(LifecycleAction::Promote),
            "reset" => Some(LifecycleAction::Reset),
            _ => None,
        }
    }
}

/// Why a lifecycle decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleRefused {
    #[error("profile {0} is already Stable")]
    AlreadyStable(String),
    #[error(
        "profile {0} is Learning and has learned nothing since it was reset: nothing to reset"
    )]
    NothingToReset(String),
}

/// Statistics of one node across the merged snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStats {
    pub kind: NodeKind,
    pub label: String,
    /// Snapshots that contain the node.
    pub snapshots: u32,
    /// Union of file access kinds seen.
    pub access: Access,
    /// A sample argv (processes), the first seen in key order of merge.
    pub args: Vec<String>,
}

/// Why a snapshot was not merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefused {
    #[error("profile {0} is Stable: it is immutable and takes no more snapshots")]
    Stable(String),
    #[error("snapshot `{snapshot}` is of {got}, not of profile {profile}")]
    WrongImage {
        snapshot: String,
        got: String,
        profile: String,
    },
}

/// A behaviour profile of one image version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub image: String,
    pub version: String,
    pub status: ProfileStatus,
    pub snapshot_count: u32,
    pub first_snapshot_ms: Option<i64>,
    pub last_updated_ms: Option<i64>,
    pub nodes: BTreeMap<NodeKey, NodeStats>,
}

impl Profile {
    pub fn new(image: &str, version: &str) -> Profile {
        Profile {
            image: image.to_string(),
            version: version.to_string(),
            status: ProfileStatus::Learning,
            snapshot_count: 0,
            first_snapshot_ms: None,
            last_updated_ms: None,
            nodes: BTreeMap::new(),
        }
    }

    /// `image:version`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.image, self.version)
    }

    /// Merge one snapshot (Learning only), then re-evaluate the status at the snapshot's end.
    pub fn merge(
        &mut self,
        snap: &Snapshot,
        settings: &LifecycleSettings,
    ) -> Result<ProfileStatus, MergeRefused> {
        if snap.container.image != self.image || snap.container.version != self.version {
            return Err(MergeRefused::WrongImage {
                snapshot: snap.id.clone(),
                got: format!("{}:{}", snap.container.image, snap.container.version),
                profile: self.name(),
            });
        }
        self.refresh_status(snap.ended_ms, settings);
        if self.status == ProfileStatus::Stable {
            return Err(MergeRefused::Stable(self.name()));
        }
        for n in snap.tree.nodes() {
            let e = self.nodes.entry(n.key).or_insert_with(|| NodeStats {
                kind: n.kind,
                label: n.label,
                snapshots: 0,
                access: Access::default(),
                args: Vec::new(),
            });
            e.snapshots += 1;
            e.access = e.access.union(n.access);
            if e.args.is_empty() || (!n.args.is_empty() && n.args < e.args) {
                // the smallest sample, so the result does not depend on merge order
                if !n.args.is_empty() {
                    e.args = n.args;
                }
            }
        }
        self.snapshot_count += 1;
        self.first_snapshot_ms = Some(
            self.first_snapshot_ms
                .map_or(snap.started_ms, |f| f.min(snap.started_ms)),
        );
        self.last_updated_ms = Some(
            self.last_updated_ms
                .map_or(snap.ended_ms, |l| l.max(snap.ended_ms)),
        );
        self.refresh_status(snap.ended_ms, settings);
        Ok(self.status)
    }

    /// Become Stable when a threshold is reached at time `now_ms`. Never goes back.
    pub fn refresh_status(&mut self, now_ms: i64, settings: &LifecycleSettings) -> ProfileStatus {
        if self.status == ProfileStatus::Learning
            && settings.is_stable(self.snapshot_count, self.first_snapshot_ms, now_ms)
        {
            self.status = ProfileStatus::Stable;
        }
        self.status
    }

    /// A person promotes the profile to Stable now (it then takes no more snapshots, and
    /// activity it lacks is drift). Refused when it is Stable already.
    pub fn promote(&mut self) -> Result<(), LifecycleRefused> {
        if self.status == ProfileStatus::Stable {
            return Err(LifecycleRefused::AlreadyStable(self.name()));
        }
        self.status = ProfileStatus::Stable;
        Ok(())
    }

    /// A person resets the profile to Learning: it starts again empty (no nodes, no
    /// snapshots, so the lifecycle thresholds count from its next snapshot) and what it had
    /// learned is returned, as the archived generation [`restore`](Self::restore) adds
    /// back. Refused for a Learning profile that holds nothing.
    pub fn reset(&mut self) -> Result<Profile, LifecycleRefused> {
        if self.status == ProfileStatus::Learning && self.snapshot_count == 0 {
            return Err(LifecycleRefused::NothingToReset(self.name()));
        }
        let fresh = Profile::new(&self.image, &self.version);
        Ok(std::mem::replace(self, fresh))
    }

    /// Undo a reset: the archived generation comes back, added to what was learned since
    /// (node and snapshot counts add: the two generations hold different snapshots), with
    /// the status it had.
    pub fn restore(&mut self, archived: Profile) {
        for (key, old) in archived.nodes {
            match self.nodes.get_mut(&key) {
                Some(n) => {
                    n.snapshots += old.snapshots;
                    n.access = n.access.union(old.access);
                    // the smallest sample, as `merge` keeps
                    if !old.args.is_empty() && (n.args.is_empty() || old.args < n.args) {
                        n.args = old.args;
                    }
                }
                None => {
                    self.nodes.insert(key, old);
                }
            }
        }
        self.snapshot_count += archived.snapshot_count;
        self.first_snapshot_ms = match (self.first_snapshot_ms, archived.first_snapshot_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_updated_ms = match (self.last_updated_ms, archived.last_updated_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.status = archived.status;
    }

    /// Snapshots containing the node / snapshots merged (0 when the node is absent).
    pub fn node_commonality(&self, key: &NodeKey) -> f64 {
        match (self.nodes.get(key), self.snapshot_count) {
            (Some(s), n) if n > 0 => s.snapshots as f64 / n as f64,
            _ => 0.0,
        }
    }

    /// Mean node commonality over all nodes of the profile (0 for an empty profile).
    pub fn commonality(&self) -> f64 {
        if self.nodes.is_empty() || self.snapshot_count == 0 {
            return 0.0;
        }
        let sum: u64 = self.nodes.values().map(|s| s.snapshots as u64).sum();
        sum as f64 / (self.nodes.len() as f64 * self.snapshot_count as f64)
    }

    /// The profile node most like `key` (same parent lineage as deep as possible, same kind,
    /// most similar label), for explaining an anomaly: "nearest: /bin/bash, 12%".
    pub fn nearest(&self, key: &NodeKey) -> Option<(&NodeKey, &NodeStats)> {
        let (kind, label) = key.last();
        let mut parent = key.parent();
        loop {
            let candidates = self
                .nodes
                .iter()
                .filter(|(k, s)| s.kind == kind && k.parent() == parent && *k != key);
            let best = candidates.max_by(|a, b| {
                let sa = label_similarity(&label, &a.1.label);
                let sb = label_similarity(&label, &b.1.label);
                sa.cmp(&sb)
                    .then(a.1.snapshots.cmp(&b.1.snapshots))
                    .then(b.0.cmp(a.0))
            });
            if best.is_some() {
                return best;
            }
            parent = parent.as_ref()?.parent();
            parent.as_ref()?;
        }
    }
}

/// Similarity of two labels: shared prefix length, then shared base name.
fn label_similarity(a: &str, b: &str) -> (bool, usize) {
    let prefix = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let base = |s: &str| s.rsplit('/').next().map(str::to_string);
    (base(a) == base(b), prefix)
}

/// Mean over snapshots of the share of the profile's nodes each covers. Equal to
/// [`Profile::commonality`] for the same snapshots (tested); used to cross-check.
pub fn mean_snapshot_coverage(profile: &Profile, snapshots: &[Snapshot]) -> f64 {
    if profile.nodes.is_empty() || snapshots.is_empty() {
        return 0.0;
    }
    let total = profile.nodes.len() as f64;
    let sum: f64 = snapshots
        .iter()
        .map(|s| {
            let covered = s
                .tree
                .nodes()
                .iter()
                .filter(|n| profile.nodes.contains_key(&n.key))
                .count();
            covered as f64 / total
        })
        .sum();
    sum / snapshots.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ContainerRef, Event, EventKind, ProcessInfo};
    use crate::tree::ActivityTree;
    use proptest::prelude::*;

    fn snapshot(i: usize, started: i64, activity: &[(usize, usize)]) -> Snapshot {
        const PROCS: [&str; 4] = ["/bin/sh", "/usr/bin/curl", "/usr/bin/python3", "/bin/ls"];
        const FILES: [&str; 4] = ["/etc/passwd", "/etc/hosts", "/tmp/x", "/var/log/app.log"];
        let c = ContainerRef {
            id: format!("c{i}"),
            image: "web".into(),
            version: "1".into(),
            ..Default::default()
        };
        let mut tree = ActivityTree::default();
        tree.record(&Event {
            ts_ms: started,
            container: c.clone(),
            process: ProcessInfo {
                exec_path: "/usr/sbin/nginx".into(),
                ..Default::default()
            },
            kind: EventKind::Exec,
        });
        for &(p, f) in activity {
            tree.record(&Event {
                ts_ms: started,
                container: c.clone(),
                process: ProcessInfo {
                    exec_path: PROCS[p % 4].into(),
                    ancestors: vec!["/usr/sbin/nginx".into()],
                    ..Default::default()
                },
                kind: EventKind::Open {
                    path: FILES[f % 4].into(),
                    access: Access::READ,
                    errno: 0,
                    requested: None,
                },
            });
        }
        Snapshot {
            id: format!("s{i}"),
            container: c,
            host: "h".into(),
            started_ms: started,
            ended_ms: started + 1000,
            tree,
        }
    }

    fn never_stable() -> LifecycleSettings {
        LifecycleSettings {
            stable_after_snapshots: u32::MAX,
            stable_after_ms: i64::MAX,
        }
    }

    #[test]
    fn commonality_by_the_formula() {
        let s = [
            snapshot(0, 0, &[(0, 0)]),
            snapshot(1, 10, &[(0, 0), (1, 1)]),
            snapshot(2, 20, &[]),
            snapshot(3, 30, &[(0, 1)]),
        ];
        let mut p = Profile::new("web", "1");
        for x in &s {
            p.merge(x, &never_stable()).unwrap();
        }
        let root = NodeKey::of_lineage(&["/usr/sbin/nginx"]).unwrap();
        let sh = root.child(NodeKind::Process, "/bin/sh");
        assert_eq!(p.node_commonality(&root), 1.0);
        assert_eq!(p.node_commonality(&sh), 0.75);
        assert_eq!(
            p.node_commonality(&sh.child(NodeKind::File, "/etc/passwd")),
            0.5
        );
        assert_eq!(p.node_commonality(&sh.child(NodeKind::File, "/nope")), 0.0);
        // nodes: root 4, sh 3, sh/passwd 2, sh/hosts 1, curl 1, curl/hosts 1 => 12 / (6*4)
        assert_eq!(p.nodes.len(), 6);
        assert!((p.commonality() - 0.5).abs() < 1e-12);
        assert!((mean_snapshot_coverage(&p, &s) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn stable_by_count_then_immutable() {
        let settings = LifecycleSettings {
            stable_after_snapshots: 3,
            stable_after_ms: i64::MAX,
        };
        let mut p = Profile::new("web", "1");
        assert_eq!(
            p.merge(&snapshot(0, 0, &[]), &settings),
            Ok(ProfileStatus::Learning)
        );
        assert_eq!(
            p.merge(&snapshot(1, 1, &[]), &settings),
            Ok(ProfileStatus::Learning)
        );
        assert_eq!(
            p.merge(&snapshot(2, 2, &[]), &settings),
            Ok(ProfileStatus::Stable)
        );
        let before = p.clone();
        assert_eq!(
            p.merge(&snapshot(3, 3, &[(1, 1)]), &settings),
            Err(MergeRefused::Stable("web:1".into()))
        );
        assert_eq!(p, before, "a Stable profile is immutable");
    }

    #[test]
    fn stable_by_time_since_first_snapshot() {
        let settings = LifecycleSettings::default();
        let mut p = Profile::new("web", "1");
        p.merge(&snapshot(0, 0, &[]), &settings).unwrap();
        let h = 3600 * 1000;
        assert_eq!(p.refresh_status(47 * h, &settings), ProfileStatus::Learning);
        // a snapshot ending past 48 h is refused: the profile was Stable by then
        assert!(p.merge(&snapshot(1, 48 * h, &[]), &settings).is_err());
        assert_eq!(p.status, ProfileStatus::Stable);
        assert_eq!(p.snapshot_count, 1);
    }

    #[test]
    fn new_version_is_a_new_profile() {
        let mut p = Profile::new("web", "2");
        let err = p.merge(&snapshot(0, 0, &[]), &never_stable()).unwrap_err();
        assert!(err.to_string().contains("web:1"), "{err}");
    }

    #[test]
    fn nearest_prefers_siblings_of_same_kind() {
        let mut p = Profile::new("web", "1");
        p.merge(&snapshot(0, 0, &[(0, 0), (2, 1)]), &never_stable())
            .unwrap();
        let root = NodeKey::of_lineage(&["/usr/sbin/nginx"]).unwrap();
        let unknown = root.child(NodeKind::Process, "/bin/bash");
        let (k, _) = p.nearest(&unknown).unwrap();
        assert_eq!(k.last().1, "/bin/sh");
        let unknown_file = root
            .child(NodeKind::Process, "/bin/sh")
            .child(NodeKind::File, "/etc/shadow");
        assert_eq!(p.nearest(&unknown_file).unwrap().0.last().1, "/etc/passwd");
    }

    fn arb_snapshots() -> impl Strategy<Value = Vec<Snapshot>> {
        prop::collection::vec(prop::collection::vec((0usize..4, 0usize..4), 0..6), 1..12).prop_map(
            |acts| {
                acts.iter()
                    .enumerate()
                    .map(|(i, a)| snapshot(i, i as i64 * 100, a))
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn merge_is_order_independent(snaps in arb_snapshots(), seed in any::<u64>()) {
            let mut a = Profile::new("web", "1");
            for s in &snaps { a.merge(s, &never_stable()).unwrap(); }
            let mut shuffled = snaps.clone();
            // deterministic shuffle from the seed
            let n = shuffled.len();
            let mut x = seed | 1;
            for i in (1..n).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut b = Profile::new("web", "1");
            for s in &shuffled { b.merge(s, &never_stable()).unwrap(); }
            prop_assert_eq!(a, b);
        }

        #[test]
        fn profile_commonality_is_mean_snapshot_coverage(snaps in arb_snapshots()) {
            let mut p = Profile::new("web", "1");
            for s in &snaps { p.merge(s, &never_stable()).unwrap(); }
            let diff = (p.commonality() - mean_snapshot_coverage(&p, &snaps)).abs();
            prop_assert!(diff < 1e-9, "{} vs {}", p.commonality(), mean_snapshot_coverage(&p, &snaps));
            for s in p.nodes.values() { prop_assert!(s.snapshots >= 1 && s.snapshots <= p.snapshot_count); }
        }
    }

    #[test]
    fn promote_makes_stable_now_and_refuses_twice() {
        let mut p = Profile::new("web", "1");
        p.merge(&snapshot(0, 0, &[(0, 0)]), &never_stable())
            .unwrap();
        p.promote().unwrap();
        assert_eq!(p.status, ProfileStatus::Stable);
        assert_eq!(
            p.merge(&snapshot(1, 10, &[]), &never_stable()),
            Err(MergeRefused::Stable("web:1".into())),
            "a promoted profile is immutable like any Stable one"
        );
        assert_eq!(
            p.promote(),
            Err(LifecycleRefused::AlreadyStable("web:1".into()))
        );
    }

    #[test]
    fn reset_learns_again_from_the_next_snapshot() {
        let settings = LifecycleSettings {
            stable_after_snapshots: 3,
            stable_after_ms: 1_000_000,
        };
        let mut p = Profile::new("web", "1");
        for i in 0..3 {
            p.merge(&snapshot(i, i as i64 * 10, &[(0, 0)]), &settings)
                .unwrap();
        }
        assert_eq!(p.status, ProfileStatus::Stable);
        let archived = p.reset().unwrap();
        assert_eq!(archived.snapshot_count, 3);
        assert_eq!(archived.status, ProfileStatus::Stable);
        assert_eq!((p.status, p.snapshot_count), (ProfileStatus::Learning, 0));
        assert!(p.nodes.is_empty() && p.first_snapshot_ms.is_none());
        // long after the first snapshot of the old generation: the clock starts again
        let later = 5_000_000;
        assert_eq!(
            p.merge(&snapshot(7, later, &[(1, 1)]), &settings),
            Ok(ProfileStatus::Learning)
        );
        assert_eq!(p.first_snapshot_ms, Some(later));
        // nothing learned since a reset: a second reset has nothing to do
        let mut q = Profile::new("web", "2");
        assert_eq!(
            q.reset(),
            Err(LifecycleRefused::NothingToReset("web:2".into()))
        );
    }

    proptest! {
        /// Undoing a reset gives the profile that merging both generations would have
        /// given, with the status from before the reset.
        #[test]
        fn restore_adds_the_generations(
            before in proptest::collection::vec(proptest::collection::vec((0usize..4, 0usize..4), 0..4), 1..6),
            after in proptest::collection::vec(proptest::collection::vec((0usize..4, 0usize..4), 0..4), 0..6),
        ) {
            let snaps: Vec<Snapshot> = before.iter().chain(after.iter()).enumerate()
                .map(|(i, a)| snapshot(i, 1000 - i as i64 * 7, a)).collect();
            let mut whole = Profile::new("web", "1");
            for s in &snaps {
                whole.merge(s, &never_stable()).unwrap();
            }
            let mut p = Profile::new("web", "1");
            for s in &snaps[..before.len()] {
                p.merge(s, &never_stable()).unwrap();
            }
            p.promote().unwrap();
            let archived = p.reset().unwrap();
            for s in &snaps[before.len()..] {
                p.merge(s, &never_stable()).unwrap();
            }
            p.restore(archived);
            prop_assert_eq!(p.status, ProfileStatus::Stable);
            p.status = whole.status;
            prop_assert_eq!(p, whole);
        }
    }
}
