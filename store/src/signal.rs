//! Signals: insert with de-duplication (identical signals are counted on the first one
//! within a window) and suppression (matches of an active suppression are counted on the
//! suppression, not queued); reads with filters, each with its suggestion.

use crate::batch::{MatchWrite, SignalInsert};
use crate::drift::{DriftNodeRow, DriftState};
use crate::read::Reads;
use crate::{Result, Store, StoreError};
use duckdb::{params, OptionalExt};
use model::profile::Profile;
use model::signal::{suggest, suggestion, NewSignal, SignalStatus, Suggestion};
use model::tree::NodeKey;
use model::ProcessInfo;
use serde::{Deserialize, Serialize};
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
    /// Novel nodes counted on the container's drift signal.
    Drift(crate::DriftOutcome),
}

/// A stored signal with its current suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Why no suggestion is offered whatever the profile says, if so.
    pub suggestion_block: Option<String>,
    /// Distinct matches (node and summary) counted on this signal, oldest first: the first
    /// [`MATCH_PAGE`] in lists, all of them for one signal.
    #[serde(default)]
    pub matches: Vec<MatchRow>,
    /// How many distinct matches the signal holds (`matches` may be a page of them).
    #[serde(default)]
    pub matches_total: u32,
    /// Matches the rate limit counted on this signal instead of raising their own.
    #[serde(default)]
    pub rate_limited: u64,
    /// `N more matches hidden by the rate limit` when that happened.
    #[serde(default)]
    pub rate_limit_note: Option<String>,
    /// Drift signals: every novel node, oldest first (parents before their children).
    #[serde(default)]
    pub drift: Vec<DriftNodeRow>,
    /// The container's tags (`namespace:payments`, `pod:web-1`, `host:..`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The digest of the image the container ran.
    #[serde(default)]
    pub digest: String,
}

/// Distinct matches listed per signal in the queue (`signal(id)` lists all).
pub const MATCH_PAGE: usize = 20;

/// One distinct match of a signal: de-duplication and the rate limit count onto a signal,
/// but what each match was stays here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchRow {
    pub node_key: String,
    pub summary: String,
    pub count: u64,
    /// Of `count`, matches counted here by the rate limit.
    pub rate_limited: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// Filters of the signal queue; `None` means any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalFilter {
    pub image: Option<String>,
    pub rule: Option<String>,
    pub status: Option<String>,
    /// A whole `key:value` tag the signal's container must carry.
    pub tag: Option<String>,
    /// At most this many, the newest (a page of the queue); None: all of them.
    pub limit: Option<usize>,
}

const SIGNAL_COLUMNS: &str =
    "signal_id, ts_ms, last_ts_ms, kind, rule_id, severity, mitre, container_id, image, version,
     process_json, summary, node_key, reason, status, suppression_id, count, suggestion_block,
     tags_json, image_digest";

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
            suggestion_block: r.get(17)?,
            matches: Vec::new(),
            matches_total: 0,
            rate_limited: 0,
            rate_limit_note: None,
            drift: Vec::new(),
            tags: serde_json::from_str(&r.get::<_, String>(18)?).unwrap_or_default(),
            digest: r.get(19)?,
        },
        process_json,
    ))
}

