//! cgroup id -> cgroup path -> container id -> image name, version, digest and tags
//! (through the runtime's API on a unix socket: Docker-compatible, containerd or CRI-O,
//! see `runtime`), cached.

pub use crate::runtime::docker::http_get_unix;
pub use crate::runtime::DEFAULT_SOCKETS;
use crate::runtime::{ContainerInfo, RuntimeSocket};
use model::ContainerRef;
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// What a cgroup is, as far as capture cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupKind {
    Container { id: String, path: String },
    Host { path: String },
}

/// A container's image and tags as its runtime described them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub image: String,
    pub version: String,
    pub digest: String,
    pub tags: Vec<String>,
}

impl Resolved {
    pub fn of(info: &ContainerInfo) -> Resolved {
        let (image, version) = image_name_version(&info.image, &info.digest);
        Resolved {
            image,
            version,
            digest: info.digest.clone(),
            tags: info.tags(),
        }
    }
}

#[derive(Debug, Clone)]
struct CachedImage {
    image: Option<Resolved>,
    /// Why no runtime could say (when `image` is None).
    reason: String,
    at: Instant,
}

/// Cached resolution of cgroups and containers.
pub struct Resolver {
    cgroup_root: PathBuf,
    sockets: Vec<RuntimeSocket>,
    cgroups: HashMap<u64, CgroupKind>,
    images: HashMap<String, CachedImage>,
    /// Retry an unresolved container image after this long.
    retry: Duration,
    /// Sockets named by the user (a missing one is reported, not skipped).
    explicit_sockets: Option<usize>,
    pub api_calls: u64,
}

impl Resolver {
    pub fn new(cgroup_root: PathBuf, sockets: Vec<PathBuf>) -> Resolver {
        let explicit_sockets = (!sockets.is_empty()).then_some(sockets.len());
        let sockets = if sockets.is_empty() {
            DEFAULT_SOCKETS.iter().map(PathBuf::from).collect()
        } else {
            sockets
        };
        let sockets = sockets.into_iter().map(RuntimeSocket::new).collect();
        Resolver {
            cgroup_root,
            sockets,
            cgroups: HashMap::new(),
            images: HashMap::new(),
            retry: Duration::from_secs(2),
            explicit_sockets,
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
        self.resolve(container_id)
            .map(|r| (r.image.clone(), r.version.clone()))
    }

    /// The container's image, digest and tags (cached; see [`Resolver::image`]).
    pub fn resolve(&mut self, container_id: &str) -> Option<&Resolved> {
        let due = match self.images.get(container_id) {
            Some(c) => c.image.is_none() && c.at.elapsed() >= self.retry,
            None => true,
        };
        if due {
            let (image, reason) = match self.ask_runtime(container_id) {
                Ok(r) => (Some(r), String::new()),
                Err(reason) => {
                    tracing::debug!(container_id, "unresolved: {reason}");
                    (None, reason)
                }
            };
            self.images.insert(
                container_id.to_string(),
                CachedImage {
                    image,
                    reason,
                    at: Instant::now(),
                },
            );
        }
        self.images.get(container_id).and_then(|c| c.image.as_ref())
    }

    /// Ask each socket in turn; the first that knows the container wins. The error says
    /// why none did, socket by socket ("containerd at /x.sock: connection refused").
    fn ask_runtime(&mut self, container_id: &str) -> Result<Resolved, String> {
        let mut why = Vec::new();
        let mut existing = 0;
        for sock in &mut self.sockets {
            if !sock.path.exists() && self.explicit_sockets.is_none() {
                continue;
            }
            existing += 1;
            self.api_calls += 1;
            match sock.container(container_id, Duration::from_secs(2)) {
                Ok(Some(info)) => return Ok(Resolved::of(&info)),
                Ok(None) => why.push(format!(
                    "{} at {}: no such container",
                    sock.kind().unwrap_or(crate::runtime::RuntimeKind::Unknown),
                    sock.path.display()
                )),
                Err(e) => why.push(e.to_string()),
            }
        }
        if existing == 0 {
            return Err(format!(
                "no runtime socket found (tried {})",
                DEFAULT_SOCKETS.join(", ")
            ));
        }
        Err(why.join("; "))
    }

    /// The ContainerRef of a container id: resolved image with digest and tags, or
    /// `unresolved` with the short id as version when no runtime answers.
    pub fn container_ref(&mut self, container_id: &str) -> ContainerRef {
        match self.resolve(container_id) {
            Some(r) => ContainerRef {
                id: container_id.to_string(),
                image: r.image.clone(),
                version: r.version.clone(),
                tags: r.tags.clone(),
                digest: r.digest.clone(),
            },
            None => ContainerRef {
                id: container_id.to_string(),
                image: UNRESOLVED_IMAGE.to_string(),
                version: container_id.chars().take(12).collect(),
                ..Default::default()
            },
        }
    }

    /// Is an image resolution for this container still pending (unresolved, retry due)?
    pub fn image_known(&self, container_id: &str) -> bool {
        self.images
            .get(container_id)
            .is_some_and(|c| c.image.is_some())
    }

    /// Why each container seen is (still) unresolved (short id -> reason), for `status`;
    /// containers that have exited stay listed: they were profiled as `unresolved`.
    pub fn unresolved_seen(&self) -> BTreeMap<String, String> {
        self.unresolved(self.images.keys())
    }

    /// Why each of these containers is unresolved (short id -> reason), for `status`.
    pub fn unresolved<'a>(
        &self,
        ids: impl Iterator<Item = &'a String>,
    ) -> BTreeMap<String, String> {
        ids.filter_map(|id| {
            let c = self.images.get(id)?;
            c.image
                .is_none()
                .then(|| (id.chars().take(12).collect(), c.reason.clone()))
        })
        .collect()
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
    use std::io::{Read, Write};

    /// One HTTP request's head (it may arrive in several writes).
    fn read_request(c: &mut std::os::unix::net::UnixStream) -> String {
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.ends_with(b"\r\n\r\n") {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&req).into_owned()
    }

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
    fn http_over_unix_socket() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("api.sock");
        let l = UnixListener::bind(&sock).unwrap();
        // The kind of socket is probed first (docker's `/_ping`), then the container asked.
        let t = std::thread::spawn(move || {
            let mut reqs = Vec::new();
            for answer in [
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nOK",
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Config\":{\"Image\":\"localhost/demo/db:2\",\"Labels\":{\"io.kubernetes.pod.namespace\":\"payments\"}},\"Image\":\"sha256:1\",\"Name\":\"/db-1\"}",
            ] {
                let (mut c, _) = l.accept().unwrap();
                reqs.push(read_request(&mut c));
                c.write_all(answer.as_bytes()).unwrap();
            }
            reqs.pop().unwrap()
        });
        let mut r = Resolver::new(dir.path().to_path_buf(), vec![sock]);
        assert_eq!(r.image(ID), Some(("demo/db".into(), "2".into())));
        let c = r.container_ref(ID);
        assert_eq!(c.digest, "sha256:1");
        assert_eq!(c.tags, ["container:db-1", "namespace:payments"]);
        let req = t.join().unwrap();
        assert!(
            req.starts_with(&format!("GET /v1.41/containers/{ID}/json HTTP/1.0")),
            "{req}"
        );
        // Cached: no second request (the listener is gone).
        assert_eq!(r.image(ID), Some(("demo/db".into(), "2".into())));
        assert_eq!(r.api_calls, 1);
    }

