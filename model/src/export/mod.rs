//! Exports of a profile for other tools: a Kubernetes NetworkPolicy ([`network_policy`]),
//! a wsprof rules file that flags anything outside the profile ([`rules`]) and a Kubescape
//! ApplicationProfile ([`kubescape`]). Each is YAML text; a Learning profile is refused
//! unless forced, because its behaviour is not complete yet.

pub mod kubescape;
pub mod network_policy;
pub mod rules;

use crate::profile::{Profile, ProfileStatus};
use std::fmt;

/// What to export a profile as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    NetworkPolicy,
    Rules,
    Kubescape,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [
        ExportFormat::NetworkPolicy,
        ExportFormat::Rules,
        ExportFormat::Kubescape,
    ];

    /// The name `--format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::NetworkPolicy => "networkpolicy",
            ExportFormat::Rules => "rules",
            ExportFormat::Kubescape => "kubescape",
        }
    }

    /// Parse a `--format` value; the error names it and the formats there are.
    pub fn parse(s: &str) -> Result<ExportFormat, String> {
        ExportFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("format `{s}`: expected networkpolicy, rules or kubescape"))
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an export knows beside the profile: its snapshots' tags and image digests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportContext {
    /// `namespace:payments`, `container:web`, `pod:web-1`, ...
    pub tags: Vec<String>,
    pub digests: Vec<String>,
}

impl ExportContext {
    /// The value of the only tag `key:VALUE`, when exactly one value is carried.
    pub fn only(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}:");
        let mut values = self.tags.iter().filter_map(|t| t.strip_prefix(&prefix));
        let first = values.next()?;
        values.all(|v| v == first).then_some(first)
    }
}

/// Why an export was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("profile {name} is Learning ({snapshots} snapshots merged so far): an export now would miss behaviour it has not seen yet; wait until it is Stable or use --force")]
    Learning { name: String, snapshots: u32 },
}

/// Export `profile` as `format` (YAML text). A Learning profile only with `force`.
pub fn export(
    profile: &Profile,
    ctx: &ExportContext,
    format: ExportFormat,
    force: bool,
) -> Result<String, ExportError> {
    if profile.status == ProfileStatus::Learning && !force {
        return Err(ExportError::Learning {
            name: profile.name(),
            snapshots: profile.snapshot_count,
        });
    }
    Ok(match format {
        ExportFormat::NetworkPolicy => network_policy::render(profile, ctx),
        ExportFormat::Rules => rules::render(profile),
        ExportFormat::Kubescape => kubescape::render(profile, ctx),
    })
}

/// A Kubernetes object name (RFC 1123 subdomain, at most 253 characters) made from an
/// image and version: `wsprof-acme-payments-api-2-4-1`.
pub fn k8s_name(profile: &Profile) -> String {
    let mut out = String::from("wsprof");
    for c in format!("-{}-{}", profile.image, profile.version)
        .to_ascii_lowercase()
        .chars()
    {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.truncate(253);
    out.trim_end_matches('-').to_string()
}

/// YAML text of a serializable document, after a `#` comment header.
fn yaml_with_header<T: serde::Serialize>(header: &[String], doc: &T) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    // Serializing plain data (strings, numbers, maps, lists) cannot fail.
    out.push_str(&serde_yaml::to_string(doc).unwrap_or_default());
    out
}

