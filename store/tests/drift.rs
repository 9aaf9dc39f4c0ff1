//! Nothing is lost to a rate limit: drift signals (every novel node of a container, one
//! signal per container and window) and the distinct matches of rule signals, on a real
//! DuckDB file.

use model::drift::DRIFT_RULE;
use model::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use model::profile::LifecycleSettings;
use model::rule::{RuleFormat, RuleSet};
use model::signal::{NewSignal, SignalKind};
use model::snapshot::Snapshot;
use model::tree::ActivityTree;
use store::detect::Detector;
use store::{AddOutcome, SignalFilter, Store};

fn container(i: usize) -> ContainerRef {
    ContainerRef {
        id: format!("{i:064x}"),
        image: "web".into(),
        version: "1.0".into(),
        ..Default::default()
    }
}

fn event(c: &ContainerRef, lineage: &[&str], kind: EventKind, ts: i64) -> Event {
    let (last, anc) = lineage.split_last().unwrap();
    Event {
        ts_ms: ts,
        container: c.clone(),
        process: ProcessInfo {
            pid: 10,
            exec_path: last.to_string(),
            args: vec![last.to_string()],
            ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        kind,
    }
}

fn open(path: &str, access: Access) -> EventKind {
    EventKind::Open {
        path: path.into(),
        access,
        errno: 0,
        requested: None,
    }
}

const NGINX: &[&str] = &["/usr/sbin/nginx"];

/// What a benign replica does.
fn benign(c: &ContainerRef, ts: i64) -> Vec<Event> {
    vec![
        event(c, NGINX, EventKind::Exec, ts),
        event(c, NGINX, open("/etc/nginx/nginx.conf", Access::READ), ts),
        event(
            c,
            NGINX,
            open("/var/log/nginx/access.log", Access::WRITE),
            ts,
        ),
    ]
}

/// A store with a Stable profile of `web:1.0` learnt from 3 benign snapshots.
fn stable_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("wsprof.duckdb")).unwrap();
    let settings = LifecycleSettings {
        stable_after_snapshots: 3,
        stable_after_ms: i64::MAX,
    };
    for i in 0..3 {
        let c = container(100 + i);
        let mut tree = ActivityTree::default();
        for e in benign(&c, 0) {
            tree.record(&e);
        }
        let snap = Snapshot {
            id: format!("s{i}"),
            container: c,
            host: String::new(),
            started_ms: 0,
            ended_ms: 1,
            tree,
        };
        s.ingest_snapshot(&snap, &settings).unwrap();
    }
    assert_eq!(s.profiles().unwrap()[0].status, "stable");
    (dir, s)
}

fn no_rules() -> Detector {
    Detector::new(RuleSet::parse("", RuleFormat::Toml, "test").unwrap())
}

