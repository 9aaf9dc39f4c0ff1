//! The store survives a crash, for real: `kill -9` of a writing `wsprof` (demo, capture, the
//! agent) at random points during ingest, on a fresh store and on an old (checkpointed) one,
//! twenty times each for capture. After
//! every kill the store opens, and every snapshot and signal the killed process logged as
//! committed is in it. The WAL left behind is mode 0600.
//!
//! Without root the `wsprof capture` rounds print why and skip (under CI=true they fail);
//! the `wsprof demo` rounds need neither root nor a kernel feature and always run.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ROUNDS: usize = 20;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsprof")
}

/// xorshift64*, seeded from the clock (printed, so a failing round can be replayed with
/// WSPROF_CRASH_SEED).
struct Rng(u64);
impl Rng {
    fn new(test: &str) -> Rng {
        let seed = std::env::var("WSPROF_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("{test}: WSPROF_CRASH_SEED={seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// What the killed process logged as committed (store/src/ingest.rs, signal.rs).
fn committed(log: &Path) -> (BTreeSet<String>, BTreeSet<i64>) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let field = |line: &str, name: &str| -> Option<String> {
        let at = line.find(&format!(" {name}="))? + name.len() + 2;
        Some(line[at..].split_whitespace().next()?.to_string())
    };
    let mut snaps = BTreeSet::new();
    let mut signals = BTreeSet::new();
    for line in text.lines() {
        if line.contains("snapshot committed") {
            snaps.extend(field(line, "snapshot"));
        } else if line.contains("signal committed") {
            signals.extend(field(line, "signal").and_then(|v| v.parse::<i64>().ok()));
        }
    }
    (snaps, signals)
}

fn wsprof(args: &[&str], db: &Path, dir: &Path) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(dir.join("check.log"))
        .output()
        .unwrap()
}

/// After a kill: the store opens; everything logged as committed is there; the WAL is 0600.
fn verify(round: &str, db: &Path, log: &Path, dir: &Path) -> (usize, usize) {
    use std::os::unix::fs::PermissionsExt;
    let (snaps, signals) = committed(log);
    if !db.exists() {
        assert!(
            snaps.is_empty() && signals.is_empty(),
            "{round}: commits logged but no store file"
        );
        return (0, 0);
    }
    let wal = store::wal_path(db);
    if let Ok(md) = std::fs::metadata(&wal) {
        assert_eq!(md.permissions().mode() & 0o777, 0o600, "{round}: WAL mode");
    }
    assert_eq!(
        std::fs::metadata(db).unwrap().permissions().mode() & 0o777,
        0o600,
        "{round}: store mode"
    );
    let status = wsprof(&["status", "--json"], db, dir);
    assert!(
        status.status.success(),
        "{round}: the store does not open after kill -9: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let export = dir.join("export.json");
    let _ = std::fs::remove_file(&export);
    let out = wsprof(&["snapshots", "export", export.to_str().unwrap()], db, dir);
    assert!(out.status.success(), "{round}: export: {out:?}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let stored: BTreeSet<String> = file["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<_> = snaps.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{round}: committed snapshots lost: {missing:?}"
    );
    let out = wsprof(&["signals", "--json"], db, dir);
    assert!(out.status.success(), "{round}: signals: {out:?}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stored: BTreeSet<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let missing: Vec<_> = signals.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{round}: committed signals lost: {missing:?}"
    );
    (snaps.len(), signals.len())
}

/// Start `args` writing into `db`, kill -9 it after `after`, then verify.
fn kill_round(
    round: &str,
    args: &[&str],
    db: &Path,
    dir: &Path,
    after: Duration,
) -> (usize, usize) {
    let log = dir.join(format!("{round}.log"));
    let mut child: Child = Command::new(bin())
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(&log)
        .env("WSPROF_LOG", "info,store=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    if let Some(status) = child.try_wait().unwrap() {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        panic!("{round}: the writer ended before the kill ({status}): {err}");
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    verify(round, db, &log, dir)
}

#[test]
fn demo_killed_at_random_points_leaves_an_openable_store_with_its_commits() {
    let mut rng = Rng::new("demo kill rounds");
    let tmp = tempfile::tempdir().unwrap();
    let (mut snaps, mut signals) = (0, 0);
    for i in 0..ROUNDS {
        let dir = tmp.path().join(format!("r{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("fresh.duckdb");
        let after = Duration::from_millis(100 + rng.below(2400));
        let (s, g) = kill_round(
            &format!("demo round {i} (kill after {after:?})"),
            // paced: `--speed max` now replays the whole bundle in under a second, before
            // most kill points; at 50000 simulated seconds a second it takes ~5 s
            &["demo", "--headless", "--speed", "50000"],
            &db,
            &dir,
            after,
        );
        snaps += s;
        signals += g;
    }
    eprintln!("{ROUNDS} demo kills: {snaps} committed snapshots and {signals} signals all kept");
    assert!(
        snaps > 0,
        "no round got as far as a commit: the test proved nothing"
    );
}

/// A busy container (shadow reads raise a signal in every fresh store), shared by rounds.
fn busy_container(sock: &Path) -> common::Killed {
    let name = format!("wsprof-crash-{}", std::process::id());
    let guard = common::podman_service(sock, &[&name]);
    let run = common::podman()
        .args([
            "run",
            "-d",
            "--network=none",
            "--name",
            &name,
            "demo/web:1.0",
            "/bin/sh",
            "-c",
            "echo root:*:1:::::: > /etc/shadow; while true; do cat /etc/shadow > /dev/null; ls /tmp > /dev/null; sleep 0.2; done",
        ])
        .output()
        .expect("podman run");
    assert!(
        run.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    guard
}

fn capture_args(sock: &Path) -> Vec<String> {
    vec![
        "capture".into(),
        "--snapshot-interval".into(),
        "1s".into(),
        "--runtime-socket".into(),
        sock.display().to_string(),
    ]
}

#[test]
fn capture_killed_at_random_points_on_fresh_and_old_stores() {
    if !common::prerequisites_or_skip("capture_killed_at_random_points_on_fresh_and_old_stores") {
        return;
    }
    let mut rng = Rng::new("capture kill rounds");
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("podman.sock");
    let _container = busy_container(&sock);
    let args = capture_args(&sock);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // An old store: captured into, then closed cleanly (checkpointed).
    let old = tmp.path().join("old.duckdb");
    let mut prep = args.clone();
    prep.extend(["--duration", "4s"]);
    let out = wsprof(&prep, &old, tmp.path());
    assert!(out.status.success(), "preparing the old store: {out:?}");
    assert!(!store::wal_path(&old).exists(), "a clean stop checkpoints");

    let (mut snaps, mut signals) = (0, 0);
    for (kind, fresh) in [("fresh", true), ("old", false)] {
        for i in 0..ROUNDS {
            let dir: PathBuf = tmp.path().join(format!("{kind}{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let db = dir.join("store.duckdb");
            if !fresh {
                std::fs::copy(&old, &db).unwrap();
            }
            let after = Duration::from_millis(1000 + rng.below(3500));
            let (s, g) = kill_round(
                &format!("capture {kind} round {i} (kill after {after:?})"),
                &args,
                &db,
                &dir,
                after,
            );
            snaps += s;
            signals += g;
        }
    }
    eprintln!(
        "{} capture kills: {snaps} committed snapshots and {signals} signals all kept",
        2 * ROUNDS
    );
    assert!(
        snaps > 0 && signals > 0,
        "no round committed a snapshot and a signal"
    );
}
