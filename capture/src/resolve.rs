//! cgroup id -> cgroup path -> container id -> image name and version (through the
//! runtime's Docker-compatible API on a unix socket), cached.

use model::ContainerRef;
use regex::Regex;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Sockets tried when none is given: docker, then podman (rootful).
pub const DEFAULT_SOCKETS: [&str; 4] = [
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
];

/// Image version used when the runtime cannot be asked (no socket answers).
pub const UNRESOLVED_IMAGE: &str = "unresolved";

/// The container id in a cgroup path, for the layouts of docker (cgroupfs and systemd),
/// containerd/CRI (kubepods, `cri-containerd-`), podman (`libpod-`) and CRI-O (`crio-`).
/// Runtime helper cgroups (`libpod-conmon-`, `crio-conmon-`) are not containers.
pub fn container_id_from_cgroup_path(path: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"^(?:docker-|libpod-|crio-|cri-containerd-|containerd-)?([0-9a-f]{64})(?:\.scope)?$",
        )
        .expect("valid regex")
    });
    // The innermost container component wins (nested cgroups inside a container, e.g.
    // `/libpod-<id>/init.scope`, still belong to it).
    path.split('/')
        .filter(|c| !c.contains("conmon"))
        .filter_map(|c| re.captures(c).map(|m| m[1].to_string()))
        .next_back()
}

/// Image name and version from a runtime's `Config.Image` (what was asked for, e.g.
/// `localhost/demo/web:1.0`, `nginx`, `ghcr.io/x/y@sha256:..`) and `Image` (the image id).
/// Registry noise (`localhost/`, `docker.io/`, `docker.io/library/`) is dropped; the version
/// is the tag, else the digest, else the image id.
pub fn image_name_version(config_image: &str, image_id: &str) -> (String, String) {
    let mut name = config_image.trim();
    let mut version: Option<String> = None;
    if let Some((n, digest)) = name.split_once('@') {
        version = Some(digest.to_string());
        name = n;
    }
    // A tag is a `:` after the last `/` (a `:` before it is a registry port).
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    if let Some(i) = name[last_slash..].rfind(':') {
        let tag = &name[last_slash + i + 1..];
        if version.is_none() {
            version = Some(tag.to_string());
        }
        name = &name[..last_slash + i];
    }
    let mut n = name;
    for prefix in [
        "localhost/",
        "docker.io/library/",
        "docker.io/",
        "index.docker.io/library/",
    ] {
        if let Some(rest) = n.strip_prefix(prefix) {
            n = rest;
            break;
        }
    }
    let version = version.unwrap_or_else(|| {
        if image_id.is_empty() {
            "unknown".to_string()
        } else if image_id.starts_with("sha256:") {
            image_id.to_string()
        } else {
            format!("sha256:{image_id}")
        }
    });
    let n = if n.is_empty() { "unknown" } else { n };
    (n.to_string(), version)
}

/// Minimal HTTP/1.0 GET over a unix socket (Docker-compatible APIs answer without chunking
/// to HTTP/1.0; chunked bodies are decoded anyway).
pub fn http_get_unix(
    socket: &Path,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP status line"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// What a cgroup is, as far as capture cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupKind {
    Container { id: String, path: String },
    Host { path: String },
}

#[derive(Debug, Clone)]
struct CachedImage {
    image: Option<(String, String)>,
    at: Instant,
}

/// Cached resolution of cgroups and containers.
pub struct Resolver {
    cgroup_root: PathBuf,
    sockets: Vec<PathBuf>,
    cgroups: HashMap<u64, CgroupKind>,
    images: HashMap<String, CachedImage>,
    /// Retry an unresolved container image after this long.
    retry: Duration,
    pub api_calls: u64,
}

impl Resolver {
    pub fn new(cgroup_root: PathBuf, sockets: Vec<PathBuf>) -> Resolver {
        let sockets = if sockets.is_empty() {
            DEFAULT_SOCKETS.iter().map(PathBuf::from).collect()
        } else {
            sockets
        };
        Resolver {
            cgroup_root,
            sockets,
            cgroups: HashMap::new(),
            images: HashMap::new(),
            retry: Duration::from_secs(2),
            api_calls: 0,
        }
    }

