//! The CLI twins of the snapshot drill-down, learning progress and lifecycle decisions, on
//! a real demo store (`wsprof demo --headless --speed max`), and their bad input: one line,
//! exit 1, nothing changed.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsprof")
}

/// The demo store, replayed once for every test of this file. Tests work on copies of it
/// (`copy_of_demo`): DuckDB lets one process at a time open a file, and tests run at once.
fn demo_store() -> &'static Path {
    static STORE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_dir, db) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.duckdb");
        let out = Command::new(bin())
            .args(["demo", "--headless", "--speed", "max", "--db"])
            .arg(&db)
            .arg("--log-file")
            .arg(dir.path().join("demo.log"))
            .env_remove("WSPROF_SOCKET")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        (dir, db)
    });
    db
}

/// A copy of the demo store, this test's own.
fn copy_of_demo(dir: &Path) -> PathBuf {
    let db = dir.join("copy.duckdb");
    std::fs::copy(demo_store(), &db).unwrap();
    db
}

fn wsprof(db: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(db.with_extension("log"))
        .env_remove("WSPROF_SOCKET")
        .env("USER", "carol")
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

fn ok(db: &Path, args: &[&str]) -> String {
    let o = wsprof(db, args);
    assert!(
        o.status.success(),
        "wsprof {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn json(db: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(db, args)).unwrap()
}

/// Exit 1, one line on stderr naming the problem.
fn one_line_error(db: &Path, args: &[&str]) -> String {
    let o = wsprof(db, args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "wsprof {args:?}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("wsprof: "), "{err}");
    err
}

fn profile<'a>(profiles: &'a Value, image: &str, version: &str) -> &'a Value {
    profiles
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["image"] == image && p["version"] == version)
        .unwrap()
}

#[test]
fn a_signal_names_its_snapshot_window_and_the_snapshot_shows_its_own_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = &copy_of_demo(dir.path());
    let signals = json(db, &["signals", "--json"]);
    // a drift signal: its first novel node is in the snapshot of its window, at 0%
    let drift = signals
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "drift")
        .expect("the demo has drift");
    let id = drift["id"].as_i64().unwrap().to_string();
    let shown = json(db, &["signal", "show", &id, "--json"]);
    let windows = shown["snapshots"].as_array().unwrap();
    assert!(!windows.is_empty(), "{shown}");
    let first = &windows[0];
    let ts = drift["ts_ms"].as_i64().unwrap();
    assert!(
        first["started_ms"].as_i64().unwrap() <= ts && ts <= first["ended_ms"].as_i64().unwrap(),
        "the first window holds the signal's first match: {first}"
    );
    assert_eq!(first["container_id"], drift["container_id"]);
    let text = ok(db, &["signal", "show", &id]);
    let sid = first["id"].as_str().unwrap();
    assert!(
        text.contains(&format!("snapshot  {sid} (")),
        "the text names the window: {text}"
    );

    let snap = json(db, &["snapshot", "show", sid, "--json"]);
    assert_eq!(snap["image"], drift["image"]);
    assert_eq!(snap["version"], drift["version"]);
    assert_eq!(snap["snapshot"]["container_id"], drift["container_id"]);
    assert_eq!(
        snap["snapshot"]["merged"], false,
        "drift happens after Stable: kept, not merged"
    );
    let node = drift["node_key"].as_str().unwrap();
    let in_snapshot = snap["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == node)
        .unwrap_or_else(|| panic!("{node} is in the snapshot's tree"));
    assert_eq!(
        in_snapshot["commonality"], 0.0,
        "novel: the profile lacks it"
    );
    // every node of the tree once, parents first
    let keys: Vec<&str> = snap["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    for (i, k) in keys.iter().enumerate() {
        if let Some((parent, _)) = k.rsplit_once('|') {
            assert!(keys[..i].contains(&parent), "{k} after its parent");
        }
    }
    let text = ok(db, &["snapshot", "show", sid]);
    assert!(
        text.starts_with(&format!("snapshot {sid}  ")) && text.contains("kept, not merged"),
        "{text}"
    );

    // a merged snapshot: the first of a profile brought every node it has
    let shown = json(db, &["profile", "show", "redis:7.2.4", "--json"]);
    let oldest = shown["snapshots"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let snap = json(db, &["snapshot", "show", &oldest, "--json"]);
    assert_eq!(snap["position"], 1);
    assert_eq!(
        snap["first_seen_here"].as_array().unwrap().len(),
        snap["nodes"].as_array().unwrap().len()
    );
}

#[test]
fn learning_progress_counts_every_node_once_in_ingest_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = &copy_of_demo(dir.path());
    let profiles = json(db, &["profiles", "--json"]);
    for (image, version) in [("nginx", "1.27.0"), ("acme/worker", "1.9.0")] {
        let p = profile(&profiles, image, version);
        let spec = format!("{image}:{version}");
        let all = json(
            db,
            &["profile", "progress", &spec, "--last", "100000", "--json"],
        );
        assert_eq!(all["merged_snapshots"], p["snapshots"], "{spec}");
        assert_eq!(all["nodes"], p["nodes"], "{spec}");
        let steps = all["steps"].as_array().unwrap();
        let new_total: u64 = steps
            .iter()
            .map(|s| {
                ["process", "file", "dns", "net", "kernel"]
                    .iter()
                    .map(|k| s["new"][k].as_u64().unwrap())
                    .sum::<u64>()
            })
            .sum();
        assert_eq!(
            new_total,
            p["nodes"].as_u64().unwrap(),
            "{spec}: each node is new once"
        );
        let positions: Vec<u64> = steps
            .iter()
            .map(|s| s["position"].as_u64().unwrap())
            .collect();
        assert_eq!(positions, (1..=steps.len() as u64).collect::<Vec<_>>());
        let last10 = json(
            db,
            &["profile", "progress", &spec, "--last", "10", "--json"],
        );
        assert_eq!(
            last10["steps"].as_array().unwrap()[..],
            steps[steps.len() - 10..],
            "{spec}: the last 10, counted against everything before them"
        );
    }
    let text = ok(db, &["profile", "progress", "nginx:1.27.0", "--last", "5"]);
    for kind in ["process", "file", "dns", "net", "kernel"] {
        assert!(
            text.lines().any(|l| l.starts_with(kind)),
            "{kind} line: {text}"
        );
    }
    assert!(text.contains("128 snapshots merged"), "{text}");
}

