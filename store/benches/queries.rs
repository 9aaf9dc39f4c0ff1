//! The screens' queries on a store at host scale: 10,000 snapshots (50 image versions of 200
//! snapshots, 2,000 profile nodes each) and 1,000,000 signals (10% open, 1% drift, every one
//! with its distinct matches, 1,000 suppressions), each query against its baseline in the same
//! run:
//!
//! - images (`profiles`), profile (`profile_nodes` + `profile_snapshots` of one version) and
//!   a signals page (`signals` with a limit, as the queue asks for it) against the same reads
//!   on the demo-sized store (12 versions, 3,176 snapshots, ~400 signals): how much the
//!   store's size costs;
//! - the whole signal list (`signals` without a limit, 1,000,000 rows) against a bare scan of
//!   the same columns: the floor for returning every row.
//!
//! The store is generated with the Appender in a few seconds (`generate`), straight into the
//! tables, then read through a `StoreReader` as the UI reads. Run:
//! `cargo bench -p store --bench queries` (release). Prints a Markdown table.

use duckdb::{params, Connection};
use std::path::Path;
use std::time::{Duration, Instant};
use store::{SignalFilter, Store, StoreReader};

const IMAGES: usize = 25;
const VERSIONS: usize = 2;
const SNAPSHOTS_PER_PROFILE: usize = 200;
const NODES_PER_PROFILE: usize = 2_000;
const CONTAINERS_PER_PROFILE: usize = 20;
const SIGNALS: usize = 1_000_000;
const RULES: usize = 80;
const SUPPRESSIONS: usize = 1_000;
const DAY_MS: i64 = 86_400_000;
const START_MS: i64 = 1_760_000_000_000;

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn image(p: usize) -> (String, String) {
    (
        format!(
            "registry.local/team{}/svc{}",
            p / VERSIONS % 5,
            p / VERSIONS
        ),
        format!("1.{}.0", p % VERSIONS),
    )
}

/// Node `i` of a profile: a process lineage of up to four, files, DNS and network below.
fn node(i: usize) -> (String, Option<String>, &'static str, String, usize) {
    let proc_of = |j: usize| format!("p:/usr/bin/tool{}", j % 40);
    let depth = 1 + i % 3;
    let mut key = "p:/usr/local/bin/app".to_string();
    for d in 1..depth {
        key.push('|');
        key.push_str(&proc_of(i / 7 + d));
    }
    if i < 40 {
        return (key.clone(), None, "process", key, 0);
    }
    let parent = key.clone();
    let (kind, label) = match i % 10 {
        0 => ("dns", format!("svc{}.internal A", i % 50)),
        1 => ("net", format!("connect tcp/{} private", 5000 + i % 40)),
        _ => ("file", format!("/srv/data/part{}/f{i}.dat", i % 30)),
    };
    key.push_str(&format!("|{}:{label}", &kind[..1]));
    (key, Some(parent), kind, label, depth)
}

