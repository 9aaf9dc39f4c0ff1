//! Write batches: what ingest and detection write is gathered in memory ([`Pending`]) and
//! written in one transaction, with the Appender for new rows and one set-based statement per
//! table for changes to existing rows. A DuckDB statement costs about as much as writing
//! thousands of rows, so a batch costs a fixed dozen statements however many snapshots,
//! signals, matches and drift nodes it holds.
//!
//! Outside [`Store::batch`] every write method writes its own batch before it returns (one
//! transaction per call, as before). Inside, nothing is written until the batch ends; the
//! writer's own decisions during the batch (profile status, de-duplication, drift) are taken
//! from memory. "committed" is logged for a snapshot or signal only after its transaction
//! commits (the crash tests check every logged one survives a kill). When a write fails the
//! whole batch is rolled back and what the store keeps in memory is read again from the file.

use crate::merge::{NodeMerge, ProfileMerge};
use crate::{Result, Store, StoreError};
use duckdb::{params, Connection};
use model::profile::ProfileStatus;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Hashes snapshot ids and node keys (fast, not DoS-resistant: the keys are the host's own).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A profile's row as the batch sees it (read at the batch's first ingest, written at its end
/// when changed).
#[derive(Debug, Clone)]
pub(crate) struct ProfileState {
    pub id: i64,
    pub status: ProfileStatus,
    pub count: u32,
    pub first: Option<i64>,
    pub last_updated: Option<i64>,
    pub stable_since: Option<i64>,
    /// Not yet in the table.
    pub new: bool,
    pub changed: bool,
}

/// One snapshot row to append.
pub(crate) struct SnapshotRow {
    pub id: String,
    pub profile_id: i64,
    pub container_id: String,
    pub host: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub merged: bool,
    pub node_count: i64,
    pub tree_json: String,
    pub tags_json: String,
    pub digest: String,
}

/// A new signal row (final values: later matches of the batch are counted on it here).
pub(crate) struct SignalInsert {
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
    pub process_path: String,
    pub process_json: String,
    pub summary: String,
    pub node_key: String,
    pub reason: String,
    pub status: String,
    pub count: i64,
    pub dedup_key: String,
    pub suggestion_block: Option<String>,
    pub tags_json: String,
    pub digest: String,
}

/// Changes to a stored signal.
#[derive(Default)]
pub(crate) struct SignalChange {
    pub count_add: i64,
    pub last_ts_ms: i64,
    /// Drift signals: severity, mitre and summary as they are now.
    pub drift: Option<(String, String, String)>,
    /// Raised again: open.
    pub reopen: bool,
}

/// A distinct match of a signal: a new row, or what to add to a stored one.
pub(crate) struct MatchWrite {
    pub signal_id: i64,
    pub node_key: String,
    pub summary: String,
    pub stored: bool,
    pub count: i64,
    pub rate_limited: i64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// A novel node of a drift signal: a new row, or what to change on a stored one.
pub(crate) struct DriftNodeWrite {
    pub signal_id: i64,
    pub node_key: String,
    pub parent_key: Option<String>,
    pub kind: String,
    pub label: String,
    pub access: i32,
    pub category: String,
    pub severity: String,
    pub tactic: String,
    pub why: String,
    pub stored: bool,
    /// Stored rows: severity, category, tactic and why are written only when ranked up.
    pub ranked_up: bool,
    pub count: i64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// Writes gathered for one batch.
#[derive(Default)]
pub(crate) struct Pending {
    /// Every profile, read at the batch's first ingest or status refresh.
    pub profiles: Option<HashMap<(String, String), ProfileState>>,
    pub snapshots: Vec<SnapshotRow>,
    /// Bytes of tree JSON in `snapshots` (an import writes them out as it goes).
    pub snapshot_bytes: usize,
    /// Snapshots of the batch (appended or not yet): logged as committed at the end.
    pub snapshot_ids: HashSet<String>,
    /// profile id -> node key -> the node merged from the batch's snapshots
    pub merges: BTreeMap<i64, ProfileMerge>,
    pub signals: Vec<SignalInsert>,
    /// signal id -> index in `signals`
    pub signal_at: HashMap<i64, usize>,
    pub signal_changes: BTreeMap<i64, SignalChange>,
    pub matches: Vec<MatchWrite>,
    pub match_at: HashMap<(i64, String), usize>,
    pub drift_nodes: Vec<DriftNodeWrite>,
    pub drift_at: HashMap<(i64, String), usize>,
    /// suppression id -> matches it hid
    pub hidden: BTreeMap<i64, i64>,
    /// Signal ids handed out that the sequence has not given yet.
    pub owed_ids: i64,
    /// New signals of the batch: logged as committed at the end.
    pub signal_ids: Vec<i64>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.profiles
            .as_ref()
            .is_none_or(|p| p.values().all(|s| !s.new && !s.changed))
            && self.snapshots.is_empty()
            && self.snapshot_ids.is_empty()
            && self.merges.is_empty()
            && self.signals.is_empty()
            && self.signal_changes.is_empty()
            && self.matches.is_empty()
            && self.drift_nodes.is_empty()
            && self.hidden.is_empty()
            && self.owed_ids == 0
            && self.signal_ids.is_empty()
    }

    /// Count one more match on signal `id` at `ts_ms`.
    pub fn count_on(&mut self, id: i64, ts_ms: i64) {
        match self.signal_at.get(&id) {
            Some(&i) => {
                let s = &mut self.signals[i];
                s.count += 1;
                s.last_ts_ms = s.last_ts_ms.max(ts_ms);
            }
            None => {
                let c = self.signal_changes.entry(id).or_insert(SignalChange {
                    last_ts_ms: ts_ms,
                    ..Default::default()
                });
                c.count_add += 1;
                c.last_ts_ms = c.last_ts_ms.max(ts_ms);
            }
        }
    }

    pub fn insert_signal(&mut self, row: SignalInsert) {
        self.signal_ids.push(row.id);
        self.signal_at.insert(row.id, self.signals.len());
        self.signals.push(row);
    }
}

/// Temporary tables the batch stages changes of stored rows in (the connection's own,
/// never in the WAL).
const STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS merge_staging (
    profile_id INTEGER, node_key VARCHAR, parent_key VARCHAR, kind VARCHAR, label VARCHAR,
    depth INTEGER, snapshots INTEGER, access INTEGER, args_json VARCHAR);
CREATE TEMP TABLE IF NOT EXISTS profile_staging (
    profile_id INTEGER, status VARCHAR, snapshot_count INTEGER, first_snapshot_ms BIGINT,
    last_updated_ms BIGINT, stable_since_ms BIGINT);
CREATE TEMP TABLE IF NOT EXISTS signal_staging (
    signal_id BIGINT, count_add BIGINT, last_ts_ms BIGINT, severity VARCHAR, mitre VARCHAR,
    summary VARCHAR, reopen BOOLEAN);
CREATE TEMP TABLE IF NOT EXISTS match_staging (
    signal_id BIGINT, node_key VARCHAR, summary VARCHAR, count BIGINT, rate_limited BIGINT,
    first_ms BIGINT, last_ms BIGINT);
CREATE TEMP TABLE IF NOT EXISTS drift_staging (
    signal_id BIGINT, node_key VARCHAR, access INTEGER, category VARCHAR, severity VARCHAR,
    tactic VARCHAR, why VARCHAR, ranked_up BOOLEAN, count BIGINT, first_ms BIGINT, last_ms BIGINT);
";

const SNAPSHOT_COLUMNS: &[&str] = &[
    "snapshot_id",
    "profile_id",
    "container_id",
    "host",
    "started_ms",
    "ended_ms",
    "merged",
    "node_count",
    "tree_json",
    "tags_json",
    "image_digest",
];

const SIGNAL_COLUMNS: &[&str] = &[
    "signal_id",
    "ts_ms",
    "last_ts_ms",
    "kind",
    "rule_id",
    "severity",
    "mitre",
    "container_id",
    "image",
    "version",
    "process_path",
    "process_json",
    "summary",
    "node_key",
    "reason",
    "status",
    "suppression_id",
    "count",
    "dedup_key",
    "suggestion_block",
    "tags_json",
    "image_digest",
];

impl Store {
    /// Run `f` with every write it makes gathered in memory, then write them in one
    /// transaction. Returns what `f` returned and whether the writes were stored (on an
    /// error none of the writes since the batch began, or since a write the batch needed
    /// early, are stored).
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Store) -> T) -> (T, Result<()>) {
        let outer = self.batching;
        self.batching = true;
        let out = f(self);
        self.batching = outer;
        let written = if outer { Ok(()) } else { self.flush() };
        (out, written)
    }

    /// Write what is gathered now unless a batch is open (the end of every write method).
    pub(crate) fn flush_unless_batching(&mut self) -> Result<()> {
        if self.batching {
            Ok(())
        } else {
            self.flush()
        }
    }

    /// Write everything gathered, in one transaction.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            self.pending.profiles = None;
            return Ok(());
        }
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        self.commit_pending()
    }

    /// Write what is gathered and commit the transaction the caller began; roll back on
    /// any error.
    pub(crate) fn commit_pending(&mut self) -> Result<()> {
        let written = self
            .write_pending(true)
            .and_then(|()| Ok(self.conn.execute_batch("COMMIT")?));
        match written {
            Ok(()) => {
                self.committed();
                Ok(())
            }
            Err(e) => {
                self.rolled_back();
                Err(e)
            }
        }
    }

    /// Roll back the open transaction and forget everything gathered and cached.
    pub(crate) fn rolled_back(&mut self) {
        if let Err(e) = self.conn.execute_batch("ROLLBACK") {
            tracing::warn!("rollback: {e}");
        }
        self.pending = Pending::default();
        self.index = Default::default();
        self.signal_seq = None;
        self.snapshot_ids = None;
        self.staging_ready = false;
    }

    fn committed(&mut self) {
        let p = std::mem::take(&mut self.pending);
        // Crash tests check that every snapshot and signal logged here survives a kill.
        for id in &p.snapshot_ids {
            tracing::debug!(snapshot = %id, "snapshot committed");
        }
        if let Some(known) = &mut self.snapshot_ids {
            known.extend(p.snapshot_ids.iter().map(|id| snapshot_id_hash(id)));
        }
        for id in &p.signal_ids {
            tracing::debug!(signal = id, "signal committed");
        }
    }

    /// Write what is gathered into the open transaction. Without `complete` only the
    /// snapshot rows (an import writes them as it goes; the merge is written at its end).
    pub(crate) fn write_pending(&mut self, complete: bool) -> Result<()> {
        if !self.staging_ready {
            self.conn.execute_batch(STAGING)?;
            self.staging_ready = true;
        }
        let conn = &self.conn;
        let p = &mut self.pending;
        if !p.snapshots.is_empty() {
            let mut app = conn.appender_with_columns("snapshots", SNAPSHOT_COLUMNS)?;
            for s in p.snapshots.drain(..) {
                app.append_row(params![
                    s.id,
                    s.profile_id,
                    s.container_id,
                    s.host,
                    s.started_ms,
                    s.ended_ms,
                    s.merged,
                    s.node_count,
                    s.tree_json,
                    s.tags_json,
                    s.digest
                ])?;
            }
            app.flush()?;
            p.snapshot_bytes = 0;
        }
        if !complete {
            return Ok(());
        }
        // profiles made in this batch have no nodes yet: theirs are appended, not upserted
        let fresh: HashSet<i64> = p
            .profiles
            .iter()
            .flat_map(|all| all.values())
            .filter(|s| s.new)
            .map(|s| s.id)
            .collect();
        write_profiles(conn, p)?;
        write_merges(conn, &std::mem::take(&mut p.merges), &fresh)?;
        write_signals(conn, p)?;
        if p.owed_ids > 0 {
            // The ids handed out were the sequence's next ones: take them from it.
            let last: i64 = conn.query_row(
                "SELECT max(nextval('signal_ids')) FROM range(?)",
                params![p.owed_ids],
                |r| r.get(0),
            )?;
            let expected = self.signal_seq.map(|n| n - 1);
            if Some(last) != expected {
                return Err(StoreError::Corrupt(format!(
                    "signal ids: the sequence gave {last}, expected {expected:?} (another writer?)"
                )));
            }
            p.owed_ids = 0;
        }
        Ok(())
    }

    /// The id of a new signal: the sequence's next value, handed out now and taken from
    /// the sequence when the batch is written (one statement per batch, not per signal).
    pub(crate) fn next_signal_id(&mut self) -> Result<i64> {
        match self.signal_seq {
            Some(next) => {
                self.signal_seq = Some(next + 1);
                self.pending.owed_ids += 1;
                Ok(next)
            }
            None => {
                let id: i64 = self
                    .conn
                    .query_row("SELECT nextval('signal_ids')", [], |r| r.get(0))?;
                self.signal_seq = Some(id + 1);
                Ok(id)
            }
        }
    }

    /// Whether a snapshot with this id is stored or gathered.
    pub(crate) fn snapshot_stored(&mut self, id: &str) -> Result<bool> {
        if self.pending.snapshot_ids.contains(id) {
            return Ok(true);
        }
        if self.snapshot_ids.is_none() {
            let mut known = HashSet::new();
            let mut stmt = self.conn.prepare("SELECT snapshot_id FROM snapshots")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                known.insert(snapshot_id_hash(&id));
            }
            self.snapshot_ids = Some(known);
        }
        let maybe = self
            .snapshot_ids
            .as_ref()
            .is_some_and(|k| k.contains(&snapshot_id_hash(id)));
        // A hash is only a hint (ids of pruned snapshots stay; two ids may share one).
        Ok(maybe
            && self.conn.query_row(
                "SELECT count(*) > 0 FROM snapshots WHERE snapshot_id = ?",
                params![id],
                |r| r.get(0),
            )?)
    }

    /// Every profile, read once per batch; `None` outside ingest.
    pub(crate) fn batch_profiles(
        &mut self,
    ) -> Result<&mut HashMap<(String, String), ProfileState>> {
        if self.pending.profiles.is_none() {
            let mut all = HashMap::new();
            let mut stmt = self.conn.prepare(
                "SELECT profile_id, image, version, status, snapshot_count, first_snapshot_ms,
                        last_updated_ms, stable_since_ms FROM profiles",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let status: String = r.get(3)?;
                let (image, version): (String, String) = (r.get(1)?, r.get(2)?);
                let state = ProfileState {
                    id: r.get(0)?,
                    status: ProfileStatus::parse(&status).ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "profile {image}:{version} has status `{status}`"
                        ))
                    })?,
                    count: r.get::<_, i64>(4)? as u32,
                    first: r.get(5)?,
                    last_updated: r.get(6)?,
                    stable_since: r.get(7)?,
                    new: false,
                    changed: false,
                };
                all.insert((image, version), state);
            }
            self.pending.profiles = Some(all);
        }
        Ok(self.pending.profiles.as_mut().expect("read above"))
    }

    /// The profile of an image version in this batch, created (Learning, empty) when new.
    pub(crate) fn batch_profile(
        &mut self,
        image: &str,
        version: &str,
    ) -> Result<&mut ProfileState> {
        let key = (image.to_string(), version.to_string());
        if !self.batch_profiles()?.contains_key(&key) {
            let id: i64 = self
                .conn
                .query_row("SELECT nextval('profile_ids')", [], |r| r.get(0))?;
            self.batch_profiles()?.insert(
                key.clone(),
                ProfileState {
                    id,
                    status: ProfileStatus::Learning,
                    count: 0,
                    first: None,
                    last_updated: None,
                    stable_since: None,
                    new: true,
                    changed: true,
                },
            );
        }
        Ok(self
            .batch_profiles()?
            .get_mut(&key)
            .expect("inserted above"))
    }
}