    pub fn cgroup_root(&self) -> &Path {
        &self.cgroup_root
    }

    /// What the cgroup with this id is; `pid` (a member) helps find its path quickly.
    pub fn cgroup(&mut self, cgroup_id: u64, pid: u32) -> Option<CgroupKind> {
        if let Some(k) = self.cgroups.get(&cgroup_id) {
            return Some(k.clone());
        }
        let path = self
            .path_via_proc(cgroup_id, pid)
            .or_else(|| self.path_via_scan(cgroup_id))?;
        let kind = match container_id_from_cgroup_path(&path) {
            Some(id) => CgroupKind::Container { id, path },
            None => CgroupKind::Host { path },
        };
        self.cgroups.insert(cgroup_id, kind.clone());
        Some(kind)
    }

    /// Remember a cgroup found elsewhere (e.g. while seeding from /proc).
    pub fn remember(&mut self, cgroup_id: u64, path: &str) {
        let kind = match container_id_from_cgroup_path(path) {
            Some(id) => CgroupKind::Container {
                id,
                path: path.to_string(),
            },
            None => CgroupKind::Host {
                path: path.to_string(),
            },
        };
        self.cgroups.insert(cgroup_id, kind);
    }

    /// Does the cgroup directory (relative path) still exist?
    pub fn cgroup_alive(&self, path: &str) -> bool {
        self.cgroup_root.join(path.trim_start_matches('/')).is_dir()
    }

    /// Forget a cgroup id (its directory is gone).
    pub fn forget(&mut self, cgroup_id: u64) {
        self.cgroups.remove(&cgroup_id);
    }

    fn path_via_proc(&self, cgroup_id: u64, pid: u32) -> Option<String> {
        let path = proc_cgroup_v2_path(pid)?;
        let ino = std::fs::metadata(self.cgroup_root.join(path.trim_start_matches('/')))
            .ok()?
            .ino();
        (ino == cgroup_id).then_some(path)
    }

    fn path_via_scan(&self, cgroup_id: u64) -> Option<String> {
        fn walk(dir: &Path, root: &Path, id: u64, depth: u32) -> Option<String> {
            if depth > 8 {
                return None;
            }
            for e in std::fs::read_dir(dir).ok()?.flatten() {
                let Ok(md) = e.metadata() else { continue };
                if !md.is_dir() {
                    continue;
                }
                let p = e.path();
                if md.ino() == id {
                    let rel = p.strip_prefix(root).ok()?;
                    return Some(format!("/{}", rel.display()));
                }
                if let Some(found) = walk(&p, root, id, depth + 1) {
                    return Some(found);
                }
            }
            None
        }
        let root_ino = std::fs::metadata(&self.cgroup_root).ok()?.ino();
        if root_ino == cgroup_id {
            return Some("/".into());
        }
        walk(&self.cgroup_root, &self.cgroup_root, cgroup_id, 0)
    }

    /// The container's image name and version, asking the runtime API (cached; an
    /// unresolved container is asked again after a short while). `None` while unknown.
    pub fn image(&mut self, container_id: &str) -> Option<(String, String)> {
        if let Some(c) = self.images.get(container_id) {
            if c.image.is_some() || c.at.elapsed() < self.retry {
                return c.image.clone();
            }
        }
        let image = self.ask_runtime(container_id);
        self.images.insert(
            container_id.to_string(),
            CachedImage {
                image: image.clone(),
                at: Instant::now(),
            },
        );
        image
    }

