//! Signals: insert with de-duplication (identical signals are counted on the first one
//! within a window) and suppression (matches of an active suppression are counted on the
//! suppression, not queued); reads with filters, each with its suggestion.

use crate::{Result, Store, StoreError};
use duckdb::{params, OptionalExt};
use model::profile::Profile;
use model::signal::{suggest, NewSignal, SignalStatus, Suggestion};
use model::tree::NodeKey;
use model::ProcessInfo;
use serde::Serialize;
use std::collections::HashMap;

/// What `add_signal` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Inserted(i64),
    /// Counted on an identical earlier signal.
    Deduplicated(i64),
    /// Counted on the newest signal of the same rule and container: too many in the window.
    RateLimited(i64),
    /// Hidden by this suppression (counted on it).
    Suppressed(i64),
}

/// A stored signal with its current suggestion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRow {
    pub id: i64,
    pub ts_ms: i64,
    pub last_ts_ms: i64,
    pub kind: String,
    pub rule_id: String,
    pub severity: String,
    pub mitre: String,
    pub container_id: String,
    pub image: String,
    pub version: String,
    pub process: ProcessInfo,
    pub summary: String,
    pub node_key: String,
    pub reason: String,
    pub status: String,
    pub suppression_id: Option<i64>,
    pub count: u32,
    pub suggestion: Option<Suggestion>,
}

/// Filters of the signal queue; `None` means any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalFilter {
    pub image: Option<String>,
    pub rule: Option<String>,
    pub status: Option<String>,
}

const SIGNAL_COLUMNS: &str =
    "signal_id, ts_ms, last_ts_ms, kind, rule_id, severity, mitre, container_id, image, version,
     process_json, summary, node_key, reason, status, suppression_id, count";

fn row_to_signal(r: &duckdb::Row) -> duckdb::Result<(SignalRow, String)> {
    let process_json: String = r.get(10)?;
    Ok((
        SignalRow {
            id: r.get(0)?,
            ts_ms: r.get(1)?,
            last_ts_ms: r.get(2)?,
            kind: r.get(3)?,
            rule_id: r.get(4)?,
            severity: r.get(5)?,
            mitre: r.get(6)?,
            container_id: r.get(7)?,
            image: r.get(8)?,
            version: r.get(9)?,
            process: ProcessInfo::default(),
            summary: r.get(11)?,
            node_key: r.get(12)?,
            reason: r.get(13)?,
            status: r.get(14)?,
            suppression_id: r.get(15)?,
            count: r.get::<_, i64>(16)? as u32,
            suggestion: None,
        },
        process_json,
    ))
}

