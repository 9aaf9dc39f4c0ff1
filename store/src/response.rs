//! Responses: containers frozen or thawed from a signal. Every attempt is kept in an
//! append-only audit table with who made it, when, on which container (image and version),
//! from which signal, through what (the cgroup v2 directory, or the runtime's pause), and
//! how it went (`ok`, or `error` with the error).

use crate::read::Reads;
use crate::{Result, Store};
use duckdb::params;
use serde::{Deserialize, Serialize};

/// What a response does to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseAction {
    Freeze,
    Thaw,
}

impl ResponseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseAction::Freeze => "freeze",
            ResponseAction::Thaw => "thaw",
        }
    }

    pub fn parse(s: &str) -> Option<ResponseAction> {
        match s {
            "freeze" => Some(ResponseAction::Freeze),
            "thaw" => Some(ResponseAction::Thaw),
            _ => None,
        }
    }
}

/// One row of the audit table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRow {
    pub id: i64,
    pub at_ms: i64,
    pub who: String,
    pub action: ResponseAction,
    pub container_id: String,
    pub image: String,
    pub version: String,
    /// The signal it was taken from (a thaw named by its container has none).
    pub signal_id: Option<i64>,
    /// The cgroup directory written (`""` when none was found or the runtime paused it).
    pub cgroup_path: String,
    /// `cgroup v2`, `runtime pause (SOCKET)`, or `""` when nothing was reached.
    pub method: String,
    /// `ok` or `error`.
    pub outcome: String,
    /// Why it failed (`""` when it did not).
    pub error: String,
    pub reason: String,
}

impl ResponseRow {
    pub fn ok(&self) -> bool {
        self.outcome == "ok"
    }
}

impl Store {
    /// Append a response to the audit table; `row.id` is ignored (the table numbers it).
    /// Returns the row as stored.
    pub fn record_response(&self, row: &ResponseRow) -> Result<ResponseRow> {
        let id: i64 = self.conn().query_row(
            "INSERT INTO responses (at_ms, who, action, container_id, image, version, signal_id,
                                    cgroup_path, method, outcome, error, reason)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING response_id",
            params![
                row.at_ms,
                row.who,
                row.action.as_str(),
                row.container_id,
                row.image,
                row.version,
                row.signal_id,
                row.cgroup_path,
                row.method,
                row.outcome,
                row.error,
                row.reason
            ],
            |r| r.get(0),
        )?;
        Ok(ResponseRow { id, ..row.clone() })
    }
}

impl Reads<'_> {
    /// The newest `limit` responses, newest first.
    pub(crate) fn responses(&self, limit: usize) -> Result<Vec<ResponseRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT response_id, at_ms, who, action, container_id, image, version, signal_id,
                    cgroup_path, method, outcome, error, reason
             FROM responses ORDER BY at_ms DESC, response_id DESC LIMIT ?",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            let action: String = r.get(3)?;
            let action = ResponseAction::parse(&action).ok_or_else(|| {
                duckdb::Error::FromSqlConversionFailure(
                    3,
                    duckdb::types::Type::Text,
                    format!("response action `{action}` is neither freeze nor thaw").into(),
                )
            })?;
            Ok(ResponseRow {
                id: r.get(0)?,
                at_ms: r.get(1)?,
                who: r.get(2)?,
                action,
                container_id: r.get(4)?,
                image: r.get(5)?,
                version: r.get(6)?,
                signal_id: r.get(7)?,
                cgroup_path: r.get(8)?,
                method: r.get(9)?,
                outcome: r.get(10)?,
                error: r.get(11)?,
                reason: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}
