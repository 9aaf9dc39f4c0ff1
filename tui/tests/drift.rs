//! Nothing an attacker does is lost to a rate limit, for real: the agent learns a Stable
//! profile of demo/web:1.0 from benign replicas (3 snapshots to Stable, 3 s snapshots),
//! then one container of that image does 50 distinct novel file actions and a few execs
//! within seconds. Every one of the 50 nodes is in that container's drift signal
//! (`wsprof signals --json` through the agent's socket), and the benign replicas raise no
//! drift. Without root/BTF/podman it prints why and skips; with CI=true it fails instead.

mod common;

use common::{podman, podman_service, prerequisites_or_skip};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsprof")
}

struct Agent {
    child: Child,
    sock: PathBuf,
    log: PathBuf,
}

impl Agent {
    fn start(dir: &Path, runtime_sock: &Path, config: &Path) -> Agent {
        let sock = dir.join("wsprof.sock");
        let log = dir.join("agent.log");
        let child = Command::new(bin())
            .arg("agent")
            .arg("--config")
            .arg(config)
            .args(["--snapshot-interval", "3s", "--runtime-socket"])
            .arg(runtime_sock)
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

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let o = Command::new(bin())
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
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Start a container of demo/web:1.0 running `script`; its full id.
fn run(name: &str, script: &str) -> String {
    let _ = podman().args(["rm", "-f", "-t", "0", name]).output();
    let out = podman()
        .args([
            "run",
            "-d",
            "--network=none",
            "--name",
            name,
            "demo/web:1.0",
        ])
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

const BENIGN: &str = "while true; do cat /etc/passwd > /dev/null; sleep 1; done";

#[test]
fn fifty_novel_actions_in_one_container_are_all_in_its_drift_signal() {
    if !prerequisites_or_skip("fifty_novel_actions_in_one_container_are_all_in_its_drift_signal") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "[lifecycle]\nsnapshots_to_stable = 3\n").unwrap();
    let pid = std::process::id();
    let names: Vec<String> = ["benign-a", "benign-b", "attacker"]
        .iter()
        .map(|n| format!("wsprof-drift-{n}-{pid}"))
        .collect();
    let podsock = tmp.path().join("podman.sock");
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let _pods = podman_service(&podsock, &refs);
    let agent = Agent::start(tmp.path(), &podsock, &config);

    // benign replicas until the profile is Stable
    let benign: Vec<String> = names[..2].iter().map(|n| run(n, BENIGN)).collect();
    wait_until("demo/web:1.0 Stable", Duration::from_secs(60), || {
        agent
            .json(&["profiles", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["image"] == "demo/web" && p["version"] == "1.0" && p["status"] == "stable")
    });

    // the attacker: the same start-up, then 50 distinct novel files and a few execs (by
    // path: busybox's shell runs applets named bare in-process, without an exec)
    let attacker = run(
        &names[2],
        "sleep 2; mkdir -p /srv/novel; i=0; while [ $i -lt 50 ]; do i=$((i+1)); \
         touch /srv/novel/item_$i.dat; done; /bin/id; /bin/uname -a; /bin/hostname; \
         cat /srv/novel/item_7.dat; sleep 60",
    );
    let wanted: Vec<String> = (1..=50)
        .map(|i| format!("/srv/novel/item_{i}.dat"))
        .collect();
    let found = |v: &serde_json::Value| -> Option<Vec<String>> {
        let s = v
            .as_array()?
            .iter()
            .find(|s| s["kind"] == "drift" && s["container_id"] == attacker.as_str())?;
        Some(
            s["drift"]
                .as_array()?
                .iter()
                .filter_map(|n| n["label"].as_str().map(String::from))
                .collect(),
        )
    };
    let start = Instant::now();
    let last = loop {
        let last = agent.json(&["signals", "--json"]);
        if let Some(labels) = found(&last) {
            if wanted.iter().all(|w| labels.contains(w))
                && ["/bin/id", "/bin/uname", "/bin/hostname"]
                    .iter()
                    .all(|x| labels.iter().any(|l| l == x))
            {
                break last;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not every novel node arrived in the attacker's drift signal: {last:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let signals = last.as_array().unwrap();
    let drift: Vec<&serde_json::Value> = signals
        .iter()
        .filter(|s| s["kind"] == "drift" && s["container_id"] == attacker.as_str())
        .collect();
    assert_eq!(drift.len(), 1, "one drift signal for the container");
    let d = drift[0];
    assert_eq!(d["severity"], "high", "new executables rank high: {d:#}");
    let nodes = d["drift"].as_array().unwrap();
    let execs = nodes.iter().filter(|n| n["kind"] == "process").count();
    assert!(execs >= 3, "id, uname, hostname: {d:#}");
    assert!(
        d["summary"].as_str().unwrap().starts_with("drift: "),
        "{d:#}"
    );
    // the benign replicas raised nothing
    for id in &benign {
        let theirs: Vec<&serde_json::Value> = signals
            .iter()
            .filter(|s| s["container_id"] == id.as_str())
            .collect();
        assert!(theirs.is_empty(), "benign replica raised: {theirs:#?}");
    }
    // `signal show --json` carries every node too
    let one = agent.json(&["signal", "show", &d["id"].to_string(), "--json"]);
    assert_eq!(one["drift"].as_array().unwrap().len(), nodes.len());
}
