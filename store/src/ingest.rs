//! Snapshot ingest and profile merge. Snapshot rows (with their tree) are appended; the
//! nodes of merged snapshots are merged in memory (one entry per distinct node with the
//! number of snapshots holding it) and written by one set-based upsert per batch, so
//! commonality is `profile_nodes.snapshots / profiles.snapshot_count`. See `batch.rs` for
//! when it is written.

use crate::batch::SnapshotRow;
use crate::{Result, Store, StoreError};
use duckdb::params;
use model::profile::{Profile, ProfileStatus};
use model::snapshot::Snapshot;
use model::LifecycleSettings;
use std::collections::HashSet;

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
        // Everything that can fail is checked before anything is gathered.
        let mut ids = HashSet::new();
        for s in snaps {
            if !ids.insert(s.id.as_str()) || self.snapshot_stored(&s.id)? {
                return Err(already_stored(&s.id));
            }
        }
        for s in snaps {
            if let Err(e) = self.batch_profile(&s.container.image, &s.container.version) {
                if !self.batching {
                    // nothing else was gathered: forget the profiles made for this call
                    self.pending = Default::default();
                }
                return Err(e);
            }
        }
        for m in self.pending.merges.values_mut() {
            m.next_call();
        }
        let out = snaps
            .iter()
            .map(|s| {
                let tree_json = serde_json::to_string(&s.tree).expect("trees serialize");
                self.gather_snapshot(s, tree_json, settings)
            })
            .collect();
        self.flush_unless_batching()?;
        Ok(out)
    }

    /// Ingest snapshots as `source` gives them, in one transaction, writing snapshot rows
    /// out as they come (the merge is kept in memory: one entry per distinct node), so
    /// memory holds a few snapshots, not all of them. `source` runs on a thread of its own
    /// (with each tree's JSON made there), ahead of the merge. All or nothing: on any error
    /// (from `source` too) nothing is stored. Returns how many.
    pub(crate) fn ingest_stream<E: From<StoreError> + Send>(
        &mut self,
        settings: &LifecycleSettings,
        source: impl Iterator<Item = std::result::Result<Snapshot, E>> + Send,
    ) -> std::result::Result<usize, E> {
        /// Tree JSON gathered before the snapshot rows are appended.
        const APPEND_BYTES: usize = 8 << 20;
        self.flush()?;
        self.conn
            .execute_batch("BEGIN TRANSACTION")
            .map_err(StoreError::from)?;
        let outer = std::mem::replace(&mut self.batching, true);
        let mut n = 0;
        let gathered = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || {
                for item in source {
                    let item = item.map(|s| {
                        let tree_json = serde_json::to_string(&s.tree).expect("trees serialize");
                        (s, tree_json)
                    });
                    let failed = item.is_err();
                    // a closed channel: the merge stopped on an error
                    if tx.send(item).is_err() || failed {
                        break;
                    }
                }
            });
            for item in rx {
                let (s, tree_json) = item?;
                s.validate()
                    .map_err(|p| StoreError::Refused(format!("snapshot `{}`: {p}", s.id)))?;
                if self.snapshot_stored(&s.id)? {
                    return Err(already_stored(&s.id).into());
                }
                self.batch_profile(&s.container.image, &s.container.version)?;
                self.gather_snapshot(&s, tree_json, settings);
                n += 1;
                if self.pending.snapshot_bytes >= APPEND_BYTES {
                    self.write_pending(false)?;
                }
            }
            Ok(())
        });
        self.batching = outer;
        if let Err(e) = gathered {
            self.rolled_back();
            return Err(e);
        }
        self.commit_checkpointed()?;
        Ok(n)
    }

    /// Commit the open (large) transaction by checkpointing it into the file rather than
    /// writing it to the WAL and again into the file at the next checkpoint: DuckDB does so
    /// when the commit is larger than its checkpoint threshold, which it estimates well
    /// below what long strings (the trees) weigh. Durable when this returns, as any commit.
    fn commit_checkpointed(&mut self) -> Result<()> {
        let threshold: String = self.conn.query_row(
            "SELECT current_setting('checkpoint_threshold')::VARCHAR",
            [],
            |r| r.get(0),
        )?;
        self.conn
            .execute_batch("SET checkpoint_threshold = '1KB'")?;
        let committed = self.commit_pending();
        // a setting, not user input; DuckDB does not bind SET values
        self.conn
            .execute_batch(&format!("SET checkpoint_threshold = '{threshold}'"))?;
        committed
    }

    /// Gather one snapshot whose profile the batch holds: its row, its nodes merged into
    /// its profile while Learning, the profile's count and status.
    fn gather_snapshot(
        &mut self,
        s: &Snapshot,
        tree_json: String,
        settings: &LifecycleSettings,
    ) -> IngestOutcome {
        let key = (s.container.image.clone(), s.container.version.clone());
        let p = self
            .pending
            .profiles
            .as_mut()
            .and_then(|all| all.get_mut(&key))
            .expect("the profile is read before its snapshots are gathered");
        // As model::Profile::merge: check at the snapshot's end before, merge, check after.
        let mut status = p.status;
        let mut became_stable = false;
        if status == ProfileStatus::Learning && settings.is_stable(p.count, p.first, s.ended_ms) {
            status = ProfileStatus::Stable;
            became_stable = true;
        }
        let merged = status == ProfileStatus::Learning;
        let mut node_count = 0;
        if merged {
            node_count = self.pending.merges.entry(p.id).or_default().add(s);
            p.count += 1;
            p.first = Some(p.first.map_or(s.started_ms, |f| f.min(s.started_ms)));
            p.last_updated = Some(p.last_updated.unwrap_or(s.ended_ms).max(s.ended_ms));
            if settings.is_stable(p.count, p.first, s.ended_ms) {
                status = ProfileStatus::Stable;
                became_stable = true;
            }
        } else {
            s.tree.visit(|_| node_count += 1);
        }
        if merged || became_stable {
            p.status = status;
            if became_stable {
                p.stable_since = Some(s.ended_ms);
            }
            p.changed = true;
        }
        self.pending.snapshot_bytes += tree_json.len();
        self.pending.snapshot_ids.insert(s.id.clone());
        self.pending.snapshots.push(SnapshotRow {
            id: s.id.clone(),
            profile_id: p.id,
            container_id: s.container.id.clone(),
            host: s.host.clone(),
            started_ms: s.started_ms,
            ended_ms: s.ended_ms,
            merged,
            node_count: node_count as i64,
            tree_json,
            tags_json: serde_json::to_string(&s.container.tags).unwrap_or_else(|_| "[]".into()),
            digest: s.container.digest.clone(),
        });
        IngestOutcome {
            profile: format!("{}:{}", s.container.image, s.container.version),
            merged,
            status,
            became_stable,
        }
    }

    /// Make Learning profiles Stable that are Stable at `now_ms` by the lifecycle rule
    /// (the time threshold passed, or a count threshold lowered since they were merged).
    pub fn refresh_statuses(&mut self, now_ms: i64, settings: &LifecycleSettings) -> Result<usize> {
        let mut due = 0;
        for p in self.batch_profiles()?.values_mut() {
            if p.status == ProfileStatus::Learning && settings.is_stable(p.count, p.first, now_ms) {
                p.status = ProfileStatus::Stable;
                p.stable_since = Some(now_ms);
                p.changed = true;
                due += 1;
            }
        }
        self.flush_unless_batching()?;
        Ok(due)
    }

    /// The status of a profile as the writer sees it: with what the open batch gathered.
    pub fn status_now(&mut self, image: &str, version: &str) -> Result<Option<ProfileStatus>> {
        match &self.pending.profiles {
            Some(all) => Ok(all
                .get(&(image.to_string(), version.to_string()))
                .map(|p| p.status)),
            None => self.profile_status(image, version),
        }
    }

    /// The profile as the writer sees it: what the open batch gathered for it is written
    /// first.
    pub fn profile_now(&mut self, image: &str, version: &str) -> Result<Option<Profile>> {
        let key = (image.to_string(), version.to_string());
        let touched = self
            .pending
            .profiles
            .as_ref()
            .and_then(|all| all.get(&key))
            .is_some_and(|p| p.new || p.changed || self.pending.merges.contains_key(&p.id));
        if touched {
            self.flush()?;
        }
        self.profile(image, version)
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

fn already_stored(id: &str) -> StoreError {
    StoreError::Refused(format!("snapshot `{id}` is already stored"))
}
