//! Snapshot ingest and profile merge. Snapshot rows (with their tree) are written in one
//! transaction; merged snapshots update `profile_nodes` by SQL (an upsert that counts the
//! snapshot once per node), so commonality is `profile_nodes.snapshots / profiles.snapshot_count`.

use crate::{Result, Store, StoreError};
use duckdb::{params, Appender, OptionalExt, Transaction};
use model::profile::ProfileStatus;
use model::snapshot::Snapshot;
use model::LifecycleSettings;

/// What happened to one ingested snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub profile: String,
    /// False when the profile was already Stable (the snapshot is kept, not merged).
    pub merged: bool,
    pub status: ProfileStatus,
    /// True when this snapshot made the profile Stable.
    pub became_stable: bool,
}

impl Store {
    /// Store one snapshot and merge it into its profile (Learning profiles only).
    pub fn ingest_snapshot(
        &mut self,
        snap: &Snapshot,
        settings: &LifecycleSettings,
    ) -> Result<IngestOutcome> {
        Ok(self
            .ingest_snapshots(std::slice::from_ref(snap), settings)?
            .remove(0))
    }

    /// Store several snapshots in one transaction; all or nothing.
    pub fn ingest_snapshots(
        &mut self,
        snaps: &[Snapshot],
        settings: &LifecycleSettings,
    ) -> Result<Vec<IngestOutcome>> {
        for s in snaps {
            s.validate()
                .map_err(|p| StoreError::Refused(format!("snapshot `{}`: {p}", s.id)))?;
        }
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS merge_staging (
                profile_id INTEGER, node_key VARCHAR, parent_key VARCHAR, kind VARCHAR,
                label VARCHAR, depth INTEGER, access INTEGER, args_json VARCHAR)",
        )?;
        let mut out = Vec::with_capacity(snaps.len());
        {
            // Nodes go to the merge staging only: `snapshot_nodes` (one row per node per
            // snapshot) was read by nothing, and its appends were half of the ingest; a
            // snapshot's nodes are in its stored tree.
            let mut staging = tx.appender("merge_staging")?;
            for s in snaps {
                out.push(ingest_one(&tx, s, settings, &mut staging)?);
            }
            staging.flush()?;
        }
        // One set-based merge for the batch: each staged row is one node of one merged
        // snapshot, so count(*) per key is the number of snapshots holding it.
        tx.execute_batch(
            "INSERT INTO profile_nodes
             SELECT profile_id, node_key, any_value(parent_key), any_value(kind), any_value(label),
                    any_value(depth), count(*), bit_or(access),
                    coalesce(min(args_json) FILTER (WHERE args_json <> '[]'), '[]')
             FROM merge_staging GROUP BY profile_id, node_key
             ON CONFLICT (profile_id, node_key) DO UPDATE SET
               snapshots = profile_nodes.snapshots + excluded.snapshots,
               access = profile_nodes.access | excluded.access,
               args_json = CASE WHEN profile_nodes.args_json = '[]' THEN excluded.args_json ELSE profile_nodes.args_json END;
             DELETE FROM merge_staging;",
        )?;
        tx.commit()?;
        // Crash tests check that every snapshot logged here survives a kill.
        for s in snaps {
            tracing::debug!(snapshot = %s.id, "snapshot committed");
        }
        Ok(out)
    }

    /// Make Learning profiles Stable that are Stable at `now_ms` by the lifecycle rule
    /// (the time threshold passed, or a count threshold lowered since they were merged).
    pub fn refresh_statuses(&mut self, now_ms: i64, settings: &LifecycleSettings) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let due: Vec<i64> = {
            let mut stmt = tx.prepare(
                "SELECT profile_id, snapshot_count, first_snapshot_ms FROM profiles WHERE status = 'learning'",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?;
            let mut due = Vec::new();
            for row in rows {
                let (id, count, first) = row?;
                if settings.is_stable(count as u32, first, now_ms) {
                    due.push(id);
                }
            }
            due
        };
        {
            let mut upd = tx.prepare(
                "UPDATE profiles SET status = 'stable', stable_since_ms = ? WHERE profile_id = ?",
            )?;
            for id in &due {
                upd.execute(params![now_ms, id])?;
            }
        }
        tx.commit()?;
        Ok(due.len())
    }

    /// Record capture counters (events seen, events lost) for the UI and CLI.
    pub fn record_capture_stats(
        &mut self,
        ts_ms: i64,
        events: u64,
        lost: u64,
        detail: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO capture_stats VALUES (?, ?, ?, ?)",
            params![ts_ms, events as i64, lost as i64, detail],
        )?;
        Ok(())
    }
}

