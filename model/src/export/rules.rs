//! A wsprof rules file (YAML) that flags anything a container of the profile's image
//! version does outside the profile: an exec of a process lineage it never ran, a file,
//! DNS question, connection or bind, or kernel activity that the process never had. It
//! needs no store: load it with `--rules FILE` on any host.
//!
//! The profile becomes macros: `<prefix>_scope` (image and version), one condition per
//! process lineage (`<prefix>_p3`: its path and its exact ancestors), the files and DNS
//! names of each process as lists, and what each process is known to do. Five rules (exec,
//! file, dns, network, kernel) fire when an event of the image version is not known.
//! Folded path parts (`/proc/*/status`, temp names) match as globs; file access kinds and
//! remote addresses within a class are not compared (the profile keeps neither).

use super::yaml_with_header;
use crate::profile::Profile;
use crate::rule::write_str_literal;
use crate::tree::{parse_net_label, NodeKey, NodeKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// Most terms joined with `||` in one expression (the parser allows 1000 operators).
const CHUNK: usize = 250;

const FILE_KINDS: &str = r#"["open", "unlink", "rename", "chmod", "chown", "mkdir"]"#;
const NET_KINDS: &str = r#"["connect", "bind"]"#;
const KERNEL_KINDS: &str =
    r#"["ptrace", "load_module", "bpf", "mount", "setuid", "setgid", "capset", "memfd_create"]"#;

#[derive(Serialize)]
#[serde(untagged)]
enum MacroOut {
    List(Vec<String>),
    Expr(String),
}

#[derive(Serialize)]
struct RuleOut {
    id: String,
    description: String,
    expression: String,
    severity: &'static str,
    tags: Vec<&'static str>,
}

#[derive(Serialize)]
struct FileOut {
    macros: BTreeMap<String, MacroOut>,
    rules: Vec<RuleOut>,
}

fn lit(s: &str) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_str_literal(&mut out, s);
    out
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| lit(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// `a || b || ...`, split into macros named `name_0`, `name_1`, ... when long.
fn or_chain(macros: &mut BTreeMap<String, MacroOut>, name: &str, terms: Vec<String>) -> String {
    if terms.len() <= CHUNK {
        return terms.join(" || ");
    }
    let mut parts = Vec::new();
    for (j, chunk) in terms.chunks(CHUNK).enumerate() {
        let n = format!("{name}_{j}");
        macros.insert(n.clone(), MacroOut::Expr(chunk.join(" || ")));
        parts.push(n);
    }
    or_chain(macros, &format!("{name}_"), parts)
}

/// The condition an event meets when it is this network node.
fn net_term(label: &str) -> Option<String> {
    let n = parse_net_label(label)?;
    Some(if n.op == "bind" {
        format!(
            "(bind.addr.family == {} && bind.addr.port == {})",
            lit(&n.family),
            n.port
        )
    } else {
        format!(
            "(connect.addr.family == {} && connect.addr.port == {} && connect.addr.class == {})",
            lit(&n.family),
            n.port,
            lit(n.class.as_str())
        )
    })
}

/// The condition an event meets when it is this kernel node (`setuid 1000`, ...).
fn kernel_term(label: &str) -> Option<String> {
    let (op, detail) = label.split_once(' ').unwrap_or((label, ""));
    let num = |prefix: &str| {
        detail
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<i64>().ok())
    };
    Some(match op {
        "ptrace" => format!("ptrace.request == {}", num("request ")?),
        "bpf" => format!("bpf.cmd == {}", num("cmd ")?),
        "setuid" => format!("setuid.uid == {}", num("")?),
        "setgid" => format!("setgid.gid == {}", num("")?),
        "capset" => "event.kind == \"capset\"".to_string(),
        "load_module" => format!(
            "(load_module.name == {} || load_module.name ~ {})",
            lit(detail),
            lit(&format!("**/{detail}"))
        ),
        "memfd_create" => format!("memfd_create.name ~ {}", lit(detail)),
        "mount" => {
            let (fs, target) = detail.split_once(" on ")?;
            format!(
                "(mount.fs_type == {} && mount.mountpoint.path ~ {})",
                lit(fs),
                lit(target)
            )
        }
        _ => return None,
    })
}

/// Lowercase words joined by `sep`: `acme/web:1.0` -> `acme-web-1-0`.
fn slug(text: &str, sep: char) -> String {
    let mut out = String::new();
    for c in text.to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(sep) {
            out.push(sep);
        }
    }
    out.trim_end_matches(sep).to_string()
}