#[test]
fn promote_reset_and_undo_change_the_status_everywhere_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = &copy_of_demo(dir.path());
    let before = json(db, &["profiles", "--json"]);
    let nginx_before = profile(&before, "nginx", "1.25.3").clone();

    // promote a Learning profile
    let out = ok(
        db,
        &[
            "profile",
            "promote",
            "nginx:1.27.0",
            "--reason",
            "seen a week of it",
        ],
    );
    assert!(out.contains("nginx:1.27.0 promoted to Stable"), "{out}");
    let ps = json(db, &["profiles", "--json"]);
    let p = profile(&ps, "nginx", "1.27.0");
    assert_eq!(p["status"], "stable");
    assert_eq!(p["status_manual"], true);
    assert_eq!(p["lifecycle_decision"]["who"], "carol");
    assert_eq!(p["lifecycle_decision"]["reason"], "seen a week of it");
    let text = ok(db, &["profiles"]);
    assert!(
        text.lines()
            .any(|l| l.contains("1.27.0") && l.contains("stable*")),
        "{text}"
    );
    let status = json(db, &["status", "--json"]);
    assert_eq!(
        status["stable"].as_u64().unwrap(),
        before
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"] == "stable")
            .count() as u64
            + 1
    );

    // reset a Stable one: Learning from zero, the evidence kept
    let out = ok(
        db,
        &[
            "profile",
            "reset",
            "nginx:1.25.3",
            "--reason",
            "new config rolled out",
        ],
    );
    assert!(out.contains("reset to Learning"), "{out}");
    let ps = json(db, &["profiles", "--json"]);
    let p = profile(&ps, "nginx", "1.25.3");
    assert_eq!(
        (&p["status"], &p["snapshots"], &p["nodes"]),
        (&Value::from("learning"), &Value::from(0), &Value::from(0))
    );
    let kept = nginx_before["snapshots"].as_u64().unwrap()
        + nginx_before["unmerged_snapshots"].as_u64().unwrap();
    assert_eq!(p["archived_snapshots"].as_u64().unwrap(), kept);
    assert_eq!(
        json(db, &["status", "--json"])["snapshots"],
        status["snapshots"],
        "`status` still counts the archived snapshots"
    );
    let shown = json(db, &["profile", "show", "nginx:1.25.3", "--json"]);
    assert_eq!(
        shown["snapshots"].as_array().unwrap().len() as u64,
        kept,
        "its snapshots stay"
    );
    let progress = json(db, &["profile", "progress", "nginx:1.25.3", "--json"]);
    assert_eq!(progress["merged_snapshots"], 0);
    let history = json(db, &["profile", "history", "nginx:1.25.3", "--json"]);
    assert_eq!(history[0]["action"], "reset");
    assert_eq!(history[0]["status_before"], "stable");

    // the audit trail, newest first
    let d = json(db, &["decisions", "--json"]);
    assert_eq!(
        (
            &d[0]["action"],
            &d[0]["profile"],
            &d[0]["who"],
            &d[0]["detail"]
        ),
        (
            &Value::from("reset"),
            &Value::from("nginx:1.25.3"),
            &Value::from("carol"),
            &Value::from("new config rolled out")
        )
    );
    assert_eq!(d[1]["action"], "promote");

    // undo: everything back as it was
    let out = ok(db, &["profile", "undo", "nginx:1.25.3"]);
    assert!(out.contains("reset #2 of nginx:1.25.3 undone"), "{out}");
    let ps = json(db, &["profiles", "--json"]);
    let p = profile(&ps, "nginx", "1.25.3");
    for k in ["status", "snapshots", "nodes", "commonality", "containers"] {
        assert_eq!(p[k], nginx_before[k], "{k}");
    }
    assert_eq!(p["status_manual"], false);
    ok(
        db,
        &["profile", "undo", "nginx:1.27.0", "--reason", "too early"],
    );
    let ps = json(db, &["profiles", "--json"]);
    assert_eq!(profile(&ps, "nginx", "1.27.0")["status"], "learning");
    let d = json(db, &["decisions", "--json"]);
    assert_eq!(
        (&d[0]["action"], &d[0]["detail"]),
        (&Value::from("undo"), &Value::from("promote #1: too early"))
    );
    let text = ok(db, &["profile", "history", "nginx:1.27.0"]);
    assert!(
        text.contains("carol") && text.contains("seen a week of it"),
        "{text}"
    );
    assert!(ok(db, &["store", "check"]).contains("ok"));
}

