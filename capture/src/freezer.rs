//! Freezing a container and thawing it again: cgroup v2's freezer (write `1` to the
//! container's `cgroup.freeze`, then wait until its `cgroup.events` says `frozen 1`), or,
//! only when the container has no cgroup v2 directory (a host without the unified
//! hierarchy), its runtime's pause through a Docker-compatible API.
//!
//! The container's directory is found by its id, not by one runtime's layout: every
//! directory under the cgroup v2 mount whose name carries a container id
//! (`libpod-<id>.scope`, `docker-<id>.scope`, `cri-containerd-<id>.scope`, `crio-<id>`, a
//! bare `<id>` under kubepods, ...) is a candidate; the outermost one of that id is frozen,
//! which freezes everything below it (podman's `container` child, nested scopes).

use crate::resolve::container_id_from_cgroup_path;
use crate::runtime::docker::{http_get_unix, http_post_unix};
use crate::runtime::{probe, RuntimeKind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How deep under the cgroup v2 mount a container's directory is looked for
/// (`kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope` is 4).
const MAX_DEPTH: usize = 10;

/// How a container was (or was to be) frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Its cgroup v2 directory.
    Cgroup { path: PathBuf },
    /// Its runtime's pause, through the API on this socket.
    Runtime { socket: PathBuf },
}

impl Method {
    /// `cgroup v2` or `runtime pause (SOCKET)`, for the audit table.
    pub fn text(&self) -> String {
        match self {
            Method::Cgroup { .. } => "cgroup v2".into(),
            Method::Runtime { socket } => format!("runtime pause ({})", socket.display()),
        }
    }

    /// The cgroup directory, or "" for the runtime's pause.
    pub fn cgroup_path(&self) -> String {
        match self {
            Method::Cgroup { path } => path.display().to_string(),
            Method::Runtime { .. } => String::new(),
        }
    }
}

/// Why a freeze or thaw did not happen (one line, naming the container).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreezeError {
    #[error("container {id}: not running here: {detail}")]
    Gone { id: String, detail: String },
    #[error("container {id}: the id is ambiguous, it starts {n} running containers' ids ({list}); give more of it")]
    Ambiguous { id: String, n: usize, list: String },
    #[error("container {id}: {path}: {detail}")]
    Cgroup {
        id: String,
        path: String,
        detail: String,
    },
    #[error("container {id}: {path}/cgroup.events still says `frozen {now}` after {waited_ms} ms (asked for frozen {want}); {hint}")]
    Timeout {
        id: String,
        path: String,
        want: u8,
        now: String,
        waited_ms: u64,
        hint: String,
    },
    #[error("container {id}: {detail}")]
    Runtime { id: String, detail: String },
}

/// One freeze or thaw: how it was done (or was to be: None when the container was not
/// found) and its error, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub method: Option<Method>,
    pub error: Option<FreezeError>,
}

/// Freezes and thaws containers of this host.
#[derive(Debug, Clone)]
pub struct Freezer {
    /// Where the cgroup v2 hierarchy is mounted (None: it is not).
    pub cgroup_root: Option<PathBuf>,
    /// Runtime API sockets for the fallback (Docker-compatible ones are used).
    pub runtime_sockets: Vec<PathBuf>,
    /// How long to wait for `cgroup.events` (or the runtime) to confirm.
    pub timeout: Duration,
}

impl Freezer {
    /// This host's cgroup v2 mount (from /proc/self/mountinfo) and those of these runtime
    /// sockets that exist (none given: the default ones).
    pub fn for_host(runtime_sockets: &[PathBuf]) -> Freezer {
        let runtime_sockets = if runtime_sockets.is_empty() {
            crate::runtime::DEFAULT_SOCKETS
                .iter()
                .map(PathBuf::from)
                .collect()
        } else {
            runtime_sockets.to_vec()
        };
        let runtime_sockets = runtime_sockets.into_iter().filter(|p| p.exists()).collect();
        Freezer {
            cgroup_root: crate::resolve::cgroup2_mount(),
            runtime_sockets,
            timeout: Duration::from_secs(5),
        }
    }

