//! Outlier containers: which containers of a profile did what the profile holds as rare
//! (or does not hold at all), and which nodes make the difference.
//!
//! For a container with the set `N` of distinct nodes in its snapshots (merged ones and
//! those kept after the profile became Stable):
//!
//! ```text
//! score = mean over n in N of (1 - commonality(n))
//! ```
//!
//! where `commonality(n)` is the node's commonality in the profile, 0 for a node the
//! profile does not hold. A container that only does what its siblings do scores the same
//! as they do; one that also did something rare scores higher, however few times it did
//! it (a one-off intrusion counts as much as a daily job). Ties are broken by the number of
//! nodes the profile does not hold, then by container id.
//!
//! Each container lists its **distinguishing nodes**: those with commonality below
//! [`RARE`] (or absent from the profile) that fewer than half of the other containers
//! have (rare start-up activity every container has sets none apart), fewest other
//! containers first, then rarest.

use crate::profile::Profile;
use crate::snapshot::Snapshot;
use crate::tree::NodeKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Below this commonality a node is rare.
pub const RARE: f64 = 0.1;
/// Distinguishing nodes kept per container (the total is counted).
pub const MAX_NODES: usize = 20;

/// The formula, as `wsprof profile outliers` prints it.
pub const FORMULA: &str = "score = mean over the container's distinct nodes of (1 - commonality); a node not in the profile counts 0";

/// A node that sets a container apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierNode {
    pub key: String,
    pub kind: String,
    pub label: String,
    /// `nginx > sh > bash > cat: file /etc/shadow`.
    pub path: String,
    /// Commonality in the profile (0 when the profile does not hold it).
    pub commonality: f64,
    pub in_profile: bool,
    /// Snapshots of this container that hold it.
    pub snapshots: u32,
    /// Other containers of the profile whose snapshots hold it.
    pub other_containers: u32,
}

/// One container of the profile, ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerOutlier {
    pub rank: u32,
    pub container_id: String,
    pub hosts: Vec<String>,
    pub tags: Vec<String>,
    pub snapshots: u32,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Distinct nodes in its snapshots.
    pub nodes: u32,
    pub score: f64,
    /// Nodes with commonality below [`RARE`], absent ones included (whether or not other
    /// containers have them too).
    pub rare_nodes: u32,
    /// Nodes the profile does not hold.
    pub novel_nodes: u32,
    /// The first [`MAX_NODES`] distinguishing nodes (rare, and held by fewer than half of
    /// the other containers).
    pub distinguishing: Vec<OutlierNode>,
    pub distinguishing_total: u32,
}

/// The ranking of a profile's containers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierReport {
    pub image: String,
    pub version: String,
    pub status: String,
    pub profile_snapshots: u32,
    pub formula: String,
    pub containers: Vec<ContainerOutlier>,
}

#[derive(Default)]
struct Seen<'a> {
    snapshots: u32,
    hosts: BTreeSet<&'a str>,
    tags: BTreeSet<&'a str>,
    first_ms: i64,
    last_ms: i64,
    /// Node -> snapshots of this container holding it.
    nodes: BTreeMap<NodeKey, (u32, crate::tree::NodeKind, String)>,
}

