//! Helpers shared by the live tests: podman with the project's private config, the
//! prerequisites of live capture (skip with a reason, or fail under CI=true), a podman API
//! service, and a guard that kills children and removes named containers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn podman() -> Command {
    let pd = repo().join(".cache/podman");
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", pd.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", pd.join("storage.conf"));
    c
}

pub fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("no BTF at /sys/kernel/btf/vmlinux".into());
    }
    let image_ok = || {
        podman()
            .args(["image", "exists", "demo/web:1.0"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !image_ok() {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/setup-capture.sh"))
            .status();
    }
    if !image_ok() {
        return Some("podman or the demo/web:1.0 test image is missing (scripts/setup.sh)".into());
    }
    None
}

/// False (and why, printed) without the prerequisites; in CI that is a failure instead.
pub fn prerequisites_or_skip(test: &str) -> bool {
    match missing_prerequisite() {
        None => true,
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("live capture prerequisites missing in CI: {why}")
        }
        Some(why) => {
            eprintln!("SKIP {test}: {why}");
            false
        }
    }
}

/// Children killed and containers removed on drop.
#[derive(Default)]
pub struct Killed {
    pub children: Vec<Child>,
    pub containers: Vec<String>,
}

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for name in &self.containers {
            let _ = podman().args(["rm", "-f", "-t", "0", name]).output();
        }
    }
}

/// A podman API service on `sock`; it (and the containers named in `containers`) are
/// stopped on drop.
pub fn podman_service(sock: &Path, containers: &[&str]) -> Killed {
    let mut guard = Killed {
        children: Vec::new(),
        containers: containers.iter().map(|s| s.to_string()).collect(),
    };
    guard.children.push(
        podman()
            .args([
                "system",
                "service",
                "--time=0",
                &format!("unix://{}", sock.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service"),
    );
    let start = Instant::now();
    while !sock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "podman API socket did not appear"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    guard
}

// ----- tmux: the real binary in a real terminal -----

pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("run tmux");
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

pub fn keys(session: &str, keys: &[&str]) {
    for k in keys {
        tmux(&["send-keys", "-t", session, k]);
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Wait until the screen shows `what`; the screen on success, a panic with it on timeout.
pub fn wait_for(session: &str, what: &str, timeout: Duration) -> String {
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

/// A tmux session killed on drop.
pub struct Session(pub String);
impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.0]);
    }
}

/// Start `cmd` in a new 160x40 tmux session named `name`.
pub fn tmux_session(name: &str, cmd: &str) -> Session {
    tmux(&[
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "40",
        "-s",
        name,
        cmd,
    ]);
    Session(name.to_string())
}

/// False (and why, printed) when tmux is missing; in CI that is a failure instead.
pub fn tmux_or_skip(test: &str) -> bool {
    if Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("tmux is required in CI (scripts/setup.sh installs it)");
    }
    eprintln!("SKIP {test}: tmux is not installed");
    false
}
