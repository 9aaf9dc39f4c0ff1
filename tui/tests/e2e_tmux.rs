//! End to end in a real terminal: the real `wsprof` binary in tmux replays the demo,
//! a person navigates images -> profile -> signal queue and accepts a suggestion with its
//! key; then the CLI twin shows that signal suppressed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("run tmux");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

fn keys(session: &str, keys: &[&str]) {
    for k in keys {
        tmux(&["send-keys", "-t", session, k]);
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn wait_for(session: &str, what: &str, timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        let s = screen(session);
        if s.contains(what) {
            return s;
        }
        if start.elapsed() > timeout {
            panic!("timed out waiting for {what:?}; screen:\n{s}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Session(String);
impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.0]);
    }
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// False (and why, printed) when tmux is missing; in CI that is a failure instead.
fn tmux_or_skip(test: &str) -> bool {
    if have_tmux() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("tmux is required in CI (scripts/setup.sh installs it)");
    }
    eprintln!("SKIP {test}: tmux is not installed");
    false
}

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
