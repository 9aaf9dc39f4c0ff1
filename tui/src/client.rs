//! The agent's client side: finding the agent (`--socket`, `WSPROF_SOCKET`, the default
//! path) or falling back to a store file, and a [`Source`] that asks the agent's API.

use crate::http::{self, percent_encode, ClientError};
use crate::respond::RespondRequest;
use crate::source::{LifecycleRequest, Result, Source, SourceError, StatusReport, SuppressRequest};
use model::diff::ProfileDiff;
use model::export::ExportFormat;
use model::outlier::OutlierReport;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;
use store::{
    LearningProgress, LifecycleChange, NodeRow, ProfileSummary, ResponseRow, SignalFilter,
    SignalRow, SnapshotDetail, SnapshotSummary, SuppressionRow,
};

/// The agent's socket when nothing else is said.
pub const DEFAULT_SOCKET: &str = "/run/wsprof/wsprof.sock";

/// Where a command reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Agent(PathBuf),
    File(PathBuf),
}

/// The socket named by `--socket` or `WSPROF_SOCKET`, if any.
pub fn named_socket(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("WSPROF_SOCKET")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// Does an agent answer on `socket`? (A short `GET /v1/version`.)
pub fn answers(socket: &Path) -> bool {
    let mut c = AgentClient::new(socket);
    c.timeout = Duration::from_secs(2);
    c.version().is_ok()
}

/// Decide where a CLI twin or the UI goes:
/// 1. a socket named by `--socket`/`WSPROF_SOCKET`: the agent there, which must answer;
/// 2. `--db FILE`: that file (see [`agent_for_locked`] when the agent holds it);
/// 3. otherwise the agent on the configured socket when one answers, else the configured
///    store file.
pub fn resolve(
    socket: Option<&Path>,
    default_socket: &Path,
    db: Option<&Path>,
    default_db: PathBuf,
) -> Result<Target> {
    if let Some(sock) = named_socket(socket) {
        let client = AgentClient::new(&sock);
        return match client.version() {
            Ok(_) => Ok(Target::Agent(sock)),
            Err(SourceError::Client(ClientError::NoAgent(s))) => Err(SourceError::Client(
                ClientError::NoAgent(format!(
                    "{s} (start it with `wsprof agent` or `systemctl start wsprof`, or read a store file with --db)"
                )),
            )),
            Err(e) => Err(e),
        };
    }
    if let Some(db) = db {
        return Ok(Target::File(db.to_path_buf()));
    }
    if answers(default_socket) {
        return Ok(Target::Agent(default_socket.to_path_buf()));
    }
    Ok(Target::File(default_db))
}

/// When the store file `db` is locked: the agent on `default` (the configured socket), if
/// it is the one that holds this file.
pub fn agent_for_locked(db: &Path, default: &Path) -> Option<PathBuf> {
    let mut client = AgentClient::new(default);
    let status = client.status().ok()?;
    let agent_db = status.agent?.get("db")?.as_str().map(PathBuf::from)?;
    let same = std::fs::canonicalize(&agent_db).ok()? == std::fs::canonicalize(db).ok()?;
    same.then(|| default.to_path_buf())
}

/// A [`Source`] over the agent's API.
#[derive(Debug, Clone)]
pub struct AgentClient {
    socket: PathBuf,
    /// How long one request may take.
    pub timeout: Duration,
}

impl AgentClient {
    pub fn new(socket: &Path) -> AgentClient {
        AgentClient {
            socket: socket.to_path_buf(),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        target: &str,
        body: Option<&[u8]>,
    ) -> Result<T> {
        let r = http::request(&self.socket, method, target, body, self.timeout)?;
        if !(200..300).contains(&r.status) {
            let message = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{method} {target} answered {}", r.status));
            return Err(SourceError::Agent {
                status: r.status,
                message,
            });
        }
        serde_json::from_slice(&r.body).map_err(|e| {
            SourceError::Client(ClientError::Protocol {
                socket: self.socket.display().to_string(),
                message: format!("{target}: unreadable answer: {e}"),
            })
        })
    }

    fn get<T: DeserializeOwned>(&self, target: &str) -> Result<T> {
        self.call("GET", target, None)
    }

    fn post<T: DeserializeOwned>(&self, target: &str, body: &serde_json::Value) -> Result<T> {
        let b = serde_json::to_vec(body).unwrap_or_default();
        self.call("POST", target, Some(&b))
    }

    /// `GET /v1/version`.
    pub fn version(&self) -> Result<serde_json::Value> {
        self.get("/v1/version")
    }

    /// `GET /v1/decisions`.
    pub fn decisions(&self, limit: usize) -> Result<Vec<store::decision::Decision>> {
        self.get(&format!("/v1/decisions?limit={limit}"))
    }
}

fn profile_query(image: &str, version: &str) -> String {
    format!(
        "image={}&version={}",
        percent_encode(image),
        percent_encode(version)
    )
}

impl Source for AgentClient {
    fn profiles(&mut self) -> Result<Vec<ProfileSummary>> {
        self.get("/v1/profiles")
    }

    fn profile_nodes(&mut self, image: &str, version: &str) -> Result<Vec<NodeRow>> {
        self.get(&format!(
            "/v1/profile/nodes?{}",
            profile_query(image, version)
        ))
    }

    fn profile_snapshots(&mut self, image: &str, version: &str) -> Result<Vec<SnapshotSummary>> {
        self.get(&format!(
            "/v1/profile/snapshots?{}",
            profile_query(image, version)
        ))
    }

    fn signals(&mut self, f: &SignalFilter) -> Result<Vec<SignalRow>> {
        let mut q = Vec::new();
        for (k, v) in [
            ("image", &f.image),
            ("rule", &f.rule),
            ("status", &f.status),
            ("tag", &f.tag),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", percent_encode(v)));
            }
        }
        if let Some(n) = f.limit {
            q.push(format!("limit={n}"));
        }
        self.get(&format!("/v1/signals?{}", q.join("&")))
    }

    fn signal(&mut self, id: i64) -> Result<SignalRow> {
        self.get(&format!("/v1/signals/{id}"))
    }

    fn preview_suppression(&mut self, signal_id: i64) -> Result<(u32, u64)> {
        let v: serde_json::Value = self.get(&format!("/v1/signals/{signal_id}/preview"))?;
        Ok((
            v["signals"].as_u64().unwrap_or(0) as u32,
            v["matches"].as_u64().unwrap_or(0),
        ))
    }

    fn suppressions(&mut self, include_removed: bool) -> Result<Vec<SuppressionRow>> {
        self.get(&format!("/v1/suppressions?all={include_removed}"))
    }

    fn suppress(
        &mut self,
        req: &SuppressRequest,
        _who: &str,
        _now_ms: i64,
    ) -> Result<SuppressionRow> {
        let body = serde_json::to_value(req).unwrap_or_default();
        self.post(&format!("/v1/signals/{}/suppress", req.signal_id), &body)
    }

    fn reject_signal(&mut self, id: i64, _who: &str) -> Result<()> {
        let _: serde_json::Value =
            self.post(&format!("/v1/signals/{id}/reject"), &serde_json::json!({}))?;
        Ok(())
    }

    fn unsuppress(&mut self, id: i64, _who: &str, _now_ms: i64) -> Result<SuppressionRow> {
        self.post(
            &format!("/v1/suppressions/{id}/undo"),
            &serde_json::json!({}),
        )
    }

    fn status(&mut self) -> Result<StatusReport> {
        self.get("/v1/status")
    }

    fn profile_diff(
        &mut self,
        from: (&str, &str),
        to: (&str, &str),
        threshold: f64,
    ) -> Result<ProfileDiff> {
        self.get(&format!(
            "/v1/profile/diff?{}&to_image={}&to_version={}&threshold={threshold}",
            profile_query(from.0, from.1),
            percent_encode(to.0),
            percent_encode(to.1)
        ))
    }

    fn profile_outliers(&mut self, image: &str, version: &str) -> Result<OutlierReport> {
        self.get(&format!(
            "/v1/profile/outliers?{}",
            profile_query(image, version)
        ))
    }

    fn profile_export(
        &mut self,
        image: &str,
        version: &str,
        format: ExportFormat,
        force: bool,
    ) -> Result<String> {
        let v: serde_json::Value = self.get(&format!(
            "/v1/profile/export?{}&format={format}&force={force}",
            profile_query(image, version)
        ))?;
        v["text"].as_str().map(str::to_string).ok_or_else(|| {
            SourceError::Client(ClientError::Protocol {
                socket: self.socket.display().to_string(),
                message: "/v1/profile/export: the answer has no `text`".into(),
            })
        })
    }

    fn snapshot(&mut self, id: &str) -> Result<SnapshotDetail> {
        self.get(&format!("/v1/snapshot?id={}", percent_encode(id)))
    }

    fn signal_snapshots(&mut self, signal_id: i64) -> Result<Vec<SnapshotSummary>> {
        self.get(&format!("/v1/signals/{signal_id}/snapshots"))
    }

    fn learning_progress(
        &mut self,
        image: &str,
        version: &str,
        last: usize,
    ) -> Result<LearningProgress> {
        self.get(&format!(
            "/v1/profile/progress?{}&last={last}",
            profile_query(image, version)
        ))
    }

    fn lifecycle_changes(&mut self, image: &str, version: &str) -> Result<Vec<LifecycleChange>> {
        self.get(&format!(
            "/v1/profile/lifecycle?{}",
            profile_query(image, version)
        ))
    }

    fn change_lifecycle(
        &mut self,
        req: &LifecycleRequest,
        _who: &str,
        _now_ms: i64,
    ) -> Result<LifecycleChange> {
        self.post(
            &format!(
                "/v1/profile/{}?{}",
                req.action.as_str(),
                profile_query(&req.image, &req.version)
            ),
            &serde_json::json!({ "reason": req.reason }),
        )
    }

    fn undo_lifecycle(
        &mut self,
        image: &str,
        version: &str,
        reason: &str,
        _who: &str,
        _now_ms: i64,
    ) -> Result<LifecycleChange> {
        self.post(
            &format!("/v1/profile/undo?{}", profile_query(image, version)),
            &serde_json::json!({ "reason": reason }),
        )
    }

    fn respond(&mut self, req: &RespondRequest, _who: &str, _now_ms: i64) -> Result<ResponseRow> {
        let body = serde_json::to_value(req).unwrap_or_default();
        self.post("/v1/respond", &body)
    }

    fn responses(&mut self, limit: usize) -> Result<Vec<ResponseRow>> {
        self.get(&format!("/v1/responses?limit={limit}"))
    }
}