struct ProfileRow {
    id: i64,
    status: ProfileStatus,
    count: u32,
    first: Option<i64>,
}

fn profile_row(tx: &Transaction, image: &str, version: &str) -> Result<ProfileRow> {
    let mut stmt = tx.prepare(
        "SELECT profile_id, status, snapshot_count, first_snapshot_ms FROM profiles WHERE image = ? AND version = ?",
    )?;
    let row = stmt
        .query_row(params![image, version], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    let (id, status, count, first) = match row {
        Some(r) => r,
        None => {
            let id: i64 = tx.query_row(
                "INSERT INTO profiles (image, version, status) VALUES (?, ?, 'learning') RETURNING profile_id",
                params![image, version],
                |r| r.get(0),
            )?;
            (id, "learning".to_string(), 0, None)
        }
    };
    Ok(ProfileRow {
        id,
        status: ProfileStatus::parse(&status).ok_or_else(|| {
            StoreError::Corrupt(format!("profile {image}:{version} has status `{status}`"))
        })?,
        count: count as u32,
        first,
    })
}

fn ingest_one(
    tx: &Transaction,
    s: &Snapshot,
    settings: &LifecycleSettings,
    staging: &mut Appender,
) -> Result<IngestOutcome> {
    let name = format!("{}:{}", s.container.image, s.container.version);
    let exists: bool = tx
        .prepare("SELECT count(*) > 0 FROM snapshots WHERE snapshot_id = ?")?
        .query_row(params![s.id], |r| r.get(0))?;
    if exists {
        return Err(StoreError::Refused(format!(
            "snapshot `{}` is already stored",
            s.id
        )));
    }
    let p = profile_row(tx, &s.container.image, &s.container.version)?;
    // As model::Profile::merge: check at the snapshot's end before, merge, check after.
    let mut status = p.status;
    let mut became_stable = false;
    if status == ProfileStatus::Learning && settings.is_stable(p.count, p.first, s.ended_ms) {
        status = ProfileStatus::Stable;
        became_stable = true;
    }
    let merged = status == ProfileStatus::Learning;
    let nodes = s.tree.nodes();
    let tree_json =
        serde_json::to_string(&s.tree).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let tags_json = serde_json::to_string(&s.container.tags).unwrap_or_else(|_| "[]".into());
    tx.prepare(
        "INSERT INTO snapshots (snapshot_id, profile_id, container_id, host, started_ms, ended_ms,
            merged, node_count, tree_json, tags_json, image_digest)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        s.id,
        p.id,
        s.container.id,
        s.host,
        s.started_ms,
        s.ended_ms,
        merged,
        nodes.len() as i64,
        tree_json,
        tags_json,
        s.container.digest
    ])?;
    if merged {
        for n in &nodes {
            staging.append_row(params![
                p.id,
                n.key.0,
                n.parent().map(|k| k.0),
                n.kind.as_str(),
                n.label,
                n.depth() as i64,
                n.access.0 as i64,
                serde_json::to_string(&n.args).unwrap_or_else(|_| "[]".into())
            ])?;
        }
    }
    if merged {
        let count = p.count + 1;
        let first = Some(p.first.map_or(s.started_ms, |f| f.min(s.started_ms)));
        if settings.is_stable(count, first, s.ended_ms) {
            status = ProfileStatus::Stable;
            became_stable = true;
        }
        tx.prepare(
            "UPDATE profiles SET snapshot_count = ?, first_snapshot_ms = ?,
               last_updated_ms = greatest(coalesce(last_updated_ms, ?), ?), status = ?,
               stable_since_ms = CASE WHEN ? THEN ? ELSE stable_since_ms END
             WHERE profile_id = ?",
        )?
        .execute(params![
            count as i64,
            first,
            s.ended_ms,
            s.ended_ms,
            status.as_str(),
            became_stable,
            s.ended_ms,
            p.id
        ])?;
    } else if became_stable {
        tx.prepare(
            "UPDATE profiles SET status = 'stable', stable_since_ms = ? WHERE profile_id = ?",
        )?
        .execute(params![s.ended_ms, p.id])?;
    }
    Ok(IngestOutcome {
        profile: name,
        merged,
        status,
        became_stable,
    })
}
