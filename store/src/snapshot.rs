//! Drill-down into one snapshot: its own tree (stored whole as JSON in `snapshots.tree_json`)
//! with each node's commonality in the profile, what it brought to the profile first, and
//! the snapshot windows a signal happened in.

use crate::query::{NodeRow, SnapshotSummary};
use crate::read::Reads;
use crate::{Result, StoreError};
use duckdb::{params, OptionalExt};
use model::learning::Learning;
use model::tree::ActivityTree;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One snapshot as the snapshot screen and `wsprof snapshot show` give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotDetail {
    pub snapshot: SnapshotSummary,
    pub image: String,
    pub version: String,
    /// The profile's status and merged snapshots now (the denominator of `nodes`' commonality).
    pub profile_status: String,
    pub profile_snapshots: u32,
    /// Merged: its place in ingest order among the merged snapshots of its generation
    /// (1 = the first).
    pub position: Option<u32>,
    /// Its nodes, parents before children: `snapshots`/`commonality` are the node's in the
    /// profile now (0 when the profile does not hold it), `access` and `args` this
    /// snapshot's own.
    pub nodes: Vec<NodeRow>,
    /// Keys of the nodes this snapshot brought to the profile first (no earlier merged
    /// snapshot of its generation had them).
    pub first_seen_here: Vec<String>,
}

const SUMMARY_COLUMNS: &str =
    "s.snapshot_id, s.container_id, s.host, s.started_ms, s.ended_ms, s.merged, s.node_count,
     s.tags_json, s.image_digest, s.reset_id";

/// A [`SnapshotSummary`] from [`SUMMARY_COLUMNS`] at column 0.
pub(crate) fn summary_row(r: &duckdb::Row) -> duckdb::Result<SnapshotSummary> {
    Ok(SnapshotSummary {
        id: r.get(0)?,
        container_id: r.get(1)?,
        host: r.get(2)?,
        started_ms: r.get(3)?,
        ended_ms: r.get(4)?,
        merged: r.get(5)?,
        nodes: r.get::<_, i64>(6)? as u32,
        tags: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default(),
        digest: r.get(8)?,
        reset_id: r.get(9)?,
    })
}

fn parse_tree(id: &str, json: &str) -> Result<ActivityTree> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("snapshot `{id}`: tree: {e}")))
}

impl Reads<'_> {
    /// One snapshot with its own tree.
    pub(crate) fn snapshot_detail(&self, id: &str) -> Result<SnapshotDetail> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, p.profile_id, p.image, p.version, p.status, p.snapshot_count,
                    s.tree_json, s.ingest_seq
             FROM snapshots s JOIN profiles p USING (profile_id) WHERE s.snapshot_id = ?"
        );
        type Row = (
            SnapshotSummary,
            i64,
            String,
            String,
            String,
            i64,
            String,
            i64,
        );
        let row: Option<Row> = self
            .conn
            .prepare(&sql)?
            .query_row(params![id], |r| {
                Ok((
                    summary_row(r)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                    r.get(13)?,
                    r.get(14)?,
                    r.get(15)?,
                    r.get(16)?,
                ))
            })
            .optional()?;
        let Some((summary, profile_id, image, version, status, count, tree_json, seq)) = row else {
            return Err(StoreError::NotFound(format!(
                "no snapshot `{id}` (see `wsprof profile show IMAGE:VERSION --json`)"
            )));
        };
        let tree = parse_tree(id, &tree_json)?;
        // the profile's counts of this snapshot's nodes
        let mut in_profile: HashMap<String, i64> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT node_key, snapshots FROM profile_nodes WHERE profile_id = ?")?;
            let rows = stmt.query_map(params![profile_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (k, n) = row?;
                in_profile.insert(k, n);
            }
        }
        // what it brought first: replay the merged snapshots of its generation before it
        let (position, first_seen_here) = if summary.merged {
            let mut stmt = self.conn.prepare(
                "SELECT snapshot_id, tree_json FROM snapshots
                 WHERE profile_id = ? AND merged AND reset_id IS NOT DISTINCT FROM ?
                   AND (ingest_seq < ? OR (ingest_seq = ? AND snapshot_id < ?))
                 ORDER BY ingest_seq, snapshot_id",
            )?;
            let mut rows = stmt.query(params![profile_id, summary.reset_id, seq, seq, id])?;
            let mut learning = Learning::default();
            let mut before = 0u32;
            while let Some(r) = rows.next()? {
                let earlier: String = r.get(0)?;
                learning.step(&parse_tree(&earlier, &r.get::<_, String>(1)?)?);
                before += 1;
            }
            let new_keys = learning.unseen(&tree);
            (Some(before + 1), new_keys)
        } else {
            (None, Vec::new())
        };
        let nodes = tree
            .nodes()
            .into_iter()
            .map(|n| {
                let snapshots = in_profile.get(&n.key.0).copied().unwrap_or(0);
                NodeRow {
                    parent: n.parent().map(|p| p.0),
                    kind: n.kind.as_str().to_string(),
                    label: n.label,
                    depth: n.key.depth() as u32,
                    snapshots: snapshots as u32,
                    commonality: if count > 0 {
                        snapshots as f64 / count as f64
                    } else {
                        0.0
                    },
                    access: n.access.names().into_iter().map(String::from).collect(),
                    args: n.args,
                    key: n.key.0,
                }
            })
            .collect();
        Ok(SnapshotDetail {
            snapshot: summary,
            image,
            version,
            profile_status: status,
            profile_snapshots: count as u32,
            position,
            nodes,
            first_seen_here,
        })
    }

    /// The snapshots of a signal's container whose window overlaps the signal's first to
    /// last match, oldest first: the first one is where it happened. Empty when none was
    /// stored (the container had no profiling slot, or its window is still open).
    pub(crate) fn signal_snapshots(&self, signal_id: i64) -> Result<Vec<SnapshotSummary>> {
        let (container, first, last): (String, i64, i64) = self
            .conn
            .prepare("SELECT container_id, ts_ms, last_ts_ms FROM signals WHERE signal_id = ?")?
            .query_row(params![signal_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no signal with id {signal_id}")))?;
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM snapshots s
             WHERE s.container_id = ? AND s.started_ms <= ? AND s.ended_ms >= ?
             ORDER BY s.started_ms, s.snapshot_id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![container, last, first], summary_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
