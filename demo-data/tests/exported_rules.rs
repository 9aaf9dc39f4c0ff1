//! The rules exported from the demo's Stable profiles (`wsprof profile export --format
//! rules`), run over the demo's event stream: they flag what the outlier containers do
//! and nothing that a normal container does.

use demo_data::{generate, SEED};
use model::export::{export, ExportContext, ExportFormat};
use model::rule::{RuleFormat, RuleSet};
use model::{LifecycleSettings, Profile, ProfileStatus};
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn exported_rules_flag_the_outliers_and_no_normal_container() {
    let b = generate(SEED);
    let settings = LifecycleSettings::default();
    let mut profiles: BTreeMap<(String, String), Profile> = BTreeMap::new();
    for s in &b.snapshots {
        let id = (s.container.image.clone(), s.container.version.clone());
        let p = profiles
            .entry(id.clone())
            .or_insert_with(|| Profile::new(&id.0, &id.1));
        let _ = p.merge(s, &settings);
    }
    let defaults = RuleSet::defaults();
    let mut exported = RuleSet::defaults();
    let mut stable = BTreeSet::new();
    for (id, p) in &mut profiles {
        p.refresh_status(b.span_ms().1, &settings);
        if p.status != ProfileStatus::Stable {
            continue;
        }
        stable.insert(id.clone());
        let text = export(p, &ExportContext::default(), ExportFormat::Rules, false).unwrap();
        let origin = format!("{}:{}.yaml", id.0, id.1);
        let rules = RuleSet::parse_with_macros(&text, RuleFormat::Yaml, &origin, defaults.macros())
            .unwrap_or_else(|e| panic!("{e}"));
        exported.merge(rules).unwrap();
    }
    assert!(stable.len() >= 6, "{stable:?}");
    let mut flagged: BTreeMap<String, usize> = BTreeMap::new();
    for e in &b.events {
        let id = (e.container.image.clone(), e.container.version.clone());
        if !stable.contains(&id) {
            continue;
        }
        if exported
            .matching(e)
            .any(|r| r.id.starts_with("outside-profile-"))
        {
            *flagged.entry(e.container.id.clone()).or_default() += 1;
        }
    }
    // The three outlier replicas (nginx 1.25.3, payments-api 2.4.1, redis 7.0.15) and
    // nothing else: everything a normal container does is in its profile.
    let outliers: BTreeSet<String> = b
        .snapshots
        .iter()
        .filter(|s| {
            s.tree.nodes().iter().any(|n| {
                ["/tmp/kworkerd", "/dev/shm/.x", "/tmp/exp.so"].contains(&n.label.as_str())
            })
        })
        .map(|s| s.container.id.clone())
        .collect();
    assert_eq!(outliers.len(), 3, "{outliers:?}");
    assert_eq!(
        flagged.keys().cloned().collect::<BTreeSet<_>>(),
        outliers,
        "flagged: {flagged:?}"
    );
    assert!(flagged.values().all(|n| *n >= 5), "{flagged:?}");
}
