//! A Kubernetes NetworkPolicy (networking.k8s.io/v1) that allows the egress a profile
//! holds and nothing else.
//!
//! Profiles keep the class of a remote address, not the address, so each class becomes
//! the address blocks it stands for (`private`: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
//! 100.64.0.0/10 and fc00::/7; `public`: everything outside private, link-local and
//! loopback space; `link-local`: 169.254.0.0/16 and fe80::/10), with the ports and
//! protocols connected to in that class. DNS always goes to the cluster resolver (pods
//! labelled `k8s-app: kube-dns` in `kube-system`, UDP and TCP 53). Loopback and unix
//! sockets stay inside the pod and need no rule; DNS names cannot be expressed in a
//! NetworkPolicy and are listed in the header instead.

use super::{k8s_name, some_of, yaml_with_header, ExportContext};
use crate::event::NetClass;
use crate::profile::Profile;
use crate::tree::{parse_net_label, NodeKind};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const PRIVATE_V4: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];
const PRIVATE_V6: &str = "fc00::/7";
const LINK_LOCAL_V4: &str = "169.254.0.0/16";
const LINK_LOCAL_V6: &str = "fe80::/10";

/// The address blocks of a class, for the IP versions seen.
fn blocks(class: NetClass, v4: bool, v6: bool) -> Vec<Value> {
    let mut out = Vec::new();
    match class {
        NetClass::Private => {
            if v4 {
                out.extend(
                    PRIVATE_V4
                        .iter()
                        .map(|c| json!({ "ipBlock": { "cidr": c } })),
                );
            }
            if v6 {
                out.push(json!({ "ipBlock": { "cidr": PRIVATE_V6 } }));
            }
        }
        NetClass::LinkLocal => {
            if v4 {
                out.push(json!({ "ipBlock": { "cidr": LINK_LOCAL_V4 } }));
            }
            if v6 {
                out.push(json!({ "ipBlock": { "cidr": LINK_LOCAL_V6 } }));
            }
        }
        NetClass::Public => {
            if v4 {
                let mut except: Vec<&str> = PRIVATE_V4.to_vec();
                except.extend([LINK_LOCAL_V4, "127.0.0.0/8"]);
                out.push(json!({ "ipBlock": { "cidr": "0.0.0.0/0", "except": except } }));
            }
            if v6 {
                out.push(json!({ "ipBlock": {
                    "cidr": "::/0", "except": [PRIVATE_V6, LINK_LOCAL_V6, "::1/128"]
                } }));
            }
        }
        NetClass::Loopback | NetClass::Unspecified | NetClass::Unix => {}
    }
    out
}

/// Kubernetes protocols of a profile's address family (`tcp6` -> TCP; `ip`: both).
fn protocols(family: &str) -> &'static [&'static str] {
    match family.trim_end_matches('6') {
        "tcp" => &["TCP"],
        "udp" => &["UDP"],
        _ => &["TCP", "UDP"],
    }
}

#[derive(Default)]
struct ClassEgress {
    v4: bool,
    v6: bool,
    ports: BTreeSet<(&'static str, u16)>,
}

/// The policy, as YAML with a comment header.
pub fn render(profile: &Profile, ctx: &ExportContext) -> String {
    let mut by_class: BTreeMap<&'static str, (NetClass, ClassEgress)> = BTreeMap::new();
    let mut in_pod: BTreeSet<String> = BTreeSet::new();
    let mut listens: BTreeSet<String> = BTreeSet::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for s in profile.nodes.values() {
        match s.kind {
            NodeKind::Dns => {
                let name = s
                    .label
                    .rsplit_once(' ')
                    .map_or(s.label.as_str(), |(n, _)| n);
                names.insert(name.to_string());
            }
            NodeKind::Net => {
                let Some(n) = parse_net_label(&s.label) else {
                    continue;
                };
                if n.op == "bind" {
                    listens.insert(format!("{}/{}", n.family, n.port));
                    continue;
                }
                // Port 53 in the cluster is the resolver: the DNS rule below allows it.
                if n.port == 53 && n.class == NetClass::Private {
                    continue;
                }
                if blocks(n.class, true, true).is_empty() {
                    in_pod.insert(format!("{}/{} {}", n.family, n.port, n.class.as_str()));
                    continue;
                }
                let (_, e) = by_class
                    .entry(n.class.as_str())
                    .or_insert_with(|| (n.class, ClassEgress::default()));
                if n.family.ends_with('6') {
                    e.v6 = true;
                } else {
                    e.v4 = true;
                }
                for p in protocols(&n.family) {
                    e.ports.insert((p, n.port));
                }
            }
            _ => {}
        }
    }
    let mut egress = vec![json!({
        "to": [{
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "kube-system" } },
            "podSelector": { "matchLabels": { "k8s-app": "kube-dns" } },
        }],
        "ports": [ { "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 } ],
    })];
    for (class, e) in by_class.values() {
        let ports: Vec<Value> = e
            .ports
            .iter()
            .map(|(proto, port)| json!({ "protocol": proto, "port": port }))
            .collect();
        egress.push(json!({ "to": blocks(*class, e.v4, e.v6), "ports": ports }));
    }
    let app = profile.image.rsplit('/').next().unwrap_or(&profile.image);
    let mut metadata = json!({
        "name": k8s_name(profile),
        "labels": { "app.kubernetes.io/managed-by": "wsprof" },
        "annotations": {
            "wsprof.io/profile": profile.name(),
            "wsprof.io/status": profile.status.as_str(),
            "wsprof.io/snapshots": profile.snapshot_count.to_string(),
        },
    });
    if let Some(ns) = ctx.only("namespace") {
        metadata["namespace"] = json!(ns);
    }
    let doc = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": {
            "podSelector": { "matchLabels": { "app.kubernetes.io/name": app } },
            "policyTypes": ["Egress"],
            "egress": egress,
        },
    });
    let mut header = vec![
        format!(
            "NetworkPolicy made by wsprof from the profile {} ({}, {} snapshots, {} nodes).",
            profile.name(),
            profile.status.as_str(),
            profile.snapshot_count,
            profile.nodes.len()
        ),
        "Egress only: DNS to the cluster resolver, and every outbound connection the profile holds, by address class and port.".into(),
        format!("spec.podSelector guesses the pods' labels (app.kubernetes.io/name: {app}): set it to your workload's labels."),
    ];
    let names: Vec<String> = names.into_iter().collect();
    if !names.is_empty() {
        header.push(format!(
            "DNS names asked (a NetworkPolicy cannot name them; the address classes above cover them): {}",
            some_of(&names, 12)
        ));
    }
    let in_pod: Vec<String> = in_pod.into_iter().collect();
    if !in_pod.is_empty() {
        header.push(format!(
            "Connections inside the pod (no rule needed): {}",
            some_of(&in_pod, 12)
        ));
    }
    let listens: Vec<String> = listens.into_iter().collect();
    if !listens.is_empty() {
        header.push(format!(
            "Listening (ingress is not restricted by this policy): {}",
            some_of(&listens, 12)
        ));
    }
    yaml_with_header(&header, &doc)
}

