//! The store survives a crash. A child process (this test binary, re-run as a helper) writes
//! to a store and ends with `_exit` (no destructor, no checkpoint at close: what a kill -9
//! or an OOM kill leaves); the parent then opens the store and finds every committed write.

use model::event::{ContainerRef, Event, EventKind, ProcessInfo};
use model::profile::LifecycleSettings;
use model::signal::{NewSignal, SignalKind};
use model::snapshot::Snapshot;
use model::tree::ActivityTree;
use std::path::Path;
use std::process::Command;
use store::{AddOutcome, SignalFilter, Store, StoreError};

fn container(i: usize) -> ContainerRef {
    ContainerRef {
        id: format!("{i:064x}"),
        image: "web".into(),
        version: "1.0".into(),
        ..Default::default()
    }
}

fn event(c: &ContainerRef, exe: &str, ts: i64) -> Event {
    Event {
        ts_ms: ts,
        container: c.clone(),
        process: ProcessInfo {
            pid: 10,
            exec_path: exe.into(),
            args: vec![exe.into()],
            ancestors: vec!["/usr/sbin/nginx".into()],
            ..Default::default()
        },
        kind: EventKind::Exec,
    }
}

fn snapshot(i: usize) -> Snapshot {
    let c = container(i);
    let mut tree = ActivityTree::default();
    tree.record(&event(&c, "/bin/sh", 1000));
    Snapshot {
        id: format!("snap-{i}"),
        container: c,
        host: "h".into(),
        started_ms: 1000 * i as i64,
        ended_ms: 1000 * i as i64 + 500,
        tree,
    }
}

fn lifecycle() -> LifecycleSettings {
    LifecycleSettings {
        stable_after_snapshots: 1000,
        stable_after_ms: i64::MAX / 4,
    }
}

/// Run the helper test `name` in a child process with `WSPROF_CRASH_DB` = `db`.
fn run_child(name: &str, db: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--include-ignored"])
        .env("WSPROF_CRASH_DB", db)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn child_db() -> Option<std::path::PathBuf> {
    std::env::var_os("WSPROF_CRASH_DB").map(Into::into)
}

/// End the process now, like a kill: no destructors, so DuckDB never checkpoints.
fn die() -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: _exit ends the process; nothing after it runs.
    unsafe { libc::_exit(0) }
}

#[test]
#[ignore = "helper process for fresh_store_killed_before_any_checkpoint_reopens"]
fn write_fresh_then_die() {
    let Some(db) = child_db() else { return };
    let mut s = Store::open(&db).unwrap();
    s.ingest_snapshots(&[snapshot(1), snapshot(2), snapshot(3)], &lifecycle())
        .unwrap();
    let e = event(&container(1), "/bin/sh", 2000);
    let sig = NewSignal::from_event(&e, SignalKind::Rule, "shell", "high", "T1059", "".into());
    let AddOutcome::Inserted(id) = s.add_signal(&sig, 2000).unwrap() else {
        panic!("signal not inserted")
    };
    println!("COMMITTED signal {id}");
    die();
}

#[test]
fn fresh_store_killed_before_any_checkpoint_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.duckdb");
    let out = run_child("write_fresh_then_die", &db);
    assert!(out.contains("COMMITTED signal"), "child output: {out}");
    assert!(
        store::wal_path(&db).exists(),
        "the child died with its writes in the WAL"
    );
    let s = Store::open(&db).expect("a fresh store killed before a checkpoint must open");
    let snaps = s.profile_snapshots("web", "1.0").unwrap();
    assert_eq!(snaps.len(), 3, "every committed snapshot is there");
    let signals = s.signals(&SignalFilter::default()).unwrap();
    assert_eq!(signals.len(), 1, "the committed signal is there");
    assert_eq!(signals[0].rule_id, "shell");
    // and no temporary file of the creation is left
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".new-"))
        .collect();
    assert!(left.is_empty(), "leftovers: {left:?}");
}

#[test]
#[ignore = "helper process for unreplayable_wal_is_one_line_and_recover_keeps_the_checkpointed_data"]
fn damage_wal_then_die() {
    let Some(db) = child_db() else { return };
    // The DuckDB 1.5.6 fault behind the issue: a WAL holding ADD COLUMN on a table with a
    // nextval() default (signals) cannot be replayed. Made here on purpose, outside wsprof.
    let conn = duckdb::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE SEQUENCE junk_ids START 1;
         CREATE TABLE junk (id BIGINT PRIMARY KEY DEFAULT nextval('junk_ids'), v VARCHAR);
         ALTER TABLE junk ADD COLUMN w VARCHAR;
         INSERT INTO junk (v) VALUES ('a');",
    )
    .unwrap();
    println!("DAMAGED");
    die();
}

#[test]
fn unreplayable_wal_is_one_line_and_recover_keeps_the_checkpointed_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.duckdb");
    {
        let mut s = Store::open(&db).unwrap();
        s.ingest_snapshots(&[snapshot(1), snapshot(2)], &lifecycle())
            .unwrap();
    } // closed cleanly: checkpointed
    let out = run_child("damage_wal_then_die", &db);
    assert!(out.contains("DAMAGED"), "child output: {out}");

    let err = match Store::open(&db) {
        Err(e) => e,
        Ok(_) => panic!("expected the WAL replay to fail (DuckDB 1.5.6 fault)"),
    };
    assert!(matches!(err, StoreError::WalReplay { .. }), "{err}");
    let text = err.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(
        text.contains(&db.display().to_string()) && text.contains("wsprof store recover"),
        "{text}"
    );
    assert!(store::recovery::check(&db).is_err(), "check reports it");
    let wal_before = std::fs::read(store::wal_path(&db)).unwrap();

    let r = store::recovery::recover(&db).unwrap();
    assert!(r.recovered);
    assert_eq!(r.counts.snapshots, 2, "the checkpointed snapshots are kept");
    assert_eq!(r.wal_bytes_set_aside, wal_before.len() as u64);
    let backup = r.backup_dir.clone().unwrap();
    assert_eq!(
        std::fs::read(backup.join("old.duckdb.wal")).unwrap(),
        wal_before,
        "the WAL is kept, not deleted"
    );
    assert!(
        backup.join("old.duckdb").exists(),
        "a copy of the damaged store"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the copies are private");
    }

    let s = Store::open(&db).expect("opens after recovery");
    assert_eq!(s.profile_snapshots("web", "1.0").unwrap().len(), 2);
    drop(s);
    let report = store::recovery::check(&db).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.counts.snapshots, 2);
    let again = store::recovery::recover(&db).unwrap();
    assert!(!again.recovered, "a store that opens is left alone");
}

#[test]
fn check_finds_inconsistencies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.duckdb");
    {
        let mut s = Store::open(&db).unwrap();
        s.ingest_snapshots(&[snapshot(1), snapshot(2)], &lifecycle())
            .unwrap();
    }
    let r = store::recovery::check(&db).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(
        (
            r.counts.profiles,
            r.counts.snapshots,
            r.counts.merged_snapshots
        ),
        (1, 2, 2)
    );
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch("UPDATE profiles SET snapshot_count = 7")
            .unwrap();
    }
    let r = store::recovery::check(&db).unwrap();
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(r.problems[0].contains("snapshot count"), "{:?}", r.problems);
}
