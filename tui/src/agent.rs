//! The agent's local API: HTTP/JSON on a unix socket, versioned paths (`/v1/...`), usable
//! with `curl --unix-socket`. Reads answer from the store; decisions record who made them
//! from the socket's peer credentials (uid -> user name), never from what the client says.
//! `GET /v1/events?since=N` streams what changed, one JSON document per line.
//!
//! The socket is bound in a private directory, given its group and mode 0660 there, and
//! only then renamed into place: it is never reachable with the wrong mode.

use crate::changes::{ChangeKind, ChangeLog};
use crate::http::{self, Request};
use crate::respond::RespondRequest;
use crate::source::{LifecycleRequest, Source, SourceError, SuppressRequest};
use serde::Serialize;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use store::{SignalFilter, Store, StoreError};

/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// A streamed client hears at least this often (a heartbeat when nothing changed).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Who the agent is, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct AgentInfo {
    pub pid: u32,
    pub version: &'static str,
    pub started_ms: i64,
    pub db: PathBuf,
    pub socket: PathBuf,
    /// The group whose members may use the socket; None: root only.
    pub socket_group: Option<String>,
}

/// What the API serves from.
pub struct ApiContext {
    /// The writer's store: decisions, and the audit trail.
    pub store: Arc<Mutex<Store>>,
    /// Reads: connections of their own, never waiting for ingest.
    pub readers: Arc<crate::engine::ReaderPool>,
    pub changes: Arc<ChangeLog>,
    pub info: AgentInfo,
    /// Live counters (capture, pipeline loss) for `status`.
    pub live: Box<dyn Fn() -> serde_json::Value + Send + Sync>,
}

/// The client at the other end of a connection (SO_PEERCRED: fixed at connect time).
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
}

impl Peer {
    pub fn of(stream: &UnixStream) -> std::io::Result<Peer> {
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `cred`, a ucred we own.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Peer {
            uid: cred.uid,
            gid: cred.gid,
            pid: cred.pid,
        })
    }

    /// "alice (uid 1000)": what decisions record.
    pub fn who(&self) -> String {
        format!("{} (uid {})", user_name(self.uid), self.uid)
    }
}

/// The user name of `uid`, or `uid N` when it has none.
pub fn user_name(uid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r fills `pwd` using `buf` as its string storage; both outlive the call
    // and the read of pw_name below.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() && !pwd.pw_name.is_null() {
        // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
        if let Ok(n) = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }.to_str() {
            return n.to_string();
        }
    }
    format!("uid {uid}")
}

/// The gid of group `name`.
pub fn group_id(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: getgrnam_r fills `grp` using `buf`; we read only gr_gid.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut out,
        )
    };
    (rc == 0 && !out.is_null()).then_some(grp.gr_gid)
}

/// Bind the API socket at `path`: mode 0660 with group `group` when that group exists,
/// else 0600 (root only). Refuses when another agent answers there; a stale socket file is
/// replaced. Returns the listener and the group actually used.
pub fn bind_socket(path: &Path, group: &str) -> anyhow::Result<(UnixListener, Option<String>)> {
    use anyhow::{anyhow, Context};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("socket directory {}", dir.display()))?;
        // Group members must reach the socket inside it.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    if path.exists() {
        if crate::client::answers(path) {
            return Err(anyhow!(
                "socket {}: another wsprof agent answers there (stop it, or use another --socket)",
                path.display()
            ));
        }
        std::fs::remove_file(path).with_context(|| {
            format!("socket {}: cannot remove the stale socket", path.display())
        })?;
    }
    let gid = group_id(group);
    if gid.is_none() {
        tracing::warn!(
            group,
            "socket group does not exist: the socket is root-only (0600)"
        );
    }
    // A private directory beside the target (same filesystem, so the rename is atomic).
    let private = tempfile::Builder::new()
        .prefix(".wsprof-sock-")
        .tempdir_in(dir)
        .with_context(|| format!("socket directory {}", dir.display()))?;
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700))?;
    let tmp = private.path().join("sock");
    let listener = UnixListener::bind(&tmp)
        .with_context(|| format!("socket {}: cannot bind", path.display()))?;
    let mode = if let Some(gid) = gid {
        let c = std::ffi::CString::new(tmp.as_os_str().as_encoded_bytes())?;
        // SAFETY: chown on a path we just created; -1 keeps the owner.
        if unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) } != 0 {
            return Err(anyhow!(
                "socket {}: cannot give it group {group}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        0o660
    } else {
        0o600
    };
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("socket {}: cannot move into place", path.display()))?;
    Ok((listener, gid.map(|_| group.to_string())))
}

