//! Storm and overhead bench (real root, real kernel, real podman):
//! `cargo bench -p capture --bench storm`.
//!
//! Runs a workload of 10,000 execs and ~210,000 file opens inside a `demo/web:1.0` container
//! (images from scripts/setup-capture.sh), once without capture and once with it, and
//! prints events generated vs seen, kernel drops and the run-time ratio.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 1,000 files created, then 200 `cat` processes each opening all of them (200,000 distinct
/// opens: a new process each time, so in-kernel de-dup cannot fold them), then 9,800 more
/// `cat /dev/null` execs: 10,000 execs in all.
const SCRIPT: &str =
    "mkdir -p /tmp/s; i=0; while [ $i -lt 1000 ]; do echo x > /tmp/s/f$i; i=$((i+1)); done; \
j=0; while [ $j -lt 200 ]; do cat /tmp/s/* > /dev/null; j=$((j+1)); done; \
k=0; while [ $k -lt 9800 ]; do cat /dev/null; k=$((k+1)); done";

const EXECS: u64 = 10_000;
const FILE_OPENS: u64 = 1_000 + 200 * 1_000 + 9_800;

fn podman() -> Command {
    let pd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/podman");
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", pd.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", pd.join("storage.conf"));
    c
}

fn run_workload(name: &str) -> Duration {
    let _ = podman()
        .args(["rm", "-f", "-t", "0", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let t = Instant::now();
    let st = podman()
        .args([
            "run",
            "--rm",
            "--network",
            "host",
            "--name",
            name,
            "demo/web:1.0",
            "sh",
            "-c",
            SCRIPT,
        ])
        .stdout(Stdio::null())
        .status()
        .expect("podman run");
    assert!(st.success(), "workload failed");
    t.elapsed()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches lists; nothing to list
    }
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: storm bench needs root");
        return;
    }
    let ok = podman()
        .args(["image", "exists", "demo/web:1.0"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: run scripts/setup-capture.sh first (demo/web:1.0 missing)");
        return;
    }
    // Warm-up (page cache, podman storage).
    run_workload("wsprof-storm");
    let base = run_workload("wsprof-storm");

    let opts = capture::CaptureOptions {
        snapshot_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let mut cap = capture::Capture::start(opts).expect("capture start");
    let with = run_workload("wsprof-storm");
    std::thread::sleep(Duration::from_millis(500));
    let st = cap.stop().expect("stop");
    let mut snaps = 0;
    while let Ok(o) = cap.receiver().try_recv() {
        if let capture::CaptureOutput::Snapshot(_) = o {
            snaps += 1;
        }
    }
    let sent = |k: &str| st.sent_by_kind.get(k).copied().unwrap_or(0);
    println!("storm workload: {EXECS} execs, {FILE_OPENS} file opens generated in the container");
    println!(
        "kernel sent: exec {} open {} fork {} exit {}; dedup hits {}; ring-buffer drops {} {:?}",
        sent("exec"),
        sent("open"),
        sent("fork"),
        sent("exit"),
        st.dedup_hits,
        st.lost,
        st.drops_by_kind
    );
    println!(
        "user space read {} records, recorded {} into trees, runtime glue {}, decode errors {}; {snaps} snapshot(s)",
        st.events, st.recorded, st.ignored_glue, st.decode_errors
    );
    println!(
        "run time without capture {:.2} s, with capture {:.2} s, ratio {:.2}",
        base.as_secs_f64(),
        with.as_secs_f64(),
        with.as_secs_f64() / base.as_secs_f64()
    );
}
