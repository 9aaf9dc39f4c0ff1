//! The always-on agent, for real: root, the running kernel's eBPF, real podman containers.
//! The agent captures while the CLI and the UI read and decide through its socket; every
//! container is checked even without a profiling slot; decisions record the peer's uid, not
//! what the environment claims; kill -9 keeps what was committed; SIGTERM stores the open
//! snapshots; bad clients cost nothing. Without root/BTF/podman each test prints why and
//! skips; with CI=true it fails instead.

mod common;

use common::{podman, podman_service, prerequisites_or_skip};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsprof")
}

/// The tests share the host's containers: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Agent {
    child: Child,
    sock: PathBuf,
    db: PathBuf,
    log: PathBuf,
}

impl Agent {
    fn start(dir: &Path, runtime_sock: &Path, extra: &[&str]) -> Agent {
        let sock = dir.join("wsprof.sock");
        let db = dir.join("agent.duckdb");
        let log = dir.join("agent.log");
        let child = Command::new(bin())
            .arg("agent")
            .args(extra)
            .arg("--runtime-socket")
            .arg(runtime_sock)
            .arg("--db")
            .arg(&db)
            .arg("--socket")
            .arg(&sock)
            .arg("--log-file")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wsprof agent");
        let mut a = Agent {
            child,
            sock,
            db,
            log,
        };
        let start = Instant::now();
        while !a.sock.exists() {
            if let Some(st) = a.child.try_wait().unwrap() {
                let mut err = String::new();
                let _ = a.child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("agent exited ({st}): {err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "agent socket never appeared"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        a
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .arg("--socket")
            .arg(&self.sock)
            .arg("--log-file")
            .arg(self.log.with_extension("cli.log"))
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let o = self.cli(args);
        assert!(
            o.status.success(),
            "wsprof {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn kill9(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// SIGTERM, and how long until it exited (with its status).
    fn term(&mut self) -> (Duration, std::process::ExitStatus) {
        let start = Instant::now();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (start.elapsed(), st);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "agent did not stop within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP/1.1 request on the socket: (status line, headers+body).
fn raw(sock: &Path, request: &[u8]) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn run_container(name: &str, image: &str, script: &str) {
    let _ = podman().args(["rm", "-f", "-t", "0", name]).output();
    let out = podman()
        .args([
            "run",
            "-d",
            "--network=none",
            "--name",
            name,
            image,
            "/bin/sh",
            "-c",
            script,
        ])
        .output()
        .expect("podman run");
    assert!(
        out.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn has_signal(v: &serde_json::Value, rule: &str, image: &str, version: &str) -> bool {
    v.as_array()
        .unwrap()
        .iter()
        .any(|s| s["rule_id"] == rule && s["image"] == image && s["version"] == version)
}

#[test]
fn agent_serves_the_cli_checks_every_container_and_survives_kill_and_term() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip(
        "agent_serves_the_cli_checks_every_container_and_survives_kill_and_term",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let podsock = tmp.path().join("podman.sock");
    let (slot, attacker) = (
        format!("wsprof-agent-slot-{}", std::process::id()),
        format!("wsprof-agent-attacker-{}", std::process::id()),
    );
    let _pods = podman_service(&podsock, &[&slot, &attacker]);
    let mut agent = Agent::start(
        tmp.path(),
        &podsock,
        &["--max-containers", "1", "--snapshot-interval", "3s"],
    );

    // The first container takes the only profiling slot; the second one attacks.
    run_container(
        &slot,
        "demo/web:1.0",
        "while true; do cat /etc/passwd > /dev/null; sleep 1; done",
    );
    std::thread::sleep(Duration::from_secs(3));
    run_container(
        &attacker,
        "demo/web:2.0",
        "sleep 2; echo 'eve:x:0:0::/root:/bin/sh' >> /etc/passwd; sleep 60",
    );
    wait_until(
        "passwd-file-modified from the container without a slot",
        Duration::from_secs(40),
        || {
            has_signal(
                &agent.json(&["signals", "--json"]),
                "passwd-file-modified",
                "demo/web",
                "2.0",
            )
        },
    );

    // status through the socket: the agent's own facts and its counters
    let st = agent.json(&["status", "--json"]);
    assert_eq!(st["agent"]["pid"], agent.child.id(), "{st}");
    assert!(st["capture"]["events"].as_u64().unwrap() > 0, "{st}");
    assert_eq!(st["agent"]["pipeline"]["total"], 0, "nothing lost: {st}");
    let text = String::from_utf8(agent.cli(&["status"]).stdout).unwrap();
    assert!(
        text.contains("agent: pid") && text.contains(" 0 lost"),
        "{text}"
    );

    // the API is plain HTTP/JSON (what curl --unix-socket does)
    let r = raw(
        &agent.sock,
        b"GET /v1/status HTTP/1.1\r\nHost: wsprof\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("API-Version: 1"), "{r}");

    // a decision through the agent records the peer's uid, not what the environment says;
    // a client following the change stream hears of it
    let signals = agent.json(&["signals", "--json", "--rule", "passwd-file-modified"]);
    let id = signals[0]["id"].as_i64().unwrap();
    let mut events = UnixStream::connect(&agent.sock).unwrap();
    events
        .write_all(b"GET /v1/events HTTP/1.1\r\nHost: w\r\n\r\n")
        .unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut events = BufReader::new(events);
    let mut line = String::new();
    while !line.contains("\"hello\"") {
        line.clear();
        assert!(events.read_line(&mut line).unwrap() > 0, "stream ended");
    }
    let out = Command::new(bin())
        .args([
            "suppress",
            &id.to_string(),
            "--force",
            "--reason",
            "agent test",
        ])
        .arg("--socket")
        .arg(&agent.sock)
        .env("SUDO_USER", "mallory")
        .env("USER", "mallory")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sups = agent.json(&["suppressions", "--json"]);
    assert_eq!(sups[0]["created_by"], "root (uid 0)", "{sups}");
    let decisions = agent.json(&["decisions", "--json"]);
    assert_eq!(decisions[0]["action"], "accept", "{decisions}");
    assert_eq!(decisions[0]["who"], "root (uid 0)", "{decisions}");
    let mut heard = false;
    for _ in 0..200 {
        line.clear();
        if events.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.contains("\"suppressions\"") && line.contains("accept") {
            heard = true;
            break;
        }
    }
    assert!(heard, "the change stream did not carry the decision");
    drop(events);
    let sup = sups[0]["id"].as_i64().unwrap();
    assert!(agent
        .cli(&["unsuppress", &sup.to_string()])
        .status
        .success());
    let decisions = agent.json(&["decisions", "--json"]);
    assert_eq!(decisions[0]["action"], "undo", "{decisions}");

    // the UI attached to the agent: same screens, and a decision from the keyboard goes
    // through the agent
    if common::tmux_or_skip("attach") {
        let name = format!("wsprof-attach-{}", std::process::id());
        let cmd = format!(
            "{} --socket {} --log-file {}; echo EXITED $?; sleep 30",
            bin(),
            agent.sock.display(),
            tmp.path().join("ui.log").display()
        );
        let _s = common::tmux_session(&name, &cmd);
        common::wait_for(&name, "AGENT", Duration::from_secs(20));
        common::wait_for(&name, "demo/web", Duration::from_secs(20));
        common::keys(&name, &["2"]);
        common::wait_for(&name, "Signal queue", Duration::from_secs(10));
        common::keys(&name, &["/", "p", "a", "s", "s", "w", "d", "Enter"]);
        common::wait_for(&name, "passwd-file-modified", Duration::from_secs(10));
        common::keys(&name, &["x"]);
        common::wait_for(&name, "kept as a finding", Duration::from_secs(10));
        common::keys(&name, &["q"]);
        common::wait_for(&name, "EXITED 0", Duration::from_secs(10));
        let decisions = agent.json(&["decisions", "--json"]);
        assert_eq!(decisions[0]["action"], "reject", "{decisions}");
        assert_eq!(decisions[0]["who"], "root (uid 0)", "{decisions}");
    }

    // kill -9: what was committed is in the store, which opens
    agent.kill9();
    let o = Command::new(bin())
        .args(["signals", "--json", "--db"])
        .arg(&agent.db)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        has_signal(&v, "passwd-file-modified", "demo/web", "2.0"),
        "signal lost after kill -9"
    );
    std::fs::remove_file(&agent.sock).ok();

    // restart with a long interval; SIGTERM stores the open snapshots, checkpoints and
    // removes its socket
    let snapshots = |db: &Path| -> u64 {
        let o = Command::new(bin())
            .args(["status", "--json", "--db"])
            .arg(db)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["snapshots"]
            .as_u64()
            .unwrap()
    };
    let db = agent.db.clone();
    drop(agent);
    let before = snapshots(&db);
    let mut agent = Agent::start(tmp.path(), &podsock, &["--snapshot-interval", "10m"]);
    std::thread::sleep(Duration::from_secs(5));
    let (took, status) = agent.term();
    assert!(status.success(), "agent exit status {status}");
    eprintln!("agent stopped {took:?} after SIGTERM");
    assert!(!agent.sock.exists(), "socket removed at exit");
    assert!(!store::wal_path(&db).exists(), "store checkpointed at exit");
    assert!(
        snapshots(&db) > before,
        "the open snapshots were stored at SIGTERM"
    );
}

#[test]
fn the_agent_keeps_capturing_through_bad_clients() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip("the_agent_keeps_capturing_through_bad_clients") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let podsock = tmp.path().join("podman.sock");
    let name = format!("wsprof-agent-busy-{}", std::process::id());
    let _pods = podman_service(&podsock, &[&name]);
    let agent = Agent::start(tmp.path(), &podsock, &["--snapshot-interval", "3s"]);
    run_container(
        &name,
        "demo/web:1.0",
        "while true; do ls /tmp > /dev/null; sleep 0.2; done",
    );
    let events = || {
        agent.json(&["status", "--json"])["capture"]["events"]
            .as_u64()
            .unwrap()
    };

    // 10 MB of garbage: a 4xx or a closed connection
    let mut s = UnixStream::connect(&agent.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let junk = vec![b'x'; 10 * 1024 * 1024];
    let _ = s.write_all(&junk);
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );
    // a huge body announced
    let r = raw(
        &agent.sock,
        b"POST /v1/signals/1/suppress HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // unknown profile, unknown path, wrong method, unknown signal
    for (req, want) in [
        (
            &b"GET /v1/profile?image=nope&version=1 HTTP/1.1\r\n\r\n"[..],
            "404",
        ),
        (b"GET /v2/status HTTP/1.1\r\n\r\n", "404"),
        (b"GET /v1/nothing HTTP/1.1\r\n\r\n", "404"),
        (b"POST /v1/status HTTP/1.1\r\n\r\n", "405"),
        (b"POST /v1/signals/999999/reject HTTP/1.1\r\n\r\n", "404"),
        (b"GET /v1/signals?status=bogus HTTP/1.1\r\n\r\n", "400"),
    ] {
        let r = raw(&agent.sock, req);
        assert!(
            r.starts_with(&format!("HTTP/1.1 {want}")),
            "{}: {r}",
            String::from_utf8_lossy(req)
        );
        assert!(r.contains("\"error\""), "{r}");
    }
    let o = agent.cli(&["profile", "show", "nope:1"]);
    assert!(!o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().count(),
        1,
        "{o:?}"
    );
    // a client that disconnects mid-stream
    for _ in 0..5 {
        let mut s = UnixStream::connect(&agent.sock).unwrap();
        s.write_all(b"GET /v1/events?since=0 HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
        drop(s);
    }
    // and one that connects and says nothing
    let _silent = UnixStream::connect(&agent.sock).unwrap();

    let first = events();
    wait_until("capture to go on", Duration::from_secs(20), || {
        events() > first
    });
}

/// A small store of `web:1.0` (3 snapshots, Learning), imported from a snapshot file.
fn small_store(db: &Path) {
    use model::event::{ContainerRef, Event, EventKind, ProcessInfo};
    let snaps: Vec<model::Snapshot> = (0..3)
        .map(|i| {
            let c = ContainerRef {
                id: format!("{i:064x}"),
                image: "web".into(),
                version: "1.0".into(),
                ..Default::default()
            };
            let mut tree = model::ActivityTree::default();
            tree.record(&Event {
                ts_ms: i * 1000,
                container: c.clone(),
                process: ProcessInfo {
                    exec_path: "/usr/sbin/nginx".into(),
                    ..Default::default()
                },
                kind: EventKind::Exec,
            });
            model::Snapshot {
                id: format!("snap-{i}"),
                container: c,
                host: "h".into(),
                started_ms: i * 1000,
                ended_ms: i * 1000 + 1000,
                tree,
            }
        })
        .collect();
    let file = db.with_extension("json");
    std::fs::write(&file, model::snapshot::to_file_json(&snaps)).unwrap();
    let o = Command::new(bin())
        .args(["snapshots", "import"])
        .arg(&file)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(db.with_extension("import.log"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
}

/// A promote, a reset and their undo through the socket record who the peer is (its uid,
/// from SO_PEERCRED), not what its environment claims: here a client running as `nobody`
/// (a member of the socket's group) that says it is mallory.
#[test]
fn lifecycle_decisions_through_the_agent_record_the_peers_uid() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip("lifecycle_decisions_through_the_agent_record_the_peers_uid") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    // the client (nobody) must reach the socket inside it
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    small_store(&tmp.path().join("agent.duckdb"));
    let agent = Agent::start(
        tmp.path(),
        &tmp.path().join("no-runtime.sock"),
        &["--socket-group", "nogroup"],
    );
    let as_nobody = |args: &[&str]| -> Output {
        Command::new(bin())
            .args(args)
            .arg("--socket")
            .arg(&agent.sock)
            .env("USER", "mallory")
            .env("SUDO_USER", "mallory")
            .env("HOME", "/nonexistent")
            .env_remove("XDG_STATE_HOME")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap()
    };
    let o = as_nobody(&[
        "profile",
        "promote",
        "web:1.0",
        "--reason",
        "three snapshots are enough here",
    ]);
    assert!(o.status.success(), "{o:?}");
    let who = "nobody (uid 65534)";
    let d = agent.json(&["decisions", "--json"]);
    assert_eq!(
        (&d[0]["action"], &d[0]["who"], &d[0]["profile"]),
        (
            &serde_json::Value::from("promote"),
            &serde_json::Value::from(who),
            &serde_json::Value::from("web:1.0")
        ),
        "{d}"
    );
    let p = &agent.json(&["profiles", "--json"])[0];
    assert_eq!(p["status"], "stable");
    assert_eq!(p["status_manual"], true);
    assert_eq!(p["lifecycle_decision"]["who"], who);
    // reset and undo through the agent too; progress and the snapshot drill-down answer
    let o = as_nobody(&["profile", "reset", "web:1.0", "--reason", "relearn"]);
    assert!(o.status.success(), "{o:?}");
    let progress = agent.json(&["profile", "progress", "web:1.0", "--json"]);
    assert_eq!(progress["merged_snapshots"], 0);
    let snap = agent.json(&["snapshot", "show", "snap-1", "--json"]);
    assert_eq!(snap["snapshot"]["reset_id"], 2);
    let o = as_nobody(&["profile", "undo", "web:1.0"]);
    assert!(o.status.success(), "{o:?}");
    let d = agent.json(&["decisions", "--json"]);
    let actions: Vec<(&str, &str)> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["action"].as_str().unwrap(), x["who"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [("undo", who), ("reset", who), ("promote", who)],
        "{d}"
    );
    let progress = agent.json(&["profile", "progress", "web:1.0", "--json"]);
    assert_eq!(progress["merged_snapshots"], 3);
    // a refusal through the socket is one line too
    let o = as_nobody(&["profile", "promote", "web:1.0", "--reason", "again"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("web:1.0 is already Stable"), "{err}");
    // bad requests to the new routes
    for (req, want) in [
        (
            &b"POST /v1/profile/promote?image=web&version=1.0 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"[..],
            "409",
        ),
        (
            b"POST /v1/profile/promote?image=nope&version=1 HTTP/1.1\r\nContent-Length: 14\r\n\r\n{\"reason\":\"x\"}",
            "404",
        ),
        (b"GET /v1/profile/progress?image=web&version=1.0&last=0 HTTP/1.1\r\n\r\n", "400"),
        (b"GET /v1/snapshot?id=nope HTTP/1.1\r\n\r\n", "404"),
        (b"GET /v1/profile/promote?image=web&version=1.0 HTTP/1.1\r\n\r\n", "405"),
        (b"GET /v1/signals/999999/snapshots HTTP/1.1\r\n\r\n", "404"),
    ] {
        let r = raw(&agent.sock, req);
        assert!(
            r.starts_with(&format!("HTTP/1.1 {want}")),
            "{}: {r}",
            String::from_utf8_lossy(req)
        );
    }
}
