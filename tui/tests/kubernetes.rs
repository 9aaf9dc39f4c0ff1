//! Kubernetes hosts for real: a private containerd (namespace `k8s.io`, kubelet-style labels
//! and cgroup paths) runs two pods of demo/web:1.0; `wsprof capture` pointed at its socket
//! must put both into ONE profile demo/web:1.0 with pod and namespace tags, and a signal
//! from one of them must carry its tags. A runtime that cannot be reached leaves the
//! container `unresolved` with the reason in `wsprof status`.
//! Needs root, containerd and ctr (scripts/setup.sh), podman with demo/web:1.0.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn containerd_or_skip(test: &str) -> bool {
    if !prerequisites_or_skip(test) {
        return false;
    }
    let have = |b: &str| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if have("containerd") && have("ctr") {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("containerd/ctr missing in CI (scripts/setup.sh installs them)");
    }
    eprintln!("SKIP {test}: containerd or ctr not installed (scripts/setup.sh)");
    false
}

/// A private containerd: own config, root, state and socket; killed on drop.
struct Containerd {
    child: Child,
    sock: PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Containerd {
    fn start(dir: &Path) -> Containerd {
        let sock = dir.join("containerd.sock");
        let cfg = dir.join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n[grpc]\n  address = \"{s}\"\n",
                d = dir.display(),
                s = sock.display()
            ),
        )
        .unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("containerd.log")).unwrap())
            .spawn()
            .expect("containerd");
        let c = Containerd { child, sock };
        let start = Instant::now();
        while !c
            .ctr()
            .args(["version"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "containerd did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        c
    }

    fn ctr(&self) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(&self.sock).args(["-n", "k8s.io"]);
        c
    }

    /// demo/web:1.0 from podman's store into containerd's `k8s.io` namespace.
    fn import_demo_web(&self, dir: &Path) {
        let tar = dir.join("web.tar");
        let out = podman()
            .args(["save", "--format", "oci-archive", "-o"])
            .arg(&tar)
            .arg("localhost/demo/web:1.0")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman save: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self
            .ctr()
            .args(["images", "import", "--base-name", "localhost/demo/web"])
            .arg(&tar)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ctr import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A pod's container as the kubelet makes it: 64-hex id, kubepods cgroup, labels.
    fn run_pod(&self, pod: &str, namespace: &str, script: &str) -> (Child, String) {
        let id = random_id();
        let child = self
            .ctr()
            .args(["run", "--rm", "--cgroup"])
            .arg(format!(
                "/kubepods/besteffort/pod{}/{id}",
                &random_id()[..32]
            ))
            .args(["--label", &format!("io.kubernetes.pod.name={pod}")])
            .args([
                "--label",
                &format!("io.kubernetes.pod.namespace={namespace}"),
            ])
            .args(["--label", "io.kubernetes.container.name=web"])
            .args(["localhost/demo/web:1.0", &id, "sh", "-c", script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ctr run");
        (child, id)
    }
}

fn random_id() -> String {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn wsprof(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wsprof"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wsprof {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn capture(db: &Path, sock: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wsprof"))
        .arg("capture")
        .arg("--db")
        .arg(db)
        .args(["--snapshot-interval", "5s", "--runtime-socket"])
        .arg(sock)
        .arg("--log-file")
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsprof capture")
}

fn interrupt(mut c: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let st = c.wait().unwrap();
    assert!(st.success(), "wsprof capture exited with {st}");
}

#[test]
fn containerd_pods_land_in_one_profile_with_pod_and_namespace_tags() {
    if !containerd_or_skip("containerd_pods_land_in_one_profile_with_pod_and_namespace_tags") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ctrd = Containerd::start(tmp.path());
    ctrd.import_demo_web(tmp.path());
    let db = tmp.path().join("k.duckdb");
    let cap = capture(&db, &ctrd.sock, &tmp.path().join("wsprof.log"));
    std::thread::sleep(Duration::from_secs(3));
    let pods: Vec<(Child, String)> = [
        (
            "web-1",
            "sleep 1; echo 'eve:x:0:0::/root:/bin/sh' >> /etc/passwd; sleep 2",
        ),
        ("web-2", "sleep 1; cat /etc/hostname >/dev/null; sleep 2"),
    ]
    .into_iter()
    .map(|(pod, script)| ctrd.run_pod(pod, "payments", script))
    .collect();
    let ids: Vec<String> = pods.iter().map(|(_, id)| id[..12].to_string()).collect();
    for (mut p, _) in pods {
        p.wait().unwrap();
    }
    std::thread::sleep(Duration::from_secs(7));
    interrupt(cap);
    let dbs = db.to_str().unwrap();

    let profiles: serde_json::Value =
        serde_json::from_str(&wsprof(&["profiles", "--db", dbs, "--json"])).unwrap();
    let list = profiles.as_array().unwrap();
    // (Other containers of this host, e.g. podman's, may be unresolved: only containerd's
    // socket was given. None of ours may be.)
    assert!(
        !list
            .iter()
            .any(|p| p["image"] == "unresolved" && ids.iter().any(|id| p["version"] == **id)),
        "a containerd container stayed unresolved: {profiles}"
    );
    let web: Vec<_> = list.iter().filter(|p| p["image"] == "demo/web").collect();
    assert_eq!(web.len(), 1, "one profile for both pods: {profiles}");
    assert_eq!(web[0]["version"], "1.0");
    assert_eq!(web[0]["containers"], 2, "{profiles}");
    let tags: Vec<&str> = web[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    for t in [
        "namespace:payments",
        "pod:web-1",
        "pod:web-2",
        "container:web",
    ] {
        assert!(tags.contains(&t), "profile tags lack {t}: {tags:?}");
    }
    assert_eq!(web[0]["digests"].as_array().unwrap().len(), 1, "{profiles}");
    assert_eq!(web[0]["digest_changed"], false);

    let show: serde_json::Value = serde_json::from_str(&wsprof(&[
        "profile",
        "show",
        "demo/web:1.0",
        "--db",
        dbs,
        "--json",
    ]))
    .unwrap();
    let snaps = show["snapshots"].as_array().unwrap();
    assert!(
        snaps.iter().any(|s| s["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "pod:web-1")),
        "{show}"
    );
    assert!(snaps
        .iter()
        .all(|s| s["digest"].as_str().unwrap().starts_with("sha256:")));

    let signals: serde_json::Value = serde_json::from_str(&wsprof(&[
        "signals",
        "--db",
        dbs,
        "--json",
        "--rule",
        "passwd-file-modified",
    ]))
    .unwrap();
    let s = &signals.as_array().unwrap()[0];
    assert_eq!(s["image"], "demo/web");
    let tags = s["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t == "namespace:payments"), "{s}");
    assert!(tags.iter().any(|t| t == "pod:web-1"), "{s}");
    // filter by namespace
    let none: serde_json::Value = serde_json::from_str(&wsprof(&[
        "signals",
        "--db",
        dbs,
        "--json",
        "--namespace",
        "shop",
    ]))
    .unwrap();
    assert_eq!(none.as_array().unwrap().len(), 0);
    // a suppression scoped to the namespace
    let id = s["id"].to_string();
    wsprof(&[
        "suppress",
        &id,
        "--force",
        "--namespace",
        "payments",
        "--db",
        dbs,
    ]);
    let sups: serde_json::Value =
        serde_json::from_str(&wsprof(&["suppressions", "--db", dbs, "--json"])).unwrap();
    let sup = &sups.as_array().unwrap()[0];
    assert_eq!(sup["scope"], "namespace:payments", "{sup}");
    assert!(
        sup["expression"]
            .as_str()
            .unwrap()
            .contains("container.tags contains \"namespace:payments\""),
        "{sup}"
    );
}

#[test]
fn unreachable_runtime_leaves_containers_unresolved_with_the_reason_in_status() {
    if !containerd_or_skip(
        "unreachable_runtime_leaves_containers_unresolved_with_the_reason_in_status",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ctrd = Containerd::start(tmp.path());
    ctrd.import_demo_web(tmp.path());
    // A socket nobody listens on: connect() is refused.
    let dead = tmp.path().join("dead-containerd.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let db = tmp.path().join("u.duckdb");
    let cap = capture(&db, &dead, &tmp.path().join("wsprof.log"));
    std::thread::sleep(Duration::from_secs(3));
    let (mut pod, id) = ctrd.run_pod("web-9", "payments", "sleep 4; cat /etc/hostname >/dev/null");
    pod.wait().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    interrupt(cap);
    let status = wsprof(&["status", "--db", db.to_str().unwrap()]);
    let want = format!(
        "containerd at {}: Connection refused (os error 111)",
        dead.display()
    );
    let line = status
        .lines()
        .find(|l| l.contains(&id[..12]))
        .unwrap_or_else(|| panic!("status does not name {}:\n{status}", &id[..12]));
    assert!(line.trim_start().starts_with("unresolved: "), "{line}");
    assert!(line.contains(&want), "`{line}` lacks `{want}`");
    let profiles = wsprof(&["profiles", "--db", db.to_str().unwrap(), "--json"]);
    assert!(profiles.contains(&id[..12]), "{profiles}");
}
