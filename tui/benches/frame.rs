//! Frame time of the screens at host scale, each beside a small baseline in the same run:
//!
//! - the profile screen over a profile of 100,000 nodes (100 processes x 1,000 files) vs one of
//!   1,000 nodes: opening it (load + tree build) and one frame after a key (move down);
//! - the signal queue over a store of 1,000,000 signals (the screen loads its newest page) vs
//!   one of 1,000: a refresh and one frame after a key.
//!
//! Frames are drawn into a ratatui TestBackend of 200 x 50. Run:
//! `cargo bench -p tui --bench frame` (release). Prints a Markdown table.

use model::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use model::profile::LifecycleSettings;
use model::signal::{NewSignal, SignalKind};
use model::snapshot::Snapshot;
use model::tree::ActivityTree;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};
use store::Store;
use wsprof_tui::action::Action;
use wsprof_tui::app::App;
use wsprof_tui::keymap::Keymap;

const T0: i64 = 1_795_651_200_000;

fn container(i: usize) -> ContainerRef {
    ContainerRef {
        id: format!("{:064x}", i + 1),
        image: "big".into(),
        version: "1.0".into(),
        ..Default::default()
    }
}

fn ev(c: &ContainerRef, lineage: &[String], kind: EventKind, ts: i64) -> Event {
    let (last, anc) = lineage.split_last().unwrap();
    Event {
        ts_ms: ts,
        container: c.clone(),
        process: ProcessInfo {
            pid: 7,
            exec_path: last.clone(),
            ancestors: anc.iter().rev().cloned().collect(),
            ..Default::default()
        },
        kind,
    }
}

/// A store holding one profile of `procs` processes x `files` files each.
fn profile_store(procs: usize, files: usize) -> Store {
    let c = container(0);
    let mut t = ActivityTree::default();
    let root = "/usr/bin/app".to_string();
    t.record(&ev(&c, std::slice::from_ref(&root), EventKind::Exec, T0));
    for p in 0..procs {
        let lineage = vec![root.clone(), format!("/usr/bin/worker{p}")];
        t.record(&ev(&c, &lineage, EventKind::Exec, T0));
        for f in 0..files {
            t.record(&ev(
                &c,
                &lineage,
                EventKind::Open {
                    path: format!("/data/w{p}/f{f}"),
                    access: Access::READ,
                    errno: 0,
                    requested: None,
                },
                T0,
            ));
        }
    }
    let snap = Snapshot {
        id: format!("snap-{procs}-{files}"),
        container: c,
        host: "node-1".into(),
        started_ms: T0 - 1_000,
        ended_ms: T0,
        tree: t,
    };
    let mut s = Store::open_in_memory().unwrap();
    s.ingest_snapshots(&[snap], &LifecycleSettings::default())
        .unwrap();
    s
}

/// A store holding `n` signals, each from its own container.
fn signal_store(n: usize) -> Store {
    let mut s = Store::open_in_memory().unwrap();
    s.settings.rate_limit = u32::MAX;
    let _ = s.batch(|s| {
        for i in 0..n {
            let c = container(i);
            let e = ev(
                &c,
                &["/usr/sbin/nginx".into(), format!("/usr/bin/tool{i}")],
                EventKind::Exec,
                T0 + i as i64,
            );
            let sig =
                NewSignal::from_event(&e, SignalKind::Rule, "r", "high", "T1059", String::new());
            s.add_signal(&sig, T0 + i as i64).unwrap();
        }
    });
    s
}

fn frame(term: &mut Terminal<TestBackend>, app: &App) -> Duration {
    let t = Instant::now();
    term.draw(|f| wsprof_tui::view::draw(f, app)).unwrap();
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// (open or refresh, key + frame) medians over `runs`.
fn measure(store: &mut Store, open: &[Action], runs: usize) -> (Duration, Duration) {
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let mut opens = Vec::new();
    let mut keys = Vec::new();
    for _ in 0..runs {
        let mut app = App::new(Keymap::builtin());
        let t = Instant::now();
        app.refresh(store).unwrap();
        for a in open {
            app.apply(*a, store);
        }
        frame(&mut term, &app);
        opens.push(t.elapsed());
        let t = Instant::now();
        app.apply(Action::Down, store);
        frame(&mut term, &app);
        keys.push(t.elapsed());
    }
    (median(opens), median(keys))
}

fn main() {
    println!("| screen | data | open + first frame | key + frame | baseline (same screen, small) | key + frame ratio |");
    println!("|---|---|---|---|---|---|");
    let runs = 5;
    let (ob, kb) = measure(&mut profile_store(10, 100), &[Action::Open], runs);
    let (o, k) = measure(&mut profile_store(100, 1_000), &[Action::Open], runs);
    println!(
        "| profile | 100,100 nodes | {} | {} | 1,010 nodes: {} / {} | {:.1}x |",
        ms(o),
        ms(k),
        ms(ob),
        ms(kb),
        k.as_secs_f64() / kb.as_secs_f64()
    );
    let (ob, kb) = measure(&mut signal_store(1_000), &[Action::Signals], runs);
    let (o, k) = measure(&mut signal_store(1_000_000), &[Action::Signals], runs);
    println!(
        "| signal queue | 1,000,000 signals (newest page loaded) | {} | {} | 1,000 signals: {} / {} | {:.1}x |",
        ms(o),
        ms(k),
        ms(ob),
        ms(kb),
        k.as_secs_f64() / kb.as_secs_f64()
    );
}