    /// The cgroup v2 directory of the container whose id is `id` (or starts with it:
    /// `id` must then have at least 12 characters): the outermost directory naming it.
    /// None when no directory names it.
    pub fn locate(&self, id: &str) -> Result<Option<PathBuf>, FreezeError> {
        let Some(root) = &self.cgroup_root else {
            return Ok(None);
        };
        let id = id.to_ascii_lowercase();
        if id.len() < 12 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut found: Vec<(String, usize, PathBuf)> = Vec::new();
        walk(root, 0, &id, &mut found);
        let mut ids: Vec<&str> = found.iter().map(|(i, _, _)| i.as_str()).collect();
        ids.sort();
        ids.dedup();
        if ids.len() > 1 {
            return Err(FreezeError::Ambiguous {
                id,
                n: ids.len(),
                list: ids.iter().map(|i| &i[..12]).collect::<Vec<_>>().join(", "),
            });
        }
        Ok(found
            .into_iter()
            .min_by_key(|(_, depth, _)| *depth)
            .map(|(_, _, p)| p))
    }

    /// Freeze the container: its cgroup v2 directory, else its runtime's pause.
    pub fn freeze(&self, id: &str) -> Attempt {
        self.set(id, true)
    }

    /// Thaw it again.
    pub fn thaw(&self, id: &str) -> Attempt {
        self.set(id, false)
    }

    fn set(&self, id: &str, frozen: bool) -> Attempt {
        match self.locate(id) {
            Err(e) => Attempt {
                method: None,
                error: Some(e),
            },
            Ok(Some(path)) => {
                let error = set_cgroup(id, &path, frozen, self.timeout).err();
                Attempt {
                    method: Some(Method::Cgroup { path }),
                    error,
                }
            }
            Ok(None) => self.set_by_runtime(id, frozen),
        }
    }

    /// The fallback: `POST /containers/{id}/pause` (or `unpause`) on the first
    /// Docker-compatible runtime that knows the container, confirmed by its state.
    fn set_by_runtime(&self, id: &str, frozen: bool) -> Attempt {
        let mut why = vec![match &self.cgroup_root {
            Some(r) => format!("no cgroup under {} names it", r.display()),
            None => "no cgroup v2 hierarchy is mounted".to_string(),
        }];
        let timeout = self.timeout.min(Duration::from_secs(10));
        for socket in &self.runtime_sockets {
            match probe(socket, timeout) {
                Ok(RuntimeKind::Docker) => {}
                Ok(kind) => {
                    why.push(format!(
                        "{kind} at {} cannot pause (only Docker-compatible APIs are used)",
                        socket.display()
                    ));
                    continue;
                }
                Err(e) => {
                    why.push(e.to_string());
                    continue;
                }
            }
            let verb = if frozen { "pause" } else { "unpause" };
            let method = Some(Method::Runtime {
                socket: socket.clone(),
            });
            let runtime_err = |detail: String| Attempt {
                method: method.clone(),
                error: Some(FreezeError::Runtime {
                    id: id.to_string(),
                    detail: format!("docker API at {}: {detail}", socket.display()),
                }),
            };
            match http_post_unix(socket, &format!("/v1.41/containers/{id}/{verb}"), timeout) {
                Ok((404, _)) => {
                    why.push(format!(
                        "the docker API at {} does not know it",
                        socket.display()
                    ));
                    continue;
                }
                Ok((200..=299, _)) => {}
                Ok((status, body)) => {
                    return runtime_err(format!("{verb}: HTTP {status} {}", api_message(&body)))
                }
                Err(e) => return runtime_err(format!("{verb}: {e}")),
            }
            return match runtime_paused(socket, id, timeout) {
                Ok(p) if p == frozen => Attempt {
                    method,
                    error: None,
                },
                Ok(p) => runtime_err(format!(
                    "{verb} answered, but the container's state says paused={p}"
                )),
                Err(e) => runtime_err(e),
            };
        }
        if self.runtime_sockets.is_empty() {
            why.push("no runtime socket to ask".into());
        }
        Attempt {
            method: None,
            error: Some(FreezeError::Gone {
                id: id.to_string(),
                detail: why.join("; "),
            }),
        }
    }
}