/// Write the store: schema by `Store::open`, rows by the Appender, then a checkpoint.
fn generate(path: &Path) {
    drop(Store::open(path).expect("create"));
    let c = Connection::open(path).expect("open");
    let mut rng = Rng(0x5eed_1234);
    let profiles = IMAGES * VERSIONS;
    c.execute_batch("BEGIN").unwrap();
    {
        let mut a = c.appender("profiles").unwrap();
        for p in 0..profiles {
            let (img, ver) = image(p);
            a.append_row(params![
                p as i64 + 1,
                img,
                ver,
                "stable",
                SNAPSHOTS_PER_PROFILE as i64,
                START_MS,
                START_MS + 30 * DAY_MS,
                START_MS + 2 * DAY_MS
            ])
            .unwrap();
        }
    }
    {
        let mut a = c
            .appender_with_columns(
                "snapshots",
                &[
                    "snapshot_id",
                    "profile_id",
                    "container_id",
                    "host",
                    "started_ms",
                    "ended_ms",
                    "merged",
                    "node_count",
                    "tree_json",
                    "tags_json",
                    "image_digest",
                ],
            )
            .unwrap();
        let tree = format!(
            r#"{{"roots":[{{"path":"/usr/local/bin/app","args":["app","--port","8080"],"uid":0,"gid":0,"files":[{}]}}]}}"#,
            (0..12)
                .map(|i| format!(r#"{{"path":"/srv/data/f{i}.dat","access":["read"]}}"#))
                .collect::<Vec<_>>()
                .join(",")
        );
        for p in 0..profiles {
            for s in 0..SNAPSHOTS_PER_PROFILE {
                let c = s % CONTAINERS_PER_PROFILE;
                let t = START_MS + (s as i64) * 3 * 3_600_000;
                a.append_row(params![
                    format!("snap-{p}-{s}"),
                    p as i64 + 1,
                    format!("{:064x}", p * 1000 + c),
                    format!("node-{}", c % 8),
                    t,
                    t + 3_600_000,
                    true,
                    NODES_PER_PROFILE as i64,
                    tree,
                    format!(
                        r#"["host:node-{}","namespace:ns{}","pod:web-{c}"]"#,
                        c % 8,
                        p % 7
                    ),
                    format!("sha256:{:064x}", p)
                ])
                .unwrap();
            }
        }
    }
    {
        let mut a = c.appender("profile_nodes").unwrap();
        for p in 0..profiles {
            let mut seen = std::collections::HashSet::new();
            for i in 0..NODES_PER_PROFILE {
                let (key, parent, kind, label, depth) = node(i);
                if !seen.insert(key.clone()) {
                    continue;
                }
                a.append_row(params![
                    p as i64 + 1,
                    key,
                    parent,
                    kind,
                    label,
                    depth as i64,
                    1 + rng.below(SNAPSHOTS_PER_PROFILE) as i64,
                    if kind == "file" { 1 } else { 0 },
                    if kind == "process" {
                        r#"["tool","--serve"]"#
                    } else {
                        "[]"
                    }
                ])
                .unwrap();
            }
        }
    }
    {
        let mut a = c
            .appender_with_columns(
                "suppressions",
                &[
                    "suppression_id",
                    "rule_id",
                    "image",
                    "lineage_json",
                    "expression",
                    "created_ms",
                    "created_by",
                    "reason",
                    "expires_ms",
                    "removed_ms",
                    "hidden_count",
                    "scope_tag",
                ],
            )
            .unwrap();
        for x in 0..SUPPRESSIONS {
            let (img, _) = image(x % profiles);
            a.append_row(params![
                x as i64 + 1,
                format!("rule-{:02}", x % RULES),
                img,
                r#"["/usr/local/bin/app","/usr/bin/tool3"]"#,
                "image == x",
                START_MS + x as i64 * 60_000,
                "alice",
                "known behaviour",
                None::<i64>,
                (x % 10 == 0).then_some(START_MS + DAY_MS),
                100i64,
                ""
            ])
            .unwrap();
        }
    }
    {
        let mut sig = c
            .appender_with_columns(
                "signals",
                &[
                    "signal_id",
                    "ts_ms",
                    "last_ts_ms",
                    "kind",
                    "rule_id",
                    "severity",
                    "mitre",
                    "container_id",
                    "image",
                    "version",
                    "process_path",
                    "process_json",
                    "summary",
                    "node_key",
                    "reason",
                    "status",
                    "suppression_id",
                    "count",
                    "dedup_key",
                    "suggestion_block",
                    "tags_json",
                    "image_digest",
                ],
            )
            .unwrap();
        let mut matches = c.appender("signal_matches").unwrap();
        let mut drift = c
            .appender_with_columns(
                "drift_nodes",
                &[
                    "signal_id",
                    "node_key",
                    "parent_key",
                    "kind",
                    "label",
                    "access",
                    "category",
                    "severity",
                    "tactic",
                    "why",
                    "count",
                    "first_ms",
                    "last_ms",
                ],
            )
            .unwrap();
        for i in 0..SIGNALS {
            let id = i as i64 + 1;
            let p = rng.below(profiles);
            let (img, ver) = image(p);
            let ts = START_MS + (i as i64) * (30 * DAY_MS / SIGNALS as i64);
            let is_drift = i % 100 == 0;
            let (key, _, _, label, _) = node(rng.below(NODES_PER_PROFILE + 200));
            let status = match rng.below(20) {
                0 | 1 => "open",
                2..=4 => "rejected",
                _ => "suppressed",
            };
            let rule = if is_drift {
                "drift".to_string()
            } else {
                format!("rule-{:02}", rng.below(RULES))
            };
            let container = format!("{:064x}", p * 1000 + rng.below(CONTAINERS_PER_PROFILE));
            let summary = format!("open {label}");
            sig.append_row(params![
                id,
                ts,
                ts + 60_000,
                if is_drift { "drift" } else { "rule" },
                rule,
                ["low", "medium", "high", "critical"][rng.below(4)],
                "T1059",
                container,
                img,
                ver,
                "/usr/bin/tool3",
                r#"{"pid":4242,"exec_path":"/usr/bin/tool3","args":["tool3","--serve","--token=***"],"uid":0,"gid":0,"ancestors":["/usr/local/bin/app"]}"#,
                summary,
                key,
                "a rule matched",
                status,
                (status == "suppressed").then(|| 1 + rng.below(SUPPRESSIONS) as i64),
                1 + rng.below(5) as i64,
                format!("{rule}\u{1f}{container}\u{1f}{key}\u{1f}{summary}"),
                is_drift.then_some("drift is activity the Stable profile lacks"),
                format!(r#"["host:node-{}","namespace:ns{}"]"#, p % 8, p % 7),
                format!("sha256:{p:064x}")
            ])
            .unwrap();
            let extra = if i % 10 == 0 { 3 } else { 1 };
            for m in 0..extra {
                matches
                    .append_row(params![
                        id,
                        key,
                        format!("{summary} #{m}"),
                        1 + m as i64,
                        0i64,
                        ts,
                        ts + 60_000
                    ])
                    .unwrap();
            }
            if is_drift {
                for d in 0..5 {
                    drift
                        .append_row(params![
                            id,
                            format!("{key}|f:/tmp/drop{d}"),
                            key,
                            "file",
                            format!("/tmp/drop{d}"),
                            2i32,
                            "write outside the profile",
                            "medium",
                            "persistence",
                            "written, never in the profile",
                            1i64,
                            ts,
                            ts + 60_000
                        ])
                        .unwrap();
                }
            }
        }
    }
    // the sequences continue after the generated ids
    for (seq, n) in [
        ("signal_ids", SIGNALS),
        ("profile_ids", profiles),
        ("suppression_ids", SUPPRESSIONS),
    ] {
        c.query_row(
            &format!("SELECT max(nextval('{seq}')) FROM range(?)"),
            params![n as i64],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    }
    c.execute_batch("COMMIT; CHECKPOINT").unwrap();
}

/// The demo bundle replayed into a store (the size the queries were written for).
fn demo_store(path: &Path) {
    let bundle = demo_data::Bundle::load_embedded().expect("bundle");
    let mut store = Store::open(path).expect("demo store");
    let settings = model::LifecycleSettings::default();
    let mut detector = store::detect::Detector::new(model::rule::RuleSet::defaults());
    let ((), written) = store.batch(|s| {
        let mut clock = bundle.span_ms().0;
        for item in bundle.timeline() {
            // the demo's clock: time-based Learning -> Stable every simulated hour
            let t = match &item {
                demo_data::TimelineItem::Snapshot(snap) => snap.ended_ms,
                demo_data::TimelineItem::Event(e) => e.ts_ms,
            };
            if t - clock >= 3_600_000 {
                clock = t;
                if s.refresh_statuses(t, &settings).expect("lifecycle") > 0 {
                    detector.forget_profiles();
                }
            }
            match item {
                demo_data::TimelineItem::Snapshot(snap) => {
                    s.ingest_snapshots(std::slice::from_ref(snap), &settings)
                        .expect("ingest");
                    detector.profile_changed(&snap.container.image, &snap.container.version);
                }
                demo_data::TimelineItem::Event(e) => {
                    detector.on_event(s, e, e.ts_ms).expect("detect");
                }
            }
        }
    });
    written.expect("demo written");
    store
        .refresh_statuses(bundle.span_ms().1, &settings)
        .unwrap();
    store.checkpoint().unwrap();
}

fn median(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut rows = 0;
    let mut v: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            rows = f();
            t.elapsed()
        })
        .collect();
    v.sort();
    (v[runs / 2], rows)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// A page of the queue: the newest signals, as many as a screen lists.
const PAGE: usize = 1_000;

struct Figures {
    images: (Duration, usize),
    profile: (Duration, usize),
    page: (Duration, usize),
}

fn screen_queries(r: &StoreReader, runs: usize) -> Figures {
    let profiles = r.profiles().unwrap();
    let busiest = profiles
        .iter()
        .max_by_key(|p| (p.nodes, p.snapshots))
        .expect("a profile");
    let (img, ver) = (busiest.image.clone(), busiest.version.clone());
    Figures {
        images: median(runs, || r.profiles().unwrap().len()),
        profile: median(runs, || {
            r.profile_nodes(&img, &ver).unwrap().len()
                + r.profile_snapshots(&img, &ver).unwrap().len()
        }),
        page: median(runs, || {
            r.signals(&SignalFilter {
                limit: Some(PAGE),
                ..Default::default()
            })
            .unwrap()
            .len()
        }),
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.duckdb");
    let t = Instant::now();
    generate(&big);
    let generated = t.elapsed();
    let demo = dir.path().join("demo.duckdb");
    demo_store(&demo);
    let runs = 5;

    let big_store = Store::open(&big).unwrap();
    let r = big_store.reader().unwrap();
    let counts = big_store.counts().unwrap();
    let at_scale = screen_queries(&r, runs);
    let demo_store = Store::open(&demo).unwrap();
    let demo_counts = demo_store.counts().unwrap();
    let small = screen_queries(&demo_store.reader().unwrap(), runs);

    println!(
        "store: {} snapshots, {} signals, {} profiles (generated in {:.1} s); demo store: {} snapshots, {} signals",
        counts.snapshots,
        counts.signals,
        counts.profiles,
        generated.as_secs_f64(),
        demo_counts.snapshots,
        demo_counts.signals
    );
    println!();
    println!("| query | rows | at scale | baseline: demo store | ratio |");
    println!("|---|---|---|---|---|");
    for (name, big, small) in [
        ("images (`profiles`)", at_scale.images, small.images),
        (
            "profile (nodes + snapshots of the largest version)",
            at_scale.profile,
            small.profile,
        ),
        (
            "signals, newest page (limit 1000)",
            at_scale.page,
            small.page,
        ),
    ] {
        println!(
            "| {name} | {} / {} | {} | {} | {:.2}x |",
            big.1,
            small.1,
            ms(big.0),
            ms(small.0),
            big.0.as_secs_f64() / small.0.as_secs_f64()
        );
    }
    let all = median(3, || r.signals(&SignalFilter::default()).unwrap().len());
    let scan = median(3, || {
        let c = r.raw_connection();
        let mut stmt = c
            .prepare(
                "SELECT signal_id, ts_ms, last_ts_ms, kind, rule_id, severity, mitre, container_id,
                        image, version, process_json, summary, node_key, reason, status,
                        suppression_id, count, suggestion_block, tags_json, image_digest
                 FROM signals ORDER BY ts_ms DESC, signal_id DESC",
            )
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut n = 0;
        while let Some(row) = rows.next().unwrap() {
            let _: String = row.get(10).unwrap();
            n += 1;
        }
        n
    });
    println!(
        "| signals, the whole list (no limit) | {} | {} | bare scan of its columns: {} | {:.2}x |",
        all.1,
        ms(all.0),
        ms(scan.0),
        all.0.as_secs_f64() / scan.0.as_secs_f64()
    );
}
