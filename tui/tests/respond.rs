//! Responding to a signal, for real: the agent captures a real podman container whose
//! loop appends a counter to a file every 100 ms; a signal is raised from what it does;
//! `wsprof respond freeze` (through the agent, then on the store file) stops the counter
//! and the cgroup says `frozen 1`; `thaw` starts it again; the responses table holds every
//! attempt with who made it. The runtime's pause (the fallback) is exercised on the same
//! kind of container. Refusals (unknown signal, host process, no confirmation, not root,
//! container gone) are one line, non-zero, and record nothing they should not.
//! Live parts need root, BTF and podman: without them they print why and skip; with
//! CI=true they fail instead.

mod common;

use common::{podman, podman_service, prerequisites_or_skip};
use model::event::{ContainerRef, Event, EventKind, ProcessInfo};
use model::signal::{NewSignal, SignalKind};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The live tests share the host's containers: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsprof")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `wsprof ARGS` with its own log file; stdin is not a terminal.
fn wsprof(args: &[&str], log: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--log-file")
        .arg(log)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The error: exit 1 and exactly one line on stderr.
fn one_line_error(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {} stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("wsprof: "), "{err}");
    err
}

fn ok_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stdout: {} stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn signal_of(container: &str, image: &str, path: &str, ts: i64) -> NewSignal {
    let ev = Event {
        ts_ms: ts,
        container: ContainerRef {
            id: container.into(),
            image: image.into(),
            version: "1.0".into(),
            ..Default::default()
        },
        process: ProcessInfo {
            pid: 7,
            exec_path: path.into(),
            args: vec![path.into()],
            ..Default::default()
        },
        kind: EventKind::Exec,
    };
    NewSignal::from_event(
        &ev,
        SignalKind::Rule,
        "test-rule",
        "high",
        "T1059",
        "test".into(),
    )
}

/// A store with a signal of a container that does not run here (id 1) and one of a host
/// process (id 2).
fn seeded_store(db: &Path) -> (i64, i64) {
    let mut s = store::Store::open(db).unwrap();
    let gone = s
        .add_signal(
            &signal_of(&"ab".repeat(32), "acme/gone", "/bin/sh", 1_000),
            1_000,
        )
        .unwrap();
    let host = s
        .add_signal(
            &signal_of(
                "host:/system.slice/cron.service",
                "cron.service",
                "/usr/sbin/cron",
                2_000,
            ),
            2_000,
        )
        .unwrap();
    (id_of(gone), id_of(host))
}

fn id_of(out: store::AddOutcome) -> i64 {
    match out {
        store::AddOutcome::Inserted(id) => id,
        other => panic!("not stored: {other:?}"),
    }
}