    /// A fake CRI-O: `/_ping` is unknown to it, `/info` and `/containers/ID` answer as
    /// CRI-O does (recorded JSON).
    #[test]
    fn crio_socket_is_recognised_and_answers_with_labels() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("crio.sock");
        let l = UnixListener::bind(&sock).unwrap();
        let t = std::thread::spawn(move || {
            let mut paths = Vec::new();
            for _ in 0..3 {
                let (mut c, _) = l.accept().unwrap();
                let req = read_request(&mut c);
                let path = req.split_whitespace().nth(1).unwrap().to_string();
                let (status, body) = match path.as_str() {
                    "/info" => ("200 OK", r#"{"storage_driver":"overlay","storage_root":"/var/lib/containers/storage","cgroup_driver":"systemd","default_id_mappings":{"uids":null,"gids":null}}"#.to_string()),
                    p if p == format!("/containers/{ID}") => ("200 OK", crate::runtime::crio::FIXTURE.to_string()),
                    _ => ("404 Not Found", "404 page not found".to_string()),
                };
                write!(c, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
                paths.push(path);
            }
            paths
        });
        let mut r = Resolver::new(dir.path().to_path_buf(), vec![sock]);
        let c = r.container_ref(ID);
        assert_eq!((c.image.as_str(), c.version.as_str()), ("acme/web", "1.0"));
        assert_eq!(c.digest, "sha256:4c1f0e6c2a");
        assert!(
            c.tags.contains(&"namespace:payments".to_string()),
            "{:?}",
            c.tags
        );
        assert!(c.tags.contains(&"pod:web-1".to_string()));
        assert!(c.tags.contains(&"container:web".to_string()));
        assert_eq!(
            t.join().unwrap(),
            [
                "/_ping".to_string(),
                "/info".into(),
                format!("/containers/{ID}")
            ]
        );
    }

    #[test]
    fn unreachable_runtime_leaves_an_unresolved_container_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("containerd.sock");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        let mut r = Resolver::new(dir.path().to_path_buf(), vec![sock.clone()]);
        let c = r.container_ref(ID);
        assert_eq!(c.image, UNRESOLVED_IMAGE);
        assert_eq!(c.version, &ID[..12]);
        let why = r.unresolved([ID.to_string()].iter());
        assert_eq!(
            why[&ID[..12]],
            format!(
                "containerd at {}: Connection refused (os error 111)",
                sock.display()
            )
        );
    }
}