pub(crate) fn snapshot_id_hash(id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5eed).hash_one(id)
}

fn write_profiles(conn: &Connection, p: &mut Pending) -> Result<()> {
    let Some(profiles) = p.profiles.take() else {
        return Ok(());
    };
    let mut new: Vec<(&(String, String), &ProfileState)> =
        profiles.iter().filter(|(_, s)| s.new).collect();
    new.sort_by_key(|(_, s)| s.id);
    if !new.is_empty() {
        let mut app = conn.appender_with_columns(
            "profiles",
            &[
                "profile_id",
                "image",
                "version",
                "status",
                "snapshot_count",
                "first_snapshot_ms",
                "last_updated_ms",
                "stable_since_ms",
            ],
        )?;
        for ((image, version), s) in new {
            app.append_row(params![
                s.id,
                image,
                version,
                s.status.as_str(),
                s.count as i64,
                s.first,
                s.last_updated,
                s.stable_since
            ])?;
        }
        app.flush()?;
    }
    let changed: Vec<&ProfileState> = profiles.values().filter(|s| s.changed && !s.new).collect();
    if !changed.is_empty() {
        {
            let mut app = conn.appender("profile_staging")?;
            for s in changed {
                app.append_row(params![
                    s.id,
                    s.status.as_str(),
                    s.count as i64,
                    s.first,
                    s.last_updated,
                    s.stable_since
                ])?;
            }
            app.flush()?;
        }
        conn.execute_batch(
            "UPDATE profiles SET status = u.status, snapshot_count = u.snapshot_count,
                first_snapshot_ms = u.first_snapshot_ms, last_updated_ms = u.last_updated_ms,
                stable_since_ms = u.stable_since_ms
             FROM profile_staging u WHERE profiles.profile_id = u.profile_id;
             DELETE FROM profile_staging;",
        )?;
    }
    Ok(())
}

