//! Data-driven tests of the default ruleset: every rule in `rules/default.toml` must have
//! cases in `rules/default.tests.toml`, fire on each of its `fire` events and stay quiet on
//! each of its `miss` events (near misses).

use super::{RuleFormat, RuleSet};
use crate::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

const CASES: &str = include_str!("../../../rules/default.tests.toml");
const EXAMPLE_USER_RULES: &str = include_str!("../../../rules/example-user-rules.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    rule: String,
    fire: Vec<CaseEvent>,
    miss: Vec<CaseEvent>,
}

/// A compact event: `kind` plus the fields that kind needs; process and container fields
/// have defaults.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct CaseEvent {
    kind: String,
    #[serde(default = "default_exe")]
    exe: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    ancestors: Vec<String>,
    #[serde(default = "default_id")]
    uid: u32,
    #[serde(default = "default_id")]
    gid: u32,
    #[serde(default = "default_image")]
    image: String,
    path: Option<String>,
    to: Option<String>,
    #[serde(default)]
    access: Vec<String>,
    mode: Option<u32>,
    name: Option<String>,
    qtype: Option<String>,
    addr: Option<String>,
    port: Option<u16>,
    request: Option<u32>,
    cmd: Option<u32>,
    /// Target uid/gid of setuid/setgid.
    to_id: Option<u32>,
    source: Option<String>,
    target: Option<String>,
    fstype: Option<String>,
    /// A failed open's errno (0: the open succeeded).
    #[serde(default)]
    errno: u16,
    /// The kernel marked the executable as having no link left (memfd, deleted).
    #[serde(default)]
    fileless: bool,
}

fn default_exe() -> String {
    "/usr/local/bin/app".into()
}
fn default_id() -> u32 {
    1000
}
fn default_image() -> String {
    "demo/web".into()
}

impl CaseEvent {
    fn to_event(&self) -> Event {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let access = self.access.iter().fold(Access::default(), |a, n| {
            a.union(Access::from_name(n).unwrap_or_else(|| panic!("unknown access {n}")))
        });
        let addr = s(&self.addr);
        let family = if addr.starts_with('/') {
            "unix"
        } else if addr.contains(':') {
            "inet6"
        } else {
            "inet"
        }
        .to_string();
        let kind = match self.kind.as_str() {
            "exec" => EventKind::Exec,
            "open" => EventKind::Open {
                path: s(&self.path),
                access,
                errno: self.errno,
                requested: None,
            },
            "unlink" => EventKind::Unlink {
                path: s(&self.path),
            },
            "rename" => EventKind::Rename {
                from: s(&self.path),
                to: s(&self.to),
            },
            "chmod" => EventKind::Chmod {
                path: s(&self.path),
                mode: self.mode.unwrap_or(0o644),
            },
            "dns" => EventKind::Dns {
                name: s(&self.name),
                qtype: self.qtype.clone().unwrap_or_else(|| "A".into()),
            },
            "connect" => EventKind::Connect {
                family,
                addr,
                port: self.port.unwrap_or(443),
            },
            "bind" => EventKind::Bind {
                family,
                addr,
                port: self.port.unwrap_or(8080),
            },
            "ptrace" => EventKind::Ptrace {
                request: self.request.unwrap_or(0),
                target_pid: 42,
            },
            "load_module" => EventKind::ModuleLoad {
                name: s(&self.name),
            },
            "bpf" => EventKind::Bpf {
                cmd: self.cmd.unwrap_or(0),
            },
            "mount" => EventKind::Mount {
                source: s(&self.source),
                target: s(&self.target),
                fstype: s(&self.fstype),
            },
            "setuid" => EventKind::Setuid {
                uid: self.to_id.unwrap_or(0),
            },
            "setgid" => EventKind::Setgid {
                gid: self.to_id.unwrap_or(0),
            },
            "memfd_create" => EventKind::MemfdCreate {
                name: s(&self.name),
            },
            "capset" => EventKind::Capset,
            "io_uring_setup" => EventKind::IoUringSetup { entries: 8 },
            other => panic!("test case kind `{other}` not supported"),
        };
        let args = if self.args.is_empty() {
            vec![crate::event::base_name(&self.exe).to_string()]
        } else {
            self.args.clone()
        };
        Event {
            ts_ms: 0,
            container: ContainerRef {
                id: "c0ffee".into(),
                image: self.image.clone(),
                version: "1.0".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                pid: 100,
                exec_path: self.exe.clone(),
                args,
                uid: self.uid,
                gid: self.gid,
                ancestors: self.ancestors.clone(),
                fileless: self.fileless,
                ..Default::default()
            },
            kind,
        }
    }
}

