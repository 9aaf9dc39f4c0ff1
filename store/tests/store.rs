//! Store tests on a real DuckDB file.

use model::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use model::profile::{LifecycleSettings, Profile, ProfileStatus};
use model::signal::{NewSignal, SignalKind};
use model::snapshot::Snapshot;
use model::tree::ActivityTree;
use proptest::prelude::*;
use store::{AddOutcome, SignalFilter, Store, StoreError};

fn container(i: usize, image: &str, version: &str) -> ContainerRef {
    ContainerRef {
        id: format!("{i:064x}"),
        image: image.into(),
        version: version.into(),
        ..Default::default()
    }
}

fn event(c: &ContainerRef, lineage: &[&str], kind: EventKind) -> Event {
    let (last, anc) = lineage.split_last().unwrap();
    Event {
        ts_ms: 1000,
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

/// A snapshot of `web` whose activity is chosen by bits of `mask`.
fn snapshot(i: usize, version: &str, mask: u8) -> Snapshot {
    let c = container(i, "web", version);
    let mut tree = ActivityTree::default();
    tree.record(&event(&c, &["/usr/sbin/nginx"], EventKind::Exec));
    let files = [
        "/etc/nginx/nginx.conf",
        "/var/log/nginx/access.log",
        "/etc/passwd",
    ];
    for (b, f) in files.iter().enumerate() {
        if mask & (1 << b) != 0 {
            tree.record(&event(
                &c,
                &["/usr/sbin/nginx"],
                EventKind::Open {
                    path: f.to_string(),
                    access: if b == 1 { Access::WRITE } else { Access::READ },
                    errno: 0,
                    requested: None,
                },
            ));
        }
    }
    if mask & 8 != 0 {
        tree.record(&event(&c, &["/usr/sbin/nginx", "/bin/sh"], EventKind::Exec));
    }
    if mask & 16 != 0 {
        tree.record(&event(
            &c,
            &["/usr/sbin/nginx", "/bin/sh"],
            EventKind::Dns {
                name: "api.example.com".into(),
                qtype: "A".into(),
            },
        ));
    }
    Snapshot {
        id: format!("snap-{version}-{i}"),
        container: c,
        host: "host-a".into(),
        started_ms: i as i64 * 1000,
        ended_ms: i as i64 * 1000 + 500,
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

#[test]
fn file_is_private_and_reopens_with_data() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/wsprof.duckdb");
    {
        let mut s = Store::open(&path).unwrap();
        s.ingest_snapshot(&snapshot(0, "1.0", 1), &never_stable())
            .unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "store file mode");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.profiles().unwrap()[0].snapshots, 1);
}

#[test]
fn damaged_and_locked_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.duckdb");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&junk)
        .err()
        .expect("junk must be refused")
        .to_string();
    assert!(
        err.contains("junk.duckdb") && err.contains("not a usable DuckDB file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        vec![0x42u8; 8192],
        "nothing written"
    );

    // A second process holding the write lock.
    let path = dir.path().join("locked.duckdb");
    drop(Store::open(&path).unwrap());
    let mut holder = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hold_lock_helper",
            "--nocapture",
            "--include-ignored",
        ])
        .env("WSPROF_HOLD_LOCK", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = holder.stdout.take().unwrap();
    let mut buf = [0u8; 64];
    let mut seen = String::new();
    while !seen.contains("HOLDING") {
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "lock holder ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let second = Store::open(&path);
    let _ = holder.kill();
    let _ = holder.wait();
    match second {
        Err(e @ StoreError::Locked { .. }) => assert!(e.to_string().contains("locked"), "{e}"),
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("second writer must be refused"),
    }
}

#[test]
#[ignore = "helper process for damaged_and_locked_files_are_refused_clearly"]
fn hold_lock_helper() {
    if let Ok(p) = std::env::var("WSPROF_HOLD_LOCK") {
        let _s = Store::open(std::path::Path::new(&p)).unwrap();
        println!("HOLDING");
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

#[test]
fn sql_commonality_equals_domain_commonality() {
    let (_d, mut s) = open_temp();
    let masks = [
        0b00001u8, 0b00011, 0b11011, 0b00111, 0b01001, 0b10000, 0b00001,
    ];
    let snaps: Vec<Snapshot> = masks
        .iter()
        .enumerate()
        .map(|(i, m)| snapshot(i, "1.0", *m))
        .collect();
    s.ingest_snapshots(&snaps, &never_stable()).unwrap();
    let mut p = Profile::new("web", "1.0");
    for x in &snaps {
        p.merge(x, &never_stable()).unwrap();
    }
    let stored = s.profile("web", "1.0").unwrap().unwrap();
    assert_eq!(stored.snapshot_count, p.snapshot_count);
    assert_eq!(stored.nodes.len(), p.nodes.len());
    for (k, v) in &p.nodes {
        let sv = &stored.nodes[k];
        assert_eq!(
            (sv.snapshots, sv.access, sv.kind),
            (v.snapshots, v.access, v.kind),
            "{k}"
        );
    }
    let summary = &s.profiles().unwrap()[0];
    assert!((summary.commonality - p.commonality()).abs() < 1e-12);
    let rows = s.profile_nodes("web", "1.0").unwrap();
    for r in rows {
        let k = model::NodeKey(r.key.clone());
        assert!(
            (r.commonality - p.node_commonality(&k)).abs() < 1e-12,
            "{}",
            r.key
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn sql_merge_matches_model_for_any_snapshots(masks in prop::collection::vec(any::<u8>(), 1..15)) {
        let mut s = Store::open_in_memory().unwrap();
        let snaps: Vec<Snapshot> = masks.iter().enumerate().map(|(i, m)| snapshot(i, "2.0", *m)).collect();
        s.ingest_snapshots(&snaps, &never_stable()).unwrap();
        let mut p = Profile::new("web", "2.0");
        for x in &snaps { p.merge(x, &never_stable()).unwrap(); }
        let stored = s.profile("web", "2.0").unwrap().unwrap();
        prop_assert_eq!(stored.nodes.len(), p.nodes.len());
        prop_assert!((s.profiles().unwrap()[0].commonality - p.commonality()).abs() < 1e-12);
        for (k, v) in &p.nodes { prop_assert_eq!(stored.nodes[k].snapshots, v.snapshots); }
    }
}

#[test]
fn lifecycle_stable_after_threshold_then_immutable() {
    let (_d, mut s) = open_temp();
    let settings = LifecycleSettings {
        stable_after_snapshots: 3,
        stable_after_ms: i64::MAX,
    };
    let out: Vec<_> = (0..5)
        .map(|i| {
            s.ingest_snapshot(&snapshot(i, "1.0", if i < 3 { 1 } else { 31 }), &settings)
                .unwrap()
        })
        .collect();
    assert_eq!(
        out.iter().map(|o| o.merged).collect::<Vec<_>>(),
        [true, true, true, false, false]
    );
    assert!(out[2].became_stable);
    let p = &s.profiles().unwrap()[0];
    assert_eq!(
        (p.status.as_str(), p.snapshots, p.unmerged_snapshots),
        ("stable", 3, 2)
    );
    // nodes of the unmerged snapshots did not enter the profile
    let prof = s.profile("web", "1.0").unwrap().unwrap();
    assert!(prof.nodes.keys().all(|k| !k.0.contains("/bin/sh")));
    // a new version starts Learning
    let o = s
        .ingest_snapshot(&snapshot(9, "1.1", 1), &settings)
        .unwrap();
    assert_eq!((o.merged, o.status), (true, ProfileStatus::Learning));
    // by time
    let timed = LifecycleSettings {
        stable_after_snapshots: 100,
        stable_after_ms: 10_000,
    };
    assert_eq!(s.refresh_statuses(5_000, &timed).unwrap(), 0);
    assert_eq!(s.refresh_statuses(20_000, &timed).unwrap(), 1);
}

#[test]
fn duplicate_snapshot_import_is_all_or_nothing() {
    let (dir, mut s) = open_temp();
    s.ingest_snapshot(&snapshot(1, "1.0", 1), &never_stable())
        .unwrap();
    let file = dir.path().join("snaps.json");
    std::fs::write(
        &file,
        model::snapshot::to_file_json(&[snapshot(2, "1.0", 3), snapshot(1, "1.0", 1)]),
    )
    .unwrap();
    let err = s
        .import_json(&file, &never_stable())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("snaps.json") && err.contains("already stored"),
        "{err}"
    );
    assert_eq!(
        s.all_snapshots().unwrap().len(),
        1,
        "nothing partially written"
    );
}

#[test]
fn json_and_parquet_round_trip_and_corrupt_files_refused() {
    let (dir, mut s) = open_temp();
    let snaps: Vec<Snapshot> = (0..6).map(|i| snapshot(i, "1.0", i as u8 * 5)).collect();
    s.ingest_snapshots(&snaps, &never_stable()).unwrap();
    let json = dir.path().join("out.json");
    let pq = dir.path().join("out.parquet");
    assert_eq!(s.export_json(&json).unwrap(), 6);
    assert_eq!(s.export_parquet(&pq).unwrap(), 6);

    let mut a = Store::open_in_memory().unwrap();
    a.import_json(&json, &never_stable()).unwrap();
    assert_eq!(a.all_snapshots().unwrap(), snaps);
    let mut b = Store::open_in_memory().unwrap();
    b.import_parquet(&pq, &never_stable()).unwrap();
    assert_eq!(b.all_snapshots().unwrap(), snaps);
    assert_eq!(b.profiles().unwrap(), a.profiles().unwrap());

    // truncated JSON, wrong version, a parquet file that is not ours, garbage parquet
    let text = std::fs::read_to_string(&json).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let e = a
        .import_json(&cut, &never_stable())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cut.json") && e.contains("not valid snapshot JSON"),
        "{e}"
    );
    let v9 = dir.path().join("v9.json");
    std::fs::write(&v9, text.replace("\"version\":1", "\"version\":9")).unwrap();
    let e = a.import_json(&v9, &never_stable()).unwrap_err().to_string();
    assert!(e.contains("version 9 is not supported"), "{e}");
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"PAR1 not really").unwrap();
    let mut c = Store::open_in_memory().unwrap();
    let e = c
        .import_parquet(&junk, &never_stable())
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.parquet"), "{e}");
    assert!(c.all_snapshots().unwrap().is_empty());
}

fn signal(c: &ContainerRef, lineage: &[&str], rule: &str, ts: i64) -> NewSignal {
    let mut e = event(c, lineage, EventKind::Exec);
    e.ts_ms = ts;
    NewSignal::from_event(&e, SignalKind::Rule, rule, "high", "T1059", String::new())
}

#[test]
fn signals_dedup_suggest_suppress_undo_and_expire() {
    let (_d, mut s) = open_temp();
    // /bin/sh under nginx in 3 of 4 snapshots
    for (i, m) in [9u8, 9, 9, 1].iter().enumerate() {
        s.ingest_snapshot(&snapshot(i, "1.0", *m), &never_stable())
            .unwrap();
    }
    let c = container(1, "web", "1.0");
    let sh = &["/usr/sbin/nginx", "/bin/sh"][..];
    let AddOutcome::Inserted(id) = s
        .add_signal(&signal(&c, sh, "shell-from-web", 100), 100)
        .unwrap()
    else {
        panic!("first signal inserted")
    };
    assert_eq!(
        s.add_signal(&signal(&c, sh, "shell-from-web", 200), 200)
            .unwrap(),
        AddOutcome::Deduplicated(id)
    );
    let rare = &["/usr/sbin/nginx", "/bin/bash"][..];
    let AddOutcome::Inserted(rare_id) = s
        .add_signal(&signal(&c, rare, "shell-from-web", 300), 300)
        .unwrap()
    else {
        panic!()
    };
    let sig = s.signal(id).unwrap();
    assert_eq!(sig.count, 2);
    let sug = sig.suggestion.expect("3 of 4 is known behaviour");
    assert_eq!((sug.snapshots_with, sug.snapshots), (3, 4));
    assert!(
        s.signal(rare_id).unwrap().suggestion.is_none(),
        "never-seen process gets no suggestion"
    );
    assert_eq!(
        s.signals(&SignalFilter::default()).unwrap()[0].id,
        rare_id,
        "newest first"
    );

    assert_eq!(s.preview_suppression(id).unwrap(), (1, 2));
    let sup = s
        .suppress(id, "alice", "known nginx healthcheck", None, 400)
        .unwrap();
    assert_eq!(
        sup.expression,
        r#"container.image.name == "web" && process.file.path == "/bin/sh" && process.ancestors.file.path == ["/usr/sbin/nginx"]"#
    );
    assert_eq!(sup.rule_id, "shell-from-web");
    assert_eq!(s.signal(id).unwrap().status, "suppressed");
    assert_eq!(s.signal(rare_id).unwrap().status, "open");
    // next match hidden and counted
    assert_eq!(
        s.add_signal(&signal(&c, sh, "shell-from-web", 5_000_000), 5_000_000)
            .unwrap(),
        AddOutcome::Suppressed(sup.id)
    );
    assert_eq!(s.suppression(sup.id).unwrap().hidden, 3);
    // another rule is not hidden
    assert!(matches!(
        s.add_signal(&signal(&c, sh, "other-rule", 5_000_001), 5_000_001)
            .unwrap(),
        AddOutcome::Inserted(_)
    ));
    // undo: the signal is open again, new matches queue
    s.unsuppress(sup.id, 6_000_000).unwrap();
    assert_eq!(s.signal(id).unwrap().status, "open");
    assert!(s.suppressions(false).unwrap().is_empty());
    assert_eq!(s.suppressions(true).unwrap().len(), 1);
    assert!(matches!(
        s.add_signal(&signal(&c, sh, "shell-from-web", 9_000_000), 9_000_000)
            .unwrap(),
        AddOutcome::Inserted(_)
    ));

    // expiry: a suppression that expired no longer hides
    let sup2 = s
        .suppress(id, "bob", "", Some(10_000_000), 9_500_000)
        .unwrap();
    assert_eq!(
        s.add_signal(&signal(&c, sh, "shell-from-web", 9_900_000), 9_900_000)
            .unwrap(),
        AddOutcome::Suppressed(sup2.id)
    );
    assert!(matches!(
        s.add_signal(&signal(&c, sh, "shell-from-web", 20_000_000), 20_000_000)
            .unwrap(),
        AddOutcome::Inserted(_)
    ));
}

#[test]
fn repeated_reads_between_writes_stay_correct() {
    let (_d, mut s) = open_temp();
    for i in 0..30 {
        s.ingest_snapshot(
            &snapshot(i, if i % 2 == 0 { "1.0" } else { "2.0" }, i as u8),
            &never_stable(),
        )
        .unwrap();
        let ps = s.profiles().unwrap();
        for p in &ps {
            assert_eq!(p.image, "web", "read #{i}: {ps:?}");
            assert!(
                p.version == "1.0" || p.version == "2.0",
                "read #{i}: {ps:?}"
            );
            assert_eq!(p.status, "learning", "read #{i}: {ps:?}");
        }
        let _ = s.signals(&SignalFilter::default()).unwrap();
        let _ = s.suppressions(true).unwrap();
    }
}

#[test]
fn rate_limit_counts_a_burst_on_the_newest_signal() {
    let (_d, mut s) = open_temp();
    s.settings.rate_limit = 3;
    let c = container(1, "web", "1.0");
    let mut outcomes = Vec::new();
    for i in 0..6 {
        // distinct processes, so no de-duplication: only the rate limit applies
        let p = format!("/usr/bin/tool{i}");
        outcomes.push(
            s.add_signal(
                &signal(&c, &["/usr/sbin/nginx", p.as_str()], "burst", 1000 + i),
                2000,
            )
            .unwrap(),
        );
    }
    let inserted = outcomes
        .iter()
        .filter(|o| matches!(o, AddOutcome::Inserted(_)))
        .count();
    assert_eq!(inserted, 3, "{outcomes:?}");
    let AddOutcome::Inserted(newest) = outcomes[2] else {
        panic!()
    };
    assert!(
        outcomes[3..]
            .iter()
            .all(|o| *o == AddOutcome::RateLimited(newest)),
        "{outcomes:?}"
    );
    assert_eq!(s.signal(newest).unwrap().count, 4);
    // another container is not limited by this one's burst
    let other = container(2, "web", "1.0");
    assert!(matches!(
        s.add_signal(
            &signal(&other, &["/usr/sbin/nginx", "/bin/x"], "burst", 1010),
            2000
        )
        .unwrap(),
        AddOutcome::Inserted(_)
    ));
    // after the window, new signals queue again
    let later = 1000 + s.settings.dedup_window_ms + 1;
    assert!(matches!(
        s.add_signal(
            &signal(&c, &["/usr/sbin/nginx", "/bin/y"], "burst", later),
            later
        )
        .unwrap(),
        AddOutcome::Inserted(_)
    ));
}

#[test]
fn a_signal_whose_rule_reads_the_command_line_gets_no_suggestion() {
    let (_d, mut s) = open_temp();
    for (i, m) in [9u8, 9, 9, 9].iter().enumerate() {
        s.ingest_snapshot(&snapshot(i, "1.0", *m), &never_stable())
            .unwrap();
    }
    let c = container(1, "web", "1.0");
    let sh = &["/usr/sbin/nginx", "/bin/sh"][..];
    let mut blocked = signal(&c, sh, "curl-pipe-shell", 100);
    blocked.suggestion_block = Some("rule curl-pipe-shell matches on the command line".into());
    let AddOutcome::Inserted(b) = s.add_signal(&blocked, 100).unwrap() else {
        panic!()
    };
    let AddOutcome::Inserted(ok) = s
        .add_signal(&signal(&c, sh, "shell-from-web", 100), 100)
        .unwrap()
    else {
        panic!()
    };
    let row = s.signal(b).unwrap();
    assert!(
        row.suggestion.is_none(),
        "the process is in 4 of 4 snapshots, but the rule read argv"
    );
    assert_eq!(
        row.suggestion_block.as_deref(),
        Some("rule curl-pipe-shell matches on the command line")
    );
    assert!(s.signal(ok).unwrap().suggestion.is_some());
    // and the block survives a reopen of the file (migration 2 column)
    let path = s.path().unwrap().to_path_buf();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert!(s.signal(b).unwrap().suggestion.is_none());
}

#[test]
fn migrations_upgrade_an_older_file_and_refuse_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.duckdb");
    {
        let mut s = Store::open(&path).unwrap();
        s.ingest_snapshot(&snapshot(0, "1.0", 3), &never_stable())
            .unwrap();
        let c = container(1, "web", "1.0");
        s.add_signal(&signal(&c, &["/usr/sbin/nginx"], "old", 4), 4)
            .unwrap();
        s.add_signal(&signal(&c, &["/usr/sbin/nginx"], "old", 4), 4)
            .unwrap();
    }
    // make it a version-1 file, as an older wsprof left it
    {
        let c = duckdb::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE signal_matches; DROP TABLE drift_nodes; DROP TABLE decisions;
             ALTER TABLE signals DROP COLUMN suggestion_block;
             ALTER TABLE snapshots DROP COLUMN tags_json; ALTER TABLE snapshots DROP COLUMN image_digest;
             ALTER TABLE signals DROP COLUMN tags_json; ALTER TABLE signals DROP COLUMN image_digest;
             ALTER TABLE suppressions DROP COLUMN scope_tag;
             ALTER TABLE snapshots DROP COLUMN ingest_seq; ALTER TABLE snapshots DROP COLUMN reset_id;
             DROP TABLE lifecycle_changes; DROP TABLE lifecycle_archive;
             DROP SEQUENCE snapshot_seq; DROP SEQUENCE lifecycle_change_ids;
             DROP TABLE responses; DROP SEQUENCE response_ids;
             DELETE FROM schema_migrations WHERE version >= 2; CHECKPOINT;",
        )
        .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(
        s.profiles().unwrap()[0].snapshots,
        1,
        "data kept across the upgrade"
    );
    let old = &s.signals(&SignalFilter::default()).unwrap()[0];
    assert_eq!(
        (old.matches_total, old.matches[0].count),
        (1, 2),
        "an existing signal's match is listed after the upgrade"
    );
    assert!(s.profiles().unwrap()[0].tags.is_empty());
    assert!(s.all_snapshots().unwrap()[0].container.tags.is_empty());
    let mut c = container(1, "web", "1.0");
    c.tags = vec!["namespace:payments".into(), "pod:web-1".into()];
    c.digest = "sha256:aa".into();
    let id = match s
        .add_signal(&signal(&c, &["/usr/sbin/nginx"], "r", 5), 5)
        .unwrap()
    {
        store::AddOutcome::Inserted(id) => id,
        o => panic!("{o:?}"),
    };
    let row = s.signal(id).unwrap();
    assert_eq!(row.tags, ["namespace:payments", "pod:web-1"]);
    assert_eq!(row.digest, "sha256:aa");
    drop(s);
    {
        let c = duckdb::Connection::open(&path).unwrap();
        c.execute("INSERT INTO schema_migrations VALUES (99, 0)", [])
            .unwrap();
    }
    let err = Store::open(&path)
        .err()
        .expect("a newer schema is refused")
        .to_string();
    assert!(
        err.contains("old.duckdb") && err.contains("schema version 99 is newer"),
        "{err}"
    );
}

#[test]
fn tags_and_digests_are_kept_per_snapshot_and_signal() {
    let (_d, mut s) = open_temp();
    let mut snaps = Vec::new();
    for (i, (ns, pod, digest)) in [
        ("payments", "web-1", "sha256:aa"),
        ("payments", "web-2", "sha256:aa"),
        ("shop", "web-3", "sha256:bb"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut snap = snapshot(i, "1.0", 3);
        snap.container.tags = vec![format!("namespace:{ns}"), format!("pod:{pod}")];
        snap.container.digest = digest.into();
        snaps.push(snap);
    }
    s.ingest_snapshots(&snaps, &never_stable()).unwrap();
    let p = &s.profiles().unwrap()[0];
    assert_eq!(
        p.snapshots, 3,
        "one profile for every pod of the image version"
    );
    assert_eq!(
        p.tags,
        [
            "namespace:payments",
            "namespace:shop",
            "pod:web-1",
            "pod:web-2",
            "pod:web-3"
        ]
    );
    assert_eq!(p.digests, ["sha256:aa", "sha256:bb"]);
    assert!(p.digest_changed, "two digests under one tag");
    let listed = s.profile_snapshots(&p.image, &p.version).unwrap();
    assert!(listed
        .iter()
        .any(|x| x.tags.contains(&"pod:web-3".to_string()) && x.digest == "sha256:bb"));
    // exchange keeps them
    let back = s.all_snapshots().unwrap();
    assert_eq!(
        back.iter()
            .map(|x| x.container.clone())
            .collect::<Vec<_>>()
            .len(),
        3
    );
    assert!(back.iter().any(|x| x.container == snaps[2].container));
    // the signal queue filters on a whole tag
    for (i, ns) in ["payments", "shop"].into_iter().enumerate() {
        let mut c = container(10 + i, "web", "1.0");
        c.tags = vec![format!("namespace:{ns}")];
        s.add_signal(&signal(&c, &["/usr/sbin/nginx"], "r", 5), 5)
            .unwrap();
    }
    let only = |tag: &str| {
        s.signals(&store::SignalFilter {
            tag: Some(tag.into()),
            ..Default::default()
        })
        .unwrap()
        .len()
    };
    assert_eq!(only("namespace:payments"), 1);
    assert_eq!(only("namespace:shop"), 1);
    assert_eq!(only("namespace:pay"), 0);
}

/// A suppression limited to one Kubernetes namespace hides that namespace's matches only.
#[test]
fn a_suppression_scoped_to_a_namespace_hides_only_that_namespace() {
    let (_d, mut s) = open_temp();
    let in_ns = |i: usize, ns: &str| {
        let mut c = container(i, "web", "1.0");
        c.tags = vec![format!("namespace:{ns}"), format!("pod:web-{i}")];
        c
    };
    let sh = &["/usr/sbin/nginx", "/bin/sh"][..];
    let add = |s: &mut Store, i: usize, ns: &str, ts: i64| {
        s.add_signal(&signal(&in_ns(i, ns), sh, "shell", ts), ts)
            .unwrap()
    };
    let AddOutcome::Inserted(pay) = add(&mut s, 1, "payments", 10) else {
        panic!("inserted")
    };
    let AddOutcome::Inserted(shop) = add(&mut s, 2, "shop", 11) else {
        panic!("inserted")
    };
    let refused = s
        .suppress_scoped(pay, "alice", "x", None, 20, Some("namespace:shop"))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("has no tag `namespace:shop`"), "{refused}");
    let sup = s
        .suppress_scoped(pay, "alice", "x", None, 20, Some("namespace:payments"))
        .unwrap();
    assert_eq!(sup.scope.as_deref(), Some("namespace:payments"));
    assert!(
        sup.expression
            .ends_with("container.tags contains \"namespace:payments\""),
        "{}",
        sup.expression
    );
    model::rule::parse(&sup.expression).expect("the stored expression parses");
    assert_eq!(s.signal(pay).unwrap().status, "suppressed");
    assert_eq!(
        s.signal(shop).unwrap().status,
        "open",
        "other namespace untouched"
    );
    // later matches: hidden in payments, raised in shop
    assert!(matches!(
        add(&mut s, 3, "payments", 30),
        AddOutcome::Suppressed(id) if id == sup.id
    ));
    assert!(matches!(
        add(&mut s, 4, "shop", 31),
        AddOutcome::Inserted(_)
    ));
    // an unscoped suppression of the same behaviour is still possible
    let all = s.suppress(shop, "alice", "y", None, 40).unwrap();
    assert_eq!(all.scope, None);
    assert!(!all.expression.contains("container.tags"));
}

#[test]
fn responses_are_kept_newest_first_after_an_upgrade_from_version_6() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.duckdb");
    drop(Store::open(&path).unwrap());
    // a store as wsprof left it before responses existed
    {
        let c = duckdb::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE responses; DROP SEQUENCE response_ids;
             DELETE FROM schema_migrations WHERE version > 6; CHECKPOINT;",
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let row = |at: i64, action: store::ResponseAction, error: &str| store::ResponseRow {
        id: 0,
        at_ms: at,
        who: "alice (uid 1000)".into(),
        action,
        container_id: "ab".repeat(32),
        image: "web".into(),
        version: "1.0".into(),
        signal_id: Some(7),
        cgroup_path: "/sys/fs/cgroup/x".into(),
        method: "cgroup v2".into(),
        outcome: if error.is_empty() { "ok" } else { "error" }.into(),
        error: error.into(),
        reason: "contain".into(),
    };
    let a = s
        .record_response(&row(10, store::ResponseAction::Freeze, ""))
        .unwrap();
    let b = s
        .record_response(&row(20, store::ResponseAction::Thaw, "gone"))
        .unwrap();
    assert_eq!((a.id, b.id), (1, 2));
    let got = s.responses(10).unwrap();
    assert_eq!(got, vec![b.clone(), a.clone()], "newest first, as stored");
    assert!(got[1].ok() && !got[0].ok());
    assert_eq!(s.reader().unwrap().responses(1).unwrap(), vec![b]);
    drop(s);
    // kept across a reopen
    assert_eq!(Store::open(&path).unwrap().responses(10).unwrap().len(), 2);
}

#[test]
fn a_page_of_the_queue_is_its_newest_signals_with_their_own_matches() {
    let (_d, mut s) = open_temp();
    s.settings.rate_limit = 1000;
    for i in 0..30i64 {
        // one container per signal: neither de-duplication nor the rate limit folds them
        let c = container(i as usize, "web", "1.0");
        let p = format!("/usr/bin/tool{i}");
        s.add_signal(
            &signal(
                &c,
                &["/usr/sbin/nginx", p.as_str()],
                "shell-from-web",
                1000 + i,
            ),
            2000,
        )
        .unwrap();
    }
    let all = s.signals(&SignalFilter::default()).unwrap();
    assert_eq!(all.len(), 30);
    let page = s
        .signals(&SignalFilter {
            limit: Some(7),
            ..SignalFilter::default()
        })
        .unwrap();
    // the newest 7, in the queue's order, each exactly as in the whole list
    assert_eq!(page.len(), 7);
    assert_eq!(page[..], all[..7]);
    assert!(page.iter().all(|p| p.matches.len() == 1), "{page:?}");
    // a page larger than the queue is the queue; filters apply before the limit
    let big = s
        .signals(&SignalFilter {
            limit: Some(100),
            ..SignalFilter::default()
        })
        .unwrap();
    assert_eq!(big, all);
    let none = s
        .signals(&SignalFilter {
            rule: Some("other".into()),
            limit: Some(5),
            ..SignalFilter::default()
        })
        .unwrap();
    assert!(none.is_empty());
}
