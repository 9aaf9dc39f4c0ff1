//! The audit trail of the person's decisions: who accepted a suggestion, rejected one or
//! undid a suppression, when, and through what (the agent records its client's peer
//! credentials; a local command its user).

use crate::{Result, Store};
use duckdb::params;
use serde::{Deserialize, Serialize};

/// One recorded decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub ts_ms: i64,
    pub who: String,
    /// `accept`, `reject`, `undo` (of a suppression, or of a profile's promote or reset),
    /// `promote` or `reset`.
    pub action: String,
    pub signal_id: Option<i64>,
    pub suppression_id: Option<i64>,
    pub detail: String,
    /// The `image:version` of a lifecycle decision (promote, reset, their undo).
    #[serde(default)]
    pub profile: Option<String>,
}

impl Store {
    /// Append a decision to the audit trail.
    pub fn record_decision(&self, d: &Decision) -> Result<()> {
        self.conn().execute(
            "INSERT INTO decisions (ts_ms, who, action, signal_id, suppression_id, detail, profile)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![
                d.ts_ms,
                d.who,
                d.action,
                d.signal_id,
                d.suppression_id,
                d.detail,
                d.profile
            ],
        )?;
        Ok(())
    }

    /// The newest `limit` decisions, newest first.
    pub fn decisions(&self, limit: usize) -> Result<Vec<Decision>> {
        let mut stmt = self.conn().prepare(
            "SELECT ts_ms, who, action, signal_id, suppression_id, detail, profile FROM decisions
             ORDER BY ts_ms DESC, rowid DESC LIMIT ?",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok(Decision {
                ts_ms: r.get(0)?,
                who: r.get(1)?,
                action: r.get(2)?,
                signal_id: r.get(3)?,
                suppression_id: r.get(4)?,
                detail: r.get(5)?,
                profile: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}