#[cfg(test)]
mod tests {
    use super::super::tests::web_profile;
    use super::*;

    #[test]
    fn a_policy_kubernetes_accepts_with_the_profiles_egress() {
        let ctx = ExportContext {
            tags: vec!["namespace:shop".into(), "pod:web-1".into()],
            digests: vec![],
        };
        let text = render(&web_profile(), &ctx);
        assert!(text.starts_with("# NetworkPolicy made by wsprof"), "{text}");
        assert!(text.contains("DNS names asked"), "{text}");
        assert!(text.contains("tcp/9000 loopback"), "{text}");
        assert!(text.contains("Listening"), "{text}");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        // the fields Kubernetes requires
        assert_eq!(doc["apiVersion"].as_str(), Some("networking.k8s.io/v1"));
        assert_eq!(doc["kind"].as_str(), Some("NetworkPolicy"));
        assert_eq!(
            doc["metadata"]["name"].as_str(),
            Some("wsprof-acme-web-1-0")
        );
        assert_eq!(doc["metadata"]["namespace"].as_str(), Some("shop"));
        assert!(doc["spec"]["podSelector"].is_mapping());
        assert_eq!(doc["spec"]["policyTypes"][0].as_str(), Some("Egress"));
        let egress = doc["spec"]["egress"].as_sequence().unwrap();
        // DNS, private (5432), public (443 over v4 and v6); not loopback, not port 53 again
        assert_eq!(egress.len(), 3, "{text}");
        let dns = &egress[0];
        assert_eq!(
            dns["to"][0]["podSelector"]["matchLabels"]["k8s-app"].as_str(),
            Some("kube-dns")
        );
        let dns_ports: Vec<(String, u64)> = dns["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["protocol"].as_str().unwrap().into(),
                    p["port"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(dns_ports, vec![("UDP".into(), 53), ("TCP".into(), 53)]);
        let private = &egress[1];
        assert_eq!(
            private["to"][0]["ipBlock"]["cidr"].as_str(),
            Some("10.0.0.0/8")
        );
        assert_eq!(private["to"].as_sequence().unwrap().len(), 4, "v4 only");
        assert_eq!(private["ports"][0]["port"].as_u64(), Some(5432));
        let public = &egress[2];
        assert_eq!(
            public["to"][0]["ipBlock"]["cidr"].as_str(),
            Some("0.0.0.0/0")
        );
        assert_eq!(public["to"][1]["ipBlock"]["cidr"].as_str(), Some("::/0"));
        assert!(public["to"][0]["ipBlock"]["except"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|c| c.as_str() == Some("10.0.0.0/8")));
        assert_eq!(public["ports"][0]["protocol"].as_str(), Some("TCP"));
        assert_eq!(public["ports"][0]["port"].as_u64(), Some(443));
        for rule in egress {
            for p in rule["ports"].as_sequence().unwrap() {
                assert!(matches!(p["protocol"].as_str(), Some("TCP" | "UDP")));
                assert!(p["port"].as_u64().is_some_and(|n| (1..=65535).contains(&n)));
            }
        }
    }

    #[test]
    fn without_connections_only_dns_is_allowed() {
        let mut p = web_profile();
        p.nodes.retain(|_, s| s.kind != NodeKind::Net);
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&render(&p, &ExportContext::default())).unwrap();
        assert_eq!(doc["spec"]["egress"].as_sequence().unwrap().len(), 1);
        assert!(doc["metadata"]["namespace"].is_null(), "no namespace known");
    }
}