    fn ask_runtime(&mut self, container_id: &str) -> Option<(String, String)> {
        for sock in &self.sockets {
            if !sock.exists() {
                continue;
            }
            self.api_calls += 1;
            match http_get_unix(
                sock,
                &format!("/v1.41/containers/{container_id}/json"),
                Duration::from_secs(2),
            ) {
                Ok((200, body)) => {
                    let v: serde_json::Value = match serde_json::from_str(&body) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::warn!(socket = %sock.display(), "runtime API sent bad JSON: {e}");
                            continue;
                        }
                    };
                    let config_image = v["Config"]["Image"]
                        .as_str()
                        .or_else(|| v["ImageName"].as_str())
                        .unwrap_or("");
                    let image_id = v["Image"].as_str().unwrap_or("");
                    return Some(image_name_version(config_image, image_id));
                }
                Ok((status, _)) => {
                    tracing::debug!(socket = %sock.display(), status, container_id, "container not known to this runtime");
                }
                Err(e) => {
                    tracing::debug!(socket = %sock.display(), "runtime API unreachable: {e}");
                }
            }
        }
        None
    }

    /// The ContainerRef of a container id: resolved image, or `unresolved` with the short id
    /// as version when no runtime answers.
    pub fn container_ref(&mut self, container_id: &str) -> ContainerRef {
        let (image, version) = self.image(container_id).unwrap_or_else(|| {
            (
                UNRESOLVED_IMAGE.to_string(),
                container_id.chars().take(12).collect(),
            )
        });
        ContainerRef {
            id: container_id.to_string(),
            image,
            version,
            ..Default::default()
        }
    }

    /// Is an image resolution for this container still pending (unresolved, retry due)?
    pub fn image_known(&self, container_id: &str) -> bool {
        self.images
            .get(container_id)
            .is_some_and(|c| c.image.is_some())
    }
}

/// The cgroup v2 path of a process (`0::<path>` line of /proc/PID/cgroup).
pub fn proc_cgroup_v2_path(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// Where cgroup v2 is mounted (`/sys/fs/cgroup` on unified hosts, `/sys/fs/cgroup/unified`
/// on hybrid ones).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        if fstype != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(PathBuf::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2b5c9a1d0e4f6a8b7c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";

    #[test]
    fn container_ids_from_runtime_cgroup_layouts() {
        for p in [
            format!("/libpod_parent/libpod-{ID}"),
            format!("/machine.slice/libpod-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/kubepods/besteffort/pod1234-ab/{ID}"),
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/cri-containerd-{ID}.scope"),
            format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"),
            format!("/libpod_parent/libpod-{ID}/init.scope"),
        ] {
            assert_eq!(container_id_from_cgroup_path(&p).as_deref(), Some(ID), "{p}");
        }
        for p in [
            "/".to_string(),
            "/system.slice/sshd.service".to_string(),
            format!("/libpod_parent/libpod-conmon-{ID}"),
            format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            "/docker/abc".to_string(),
        ] {
            assert_eq!(container_id_from_cgroup_path(&p), None, "{p}");
        }
    }

    #[test]
    fn image_names_and_versions() {
        let cases = [
            ("localhost/demo/web:1.0", "", ("demo/web", "1.0")),
            ("nginx", "sha256:abc", ("nginx", "sha256:abc")),
            ("docker.io/library/redis:7", "x", ("redis", "7")),
            (
                "registry:5000/team/app:2.1",
                "x",
                ("registry:5000/team/app", "2.1"),
            ),
            (
                "ghcr.io/o/app@sha256:ff",
                "x",
                ("ghcr.io/o/app", "sha256:ff"),
            ),
            (
                "ghcr.io/o/app:1@sha256:ff",
                "x",
                ("ghcr.io/o/app", "sha256:ff"),
            ),
            ("", "", ("unknown", "unknown")),
        ];
        for (img, id, (n, v)) in cases {
            assert_eq!(
                image_name_version(img, id),
                (n.to_string(), v.to_string()),
                "{img}"
            );
        }
    }

    #[test]
    fn dechunks_bodies() {
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }

    #[test]
    fn http_over_unix_socket() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("api.sock");
        let l = UnixListener::bind(&sock).unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Config\":{\"Image\":\"localhost/demo/db:2\"},\"Image\":\"sha256:1\"}")
                .unwrap();
            req
        });
        let mut r = Resolver::new(dir.path().to_path_buf(), vec![sock]);
        assert_eq!(r.image(ID), Some(("demo/db".into(), "2".into())));
        let req = t.join().unwrap();
        assert!(
            req.starts_with(&format!("GET /v1.41/containers/{ID}/json HTTP/1.0")),
            "{req}"
        );
        // Cached: no second request (the listener is gone).
        assert_eq!(r.image(ID), Some(("demo/db".into(), "2".into())));
        assert_eq!(r.api_calls, 1);
    }
}