/// The batch's distinct nodes into `profile_nodes`: appended for profiles without nodes
/// (`fresh`), else one set-based upsert (each staged row is one distinct node of the batch
/// with the number of its snapshots holding it).
fn write_merges(
    conn: &Connection,
    merges: &BTreeMap<i64, ProfileMerge>,
    fresh: &HashSet<i64>,
) -> Result<()> {
    let append = |app: &mut duckdb::Appender<'_>, profile: i64, n: &NodeMerge| {
        app.append_row(params![
            profile,
            n.key,
            n.parent_key(),
            n.kind.as_str(),
            n.label,
            n.depth,
            n.snapshots,
            n.access,
            n.args_json
        ])
    };
    let columns = [
        "profile_id",
        "node_key",
        "parent_key",
        "kind",
        "label",
        "depth",
        "snapshots",
        "access",
        "args_json",
    ];
    let (new, known): (Vec<_>, Vec<_>) = merges
        .iter()
        .filter(|(_, m)| !m.is_empty())
        .partition(|(id, _)| fresh.contains(id));
    if !new.is_empty() {
        let mut app = conn.appender_with_columns("profile_nodes", &columns)?;
        for (profile, m) in new {
            for n in m.nodes() {
                append(&mut app, *profile, n)?;
            }
        }
        app.flush()?;
    }
    if known.is_empty() {
        return Ok(());
    }
    {
        let mut app = conn.appender("merge_staging")?;
        for (profile, m) in known {
            for n in m.nodes() {
                append(&mut app, *profile, n)?;
            }
        }
        app.flush()?;
    }
    conn.execute_batch(
        "INSERT INTO profile_nodes
         SELECT profile_id, node_key, parent_key, kind, label, depth, snapshots, access, args_json
         FROM merge_staging
         ON CONFLICT (profile_id, node_key) DO UPDATE SET
           snapshots = profile_nodes.snapshots + excluded.snapshots,
           access = profile_nodes.access | excluded.access,
           args_json = CASE WHEN profile_nodes.args_json = '[]' THEN excluded.args_json ELSE profile_nodes.args_json END;
         DELETE FROM merge_staging;",
    )?;
    Ok(())
}

