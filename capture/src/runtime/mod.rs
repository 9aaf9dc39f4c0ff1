//! Container runtimes asked for a container's image and labels: Docker-compatible APIs
//! (docker, `podman system service`), containerd's gRPC API and CRI-O's info API, each on a
//! unix socket. The kind of a socket is found by probing it, so `--runtime-socket` takes
//! any of them.

pub mod containerd;
pub mod crio;
pub mod docker;
pub mod proto;

use model::event::{TAG_CONTAINER, TAG_NAMESPACE, TAG_POD};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Sockets tried when none is given: docker, podman (rootful), containerd, CRI-O. Docker
/// first: on a host running both, docker's containers are described best by docker.
pub const DEFAULT_SOCKETS: [&str; 6] = [
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
];

/// Labels the kubelet sets, and the tag each becomes.
pub const KUBELET_LABELS: [(&str, &str); 3] = [
    ("io.kubernetes.pod.name", TAG_POD),
    ("io.kubernetes.pod.namespace", TAG_NAMESPACE),
    ("io.kubernetes.container.name", TAG_CONTAINER),
];

/// Label prefixes not worth a tag (image metadata, runtime bookkeeping).
const NOISY_LABELS: [&str; 5] = [
    "org.opencontainers.",
    "io.cri-containerd.",
    "io.containerd.",
    "annotation.",
    "io.buildah.",
];

/// At most this many tags come from labels, each at most this long.
const MAX_LABEL_TAGS: usize = 32;
const MAX_TAG_LEN: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Docker-compatible API (docker, podman).
    Docker,
    Containerd,
    Crio,
    /// Not known yet (the socket did not answer a probe).
    Unknown,
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuntimeKind::Docker => "docker API",
            RuntimeKind::Containerd => "containerd",
            RuntimeKind::Crio => "CRI-O",
            RuntimeKind::Unknown => "runtime",
        })
    }
}

impl RuntimeKind {
    /// A guess from the socket's name, for messages about a socket that does not answer.
    pub fn guess(socket: &Path) -> RuntimeKind {
        let name = socket.to_string_lossy();
        if name.contains("containerd") {
            RuntimeKind::Containerd
        } else if name.contains("crio") {
            RuntimeKind::Crio
        } else if name.contains("docker") || name.contains("podman") {
            RuntimeKind::Docker
        } else {
            RuntimeKind::Unknown
        }
    }
}

/// Why a runtime could not tell us about a container: one line naming it and its socket.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{kind} at {}: {source}", socket.display())]
    Unreachable {
        kind: RuntimeKind,
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("{kind} at {}: {detail}", socket.display())]
    Protocol {
        kind: RuntimeKind,
        socket: PathBuf,
        detail: String,
    },
    #[error("{kind} at {}: gRPC status {code}: {message}", socket.display())]
    Status {
        kind: RuntimeKind,
        socket: PathBuf,
        code: u32,
        message: String,
    },
    #[error("{kind} at {}: no such socket", socket.display())]
    Missing { kind: RuntimeKind, socket: PathBuf },
    #[error("{}: answers as none of docker/podman, containerd, CRI-O", socket.display())]
    Unrecognised { socket: PathBuf },
}

/// What a runtime says about a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    /// The image as asked for (`localhost/demo/web:1.0`, `nginx@sha256:..`).
    pub image: String,
    /// The image's digest (containerd: the manifest's; docker: the image id), or "".
    pub digest: String,
    pub labels: BTreeMap<String, String>,
    /// The runtime's name of the container, if it has one.
    pub name: Option<String>,
    /// containerd namespace it lives in.
    pub namespace: Option<String>,
}

impl ContainerInfo {
    /// `key:value` tags: `pod:`, `namespace:`, `container:` from the kubelet's labels (the
    /// container name falls back to the runtime's name), then other labels as `label:value`.
    pub fn tags(&self) -> Vec<String> {
        let mut tags = Vec::new();
        for (label, tag) in KUBELET_LABELS {
            if let Some(v) = self.labels.get(label).filter(|v| !v.is_empty()) {
                tags.push(format!("{tag}:{v}"));
            }
        }
        if !self.labels.contains_key("io.kubernetes.container.name") {
            if let Some(n) = self.name.as_deref().map(|n| n.trim_start_matches('/')) {
                if !n.is_empty() {
                    tags.push(format!("{TAG_CONTAINER}:{n}"));
                }
            }
        }
        let others = self
            .labels
            .iter()
            .filter(|(k, _)| !KUBELET_LABELS.iter().any(|(l, _)| l == k))
            .filter(|(k, _)| !NOISY_LABELS.iter().any(|p| k.starts_with(p)))
            .map(|(k, v)| format!("{k}:{v}"))
            .filter(|t| t.len() <= MAX_TAG_LEN)
            .take(MAX_LABEL_TAGS);
        tags.extend(others);
        tags.sort();
        tags.dedup();
        tags
    }
}