fn drift_signals(s: &Store) -> Vec<store::SignalRow> {
    s.signals(&SignalFilter {
        rule: Some(DRIFT_RULE.into()),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn fifty_novel_actions_are_one_drift_signal_holding_every_node() {
    let (_d, mut s) = stable_store();
    s.settings.rate_limit = 3;
    let mut det = no_rules();
    let attacker = container(1);
    let sh = ["/usr/sbin/nginx", "/bin/sh"];
    let mut ts = 10_000;
    for i in 0..50 {
        ts += 100;
        det.on_event(
            &mut s,
            &event(
                &attacker,
                &sh,
                open(&format!("/srv/loot/f{i}.txt"), Access::READ),
                ts,
            ),
            ts,
        )
        .unwrap();
        // the same read again: counted on its node, not a new node
        det.on_event(
            &mut s,
            &event(
                &attacker,
                &sh,
                open(&format!("/srv/loot/f{i}.txt"), Access::READ),
                ts + 1,
            ),
            ts + 1,
        )
        .unwrap();
    }
    // benign replicas: nothing
    for i in 0..3 {
        for e in benign(&container(200 + i), ts) {
            det.on_event(&mut s, &e, ts).unwrap();
        }
    }
    let d = drift_signals(&s);
    assert_eq!(d.len(), 1, "one drift signal for the container: {d:#?}");
    let sig = &d[0];
    assert_eq!(sig.kind, "drift");
    assert_eq!(sig.container_id, attacker.id);
    // /bin/sh under nginx (the process) + 50 files
    assert_eq!(sig.drift.len(), 51);
    for i in 0..50 {
        let key = format!("p:/usr/sbin/nginx|p:/bin/sh|f:/srv/loot/f{i}.txt");
        let n = sig
            .drift
            .iter()
            .find(|n| n.node_key == key)
            .unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(n.count, 2, "{n:?}");
        assert!(n.first_ms < n.last_ms);
        assert_eq!(n.parent_key.as_deref(), Some("p:/usr/sbin/nginx|p:/bin/sh"));
    }
    assert_eq!(sig.summary, "drift: 51 novel nodes (1 exec, 50 file)");
    assert_eq!(sig.severity, "high", "a new executable ranks high");
    assert_eq!(sig.count, 100, "every novel event counted");
    assert_eq!(det.stats.drift_nodes, 51);
    // the store reopened (index read back) keeps growing the same signal
    drop(s);
    let mut s = Store::open(&_d.path().join("wsprof.duckdb")).unwrap();
    let mut det = no_rules();
    det.on_event(
        &mut s,
        &event(
            &attacker,
            &sh,
            open("/srv/loot/late.txt", Access::READ),
            ts + 50,
        ),
        ts + 50,
    )
    .unwrap();
    let d = drift_signals(&s);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].drift.len(), 52);
    assert_eq!(s.signal(d[0].id).unwrap().drift.len(), 52);
}

#[test]
fn drift_is_raised_again_when_it_crosses_a_category_that_matters() {
    let (_d, mut s) = stable_store();
    let mut det = no_rules();
    let c = container(1);
    let t = 10_000;
    // a new read of a data file under nginx: low
    det.on_event(
        &mut s,
        &event(&c, NGINX, open("/srv/a.csv", Access::READ), t),
        t,
    )
    .unwrap();
    let id = drift_signals(&s)[0].id;
    assert_eq!(s.signal(id).unwrap().severity, "low");
    s.reject_signal(id).unwrap();
    // more data reads: grows, stays decided
    let out = det
        .on_event(
            &mut s,
            &event(&c, NGINX, open("/srv/b.csv", Access::READ), t + 1),
            t + 1,
        )
        .unwrap();
    let [AddOutcome::Drift(o)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(!o.reraised && !o.new_signal && o.new_nodes == 1);
    assert_eq!(s.signal(id).unwrap().status, "rejected");
    // a write under /etc: raised again, open, high, persistence
    let out = det
        .on_event(
            &mut s,
            &event(&c, NGINX, open("/etc/cron.d/x", Access::CREATE), t + 2),
            t + 2,
        )
        .unwrap();
    let [AddOutcome::Drift(o)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(o.reraised);
    let sig = s.signal(id).unwrap();
    assert_eq!(
        (sig.status.as_str(), sig.severity.as_str()),
        ("open", "high")
    );
    assert!(sig.mitre.contains("TA0003 Persistence"), "{}", sig.mitre);
    // an outbound connection later in the window: same signal
    det.on_event(
        &mut s,
        &event(
            &c,
            NGINX,
            EventKind::Connect {
                family: "tcp".into(),
                addr: "203.0.113.9".into(),
                port: 443,
            },
            t + 3,
        ),
        t + 3,
    )
    .unwrap();
    let sig = s.signal(id).unwrap();
    assert_eq!(sig.drift.len(), 4);
    assert!(sig.mitre.contains("TA0010 Exfiltration"), "{}", sig.mitre);
    // after the window: a new drift signal
    let later = t + 3 + s.settings.dedup_window_ms + 1;
    det.on_event(
        &mut s,
        &event(&c, NGINX, open("/srv/c.csv", Access::READ), later),
        later,
    )
    .unwrap();
    assert_eq!(drift_signals(&s).len(), 2);
}

#[test]
fn exec_of_a_file_the_container_wrote_ranks_as_execution() {
    let (_d, mut s) = stable_store();
    let mut det = no_rules();
    let c = container(1);
    det.on_event(
        &mut s,
        &event(
            &c,
            NGINX,
            open("/tmp/x/payload", Access::WRITE.union(Access::CREATE)),
            10,
        ),
        10,
    )
    .unwrap();
    det.on_event(
        &mut s,
        &event(
            &c,
            &["/usr/sbin/nginx", "/tmp/x/payload"],
            EventKind::Exec,
            11,
        ),
        11,
    )
    .unwrap();
    let sig = &drift_signals(&s)[0];
    let exec = sig
        .drift
        .iter()
        .find(|n| n.kind == "process")
        .expect("the payload's process node");
    assert_eq!(exec.why, "exec of a file written in this container");
    assert_eq!(exec.tactic, "TA0002 Execution");
    assert_eq!(exec.severity, "high");
}

fn rule_signal(c: &ContainerRef, file: &str, ts: i64) -> NewSignal {
    let e = event(c, NGINX, open(file, Access::READ), ts);
    NewSignal::from_event(&e, SignalKind::Rule, "reads", "medium", "", String::new())
}

#[test]
fn rate_limited_matches_stay_listed_with_a_count() {
    let (_d, mut s) = stable_store();
    s.settings.rate_limit = 2;
    let c = container(1);
    for i in 0..6 {
        s.add_signal(&rule_signal(&c, &format!("/data/f{i}"), 100 + i), 100)
            .unwrap();
    }
    // a duplicate of a rate-limited one
    s.add_signal(&rule_signal(&c, "/data/f5", 200), 200)
        .unwrap();
    let all = s.signals(&SignalFilter::default()).unwrap();
    assert_eq!(all.len(), 2, "the rate limit queued 2");
    let newest = &all[0];
    assert_eq!(newest.matches_total, 5, "its own and the 4 rate-limited");
    assert_eq!(newest.rate_limited, 5);
    assert_eq!(
        newest.rate_limit_note.as_deref(),
        Some("5 more matches hidden by the rate limit")
    );
    let summaries: Vec<&str> = newest.matches.iter().map(|m| m.summary.as_str()).collect();
    assert_eq!(
        summaries,
        vec![
            "open /data/f1 (read)",
            "open /data/f2 (read)",
            "open /data/f3 (read)",
            "open /data/f4 (read)",
            "open /data/f5 (read)",
        ]
    );
    let f5 = newest.matches.last().unwrap();
    assert_eq!((f5.count, f5.rate_limited), (2, 2));
    assert!(all[1].rate_limit_note.is_none());
    // JSON carries them
    let j = serde_json::to_value(newest).unwrap();
    assert_eq!(j["matches"].as_array().unwrap().len(), 5);
    assert_eq!(j["matches_total"], 5);
}

#[test]
fn matches_are_paged_in_lists_and_complete_for_one_signal() {
    let (_d, mut s) = stable_store();
    s.settings.rate_limit = 1;
    let c = container(1);
    let n = store::MATCH_PAGE + 7;
    for i in 0..n {
        s.add_signal(
            &rule_signal(&c, &format!("/data/f{i}"), 100 + i as i64),
            100,
        )
        .unwrap();
    }
    let all = s.signals(&SignalFilter::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].matches.len(), store::MATCH_PAGE);
    assert_eq!(all[0].matches_total as usize, n);
    assert_eq!(s.signal(all[0].id).unwrap().matches.len(), n);
}
