//! Activity snapshots and their versioned JSON file format.
//!
//! A snapshot file is `{"format": "wsprof-snapshots", "version": 1, "snapshots": [...]}`;
//! each snapshot is `{id, container: {id, image, version}, host, started_ms, ended_ms,
//! tree: {roots: [process...]}}` (see README "Snapshot file format").

use crate::event::ContainerRef;
use crate::tree::ActivityTree;
use serde::{Deserialize, Serialize};

pub const SNAPSHOT_FORMAT: &str = "wsprof-snapshots";
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// What one workload did during one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub container: ContainerRef,
    #[serde(default)]
    pub host: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub tree: ActivityTree,
}

/// A snapshot file's envelope.
#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub format: String,
    pub version: u32,
    pub snapshots: Vec<Snapshot>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SnapshotFormatError {
    #[error("not valid snapshot JSON: {0}")]
    Json(String),
    #[error("not a wsprof snapshot file (format is `{0}`, expected `{SNAPSHOT_FORMAT}`)")]
    WrongFormat(String),
    #[error("snapshot file version {0} is not supported (this wsprof reads version {SNAPSHOT_FORMAT_VERSION})")]
    WrongVersion(u32),
    #[error("snapshot #{index} (`{id}`): {problem}")]
    Invalid {
        index: usize,
        id: String,
        problem: String,
    },
}

impl Snapshot {
    /// Check the invariants a stored snapshot must hold.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("empty id".into());
        }
        if self.container.image.trim().is_empty() {
            return Err("empty image name".into());
        }
        if self.container.version.trim().is_empty() {
            return Err("empty image version".into());
        }
        if self.ended_ms < self.started_ms {
            return Err(format!(
                "ends ({}) before it starts ({})",
                self.ended_ms, self.started_ms
            ));
        }
        if self.tree.roots.iter().any(|r| r.path.is_empty()) {
            return Err("a process node has an empty path".into());
        }
        Ok(())
    }
}

/// Serialize snapshots into the versioned file format.
pub fn to_file_json(snapshots: &[Snapshot]) -> String {
    let file = SnapshotFile {
        format: SNAPSHOT_FORMAT.into(),
        version: SNAPSHOT_FORMAT_VERSION,
        snapshots: snapshots.to_vec(),
    };
    serde_json::to_string(&file).expect("snapshots serialize")
}

/// Parse and validate a snapshot file; all or nothing.
pub fn from_file_json(text: &str) -> Result<Vec<Snapshot>, SnapshotFormatError> {
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        version: Option<u32>,
    }
    let head: Head =
        serde_json::from_str(text).map_err(|e| SnapshotFormatError::Json(e.to_string()))?;
    let format = head.format.unwrap_or_default();
    if format != SNAPSHOT_FORMAT {
        return Err(SnapshotFormatError::WrongFormat(format));
    }
    match head.version {
        Some(SNAPSHOT_FORMAT_VERSION) => {}
        Some(v) => return Err(SnapshotFormatError::WrongVersion(v)),
        None => return Err(SnapshotFormatError::WrongVersion(0)),
    }
    let file: SnapshotFile =
        serde_json::from_str(text).map_err(|e| SnapshotFormatError::Json(e.to_string()))?;
    for (index, s) in file.snapshots.iter().enumerate() {
        s.validate()
            .map_err(|problem| SnapshotFormatError::Invalid {
                index,
                id: s.id.clone(),
                problem,
            })?;
    }
    Ok(file.snapshots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Access, Event, EventKind, ProcessInfo};

    fn snap(id: &str) -> Snapshot {
        let mut tree = ActivityTree::default();
        tree.record(&Event {
            ts_ms: 1,
            container: ContainerRef {
                id: "c".into(),
                image: "web".into(),
                version: "1".into(),
                ..Default::default()
            },
            process: ProcessInfo {
                exec_path: "/usr/sbin/nginx".into(),
                ..Default::default()
            },
            kind: EventKind::Open {
                path: "/etc/nginx/nginx.conf".into(),
                access: Access::READ,
                errno: 0,
                requested: None,
            },
        });
        Snapshot {
            id: id.into(),
            container: ContainerRef {
                id: "c".into(),
                image: "web".into(),
                version: "1".into(),
                ..Default::default()
            },
            host: "h".into(),
            started_ms: 0,
            ended_ms: 10,
            tree,
        }
    }

    #[test]
    fn file_round_trip() {
        let s = vec![snap("a"), snap("b")];
        assert_eq!(from_file_json(&to_file_json(&s)).unwrap(), s);
    }

    #[test]
    fn refuses_wrong_version_format_and_invalid() {
        let good = to_file_json(&[snap("a")]);
        let v2 = good.replace("\"version\":1", "\"version\":2");
        assert_eq!(
            from_file_json(&v2),
            Err(SnapshotFormatError::WrongVersion(2))
        );
        let other = good.replace("wsprof-snapshots", "something");
        assert!(matches!(
            from_file_json(&other),
            Err(SnapshotFormatError::WrongFormat(_))
        ));
        let bad = good.replace("\"ended_ms\":10", "\"ended_ms\":-5");
        let err = from_file_json(&bad).unwrap_err().to_string();
        assert!(
            err.contains("snapshot #0 (`a`)") && err.contains("before it starts"),
            "{err}"
        );
        assert!(matches!(
            from_file_json("{\"format\":"),
            Err(SnapshotFormatError::Json(_))
        ));
    }
}
