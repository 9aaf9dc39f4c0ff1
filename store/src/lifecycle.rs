//! A person's lifecycle decisions on a profile, beside the automatic Learning -> Stable rule
//! (`model::LifecycleSettings::is_stable`, applied at ingest and by `refresh_statuses`):
//!
//! - **promote**: a Learning profile becomes Stable now. Nothing more is merged into it, and
//!   activity it lacks is drift, as for any Stable profile.
//! - **reset**: the profile becomes Learning again and learns from its next snapshot on:
//!   its nodes move to `lifecycle_archive` (the archived generation) and its snapshots stay
//!   stored, marked with the reset (`snapshots.reset_id`), so nothing is deleted; its
//!   snapshot count, first-snapshot time and commonality start from zero, which is what makes
//!   the automatic rule count its thresholds from the reset on (the rule itself is unchanged).
//! - **undo** of the latest change of a profile: a promote gives back the status it had; a
//!   reset adds the archived generation back to what was learned since (node and snapshot
//!   counts add: the generations hold different snapshots) with the status it had.
//!
//! Each is one transaction that also appends the decision to the audit trail (`decisions`),
//! and bumps [`Store::lifecycle_epoch`] so that detection drops the profiles it cached.
//! Where the state is shown or used it is read from `profiles.status`, which these write:
//! ingest (merge or keep), detection (drift against Stable profiles only), the images screen
//! and `profiles --json` (with the decision that set it).

use crate::read::Reads;
use crate::{Result, Store, StoreError};
use duckdb::{params, OptionalExt, Transaction};
use model::LifecycleAction;
use serde::{Deserialize, Serialize};

/// One lifecycle decision a person made on a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleChange {
    pub id: i64,
    pub image: String,
    pub version: String,
    /// `promote` or `reset`.
    pub action: String,
    pub ts_ms: i64,
    pub who: String,
    pub reason: String,
    /// The profile's status before the change.
    pub status_before: String,
    /// Snapshots merged into the profile before the change (for a reset: its archived
    /// generation).
    pub snapshots_before: u32,
    /// Reset: nodes of the archived generation (0 once undone: they are back in the profile).
    #[serde(default)]
    pub archived_nodes: u32,
    #[serde(default)]
    pub undone_ms: Option<i64>,
    #[serde(default)]
    pub undone_by: Option<String>,
    #[serde(default)]
    pub undo_reason: Option<String>,
}

impl LifecycleChange {
    /// "promoted to Stable by alice (uid 1000)" / "reset to Learning by ...".
    pub fn describe(&self) -> String {
        let what = match self.action.as_str() {
            "promote" => "promoted to Stable",
            "reset" => "reset to Learning",
            other => other,
        };
        format!("{what} by {}", self.who)
    }
}

/// The newest change of a profile not undone yet, with the profile as it was before it.
struct LatestChange {
    id: i64,
    action: String,
    before: Current,
}

/// The profile row a decision starts from (or, in [`LatestChange`], the one it left).
struct Current {
    id: i64,
    status: String,
    count: i64,
    first: Option<i64>,
    last: Option<i64>,
    stable_since: Option<i64>,
}

fn current(tx: &Transaction, image: &str, version: &str) -> Result<Current> {
    tx.prepare(
        "SELECT profile_id, status, snapshot_count, first_snapshot_ms, last_updated_ms, stable_since_ms
         FROM profiles WHERE image = ? AND version = ?",
    )?
    .query_row(params![image, version], |r| {
        Ok(Current {
            id: r.get(0)?,
            status: r.get(1)?,
            count: r.get(2)?,
            first: r.get(3)?,
            last: r.get(4)?,
            stable_since: r.get(5)?,
        })
    })
    .optional()?
    .ok_or_else(|| {
        StoreError::NotFound(format!(
            "no profile {image}:{version} (see `wsprof profiles`)"
        ))
    })
}

fn record(
    tx: &Transaction,
    ts_ms: i64,
    who: &str,
    action: &str,
    profile: &str,
    detail: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO decisions (ts_ms, who, action, signal_id, suppression_id, detail, profile)
         VALUES (?, ?, ?, NULL, NULL, ?, ?)",
        params![ts_ms, who, action, detail, profile],
    )?;
    Ok(())
}