#[test]
fn refusals_are_one_line_and_record_nothing_they_should_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    let log = dir.path().join("wsprof.log");
    let (gone, host) = seeded_store(&db);
    let dbs = db.to_str().unwrap();
    let responses = || -> Vec<serde_json::Value> {
        ok_json(&wsprof(&["responses", "--json", "--db", dbs], &log))
            .as_array()
            .unwrap()
            .clone()
    };

    // an unknown signal
    let e = one_line_error(&wsprof(
        &["respond", "freeze", "999", "--yes", "--db", dbs],
        &log,
    ));
    assert!(e.contains("no signal with id 999"), "{e}");

    // a host process: there is no container
    let e = one_line_error(&wsprof(
        &["respond", "freeze", &host.to_string(), "--yes", "--db", dbs],
        &log,
    ));
    assert!(
        e.contains(&format!("signal {host} is from a host process")) && e.contains("cron.service"),
        "{e}"
    );

    // no --yes and no terminal to ask on: nothing happens, and it says how
    let e = one_line_error(&wsprof(
        &["respond", "freeze", &gone.to_string(), "--db", dbs],
        &log,
    ));
    assert!(
        e.contains("needs a confirmation")
            && e.contains("--yes")
            && e.contains(&format!("container {}", &"ab".repeat(6)))
            && e.contains("image acme/gone:1.0"),
        "{e}"
    );

    // thaw of a container no response names
    let e = one_line_error(&wsprof(
        &["respond", "thaw", "abababababab", "--yes", "--db", dbs],
        &log,
    ));
    assert!(e.contains("no response to it is recorded"), "{e}");
    assert!(responses().is_empty(), "refusals are not attempts");

    // not root: refused before anything is touched (as `nobody`, on a copy it owns)
    let nobody_dir = tempfile::tempdir().unwrap();
    let copy = nobody_dir.path().join("copy.duckdb");
    std::fs::copy(&db, &copy).unwrap();
    let out = if is_root() {
        for p in [nobody_dir.path(), copy.as_path()] {
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            // SAFETY: chown on paths this test created.
            assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
        }
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
            .args(["respond", "freeze", &gone.to_string(), "--yes", "--db"])
            .arg(&copy)
            .arg("--log-file")
            .arg(nobody_dir.path().join("nobody.log"))
            .env("HOME", nobody_dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("setpriv")
    } else {
        wsprof(
            &["respond", "freeze", &gone.to_string(), "--yes", "--db"],
            &log,
        )
    };
    let e = one_line_error(&out);
    assert!(e.contains("freezing a container needs root"), "{e}");

    if !is_root() {
        eprintln!("SKIP the container-gone part: not root");
        return;
    }
    // a container that does not run here: the attempt is recorded with its error
    let e = one_line_error(&wsprof(
        &[
            "respond",
            "freeze",
            &gone.to_string(),
            "--yes",
            "--reason",
            "contain it",
            "--db",
            dbs,
        ],
        &log,
    ));
    assert!(
        e.contains("freeze failed (response 1 recorded)") && e.contains("not running here"),
        "{e}"
    );
    let rows = responses();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["action"], "freeze");
    assert_eq!(r["outcome"], "error");
    assert_eq!(r["container_id"], "ab".repeat(32));
    assert_eq!(r["image"], "acme/gone");
    assert_eq!(r["signal_id"], gone);
    assert_eq!(r["reason"], "contain it");
    assert_eq!(r["cgroup_path"], "");
    assert!(
        r["error"].as_str().unwrap().contains("not running here"),
        "{r}"
    );
    assert!(!r["who"].as_str().unwrap().is_empty());
    // the text twin shows the same row
    let out = wsprof(&["responses", "--db", dbs], &log);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("freeze") && text.contains("acme/gone:1.0") && text.contains("error"),
        "{text}"
    );
}

// ----- live -----

/// A container whose loop appends a counter to `out/counter` every 100 ms.
struct Counter {
    name: String,
    file: PathBuf,
}

impl Counter {
    /// Start it; `prelude` runs first (to raise a signal).
    fn start(name: &str, out: &Path, prelude: &str) -> (Counter, String) {
        let _ = podman().args(["rm", "-f", "-t", "0", name]).output();
        let script = format!(
            "{prelude} i=0; while true; do i=$((i+1)); echo $i >> /out/counter; sleep 0.1; done"
        );
        let o = podman()
            .args(["run", "-d", "--network=none", "--name", name, "-v"])
            .arg(format!("{}:/out", out.display()))
            .args(["demo/web:1.0", "/bin/sh", "-c", &script])
            .output()
            .expect("podman run");
        assert!(
            o.status.success(),
            "podman run: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert_eq!(id.len(), 64, "{id}");
        (
            Counter {
                name: name.into(),
                file: out.join("counter"),
            },
            id,
        )
    }

    /// The last complete value appended.
    fn value(&self) -> u64 {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .rev()
            .find_map(|l| l.trim().parse().ok())
            .unwrap_or(0)
    }

    fn advances(&self, within: Duration) -> bool {
        let a = self.value();
        let start = Instant::now();
        while start.elapsed() < within {
            std::thread::sleep(Duration::from_millis(100));
            if self.value() > a {
                return true;
            }
        }
        false
    }

    /// The counter did not move for `d`.
    fn stands_still_for(&self, d: Duration) -> bool {
        let a = self.value();
        std::thread::sleep(d);
        self.value() == a
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "-f", "-t", "0", &self.name]).output();
    }
}

