//! The demo bundle: deterministic, up to date, and holding what the demo needs to show.

use demo_data::clock::{BASE_MS, HOUR_MS};
use demo_data::{generate, secrets, Bundle, BundleError, TimelineItem, SEED};
use model::rule::RuleSet;
use model::signal::{anomaly, suggest, trigger_node, DEFAULT_SUGGESTION_THRESHOLD};
use model::snapshot::Snapshot;
use model::{Event, EventKind, LifecycleSettings, NetClass, Profile, ProfileStatus};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

const BUNDLE_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bundle.json.gz");

fn bundle() -> &'static Bundle {
    static B: OnceLock<Bundle> = OnceLock::new();
    B.get_or_init(|| generate(SEED))
}

type ProfileId = (String, String);

fn profile_id(s: &Snapshot) -> ProfileId {
    (s.container.image.clone(), s.container.version.clone())
}

fn by_profile(b: &Bundle) -> BTreeMap<ProfileId, Vec<&Snapshot>> {
    let mut m: BTreeMap<ProfileId, Vec<&Snapshot>> = BTreeMap::new();
    for s in &b.snapshots {
        m.entry(profile_id(s)).or_default().push(s);
    }
    m
}

fn never_stable() -> LifecycleSettings {
    LifecycleSettings {
        stable_after_snapshots: u32::MAX,
        stable_after_ms: i64::MAX,
    }
}

/// Processes of outlier episodes, by image version: `(image, version, exec path, argv)`.
fn outlier_procs() -> BTreeSet<(String, String, String, Vec<String>)> {
    let mut out = BTreeSet::new();
    for d in demo_data::fleet::deployments(SEED) {
        let mut m = d.model;
        let before = m.procs.len();
        demo_data::outliers::for_model(&mut m);
        for p in &m.procs[before..] {
            out.insert((
                m.image.to_string(),
                m.version.to_string(),
                p.path.clone(),
                p.args.clone(),
            ));
        }
    }
    out
}

/// Whether an event is done by a process of an outlier episode.
fn is_outlier_event(procs: &BTreeSet<(String, String, String, Vec<String>)>, e: &Event) -> bool {
    procs.contains(&(
        e.container.image.clone(),
        e.container.version.clone(),
        e.process.exec_path.clone(),
        e.process.args.clone(),
    ))
}

/// Containers with an outlier episode.
fn outlier_containers(b: &Bundle) -> BTreeSet<String> {
    let procs = outlier_procs();
    b.events
        .iter()
        .filter(|e| is_outlier_event(&procs, e))
        .map(|e| e.container.id.clone())
        .collect()
}

#[test]
fn generator_is_deterministic_to_the_byte() {
    let a = generate(SEED).to_gzip();
    let b = generate(SEED).to_gzip();
    assert_eq!(a, b);
    assert_ne!(generate(SEED ^ 1).to_json(), bundle().to_json());
    assert_eq!(bundle().generated_with_seed, SEED);
}

#[test]
fn checked_in_bundle_is_generate_of_seed() {
    let hint = "demo-data/bundle.json.gz is stale: run `cargo run -p demo-data --bin gen-demo`";
    let on_disk = Bundle::load(Path::new(BUNDLE_FILE)).expect("the checked-in bundle loads");
    assert!(on_disk == *bundle(), "{hint}");
    let embedded = Bundle::load_embedded().expect("the embedded bundle loads");
    assert!(embedded == *bundle(), "{hint}");
    let size = std::fs::metadata(BUNDLE_FILE).unwrap().len();
    assert!(size < 5 * 1024 * 1024, "bundle is {size} bytes");
}

#[test]
fn at_least_six_images_with_two_versions() {
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (image, version) in by_profile(bundle()).keys() {
        versions
            .entry(image.clone())
            .or_default()
            .insert(version.clone());
    }
    assert!(versions.len() >= 6, "{versions:?}");
    for (image, v) in &versions {
        assert!(v.len() >= 2, "{image} has versions {v:?}");
    }
}

#[test]
fn some_profiles_reach_200_snapshots_and_some_stay_below() {
    let counts: Vec<(ProfileId, usize)> = by_profile(bundle())
        .into_iter()
        .map(|(k, v)| (k, v.len()))
        .collect();
    let big = counts.iter().filter(|(_, n)| *n >= 200).count();
    let small = counts.iter().filter(|(_, n)| *n < 200).count();
    assert!(big >= 3 && small >= 3, "{counts:?}");
}

