//! Nothing an attacker does is lost to a rate limit, for real: the agent learns a Stable
//! profile of demo/web:1.0 from benign replicas (3 snapshots to Stable, 3 s snapshots),
//! then one container of that image does 50 distinct novel file actions and a few execs
//! within seconds. Every one of the 50 nodes is in that container's drift signal
//! (`wsprof signals --json` through the agent's socket), and the benign replicas raise no
//! drift. Without root/BTF/podman it prints why and skips; with CI=true it fails instead.

mod common;

use common::{podman_service, prerequisites_or_skip, run_web, Agent};
use std::time::{Duration, Instant};

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
    let agent = Agent::start(tmp.path(), &podsock, &config, &[]);

    // benign replicas until the profile is Stable
    let benign: Vec<String> = names[..2].iter().map(|n| run_web(n, BENIGN)).collect();
    agent.wait_web_stable(Duration::from_secs(60));

    // the attacker: the same start-up, then 50 distinct novel files and a few execs (by
    // path: busybox's shell runs applets named bare in-process, without an exec)
    let attacker = run_web(
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