/// One runtime socket; its kind is probed on first use (and again after it stopped
/// answering).
#[derive(Debug, Clone)]
pub struct RuntimeSocket {
    pub path: PathBuf,
    kind: Option<RuntimeKind>,
}

impl RuntimeSocket {
    pub fn new(path: PathBuf) -> RuntimeSocket {
        RuntimeSocket { path, kind: None }
    }

    /// The kind found by the last probe.
    pub fn kind(&self) -> Option<RuntimeKind> {
        self.kind
    }

    /// Ask this runtime about a container. `Ok(None)`: it answers but does not know it.
    pub fn container(
        &mut self,
        id: &str,
        timeout: Duration,
    ) -> Result<Option<ContainerInfo>, RuntimeError> {
        if !self.path.exists() {
            return Err(RuntimeError::Missing {
                kind: RuntimeKind::guess(&self.path),
                socket: self.path.clone(),
            });
        }
        let kind = match self.kind {
            Some(k) => k,
            None => {
                let k = probe(&self.path, timeout)?;
                tracing::info!(socket = %self.path.display(), "runtime socket is {k}");
                self.kind = Some(k);
                k
            }
        };
        let r = match kind {
            RuntimeKind::Containerd => containerd::Containerd {
                socket: &self.path,
                timeout,
            }
            .container(id),
            RuntimeKind::Crio => {
                docker::get_json(&self.path, kind, &format!("/containers/{id}"), timeout).and_then(
                    |body| match body {
                        None => Ok(None),
                        Some(b) => crio::parse_container(id, &b).map(Some).map_err(|detail| {
                            RuntimeError::Protocol {
                                kind,
                                socket: self.path.clone(),
                                detail,
                            }
                        }),
                    },
                )
            }
            RuntimeKind::Docker | RuntimeKind::Unknown => {
                docker::container(&self.path, id, timeout)
            }
        };
        if matches!(r, Err(RuntimeError::Unreachable { .. })) {
            self.kind = None;
        }
        r
    }
}

/// What kind of API answers on this socket: docker's `/_ping`, CRI-O's `/info`, else
/// containerd's version service (HTTP/1 requests make a gRPC server hang up).
pub fn probe(socket: &Path, timeout: Duration) -> Result<RuntimeKind, RuntimeError> {
    match docker::http_get_unix(socket, "/_ping", timeout) {
        Ok((200, body)) if body.trim() == "OK" => return Ok(RuntimeKind::Docker),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            return Err(RuntimeError::Unreachable {
                kind: RuntimeKind::guess(socket),
                socket: socket.to_path_buf(),
                source: e,
            })
        }
        _ => {}
    }
    if let Ok((200, body)) = docker::http_get_unix(socket, "/info", timeout) {
        if crio::is_crio_info(&body) {
            return Ok(RuntimeKind::Crio);
        }
    }
    containerd::Containerd { socket, timeout }
        .probe()
        .map(|()| RuntimeKind::Containerd)
        .map_err(|e| {
            tracing::debug!(socket = %socket.display(), "not containerd either: {e}");
            RuntimeError::Unrecognised {
                socket: socket.to_path_buf(),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_from_kubelet_labels_and_others() {
        let mut c = ContainerInfo {
            name: Some("/k8s_web".into()),
            ..Default::default()
        };
        for (k, v) in [
            ("io.kubernetes.pod.name", "web-1"),
            ("io.kubernetes.pod.namespace", "payments"),
            ("io.kubernetes.container.name", "web"),
            ("io.cri-containerd.kind", "container"),
            ("org.opencontainers.image.title", "x"),
            ("team", "blue"),
        ] {
            c.labels.insert(k.into(), v.into());
        }
        assert_eq!(
            c.tags(),
            [
                "container:web",
                "namespace:payments",
                "pod:web-1",
                "team:blue"
            ]
        );
        c.labels.clear();
        assert_eq!(c.tags(), ["container:k8s_web"]);
    }

    #[test]
    fn kinds_are_guessed_from_socket_names_for_messages() {
        assert_eq!(
            RuntimeKind::guess(Path::new("/run/containerd/containerd.sock")),
            RuntimeKind::Containerd
        );
        assert_eq!(
            RuntimeKind::guess(Path::new("/run/crio/crio.sock")),
            RuntimeKind::Crio
        );
        assert_eq!(
            RuntimeKind::guess(Path::new("/x.sock")),
            RuntimeKind::Unknown
        );
    }

    #[test]
    fn refused_connection_is_one_line_naming_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("containerd.sock");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        let mut s = RuntimeSocket::new(sock.clone());
        let e = s.container("abc", Duration::from_secs(1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "containerd at {}: Connection refused (os error 111)",
                sock.display()
            )
        );
        let mut s = RuntimeSocket::new(dir.path().join("gone.sock"));
        let e = s.container("abc", Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().ends_with("gone.sock: no such socket"), "{e}");
    }
}