/// Rank the containers of `snapshots` (those of `profile`'s image version) against it.
pub fn rank(profile: &Profile, snapshots: &[Snapshot]) -> OutlierReport {
    let mut by: BTreeMap<&str, Seen> = BTreeMap::new();
    for s in snapshots {
        let e = by.entry(s.container.id.as_str()).or_insert_with(|| Seen {
            first_ms: s.started_ms,
            last_ms: s.ended_ms,
            ..Default::default()
        });
        e.snapshots += 1;
        e.first_ms = e.first_ms.min(s.started_ms);
        e.last_ms = e.last_ms.max(s.ended_ms);
        e.hosts.insert(s.host.as_str());
        e.tags.extend(s.container.tags.iter().map(String::as_str));
        for n in s.tree.nodes() {
            let slot = e.nodes.entry(n.key).or_insert((0, n.kind, n.label));
            slot.0 += 1;
        }
    }
    // Node -> containers holding it.
    let mut holders: BTreeMap<&NodeKey, u32> = BTreeMap::new();
    for seen in by.values() {
        for k in seen.nodes.keys() {
            *holders.entry(k).or_default() += 1;
        }
    }
    let others_total = by.len().saturating_sub(1) as u32;
    let mut containers: Vec<ContainerOutlier> = by
        .iter()
        .map(|(id, seen)| {
            let mut rarity = 0.0;
            let mut rare = Vec::new();
            let mut rare_count = 0;
            let mut novel = 0;
            for (k, (count, kind, label)) in &seen.nodes {
                let c = profile.node_commonality(k);
                let in_profile = profile.nodes.contains_key(k);
                rarity += 1.0 - c;
                novel += u32::from(!in_profile);
                let others = holders.get(k).copied().unwrap_or(1) - 1;
                rare_count += u32::from(c < RARE);
                if c < RARE && (others == 0 || others * 2 < others_total) {
                    rare.push(OutlierNode {
                        key: k.0.clone(),
                        kind: kind.as_str().to_string(),
                        label: label.clone(),
                        path: k.describe(),
                        commonality: c,
                        in_profile,
                        snapshots: *count,
                        other_containers: others,
                    });
                }
            }
            rare.sort_by(|a, b| {
                a.other_containers
                    .cmp(&b.other_containers)
                    .then(a.commonality.total_cmp(&b.commonality))
                    .then(a.key.cmp(&b.key))
            });
            let total = rare.len() as u32;
            rare.truncate(MAX_NODES);
            ContainerOutlier {
                rank: 0,
                container_id: id.to_string(),
                hosts: seen.hosts.iter().map(|h| h.to_string()).collect(),
                tags: seen.tags.iter().map(|t| t.to_string()).collect(),
                snapshots: seen.snapshots,
                first_ms: seen.first_ms,
                last_ms: seen.last_ms,
                nodes: seen.nodes.len() as u32,
                score: if seen.nodes.is_empty() {
                    0.0
                } else {
                    rarity / seen.nodes.len() as f64
                },
                rare_nodes: rare_count,
                novel_nodes: novel,
                distinguishing: rare,
                distinguishing_total: total,
            }
        })
        .collect();
    containers.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.novel_nodes.cmp(&a.novel_nodes))
            .then(a.container_id.cmp(&b.container_id))
    });
    for (i, c) in containers.iter_mut().enumerate() {
        c.rank = i as u32 + 1;
    }
    OutlierReport {
        image: profile.image.clone(),
        version: profile.version.clone(),
        status: profile.status.as_str().to_string(),
        profile_snapshots: profile.snapshot_count,
        formula: FORMULA.to_string(),
        containers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
    use crate::profile::LifecycleSettings;
    use crate::tree::ActivityTree;

    fn snap(i: usize, container: &str, extra: &[(&[&str], EventKind)]) -> Snapshot {
        let c = ContainerRef {
            id: container.into(),
            image: "web".into(),
            version: "1".into(),
            ..Default::default()
        };
        let ev = |lineage: &[&str], kind: EventKind| {
            let (last, anc) = lineage.split_last().unwrap();
            Event {
                ts_ms: 0,
                container: c.clone(),
                process: ProcessInfo {
                    exec_path: last.to_string(),
                    ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
                    ..Default::default()
                },
                kind,
            }
        };
        let mut t = ActivityTree::default();
        t.record(&ev(
            &["/usr/sbin/nginx"],
            EventKind::Open {
                path: "/etc/nginx/nginx.conf".into(),
                access: Access::READ,
                errno: 0,
                requested: None,
            },
        ));
        // every fourth snapshot of every container: a log reopen (25%)
        if i.is_multiple_of(4) {
            t.record(&ev(
                &["/usr/sbin/nginx"],
                EventKind::Open {
                    path: "/var/log/nginx/error.log".into(),
                    access: Access::WRITE,
                    errno: 0,
                    requested: None,
                },
            ));
        }
        // containers a and c ran their entrypoint once: rare, but not what sets one apart
        if i == 0 && container != "b" {
            t.record(&ev(&["/docker-entrypoint.sh"], EventKind::Exec));
        }
        for (l, k) in extra {
            t.record(&ev(l, k.clone()));
        }
        Snapshot {
            id: format!("{container}-{i}"),
            container: c,
            host: "h".into(),
            started_ms: i as i64 * 1000,
            ended_ms: i as i64 * 1000 + 1000,
            tree: t,
        }
    }

    #[test]
    fn the_container_that_did_something_rare_ranks_first_with_its_nodes() {
        let mut snaps = Vec::new();
        for c in ["a", "b", "c"] {
            for i in 0..8 {
                snaps.push(snap(i, c, &[]));
            }
        }
        let mut p = Profile::new("web", "1");
        let never = LifecycleSettings {
            stable_after_snapshots: 24,
            stable_after_ms: i64::MAX,
        };
        for s in &snaps {
            p.merge(s, &never).unwrap();
        }
        // after Stable, container b once starts a shell that reads /etc/shadow
        let shell: &[&str] = &["/usr/sbin/nginx", "/bin/sh"];
        snaps.push(snap(
            8,
            "b",
            &[(
                shell,
                EventKind::Open {
                    path: "/etc/shadow".into(),
                    access: Access::READ,
                    errno: 0,
                    requested: None,
                },
            )],
        ));
        let r = rank(&p, &snaps);
        let ids: Vec<&str> = r
            .containers
            .iter()
            .map(|c| c.container_id.as_str())
            .collect();
        assert_eq!(ids, vec!["b", "a", "c"], "b first, the others by id");
        let b = &r.containers[0];
        assert_eq!((b.rank, b.snapshots, b.nodes, b.novel_nodes), (1, 9, 5, 2));
        // nodes: nginx 1.0, conf 1.0, error.log 0.25, sh 0, shadow 0
        assert!(
            (b.score - (0.75 + 1.0 + 1.0) / 5.0).abs() < 1e-12,
            "{}",
            b.score
        );
        let a = &r.containers[1];
        // nginx 1.0, conf 1.0, error.log 0.25, the entrypoint 2/24
        let expect = (0.75 + (1.0 - 2.0 / 24.0)) / 4.0;
        assert!((a.score - expect).abs() < 1e-12, "{}", a.score);
        assert_eq!(a.rare_nodes, 1, "the entrypoint is rare; 25% is not");
        assert!(
            a.distinguishing.is_empty(),
            "the other of the two containers did it too: {:?}",
            a.distinguishing
        );
        let labels: Vec<&str> = b.distinguishing.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(labels, vec!["nginx > sh", "nginx > sh: file /etc/shadow"]);
        assert!(b
            .distinguishing
            .iter()
            .all(|n| !n.in_profile && n.other_containers == 0));
        assert_eq!(r.profile_snapshots, 24);
        assert_eq!(r.status, "stable");
    }

    #[test]
    fn no_snapshots_no_containers() {
        let p = Profile::new("web", "1");
        assert!(rank(&p, &[]).containers.is_empty());
    }
}
