//! Signals (a rule matched an event, or a Stable profile did not hold the activity), their
//! trigger node in the profile, suppression suggestions and anomaly explanations.

use crate::event::{ContainerRef, Event, ProcessInfo};
use crate::profile::{Profile, ProfileStatus};
use crate::scrub::{scrub_args, scrub_text};
use crate::tree::{ActivityTree, NodeKey, NodeKind};
use serde::{Deserialize, Serialize};

/// Rule id of anomaly signals.
pub const ANOMALY_RULE: &str = "profile-anomaly";

/// Default suggestion threshold: the trigger node is in at least half the snapshots.
pub const DEFAULT_SUGGESTION_THRESHOLD: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Rule,
    /// One event a Stable profile did not hold (older stores; new ones raise drift).
    Anomaly,
    /// Every novel node of one container in one window (see [`crate::drift`]).
    Drift,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Rule => "rule",
            SignalKind::Anomaly => "anomaly",
            SignalKind::Drift => "drift",
        }
    }
}

/// Triage state of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalStatus {
    Open,
    Suppressed,
    /// The person looked at the suggestion and said no: keep it as a real finding.
    Rejected,
}

impl SignalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalStatus::Open => "open",
            SignalStatus::Suppressed => "suppressed",
            SignalStatus::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<SignalStatus> {
        match s {
            "open" => Some(SignalStatus::Open),
            "suppressed" => Some(SignalStatus::Suppressed),
            "rejected" => Some(SignalStatus::Rejected),
            _ => None,
        }
    }
}

/// A signal as raised (before the store gives it an id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSignal {
    pub ts_ms: i64,
    pub kind: SignalKind,
    pub rule_id: String,
    pub severity: String,
    pub mitre: String,
    pub container: ContainerRef,
    /// The process, argv scrubbed.
    pub process: ProcessInfo,
    /// Scrubbed one-line summary of the event.
    pub summary: String,
    /// The profile node the event maps to (process, or its file/DNS/net/kernel child).
    pub node: NodeKey,
    /// Why (anomalies: what the profile lacks and the nearest node it has).
    pub reason: String,
    /// Why no suppression may be suggested whatever the profile says (the rule matched on
    /// something profiles do not record, such as the command line).
    #[serde(default)]
    pub suggestion_block: Option<String>,
}

impl NewSignal {
    /// A signal for `ev`, with secrets scrubbed from everything kept.
    pub fn from_event(
        ev: &Event,
        kind: SignalKind,
        rule_id: &str,
        severity: &str,
        mitre: &str,
        reason: String,
    ) -> NewSignal {
        let mut process = ev.process.clone();
        process.args = scrub_args(&process.args);
        NewSignal {
            ts_ms: ev.ts_ms,
            kind,
            rule_id: rule_id.to_string(),
            severity: severity.to_string(),
            mitre: mitre.to_string(),
            container: ev.container.clone(),
            process,
            summary: scrub_text(&ev.summary()),
            node: trigger_node(ev),
            reason,
            suggestion_block: None,
        }
    }

    /// Identity for de-duplication: same rule, container, node and summary.
    pub fn dedup_key(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.rule_id, self.container.id, self.node, self.summary
        )
    }
}

/// The profile node an event maps to: its process (by folded lineage), or for file, DNS,
/// network and kernel events the child node under that process. Built through the same
/// tree builder as snapshots, so keys always agree.
pub fn trigger_node(ev: &Event) -> NodeKey {
    let mut t = ActivityTree::default();
    t.record(ev);
    let nodes = t.nodes();
    // the deepest process is the last process; its leaves follow it
    let last_proc = nodes
        .iter()
        .rposition(|n| n.kind == NodeKind::Process)
        .unwrap_or(0);
    match nodes.get(last_proc + 1) {
        Some(leaf) => leaf.key.clone(),
        None => nodes
            .get(last_proc)
            .map(|n| n.key.clone())
            .unwrap_or_else(|| NodeKey::root(NodeKind::Process, &ev.process.exec_path)),
    }
}

/// "Known behaviour, N of M snapshots".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub node: NodeKey,
    pub snapshots_with: u32,
    pub snapshots: u32,
}

impl Suggestion {
    pub fn commonality(&self) -> f64 {
        if self.snapshots == 0 {
            0.0
        } else {
            self.snapshots_with as f64 / self.snapshots as f64
        }
    }
    pub fn text(&self) -> String {
        format!(
            "known behaviour: {} of {} snapshots ({:.0}%)",
            self.snapshots_with,
            self.snapshots,
            self.commonality() * 100.0
        )
    }
}

/// A suggestion when the trigger node is in the profile with commonality >= threshold.
pub fn suggest(node: &NodeKey, profile: &Profile, threshold: f64) -> Option<Suggestion> {
    let stats = profile.nodes.get(node)?;
    suggestion(node, stats.snapshots, profile.snapshot_count, threshold)
}

/// The suggestion for a node the profile holds, seen in `with` of its `of` snapshots.
pub fn suggestion(node: &NodeKey, with: u32, of: u32, threshold: f64) -> Option<Suggestion> {
    let s = Suggestion {
        node: node.clone(),
        snapshots_with: with,
        snapshots: of,
    };
    (of > 0 && s.commonality() >= threshold).then_some(s)
}