/// Serve the API until `stop` is set. Each connection gets a thread; at most
/// [`MAX_CONNECTIONS`] at once.
pub fn serve(
    listener: UnixListener,
    ctx: Arc<ApiContext>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("wsprof-api".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let mut pfd = libc::pollfd {
                    fd: listener.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd we own, 200 ms timeout.
                unsafe { libc::poll(&mut pfd, 1, 200) };
                let (mut stream, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                let _ = stream.set_nonblocking(false);
                if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    let _ = http::write_error(&mut stream, 503, "too many connections");
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                let (ctx, active) = (ctx.clone(), active.clone());
                let spawned = std::thread::Builder::new()
                    .name("wsprof-api-conn".into())
                    .spawn(move || {
                        handle_connection(&ctx, stream);
                        active.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    tracing::warn!("could not start a connection thread");
                }
            }
            ctx.changes.close();
        })
}

fn handle_connection(ctx: &ApiContext, mut stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let peer = match Peer::of(&stream) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("peer credentials: {e}");
            return;
        }
    };
    let req = match http::read_request(&mut stream) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(uid = peer.uid, pid = peer.pid, "bad request: {e}");
            if let Some(status) = e.status() {
                let _ = http::write_error(&mut stream, status, &e.to_string());
            }
            return;
        }
    };
    tracing::debug!(uid = peer.uid, pid = peer.pid, method = %req.method, path = %req.path, "request");
    if req.method == "GET" && req.path == "/v1/events" {
        stream_changes(ctx, &mut stream, &req);
        return;
    }
    let (status, body) = match route(ctx, &req, &peer) {
        Ok(v) => (200, v),
        Err((status, message)) => (status, serde_json::json!({ "error": message })),
    };
    let _ = http::write_json(&mut stream, status, body.to_string().as_bytes());
}

type Answer = Result<serde_json::Value, (u16, String)>;

fn to_json<T: Serialize>(v: T) -> Answer {
    serde_json::to_value(v).map_err(|e| (500, e.to_string()))
}

fn fail(e: SourceError) -> (u16, String) {
    let status = match &e {
        SourceError::Store(StoreError::NotFound(_)) => 404,
        SourceError::Store(StoreError::Refused(_)) => 409,
        SourceError::Agent { status, .. } => *status,
        _ => 500,
    };
    (status, e.to_string())
}

/// Reads on a pooled reader connection; decisions on the writer's store.
fn with_source<T>(
    ctx: &ApiContext,
    f: impl FnOnce(&mut dyn Source) -> Result<T, SourceError>,
) -> Result<T, (u16, String)> {
    crate::engine::with_source(&ctx.readers, &ctx.store, f)
        .map_err(|e| (500, e.to_string()))?
        .map_err(fail)
}

/// The writer's store itself (the audit trail).
fn with_store<T>(
    ctx: &ApiContext,
    f: impl FnOnce(&mut Store) -> Result<T, SourceError>,
) -> Result<T, (u16, String)> {
    let mut g = ctx
        .store
        .lock()
        .map_err(|_| (500, "the store lock is poisoned".to_string()))?;
    f(&mut g).map_err(fail)
}

fn id_in(path: &str, prefix: &str) -> Option<(i64, String)> {
    let rest = path.strip_prefix(prefix)?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    Some((id.parse().ok()?, tail.to_string()))
}

fn profile_param(req: &Request) -> Result<(&str, &str), (u16, String)> {
    match (req.param("image"), req.param("version")) {
        (Some(i), Some(v)) if !i.is_empty() && !v.is_empty() => Ok((i, v)),
        _ => Err((400, "give ?image=NAME&version=TAG".into())),
    }
}

