//! Lifecycle decisions (promote, reset, undo), learning progress and the snapshot
//! drill-down, on real DuckDB files.

use model::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use model::profile::{LifecycleSettings, Profile, ProfileStatus};
use model::rule::{RuleFormat, RuleSet};
use model::signal::{NewSignal, SignalKind};
use model::snapshot::Snapshot;
use model::tree::ActivityTree;
use model::LifecycleAction;
use store::detect::Detector;
use store::{AddOutcome, Store, StoreError};

const PROMOTE: LifecycleAction = LifecycleAction::Promote;
const RESET: LifecycleAction = LifecycleAction::Reset;

fn container(i: usize) -> ContainerRef {
    ContainerRef {
        id: format!("{i:064x}"),
        image: "web".into(),
        version: "1.0".into(),
        ..Default::default()
    }
}

fn event(c: &ContainerRef, lineage: &[&str], kind: EventKind, ts: i64) -> Event {
    let (last, anc) = lineage.split_last().unwrap();
    Event {
        ts_ms: ts,
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

fn open(path: &str) -> EventKind {
    EventKind::Open {
        path: path.into(),
        access: Access::READ,
        errno: 0,
        requested: None,
    }
}

/// Snapshot `i` of container `i % 2`, window [i*1000, i*1000+1000), with nginx and the
/// files named by `files` (indexes into a fixed list), and /bin/sh when `sh`.
fn snapshot(i: usize, files: &[usize], sh: bool) -> Snapshot {
    const FILES: [&str; 5] = [
        "/etc/nginx/nginx.conf",
        "/var/log/nginx/access.log",
        "/etc/passwd",
        "/etc/hosts",
        "/etc/ssl/cert.pem",
    ];
    let c = container(i % 2);
    let ts = i as i64 * 1000;
    let mut tree = ActivityTree::default();
    tree.record(&event(&c, &["/usr/sbin/nginx"], EventKind::Exec, ts));
    for f in files {
        tree.record(&event(&c, &["/usr/sbin/nginx"], open(FILES[*f]), ts));
    }
    if sh {
        tree.record(&event(
            &c,
            &["/usr/sbin/nginx", "/bin/sh"],
            EventKind::Dns {
                name: "api.example.com".into(),
                qtype: "A".into(),
            },
            ts,
        ));
    }
    Snapshot {
        id: format!("snap-{i:02}"),
        container: c,
        host: "host-a".into(),
        started_ms: ts,
        ended_ms: ts + 1000,
        tree,
    }
}

fn open_temp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("wsprof.duckdb")).unwrap();
    (dir, store)
}

fn never_stable() -> LifecycleSettings {
    LifecycleSettings {
        stable_after_snapshots: u32::MAX,
        stable_after_ms: i64::MAX,
    }
}

fn summary(s: &Store) -> store::ProfileSummary {
    s.profiles()
        .unwrap()
        .into_iter()
        .find(|p| p.image == "web" && p.version == "1.0")
        .unwrap()
}

fn no_rules() -> Detector {
    Detector::new(RuleSet::parse("", RuleFormat::Toml, "test").unwrap())
}

/// An event the profile lacks: /bin/bash under nginx.
fn novel_event(ts: i64) -> Event {
    event(
        &container(0),
        &["/usr/sbin/nginx", "/bin/bash"],
        EventKind::Exec,
        ts,
    )
}

fn drift_raised(out: &[AddOutcome]) -> bool {
    out.iter().any(|o| matches!(o, AddOutcome::Drift(_)))
}