impl Store {
    /// Raise a signal at `now_ms`: hidden by an active suppression, counted on an
    /// identical recent signal, counted on the newest one past the rate limit, or queued.
    /// Decided from [`SignalIndex`] and written with the batch (see `batch.rs`).
    pub fn add_signal(&mut self, s: &NewSignal, now_ms: i64) -> Result<AddOutcome> {
        if !self.index.loaded() {
            self.load_index()?;
        }
        let window = self.settings.dedup_window_ms;
        let lineage = s.node.lineage();
        let key = s.dedup_key();
        let rc = (s.rule_id.clone(), s.container.id.clone());
        let out = if let Some(id) = self.index.suppression_for(s, &lineage, now_ms) {
            // 1. an active suppression hides it
            *self.pending.hidden.entry(id).or_default() += 1;
            AddOutcome::Suppressed(id)
        } else if let Some(id) = self.index.duplicate_of(&key, s.ts_ms, window) {
            // 2. identical recent signal: count it there
            self.pending.count_on(id, s.ts_ms);
            self.record_match(id, s, false);
            self.index.counted(&key, id, s.ts_ms);
            AddOutcome::Deduplicated(id)
        } else if let Some(id) =
            self.index
                .over_rate(&rc, s.ts_ms, window, self.settings.rate_limit)
        {
            // 3. rate limit per rule and container
            self.pending.count_on(id, s.ts_ms);
            self.record_match(id, s, true);
            AddOutcome::RateLimited(id)
        } else {
            let id = self.gather_new_signal(s, &key)?;
            self.record_match(id, s, false);
            self.index.inserted(key, rc, id, s.ts_ms);
            AddOutcome::Inserted(id)
        };
        self.flush_unless_batching()?;
        Ok(out)
    }

    /// Gather a new open signal; its id.
    pub(crate) fn gather_new_signal(&mut self, s: &NewSignal, key: &str) -> Result<i64> {
        let process_json =
            serde_json::to_string(&s.process).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = self.next_signal_id()?;
        self.pending.insert_signal(SignalInsert {
            id,
            ts_ms: s.ts_ms,
            last_ts_ms: s.ts_ms,
            kind: s.kind.as_str().to_string(),
            rule_id: s.rule_id.clone(),
            severity: s.severity.clone(),
            mitre: s.mitre.clone(),
            container_id: s.container.id.clone(),
            image: s.container.image.clone(),
            version: s.container.version.clone(),
            process_path: s.process.exec_path.clone(),
            process_json,
            summary: s.summary.clone(),
            node_key: s.node.0.clone(),
            reason: s.reason.clone(),
            status: SignalStatus::Open.as_str().to_string(),
            count: 1,
            dedup_key: key.to_string(),
            suggestion_block: s.suggestion_block.clone(),
            tags_json: serde_json::to_string(&s.container.tags).unwrap_or_else(|_| "[]".into()),
            digest: s.container.digest.clone(),
        });
        Ok(id)
    }

    /// Count a match on signal `id` under its distinct match (node and summary): a new row
    /// the first time, the count (and the rate-limited count) raised after.
    fn record_match(&mut self, id: i64, s: &NewSignal, rate_limited: bool) {
        let mk = (id, match_key(&s.node.0, &s.summary));
        let limited = i64::from(rate_limited);
        let p = &mut self.pending;
        if let Some(&i) = p.match_at.get(&mk) {
            let m = &mut p.matches[i];
            m.count += 1;
            m.rate_limited += limited;
            m.first_ms = m.first_ms.min(s.ts_ms);
            m.last_ms = m.last_ms.max(s.ts_ms);
            return;
        }
        let stored = !self.index.matches.insert(mk.clone());
        p.match_at.insert(mk, p.matches.len());
        p.matches.push(MatchWrite {
            signal_id: id,
            node_key: s.node.0.clone(),
            summary: s.summary.clone(),
            stored,
            count: 1,
            rate_limited: limited,
            first_ms: s.ts_ms,
            last_ms: s.ts_ms,
        });
    }

    /// Read what `add_signal` and `add_drift` decide on from the tables.
    pub(crate) fn load_index(&mut self) -> Result<()> {
        // what it reads must include what was gathered
        self.flush()?;
        self.index = SignalIndex::load(self)?;
        Ok(())
    }