fn frozen(cgroup: &str) -> bool {
    std::fs::read_to_string(Path::new(cgroup).join("cgroup.events"))
        .unwrap()
        .lines()
        .any(|l| l == "frozen 1")
}

struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path, db: &Path, runtime_sock: &Path) -> Agent {
        let sock = dir.join("wsprof.sock");
        let mut child = Command::new(bin())
            .args(["agent", "--snapshot-interval", "3s", "--runtime-socket"])
            .arg(runtime_sock)
            .arg("--db")
            .arg(db)
            .arg("--socket")
            .arg(&sock)
            .arg("--log-file")
            .arg(dir.join("agent.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wsprof agent");
        let start = Instant::now();
        while !sock.exists() {
            if let Some(st) = child.try_wait().unwrap() {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("agent exited ({st}): {err}");
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no agent socket");
            std::thread::sleep(Duration::from_millis(100));
        }
        Agent { child, sock }
    }

    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn freeze_and_thaw_a_real_container_from_its_signal() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip("freeze_and_thaw_a_real_container_from_its_signal") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (dir, log) = (tmp.path(), tmp.path().join("cli.log"));
    let podsock = dir.join("podman.sock");
    let db = dir.join("respond.duckdb");
    let name = format!("wsprof-freeze-{}", std::process::id());
    let _pods = podman_service(&podsock, &[&name]);
    let agent = Agent::start(dir, &db, &podsock);
    let sock = agent.sock.to_str().unwrap().to_string();
    let via_agent = |args: &[&str]| -> Output {
        let mut a = args.to_vec();
        a.extend(["--socket", &sock]);
        wsprof(&a, &log)
    };

    // the container reads /etc/shadow (a signal), then counts
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let (counter, id) = Counter::start(
        &name,
        &out,
        "echo root:*:1:::::: > /etc/shadow; sleep 1; cat /etc/shadow > /dev/null;",
    );
    assert!(
        counter.advances(Duration::from_secs(10)),
        "the counter never ran"
    );
    let start = Instant::now();
    let signal = loop {
        let v = ok_json(&via_agent(&["signals", "--json"]));
        if let Some(s) = v
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["container_id"] == id.as_str())
        {
            break s.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no signal from container {id}: {v}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(signal["image"], "demo/web");
    let sid = signal["id"].as_i64().unwrap().to_string();

    // the agent refuses what the store file refuses, in one line
    let e = one_line_error(&via_agent(&["respond", "freeze", "99999", "--yes"]));
    assert!(e.contains("no signal with id 99999"), "{e}");

    // freeze through the agent: the cgroup says frozen and the counter stops
    let r = ok_json(&via_agent(&[
        "respond",
        "freeze",
        &sid,
        "--yes",
        "--reason",
        "live test",
        "--json",
    ]));
    assert_eq!(r["outcome"], "ok", "{r}");
    assert_eq!(r["method"], "cgroup v2");
    assert_eq!(r["who"], "root (uid 0)", "the agent records its peer");
    let cgroup = r["cgroup_path"].as_str().unwrap().to_string();
    assert!(cgroup.contains(&id), "{cgroup}");
    assert!(frozen(&cgroup), "cgroup.events does not say frozen 1");
    assert!(
        counter.stands_still_for(Duration::from_millis(1500)),
        "the counter advanced while frozen"
    );

    // thaw by the signal: it counts again
    let r = ok_json(&via_agent(&["respond", "thaw", &sid, "--yes", "--json"]));
    assert_eq!(r["outcome"], "ok", "{r}");
    assert!(!frozen(&cgroup));
    assert!(
        counter.advances(Duration::from_secs(3)),
        "the counter did not advance after the thaw"
    );

    // both rows, newest first, with who
    let rows = ok_json(&via_agent(&["responses", "--json"]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["action"], "thaw");
    assert_eq!(rows[1]["action"], "freeze");
    for r in rows {
        assert_eq!(r["who"], "root (uid 0)");
        assert_eq!(r["container_id"], id.as_str());
        assert_eq!(r["image"], "demo/web");
        assert_eq!(r["version"], "1.0");
        assert_eq!(r["signal_id"].to_string(), sid);
        assert_eq!(r["cgroup_path"], cgroup.as_str());
    }
    assert_eq!(rows[1]["reason"], "live test");
    assert_eq!(
        rows[0]["reason"],
        format!("signal {sid} {}", signal["rule_id"].as_str().unwrap()),
        "no reason given: the signal's"
    );

    // on the store file without an agent (root): freeze by signal, thaw by container id
    agent.stop();
    let dbs = db.to_str().unwrap();
    let o = wsprof(&["respond", "freeze", &sid, "--yes", "--db", dbs], &log);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "container {} (image demo/web:1.0) frozen",
            &id[..12]
        )),
        "{text}"
    );
    assert!(frozen(&cgroup));
    assert!(counter.stands_still_for(Duration::from_millis(1200)));
    let r = ok_json(&wsprof(
        &["respond", "thaw", &id[..12], "--yes", "--json", "--db", dbs],
        &log,
    ));
    assert_eq!(r["signal_id"], serde_json::Value::Null);
    assert_eq!(r["image"], "demo/web", "named from the earlier response");
    assert!(counter.advances(Duration::from_secs(3)));

    // the container gone: refused, and the attempt recorded with its error
    drop(counter);
    let e = one_line_error(&wsprof(
        &["respond", "freeze", &sid, "--yes", "--db", dbs],
        &log,
    ));
    assert!(e.contains("not running here"), "{e}");
    let rows = ok_json(&wsprof(&["responses", "--json", "--db", dbs], &log));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[0]["outcome"], "error");
    assert_eq!(
        rows.iter().filter(|r| r["outcome"] == "ok").count(),
        4,
        "{rows:?}"
    );
}

