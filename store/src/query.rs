//! Reads for the screens and their CLI twins.

use crate::read::Reads;
use crate::{Result, StoreError};
use duckdb::{params, OptionalExt};
use model::event::Access;
use model::profile::{NodeStats, ProfileStatus};
use model::snapshot::Snapshot;
use model::tree::{NodeKey, NodeKind};
use model::Profile;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A snapshot as stored and exported, read from `snapshot_id, container_id, image,
/// version, host, started_ms, ended_ms, tree_json, tags_json, image_digest` starting at
/// column `first`.
pub(crate) struct SnapshotRow {
    id: String,
    container_id: String,
    image: String,
    version: String,
    host: String,
    started_ms: i64,
    ended_ms: i64,
    tree_json: String,
    tags_json: String,
    digest: String,
}

impl SnapshotRow {
    pub(crate) fn read(r: &duckdb::Row, first: usize) -> duckdb::Result<SnapshotRow> {
        Ok(SnapshotRow {
            id: r.get(first)?,
            container_id: r.get(first + 1)?,
            image: r.get(first + 2)?,
            version: r.get(first + 3)?,
            host: r.get(first + 4)?,
            started_ms: r.get(first + 5)?,
            ended_ms: r.get(first + 6)?,
            tree_json: r.get(first + 7)?,
            tags_json: r.get(first + 8)?,
            digest: r.get(first + 9)?,
        })
    }

    /// The snapshot; the error names it and what is wrong with its tree.
    pub(crate) fn into_snapshot(self) -> Result<Snapshot, String> {
        let tree = serde_json::from_str(&self.tree_json)
            .map_err(|e| format!("`{}`: tree: {e}", self.id))?;
        let tags = serde_json::from_str(&self.tags_json)
            .map_err(|e| format!("`{}`: tags: {e}", self.id))?;
        Ok(Snapshot {
            id: self.id,
            container: model::ContainerRef {
                id: self.container_id,
                image: self.image,
                version: self.version,
                tags,
                digest: self.digest,
            },
            host: self.host,
            started_ms: self.started_ms,
            ended_ms: self.ended_ms,
            tree,
        })
    }
}

/// A profile's row, as the queries below need it.
struct ProfileRow {
    id: i64,
    status: String,
    snapshots: i64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

/// One row of the images screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub image: String,
    pub version: String,
    pub status: String,
    pub snapshots: u32,
    /// Snapshots kept but not merged (arrived after the profile became Stable).
    pub unmerged_snapshots: u32,
    pub containers: u32,
    pub nodes: u32,
    /// Mean node commonality, 0..1.
    pub commonality: f64,
    pub first_snapshot_ms: Option<i64>,
    pub last_updated_ms: Option<i64>,
    pub open_signals: u32,
    /// The union of its snapshots' tags (`namespace:payments`, `pod:web-1`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The image digests its snapshots came from.
    #[serde(default)]
    pub digests: Vec<String>,
    /// More than one digest under one tag: the image was retagged, behaviour may differ.
    #[serde(default)]
    pub digest_changed: bool,
    /// Snapshots of generations archived by a reset (kept as evidence, not in the profile).
    #[serde(default)]
    pub archived_snapshots: u32,
    /// The latest lifecycle decision a person made on it that is not undone (promote or
    /// reset), if any.
    #[serde(default)]
    pub lifecycle_decision: Option<crate::LifecycleChange>,
    /// True when `status` is the one that decision set (promoted and Stable, or reset and
    /// Learning again), false when the automatic rule set it.
    #[serde(default)]
    pub status_manual: bool,
}

/// One node of a profile as the profile screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    pub key: String,
    pub parent: Option<String>,
    pub kind: String,
    pub label: String,
    pub depth: u32,
    pub snapshots: u32,
    pub commonality: f64,
    pub access: Vec<String>,
    pub args: Vec<String>,
}

/// A snapshot behind a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    pub id: String,
    pub container_id: String,
    pub host: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub merged: bool,
    pub nodes: u32,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub digest: String,
    /// Merged before this reset (lifecycle change id): of an archived generation.
    #[serde(default)]
    pub reset_id: Option<i64>,
}