    /// Mark a signal as looked at and kept (the suggestion was rejected).
    pub fn reject_signal(&mut self, id: i64) -> Result<()> {
        self.flush()?;
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
}

impl Reads<'_> {
    /// Signals, newest first, filtered, each with its suggestion against the current profile.
    pub(crate) fn signals(&self, f: &SignalFilter) -> Result<Vec<SignalRow>> {
        let sql = format!(
            "SELECT {SIGNAL_COLUMNS} FROM signals
             WHERE (? IS NULL OR image = ?) AND (? IS NULL OR rule_id = ?) AND (? IS NULL OR status = ?)
               AND (? IS NULL OR contains(tags_json, ?))
             ORDER BY ts_ms DESC, signal_id DESC
             LIMIT ?"
        );
        // A whole tag, as it appears (quoted) in the JSON array.
        let tag_needle = f
            .tag
            .as_ref()
            .map(|t| serde_json::to_string(t).unwrap_or_default());
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(
            params![
                f.image,
                f.image,
                f.rule,
                f.rule,
                f.status,
                f.status,
                tag_needle,
                tag_needle,
                // NULL: no limit
                f.limit.map(|n| n as i64)
            ],
            row_to_signal,
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (mut s, process_json) = row?;
            s.process = serde_json::from_str(&process_json)
                .map_err(|e| StoreError::Corrupt(format!("signal {} process: {e}", s.id)))?;
            out.push(s);
        }
        // A page reads the matches, drift nodes and profile nodes of its own signals only.
        let page = f.limit.map(|_| page_ids(&out));
        self.attach_matches(&mut out, None, MATCH_PAGE, page.as_deref())?;
        self.attach_drift(&mut out, None, page.as_deref())?;
        self.attach_suggestions(&mut out, page.as_deref())?;
        Ok(out)
    }