#[test]
fn lifecycle_under_default_settings_at_the_end_of_the_span() {
    let settings = LifecycleSettings::default();
    let (_, end) = bundle().span_ms();
    let mut stable_by_count = 0;
    let mut learning = 0;
    for ((image, version), snaps) in by_profile(bundle()) {
        let mut p = Profile::new(&image, &version);
        for s in snaps {
            let _ = p.merge(s, &settings);
        }
        match p.refresh_status(end, &settings) {
            ProfileStatus::Stable if p.snapshot_count >= 200 => stable_by_count += 1,
            ProfileStatus::Stable => {}
            ProfileStatus::Learning => learning += 1,
        }
    }
    assert!(stable_by_count >= 3, "{stable_by_count} Stable by count");
    assert!(learning >= 3, "{learning} still Learning at the end");
}

#[test]
fn span_is_about_three_days_from_the_base_time() {
    let (lo, hi) = bundle().span_ms();
    assert!((BASE_MS..BASE_MS + HOUR_MS).contains(&lo), "{lo}");
    assert!(
        hi <= BASE_MS + 72 * HOUR_MS && hi > BASE_MS + 70 * HOUR_MS,
        "{hi}"
    );
    for s in &bundle().snapshots {
        assert!(s.validate().is_ok(), "{}", s.id);
        assert!(s.ended_ms - s.started_ms <= 30 * 60 * 1000, "{}", s.id);
    }
}

