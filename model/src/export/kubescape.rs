//! A Kubescape ApplicationProfile (`spdx.softwarecomposition.kubescape.io/v1beta1`): the
//! profile's executables with a sample argv (`execs`), the files opened with their open
//! flags (`opens`) and its network endpoints (`endpoints`), as one container.
//!
//! Mapping: every process node is an exec (one per path, the smallest sample argv, already
//! scrubbed of secrets); every file node read, written, created or truncated is an open
//! with `O_RDONLY`/`O_WRONLY`/`O_RDWR`, `O_CREAT`, `O_TRUNC`; every network node is an
//! endpoint `:PORT` (Kubescape's endpoints are HTTP endpoints; a profile knows the port,
//! not the URL path), `outbound` for a connect and `inbound` for a bind, `internal` when the
//! address class is loopback, private or link-local. Capabilities and syscalls are not
//! recorded by wsprof and are left empty.

use super::{k8s_name, yaml_with_header, ExportContext};
use crate::event::{Access, NetClass};
use crate::profile::{Profile, ProfileStatus};
use crate::tree::{parse_net_label, NodeKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Spec {
    architectures: Vec<&'static str>,
    containers: Vec<Container>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    #[serde(rename = "imageTag")]
    image_tag: String,
    #[serde(rename = "imageID")]
    image_id: String,
    capabilities: Vec<String>,
    execs: Vec<Exec>,
    opens: Vec<Open>,
    syscalls: Vec<String>,
    endpoints: Vec<Endpoint>,
}

#[derive(Serialize)]
struct Exec {
    path: String,
    args: Vec<String>,
}

#[derive(Serialize)]
struct Open {
    path: String,
    flags: Vec<&'static str>,
}

#[derive(Serialize)]
struct Endpoint {
    endpoint: String,
    methods: Vec<String>,
    internal: bool,
    direction: &'static str,
}

/// Open flags of a file node's access kinds; empty when it was never opened (only
/// unlinked, renamed, chmod-ed, ...).
fn open_flags(a: Access) -> Vec<&'static str> {
    let read = a.contains(Access::READ);
    let write =
        a.contains(Access::WRITE) || a.contains(Access::CREATE) || a.contains(Access::TRUNCATE);
    let mut f = match (read, write) {
        (true, true) => vec!["O_RDWR"],
        (true, false) => vec!["O_RDONLY"],
        (false, true) => vec!["O_WRONLY"],
        (false, false) => return Vec::new(),
    };
    if a.contains(Access::CREATE) {
        f.push("O_CREAT");
    }
    if a.contains(Access::TRUNCATE) {
        f.push("O_TRUNC");
    }
    f
}