/// The fallback: with no cgroup v2 directory to write (here: a cgroup root where the
/// container has none), the runtime's pause through its Docker-compatible API.
#[test]
fn without_its_cgroup_the_runtime_pauses_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !prerequisites_or_skip("without_its_cgroup_the_runtime_pauses_it") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let podsock = tmp.path().join("podman.sock");
    let name = format!("wsprof-pause-{}", std::process::id());
    let _pods = podman_service(&podsock, &[&name]);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (counter, id) = Counter::start(&name, &out, "");
    assert!(counter.advances(Duration::from_secs(10)));
    let empty = tempfile::tempdir().unwrap();
    let freezer = capture::freezer::Freezer {
        cgroup_root: Some(empty.path().to_path_buf()),
        runtime_sockets: vec![podsock.clone()],
        timeout: Duration::from_secs(10),
    };
    let a = freezer.freeze(&id);
    assert_eq!(a.error, None);
    assert_eq!(
        a.method,
        Some(capture::freezer::Method::Runtime {
            socket: podsock.clone()
        })
    );
    let state = podman()
        .args(["inspect", "-f", "{{.State.Paused}}", &name])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "true");
    assert!(counter.stands_still_for(Duration::from_millis(1200)));
    let a = freezer.thaw(&id);
    assert_eq!(a.error, None);
    assert!(counter.advances(Duration::from_secs(3)));
    // a container the runtime does not know: gone, naming where it looked
    let a = freezer.freeze(&"cd".repeat(32));
    let e = a.error.unwrap().to_string();
    assert!(
        e.contains("not running here") && e.contains("does not know it"),
        "{e}"
    );
}