/// Answer one request.
fn route(ctx: &ApiContext, req: &Request, peer: &Peer) -> Answer {
    let m = req.method.as_str();
    let p = req.path.as_str();
    if !p.starts_with("/v1/") {
        return Err((404, format!("no such path {p}: API paths start with /v1/")));
    }
    match (m, p) {
        ("GET", "/v1/version") => to_json(serde_json::json!({
            "api": http::API_VERSION, "wsprof": env!("CARGO_PKG_VERSION")
        })),
        ("GET", "/v1/status") => {
            let mut st = with_source(ctx, |s| s.status())?;
            let mut agent = serde_json::to_value(&ctx.info).unwrap_or_default();
            let live = (ctx.live)();
            if let Some(c) = live.get("capture").filter(|c| !c.is_null()) {
                st.capture = Some(c.clone());
            }
            agent["pipeline"] = live.get("pipeline").cloned().unwrap_or_default();
            agent["changes_seq"] = ctx.changes.seq().into();
            st.agent = Some(agent);
            to_json(st)
        }
        ("GET", "/v1/profiles") => to_json(with_source(ctx, |s| s.profiles())?),
        ("GET", "/v1/profile") => {
            let (image, version) = profile_param(req)?;
            let (summary, nodes, snapshots) = with_source(ctx, |s| {
                let summary = s
                    .profiles()?
                    .into_iter()
                    .find(|p| p.image == image && p.version == version)
                    .ok_or_else(|| StoreError::NotFound(format!("no profile {image}:{version}")))?;
                Ok((
                    summary,
                    s.profile_nodes(image, version)?,
                    s.profile_snapshots(image, version)?,
                ))
            })?;
            to_json(serde_json::json!({"profile": summary, "nodes": nodes, "snapshots": snapshots}))
        }
        ("GET", "/v1/profile/nodes") => {
            let (image, version) = profile_param(req)?;
            to_json(with_source(ctx, |s| s.profile_nodes(image, version))?)
        }
        ("GET", "/v1/profile/snapshots") => {
            let (image, version) = profile_param(req)?;
            to_json(with_source(ctx, |s| s.profile_snapshots(image, version))?)
        }
        ("GET", "/v1/profile/diff") => {
            let (image, version) = profile_param(req)?;
            let to = match (req.param("to_image"), req.param("to_version")) {
                (Some(i), Some(v)) if !i.is_empty() && !v.is_empty() => (i, v),
                _ => return Err((400, "give &to_image=NAME&to_version=TAG".into())),
            };
            let threshold = match req.param("threshold") {
                None => model::diff::DEFAULT_THRESHOLD,
                Some(t) => t
                    .parse::<f64>()
                    .ok()
                    .filter(|t| (0.0..=1.0).contains(t))
                    .ok_or_else(|| {
                        (
                            400,
                            format!("threshold `{t}`: expected a share between 0 and 1"),
                        )
                    })?,
            };
            to_json(with_source(ctx, |s| {
                s.profile_diff((image, version), to, threshold)
            })?)
        }
        ("GET", "/v1/profile/outliers") => {
            let (image, version) = profile_param(req)?;
            to_json(with_source(ctx, |s| s.profile_outliers(image, version))?)
        }
        ("GET", "/v1/profile/export") => {
            let (image, version) = profile_param(req)?;
            let format = model::export::ExportFormat::parse(req.param("format").unwrap_or(""))
                .map_err(|e| (400, e))?;
            let force = req.param("force") == Some("true");
            let text = with_source(ctx, |s| s.profile_export(image, version, format, force))?;
            to_json(serde_json::json!({"format": format.as_str(), "text": text}))
        }
        ("GET", "/v1/profile/progress") => {
            let (image, version) = profile_param(req)?;
            let last = match req.param("last") {
                None => 50,
                Some(l) => match l.parse::<usize>() {
                    Ok(n) if n >= 1 => n.min(100_000),
                    _ => return Err((400, format!("last `{l}`: expected a number from 1"))),
                },
            };
            to_json(with_source(ctx, |s| {
                s.learning_progress(image, version, last)
            })?)
        }
        ("GET", "/v1/profile/lifecycle") => {
            let (image, version) = profile_param(req)?;
            to_json(with_source(ctx, |s| s.lifecycle_changes(image, version))?)
        }
        ("POST", "/v1/profile/promote" | "/v1/profile/reset" | "/v1/profile/undo") => {
            let (image, version) = profile_param(req)?;
            let reason = if req.body.is_empty() {
                String::new()
            } else {
                let v: serde_json::Value = serde_json::from_slice(&req.body)
                    .map_err(|e| (400, format!("body: not JSON: {e}")))?;
                match &v["reason"] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(r) => r.clone(),
                    _ => return Err((400, "body: `reason` must be a string".into())),
                }
            };
            let who = peer.who();
            let (what, change) = match p {
                "/v1/profile/undo" => (
                    "undo",
                    with_source(ctx, |s| {
                        s.undo_lifecycle(image, version, &reason, &who, store::now_ms())
                    })?,
                ),
                _ => {
                    let action = if p.ends_with("promote") {
                        model::LifecycleAction::Promote
                    } else {
                        model::LifecycleAction::Reset
                    };
                    let req = LifecycleRequest {
                        image: image.to_string(),
                        version: version.to_string(),
                        action,
                        reason,
                    };
                    (
                        action.as_str(),
                        with_source(ctx, |s| s.change_lifecycle(&req, &who, store::now_ms()))?,
                    )
                }
            };
            let d = serde_json::json!({
                "decision": what, "who": who,
                "what": {"profile": format!("{image}:{version}"), "change": change.id},
            });
            // the profile's status moved, and with it the suggestions of its signals
            ctx.changes.publish(ChangeKind::Profiles, d.clone());
            ctx.changes.publish(ChangeKind::Signals, d);
            to_json(change)
        }
        ("GET", "/v1/snapshot") => match req.param("id") {
            Some(id) if !id.is_empty() => to_json(with_source(ctx, |s| s.snapshot(id))?),
            _ => Err((400, "give ?id=SNAPSHOT_ID".into())),
        },
        (
            _,
            "/v1/profile/progress"
            | "/v1/profile/lifecycle"
            | "/v1/profile/promote"
            | "/v1/profile/reset"
            | "/v1/profile/undo"
            | "/v1/snapshot",
        ) => Err((405, format!("{m} not allowed on {p}"))),
        ("GET", "/v1/signals") => {
            let f = SignalFilter {
                image: req.param("image").map(str::to_string),
                rule: req.param("rule").map(str::to_string),
                status: req.param("status").map(str::to_string),
                tag: req.param("tag").map(str::to_string),
                limit: match req.param("limit") {
                    None => None,
                    Some(n) => Some(n.parse::<usize>().map_err(|_| {
                        (400, format!("limit `{n}`: expected a number of signals"))
                    })?),
                },
            };
            if let Some(s) = &f.status {
                if model::signal::SignalStatus::parse(s).is_none() {
                    return Err((
                        400,
                        format!("status `{s}`: expected open, suppressed or rejected"),
                    ));
                }
            }
            to_json(with_source(ctx, |s| s.signals(&f))?)
        }
        ("GET", "/v1/suppressions") => {
            let all = req.param("all") == Some("true");
            to_json(with_source(ctx, |s| s.suppressions(all))?)
        }
        ("GET", "/v1/decisions") => {
            let limit = req
                .param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(100usize)
                .min(10_000);
            to_json(with_store(ctx, |s| Ok(s.decisions(limit)?))?)
        }
        ("GET", "/v1/responses") => {
            let limit = req
                .param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(crate::respond::RESPONSES_SHOWN)
                .min(10_000);
            to_json(with_source(ctx, |s| s.responses(limit))?)
        }
        ("POST", "/v1/respond") => {
            let body: RespondRequest = serde_json::from_slice(&req.body).map_err(|e| {
                (
                    400,
                    format!(
                        "body: {e} (expected {{\"action\": \"freeze\"|\"thaw\", \"signal_id\": N | \"container\": ID, \"reason\": TEXT}})"
                    ),
                )
            })?;
            let who = peer.who();
            let out = with_source(ctx, |s| s.respond(&body, &who, store::now_ms()));
            // a failed attempt on a container is recorded too
            ctx.changes.publish(
                ChangeKind::Responses,
                serde_json::json!({"response": body.action.as_str(), "who": who,
                    "signal": body.signal_id, "container": body.container}),
            );
            to_json(out?)
        }
        (_, p) if p.starts_with("/v1/signals/") => {
            let Some((id, tail)) = id_in(p, "/v1/signals/") else {
                return Err((404, format!("no such path {p}")));
            };
            match (m, tail.as_str()) {
                ("GET", "") => to_json(with_source(ctx, |s| s.signal(id))?),
                ("GET", "snapshots") => to_json(with_source(ctx, |s| s.signal_snapshots(id))?),
                ("GET", "preview") => {
                    let (n, k) = with_source(ctx, |s| s.preview_suppression(id))?;
                    to_json(serde_json::json!({"signals": n, "matches": k}))
                }
                ("POST", "suppress") => {
                    let mut body: SuppressRequest = if req.body.is_empty() {
                        SuppressRequest {
                            signal_id: id,
                            reason: String::new(),
                            expires_ms: None,
                            force: false,
                            scope: None,
                        }
                    } else {
                        let v: serde_json::Value = serde_json::from_slice(&req.body)
                            .map_err(|e| (400, format!("body: not JSON: {e}")))?;
                        let mut v = v;
                        v["signal_id"] = id.into();
                        serde_json::from_value(v).map_err(|e| (400, format!("body: {e}")))?
                    };
                    body.signal_id = id;
                    let who = peer.who();
                    let sup = with_source(ctx, |s| s.suppress(&body, &who, store::now_ms()))?;
                    publish_decision(
                        ctx,
                        "accept",
                        &who,
                        serde_json::json!({"signal": id, "suppression": sup.id}),
                    );
                    to_json(sup)
                }
                ("POST", "reject") => {
                    let who = peer.who();
                    with_source(ctx, |s| s.reject_signal(id, &who))?;
                    publish_decision(ctx, "reject", &who, serde_json::json!({"signal": id}));
                    to_json(serde_json::json!({"signal": id, "status": "rejected"}))
                }
                (_, "" | "preview" | "suppress" | "reject" | "snapshots") => {
                    Err((405, format!("{m} not allowed on {p}")))
                }
                _ => Err((404, format!("no such path {p}"))),
            }
        }
        (_, p) if p.starts_with("/v1/suppressions/") => match (m, id_in(p, "/v1/suppressions/")) {
            ("POST", Some((id, t))) if t == "undo" => {
                let who = peer.who();
                let sup = with_source(ctx, |s| s.unsuppress(id, &who, store::now_ms()))?;
                publish_decision(ctx, "undo", &who, serde_json::json!({"suppression": id}));
                to_json(sup)
            }
            (_, Some((_, t))) if t == "undo" => Err((405, format!("{m} not allowed on {p}"))),
            _ => Err((404, format!("no such path {p}"))),
        },
        (
            _,
            "/v1/version"
            | "/v1/status"
            | "/v1/profiles"
            | "/v1/profile"
            | "/v1/signals"
            | "/v1/suppressions"
            | "/v1/decisions"
            | "/v1/responses"
            | "/v1/respond"
            | "/v1/profile/diff"
            | "/v1/profile/outliers"
            | "/v1/profile/export",
        ) => Err((405, format!("{m} not allowed on {p}"))),
        _ => Err((404, format!("no such path {p}"))),
    }
}

