//! Investigation beyond triage, on the real demo store (`wsprof demo --headless --speed max`):
//! `wsprof profile diff`, `profile outliers` and `profile export`, on the store file and
//! through the agent's API; every export read back the way its consumer would; bad input
//! gets one line and a non-zero exit.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsprof")
}

static DEMO_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_demo_dir() {
    if let Some(d) = DEMO_DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The demo replayed once into a store shared by the tests (read only), removed when the
/// test process exits.
fn demo_store() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = DEMO_DIR.get_or_init(|| tempfile::tempdir().unwrap().keep());
        // SAFETY: registers a plain function to run at process exit.
        unsafe { libc::atexit(remove_demo_dir) };
        let db = dir.join("demo.duckdb");
        let out = Command::new(bin())
            .args(["demo", "--headless", "--speed", "max", "--db"])
            .arg(&db)
            .arg("--log-file")
            .arg(dir.join("demo.log"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        db
    })
}

fn wsprof_on(db: &Path, args: &[&str]) -> Output {
    // A CLI twin on a store file opens it as DuckDB's one writer: one at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = db.parent().unwrap();
    Command::new(bin())
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(dir.join("cli.log"))
        .env("XDG_CONFIG_HOME", dir)
        .env_remove("WSPROF_SOCKET")
        .output()
        .unwrap()
}

fn wsprof(args: &[&str]) -> Output {
    wsprof_on(demo_store(), args)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(&wsprof(args))).unwrap()
}

/// Exit 1 and exactly one line on stderr.
fn one_line_error(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("wsprof: "), "{err}");
    err
}

/// The container of an image version whose snapshots hold a node labelled `marker` (what
/// the demo's outlier replica does), from the bundle the demo replays.
fn outlier_container(image: &str, version: &str, marker: &str) -> String {
    let b = demo_data::Bundle::load_embedded().unwrap();
    let ids: BTreeSet<String> = b
        .snapshots
        .iter()
        .filter(|s| s.container.image == image && s.container.version == version)
        .filter(|s| s.tree.nodes().iter().any(|n| n.label == marker))
        .map(|s| s.container.id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "{image}:{version} {marker}: {ids:?}");
    ids.into_iter().next().unwrap()
}

