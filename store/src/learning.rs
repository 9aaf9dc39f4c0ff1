//! Learning progress of a profile: per node kind, how many new nodes each merged snapshot
//! of its current generation brought, in ingest order (`snapshots.ingest_seq`), computed
//! from the snapshots' stored trees with `model::learning`.

use crate::read::Reads;
use crate::{Result, StoreError};
use duckdb::params;
use model::learning::{since_last_new, KindCounts, Learning};
use model::tree::ActivityTree;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// One merged snapshot in the progress: what it brought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressStep {
    /// 1 for the first snapshot merged (since the last reset), in ingest order.
    pub position: u32,
    pub snapshot_id: String,
    pub container_id: String,
    pub ended_ms: i64,
    /// Nodes no earlier snapshot had, per kind.
    pub new: KindCounts,
    /// Distinct nodes of the profile once this snapshot was merged.
    pub nodes_after: u32,
}

/// The last snapshots merged into a profile and what each brought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearningProgress {
    pub image: String,
    pub version: String,
    pub status: String,
    /// Snapshots merged since the profile started (or was last reset).
    pub merged_snapshots: u32,
    /// Its nodes now.
    pub nodes: u32,
    /// The last `last` merged snapshots (as asked), oldest first.
    pub steps: Vec<ProgressStep>,
    /// New nodes those snapshots brought, per kind.
    pub new_in_steps: KindCounts,
    /// Per kind (`process`, `file`, `dns`, `net`, `kernel`): merged snapshots since the last
    /// one that brought a node of that kind; null when none ever did.
    pub snapshots_since_new: BTreeMap<String, Option<u32>>,
}

impl Reads<'_> {
    /// Learning progress of a profile over its last `last` merged snapshots.
    pub(crate) fn learning_progress(
        &self,
        image: &str,
        version: &str,
        last: usize,
    ) -> Result<LearningProgress> {
        let status: String = self
            .conn
            .prepare("SELECT status FROM profiles WHERE image = ? AND version = ?")?
            .query_row(params![image, version], |r| r.get(0))
            .map_err(|e| match e {
                duckdb::Error::QueryReturnedNoRows => StoreError::NotFound(format!(
                    "no profile {image}:{version} (see `wsprof profiles`)"
                )),
                e => e.into(),
            })?;
        let mut stmt = self.conn.prepare(
            "SELECT s.snapshot_id, s.container_id, s.ended_ms, s.tree_json
             FROM snapshots s JOIN profiles p USING (profile_id)
             WHERE p.image = ? AND p.version = ? AND s.merged AND s.reset_id IS NULL
             ORDER BY s.ingest_seq, s.snapshot_id",
        )?;
        let mut rows = stmt.query(params![image, version])?;
        let mut learning = Learning::default();
        let mut steps: VecDeque<ProgressStep> = VecDeque::new();
        let mut all: Vec<KindCounts> = Vec::new();
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let tree_json: String = r.get(3)?;
            let tree: ActivityTree = serde_json::from_str(&tree_json)
                .map_err(|e| StoreError::Corrupt(format!("snapshot `{id}`: tree: {e}")))?;
            let new = learning.step(&tree);
            all.push(new);
            steps.push_back(ProgressStep {
                position: all.len() as u32,
                snapshot_id: id,
                container_id: r.get(1)?,
                ended_ms: r.get(2)?,
                new,
                nodes_after: learning.nodes() as u32,
            });
            if steps.len() > last {
                steps.pop_front();
            }
        }
        let mut new_in_steps = KindCounts::default();
        for s in &steps {
            new_in_steps += s.new;
        }
        let since = since_last_new(&all);
        let snapshots_since_new = KindCounts::KINDS
            .iter()
            .zip(since)
            .map(|(k, n)| (k.as_str().to_string(), n.map(|n| n as u32)))
            .collect();
        Ok(LearningProgress {
            image: image.to_string(),
            version: version.to_string(),
            status,
            merged_snapshots: all.len() as u32,
            nodes: learning.nodes() as u32,
            steps: steps.into(),
            new_in_steps,
            snapshots_since_new,
        })
    }
}