fn cases() -> Vec<Case> {
    let file: CaseFile = toml::from_str(CASES).expect("rules/default.tests.toml parses");
    file.cases
}

#[test]
fn default_ruleset_loads_with_enough_rules() {
    let set = RuleSet::defaults();
    assert!(set.len() >= 55, "only {} default rules", set.len());
    for r in set.rules() {
        assert!(r.mitre.is_some(), "{} has no MITRE technique", r.id);
        assert!(!r.tags.is_empty(), "{} has no tags", r.id);
        assert!(!r.description.is_empty(), "{} has no description", r.id);
        assert!(
            !r.expression.kinds().is_empty(),
            "{} can never match any event kind",
            r.id
        );
    }
}

#[test]
fn every_default_rule_has_cases_and_no_case_is_orphaned() {
    let set = RuleSet::defaults();
    let ids: BTreeSet<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
    let mut with_cases: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let cases = cases();
    for c in &cases {
        assert!(
            ids.contains(c.rule.as_str()),
            "cases for unknown rule `{}`",
            c.rule
        );
        let e = with_cases.entry(c.rule.as_str()).or_default();
        e.0 += c.fire.len();
        e.1 += c.miss.len();
    }
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| !with_cases.get(*id).is_some_and(|(f, m)| *f > 0 && *m > 0))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a fire and a miss case: {missing:?}"
    );
}

#[test]
fn default_rules_fire_on_their_events_and_not_on_near_misses() {
    let set = RuleSet::defaults();
    let mut failures = Vec::new();
    for c in cases() {
        let rule = set.get(&c.rule).expect("checked by the other test");
        for ev in &c.fire {
            let event = ev.to_event();
            if !rule.matches(&event) {
                failures.push(format!("{} did not fire on {ev:?}", c.rule));
            }
            // The rule set as a whole must report it too (kind pre-filter included).
            if !set.matching(&event).any(|r| r.id == c.rule) {
                failures.push(format!("{}: RuleSet::matching missed {ev:?}", c.rule));
            }
        }
        for ev in &c.miss {
            if rule.matches(&ev.to_event()) {
                failures.push(format!("{} fired on near miss {ev:?}", c.rule));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn disabled_rules_do_not_match() {
    let mut set = RuleSet::defaults();
    let case = cases().into_iter().next().expect("at least one case");
    let ev = case.fire[0].to_event();
    assert!(set.matching(&ev).any(|r| r.id == case.rule));
    assert!(set.set_enabled(&case.rule, false));
    assert!(!set.matching(&ev).any(|r| r.id == case.rule));
    assert!(!set.set_enabled("no-such-rule", false));
}

#[test]
fn example_user_rules_load_and_extend_defaults() {
    let user = RuleSet::parse_with_macros(
        EXAMPLE_USER_RULES,
        RuleFormat::Yaml,
        "rules/example-user-rules.yaml",
        RuleSet::defaults().macros(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(user.len() >= 2);
    let mut set = RuleSet::defaults();
    let before = set.len();
    set.extend_from_text(
        EXAMPLE_USER_RULES,
        RuleFormat::Yaml,
        "rules/example-user-rules.yaml",
    )
    .unwrap();
    let overridden = user
        .rules()
        .iter()
        .filter(|r| RuleSet::defaults().get(&r.id).is_some())
        .count();
    assert_eq!(set.len(), before + user.len() - overridden);
    for r in user.rules() {
        assert_eq!(
            set.get(&r.id).unwrap().origin,
            "rules/example-user-rules.yaml"
        );
    }
}

#[test]
fn kind_index_agrees_with_evaluating_every_rule() {
    let set = RuleSet::defaults();
    for c in cases() {
        for ev in c.fire.iter().chain(&c.miss).map(CaseEvent::to_event) {
            let indexed: Vec<&str> = set.matching(&ev).map(|r| r.id.as_str()).collect();
            let brute: Vec<&str> = set
                .rules()
                .iter()
                .filter(|r| r.enabled && r.expression.expr().matches(&ev))
                .map(|r| r.id.as_str())
                .collect();
            assert_eq!(indexed, brute, "{}", ev.summary());
        }
    }
}