#[test]
fn bad_lifecycle_and_drill_down_input_is_one_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = &copy_of_demo(dir.path());
    let before = ok(db, &["profiles", "--json"]);
    for (args, expect) in [
        (
            vec!["profile", "promote", "nginx:1.27.0"],
            "--reason: say why nginx:1.27.0 should be Stable now",
        ),
        (
            vec!["profile", "reset", "nginx:1.25.3", "--reason", "   "],
            "--reason: say why nginx:1.25.3 should be learned again",
        ),
        (
            vec!["profile", "promote", "nginx", "--reason", "x"],
            "`nginx` is not IMAGE:VERSION",
        ),
        (
            vec!["profile", "promote", "nope:1", "--reason", "x"],
            "no profile nope:1",
        ),
        (
            vec!["profile", "promote", "nginx:1.25.3", "--reason", "x"],
            "profile nginx:1.25.3 is already Stable",
        ),
        (
            vec!["profile", "undo", "redis:7.2.4"],
            "profile redis:7.2.4: no promote or reset to undo",
        ),
        (
            vec!["profile", "progress", "nginx:1.27.0", "--last", "0"],
            "--last 0",
        ),
        (vec!["profile", "progress", "nope:2"], "no profile nope:2"),
        (vec!["profile", "history", "nope:3"], "no profile nope:3"),
        (
            vec!["snapshot", "show", "no-such-snapshot"],
            "no snapshot `no-such-snapshot`",
        ),
        (vec!["snapshot", "show", ""], "snapshot id: empty"),
        (vec!["signal", "show", "999999"], "no signal with id 999999"),
    ] {
        let e = one_line_error(db, &args);
        assert!(e.contains(expect), "{args:?}: {e}");
    }
    assert_eq!(ok(db, &["profiles", "--json"]), before, "nothing changed");
    assert_eq!(
        json(db, &["decisions", "--json"]),
        Value::Array(vec![]),
        "no decision recorded"
    );
}
