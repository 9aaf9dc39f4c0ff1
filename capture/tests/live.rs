//! Live capture against the real kernel and real podman containers.
//!
//! Needs root, BTF, tracefs, podman + runc, dnsmasq and the test images of
//! `scripts/setup-capture.sh` (run automatically when missing). Without them the test prints
//! `SKIP: <why>` and returns; with `CI=true` a missing prerequisite fails the test instead.

use capture::{CaptureOptions, CaptureOutput, CaptureStats};
use model::tree::NodeKind;
use model::Access;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DNS_ADDR: &str = "127.0.0.77";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn podman() -> Command {
    let pd = repo().join(".cache/podman");
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", pd.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", pd.join("storage.conf"));
    c
}

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why the live test cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("no BTF at /sys/kernel/btf/vmlinux".into());
    }
    for tool in ["podman", "runc", "dnsmasq"] {
        if !ok(Command::new("sh").args(["-c", &format!("command -v {tool}")])) {
            return Some(format!("{tool} is not installed (scripts/setup.sh)"));
        }
    }
    let images = ["demo/web:1.0", "demo/web:2.0", "demo/db:1.0"];
    let have = |i: &str| ok(podman().args(["image", "exists", i]));
    if !images.iter().all(|i| have(i)) {
        let st = Command::new("bash")
            .arg(repo().join("scripts/setup-capture.sh"))
            .status();
        if !st.is_ok_and(|s| s.success()) || !images.iter().all(|i| have(i)) {
            return Some("test images could not be built (scripts/setup-capture.sh)".into());
        }
    }
    None
}

/// Skip (print why) or, in CI, fail.
fn require_prerequisites() -> bool {
    match missing_prerequisite() {
        None => true,
        Some(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("live capture prerequisite missing in CI: {why}");
            }
            eprintln!("SKIP: live capture test: {why}");
            false
        }
    }
}

struct Killed(Vec<Child>, Vec<String>);
impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !self.1.is_empty() {
            let mut cmd = podman();
            cmd.args(["rm", "-f", "-t", "0"]).args(&self.1);
            let _ = ok(&mut cmd);
        }
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Node keys (and file access) of every snapshot of one image version, merged.
fn keys_of(
    store: &store::Store,
    image: &str,
    version: &str,
) -> (
    usize,
    BTreeSet<String>,
    BTreeMap<String, Access>,
    BTreeSet<String>,
) {
    let snaps = store.snapshots_of(image, version).expect("snapshots_of");
    let mut keys = BTreeSet::new();
    let mut access = BTreeMap::new();
    let mut containers = BTreeSet::new();
    for s in &snaps {
        containers.insert(s.container.id.clone());
        for n in s.tree.nodes() {
            if n.kind == NodeKind::File {
                let a: &mut Access = access.entry(n.key.0.clone()).or_default();
                *a = a.union(n.access);
            }
            keys.insert(n.key.0);
        }
    }
    (snaps.len(), keys, access, containers)
}