/// The ApplicationProfile, as YAML with a comment header.
pub fn render(profile: &Profile, ctx: &ExportContext) -> String {
    let mut execs: BTreeMap<&str, &Vec<String>> = BTreeMap::new();
    let mut opens: BTreeMap<&str, Access> = BTreeMap::new();
    let mut endpoints: BTreeSet<(String, &'static str, bool)> = BTreeSet::new();
    for s in profile.nodes.values() {
        match s.kind {
            NodeKind::Process => {
                let e = execs.entry(s.label.as_str()).or_insert(&s.args);
                if e.is_empty() || (!s.args.is_empty() && s.args < **e) {
                    *e = &s.args;
                }
            }
            NodeKind::File => {
                let a = opens.entry(s.label.as_str()).or_default();
                *a = a.union(s.access);
            }
            NodeKind::Net => {
                if let Some(n) = parse_net_label(&s.label) {
                    if n.class == NetClass::Unix {
                        continue;
                    }
                    let internal = matches!(
                        n.class,
                        NetClass::Loopback | NetClass::Private | NetClass::LinkLocal
                    );
                    let direction = if n.op == "bind" {
                        "inbound"
                    } else {
                        "outbound"
                    };
                    endpoints.insert((format!(":{}", n.port), direction, internal));
                }
            }
            _ => {}
        }
    }
    let app = profile.image.rsplit('/').next().unwrap_or(&profile.image);
    let container = Container {
        name: ctx.only("container").unwrap_or(app).to_string(),
        image_tag: profile.name(),
        image_id: match ctx.digests.as_slice() {
            [one] => one.clone(),
            _ => String::new(),
        },
        capabilities: Vec::new(),
        execs: execs
            .into_iter()
            .map(|(path, args)| Exec {
                path: path.to_string(),
                args: args.clone(),
            })
            .collect(),
        opens: opens
            .into_iter()
            .filter_map(|(path, a)| {
                let flags = open_flags(a);
                (!flags.is_empty()).then(|| Open {
                    path: path.to_string(),
                    flags,
                })
            })
            .collect(),
        syscalls: Vec::new(),
        endpoints: endpoints
            .into_iter()
            .map(|(endpoint, direction, internal)| Endpoint {
                endpoint,
                methods: Vec::new(),
                internal,
                direction,
            })
            .collect(),
    };
    let stable = profile.status == ProfileStatus::Stable;
    let doc = Doc {
        api_version: "spdx.softwarecomposition.kubescape.io/v1beta1",
        kind: "ApplicationProfile",
        metadata: Metadata {
            name: k8s_name(profile),
            namespace: ctx.only("namespace").map(str::to_string),
            labels: BTreeMap::from([("app.kubernetes.io/managed-by", "wsprof".to_string())]),
            annotations: BTreeMap::from([
                (
                    "kubescape.io/completion",
                    if stable { "complete" } else { "partial" }.to_string(),
                ),
                (
                    "kubescape.io/status",
                    if stable { "completed" } else { "learning" }.to_string(),
                ),
                ("wsprof.io/profile", profile.name()),
                ("wsprof.io/snapshots", profile.snapshot_count.to_string()),
            ]),
        },
        spec: Spec {
            architectures: vec!["amd64"],
            containers: vec![container],
        },
    };
    let header = vec![
        format!(
            "Kubescape ApplicationProfile made by wsprof from the profile {} ({}, {} snapshots).",
            profile.name(),
            profile.status.as_str(),
            profile.snapshot_count
        ),
        "Endpoints carry the port only (wsprof does not record URL paths); capabilities and syscalls are not recorded.".into(),
    ];
    yaml_with_header(&header, &doc)
}

#[cfg(test)]
mod tests {
    use super::super::tests::web_profile;
    use super::*;

    #[test]
    fn execs_opens_and_endpoints_of_the_profile() {
        let ctx = ExportContext {
            tags: vec!["container:web".into(), "namespace:shop".into()],
            digests: vec!["sha256:abc".into()],
        };
        let text = render(&web_profile(), &ctx);
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(
            doc["apiVersion"].as_str(),
            Some("spdx.softwarecomposition.kubescape.io/v1beta1")
        );
        assert_eq!(doc["kind"].as_str(), Some("ApplicationProfile"));
        assert_eq!(doc["metadata"]["namespace"].as_str(), Some("shop"));
        assert_eq!(
            doc["metadata"]["annotations"]["kubescape.io/status"].as_str(),
            Some("completed")
        );
        let c = &doc["spec"]["containers"][0];
        assert_eq!(c["name"].as_str(), Some("web"));
        assert_eq!(c["imageID"].as_str(), Some("sha256:abc"));
        assert_eq!(c["imageTag"].as_str(), Some("acme/web:1.0"));
        let execs: Vec<(&str, Vec<&str>)> = c["execs"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().unwrap(),
                    e["args"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            execs,
            vec![
                ("/bin/sh", vec!["sh", "-c", "date"]),
                ("/usr/bin/web", vec!["web", "--port=8080"]),
            ]
        );
        let opens = c["opens"].as_sequence().unwrap();
        let flags = |p: &str| -> Vec<String> {
            opens
                .iter()
                .find(|o| o["path"].as_str() == Some(p))
                .map(|o| {
                    o["flags"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(flags("/etc/web/config.yaml"), vec!["O_RDONLY"]);
        assert_eq!(flags("/var/log/web.log"), vec!["O_WRONLY", "O_CREAT"]);
        assert_eq!(flags("/proc/*/status"), vec!["O_RDONLY"]);
        assert!(
            opens
                .iter()
                .all(|o| !o["path"].as_str().unwrap().starts_with("/tmp")),
            "an unlinked file was never opened"
        );
        let endpoints: Vec<(&str, &str, bool)> = c["endpoints"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["endpoint"].as_str().unwrap(),
                    e["direction"].as_str().unwrap(),
                    e["internal"].as_bool().unwrap(),
                )
            })
            .collect();
        assert!(
            endpoints.contains(&(":443", "outbound", false)),
            "{endpoints:?}"
        );
        assert!(endpoints.contains(&(":5432", "outbound", true)));
        assert!(
            endpoints.contains(&(":8080", "inbound", false)),
            "bind 0.0.0.0 is `any`"
        );
    }
}