/// The rules file, as YAML with a comment header.
pub fn render(profile: &Profile) -> String {
    let name = profile.name();
    let id = slug(&name, '-');
    let m = format!("wsprof_{}", slug(&name, '_'));
    let mut macros: BTreeMap<String, MacroOut> = BTreeMap::new();
    macros.insert(
        format!("{m}_scope"),
        MacroOut::Expr(format!(
            "container.image.name == {} && container.image.version == {}",
            lit(&profile.image),
            lit(&profile.version)
        )),
    );
    // Leaves grouped under their process, processes by key.
    let mut leaves: BTreeMap<&NodeKey, Vec<(NodeKind, &str)>> = BTreeMap::new();
    let processes: Vec<&NodeKey> = profile
        .nodes
        .iter()
        .filter(|(_, s)| s.kind == NodeKind::Process)
        .map(|(k, _)| k)
        .collect();
    let parent_of: BTreeMap<NodeKey, &NodeKey> =
        processes.iter().map(|k| ((*k).clone(), *k)).collect();
    for (k, s) in &profile.nodes {
        if s.kind == NodeKind::Process {
            continue;
        }
        if let Some(p) = k.parent().and_then(|p| parent_of.get(&p).copied()) {
            leaves
                .entry(p)
                .or_default()
                .push((s.kind, s.label.as_str()));
        }
    }
    let (mut exec, mut file, mut dns, mut net, mut kernel) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, k) in processes.iter().enumerate() {
        let p = format!("{m}_p{i}");
        let mut lineage = k.lineage();
        let path = lineage.pop().unwrap_or_default();
        lineage.reverse();
        macros.insert(
            p.clone(),
            MacroOut::Expr(format!(
                "process.file.path ~ {} && process.ancestors.file.path == {}",
                lit(&path),
                list(&lineage)
            )),
        );
        exec.push(p.clone());
        let of = |kind: NodeKind| -> Vec<String> {
            leaves
                .get(k)
                .map(|v| {
                    v.iter()
                        .filter(|(kk, _)| *kk == kind)
                        .map(|(_, l)| l.to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let files = of(NodeKind::File);
        if !files.is_empty() {
            let l = format!("{p}_files");
            macros.insert(l.clone(), MacroOut::List(files));
            macros.insert(
                format!("{p}_file"),
                MacroOut::Expr(format!(
                    "{p} && (open.file.path ~ {l} || unlink.file.path ~ {l} || chmod.file.path ~ {l} || chown.file.path ~ {l} || mkdir.file.path ~ {l} || (rename.file.path ~ {l} && rename.file.destination.path ~ {l}))"
                )),
            );
            file.push(format!("{p}_file"));
        }
        let names: Vec<String> = of(NodeKind::Dns)
            .iter()
            .map(|l| {
                l.rsplit_once(' ')
                    .map_or(l.as_str(), |(n, _)| n)
                    .to_string()
            })
            .collect();
        if !names.is_empty() {
            let l = format!("{p}_dns_names");
            macros.insert(l.clone(), MacroOut::List(names));
            macros.insert(
                format!("{p}_dns"),
                MacroOut::Expr(format!("{p} && dns.question.name in {l}")),
            );
            dns.push(format!("{p}_dns"));
        }
        for (kind, terms, out) in [
            (
                "net",
                of(NodeKind::Net)
                    .iter()
                    .filter_map(|l| net_term(l))
                    .collect::<Vec<_>>(),
                &mut net,
            ),
            (
                "kernel",
                of(NodeKind::Kernel)
                    .iter()
                    .filter_map(|l| kernel_term(l))
                    .collect(),
                &mut kernel,
            ),
        ] {
            if terms.is_empty() {
                continue;
            }
            let chain = or_chain(&mut macros, &format!("{p}_{kind}_terms"), terms);
            macros.insert(
                format!("{p}_{kind}"),
                MacroOut::Expr(format!("{p} && ({chain})")),
            );
            out.push(format!("{p}_{kind}"));
        }
    }
    let about = format!(
        "its wsprof profile ({}, {} snapshots)",
        profile.status.as_str(),
        profile.snapshot_count
    );
    let mut rules = Vec::new();
    for (what, kinds, known, severity, description) in [
        (
            "exec",
            "== \"exec\"".to_string(),
            exec,
            "high",
            format!("A container of {name} ran a process (with its parent chain) that {about} never saw"),
        ),
        (
            "file",
            format!("in {FILE_KINDS}"),
            file,
            "medium",
            format!("A process of {name} touched a file that {about} never saw it touch"),
        ),
        (
            "dns",
            "== \"dns\"".to_string(),
            dns,
            "medium",
            format!("A process of {name} asked a DNS question that {about} never saw it ask"),
        ),
        (
            "network",
            format!("in {NET_KINDS}"),
            net,
            "high",
            format!("A process of {name} connected or listened where {about} never saw it do so (family, port, address class)"),
        ),
        (
            "kernel",
            format!("in {KERNEL_KINDS}"),
            kernel,
            "high",
            format!("A process of {name} used kernel facilities (ptrace, modules, bpf, mount, setuid, ...) that {about} never saw it use"),
        ),
    ] {
        let mut expression = format!("{m}_scope && event.kind {kinds}");
        if !known.is_empty() {
            let chain = or_chain(&mut macros, &format!("{m}_known_{what}"), known);
            let known_name = format!("{m}_known_{what}");
            macros.insert(known_name.clone(), MacroOut::Expr(chain));
            expression.push_str(&format!(" && !({known_name})"));
        }
        rules.push(RuleOut {
            id: format!("outside-profile-{id}-{what}"),
            description,
            expression,
            severity,
            tags: vec!["wsprof-profile-export", what],
        });
    }
    let header = vec![
        format!(
            "wsprof rules made from the profile {name} ({}, {} snapshots, {} nodes).",
            profile.status.as_str(),
            profile.snapshot_count,
            profile.nodes.len()
        ),
        format!("Each rule fires on an event of a container of {name} that the profile does not hold."),
        "Use on any host: wsprof --rules THIS_FILE capture (or agent, live); check with: wsprof rules check THIS_FILE".into(),
    ];
    yaml_with_header(&header, &FileOut { macros, rules })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{event, web_events, web_profile};
    use super::*;
    use crate::event::{Access, EventKind};
    use crate::rule::{RuleFormat, RuleSet};

    fn load(text: &str) -> RuleSet {
        let defaults = RuleSet::defaults();
        RuleSet::parse_with_macros(text, RuleFormat::Yaml, "export.yaml", defaults.macros())
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn fired(rules: &RuleSet, ev: &crate::event::Event) -> Vec<String> {
        rules.matching(ev).map(|r| r.id.clone()).collect()
    }

    #[test]
    fn the_profiles_own_behaviour_passes_and_anything_else_is_flagged() {
        let text = render(&web_profile());
        assert!(text.starts_with("# wsprof rules made from the profile acme/web:1.0"));
        let rules = load(&text);
        assert_eq!(rules.len(), 5);
        // with the defaults, as `wsprof rules check` loads it
        let mut all = RuleSet::defaults();
        all.merge(rules.clone()).unwrap();
        for ev in web_events() {
            assert_eq!(fired(&rules, &ev), Vec::<String>::new(), "{ev:?}");
        }
        let web = ["/usr/bin/web"];
        let open = |p: &str| EventKind::Open {
            path: p.into(),
            access: Access::READ,
            errno: 0,
            requested: None,
        };
        // the same behaviour with other volatile parts
        assert!(fired(&rules, &event(&web, &[], open("/proc/77/status"))).is_empty());
        let cases = [
            (
                event(&["/usr/bin/web", "/bin/bash"], &["bash"], EventKind::Exec),
                "outside-profile-acme-web-1-0-exec",
            ),
            (
                // a known executable from another parent
                event(
                    &["/usr/bin/web", "/bin/sh", "/bin/sh"],
                    &[],
                    EventKind::Exec,
                ),
                "outside-profile-acme-web-1-0-exec",
            ),
            (
                event(&web, &[], open("/etc/shadow")),
                "outside-profile-acme-web-1-0-file",
            ),
            (
                // a file the process knows, touched by another process
                event(
                    &["/usr/bin/web", "/bin/sh"],
                    &[],
                    open("/etc/web/config.yaml"),
                ),
                "outside-profile-acme-web-1-0-file",
            ),
            (
                event(
                    &web,
                    &[],
                    EventKind::Dns {
                        name: "xmr.pool.example".into(),
                        qtype: "A".into(),
                    },
                ),
                "outside-profile-acme-web-1-0-dns",
            ),
            (
                event(
                    &web,
                    &[],
                    EventKind::Connect {
                        family: "tcp".into(),
                        addr: "203.0.113.9".into(),
                        port: 4444,
                    },
                ),
                "outside-profile-acme-web-1-0-network",
            ),
            (
                event(
                    &web,
                    &[],
                    EventKind::Connect {
                        family: "tcp".into(),
                        addr: "203.0.113.9".into(),
                        port: 5432,
                    },
                ),
                "outside-profile-acme-web-1-0-network",
            ),
            (
                event(&web, &[], EventKind::Setuid { uid: 0 }),
                "outside-profile-acme-web-1-0-kernel",
            ),
        ];
        for (ev, rule) in cases {
            assert_eq!(fired(&rules, &ev), vec![rule.to_string()], "{ev:?}");
        }
        // another image is out of scope
        let mut other = event(&web, &[], open("/etc/shadow"));
        other.container.image = "redis".into();
        assert!(fired(&rules, &other).is_empty());
    }

    #[test]
    fn long_profiles_are_split_into_macros_the_parser_accepts() {
        let mut p = web_profile();
        let stats = p.nodes.values().next().unwrap().clone();
        let root = crate::tree::NodeKey::of_lineage(&["/usr/bin/web"]).unwrap();
        for i in 0..700 {
            let k = root.child(NodeKind::Process, &format!("/opt/tool{i}"));
            p.nodes.insert(k.clone(), stats.clone());
            for port in 0..3u16 {
                let label = format!("connect tcp/{} public", 1000 + port + 3 * i as u16);
                let mut s = stats.clone();
                s.kind = NodeKind::Net;
                s.label = label.clone();
                p.nodes.insert(k.child(NodeKind::Net, &label), s);
            }
        }
        let rules = load(&render(&p));
        let tool = event(
            &["/usr/bin/web", "/opt/tool699"],
            &[],
            EventKind::Connect {
                family: "tcp".into(),
                addr: "203.0.113.9".into(),
                port: 1000 + 3 * 699 + 2,
            },
        );
        assert!(fired(&rules, &tool).is_empty(), "known");
        let mut novel = tool.clone();
        novel.kind = EventKind::Connect {
            family: "tcp".into(),
            addr: "203.0.113.9".into(),
            port: 1,
        };
        assert_eq!(fired(&rules, &novel).len(), 1);
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slug("acme/payments-api:2.4.1", '-'),
            "acme-payments-api-2-4-1"
        );
        assert_eq!(slug("Reg.io:5000/a_b:1", '_'), "reg_io_5000_a_b_1");
    }
}
