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

// ----- the agent, for real, with containers of demo/web:1.0 -----

/// A `wsprof agent` on a store and socket in a test directory; killed on drop.
pub struct Agent {
    child: Child,
    pub sock: PathBuf,
    pub log: PathBuf,
}

impl Agent {
    /// Start the agent (3 s snapshots) with `config`, the runtime API at `runtime_sock` and
    /// `extra` arguments; wait for its socket.
    pub fn start(dir: &Path, runtime_sock: &Path, config: &Path, extra: &[&str]) -> Agent {
        let sock = dir.join("wsprof.sock");
        let log = dir.join("agent.log");
        let child = Command::new(env!("CARGO_BIN_EXE_wsprof"))
            .arg("agent")
            .arg("--config")
            .arg(config)
            .args(["--snapshot-interval", "3s", "--runtime-socket"])
            .arg(runtime_sock)
            .args(extra)
            .arg("--db")
            .arg(dir.join("agent.duckdb"))
            .arg("--socket")
            .arg(&sock)
            .arg("--log-file")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("wsprof agent");
        let a = Agent { child, sock, log };
        wait_until("the agent's socket", Duration::from_secs(30), || {
            a.sock.exists()
        });
        a
    }

    /// A CLI twin through the agent's socket, its `--json` output parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_wsprof"))
            .args(args)
            .arg("--socket")
            .arg(&self.sock)
            .arg("--log-file")
            .arg(self.log.with_extension("cli.log"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "wsprof {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Wait until demo/web:1.0 is Stable.
    pub fn wait_web_stable(&self, timeout: Duration) {
        wait_until("demo/web:1.0 Stable", timeout, || {
            self.json(&["profiles", "--json"])
                .as_array()
                .unwrap()
                .iter()
                .any(|p| {
                    p["image"] == "demo/web" && p["version"] == "1.0" && p["status"] == "stable"
                })
        });
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Start a container of demo/web:1.0 (no network) running `script`; its full id.
pub fn run_web(name: &str, script: &str) -> String {
    run_web_with(name, &[], script)
}

/// [`run_web`] with more `podman run` options (`-v`, ...).
pub fn run_web_with(name: &str, options: &[&str], script: &str) -> String {
    let _ = podman().args(["rm", "-f", "-t", "0", name]).output();
    let out = podman()
        .args(["run", "-d", "--network=none", "--name", name])
        .args(options)
        .arg("demo/web:1.0")
        .args(["/bin/sh", "-c", script])
        .output()
        .expect("podman run");
    assert!(
        out.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