fn check_is_clean(s: &mut Store) {
    s.checkpoint().unwrap();
    let r = store::recovery::check(s.path().unwrap()).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn promote_is_respected_by_ingest_detection_and_the_images_list_and_undone() {
    let (_d, mut s) = open_temp();
    let snaps: Vec<Snapshot> = (0..3).map(|i| snapshot(i, &[0], false)).collect();
    s.ingest_snapshots(&snaps, &never_stable()).unwrap();
    let mut det = no_rules();
    assert!(
        !drift_raised(&det.on_event(&mut s, &novel_event(3500), 3500).unwrap()),
        "a Learning profile raises no drift"
    );
    let c = s
        .change_lifecycle(
            "web",
            "1.0",
            PROMOTE,
            "alice (uid 1000)",
            "seen enough",
            9000,
        )
        .unwrap();
    assert_eq!(
        (c.action.as_str(), c.who.as_str(), c.reason.as_str()),
        ("promote", "alice (uid 1000)", "seen enough")
    );
    assert_eq!(
        (c.status_before.as_str(), c.snapshots_before),
        ("learning", 3)
    );
    let p = summary(&s);
    assert_eq!(p.status, "stable");
    assert!(
        p.status_manual,
        "the status is the person's, not the rule's"
    );
    assert_eq!(p.lifecycle_decision.as_ref().unwrap().id, c.id);
    // ingest keeps the next snapshot without merging it
    let out = s
        .ingest_snapshot(&snapshot(3, &[1], false), &never_stable())
        .unwrap();
    assert!(!out.merged, "a promoted profile takes no more snapshots");
    assert_eq!(summary(&s).snapshots, 3);
    // detection: the cached Learning status was dropped, the event is drift now
    assert!(
        drift_raised(&det.on_event(&mut s, &novel_event(4500), 4500).unwrap()),
        "activity a promoted profile lacks is drift"
    );
    // audit trail
    let d = &s.decisions(10).unwrap()[0];
    assert_eq!(
        (
            d.action.as_str(),
            d.who.as_str(),
            d.detail.as_str(),
            d.profile.as_deref()
        ),
        (
            "promote",
            "alice (uid 1000)",
            "seen enough",
            Some("web:1.0")
        )
    );
    assert_eq!(d.ts_ms, 9000);
    // undo: Learning again, merging again
    let u = s
        .undo_lifecycle("web", "1.0", "bob (uid 1001)", "too early", 9500)
        .unwrap();
    assert_eq!(
        (u.undone_ms, u.undone_by.as_deref()),
        (Some(9500), Some("bob (uid 1001)"))
    );
    let p = summary(&s);
    assert_eq!(p.status, "learning");
    assert!(p.lifecycle_decision.is_none() && !p.status_manual);
    assert!(
        s.ingest_snapshot(&snapshot(4, &[1], false), &never_stable())
            .unwrap()
            .merged
    );
    assert!(
        !drift_raised(&det.on_event(&mut s, &novel_event(5500), 5500).unwrap()),
        "Learning again: no drift"
    );
    let d = &s.decisions(10).unwrap()[0];
    assert_eq!(
        (d.action.as_str(), d.detail.as_str(), d.profile.as_deref()),
        ("undo", "promote #1: too early", Some("web:1.0"))
    );
    check_is_clean(&mut s);
}

#[test]
fn reset_archives_the_generation_learns_again_and_undo_adds_it_back() {
    let (_d, mut s) = open_temp();
    let three = LifecycleSettings {
        stable_after_snapshots: 3,
        stable_after_ms: 100_000,
    };
    let before: Vec<Snapshot> = (0..3).map(|i| snapshot(i, &[0, 2], i == 1)).collect();
    s.ingest_snapshots(&before, &three).unwrap();
    assert_eq!(summary(&s).status, "stable", "by the rule: 3 snapshots");
    let mut det = no_rules();
    assert!(drift_raised(
        &det.on_event(&mut s, &novel_event(3500), 3500).unwrap()
    ));
    let nodes_before = summary(&s).nodes;

    let c = s
        .change_lifecycle(
            "web",
            "1.0",
            RESET,
            "alice",
            "new config rolled out",
            10_000,
        )
        .unwrap();
    assert_eq!(c.archived_nodes, nodes_before);
    assert_eq!(
        (c.status_before.as_str(), c.snapshots_before),
        ("stable", 3)
    );
    let p = summary(&s);
    assert_eq!(
        (
            p.status.as_str(),
            p.snapshots,
            p.nodes,
            p.archived_snapshots
        ),
        ("learning", 0, 0, 3)
    );
    assert!(p.status_manual);
    assert!(p.first_snapshot_ms.is_none() && p.last_updated_ms.is_none());
    // the evidence stays: the snapshots, marked with the reset
    let snaps = s.profile_snapshots("web", "1.0").unwrap();
    assert_eq!(snaps.len(), 3);
    assert!(snaps.iter().all(|x| x.merged && x.reset_id == Some(c.id)));
    assert_eq!(s.all_snapshots().unwrap().len(), 3);
    // detection: Learning now, no drift
    assert!(!drift_raised(
        &det.on_event(&mut s, &novel_event(11_000), 11_000).unwrap()
    ));
    // it learns again from the next snapshot: thresholds count from there (the old first
    // snapshot is far more than 100 s before these, but the clock started again)
    let after: Vec<Snapshot> = (50..52).map(|i| snapshot(i, &[1], false)).collect();
    let outs = s.ingest_snapshots(&after, &three).unwrap();
    assert!(outs
        .iter()
        .all(|o| o.merged && o.status == ProfileStatus::Learning));
    assert_eq!(s.refresh_statuses(51_500, &three).unwrap(), 0);
    let mut model_after = Profile::new("web", "1.0");
    for x in &after {
        model_after.merge(x, &three).unwrap();
    }
    let stored = s.profile("web", "1.0").unwrap().unwrap();
    assert_eq!(stored.snapshot_count, 2);
    assert_eq!(stored.first_snapshot_ms, Some(50_000));
    assert_eq!(
        stored.nodes.keys().collect::<Vec<_>>(),
        model_after.nodes.keys().collect::<Vec<_>>()
    );
    check_is_clean(&mut s);

    // undo: both generations, counts added, Stable as before
    s.undo_lifecycle("web", "1.0", "alice", "", 60_000).unwrap();
    let mut whole = Profile::new("web", "1.0");
    for x in before.iter().chain(&after) {
        whole.merge(x, &never_stable()).unwrap();
    }
    let stored = s.profile("web", "1.0").unwrap().unwrap();
    assert_eq!(stored.status, ProfileStatus::Stable);
    assert_eq!(stored.snapshot_count, 5);
    assert_eq!(stored.first_snapshot_ms, Some(0));
    assert_eq!(stored.last_updated_ms, Some(52_000));
    let counts = |p: &Profile| -> Vec<(String, u32)> {
        p.nodes
            .iter()
            .map(|(k, n)| (k.0.clone(), n.snapshots))
            .collect()
    };
    assert_eq!(counts(&stored), counts(&whole));
    assert!(
        (summary(&s).commonality - whole.commonality()).abs() < 1e-9,
        "commonality of both generations"
    );
    assert!(s
        .profile_snapshots("web", "1.0")
        .unwrap()
        .iter()
        .all(|x| x.reset_id.is_none()));
    assert_eq!(summary(&s).archived_snapshots, 0);
    assert!(drift_raised(
        &det.on_event(&mut s, &novel_event(61_000), 61_000).unwrap()
    ));
    let d = s.decisions(10).unwrap();
    let actions: Vec<&str> = d.iter().map(|x| x.action.as_str()).collect();
    assert_eq!(actions, ["undo", "reset"]);
    assert_eq!(d[1].detail, "new config rolled out");
    check_is_clean(&mut s);
}

#[test]
fn changes_stack_and_undo_one_at_a_time() {
    let (_d, mut s) = open_temp();
    s.ingest_snapshots(
        &(0..2).map(|i| snapshot(i, &[0], false)).collect::<Vec<_>>(),
        &never_stable(),
    )
    .unwrap();
    s.change_lifecycle("web", "1.0", PROMOTE, "a", "ok", 1)
        .unwrap();
    s.change_lifecycle("web", "1.0", RESET, "a", "again", 2)
        .unwrap();
    assert_eq!(summary(&s).status, "learning");
    let changes = s.lifecycle_changes(Some(("web", "1.0"))).unwrap();
    assert_eq!(
        changes
            .iter()
            .map(|c| c.action.as_str())
            .collect::<Vec<_>>(),
        ["reset", "promote"],
        "newest first"
    );
    // the reset is undone first (back to the promoted Stable), then the promote
    let u = s.undo_lifecycle("web", "1.0", "a", "", 3).unwrap();
    assert_eq!(u.action, "reset");
    let p = summary(&s);
    assert_eq!((p.status.as_str(), p.snapshots), ("stable", 2));
    assert!(
        p.status_manual,
        "the promote is the decision in force again"
    );
    let u = s.undo_lifecycle("web", "1.0", "a", "", 4).unwrap();
    assert_eq!(u.action, "promote");
    assert_eq!(summary(&s).status, "learning");
    check_is_clean(&mut s);
}

#[test]
fn lifecycle_decisions_refuse_what_makes_no_sense_with_one_line() {
    let (_d, mut s) = open_temp();
    s.ingest_snapshot(&snapshot(0, &[0], false), &never_stable())
        .unwrap();
    let refused = |r: Result<store::LifecycleChange, StoreError>| match r {
        Err(e @ StoreError::Refused(_)) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let e = refused(s.change_lifecycle("web", "1.0", PROMOTE, "a", "  ", 1));
    assert!(e.contains("give a reason") && e.contains("web:1.0"), "{e}");
    let e = refused(s.undo_lifecycle("web", "1.0", "a", "", 1));
    assert_eq!(e, "profile web:1.0: no promote or reset to undo");
    s.change_lifecycle("web", "1.0", PROMOTE, "a", "ok", 1)
        .unwrap();
    let e = refused(s.change_lifecycle("web", "1.0", PROMOTE, "a", "ok", 2));
    assert_eq!(e, "profile web:1.0 is already Stable");
    s.change_lifecycle("web", "1.0", RESET, "a", "x", 3)
        .unwrap();
    let e = refused(s.change_lifecycle("web", "1.0", RESET, "a", "x", 4));
    assert!(e.contains("nothing to reset"), "{e}");
    match s.change_lifecycle("nope", "1", PROMOTE, "a", "x", 5) {
        Err(StoreError::NotFound(m)) => assert!(m.contains("no profile nope:1"), "{m}"),
        other => panic!("{other:?}"),
    }
    for e in [
        s.learning_progress("nope", "1", 5).unwrap_err(),
        s.snapshot_detail("snap-xx").unwrap_err(),
        s.signal_snapshots(999).unwrap_err(),
    ] {
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn learning_progress_counts_new_nodes_per_kind_in_ingest_order() {
    let (_d, mut s) = open_temp();
    // stored out of time order: ingest order is what counts
    let order = [
        (3, vec![0], false),
        (1, vec![0, 1], false),
        (0, vec![2], true),
        (2, vec![0, 1, 2], true),
        (4, vec![3], false),
    ];
    for (i, files, sh) in &order {
        s.ingest_snapshot(&snapshot(*i, files, *sh), &never_stable())
            .unwrap();
    }
    let p = s.learning_progress("web", "1.0", 10).unwrap();
    let ids: Vec<&str> = p.steps.iter().map(|x| x.snapshot_id.as_str()).collect();
    assert_eq!(ids, ["snap-03", "snap-01", "snap-00", "snap-02", "snap-04"]);
    let files: Vec<u32> = p.steps.iter().map(|x| x.new.file).collect();
    let procs: Vec<u32> = p.steps.iter().map(|x| x.new.process).collect();
    let dns: Vec<u32> = p.steps.iter().map(|x| x.new.dns).collect();
    assert_eq!(files, [1, 1, 1, 0, 1]);
    assert_eq!(procs, [1, 0, 1, 0, 0], "nginx first, then /bin/sh");
    assert_eq!(dns, [0, 0, 1, 0, 0]);
    assert_eq!(p.merged_snapshots, 5);
    assert_eq!(p.nodes, summary(&s).nodes, "every node counted once");
    assert_eq!(p.steps.last().unwrap().nodes_after, p.nodes);
    assert_eq!(p.snapshots_since_new["file"], Some(0));
    assert_eq!(p.snapshots_since_new["dns"], Some(2));
    assert_eq!(p.snapshots_since_new["kernel"], None);
    // the last 2 only, still counted against everything before them
    let p2 = s.learning_progress("web", "1.0", 2).unwrap();
    assert_eq!(
        p2.steps.iter().map(|x| x.position).collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(p2.new_in_steps.file, 1);
    assert_eq!(p2.new_in_steps.total(), 1);
    // after a reset it starts again
    s.change_lifecycle("web", "1.0", RESET, "a", "x", 1)
        .unwrap();
    let p3 = s.learning_progress("web", "1.0", 10).unwrap();
    assert!(p3.steps.is_empty() && p3.merged_snapshots == 0 && p3.status == "learning");
    s.ingest_snapshot(&snapshot(9, &[0], false), &never_stable())
        .unwrap();
    let p4 = s.learning_progress("web", "1.0", 10).unwrap();
    assert_eq!(p4.steps[0].new.total(), 2, "everything is new again");
}

#[test]
fn a_snapshot_drills_down_to_its_own_tree_and_a_signal_to_its_window() {
    let (_d, mut s) = open_temp();
    let two = LifecycleSettings {
        stable_after_snapshots: 3,
        stable_after_ms: i64::MAX,
    };
    for x in [
        snapshot(0, &[0], false),
        snapshot(1, &[0, 2], true),
        snapshot(2, &[0], false),
        snapshot(3, &[4], false),
    ] {
        s.ingest_snapshot(&x, &two).unwrap();
    }
    let d = s.snapshot_detail("snap-01").unwrap();
    assert_eq!((d.image.as_str(), d.version.as_str()), ("web", "1.0"));
    assert_eq!(d.position, Some(2));
    assert_eq!(d.profile_snapshots, 3);
    assert_eq!(d.snapshot.container_id, container(1).id);
    let keys: Vec<&str> = d.nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "p:/usr/sbin/nginx",
            "p:/usr/sbin/nginx|f:/etc/nginx/nginx.conf",
            "p:/usr/sbin/nginx|f:/etc/passwd",
            "p:/usr/sbin/nginx|p:/bin/sh",
            "p:/usr/sbin/nginx|p:/bin/sh|d:api.example.com A",
        ]
    );
    let passwd = &d.nodes[2];
    assert_eq!(
        (passwd.snapshots, passwd.access.as_slice()),
        (1, &["read".to_string()][..])
    );
    assert!((passwd.commonality - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        d.first_seen_here,
        [
            "p:/usr/sbin/nginx|f:/etc/passwd",
            "p:/usr/sbin/nginx|p:/bin/sh",
            "p:/usr/sbin/nginx|p:/bin/sh|d:api.example.com A",
        ],
        "what no earlier snapshot had"
    );
    // kept after Stable: not merged, its novel file at 0%
    let k = s.snapshot_detail("snap-03").unwrap();
    assert_eq!((k.snapshot.merged, k.position), (false, None));
    assert!(k.first_seen_here.is_empty());
    let cert = k
        .nodes
        .iter()
        .find(|n| n.label == "/etc/ssl/cert.pem")
        .unwrap();
    assert_eq!((cert.snapshots, cert.commonality), (0, 0.0));

    // a signal of container 1 at 1500 (in snap-01's window) with a match at 3200 (snap-03)
    let c1 = container(1);
    let e = event(&c1, &["/usr/sbin/nginx", "/bin/sh"], EventKind::Exec, 1500);
    let ns = NewSignal::from_event(&e, SignalKind::Rule, "r", "high", "", String::new());
    let AddOutcome::Inserted(id) = s.add_signal(&ns, 1500).unwrap() else {
        panic!()
    };
    let mut later = ns.clone();
    later.ts_ms = 3200;
    s.add_signal(&later, 3200).unwrap();
    let w = s.signal_snapshots(id).unwrap();
    assert_eq!(
        w.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["snap-01", "snap-03"],
        "where it happened first, then every window up to its last match"
    );
    // a container without snapshots
    let e = event(&container(7), &["/usr/sbin/nginx"], EventKind::Exec, 1500);
    let AddOutcome::Inserted(id) = s
        .add_signal(
            &NewSignal::from_event(&e, SignalKind::Rule, "r2", "high", "", String::new()),
            1500,
        )
        .unwrap()
    else {
        panic!()
    };
    assert!(s.signal_snapshots(id).unwrap().is_empty());
}

#[test]
fn migration_7_keeps_the_order_of_snapshots_stored_before_it_and_fills_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.duckdb");
    {
        let mut s = Store::open(&path).unwrap();
        // stored out of time order
        for i in [2, 0, 1] {
            s.ingest_snapshot(&snapshot(i, &[i], false), &never_stable())
                .unwrap();
        }
    }
    // make it a file without migration 7, as a wsprof without lifecycle decisions left it
    // (one with migration 8 but not 7 too: 7 is applied when missing, not only when newer)
    {
        let c = duckdb::Connection::open(&path).unwrap();
        c.execute_batch(
            "ALTER TABLE snapshots DROP COLUMN ingest_seq; ALTER TABLE snapshots DROP COLUMN reset_id;
             DROP TABLE lifecycle_changes; DROP TABLE lifecycle_archive;
             ALTER TABLE decisions DROP COLUMN profile;
             DROP SEQUENCE snapshot_seq; DROP SEQUENCE lifecycle_change_ids;
             DELETE FROM schema_migrations WHERE version = 7; CHECKPOINT;",
        )
        .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    s.ingest_snapshot(&snapshot(3, &[3], false), &never_stable())
        .unwrap();
    let p = s.learning_progress("web", "1.0", 10).unwrap();
    assert_eq!(
        p.steps
            .iter()
            .map(|x| x.snapshot_id.as_str())
            .collect::<Vec<_>>(),
        ["snap-02", "snap-00", "snap-01", "snap-03"]
    );
    s.change_lifecycle("web", "1.0", PROMOTE, "a", "after the upgrade", 1)
        .unwrap();
    assert_eq!(
        s.decisions(1).unwrap()[0].profile.as_deref(),
        Some("web:1.0")
    );
    check_is_clean(&mut s);
    drop(s);
    // a crash between migration 7 and its recorded follow-up: it runs again, harmlessly
    {
        let c = duckdb::Connection::open(&path).unwrap();
        c.execute_batch("DELETE FROM schema_migrations WHERE version = 7; CHECKPOINT;")
            .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let p = s.learning_progress("web", "1.0", 10).unwrap();
    assert_eq!(p.steps.len(), 4);
    assert_eq!(p.steps[3].snapshot_id, "snap-03");
    assert_eq!(s.lifecycle_changes(None).unwrap().len(), 1);
    assert_eq!(s.counts().unwrap().schema_version, 8);
}
