//! Responding to a signal: freeze the container it came from (cgroup v2's freezer, the
//! runtime's pause only when the container has no cgroup v2 directory) and thaw it again.
//! What may be done is decided here once: a signal of a host process (not from a
//! container) is refused, and so is a process that is not root; every attempt on a
//! container, whether it worked or not, is appended to the `responses` audit table with
//! who asked. The agent (root) runs this for its clients and records their peer
//! credentials as who.

use crate::source::{Result, Source, SourceError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::OnceLock;
use store::{ResponseAction, ResponseRow, StoreError};

/// How many audit rows the screens and `wsprof responses` read.
pub const RESPONSES_SHOWN: usize = 1000;

/// The prefix of the workload id capture gives host processes (`host:/system.slice/x`).
pub const HOST_PREFIX: &str = "host:";

/// Runtime sockets for the pause fallback, from the settings (set once by the binary;
/// unset: the default sockets that exist).
static RUNTIME_SOCKETS: OnceLock<Vec<PathBuf>> = OnceLock::new();

pub fn set_runtime_sockets(sockets: Vec<PathBuf>) {
    let _ = RUNTIME_SOCKETS.set(sockets);
}

/// What a person asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RespondRequest {
    pub action: ResponseAction,
    /// The signal whose container is meant.
    #[serde(default)]
    pub signal_id: Option<i64>,
    /// Or the container itself (its id, or at least 12 leading characters of it; thaw only):
    /// one an earlier response recorded.
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub reason: String,
}

impl RespondRequest {
    /// `SIGNAL_ID|CONTAINER` as typed: digits are a signal id, anything else a container.
    pub fn parse_target(action: ResponseAction, target: &str, reason: &str) -> RespondRequest {
        let t = target.trim();
        let (signal_id, container) = match t.parse::<i64>() {
            Ok(id) if !t.is_empty() && t.len() < 12 => (Some(id), None),
            _ => (None, Some(t.to_string())),
        };
        RespondRequest {
            action,
            signal_id,
            container,
            reason: reason.to_string(),
        }
    }
}

/// The container a request names, for the confirmation and the audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub container_id: String,
    pub image: String,
    pub version: String,
    pub signal_id: Option<i64>,
    /// The signal's rule (the default reason).
    pub rule: Option<String>,
}

impl Target {
    /// "container 3f2b5c9a1d0e (image acme/web:1.0)": what the confirmation names.
    pub fn describe(&self) -> String {
        format!(
            "container {} (image {}:{})",
            short_id(&self.container_id),
            self.image,
            self.version
        )
    }
}

/// The first 12 characters of a container id, as runtimes show it.
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(12) {
        Some((i, _)) if !id.starts_with(HOST_PREFIX) => &id[..i],
        _ => id,
    }
}

fn refused(msg: String) -> SourceError {
    StoreError::Refused(msg).into()
}

/// Which container a request means: the signal's (refused for a host process), or the
/// container of an earlier response (thaw by container).
pub fn target(src: &mut dyn Source, req: &RespondRequest) -> Result<Target> {
    match (req.signal_id, req.container.as_deref()) {
        (Some(id), _) => {
            let s = src.signal(id)?;
            if s.container_id.starts_with(HOST_PREFIX) || s.container_id.is_empty() {
                return Err(refused(format!(
                    "signal {id} is from a host process ({}), not from a container: there is no container to {}",
                    s.image,
                    req.action.as_str()
                )));
            }
            Ok(Target {
                container_id: s.container_id,
                image: s.image,
                version: s.version,
                signal_id: Some(id),
                rule: Some(s.rule_id),
            })
        }
        (None, Some(c)) => {
            let c = c.trim().to_ascii_lowercase();
            if c.starts_with(HOST_PREFIX) {
                return Err(refused(format!(
                    "`{c}` is a host workload, not a container"
                )));
            }
            if c.len() < 12 {
                return Err(refused(format!(
                    "container `{c}`: give a signal id or at least 12 characters of the container id"
                )));
            }
            let row = src
                .responses(RESPONSES_SHOWN)?
                .into_iter()
                .find(|r| r.container_id.starts_with(&c))
                .ok_or_else(|| {
                    refused(format!(
                        "container {c}: no response to it is recorded (see `wsprof responses`); name it by a signal id"
                    ))
                })?;
            Ok(Target {
                container_id: row.container_id,
                image: row.image,
                version: row.version,
                signal_id: None,
                rule: None,
            })
        }
        (None, None) => Err(refused("name a signal id or a container".into())),
    }
}