/// Activity of a workload whose profile is Stable that the profile does not hold: the
/// topmost node of the event's chain that is missing, with the nearest node the profile has.
pub fn anomaly(ev: &Event, profile: &Profile) -> Option<String> {
    if profile.status != ProfileStatus::Stable {
        return None;
    }
    let mut t = ActivityTree::default();
    t.record(ev);
    let missing = t
        .nodes()
        .into_iter()
        .find(|n| !profile.nodes.contains_key(&n.key))?;
    let parent = missing
        .key
        .parent()
        .map(|p| p.last().1)
        .map(|p| format!(" under {}", crate::event::base_name(&p)))
        .unwrap_or_default();
    let what = match missing.kind {
        NodeKind::Process => format!("no exec of {}", missing.label),
        NodeKind::File => format!("no access to {}", missing.label),
        NodeKind::Dns => format!("no DNS query for {}", missing.label),
        NodeKind::Net => format!("no {}", missing.label),
        NodeKind::Kernel => format!("no {}", missing.label),
    };
    let nearest = match profile.nearest(&missing.key) {
        Some((_, s)) => format!(
            "; nearest: {}, {:.0}%",
            s.label,
            100.0 * s.snapshots as f64 / profile.snapshot_count.max(1) as f64
        ),
        None => "; nothing similar in the profile".to_string(),
    };
    Some(format!(
        "{what}{parent} in {} snapshots{nearest}",
        profile.snapshot_count
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Access, EventKind};
    use crate::profile::LifecycleSettings;
    use crate::snapshot::Snapshot;

    fn ev(lineage: &[&str], kind: EventKind) -> Event {
        let (last, anc) = lineage.split_last().unwrap();
        Event {
            ts_ms: 1,
            container: ContainerRef {
                id: "c".into(),
                image: "web".into(),
                version: "1".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                pid: 3,
                exec_path: last.to_string(),
                args: vec![last.to_string(), "token=abc".into()],
                ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            kind,
        }
    }

    fn profile(n: u32, with_sh: u32, settings: &LifecycleSettings) -> Profile {
        let mut p = Profile::new("web", "1");
        for i in 0..n {
            let mut tree = ActivityTree::default();
            tree.record(&ev(&["/usr/sbin/nginx"], EventKind::Exec));
            if i < with_sh {
                tree.record(&ev(
                    &["/usr/sbin/nginx", "/bin/sh"],
                    EventKind::Open {
                        path: "/etc/passwd".into(),
                        access: Access::READ,
                        errno: 0,
                        requested: None,
                    },
                ));
            }
            let s = Snapshot {
                id: format!("s{i}"),
                container: ContainerRef {
                    id: format!("c{i}"),
                    image: "web".into(),
                    version: "1".into(),
                    ..Default::default()
                },
                host: String::new(),
                started_ms: i as i64,
                ended_ms: i as i64,
                tree,
            };
            let _ = p.merge(&s, settings);
        }
        p
    }

    #[test]
    fn trigger_node_is_the_leaf_under_the_lineage() {
        let e = ev(
            &["/usr/sbin/nginx", "/bin/sh"],
            EventKind::Open {
                path: "/proc/77/environ".into(),
                access: Access::READ,
                errno: 0,
                requested: None,
            },
        );
        assert_eq!(
            trigger_node(&e).0,
            "p:/usr/sbin/nginx|p:/bin/sh|f:/proc/*/environ"
        );
        let x = ev(&["/usr/sbin/nginx", "/bin/sh"], EventKind::Exec);
        assert_eq!(trigger_node(&x).0, "p:/usr/sbin/nginx|p:/bin/sh");
    }

    #[test]
    fn suggestion_threshold_is_inclusive() {
        let p = profile(10, 5, &LifecycleSettings::default());
        let sh = NodeKey::of_lineage(&["/usr/sbin/nginx", "/bin/sh"]).unwrap();
        let s = suggest(&sh, &p, 0.5).expect("5 of 10 meets 50%");
        assert_eq!(s.text(), "known behaviour: 5 of 10 snapshots (50%)");
        assert!(suggest(&sh, &p, 0.51).is_none());
        let unknown = NodeKey::of_lineage(&["/usr/sbin/nginx", "/bin/bash"]).unwrap();
        assert!(suggest(&unknown, &p, 0.0).is_none());
    }

    #[test]
    fn anomaly_only_against_stable_profiles_and_explained() {
        let stable = LifecycleSettings {
            stable_after_snapshots: 8,
            stable_after_ms: i64::MAX,
        };
        let p = profile(8, 1, &stable);
        assert_eq!(p.status, ProfileStatus::Stable);
        let bash = ev(&["/usr/sbin/nginx", "/bin/bash"], EventKind::Exec);
        assert_eq!(
            anomaly(&bash, &p).unwrap(),
            "no exec of /bin/bash under nginx in 8 snapshots; nearest: /bin/sh, 12%"
        );
        let known = ev(&["/usr/sbin/nginx", "/bin/sh"], EventKind::Exec);
        assert_eq!(anomaly(&known, &p), None);
        let learning = profile(3, 1, &stable);
        assert_eq!(
            anomaly(&bash, &learning),
            None,
            "Learning profiles raise no anomalies"
        );
    }

    #[test]
    fn signals_are_scrubbed() {
        let e = ev(&["/usr/bin/curl"], EventKind::Exec);
        let s = NewSignal::from_event(&e, SignalKind::Rule, "r", "high", "T1", String::new());
        assert_eq!(s.process.args, vec!["/usr/bin/curl", "token=***"]);
    }
}
