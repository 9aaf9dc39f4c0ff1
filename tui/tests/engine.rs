//! The engine replays the real demo bundle into a real DuckDB file while the UI side reads
//! the same store, as `wsprof demo` does.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use wsprof_tui::engine::{spawn_demo, Engine, Speed};

#[test]
fn reads_during_replay_see_consistent_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::Store::open(&dir.path().join("demo.duckdb")).unwrap();
    let engine = Engine::start(store, model::rule::RuleSet::defaults());
    let bundle = Arc::new(demo_data::Bundle::load_embedded().unwrap());
    let images: std::collections::BTreeSet<String> = bundle
        .snapshots
        .iter()
        .map(|s| s.container.image.clone())
        .collect();
    let feeder = spawn_demo(
        bundle.clone(),
        Speed::Max,
        engine.sender(),
        engine.status_handle(),
        Arc::new(AtomicBool::new(false)),
    );
    let shared = engine.store();
    let mut reads = 0;
    while !engine.status().feed_done {
        {
            let s = shared.lock().unwrap();
            let ps = s.profiles().unwrap();
            for p in &ps {
                assert!(
                    images.contains(&p.image),
                    "read {reads}: unknown image {:?} in {ps:?}",
                    p.image
                );
                assert!(
                    p.status == "learning" || p.status == "stable",
                    "read {reads}: {p:?}"
                );
            }
            let _ = s.signals(&store::SignalFilter::default()).unwrap();
        }
        reads += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    feeder.join().unwrap();
    let st = engine.shutdown();
    assert!(st.error.is_none(), "{:?}", st.error);
    assert!(reads > 0);
}