fn publish_decision(ctx: &ApiContext, action: &str, who: &str, detail: serde_json::Value) {
    let d = serde_json::json!({"decision": action, "who": who, "what": detail});
    ctx.changes.publish(ChangeKind::Signals, d.clone());
    ctx.changes.publish(ChangeKind::Suppressions, d);
}

/// `GET /v1/events?since=N`: what changed after N, then every change as it happens, one
/// JSON document per line; `{"kind":"expired"}` when N is older than what is kept (read
/// everything again), `{"kind":"heartbeat"}` when nothing happened for a while.
fn stream_changes(ctx: &ApiContext, stream: &mut UnixStream, req: &Request) {
    let mut seq = match req.param("since") {
        Some(s) => match s.parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                let _ = http::write_error(stream, 400, "since: expected a sequence number");
                return;
            }
        },
        None => ctx.changes.seq(),
    };
    if http::start_stream(stream).is_err() {
        return;
    }
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let mut line = |v: &serde_json::Value| -> bool {
        let mut b = v.to_string().into_bytes();
        b.push(b'\n');
        stream.write_all(&b).and_then(|_| stream.flush()).is_ok()
    };
    if !line(&serde_json::json!({"kind": "hello", "seq": seq})) {
        return;
    }
    loop {
        if ctx.changes.is_closed() {
            return;
        }
        match ctx.changes.wait_since(seq, HEARTBEAT) {
            Ok(changes) if changes.is_empty() => {
                if !line(&serde_json::json!({"kind": "heartbeat", "seq": seq})) {
                    return;
                }
            }
            Ok(changes) => {
                for c in changes {
                    seq = c.seq;
                    if !line(&serde_json::to_value(&c).unwrap_or_default()) {
                        return;
                    }
                }
            }
            Err(expired) => {
                seq = ctx.changes.seq();
                if !line(
                    &serde_json::json!({"kind": "expired", "oldest": expired.oldest, "seq": seq}),
                ) {
                    return;
                }
            }
        }
    }
}