#[test]
fn timeline_is_ordered_and_complete() {
    let b = bundle();
    let t = b.timeline();
    assert_eq!(t.len(), b.snapshots.len() + b.events.len());
    for w in t.windows(2) {
        assert!(w[0].ts_ms() <= w[1].ts_ms());
        if w[0].ts_ms() == w[1].ts_ms() {
            // ties: snapshots first
            assert!(
                !matches!(
                    (w[0], w[1]),
                    (TimelineItem::Event(_), TimelineItem::Snapshot(_))
                ),
                "event before snapshot at the same time"
            );
        }
    }
    assert!(b.events.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
    assert!(b
        .snapshots
        .windows(2)
        .all(|w| w[0].ended_ms <= w[1].ended_ms));
}

#[test]
fn timeline_tie_break_is_snapshot_first_then_bundle_order() {
    let mut b = bundle().clone();
    b.snapshots.truncate(2);
    b.events.truncate(2);
    let t0 = b.snapshots[0].ended_ms;
    b.snapshots[1].ended_ms = t0;
    for e in &mut b.events {
        e.ts_ms = t0;
    }
    let t = b.timeline();
    assert!(matches!(t[0], TimelineItem::Snapshot(s) if s.id == b.snapshots[0].id));
    assert!(matches!(t[1], TimelineItem::Snapshot(s) if s.id == b.snapshots[1].id));
    assert!(matches!(t[2], TimelineItem::Event(e) if std::ptr::eq(e, &b.events[0])));
    assert!(matches!(t[3], TimelineItem::Event(e) if std::ptr::eq(e, &b.events[1])));
}

#[test]
fn no_secret_reaches_the_bundle() {
    // not vacuous: the generator's command lines carry every secret
    let argv: String = demo_data::fleet::deployments(SEED)
        .iter()
        .flat_map(|d| d.model.procs.iter().flat_map(|p| p.args.clone()))
        .collect::<Vec<_>>()
        .join(" ");
    for s in secrets::ALL {
        assert!(argv.contains(s), "the generator does not use {s}");
    }
    let snapshots = serde_json::to_string(&bundle().snapshots).unwrap();
    let events = serde_json::to_string(&bundle().events).unwrap();
    for s in secrets::ALL {
        assert!(!snapshots.contains(s), "{s} in the snapshots");
        assert!(!events.contains(s), "{s} in the events");
    }
    assert!(snapshots.contains("postgres://backup:***@localhost:5432/app"));
    assert!(events.contains("--db-password=***"));
}

#[test]
fn temp_names_are_folded_in_snapshots() {
    let nightly: Vec<&Snapshot> = bundle()
        .snapshots
        .iter()
        .filter(|s| s.container.image == "acme/nightly-report")
        .collect();
    assert!(!nightly.is_empty());
    for s in nightly {
        let keys: Vec<String> = s.tree.nodes().into_iter().map(|n| n.key.0).collect();
        assert!(keys.iter().any(|k| k.ends_with("|f:/tmp/*")), "{keys:?}");
        assert!(
            keys.iter().any(|k| k.ends_with("|f:/tmp/*.csv")),
            "{keys:?}"
        );
        assert!(!keys.iter().any(|k| k.contains("/tmp/tmp.")), "{keys:?}");
    }
}

#[test]
fn events_are_consistent_with_the_snapshots() {
    let b = bundle();
    let mut by_container: HashMap<&str, Vec<&Snapshot>> = HashMap::new();
    for s in &b.snapshots {
        by_container.entry(&s.container.id).or_default().push(s);
    }
    for e in &b.events {
        let snaps = &by_container[e.container.id.as_str()];
        let s = snaps
            .iter()
            .find(|s| s.started_ms <= e.ts_ms && e.ts_ms < s.ended_ms)
            .unwrap_or_else(|| panic!("no snapshot of {} covers {}", e.container.id, e.ts_ms));
        assert_eq!(s.container, e.container);
        let node = trigger_node(e);
        assert!(
            s.tree.nodes().iter().any(|n| n.key == node),
            "{} not in snapshot {}",
            node,
            s.id
        );
    }
}

#[test]
fn commonality_spreads_across_the_range() {
    for ((image, version), snaps) in by_profile(bundle()) {
        let mut p = Profile::new(&image, &version);
        for s in &snaps {
            p.merge(s, &never_stable()).unwrap();
        }
        let c: Vec<f64> = p.nodes.keys().map(|k| p.node_commonality(k)).collect();
        let high = c.iter().filter(|x| **x > 0.9).count();
        let mid = c.iter().filter(|x| (0.3..=0.8).contains(*x)).count();
        let low = c.iter().filter(|x| **x < 0.1).count();
        assert!(
            high > 0 && mid > 0 && low > 0,
            "{image}:{version}: {high} nodes > 90%, {mid} in 30-80%, {low} < 10% of {}",
            c.len()
        );
    }
}

#[test]
fn outlier_behaviour_is_in_the_events() {
    let b = bundle();
    let has = |f: &dyn Fn(&Event) -> bool| b.events.iter().any(f);
    assert!(has(
        &|e| e.kind == EventKind::Exec && e.process.exec_path == "/bin/bash"
    ));
    assert!(has(
        &|e| e.kind == EventKind::Exec && e.process.exec_path == "/usr/bin/nc"
    ));
    assert!(has(
        &|e| matches!(&e.kind, EventKind::Open { path, .. } if path == "/etc/shadow")
    ));
    assert!(has(
        &|e| matches!(&e.kind, EventKind::Dns { name, .. } if name == "xmr.pool.minexmr.com")
    ));
    assert!(has(&|e| matches!(&e.kind,
        EventKind::Connect { addr, port: 4444, .. } if NetClass::of_addr(addr) == NetClass::Public)));
    assert!(has(&|e| e.container.image == "acme/payments-api"
        && e.process.args.first().is_some_and(|a| a == "apt-get")
        && e.process.args.iter().any(|a| a == "install")));
    assert!(has(
        &|e| e.container.image == "acme/payments-api" && e.process.args.join(" ").contains("| sh")
    ));
    assert_eq!(outlier_containers(b).len(), 3);
}

/// Replays the bundle the way the demo does (snapshots merged into profiles with the
/// default lifecycle, events through the default rules) and checks what a person sees.
#[test]
fn replay_gives_suggestions_rare_signals_and_anomalies() {
    let b = bundle();
    let rules = RuleSet::defaults();
    let settings = LifecycleSettings::default();
    let outliers = outlier_procs();
    let outlier_ids = outlier_containers(b);
    let mut profiles: BTreeMap<ProfileId, Profile> = BTreeMap::new();
    let mut suggested = BTreeSet::new();
    let mut unsuggested_normal = BTreeSet::new();
    let mut outlier_suggested = Vec::new();
    let mut outlier_signals = 0;
    let mut outlier_anomalies = 0;
    let mut normal_anomalies = Vec::new();
    for item in b.timeline() {
        match item {
            TimelineItem::Snapshot(s) => {
                let id = profile_id(s);
                let p = profiles
                    .entry(id.clone())
                    .or_insert_with(|| Profile::new(&id.0, &id.1));
                let _ = p.merge(s, &settings);
            }
            TimelineItem::Event(e) => {
                let id = (e.container.image.clone(), e.container.version.clone());
                let Some(p) = profiles.get_mut(&id) else {
                    continue;
                };
                p.refresh_status(e.ts_ms, &settings);
                let is_outlier = is_outlier_event(&outliers, e);
                let node = trigger_node(e);
                for rule in rules.matching(e) {
                    let s = suggest(&node, p, DEFAULT_SUGGESTION_THRESHOLD);
                    match (is_outlier, s.is_some()) {
                        (false, true) => {
                            suggested.insert((rule.id.clone(), id.0.clone()));
                        }
                        (false, false) if p.snapshot_count >= 50 => {
                            unsuggested_normal.insert((rule.id.clone(), id.0.clone()));
                        }
                        (true, true) => outlier_suggested.push((rule.id.clone(), e.summary())),
                        _ => {}
                    }
                    if is_outlier && s.is_none() {
                        outlier_signals += 1;
                    }
                }
                if let Some(why) = anomaly(e, p) {
                    if outlier_ids.contains(&e.container.id) {
                        outlier_anomalies += 1;
                    } else {
                        normal_anomalies.push(format!("{}:{} {} ({why})", id.0, id.1, e.summary()));
                    }
                }
            }
        }
    }
    let images = |set: &BTreeSet<(String, String)>| {
        set.iter()
            .map(|(_, image)| image.clone())
            .collect::<BTreeSet<_>>()
    };
    assert!(
        images(&suggested).len() >= 3,
        "rules with suggestions: {suggested:?}"
    );
    assert!(
        !unsuggested_normal.is_empty(),
        "rare normal behaviour should raise signals without suggestion"
    );
    assert!(outlier_signals >= 10, "{outlier_signals} outlier signals");
    assert!(
        outlier_suggested.is_empty(),
        "outlier signals with a suggestion: {outlier_suggested:?}"
    );
    assert!(
        outlier_anomalies >= 10,
        "{outlier_anomalies} outlier anomalies"
    );
    assert!(
        normal_anomalies.is_empty(),
        "{} anomalies from normal containers, e.g. {:?}",
        normal_anomalies.len(),
        &normal_anomalies[..normal_anomalies.len().min(5)]
    );
}

#[test]
fn outliers_start_after_their_profile_is_stable() {
    let b = bundle();
    let outliers = outlier_procs();
    let settings = LifecycleSettings::default();
    for ((image, version), snaps) in by_profile(b) {
        let mut p = Profile::new(&image, &version);
        let mut stable_at = None;
        for s in snaps {
            if p.merge(s, &settings).is_err() || p.status == ProfileStatus::Stable {
                stable_at.get_or_insert(s.ended_ms);
            }
        }
        let first_deviation = b
            .events
            .iter()
            .filter(|e| e.container.image == image && e.container.version == version)
            .filter(|e| is_outlier_event(&outliers, e))
            .map(|e| e.ts_ms)
            .min();
        if let Some(t) = first_deviation {
            let stable_at = stable_at.unwrap_or_else(|| panic!("{image}:{version} never Stable"));
            assert!(t > stable_at, "{image}:{version} deviates before Stable");
        }
    }
}

#[test]
fn load_refuses_corrupt_and_wrong_version_files_naming_them() {
    let dir = std::env::temp_dir().join(format!("demo-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let small = Bundle {
        snapshots: bundle().snapshots[..3].to_vec(),
        events: bundle().events[..3].to_vec(),
        generated_with_seed: 9,
    };
    let good = write("good.json.gz", &small.to_gzip());
    assert_eq!(Bundle::load(&good).unwrap(), small);

    let not_gzip = write("plain.json", small.to_json().as_bytes());
    let err = Bundle::load(&not_gzip).unwrap_err();
    assert!(matches!(err, BundleError::Gzip { .. }), "{err}");
    assert!(err.to_string().contains("plain.json"), "{err}");

    let gz = |text: String| {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap()
    };
    let v2 = write(
        "v2.json.gz",
        &gz(small
            .to_json()
            .replacen("\"version\":1", "\"version\":2", 1)),
    );
    let err = Bundle::load(&v2).unwrap_err();
    assert!(
        matches!(err, BundleError::WrongVersion { found: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("v2.json.gz"), "{err}");

    let other = write(
        "other.json.gz",
        &gz(small
            .to_json()
            .replacen("wsprof-demo-bundle", "wsprof-snapshots", 1)),
    );
    let err = Bundle::load(&other).unwrap_err();
    assert!(matches!(err, BundleError::WrongFormat { .. }), "{err}");

    let truncated = write("cut.json.gz", &gz(small.to_json()[..200].to_string()));
    let err = Bundle::load(&truncated).unwrap_err();
    assert!(matches!(err, BundleError::Json { .. }), "{err}");
    assert!(err.to_string().contains("cut.json.gz"), "{err}");

    let bad_snapshot = write(
        "bad.json.gz",
        &gz(small.to_json().replacen(
            &format!("\"id\":\"{}\"", small.snapshots[0].id),
            "\"id\":\"\"",
            1,
        )),
    );
    let err = Bundle::load(&bad_snapshot).unwrap_err();
    assert!(
        matches!(err, BundleError::InvalidSnapshot { index: 0, .. }),
        "{err}"
    );

    let missing = dir.join("missing.json.gz");
    let err = Bundle::load(&missing).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.json.gz"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