impl Store {
    /// Bumped by every lifecycle decision: whoever caches profile statuses (detection)
    /// looks them up again when it moved.
    pub fn lifecycle_epoch(&self) -> u64 {
        self.lifecycle_epoch
    }

    /// Promote a profile to Stable or reset it to Learning, as `who`, for `reason` (required).
    pub fn change_lifecycle(
        &mut self,
        image: &str,
        version: &str,
        action: LifecycleAction,
        who: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange> {
        let name = format!("{image}:{version}");
        if reason.trim().is_empty() {
            return Err(StoreError::Refused(format!(
                "{} {name}: give a reason (why this profile should be {})",
                action.as_str(),
                match action {
                    LifecycleAction::Promote => "Stable now",
                    LifecycleAction::Reset => "learned again",
                }
            )));
        }
        let tx = self.conn.transaction()?;
        let cur = current(&tx, image, version)?;
        match action {
            LifecycleAction::Promote if cur.status == "stable" => {
                return Err(StoreError::Refused(format!(
                    "profile {name} is already Stable"
                )))
            }
            LifecycleAction::Reset if cur.status == "learning" && cur.count == 0 => {
                return Err(StoreError::Refused(format!(
                    "profile {name} is Learning and has merged no snapshot since it started: nothing to reset"
                )))
            }
            _ => {}
        }
        let id: i64 = tx.query_row(
            "INSERT INTO lifecycle_changes (profile_id, action, ts_ms, who, reason, prev_status,
                prev_snapshot_count, prev_first_snapshot_ms, prev_last_updated_ms, prev_stable_since_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING change_id",
            params![
                cur.id,
                action.as_str(),
                now_ms,
                who,
                reason,
                cur.status,
                cur.count,
                cur.first,
                cur.last,
                cur.stable_since
            ],
            |r| r.get(0),
        )?;
        match action {
            LifecycleAction::Promote => {
                tx.execute(
                    "UPDATE profiles SET status = 'stable', stable_since_ms = ? WHERE profile_id = ?",
                    params![now_ms, cur.id],
                )?;
            }
            LifecycleAction::Reset => {
                tx.execute(
                    "INSERT INTO lifecycle_archive
                     SELECT ?, node_key, parent_key, kind, label, depth, snapshots, access, args_json
                     FROM profile_nodes WHERE profile_id = ?",
                    params![id, cur.id],
                )?;
                tx.execute(
                    "DELETE FROM profile_nodes WHERE profile_id = ?",
                    params![cur.id],
                )?;
                tx.execute(
                    "UPDATE snapshots SET reset_id = ? WHERE profile_id = ? AND reset_id IS NULL",
                    params![id, cur.id],
                )?;
                tx.execute(
                    "UPDATE profiles SET status = 'learning', snapshot_count = 0,
                        first_snapshot_ms = NULL, last_updated_ms = NULL, stable_since_ms = NULL
                     WHERE profile_id = ?",
                    params![cur.id],
                )?;
            }
        }
        record(&tx, now_ms, who, action.as_str(), &name, reason)?;
        tx.commit()?;
        self.lifecycle_epoch += 1;
        tracing::info!(profile = %name, action = action.as_str(), who, change = id, "lifecycle decision");
        self.lifecycle_change(id)
    }

    /// Undo the latest lifecycle decision on a profile that is not undone yet.
    pub fn undo_lifecycle(
        &mut self,
        image: &str,
        version: &str,
        who: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange> {
        let name = format!("{image}:{version}");
        let tx = self.conn.transaction()?;
        let cur = current(&tx, image, version)?;
        let latest: Option<LatestChange> = tx
            .prepare(
                "SELECT change_id, action, prev_status, prev_snapshot_count, prev_first_snapshot_ms,
                        prev_last_updated_ms, prev_stable_since_ms
                 FROM lifecycle_changes WHERE profile_id = ? AND undone_ms IS NULL
                 ORDER BY change_id DESC LIMIT 1",
            )?
            .query_row(params![cur.id], |r| {
                Ok(LatestChange {
                    id: r.get(0)?,
                    action: r.get(1)?,
                    before: Current {
                        id: cur.id,
                        status: r.get(2)?,
                        count: r.get(3)?,
                        first: r.get(4)?,
                        last: r.get(5)?,
                        stable_since: r.get(6)?,
                    },
                })
            })
            .optional()?;
        let Some(LatestChange {
            id,
            action,
            before:
                Current {
                    status: prev_status,
                    count: prev_count,
                    first: prev_first,
                    last: prev_last,
                    stable_since: prev_since,
                    ..
                },
        }) = latest
        else {
            return Err(StoreError::Refused(format!(
                "profile {name}: no promote or reset to undo"
            )));
        };
        match LifecycleAction::parse(&action) {
            Some(LifecycleAction::Promote) => {
                tx.execute(
                    "UPDATE profiles SET status = ?, stable_since_ms = ? WHERE profile_id = ?",
                    params![prev_status, prev_since, cur.id],
                )?;
            }
            Some(LifecycleAction::Reset) => {
                // what was learned since the reset plus the archived generation
                tx.execute(
                    "INSERT INTO profile_nodes
                     SELECT ?, node_key, parent_key, kind, label, depth, snapshots, access, args_json
                     FROM lifecycle_archive WHERE change_id = ?
                     ON CONFLICT (profile_id, node_key) DO UPDATE SET
                       snapshots = profile_nodes.snapshots + excluded.snapshots,
                       access = profile_nodes.access | excluded.access,
                       args_json = CASE WHEN excluded.args_json <> '[]' THEN excluded.args_json
                                        ELSE profile_nodes.args_json END",
                    params![cur.id, id],
                )?;
                tx.execute(
                    "DELETE FROM lifecycle_archive WHERE change_id = ?",
                    params![id],
                )?;
                tx.execute(
                    "UPDATE snapshots SET reset_id = NULL WHERE reset_id = ?",
                    params![id],
                )?;
                let first = match (cur.first, prev_first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let last = match (cur.last, prev_last) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                tx.execute(
                    "UPDATE profiles SET status = ?, snapshot_count = ?, first_snapshot_ms = ?,
                        last_updated_ms = ?, stable_since_ms = ?
                     WHERE profile_id = ?",
                    params![
                        prev_status,
                        cur.count + prev_count,
                        first,
                        last,
                        prev_since,
                        cur.id
                    ],
                )?;
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "lifecycle change {id} has action `{action}`"
                )))
            }
        }
        tx.execute(
            "UPDATE lifecycle_changes SET undone_ms = ?, undone_by = ?, undo_reason = ? WHERE change_id = ?",
            params![now_ms, who, reason, id],
        )?;
        let detail = if reason.is_empty() {
            format!("{action} #{id}")
        } else {
            format!("{action} #{id}: {reason}")
        };
        record(&tx, now_ms, who, "undo", &name, &detail)?;
        tx.commit()?;
        self.lifecycle_epoch += 1;
        tracing::info!(profile = %name, action = %action, who, change = id, "lifecycle decision undone");
        self.lifecycle_change(id)
    }

