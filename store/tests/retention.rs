//! Retention on a real DuckDB file: old unmerged snapshots, closed signals and capture
//! counters go; merged snapshots, open signals and everything recent stay, and profiles
//! with their commonality are unchanged.

use model::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use model::profile::LifecycleSettings;
use model::signal::{NewSignal, SignalKind};
use model::snapshot::Snapshot;
use model::tree::ActivityTree;
use store::{AddOutcome, PruneOutcome, SignalFilter, Store};

const DAY: i64 = 86_400_000;

fn container(i: usize) -> ContainerRef {
    ContainerRef {
        id: format!("{i:064x}"),
        image: "web".into(),
        version: "1.0".into(),
        ..Default::default()
    }
}

fn event(c: &ContainerRef, lineage: &[&str], kind: EventKind, ts_ms: i64) -> Event {
    let (last, anc) = lineage.split_last().unwrap();
    Event {
        ts_ms,
        container: c.clone(),
        process: ProcessInfo {
            pid: 10,
            exec_path: last.to_string(),
            args: vec![last.to_string()],
            ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        kind,
    }
}

/// Snapshot `i` of web:1.0 ending on `day`; `shell` adds /bin/sh under nginx.
fn snapshot(i: usize, day: i64, shell: bool) -> Snapshot {
    let c = container(i);
    let mut tree = ActivityTree::default();
    tree.record(&event(&c, &["/usr/sbin/nginx"], EventKind::Exec, day * DAY));
    tree.record(&event(
        &c,
        &["/usr/sbin/nginx"],
        EventKind::Open {
            path: "/etc/nginx/nginx.conf".into(),
            access: Access::READ,
            errno: 0,
            requested: None,
        },
        day * DAY,
    ));
    if shell {
        tree.record(&event(
            &c,
            &["/usr/sbin/nginx", "/bin/sh"],
            EventKind::Exec,
            day * DAY,
        ));
    }
    Snapshot {
        id: format!("snap-{i}"),
        container: c,
        host: "host-a".into(),
        started_ms: day * DAY - 1000,
        ended_ms: day * DAY,
        tree,
    }
}

fn signal(rule: &str, day: i64) -> NewSignal {
    let e = event(
        &container(0),
        &["/usr/sbin/nginx", "/bin/sh"],
        EventKind::Exec,
        day * DAY,
    );
    NewSignal::from_event(&e, SignalKind::Rule, rule, "high", "T1059", String::new())
}

fn inserted(o: AddOutcome) -> i64 {
    match o {
        AddOutcome::Inserted(id) => id,
        other => panic!("expected a new signal, got {other:?}"),
    }
}

#[test]
fn prune_drops_old_unmerged_snapshots_closed_signals_and_counters_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsprof.duckdb");
    let mut s = Store::open(&path).unwrap();
    let lifecycle = LifecycleSettings {
        stable_after_snapshots: 3,
        stable_after_ms: i64::MAX,
    };
    // Merged (old): days 1..3, /bin/sh in 2 of 3. Then Stable: the rest is unmerged.
    for (i, (day, shell)) in [(1, true), (2, true), (3, false), (5, true), (95, true)]
        .into_iter()
        .enumerate()
    {
        let merged = s
            .ingest_snapshot(&snapshot(i, day, shell), &lifecycle)
            .unwrap()
            .merged;
        assert_eq!(merged, i < 3, "snapshot {i}");
    }
    let old_unmerged_nodes = s.profile_snapshots("web", "1.0").unwrap();
    let old_unmerged_nodes = old_unmerged_nodes
        .iter()
        .find(|x| x.id == "snap-3")
        .unwrap()
        .nodes;
    // Stores written before this version hold one `snapshot_nodes` row per node per
    // snapshot; pruning removes those of a pruned snapshot (rows made here as then).
    {
        let r = s.reader().unwrap();
        let c = r.raw_connection();
        for k in 0..old_unmerged_nodes {
            c.execute(
                "INSERT INTO snapshot_nodes VALUES ('snap-3', ?, NULL, 'process', 'x', 0, 0, '[]')",
                [format!("p:/x{k}")],
            )
            .unwrap();
        }
        c.execute(
            "INSERT INTO snapshot_nodes VALUES ('snap-4', 'p:/kept', NULL, 'process', 'x', 0, 0, '[]')",
            [],
        )
        .unwrap();
    }

    let open_old = inserted(s.add_signal(&signal("r-open", 1), DAY).unwrap());
    let sup_old = inserted(s.add_signal(&signal("r-sup", 2), 2 * DAY).unwrap());
    let rej_old = inserted(s.add_signal(&signal("r-rej", 3), 3 * DAY).unwrap());
    let rej_new = inserted(s.add_signal(&signal("r-rej-new", 90), 90 * DAY).unwrap());
    s.suppress(sup_old, "alice", "", None, 4 * DAY).unwrap();
    s.reject_signal(rej_old).unwrap();
    s.reject_signal(rej_new).unwrap();

    for day in [1, 2, 95] {
        s.record_capture_stats(day * DAY, day as u64, 0, "{}")
            .unwrap();
    }

    let profile_before = s.profile("web", "1.0").unwrap().unwrap();
    let summary_before = s.profiles().unwrap()[0].clone();
    let nodes_before = s.profile_nodes("web", "1.0").unwrap();
    assert_eq!(summary_before.unmerged_snapshots, 2);

    // retention 0 keeps everything
    assert_eq!(s.prune(100 * DAY, 0).unwrap(), PruneOutcome::default());
    assert_eq!(s.all_snapshots().unwrap().len(), 5);

    // 30 days before day 100: the cut-off is day 70
    let out = s.prune(100 * DAY, 30).unwrap();
    assert_eq!(
        out,
        PruneOutcome {
            cutoff_ms: 70 * DAY,
            snapshots: 1,
            snapshot_nodes: old_unmerged_nodes as u64,
            signals: 2,
            capture_stats: 2,
        }
    );
    let ids: Vec<String> = s
        .all_snapshots()
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(
        ["snap-0", "snap-1", "snap-2", "snap-4"]
            .iter()
            .all(|i| ids.contains(&i.to_string())),
        "merged and recent snapshots stay: {ids:?}"
    );
    let left: Vec<(i64, String)> = s
        .signals(&SignalFilter::default())
        .unwrap()
        .into_iter()
        .map(|x| (x.id, x.status))
        .collect();
    assert_eq!(
        left,
        [
            (rej_new, "rejected".to_string()),
            (open_old, "open".to_string())
        ],
        "open signals stay whatever their age"
    );
    assert_eq!(s.latest_capture_stats().unwrap().unwrap().0, 95);

    // profiles and their commonality are unchanged
    assert_eq!(s.profile("web", "1.0").unwrap().unwrap(), profile_before);
    assert_eq!(s.profile_nodes("web", "1.0").unwrap(), nodes_before);
    let summary_after = s.profiles().unwrap()[0].clone();
    assert_eq!(summary_after.commonality, summary_before.commonality);
    assert_eq!(summary_after.snapshots, summary_before.snapshots);
    assert_eq!(summary_after.unmerged_snapshots, 1);
    // the suppression stays (with its count); a new match is still hidden by it
    assert_eq!(s.suppressions(false).unwrap().len(), 1);
    assert!(matches!(
        s.add_signal(&signal("r-sup", 100), 100 * DAY).unwrap(),
        AddOutcome::Suppressed(_)
    ));
    // a match of a pruned signal's rule queues a new signal
    inserted(s.add_signal(&signal("r-rej", 100), 100 * DAY).unwrap());

    // pruning again removes nothing more; the newest capture counters always stay
    let again = s.prune(100 * DAY, 30).unwrap();
    assert_eq!(
        (again.snapshots, again.signals, again.capture_stats),
        (0, 0, 0)
    );
    assert_eq!(s.prune(1000 * DAY, 30).unwrap().capture_stats, 0);
    assert_eq!(s.latest_capture_stats().unwrap().unwrap().0, 95);
    drop(s);

    // in the file: no node rows of the pruned snapshot are left
    let conn = duckdb::Connection::open(&path).unwrap();
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM snapshot_nodes WHERE snapshot_id NOT IN (SELECT snapshot_id FROM snapshots)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM snapshot_nodes WHERE snapshot_id = 'snap-3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
}
