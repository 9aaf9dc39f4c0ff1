//! Retention: keep the store bounded on a host that runs for months. What is older than
//! the retention goes: unmerged snapshots (and their node rows), closed signals
//! (suppressed or rejected; open ones stay until someone looks at them) and capture
//! counters (the newest row stays: it is the "last capture" of `wsprof status`). Merged
//! snapshots stay: profiles and their commonality are built from them.

use crate::{Result, Store};
use duckdb::params;
use model::signal::SignalStatus;
use serde::Serialize;

const DAY_MS: i64 = 86_400_000;

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneOutcome {
    /// Rows older than this (unix ms) were candidates.
    pub cutoff_ms: i64,
    pub snapshots: u64,
    pub snapshot_nodes: u64,
    pub signals: u64,
    pub capture_stats: u64,
}

impl Store {
    /// Delete what is older than `retention_days` before `now_ms`, in one transaction:
    /// unmerged snapshots that ended before the cut-off with their `snapshot_nodes`,
    /// suppressed or rejected signals whose last match is before it, and capture counters
    /// recorded before it (except the newest). `retention_days == 0` keeps everything.
    pub fn prune(&mut self, now_ms: i64, retention_days: u32) -> Result<PruneOutcome> {
        if retention_days == 0 {
            return Ok(PruneOutcome::default());
        }
        self.flush()?;
        let cutoff_ms = now_ms.saturating_sub(i64::from(retention_days) * DAY_MS);
        let tx = self.conn.transaction()?;
        let snapshot_nodes = tx
            .prepare(
                "DELETE FROM snapshot_nodes WHERE snapshot_id IN
                   (SELECT snapshot_id FROM snapshots WHERE NOT merged AND ended_ms < ?)",
            )?
            .execute(params![cutoff_ms])?;
        let snapshots = tx
            .prepare("DELETE FROM snapshots WHERE NOT merged AND ended_ms < ?")?
            .execute(params![cutoff_ms])?;
        for table in ["signal_matches", "drift_nodes"] {
            // table names are constants; the values are bound
            tx.prepare(&format!(
                "DELETE FROM {table} WHERE signal_id IN
                   (SELECT signal_id FROM signals WHERE status IN (?, ?) AND last_ts_ms < ?)"
            ))?
            .execute(params![
                SignalStatus::Suppressed.as_str(),
                SignalStatus::Rejected.as_str(),
                cutoff_ms
            ])?;
        }
        let signals = tx
            .prepare("DELETE FROM signals WHERE status IN (?, ?) AND last_ts_ms < ?")?
            .execute(params![
                SignalStatus::Suppressed.as_str(),
                SignalStatus::Rejected.as_str(),
                cutoff_ms
            ])?;
        let capture_stats = tx
            .prepare(
                "DELETE FROM capture_stats WHERE ts_ms < ?
                   AND ts_ms < (SELECT max(ts_ms) FROM capture_stats)",
            )?
            .execute(params![cutoff_ms])?;
        tx.commit()?;
        // The signal index may name deleted signals (dedup targets): read it again.
        self.index = Default::default();
        Ok(PruneOutcome {
            cutoff_ms,
            snapshots: snapshots as u64,
            snapshot_nodes: snapshot_nodes as u64,
            signals: signals as u64,
            capture_stats: capture_stats as u64,
        })
    }
}
