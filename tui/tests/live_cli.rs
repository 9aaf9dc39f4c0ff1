//! `wsprof capture` for real: root, the running kernel's eBPF, a real podman container.
//! The container writes then reads /etc/shadow (busybox has none); the store must then hold its snapshot under
//! demo/web:1.0 and a `shadow-file-read` signal raised from the live event.
//! Without root, BTF or podman it prints why and skips; with CI=true it fails instead.

mod common;

use common::{podman, podman_service, prerequisites_or_skip, tmux, wait_for};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The live tests run one at a time: each capture sees every container on the host.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `wsprof ARGS --db DB` (a `--json` twin) as JSON, asserting it succeeded.
fn store_json(args: &[&str], db: &std::path::Path, log: &std::path::Path) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_wsprof"))
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(log)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `wsprof capture` with 4 s snapshots into `db`, images from the podman API on `sock`.
fn capture_for(
    extra: &[&str],
    sock: &std::path::Path,
    db: &std::path::Path,
    log: &std::path::Path,
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_wsprof"))
        .args(["capture", "--snapshot-interval", "4s"])
        .args(extra)
        .arg("--runtime-socket")
        .arg(sock)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsprof capture")
}

#[test]
fn capture_command_stores_snapshots_and_live_signals() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip("capture_command_stores_snapshots_and_live_signals") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("podman.sock");
    let db = tmp.path().join("live.duckdb");
    let log = tmp.path().join("wsprof.log");
    let _guard = podman_service(&sock, &["wsprof-live-cli", "wsprof-live-ui"]);
    let capture = capture_for(&["--duration", "20s"], &sock, &db, &log);
    std::thread::sleep(Duration::from_secs(3));
    let run = podman()
        .args([
            "run",
            "--rm",
            "--name",
            "wsprof-live-cli",
            "demo/web:1.0",
            "/bin/sh",
            "-c",
            "echo root:*:1:::::: > /etc/shadow; sleep 1; cat /etc/passwd > /dev/null; cat /etc/shadow > /dev/null; sleep 6",
        ])
        .output()
        .expect("podman run");
    assert!(
        run.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = capture.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wsprof capture failed: {}{}\nlog:\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(stdout.contains("(0 lost"), "{stdout}");

    let json = |args: &[&str]| store_json(args, &db, &log);
    let profiles = json(&["profiles", "--json"]);
    let web = profiles
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["image"] == "demo/web" && p["version"] == "1.0")
        .unwrap_or_else(|| panic!("no demo/web:1.0 profile: {profiles}"));
    assert!(web["snapshots"].as_u64().unwrap() >= 1, "{web}");
    let shown = json(&["profile", "show", "demo/web:1.0", "--json"]);
    let labels: Vec<&str> = shown["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"/etc/shadow"),
        "shadow read not in the profile: {labels:?}"
    );
    let signals = json(&["signals", "--json", "--rule", "shadow-file-read"]);
    let s = signals
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["image"] == "demo/web" && s["version"] == "1.0")
        .unwrap_or_else(|| panic!("no shadow-file-read signal for demo/web:1.0: {signals}"));
    assert!(
        s["summary"].as_str().unwrap().contains("/etc/shadow"),
        "{s}"
    );
}

/// `wsprof live` in a real terminal: a container started while it runs shows up on the
/// images screen under its image and version, the status line counts events, and `q`
/// stops capture and exits cleanly.
#[test]
fn live_ui_shows_a_new_container_and_quits_cleanly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip("live_ui_shows_a_new_container_and_quits_cleanly") {
        return;
    }
    if !common::tmux_or_skip("live_ui_shows_a_new_container_and_quits_cleanly") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("podman.sock");
    let _guard = podman_service(&sock, &["wsprof-live-cli", "wsprof-live-ui"]);
    let session = format!("wsprof-live-{}", std::process::id());
    let cmd = format!(
        "XDG_CONFIG_HOME={d} {bin} live --snapshot-interval 3s --runtime-socket {sock} --db {d}/live.duckdb --log-file {d}/log; echo EXITED $?; sleep 30",
        d = tmp.path().display(),
        bin = env!("CARGO_BIN_EXE_wsprof"),
        sock = sock.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "40",
        "-s",
        &session,
        &cmd,
    ]);
    let _s = common::Session(session.clone());
    wait_for(&session, "LIVE", Duration::from_secs(30));
    let run = podman()
        .args([
            "run",
            "--rm",
            "--name",
            "wsprof-live-cli",
            "demo/web:2.0",
            "/bin/sh",
            "-c",
            "cat /etc/app.conf > /dev/null; sleep 7",
        ])
        .output()
        .expect("podman run");
    assert!(
        run.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let screen = wait_for(&session, "demo/web", Duration::from_secs(30));
    assert!(
        screen.contains("2.0") && screen.contains("learning"),
        "{screen}"
    );
    assert!(screen.contains("lost 0"), "{screen}");
    tmux(&["send-keys", "-t", &session, "q"]);
    wait_for(&session, "EXITED 0", Duration::from_secs(30));
}

/// `podman exec` into a running container is an interactive session: a signal of its own,
/// and its processes grouped under one `[exec session]` node of the profile tree.
#[test]
fn an_exec_into_a_running_container_is_a_session_with_a_signal_of_its_own() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip(
        "an_exec_into_a_running_container_is_a_session_with_a_signal_of_its_own",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("podman.sock");
    let db = tmp.path().join("session.duckdb");
    let log = tmp.path().join("wsprof.log");
    let name = "wsprof-live-session";
    let _guard = podman_service(&sock, &[name]);
    let capture = capture_for(&["--duration", "16s"], &sock, &db, &log);
    std::thread::sleep(Duration::from_secs(3));
    let run = podman()
        .args([
            "run",
            "-d",
            "--network=none",
            "--name",
            name,
            "demo/web:1.0",
            "sleep",
            "11",
        ])
        .output()
        .expect("podman run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::thread::sleep(Duration::from_secs(2));
    let exec = podman()
        .args([
            "exec",
            name,
            "sh",
            "-c",
            "cat /etc/hostname > /dev/null; id > /dev/null",
        ])
        .output()
        .expect("podman exec");
    assert!(
        exec.status.success(),
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    let out = capture.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = |args: &[&str]| store_json(args, &db, &log);
    let signals = json(&[
        "signals",
        "--json",
        "--rule",
        "interactive-session-into-container",
    ]);
    let s = signals
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["image"] == "demo/web" && s["version"] == "1.0")
        .unwrap_or_else(|| panic!("no session signal: {signals}"));
    assert_eq!(s["process"]["exec_path"], "/bin/sh", "{s}");
    let shown = json(&["profile", "show", "demo/web:1.0", "--json"]);
    let keys: Vec<&str> = shown["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["key"].as_str())
        .collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("p:[exec session]|p:/bin/sh|p:/bin/cat")),
        "the session's processes are grouped under it: {keys:?}"
    );
    assert!(
        keys.contains(&"p:/bin/sleep"),
        "the entrypoint stays a root of its own: {keys:?}"
    );
}
