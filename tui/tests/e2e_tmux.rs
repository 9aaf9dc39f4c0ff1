//! End to end in a real terminal: the real `wsprof` binary in tmux replays the demo,
//! a person navigates images -> profile -> signal queue and accepts a suggestion with its
//! key; then the CLI twin shows that signal suppressed.

mod common;

use common::{keys, tmux, tmux_or_skip, wait_for, Session};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `wsprof demo` running in a tmux session, on a store file in a temporary directory.
struct Demo {
    dir: tempfile::TempDir,
    session: Session,
}

impl Demo {
    fn start(name: &str, speed: &str) -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let session = format!("wsprof-{name}-{}", std::process::id());
        let cmd = format!(
            "XDG_CONFIG_HOME={d} {bin} demo --speed {speed} --db {d}/demo.duckdb --log-file {d}/wsprof.log; echo EXITED $?; sleep 30",
            d = dir.path().display(),
            bin = env!("CARGO_BIN_EXE_wsprof"),
        );
        tmux(&[
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "45",
            "-s",
            &session,
            &cmd,
        ]);
        Demo {
            dir,
            session: Session(session),
        }
    }
    fn name(&self) -> &str {
        &self.session.0
    }
    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("demo.duckdb")
    }
    fn log(&self) -> std::path::PathBuf {
        self.dir.path().join("wsprof.log")
    }
    /// Run the CLI on the same store and parse its JSON.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_wsprof"))
            .args(args)
            .arg("--db")
            .arg(self.db())
            .arg("--log-file")
            .arg(self.log())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn demo_navigate_accept_suggestion_then_cli_shows_it_suppressed() {
    if !tmux_or_skip("demo_navigate_accept_suggestion_then_cli_shows_it_suppressed") {
        return;
    }
    let demo = Demo::start("e2e", "max");
    let session = demo.name().to_string();

    // images screen, then the replay finishes
    wait_for(&session, "IMAGE", Duration::from_secs(20));
    let s = wait_for(&session, "replayed", Duration::from_secs(300));
    assert!(
        s.contains("nginx") && s.contains("stable") && s.contains("learning"),
        "{s}"
    );

    // images -> profile
    keys(&session, &["Enter"]);
    let s = wait_for(&session, "Process tree", Duration::from_secs(10));
    assert!(
        s.contains("behaviour commonality") && s.contains("Snapshots and containers"),
        "{s}"
    );

    // -> signal queue, search for signals with a suggestion
    keys(&session, &["Escape", "2"]);
    wait_for(&session, "Signal queue", Duration::from_secs(10));
    keys(&session, &["/", "k", "n", "o", "w", "n", "Enter"]);
    let s = wait_for(&session, "press a to accept", Duration::from_secs(10));
    // the selected signal's id is shown as `#N rule` in the side panel
    let id: i64 = s
        .split('#')
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no signal id on screen:\n{s}"));
    keys(&session, &["a"]);
    let s = wait_for(&session, "suppression 1 added", Duration::from_secs(10));
    assert!(s.contains("signal(s) hidden"), "{s}");
    keys(&session, &["3"]);
    let s = wait_for(&session, "Suppressions (1 active", Duration::from_secs(10));
    assert!(s.contains("active"), "{s}");
    keys(&session, &["q"]);
    wait_for(&session, "EXITED 0", Duration::from_secs(20));

    // the CLI twin over the same file
    let signals = demo.json(&["signals", "--json"]);
    let signals = signals.as_array().unwrap();
    let accepted = signals
        .iter()
        .find(|s| s["id"] == id)
        .expect("accepted signal listed");
    assert_eq!(accepted["status"], "suppressed", "{accepted}");
    assert_eq!(accepted["suppression_id"], 1);
    report_first_frame(&demo.log());
}

fn report_first_frame(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if let Some(line) = text.lines().find(|l| l.contains("first frame drawn")) {
        eprintln!("measured: {line}");
    }
}