/// Directories under `dir` naming a container whose id starts with `prefix`: (full id,
/// depth, path). A matching directory's children are not searched (the outermost wins).
fn walk(dir: &Path, depth: usize, prefix: &str, found: &mut Vec<(String, usize, PathBuf)>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        match container_id_from_cgroup_path(name) {
            Some(full) if full.starts_with(prefix) => {
                found.push((full, depth, e.path()));
            }
            _ => walk(&e.path(), depth + 1, prefix, found),
        }
    }
}

/// `frozen 0|1` from a cgroup's `cgroup.events`.
pub fn frozen_state(path: &Path) -> std::io::Result<Option<bool>> {
    let text = std::fs::read_to_string(path.join("cgroup.events"))?;
    Ok(text.lines().find_map(|l| match l.trim() {
        "frozen 1" => Some(true),
        "frozen 0" => Some(false),
        _ => None,
    }))
}

/// Write `cgroup.freeze` and wait until `cgroup.events` confirms.
fn set_cgroup(id: &str, path: &Path, frozen: bool, timeout: Duration) -> Result<(), FreezeError> {
    let shown = path.display().to_string();
    let cgroup_err = |detail: String| FreezeError::Cgroup {
        id: id.to_string(),
        path: shown.clone(),
        detail,
    };
    let want = u8::from(frozen);
    if let Err(e) = std::fs::write(path.join("cgroup.freeze"), format!("{want}\n")) {
        return Err(match e.kind() {
            std::io::ErrorKind::NotFound if !path.exists() => FreezeError::Gone {
                id: id.to_string(),
                detail: format!("its cgroup {shown} is gone (the container stopped)"),
            },
            std::io::ErrorKind::NotFound => cgroup_err(
                "has no cgroup.freeze (the kernel's cgroup v2 freezer needs Linux 5.2 or newer)"
                    .into(),
            ),
            std::io::ErrorKind::PermissionDenied => {
                cgroup_err("cannot write cgroup.freeze: permission denied (needs root)".into())
            }
            _ => cgroup_err(format!("cannot write cgroup.freeze: {e}")),
        });
    }
    let start = Instant::now();
    loop {
        match frozen_state(path) {
            Ok(Some(f)) if f == frozen => return Ok(()),
            Ok(now) => {
                if start.elapsed() >= timeout {
                    return Err(FreezeError::Timeout {
                        id: id.to_string(),
                        path: shown.clone(),
                        want,
                        now: now.map(|f| u8::from(f).to_string()).unwrap_or("?".into()),
                        waited_ms: start.elapsed().as_millis() as u64,
                        hint: if frozen {
                            "its processes are still being frozen (cgroup.freeze is 1); thaw it to undo".into()
                        } else {
                            "cgroup.freeze is 0; a parent cgroup may be frozen".into()
                        },
                    });
                }
            }
            Err(e) if !path.exists() => {
                return Err(FreezeError::Gone {
                    id: id.to_string(),
                    detail: format!("its cgroup {shown} went away while waiting ({e})"),
                })
            }
            Err(e) => return Err(cgroup_err(format!("cannot read cgroup.events: {e}"))),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `State.Paused` of a container, from `GET /containers/{id}/json`.
fn runtime_paused(socket: &Path, id: &str, timeout: Duration) -> Result<bool, String> {
    match http_get_unix(socket, &format!("/v1.41/containers/{id}/json"), timeout) {
        Ok((200, body)) => {
            let v: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| format!("unreadable state: {e}"))?;
            v["State"]["Paused"]
                .as_bool()
                .ok_or_else(|| "its state does not say whether it is paused".to_string())
        }
        Ok((status, body)) => Err(format!(
            "reading its state: HTTP {status} {}",
            api_message(&body)
        )),
        Err(e) => Err(format!("reading its state: {e}")),
    }
}

/// The `message` of a Docker API error body, else its start.
fn api_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(160).collect::<String>())
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2b5c9a1d0e4b7c8a9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d";
    const OTHER: &str = "3f2b5c9a1d0e00000000000000000000000000000000000000000000000000aa";

    fn tree(dirs: &[&str]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for d in dirs {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        t
    }

    fn freezer(root: &Path) -> Freezer {
        Freezer {
            cgroup_root: Some(root.to_path_buf()),
            runtime_sockets: vec![],
            timeout: Duration::from_millis(200),
        }
    }

    #[test]
    fn finds_the_outermost_directory_naming_the_id_in_any_layout() {
        for (layout, want) in [
            (
                format!("machine.slice/libpod-{ID}.scope/container"),
                format!("machine.slice/libpod-{ID}.scope"),
            ),
            (
                format!("libpod_parent/libpod-{ID}"),
                format!("libpod_parent/libpod-{ID}"),
            ),
            (
                format!("system.slice/docker-{ID}.scope"),
                format!("system.slice/docker-{ID}.scope"),
            ),
            (
                format!("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{ID}.scope"),
                format!("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{ID}.scope"),
            ),
            (
                format!("kubepods/besteffort/pod1/{ID}"),
                format!("kubepods/besteffort/pod1/{ID}"),
            ),
        ] {
            let t = tree(&[&layout, &format!("machine.slice/libpod-conmon-{ID}.scope")]);
            let f = freezer(t.path());
            assert_eq!(f.locate(ID).unwrap(), Some(t.path().join(&want)), "{layout}");
            // the short id the screens show finds it too
            assert_eq!(f.locate(&ID[..12]).unwrap(), Some(t.path().join(&want)));
        }
    }

    #[test]
    fn unknown_short_and_ambiguous_ids() {
        let t = tree(&[
            &format!("libpod_parent/libpod-{ID}"),
            &format!("libpod_parent/libpod-{OTHER}"),
        ]);
        let f = freezer(t.path());
        assert_eq!(f.locate(&"0".repeat(64)).unwrap(), None);
        assert_eq!(f.locate("3f2b").unwrap(), None, "too short to search by");
        assert!(f.locate(ID).unwrap().is_some());
        let e = f.locate(&ID[..12]).unwrap_err().to_string();
        assert!(e.contains("ambiguous") && e.contains("2 running"), "{e}");
        // not found and no runtime to ask: gone, saying where it looked
        let a = f.freeze(&"0".repeat(64));
        assert_eq!(a.method, None);
        let e = a.error.unwrap().to_string();
        assert!(
            e.contains("not running here")
                && e.contains("no cgroup under")
                && e.contains("no runtime socket"),
            "{e}"
        );
    }

    #[test]
    fn a_cgroup_that_never_confirms_times_out_with_a_clear_error() {
        // a plain directory: the write lands in a regular file, and cgroup.events never
        // says frozen
        let t = tree(&[&format!("libpod_parent/libpod-{ID}")]);
        let dir = t.path().join(format!("libpod_parent/libpod-{ID}"));
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let a = freezer(t.path()).freeze(ID);
        assert_eq!(a.method, Some(Method::Cgroup { path: dir.clone() }));
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.freeze")).unwrap(),
            "1\n"
        );
        let e = a.error.unwrap().to_string();
        assert!(
            e.contains("still says `frozen 0`") && e.contains("asked for frozen 1"),
            "{e}"
        );
        // once it says so, the freeze is confirmed
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        assert_eq!(freezer(t.path()).freeze(ID).error, None);
    }
}