    fn lifecycle_change(&self, id: i64) -> Result<LifecycleChange> {
        self.reads()
            .lifecycle_changes(None)?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("no lifecycle change {id}")))
    }
}

impl Reads<'_> {
    /// Lifecycle decisions, newest first: of one profile, or of every profile.
    pub(crate) fn lifecycle_changes(
        &self,
        profile: Option<(&str, &str)>,
    ) -> Result<Vec<LifecycleChange>> {
        let (image, version) = profile.unwrap_or(("", ""));
        let mut stmt = self.conn.prepare(
            "SELECT c.change_id, p.image, p.version, c.action, c.ts_ms, c.who, c.reason, c.prev_status,
                    c.prev_snapshot_count,
                    (SELECT count(*) FROM lifecycle_archive a WHERE a.change_id = c.change_id),
                    c.undone_ms, c.undone_by, c.undo_reason
             FROM lifecycle_changes c JOIN profiles p USING (profile_id)
             WHERE ? OR (p.image = ? AND p.version = ?)
             ORDER BY c.change_id DESC",
        )?;
        let rows = stmt.query_map(params![profile.is_none(), image, version], |r| {
            Ok(LifecycleChange {
                id: r.get(0)?,
                image: r.get(1)?,
                version: r.get(2)?,
                action: r.get(3)?,
                ts_ms: r.get(4)?,
                who: r.get(5)?,
                reason: r.get(6)?,
                status_before: r.get(7)?,
                snapshots_before: r.get::<_, i64>(8)? as u32,
                archived_nodes: r.get::<_, i64>(9)? as u32,
                undone_ms: r.get(10)?,
                undone_by: r.get(11)?,
                undo_reason: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