/// Accept a suggestion while the demo is still replaying, then check that later matches
/// of that rule for that image and process were hidden (counted on the suppression), not
/// queued.
#[test]
fn accepting_early_hides_the_next_matching_signals() {
    if !tmux_or_skip("accepting_early_hides_the_next_matching_signals") {
        return;
    }
    // 3 simulated days in about 30 s
    let demo = Demo::start("e2e-early", "9000");
    let session = demo.name().to_string();
    wait_for(&session, "IMAGE", Duration::from_secs(20));
    keys(&session, &["2"]);
    wait_for(&session, "Signal queue", Duration::from_secs(10));
    keys(&session, &["/", "k", "n", "o", "w", "n", "Enter"]);
    let s = wait_for(&session, "press a to accept", Duration::from_secs(120));
    assert!(
        s.contains("replaying"),
        "the replay should still be running:\n{s}"
    );
    keys(&session, &["a"]);
    let s = wait_for(&session, "suppression 1 added", Duration::from_secs(10));
    let hidden_at_accept: u64 = s
        .split("; ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no hidden count in the message:\n{s}"));
    wait_for(&session, "replayed", Duration::from_secs(300));
    keys(&session, &["q"]);
    wait_for(&session, "EXITED 0", Duration::from_secs(20));

    let sups = demo.json(&["suppressions", "--json"]);
    let sup = &sups[0];
    let hidden = sup["hidden"].as_u64().unwrap();
    assert!(
        hidden > hidden_at_accept,
        "later matches must be counted on the suppression: {hidden} vs {hidden_at_accept} at accept\n{sup}"
    );
    let lineage: Vec<String> = serde_json::from_value(sup["lineage"].clone()).unwrap();
    let signals = demo.json(&[
        "signals",
        "--json",
        "--rule",
        sup["rule_id"].as_str().unwrap(),
        "--image",
        sup["image"].as_str().unwrap(),
    ]);
    // Every stored match is one that was queued before the accept and hidden by it; the
    // matches after it were only counted (hidden > hidden_at_accept above).
    for s in signals.as_array().unwrap() {
        let key = model::NodeKey(s["node_key"].as_str().unwrap().to_string());
        if key.lineage() == lineage {
            assert!(
                s["status"] == "suppressed" && s["suppression_id"] == sup["id"],
                "a matching signal was queued after the suppression: {s}"
            );
        }
    }
}

/// `wsprof` with no command on a store file and no agent: the same screens, for browsing
/// and triage without capture (a store copied from another host, imported snapshots).
#[test]
fn the_ui_opens_an_existing_store_without_capture() {
    if !tmux_or_skip("the_ui_opens_an_existing_store_without_capture") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("copied.duckdb");
    let bin = env!("CARGO_BIN_EXE_wsprof");
    let out = Command::new(bin)
        .args(["demo", "--headless", "--speed", "max", "--db"])
        .arg(&db)
        .arg("--log-file")
        .arg(dir.path().join("demo.log"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let name = format!("wsprof-store-{}", std::process::id());
    let cmd = format!(
        "env -u WSPROF_SOCKET XDG_CONFIG_HOME={d} {bin} --db {db} --log-file {d}/ui.log; echo EXITED $?; sleep 30",
        d = dir.path().display(),
        db = db.display()
    );
    let _s = common::tmux_session(&name, &cmd);
    let s = wait_for(&name, "STORE", Duration::from_secs(20));
    assert!(s.contains("no agent running"), "{s}");
    let s = wait_for(&name, "nginx", Duration::from_secs(20));
    assert!(s.contains("stable"), "{s}");
    // j/k move as in less, Enter opens the profile
    keys(&name, &["j", "k", "Enter"]);
    wait_for(&name, "Process tree", Duration::from_secs(10));
    wait_for(&name, "Learning: new nodes", Duration::from_secs(10));
    keys(&name, &["Escape", "2"]);
    wait_for(&name, "Signal queue", Duration::from_secs(10));
    // s: the snapshot window the newest signal happened in, its node marked
    keys(&name, &["s"]);
    let s = wait_for(&name, "Snapshot tree", Duration::from_secs(10));
    assert!(s.contains("opened from signal #381"), "{s}");
    keys(&name, &["Escape", "1"]);
    wait_for(&name, "Images:", Duration::from_secs(10));
    // P on a Learning profile (the second row): a confirmation that takes the reason as
    // typed (its letters are not keys then), Enter confirms; u and Enter undo
    keys(&name, &["j", "P"]);
    wait_for(
        &name,
        "Promote acme/nightly-report:0.5.0 to Stable?",
        Duration::from_secs(10),
    );
    keys(&name, &["q", "u", "i", "e", "t", "Enter"]);
    let s = wait_for(&name, "promoted to Stable (36", Duration::from_secs(10));
    assert!(s.contains("stable*"), "{s}");
    keys(&name, &["u"]);
    wait_for(&name, "Undo promote #1", Duration::from_secs(10));
    keys(&name, &["Enter"]);
    wait_for(
        &name,
        "promote #1 of acme/nightly-report:0.5.0 undone",
        Duration::from_secs(10),
    );
    keys(&name, &["q"]);
    wait_for(&name, "EXITED 0", Duration::from_secs(10));
    let o = Command::new(bin)
        .args(["decisions", "--json", "--db"])
        .arg(&db)
        .arg("--log-file")
        .arg(dir.path().join("cli.log"))
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d[0]["action"], "undo", "{d}");
    assert_eq!(d[1]["action"], "promote", "{d}");
    assert_eq!(d[1]["detail"], "quiet", "{d}");
}