impl Store {
    /// Raise a signal at `now_ms`.
    pub fn add_signal(&mut self, s: &NewSignal, now_ms: i64) -> Result<AddOutcome> {
        let tx = self.conn.transaction()?;
        // 1. an active suppression hides it
        let lineage = s.node.lineage();
        let candidates: Vec<(i64, String, Option<i64>)> = {
            let mut stmt = tx.prepare(
                "SELECT suppression_id, lineage_json, expires_ms FROM suppressions
                 WHERE rule_id = ? AND image = ? AND removed_ms IS NULL",
            )?;
            let rows = stmt.query_map(params![s.rule_id, s.container.image], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, lineage_json, expires) in candidates {
            let l: Vec<String> = serde_json::from_str(&lineage_json)
                .map_err(|e| StoreError::Corrupt(format!("suppression {id} lineage: {e}")))?;
            if l == lineage && expires.is_none_or(|e| now_ms < e) {
                tx.execute(
                    "UPDATE suppressions SET hidden_count = hidden_count + 1 WHERE suppression_id = ?",
                    params![id],
                )?;
                tx.commit()?;
                return Ok(AddOutcome::Suppressed(id));
            }
        }
        // 2. identical recent signal: count it there
        let key = s.dedup_key();
        let dup: Option<i64> = tx
            .prepare(
                "SELECT signal_id FROM signals WHERE dedup_key = ? AND ? - last_ts_ms <= ?
                 ORDER BY ts_ms DESC LIMIT 1",
            )?
            .query_row(params![key, s.ts_ms, self.settings.dedup_window_ms], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = dup {
            tx.execute(
                "UPDATE signals SET count = count + 1, last_ts_ms = greatest(last_ts_ms, ?) WHERE signal_id = ?",
                params![s.ts_ms, id],
            )?;
            tx.commit()?;
            return Ok(AddOutcome::Deduplicated(id));
        }
        // 3. rate limit: past the limit of new signals of a rule for a container within the
        //    window, count on the newest instead of queueing more
        let (recent, newest): (i64, Option<i64>) = tx.query_row(
            "SELECT count(*), arg_max(signal_id, ts_ms) FROM signals
             WHERE rule_id = ? AND container_id = ? AND ? - ts_ms <= ? AND ts_ms <= ?",
            params![
                s.rule_id,
                s.container.id,
                s.ts_ms,
                self.settings.dedup_window_ms,
                s.ts_ms
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if let Some(id) = newest.filter(|_| recent >= self.settings.rate_limit as i64) {
            tx.execute(
                "UPDATE signals SET count = count + 1, last_ts_ms = greatest(last_ts_ms, ?) WHERE signal_id = ?",
                params![s.ts_ms, id],
            )?;
            tx.commit()?;
            return Ok(AddOutcome::RateLimited(id));
        }
        let process =
            serde_json::to_string(&s.process).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id: i64 = tx
            .prepare(
                "INSERT INTO signals (ts_ms, last_ts_ms, kind, rule_id, severity, mitre, container_id, image, version,
                    process_path, process_json, summary, node_key, reason, status, suppression_id, count, dedup_key)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, 1, ?) RETURNING signal_id",
            )?
            .query_row(
                params![
                    s.ts_ms,
                    s.ts_ms,
                    s.kind.as_str(),
                    s.rule_id,
                    s.severity,
                    s.mitre,
                    s.container.id,
                    s.container.image,
                    s.container.version,
                    s.process.exec_path,
                    process,
                    s.summary,
                    s.node.0,
                    s.reason,
                    key
                ],
                |r| r.get(0),
            )?;
        tx.commit()?;
        Ok(AddOutcome::Inserted(id))
    }

    /// Signals, newest first, filtered, each with its suggestion against the current profile.
    pub fn signals(&self, f: &SignalFilter) -> Result<Vec<SignalRow>> {
        let sql = format!(
            "SELECT {SIGNAL_COLUMNS} FROM signals
             WHERE (? IS NULL OR image = ?) AND (? IS NULL OR rule_id = ?) AND (? IS NULL OR status = ?)
             ORDER BY ts_ms DESC, signal_id DESC"
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(
            params![f.image, f.image, f.rule, f.rule, f.status, f.status],
            row_to_signal,
        )?;
        let mut out = Vec::new();
        let mut profiles: HashMap<(String, String), Option<Profile>> = HashMap::new();
        for row in rows {
            let (mut s, process_json) = row?;
            self.complete(&mut s, &process_json, &mut profiles)?;
            out.push(s);
        }
        Ok(out)
    }

    /// One signal by id.
    pub fn signal(&self, id: i64) -> Result<SignalRow> {
        let sql = format!("SELECT {SIGNAL_COLUMNS} FROM signals WHERE signal_id = ?");
        let (mut s, pj) = self
            .conn()
            .prepare(&sql)?
            .query_row(params![id], row_to_signal)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no signal with id {id}")))?;
        self.complete(&mut s, &pj, &mut HashMap::new())?;
        Ok(s)
    }

    fn complete(
        &self,
        s: &mut SignalRow,
        process_json: &str,
        profiles: &mut HashMap<(String, String), Option<Profile>>,
    ) -> Result<()> {
        s.process = serde_json::from_str(process_json)
            .map_err(|e| StoreError::Corrupt(format!("signal {} process: {e}", s.id)))?;
        let key = (s.image.clone(), s.version.clone());
        if !profiles.contains_key(&key) {
            profiles.insert(key.clone(), self.profile(&s.image, &s.version)?);
        }
        if let Some(Some(p)) = profiles.get(&key) {
            s.suggestion = suggest(
                &NodeKey(s.node_key.clone()),
                p,
                self.settings.suggestion_threshold,
            );
        }
        Ok(())
    }

    /// Mark a signal as looked at and kept (the suggestion was rejected).
    pub fn reject_signal(&mut self, id: i64) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE signals SET status = ? WHERE signal_id = ? AND status = 'open'",
            params![SignalStatus::Rejected.as_str(), id],
        )?;
        if n == 0 {
            self.signal(id)?;
            return Err(StoreError::Refused(format!("signal {id} is not open")));
        }
        Ok(())
    }

    /// Open signals per status, for status lines: (open, suppressed, rejected).
    pub fn signal_counts(&self) -> Result<(u32, u32, u32)> {
        Ok(self.conn().query_row(
            "SELECT count(*) FILTER (status = 'open'), count(*) FILTER (status = 'suppressed'),
                    count(*) FILTER (status = 'rejected') FROM signals",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u32,
                    r.get::<_, i64>(1)? as u32,
                    r.get::<_, i64>(2)? as u32,
                ))
            },
        )?)
    }
}