fn write_signals(conn: &Connection, p: &mut Pending) -> Result<()> {
    if !p.signals.is_empty() {
        let mut app = conn.appender_with_columns("signals", SIGNAL_COLUMNS)?;
        for s in &p.signals {
            app.append_row(params![
                s.id,
                s.ts_ms,
                s.last_ts_ms,
                s.kind,
                s.rule_id,
                s.severity,
                s.mitre,
                s.container_id,
                s.image,
                s.version,
                s.process_path,
                s.process_json,
                s.summary,
                s.node_key,
                s.reason,
                s.status,
                None::<i64>,
                s.count,
                s.dedup_key,
                s.suggestion_block,
                s.tags_json,
                s.digest
            ])?;
        }
        app.flush()?;
    }
    if !p.signal_changes.is_empty() {
        {
            let mut app = conn.appender("signal_staging")?;
            for (id, c) in &p.signal_changes {
                let (sev, mitre, summary) = match &c.drift {
                    Some((a, b, c)) => (Some(a), Some(b), Some(c)),
                    None => (None, None, None),
                };
                app.append_row(params![
                    id,
                    c.count_add,
                    c.last_ts_ms,
                    sev,
                    mitre,
                    summary,
                    c.reopen
                ])?;
            }
            app.flush()?;
        }
        conn.execute_batch(
            "UPDATE signals SET count = count + u.count_add,
                last_ts_ms = greatest(signals.last_ts_ms, u.last_ts_ms),
                severity = coalesce(u.severity, signals.severity),
                mitre = coalesce(u.mitre, signals.mitre),
                summary = coalesce(u.summary, signals.summary),
                status = CASE WHEN u.reopen THEN 'open' ELSE signals.status END
             FROM signal_staging u WHERE signals.signal_id = u.signal_id;
             DELETE FROM signal_staging;",
        )?;
    }
    let (new, stored): (Vec<&MatchWrite>, Vec<&MatchWrite>) =
        p.matches.iter().partition(|m| !m.stored);
    if !new.is_empty() {
        let mut app = conn.appender_with_columns(
            "signal_matches",
            &[
                "signal_id",
                "node_key",
                "summary",
                "count",
                "rate_limited",
                "first_ms",
                "last_ms",
            ],
        )?;
        for m in new {
            app.append_row(params![
                m.signal_id,
                m.node_key,
                m.summary,
                m.count,
                m.rate_limited,
                m.first_ms,
                m.last_ms
            ])?;
        }
        app.flush()?;
    }
    if !stored.is_empty() {
        {
            let mut app = conn.appender("match_staging")?;
            for m in stored {
                app.append_row(params![
                    m.signal_id,
                    m.node_key,
                    m.summary,
                    m.count,
                    m.rate_limited,
                    m.first_ms,
                    m.last_ms
                ])?;
            }
            app.flush()?;
        }
        conn.execute_batch(
            "UPDATE signal_matches SET count = signal_matches.count + u.count,
                rate_limited = signal_matches.rate_limited + u.rate_limited,
                first_ms = least(signal_matches.first_ms, u.first_ms),
                last_ms = greatest(signal_matches.last_ms, u.last_ms)
             FROM match_staging u
             WHERE signal_matches.signal_id = u.signal_id AND signal_matches.node_key = u.node_key
               AND signal_matches.summary = u.summary;
             DELETE FROM match_staging;",
        )?;
    }
    let (new, stored): (Vec<&DriftNodeWrite>, Vec<&DriftNodeWrite>) =
        p.drift_nodes.iter().partition(|n| !n.stored);
    if !new.is_empty() {
        let mut app = conn.appender_with_columns(
            "drift_nodes",
            &[
                "signal_id",
                "node_key",
                "parent_key",
                "kind",
                "label",
                "access",
                "category",
                "severity",
                "tactic",
                "why",
                "count",
                "first_ms",
                "last_ms",
            ],
        )?;
        for n in new {
            app.append_row(params![
                n.signal_id,
                n.node_key,
                n.parent_key,
                n.kind,
                n.label,
                n.access,
                n.category,
                n.severity,
                n.tactic,
                n.why,
                n.count,
                n.first_ms,
                n.last_ms
            ])?;
        }
        app.flush()?;
    }
    if !stored.is_empty() {
        {
            let mut app = conn.appender("drift_staging")?;
            for n in stored {
                app.append_row(params![
                    n.signal_id,
                    n.node_key,
                    n.access,
                    n.category,
                    n.severity,
                    n.tactic,
                    n.why,
                    n.ranked_up,
                    n.count,
                    n.first_ms,
                    n.last_ms
                ])?;
            }
            app.flush()?;
        }
        conn.execute_batch(
            "UPDATE drift_nodes SET count = drift_nodes.count + u.count,
                last_ms = greatest(drift_nodes.last_ms, u.last_ms),
                first_ms = least(drift_nodes.first_ms, u.first_ms), access = u.access,
                severity = CASE WHEN u.ranked_up THEN u.severity ELSE drift_nodes.severity END,
                category = CASE WHEN u.ranked_up THEN u.category ELSE drift_nodes.category END,
                tactic = CASE WHEN u.ranked_up THEN u.tactic ELSE drift_nodes.tactic END,
                why = CASE WHEN u.ranked_up THEN u.why ELSE drift_nodes.why END
             FROM drift_staging u
             WHERE drift_nodes.signal_id = u.signal_id AND drift_nodes.node_key = u.node_key;
             DELETE FROM drift_staging;",
        )?;
    }
    for (id, n) in &p.hidden {
        conn.execute(
            "UPDATE suppressions SET hidden_count = hidden_count + ? WHERE suppression_id = ?",
            params![n, id],
        )?;
    }
    p.signals.clear();
    p.signal_at.clear();
    p.signal_changes.clear();
    p.matches.clear();
    p.match_at.clear();
    p.drift_nodes.clear();
    p.drift_at.clear();
    p.hidden.clear();
    Ok(())
}