/// Root, or a clear refusal: cgroup files and runtime sockets are root's.
pub fn require_root(action: ResponseAction) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(refused(format!(
            "{} needs root: run it as root, or through the agent (`wsprof agent`)",
            match action {
                ResponseAction::Freeze => "freezing a container",
                ResponseAction::Thaw => "thawing a container",
            }
        )));
    }
    Ok(())
}

/// Freeze or thaw `t`'s container now; the audit row to append (not yet stored). No
/// reason given: the signal's (`signal 12 shadow-file-read`).
pub fn execute(
    t: &Target,
    action: ResponseAction,
    who: &str,
    reason: &str,
    now_ms: i64,
) -> ResponseRow {
    let sockets = RUNTIME_SOCKETS.get().cloned().unwrap_or_default();
    let freezer = capture::freezer::Freezer::for_host(&sockets);
    let attempt = match action {
        ResponseAction::Freeze => freezer.freeze(&t.container_id),
        ResponseAction::Thaw => freezer.thaw(&t.container_id),
    };
    let error = attempt.error.map(|e| e.to_string()).unwrap_or_default();
    tracing::info!(
        action = action.as_str(),
        container = %t.container_id,
        who,
        method = ?attempt.method,
        error = %error,
        "response"
    );
    ResponseRow {
        id: 0,
        at_ms: now_ms,
        who: who.to_string(),
        action,
        container_id: t.container_id.clone(),
        image: t.image.clone(),
        version: t.version.clone(),
        signal_id: t.signal_id,
        cgroup_path: attempt
            .method
            .as_ref()
            .map(|m| m.cgroup_path())
            .unwrap_or_default(),
        method: attempt
            .method
            .as_ref()
            .map(|m| m.text())
            .unwrap_or_default(),
        outcome: if error.is_empty() { "ok" } else { "error" }.into(),
        error,
        reason: match (reason.trim(), t.signal_id, &t.rule) {
            ("", Some(id), Some(rule)) => format!("signal {id} {rule}"),
            (r, _, _) => r.to_string(),
        },
    }
}

/// A stored row as the answer: the row when it worked, its error (one line) when not.
pub fn outcome(row: ResponseRow) -> Result<ResponseRow> {
    if row.ok() {
        Ok(row)
    } else {
        Err(refused(format!(
            "{} failed (response {} recorded): {}",
            row.action.as_str(),
            row.id,
            row.error
        )))
    }
}

/// The message the screens and the CLI show for a response that worked.
pub fn done_text(r: &ResponseRow) -> String {
    let verb = match r.action {
        ResponseAction::Freeze => "frozen",
        ResponseAction::Thaw => "thawed",
    };
    format!(
        "container {} (image {}:{}) {verb} through {}; response {} recorded",
        short_id(&r.container_id),
        r.image,
        r.version,
        r.method,
        r.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_typed_on_the_command_line() {
        let r = RespondRequest::parse_target(ResponseAction::Thaw, "42", "");
        assert_eq!((r.signal_id, r.container), (Some(42), None));
        // a container id made only of digits is still a container
        let r = RespondRequest::parse_target(ResponseAction::Thaw, "123456789012", "");
        assert_eq!(r.signal_id, None);
        let r = RespondRequest::parse_target(ResponseAction::Thaw, "3f2b5c9a1d0e", "why");
        assert_eq!(r.container.as_deref(), Some("3f2b5c9a1d0e"));
        assert_eq!(r.reason, "why");
    }

    #[test]
    fn short_ids_leave_host_workloads_whole() {
        assert_eq!(short_id(&"a".repeat(64)), "a".repeat(12));
        assert_eq!(
            short_id("host:/system.slice/cron.service"),
            "host:/system.slice/cron.service"
        );
        assert_eq!(short_id("abc"), "abc");
    }
}