#[test]
fn live_capture_of_podman_containers_lands_in_the_store() {
    if !require_prerequisites() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("podman.sock");
    let mut guard = Killed(Vec::new(), Vec::new());
    guard.0.push(
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
    guard.0.push(
        Command::new("dnsmasq")
            .args([
                "-k",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                &format!("--listen-address={DNS_ADDR}"),
                "--port=53",
                "--local=/test/",
                "--address=/example.test/192.0.2.123",
                &format!("--pid-file={}", tmp.path().join("dnsmasq.pid").display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq"),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and close at once, so `nc` in the containers finishes.
    std::thread::spawn(move || {
        for c in listener.incoming() {
            drop(c);
        }
    });
    wait_for("podman API socket", Duration::from_secs(15), || {
        sock.exists()
    });

    // Capture into a real store file, on its own thread, with a short interval.
    let db = tmp.path().join("wsprof.duckdb");
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let capture = {
        let (stop, started, db, sock) = (stop.clone(), started.clone(), db.clone(), sock.clone());
        std::thread::spawn(move || -> (store::Store, CaptureStats) {
            let mut store = store::Store::open(&db).expect("store");
            let opts = CaptureOptions {
                snapshot_interval: Duration::from_secs(3),
                runtime_sockets: vec![sock],
                ..Default::default()
            };
            let settings = model::LifecycleSettings::default();
            let mut cap = capture::Capture::start(opts).expect("capture");
            started.store(true, Ordering::SeqCst);
            let mut ingest = |out: CaptureOutput| {
                if let CaptureOutput::Snapshot(s) = out {
                    store.ingest_snapshot(&s, &settings).expect("ingest");
                }
            };
            while !stop.load(Ordering::SeqCst) {
                if let Some(out) = cap.recv_timeout(Duration::from_millis(200)) {
                    ingest(out);
                }
            }
            let st = cap.stop().expect("capture stop");
            while let Ok(out) = cap.receiver().try_recv() {
                ingest(out);
            }
            let detail = serde_json::to_string(&st).unwrap();
            store
                .record_capture_stats(capture::now_ms(), st.events, st.lost, &detail)
                .expect("record capture stats");
            (store, st)
        })
    };
    wait_for("capture start", Duration::from_secs(30), || {
        started.load(Ordering::SeqCst) || capture.is_finished()
    });
    assert!(!capture.is_finished(), "capture ended early");

    let web = format!(
        "cat /etc/app.conf >/dev/null; echo hi > /tmp/out.txt; \
         nslookup -type=a example.test {DNS_ADDR} >/dev/null; nc -w 1 127.0.0.1 {port} </dev/null; sleep 2"
    );
    let db_script =
        "mkdir /tmp/data; echo x > /tmp/data/db.txt; wc -l /etc/passwd >/dev/null; sleep 2";
    let runs = [
        ("wsprof-live-web1a", "demo/web:1.0", web.as_str()),
        ("wsprof-live-web1b", "demo/web:1.0", web.as_str()),
        ("wsprof-live-web2", "demo/web:2.0", web.as_str()),
        ("wsprof-live-db1", "demo/db:1.0", db_script),
    ];
    for (name, image, script) in runs {
        let mut rm = podman();
        rm.args(["rm", "-f", "-t", "0", name]);
        let _ = ok(&mut rm);
        guard.1.push(name.to_string());
        let out = podman()
            .args([
                "run",
                "-d",
                "--network",
                "host",
                "--name",
                name,
                image,
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("podman run");
        assert!(
            out.status.success(),
            "podman run {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (name, _, _) in runs {
        let out = podman().args(["wait", name]).output().expect("podman wait");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "0",
            "{name} exit code"
        );
    }
    // Past one more cut, so the interval cut (not only the flush at stop) is exercised.
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::SeqCst);
    let (store, stats) = capture.join().expect("capture thread");

    eprintln!("capture stats: {}", serde_json::to_string(&stats).unwrap());
    assert_eq!(stats.lost, 0, "lost events: {:?}", stats.drops_by_kind);
    assert_eq!(stats.decode_errors, 0);

    let web_keys: BTreeSet<String> = [
        "p:/bin/sh".to_string(),
        "p:/bin/sh|f:/dev/null".into(),
        "p:/bin/sh|f:/tmp/out.txt".into(),
        "p:/bin/sh|p:/bin/cat".into(),
        "p:/bin/sh|p:/bin/cat|f:/etc/app.conf".into(),
        "p:/bin/sh|p:/bin/nc".into(),
        format!("p:/bin/sh|p:/bin/nc|n:connect tcp/{port} loopback"),
        "p:/bin/sh|p:/bin/nslookup".into(),
        "p:/bin/sh|p:/bin/nslookup|d:example.test A".into(),
        "p:/bin/sh|p:/bin/nslookup|f:/etc/resolv.conf".into(),
        // a failed attempt (the image has no /etc/host.conf): kept, marked `failed`
        "p:/bin/sh|p:/bin/nslookup|f:/etc/host.conf".into(),
        "p:/bin/sh|p:/bin/nslookup|n:bind udp/0 any".into(),
        "p:/bin/sh|p:/bin/nslookup|n:connect udp/53 loopback".into(),
        "p:/bin/sh|p:/bin/sleep".into(),
    ]
    .into_iter()
    .collect();
    for version in ["1.0", "2.0"] {
        let (n, keys, access, containers) = keys_of(&store, "demo/web", version);
        assert!(n >= 1, "no snapshot of demo/web:{version}");
        assert_eq!(keys, web_keys, "demo/web:{version} activity");
        assert_eq!(
            access["p:/bin/sh|f:/tmp/out.txt"],
            Access::WRITE.union(Access::CREATE).union(Access::TRUNCATE)
        );
        assert_eq!(access["p:/bin/sh|p:/bin/cat|f:/etc/app.conf"], Access::READ);
        assert_eq!(
            access["p:/bin/sh|p:/bin/nslookup|f:/etc/host.conf"],
            Access::READ.union(Access::FAILED)
        );
        assert_eq!(
            containers.len(),
            if version == "1.0" { 2 } else { 1 },
            "containers of demo/web:{version}"
        );
    }
    let (_, keys, access, containers) = keys_of(&store, "demo/db", "1.0");
    let db_keys: BTreeSet<String> = [
        "p:/bin/sh",
        "p:/bin/sh|f:/tmp/data/db.txt",
        "p:/bin/sh|f:/dev/null",
        // mkdir is a NOFORK busybox applet: the shell itself makes the directory.
        "p:/bin/sh|f:/tmp/data",
        "p:/bin/sh|p:/bin/wc",
        "p:/bin/sh|p:/bin/wc|f:/etc/passwd",
        "p:/bin/sh|p:/bin/sleep",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys, db_keys, "demo/db:1.0 activity");
    assert_eq!(access["p:/bin/sh|f:/tmp/data"], Access::MKDIR);
    assert_eq!(containers.len(), 1);
    // Nothing else was profiled under a wrong name.
    assert!(store
        .snapshots_of("unresolved", "")
        .unwrap_or_default()
        .is_empty());
    let (events, lost, _) = store
        .latest_capture_stats()
        .unwrap()
        .expect("capture stats stored");
    assert!(events > 0);
    assert_eq!(lost, 0);
}