/// `a, b, c and 4 more`.
fn some_of(items: &[String], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
    use crate::profile::LifecycleSettings;
    use crate::snapshot::Snapshot;
    use crate::tree::ActivityTree;

    pub(crate) fn event(lineage: &[&str], args: &[&str], kind: EventKind) -> Event {
        let (last, anc) = lineage.split_last().unwrap();
        Event {
            ts_ms: 0,
            container: ContainerRef {
                id: "c1".into(),
                image: "acme/web".into(),
                version: "1.0".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                pid: 7,
                exec_path: last.to_string(),
                args: args.iter().map(|s| s.to_string()).collect(),
                uid: 0,
                gid: 0,
                ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            kind,
        }
    }

    fn connect(addr: &str, port: u16, family: &str) -> EventKind {
        EventKind::Connect {
            family: family.into(),
            addr: addr.into(),
            port,
        }
    }

    /// What a small web image does: the events the profile is made of.
    pub(crate) fn web_events() -> Vec<Event> {
        let web = ["/usr/bin/web"];
        let sh = ["/usr/bin/web", "/bin/sh"];
        let open = |p: &str, a| EventKind::Open {
            path: p.into(),
            access: a,
            errno: 0,
            requested: None,
        };
        vec![
            event(&web, &["web", "--port=8080"], EventKind::Exec),
            event(&web, &[], open("/etc/web/config.yaml", Access::READ)),
            event(&web, &[], open("/proc/4242/status", Access::READ)),
            event(
                &web,
                &[],
                open("/var/log/web.log", Access::WRITE.union(Access::CREATE)),
            ),
            event(
                &web,
                &[],
                EventKind::Bind {
                    family: "tcp".into(),
                    addr: "0.0.0.0".into(),
                    port: 8080,
                },
            ),
            event(
                &web,
                &[],
                EventKind::Dns {
                    name: "db.internal".into(),
                    qtype: "A".into(),
                },
            ),
            event(&web, &[], connect("10.0.3.7", 5432, "tcp")),
            event(&web, &[], connect("93.184.216.34", 443, "tcp")),
            event(&web, &[], connect("2606:4700::1111", 443, "tcp6")),
            event(&web, &[], connect("10.96.0.10", 53, "udp")),
            event(&web, &[], connect("127.0.0.1", 9000, "tcp")),
            event(&web, &[], EventKind::Setuid { uid: 1000 }),
            event(&sh, &["sh", "-c", "date"], EventKind::Exec),
            event(
                &sh,
                &[],
                EventKind::Unlink {
                    path: "/tmp/web-cache.1234".into(),
                },
            ),
        ]
    }

    /// A Stable profile of [`web_events`] (one snapshot).
    pub(crate) fn web_profile() -> Profile {
        let mut tree = ActivityTree::default();
        for e in web_events() {
            tree.record(&e);
        }
        let snap = Snapshot {
            id: "s1".into(),
            container: web_events()[0].container.clone(),
            host: "h".into(),
            started_ms: 0,
            ended_ms: 1000,
            tree,
        };
        let mut p = Profile::new("acme/web", "1.0");
        p.merge(
            &snap,
            &LifecycleSettings {
                stable_after_snapshots: 1,
                stable_after_ms: i64::MAX,
            },
        )
        .unwrap();
        p
    }

    #[test]
    fn formats_names_and_the_learning_refusal() {
        assert_eq!(ExportFormat::parse("rules"), Ok(ExportFormat::Rules));
        assert_eq!(
            ExportFormat::parse("pdf").unwrap_err(),
            "format `pdf`: expected networkpolicy, rules or kubescape"
        );
        let mut p = web_profile();
        assert_eq!(k8s_name(&p), "wsprof-acme-web-1-0");
        p.status = ProfileStatus::Learning;
        let e = export(&p, &ExportContext::default(), ExportFormat::Rules, false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("profile acme/web:1.0 is Learning (1 snapshots merged so far)"),
            "{e}"
        );
        assert!(e.to_string().ends_with("use --force"), "{e}");
        assert!(export(&p, &ExportContext::default(), ExportFormat::Rules, true).is_ok());
        let ctx = ExportContext {
            tags: vec!["namespace:shop".into(), "pod:a".into(), "pod:b".into()],
            digests: vec![],
        };
        assert_eq!(ctx.only("namespace"), Some("shop"));
        assert_eq!(ctx.only("pod"), None, "two pods");
        assert_eq!(ctx.only("container"), None);
    }
}