#[test]
fn diff_shows_what_nginx_1_27_0_added() {
    let d = json(&["profile", "diff", "nginx:1.25.3", "nginx:1.27.0", "--json"]);
    assert_eq!(d["from"]["version"], "1.25.3");
    assert_eq!(d["to"]["version"], "1.27.0");
    assert_eq!(d["threshold"], 0.2);
    let nodes = d["nodes"].as_array().unwrap();
    let added: Vec<&str> = nodes
        .iter()
        .filter(|n| n["change"] == "added")
        .map(|n| n["label"].as_str().unwrap())
        .collect();
    // the OCSP stapling of 1.27.0: a DNS question and a connection to a public address
    assert!(added.contains(&"connect tcp/80 public"), "{added:?}");
    assert!(added.contains(&"r11.o.lencr.org A"), "{added:?}");
    assert_eq!(d["added"].as_u64().unwrap() as usize, added.len());
    let public = nodes
        .iter()
        .find(|n| n["label"] == "connect tcp/80 public")
        .unwrap();
    assert!(public["before"].is_null());
    let after = public["after"].as_f64().unwrap();
    assert!(after > 0.2 && after < 0.8, "{after}");
    // every change is shown below its ancestors
    let keys: BTreeSet<&str> = nodes.iter().map(|n| n["key"].as_str().unwrap()).collect();
    for n in nodes {
        if let Some(p) = n["parent"].as_str() {
            assert!(keys.contains(p), "{p} missing above {}", n["key"]);
        }
    }
    // the text twin: a tree with markers and both commonalities
    let text = ok(&wsprof(&[
        "profile",
        "diff",
        "nginx:1.25.3",
        "nginx:1.27.0",
    ]));
    assert!(
        text.contains("5 added, 0 removed, 0 moved by more than 20%"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("[net] connect tcp/80 public"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.starts_with("+ added") && line.contains(" -  "),
        "{line}"
    );
    // a lower threshold finds commonality that moved as well; the reverse diff removes
    let low = json(&[
        "profile",
        "diff",
        "nginx:1.25.3",
        "nginx:1.27.0",
        "--threshold",
        "1%",
        "--json",
    ]);
    assert!(low["moved"].as_u64().unwrap() > 0, "{}", low["moved"]);
    let back = json(&["profile", "diff", "nginx:1.27.0", "nginx:1.25.3", "--json"]);
    assert_eq!(back["removed"], d["added"]);
}

#[test]
fn the_outlier_replicas_rank_first() {
    for (image, version, marker) in [
        ("nginx", "1.25.3", "/tmp/kworkerd"),
        ("acme/payments-api", "2.4.1", "/dev/shm/.x"),
        ("redis", "7.0.15", "/tmp/exp.so"),
    ] {
        let spec = format!("{image}:{version}");
        let r = json(&["profile", "outliers", &spec, "--json"]);
        let cs = r["containers"].as_array().unwrap();
        let top = &cs[0];
        assert_eq!(
            top["container_id"].as_str().unwrap(),
            outlier_container(image, version, marker),
            "{spec}"
        );
        assert_eq!(top["rank"], 1);
        assert!(
            top["score"].as_f64().unwrap() > cs[1]["score"].as_f64().unwrap() + 0.03,
            "{spec}: a clear lead: {} vs {}",
            top["score"],
            cs[1]["score"]
        );
        // what sets it apart: nodes only it has, which the profile does not hold
        let nodes = top["distinguishing"].as_array().unwrap();
        assert!(nodes.len() >= 5, "{spec}: {nodes:?}");
        assert!(nodes
            .iter()
            .all(|n| n["other_containers"] == 0 && n["in_profile"] == false));
        // the other replicas are not set apart by anything
        for c in &cs[1..] {
            assert_eq!(c["novel_nodes"], 0, "{spec}: {c}");
        }
        assert!(r["formula"].as_str().unwrap().starts_with("score = mean"));
    }
    let text = ok(&wsprof(&["profile", "outliers", "nginx:1.25.3"]));
    let id = outlier_container("nginx", "1.25.3", "/tmp/kworkerd");
    let first = text
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap();
    assert!(first.contains(&id[..12]), "{text}");
    assert!(text.contains("nginx > nginx > sh > bash"), "{text}");
}

#[test]
fn exports_read_back_as_their_consumers_read_them() {
    let dir = tempfile::tempdir().unwrap();

    // NetworkPolicy: the fields Kubernetes requires, egress to the cluster resolver and
    // to the private upstream nginx proxies to
    let np = ok(&wsprof(&[
        "profile",
        "export",
        "nginx:1.25.3",
        "--format",
        "networkpolicy",
    ]));
    let doc: serde_yaml::Value = serde_yaml::from_str(&np).unwrap();
    assert_eq!(doc["apiVersion"].as_str(), Some("networking.k8s.io/v1"));
    assert_eq!(doc["kind"].as_str(), Some("NetworkPolicy"));
    let name = doc["metadata"]["name"].as_str().unwrap();
    assert!(
        name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "{name}"
    );
    assert!(doc["spec"]["podSelector"].is_mapping());
    assert_eq!(doc["spec"]["policyTypes"][0].as_str(), Some("Egress"));
    let egress = doc["spec"]["egress"].as_sequence().unwrap();
    assert_eq!(
        egress[0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            .as_str(),
        Some("kube-system")
    );
    let ports: Vec<u64> = egress
        .iter()
        .flat_map(|r| r["ports"].as_sequence().unwrap().clone())
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert!(ports.contains(&8000), "the upstream: {ports:?}");
    // 1.27.0 (forced: it is Learning) also reaches a public address on 80
    let np127 = ok(&wsprof(&[
        "profile",
        "export",
        "nginx:1.27.0",
        "--format",
        "networkpolicy",
        "--force",
    ]));
    let doc127: serde_yaml::Value = serde_yaml::from_str(&np127).unwrap();
    assert!(
        doc127["spec"]["egress"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(
                |r| r["to"][0]["ipBlock"]["cidr"].as_str() == Some("0.0.0.0/0")
                    && r["ports"][0]["port"].as_u64() == Some(80)
            ),
        "{np127}"
    );

    // rules: written to a file (0600), which `wsprof rules check` accepts
    let rules = dir.path().join("nginx-rules.yaml");
    let out = ok(&wsprof(&[
        "profile",
        "export",
        "nginx:1.25.3",
        "--format",
        "rules",
        "--output",
        rules.to_str().unwrap(),
    ]));
    assert!(out.contains("exported nginx:1.25.3 as rules to"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&rules).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let check = ok(&wsprof(&["rules", "check", rules.to_str().unwrap()]));
    assert!(check.contains("ok, 5 rule(s)"), "{check}");

    // Kubescape ApplicationProfile: its execs, opens and endpoints
    let ks = ok(&wsprof(&[
        "profile",
        "export",
        "nginx:1.25.3",
        "--format",
        "kubescape",
    ]));
    let doc: serde_yaml::Value = serde_yaml::from_str(&ks).unwrap();
    assert_eq!(
        doc["apiVersion"].as_str(),
        Some("spdx.softwarecomposition.kubescape.io/v1beta1")
    );
    assert_eq!(doc["kind"].as_str(), Some("ApplicationProfile"));
    let c = &doc["spec"]["containers"][0];
    let paths = |field: &str, key: &str| -> Vec<String> {
        c[field]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|x| x[key].as_str().unwrap().to_string())
            .collect()
    };
    assert!(paths("execs", "path").contains(&"/usr/sbin/nginx".to_string()));
    assert!(paths("opens", "path").contains(&"/etc/nginx/nginx.conf".to_string()));
    assert!(paths("endpoints", "endpoint").contains(&":8000".to_string()));

    // a Learning profile is refused without --force, in one line
    let e = one_line_error(&wsprof(&[
        "profile",
        "export",
        "nginx:1.27.0",
        "--format",
        "rules",
    ]));
    assert!(
        e.contains("nginx:1.27.0 is Learning") && e.contains("--force"),
        "{e}"
    );
}

#[test]
fn bad_input_is_one_line_and_a_failure() {
    for (args, expect) in [
        (
            vec!["profile", "diff", "nginx:9.9", "nginx:1.27.0"],
            "no profile nginx:9.9",
        ),
        (
            vec!["profile", "diff", "nginx", "nginx:1.27.0"],
            "`nginx` is not IMAGE:VERSION",
        ),
        (
            vec![
                "profile",
                "diff",
                "nginx:1.25.3",
                "nginx:1.27.0",
                "--threshold",
                "2",
            ],
            "--threshold `2`: expected a share between 0 and 1",
        ),
        (vec!["profile", "outliers", "ghost:1"], "no profile ghost:1"),
        (
            vec!["profile", "outliers", ":1"],
            "`:1` is not IMAGE:VERSION",
        ),
        (
            vec!["profile", "export", "nginx:1.25.3", "--format", "pdf"],
            "--format `pdf`: expected networkpolicy, rules or kubescape",
        ),
        (
            vec!["profile", "export", "ghost:1", "--format", "rules"],
            "no profile ghost:1",
        ),
    ] {
        let e = one_line_error(&wsprof(&args));
        assert!(e.contains(expect), "{args:?}: {e}");
    }
    // an output file that cannot be written is named
    let e = one_line_error(&wsprof(&[
        "profile",
        "export",
        "nginx:1.25.3",
        "--format",
        "rules",
        "--output",
        "/nonexistent-dir/x.yaml",
    ]));
    assert!(e.contains("--output /nonexistent-dir/x.yaml"), "{e}");
}

/// The same answers through the agent's API (its routes and the client), on a copy of
/// the demo store held by an engine in this process, as `wsprof agent` holds it.
#[test]
fn through_the_agent_the_answers_are_the_same() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use wsprof_tui::agent;

    let on_file = |args: &[&str]| ok(&wsprof(args));
    let queries: [&[&str]; 4] = [
        &["profile", "diff", "nginx:1.25.3", "nginx:1.27.0", "--json"],
        &["profile", "outliers", "redis:7.0.15", "--json"],
        &[
            "profile",
            "export",
            "nginx:1.25.3",
            "--format",
            "networkpolicy",
        ],
        &[
            "profile",
            "export",
            "nginx:1.27.0",
            "--format",
            "kubescape",
            "--force",
        ],
    ];
    let expected: Vec<String> = queries.iter().map(|q| on_file(q)).collect();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.duckdb");
    std::fs::copy(demo_store(), &db).unwrap();
    let store = store::Store::open(&db).unwrap();
    let engine = wsprof_tui::engine::Engine::start(store, model::rule::RuleSet::defaults());
    let sock = dir.path().join("wsprof.sock");
    let (listener, _) = agent::bind_socket(&sock, "no-such-group-wsprof-test").unwrap();
    let ctx = Arc::new(agent::ApiContext {
        store: engine.store(),
        readers: engine.readers(),
        changes: engine.changes(),
        info: agent::AgentInfo {
            pid: std::process::id(),
            version: "test",
            started_ms: 0,
            db: db.clone(),
            socket: sock.clone(),
            socket_group: None,
        },
        live: Box::new(|| serde_json::json!({})),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let server = agent::serve(listener, ctx, stop.clone()).unwrap();
    let via_agent = |args: &[&str]| {
        Command::new(bin())
            .args(args)
            .arg("--socket")
            .arg(&sock)
            .arg("--log-file")
            .arg(dir.path().join("cli.log"))
            .env("XDG_CONFIG_HOME", dir.path())
            .output()
            .unwrap()
    };
    for (q, want) in queries.iter().zip(&expected) {
        assert_eq!(&ok(&via_agent(q)), want, "{q:?}");
    }
    // errors keep their one line through the agent
    let e = one_line_error(&via_agent(&["profile", "outliers", "ghost:1"]));
    assert!(e.contains("no profile ghost:1"), "{e}");
    let e = one_line_error(&via_agent(&[
        "profile",
        "export",
        "nginx:1.27.0",
        "--format",
        "rules",
    ]));
    assert!(e.contains("is Learning"), "{e}");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap();
    engine.shutdown();
}
