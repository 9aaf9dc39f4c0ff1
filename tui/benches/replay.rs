//! Benchmarks over the real demo bundle, each against a baseline run side by side:
//!
//! - ingest: snapshots into a DuckDB store (SQL merge) vs the in-memory model merge;
//! - rules: `RuleSet::matching` (kind index) vs evaluating every rule on every event;
//! - detection: events through rules + anomalies + the store vs the same without rules;
//! - replay: the whole demo (`wsprof demo --speed max --headless`) into a file.
//!
//! Run: `cargo bench -p tui --bench replay` (release). Prints a Markdown table.

use model::profile::{LifecycleSettings, Profile};
use model::rule::{RuleFormat, RuleSet};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::detect::Detector;
use store::Store;

fn median<F: FnMut() -> Duration>(runs: usize, mut f: F) -> Duration {
    let mut v: Vec<Duration> = (0..runs).map(|_| f()).collect();
    v.sort();
    v[runs / 2]
}

fn row(name: &str, what: &str, n: usize, t: Duration, base_name: &str, base: Duration) {
    println!(
        "| {name} | {n} {what} | {:.1} ms ({:.0}/s) | {base_name}: {:.1} ms | {:.2}x |",
        t.as_secs_f64() * 1e3,
        n as f64 / t.as_secs_f64(),
        base.as_secs_f64() * 1e3,
        t.as_secs_f64() / base.as_secs_f64()
    );
}

fn main() {
    let bundle = Arc::new(demo_data::Bundle::load_embedded().expect("bundle"));
    let settings = LifecycleSettings::default();
    let runs = 3;
    println!("| bench | work | wsprof | baseline | ratio |");
    println!("|---|---|---|---|---|");

    // ingest
    let snaps = &bundle.snapshots;
    let t_sql = median(runs, || {
        let mut s = Store::open_in_memory().unwrap();
        let t = Instant::now();
        for chunk in snaps.chunks(500) {
            s.ingest_snapshots(chunk, &settings).unwrap();
        }
        t.elapsed()
    });
    let t_mem = median(runs, || {
        let t = Instant::now();
        let mut profiles: HashMap<(String, String), Profile> = HashMap::new();
        for s in snaps {
            let p = profiles
                .entry((s.container.image.clone(), s.container.version.clone()))
                .or_insert_with(|| Profile::new(&s.container.image, &s.container.version));
            let _ = p.merge(s, &settings);
        }
        std::hint::black_box(&profiles);
        t.elapsed()
    });
    row(
        "ingest + SQL merge",
        "snapshots",
        snaps.len(),
        t_sql,
        "in-memory merge",
        t_mem,
    );

    // rules
    let rules = RuleSet::defaults();
    let events = &bundle.events;
    let t_idx = median(runs, || {
        let t = Instant::now();
        let mut hits = 0usize;
        for e in events {
            hits += rules.matching(e).count();
        }
        std::hint::black_box(hits);
        t.elapsed()
    });
    let t_all = median(runs, || {
        let t = Instant::now();
        let mut hits = 0usize;
        for e in events {
            hits += rules
                .rules()
                .iter()
                .filter(|r| r.enabled && r.matches(e))
                .count();
        }
        std::hint::black_box(hits);
        t.elapsed()
    });
    row(
        "rule matching (kind index)",
        "events",
        events.len(),
        t_idx,
        "every rule on every event",
        t_all,
    );

    // detection
    let mut loaded = Store::open_in_memory().unwrap();
    for chunk in snaps.chunks(500) {
        loaded.ingest_snapshots(chunk, &settings).unwrap();
    }
    let detect = |rules: RuleSet| {
        let mut store = Store::open_in_memory().unwrap();
        for chunk in snaps.chunks(500) {
            store.ingest_snapshots(chunk, &settings).unwrap();
        }
        let mut d = Detector::new(rules);
        let t = Instant::now();
        // in batches of 1024, as the engine's writer applies its queue
        for chunk in events.chunks(1024) {
            let ((), written) = store.batch(|store| {
                for e in chunk {
                    d.on_event(store, e, e.ts_ms).unwrap();
                }
            });
            written.unwrap();
        }
        t.elapsed()
    };
    let empty = RuleSet::parse("", RuleFormat::Toml, "empty").unwrap();
    let t_det = median(runs, || detect(RuleSet::defaults()));
    let t_noru = median(runs, || detect(empty.clone()));
    row(
        "detection (80 rules + anomalies + store, batches of 1024)",
        "events",
        events.len(),
        t_det,
        "anomalies only",
        t_noru,
    );

    // whole replay into a file
    let t_replay = median(runs, || {
        let dir = std::env::temp_dir().join(format!("wsprof-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("b.duckdb")).unwrap();
        let t = Instant::now();
        let engine = wsprof_tui::engine::Engine::start(store, RuleSet::defaults());
        let feeder = wsprof_tui::engine::spawn_demo(
            bundle.clone(),
            wsprof_tui::engine::Speed::Max,
            engine.sender(),
            engine.status_handle(),
            Arc::new(AtomicBool::new(false)),
        );
        feeder.join().unwrap();
        engine.shutdown();
        let el = t.elapsed();
        let _ = std::fs::remove_dir_all(&dir);
        el
    });
    row(
        "demo replay, speed max, into a file",
        "items",
        snaps.len() + events.len(),
        t_replay,
        "ingest + detection above",
        t_sql + t_det,
    );
}