impl Reads<'_> {
    /// Every profile, by image then version.
    pub(crate) fn profiles(&self) -> Result<Vec<ProfileSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.image, p.version, p.status, p.snapshot_count,
                    (SELECT count(*) FROM snapshots s WHERE s.profile_id = p.profile_id AND NOT s.merged AND s.reset_id IS NULL),
                    (SELECT count(DISTINCT container_id) FROM snapshots s WHERE s.profile_id = p.profile_id AND s.reset_id IS NULL),
                    (SELECT count(*) FROM profile_nodes n WHERE n.profile_id = p.profile_id),
                    coalesce((SELECT sum(n.snapshots)::DOUBLE FROM profile_nodes n WHERE n.profile_id = p.profile_id)
                        / nullif((SELECT count(*) FROM profile_nodes n WHERE n.profile_id = p.profile_id) * p.snapshot_count, 0), 0),
                    p.first_snapshot_ms, p.last_updated_ms,
                    (SELECT count(*) FROM signals g WHERE g.image = p.image AND g.version = p.version AND g.status = 'open'),
                    (SELECT count(*) FROM snapshots s WHERE s.profile_id = p.profile_id AND s.reset_id IS NOT NULL)
             FROM profiles p ORDER BY p.image, p.version",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ProfileSummary {
                image: r.get(0)?,
                version: r.get(1)?,
                status: r.get(2)?,
                snapshots: r.get::<_, i64>(3)? as u32,
                unmerged_snapshots: r.get::<_, i64>(4)? as u32,
                containers: r.get::<_, i64>(5)? as u32,
                nodes: r.get::<_, i64>(6)? as u32,
                commonality: r.get(7)?,
                first_snapshot_ms: r.get(8)?,
                last_updated_ms: r.get(9)?,
                open_signals: r.get::<_, i64>(10)? as u32,
                tags: Vec::new(),
                digests: Vec::new(),
                digest_changed: false,
                archived_snapshots: r.get::<_, i64>(11)? as u32,
                lifecycle_decision: None,
                status_manual: false,
            })
        })?;
        let mut out: Vec<ProfileSummary> = rows.collect::<Result<_, _>>()?;
        // The decision behind each status: the newest change not undone, per profile.
        let mut decided: BTreeMap<(String, String), crate::LifecycleChange> = BTreeMap::new();
        for c in self.lifecycle_changes(None)? {
            if c.undone_ms.is_none() {
                decided
                    .entry((c.image.clone(), c.version.clone()))
                    .or_insert(c);
            }
        }
        for p in &mut out {
            if let Some(c) = decided.remove(&(p.image.clone(), p.version.clone())) {
                p.status_manual = matches!(
                    (c.action.as_str(), p.status.as_str()),
                    ("promote", "stable") | ("reset", "learning")
                );
                p.lifecycle_decision = Some(c);
            }
        }
        // Tags and digests: few distinct values per profile, unioned here.
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT p.image, p.version, s.tags_json, s.image_digest
             FROM snapshots s JOIN profiles p USING (profile_id)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut seen: BTreeMap<(String, String), (BTreeSet<String>, BTreeSet<String>)> =
            BTreeMap::new();
        for row in rows {
            let (image, version, tags_json, digest) = row?;
            let e = seen.entry((image, version)).or_default();
            let tags: Vec<String> = serde_json::from_str(&tags_json).unwrap_or_default();
            e.0.extend(tags);
            if !digest.is_empty() {
                e.1.insert(digest);
            }
        }
        for p in &mut out {
            if let Some((tags, digests)) = seen.remove(&(p.image.clone(), p.version.clone())) {
                p.tags = tags.into_iter().collect();
                p.digests = digests.into_iter().collect();
                p.digest_changed = p.digests.len() > 1;
            }
        }
        Ok(out)
    }

    fn profile_row(&self, image: &str, version: &str) -> Result<Option<ProfileRow>> {
        Ok(self
            .conn
            .prepare(
                "SELECT profile_id, status, snapshot_count, first_snapshot_ms, last_updated_ms FROM profiles WHERE image = ? AND version = ?",
            )?
            .query_row(params![image, version], |r| {
                Ok(ProfileRow {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    snapshots: r.get(2)?,
                    first_ms: r.get(3)?,
                    last_ms: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// The nodes of a profile, parents before children, with commonality.
    pub(crate) fn profile_nodes(&self, image: &str, version: &str) -> Result<Vec<NodeRow>> {
        let Some(ProfileRow { id, .. }) = self.profile_row(image, version)? else {
            return Err(StoreError::NotFound(format!(
                "no profile {image}:{version}"
            )));
        };
        let mut stmt = self.conn.prepare(
            "SELECT n.node_key, n.parent_key, n.kind, n.label, n.depth, n.snapshots,
                    n.snapshots::DOUBLE / nullif(p.snapshot_count, 0), n.access, n.args_json
             FROM profile_nodes n JOIN profiles p USING (profile_id)
             WHERE n.profile_id = ? ORDER BY n.node_key",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            let args: String = r.get(8)?;
            Ok(NodeRow {
                key: r.get(0)?,
                parent: r.get(1)?,
                kind: r.get(2)?,
                label: r.get(3)?,
                depth: r.get::<_, i64>(4)? as u32,
                snapshots: r.get::<_, i64>(5)? as u32,
                commonality: r.get::<_, Option<f64>>(6)?.unwrap_or(0.0),
                access: Access(r.get::<_, i64>(7)? as u16)
                    .names()
                    .into_iter()
                    .map(String::from)
                    .collect(),
                args: serde_json::from_str(&args).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The status of a profile, if it exists (cheap: one row).
    pub(crate) fn profile_status(
        &self,
        image: &str,
        version: &str,
    ) -> Result<Option<ProfileStatus>> {
        match self.profile_row(image, version)? {
            None => Ok(None),
            Some(ProfileRow { status, .. }) => ProfileStatus::parse(&status)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("status `{status}`"))),
        }
    }

    /// The profile as the domain model sees it (for suggestions and anomalies).
    pub(crate) fn profile(&self, image: &str, version: &str) -> Result<Option<Profile>> {
        let Some(ProfileRow {
            status,
            snapshots: count,
            first_ms: first,
            last_ms: last,
            ..
        }) = self.profile_row(image, version)?
        else {
            return Ok(None);
        };
        let mut nodes = BTreeMap::new();
        for n in self.profile_nodes(image, version)? {
            let kind = NodeKind::parse(&n.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("node kind `{}`", n.kind)))?;
            let access = n
                .access
                .iter()
                .filter_map(|a| Access::from_name(a))
                .fold(Access::default(), Access::union);
            nodes.insert(
                NodeKey(n.key),
                NodeStats {
                    kind,
                    label: n.label,
                    snapshots: n.snapshots,
                    access,
                    args: n.args,
                },
            );
        }
        Ok(Some(Profile {
            image: image.to_string(),
            version: version.to_string(),
            status: ProfileStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("status `{status}`")))?,
            snapshot_count: count as u32,
            first_snapshot_ms: first,
            last_updated_ms: last,
            nodes,
        }))
    }

    /// The snapshots behind a profile (merged, kept, and of archived generations), newest
    /// first.
    pub(crate) fn profile_snapshots(
        &self,
        image: &str,
        version: &str,
    ) -> Result<Vec<SnapshotSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.snapshot_id, s.container_id, s.host, s.started_ms, s.ended_ms, s.merged, s.node_count,
                    s.tags_json, s.image_digest, s.reset_id
             FROM snapshots s JOIN profiles p USING (profile_id)
             WHERE p.image = ? AND p.version = ? ORDER BY s.ended_ms DESC, s.snapshot_id",
        )?;
        let rows = stmt.query_map(params![image, version], crate::snapshot::summary_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Full snapshots (trees read back) of one image version, oldest first.
    pub(crate) fn snapshots_of(&self, image: &str, version: &str) -> Result<Vec<Snapshot>> {
        self.load_snapshots(Some((image, version)))
    }

    /// Every stored snapshot, oldest first.
    pub(crate) fn all_snapshots(&self) -> Result<Vec<Snapshot>> {
        self.load_snapshots(None)
    }

    fn load_snapshots(&self, which: Option<(&str, &str)>) -> Result<Vec<Snapshot>> {
        let (image, version) = which.unwrap_or(("", ""));
        let mut stmt = self.conn.prepare(
            "SELECT s.snapshot_id, s.container_id, p.image, p.version, s.host, s.started_ms, s.ended_ms, s.tree_json,
                    s.tags_json, s.image_digest
             FROM snapshots s JOIN profiles p USING (profile_id)
             WHERE ? OR (p.image = ? AND p.version = ?) ORDER BY s.started_ms, s.snapshot_id",
        )?;
        let rows = stmt.query_map(params![which.is_none(), image, version], |r| {
            SnapshotRow::read(r, 0)
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(
                row?.into_snapshot()
                    .map_err(|e| StoreError::Corrupt(format!("snapshot {e}")))?,
            );
        }
        Ok(out)
    }

    /// Latest capture counters: (events, lost, detail).
    pub(crate) fn latest_capture_stats(&self) -> Result<Option<(i64, i64, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT events, lost, detail FROM capture_stats ORDER BY ts_ms DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }
}