    /// Each signal's suggestion (`model::signal::suggest`) from its trigger node's row in its
    /// profile, read for all of `rows` in one join instead of loading each profile whole.
    fn attach_suggestions(&self, rows: &mut [SignalRow], ids: Option<&str>) -> Result<()> {
        let mut stmt = self.conn.prepare(if ids.is_some() {
            "SELECT s.signal_id, n.snapshots, p.snapshot_count
             FROM signals s
             JOIN profiles p ON p.image = s.image AND p.version = s.version
             JOIN profile_nodes n ON n.profile_id = p.profile_id AND n.node_key = s.node_key
             WHERE s.signal_id IN (SELECT unnest(CAST(? AS BIGINT[])))"
        } else {
            "SELECT s.signal_id, n.snapshots, p.snapshot_count
             FROM signals s
             JOIN profiles p ON p.image = s.image AND p.version = s.version
             JOIN profile_nodes n ON n.profile_id = p.profile_id AND n.node_key = s.node_key
             WHERE CAST(? AS VARCHAR) IS NULL"
        })?;
        let found = stmt.query_map(params![ids], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)? as u32,
                r.get::<_, i64>(2)? as u32,
            ))
        })?;
        let at: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        for f in found {
            let (id, with, of) = f?;
            let Some(&i) = at.get(&id) else { continue };
            let s = &mut rows[i];
            if s.suggestion_block.is_some() {
                continue;
            }
            s.suggestion = suggestion(
                &NodeKey(s.node_key.clone()),
                with,
                of,
                self.suggestion_threshold,
            );
        }
        Ok(())
    }

    /// Fill `matches` (at most `page` per signal), `matches_total` and the rate-limit
    /// counts of `rows` (all signals, or the one named).
    fn attach_matches(
        &self,
        rows: &mut [SignalRow],
        one: Option<i64>,
        page: usize,
        ids: Option<&str>,
    ) -> Result<()> {
        // `ids`: the signals of a page, a list literal of integers made here (page_ids).
        let mut stmt = self.conn.prepare(if ids.is_some() {
            "SELECT signal_id, node_key, summary, count, rate_limited, first_ms, last_ms,
                    count(*) OVER (PARTITION BY signal_id),
                    sum(rate_limited) OVER (PARTITION BY signal_id)
             FROM signal_matches
             WHERE (? IS NULL OR signal_id = ?)
               AND signal_id IN (SELECT unnest(CAST(? AS BIGINT[])))
             QUALIFY row_number() OVER (PARTITION BY signal_id ORDER BY first_ms, node_key, summary) <= ?
             ORDER BY signal_id, first_ms, node_key, summary"
        } else {
            "SELECT signal_id, node_key, summary, count, rate_limited, first_ms, last_ms,
                    count(*) OVER (PARTITION BY signal_id),
                    sum(rate_limited) OVER (PARTITION BY signal_id)
             FROM signal_matches WHERE (? IS NULL OR signal_id = ?) AND CAST(? AS VARCHAR) IS NULL
             QUALIFY row_number() OVER (PARTITION BY signal_id ORDER BY first_ms, node_key, summary) <= ?
             ORDER BY signal_id, first_ms, node_key, summary"
        })?;
        let found = stmt.query_map(params![one, one, ids, page as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                MatchRow {
                    node_key: r.get(1)?,
                    summary: r.get(2)?,
                    count: r.get::<_, i64>(3)? as u64,
                    rate_limited: r.get::<_, i64>(4)? as u64,
                    first_ms: r.get(5)?,
                    last_ms: r.get(6)?,
                },
                r.get::<_, i64>(7)? as u32,
                r.get::<_, i64>(8)? as u64,
            ))
        })?;
        let at: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        for m in found {
            let (id, m, total, limited) = m?;
            if let Some(&i) = at.get(&id) {
                let s = &mut rows[i];
                s.matches.push(m);
                s.matches_total = total;
                s.rate_limited = limited;
                s.rate_limit_note = (limited > 0).then(|| rate_limit_note(limited));
            }
        }
        Ok(())
    }

    /// One signal by id.
    pub(crate) fn signal(&self, id: i64) -> Result<SignalRow> {
        let sql = format!("SELECT {SIGNAL_COLUMNS} FROM signals WHERE signal_id = ?");
        let (mut s, pj) = self
            .conn
            .prepare(&sql)?
            .query_row(params![id], row_to_signal)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no signal with id {id}")))?;
        self.complete(&mut s, &pj, &mut HashMap::new())?;
        let mut one = [s];
        self.attach_matches(&mut one, Some(id), usize::MAX / 2, None)?;
        self.attach_drift(&mut one, Some(id), None)?;
        let [s] = one;
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
        if let (Some(Some(p)), None) = (profiles.get(&key), &s.suggestion_block) {
            s.suggestion = suggest(&NodeKey(s.node_key.clone()), p, self.suggestion_threshold);
        }
        Ok(())
    }

    /// Open signals per status, for status lines: (open, suppressed, rejected).
    pub(crate) fn signal_counts(&self) -> Result<(u32, u32, u32)> {
        Ok(self.conn.query_row(
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

/// `N more matches hidden by the rate limit` (they are listed among the distinct matches).
pub fn rate_limit_note(n: u64) -> String {
    if n == 1 {
        "1 more match hidden by the rate limit".to_string()
    } else {
        format!("{n} more matches hidden by the rate limit")
    }
}

/// Identity of a distinct match within a signal.
fn match_key(node: &str, summary: &str) -> String {
    format!("{node}\u{1f}{summary}")
}

/// An active suppression as `add_signal` checks it.
#[derive(Debug, Clone)]
struct ActiveSuppression {
    id: i64,
    rule_id: String,
    image: String,
    lineage: Vec<String>,
    expires_ms: Option<i64>,
    /// Only containers carrying this tag.
    scope: Option<String>,
}

/// What `add_signal` decides on, read once from the tables and kept current by this
/// store's writes (a store file has one writer). Changes to suppressions drop it; it is
/// read again on the next signal.
#[derive(Debug, Default)]
pub(crate) struct SignalIndex {
    loaded: bool,
    suppressions: Vec<ActiveSuppression>,
    /// dedup key -> (newest signal with it, its last match time)
    dedup: HashMap<String, (i64, i64)>,
    /// (rule, container) -> (time, signal id) of signals, oldest first
    recent: HashMap<(String, String), Vec<(i64, i64)>>,
    /// (signal, match key) of every distinct match stored
    matches: std::collections::HashSet<(i64, String)>,
    /// container -> its newest drift signal
    pub(crate) drift: HashMap<String, DriftState>,
}

impl SignalIndex {
    pub(crate) fn loaded(&self) -> bool {
        self.loaded
    }

    fn load(store: &Store) -> Result<SignalIndex> {
        // Undone ones are left out; expiry is checked at use, against the signal's time.
        let suppressions = store
            .suppressions(false)?
            .into_iter()
            .map(|x| ActiveSuppression {
                id: x.id,
                rule_id: x.rule_id,
                image: x.image,
                lineage: x.lineage,
                expires_ms: x.expires_ms,
                scope: x.scope,
            })
            .collect();
        let mut idx = SignalIndex {
            loaded: true,
            suppressions,
            ..SignalIndex::default()
        };
        let mut stmt = store.conn().prepare(
            "SELECT signal_id, ts_ms, last_ts_ms, dedup_key, rule_id, container_id FROM signals
             WHERE kind <> 'drift' ORDER BY ts_ms, signal_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        for row in rows {
            let (id, ts, last, key, rule, container) = row?;
            idx.dedup.insert(key, (id, last));
            idx.recent
                .entry((rule, container))
                .or_default()
                .push((ts, id));
        }
        let mut stmt = store
            .conn()
            .prepare("SELECT signal_id, node_key, summary FROM signal_matches")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                match_key(&r.get::<_, String>(1)?, &r.get::<_, String>(2)?),
            ))
        })?;
        for row in rows {
            idx.matches.insert(row?);
        }
        idx.drift = crate::drift::load_states(store)?;
        Ok(idx)
    }

    fn suppression_for(&self, s: &NewSignal, lineage: &[String], now_ms: i64) -> Option<i64> {
        self.suppressions
            .iter()
            .find(|x| {
                x.rule_id == s.rule_id
                    && x.image == s.container.image
                    && x.lineage == lineage
                    && x.expires_ms.is_none_or(|e| now_ms < e)
                    && x.scope
                        .as_ref()
                        .is_none_or(|t| s.container.tags.iter().any(|c| c == t))
            })
            .map(|x| x.id)
    }

    fn duplicate_of(&self, key: &str, ts_ms: i64, window: i64) -> Option<i64> {
        self.dedup
            .get(key)
            .filter(|(_, last)| ts_ms - last <= window)
            .map(|(id, _)| *id)
    }

    fn counted(&mut self, key: &str, id: i64, ts_ms: i64) {
        if let Some(e) = self.dedup.get_mut(key) {
            if e.0 == id {
                e.1 = e.1.max(ts_ms);
            }
        }
    }

    /// The newest signal of this rule and container if `limit` of them are in the window.
    fn over_rate(
        &mut self,
        rc: &(String, String),
        ts_ms: i64,
        window: i64,
        limit: u32,
    ) -> Option<i64> {
        let v = self.recent.get_mut(rc)?;
        v.retain(|(t, _)| ts_ms - t <= window);
        let in_window: Vec<&(i64, i64)> = v.iter().filter(|(t, _)| *t <= ts_ms).collect();
        if in_window.len() >= limit as usize {
            in_window
                .iter()
                .max_by_key(|(t, id)| (*t, *id))
                .map(|(_, id)| *id)
        } else {
            None
        }
    }

    fn inserted(&mut self, key: String, rc: (String, String), id: i64, ts_ms: i64) {
        self.dedup.insert(key, (id, ts_ms));
        self.recent.entry(rc).or_default().push((ts_ms, id));
    }
}

/// The ids of `rows` as a DuckDB list literal (`[3,2,1]`), bound as a parameter.
pub(crate) fn page_ids(rows: &[SignalRow]) -> String {
    let ids: Vec<String> = rows.iter().map(|s| s.id.to_string()).collect();
    format!("[{}]", ids.join(","))
}
