//! Drift signals: the novel activity of one container (nodes its Stable profile lacks)
//! aggregated into one signal per container and window, holding every novel node with its
//! first and last time and count. It grows as nodes arrive, is never rate-limited, and is
//! raised again (status back to open, severity up) when the novel activity crosses into a
//! category that matters (a new executable, a write to a system path, an outbound
//! connection, kernel activity).

use crate::batch::{DriftNodeWrite, Pending, SignalChange};
use crate::read::Reads;
use crate::signal::SignalRow;
use crate::{Result, Store};
use duckdb::params;
use model::drift::{drift_summary, DriftCategory, NovelNode, DRIFT_RULE};
use model::event::Access;
use model::rule::Severity;
use model::signal::{NewSignal, SignalKind, SignalStatus};
use model::tree::NodeKind;
use model::Event;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why a drift signal never gets a suppression suggestion.
pub const DRIFT_BLOCK: &str =
    "drift is activity the Stable profile lacks; reject it to keep it as a finding";

/// One novel node of a drift signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftNodeRow {
    pub node_key: String,
    pub parent_key: Option<String>,
    /// `process`, `file`, `dns`, `net`, `kernel`.
    pub kind: String,
    pub label: String,
    /// File access kinds seen (files only).
    #[serde(default)]
    pub access: Vec<String>,
    pub category: String,
    pub severity: String,
    /// MITRE ATT&CK tactic, empty when none fits.
    pub tactic: String,
    pub why: String,
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// What [`Store::add_drift`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftOutcome {
    pub signal_id: i64,
    /// A new drift signal was opened (none in the window for this container).
    pub new_signal: bool,
    /// Novel nodes not seen before in this signal.
    pub new_nodes: usize,
    /// The signal was raised again: a category that matters appeared (it is open again,
    /// its severity the highest of its nodes).
    pub reraised: bool,
}

/// The newest drift signal of one container, as `add_drift` decides on it.
#[derive(Debug, Clone)]
pub(crate) struct DriftState {
    id: i64,
    last_ms: i64,
    /// node key -> (its severity, its access so far)
    nodes: HashMap<String, (Severity, u16)>,
    by_kind: BTreeMap<NodeKind, u64>,
    categories: BTreeSet<DriftCategory>,
    severity: Severity,
    tactics: BTreeSet<String>,
}

impl DriftState {
    fn mitre(&self) -> String {
        self.tactics
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn summary(&self) -> String {
        let v: Vec<(NodeKind, u64)> = self.by_kind.iter().map(|(k, n)| (*k, *n)).collect();
        drift_summary(&v)
    }
}

/// The newest drift signal of every container, with its nodes.
pub(crate) fn load_states(store: &Store) -> Result<HashMap<String, DriftState>> {
    let mut states: HashMap<String, DriftState> = HashMap::new();
    let mut stmt = store.conn().prepare(
        "SELECT signal_id, container_id, last_ts_ms FROM signals WHERE kind = 'drift'
         ORDER BY ts_ms, signal_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (id, container, last_ms) = row?;
        states.insert(
            container,
            DriftState {
                id,
                last_ms,
                nodes: HashMap::new(),
                by_kind: BTreeMap::new(),
                categories: BTreeSet::new(),
                severity: Severity::Info,
                tactics: BTreeSet::new(),
            },
        );
    }
    let by_id: HashMap<i64, String> = states.iter().map(|(c, s)| (s.id, c.clone())).collect();
    let mut stmt = store.conn().prepare(
        "SELECT signal_id, node_key, kind, access, category, severity, tactic FROM drift_nodes",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i32>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    for row in rows {
        let (id, key, kind, access, category, severity, tactic) = row?;
        let Some(st) = by_id.get(&id).and_then(|c| states.get_mut(c)) else {
            continue;
        };
        let sev = severity.parse().unwrap_or(Severity::Medium);
        st.nodes.insert(key, (sev, access as u16));
        *st.by_kind
            .entry(NodeKind::parse(&kind).unwrap_or(NodeKind::File))
            .or_default() += 1;
        if let Some(c) = DriftCategory::parse(&category) {
            st.categories.insert(c);
        }
        st.severity = st.severity.max(sev);
        st.tactics.insert(tactic);
    }
    Ok(states)
}

impl Store {
    /// Count the novel nodes of one event on its container's drift signal (opened when the
    /// container has none whose last activity is within the de-duplication window). Never
    /// rate-limited; written with the batch (see `batch.rs`). `reason` explains the first
    /// novel node (used when the signal is opened). `None` when `nodes` is empty.
    pub fn add_drift(
        &mut self,
        ev: &Event,
        nodes: &[NovelNode],
        reason: &str,
    ) -> Result<Option<DriftOutcome>> {
        let Some(first) = nodes.first() else {
            return Ok(None);
        };
        if !self.index.loaded() {
            self.load_index()?;
        }
        let window = self.settings.dedup_window_ms;
        let ts = ev.ts_ms;
        let container = ev.container.id.clone();
        let current = self
            .index
            .drift
            .get(&container)
            .filter(|st| ts - st.last_ms <= window)
            .map(|st| st.id);
        let (mut st, new_signal) = match current {
            Some(_) => (
                self.index.drift.remove(&container).expect("checked above"),
                false,
            ),
            None => {
                let mut s = NewSignal::from_event(
                    ev,
                    SignalKind::Drift,
                    DRIFT_RULE,
                    first.severity.as_str(),
                    &first.tactic,
                    reason.to_string(),
                );
                s.node = first.key.clone();
                s.suggestion_block = Some(DRIFT_BLOCK.to_string());
                let key = format!("drift\u{1f}{}\u{1f}{ts}", container);
                let id = self.gather_new_signal(&s, &key)?;
                (
                    DriftState {
                        id,
                        last_ms: ts,
                        nodes: HashMap::new(),
                        by_kind: BTreeMap::new(),
                        categories: BTreeSet::new(),
                        severity: first.severity,
                        tactics: BTreeSet::new(),
                    },
                    true,
                )
            }
        };
        let mut new_nodes = 0;
        let mut crossed = false;
        for n in nodes {
            match st.nodes.get(&n.key.0).copied() {
                Some((sev, access)) => {
                    let access = access | n.access.0;
                    self.pending
                        .drift_node_again(st.id, n, ts, access, n.severity > sev);
                    st.nodes
                        .insert(n.key.0.clone(), (sev.max(n.severity), access));
                }
                None => {
                    self.pending.drift_node_new(st.id, n, ts);
                    st.nodes.insert(n.key.0.clone(), (n.severity, n.access.0));
                    *st.by_kind.entry(n.kind).or_default() += 1;
                    new_nodes += 1;
                }
            }
            if st.categories.insert(n.category) && n.category.matters() && !new_signal {
                crossed = true;
            }
            st.severity = st.severity.max(n.severity);
            st.tactics.insert(n.tactic.clone());
        }
        st.last_ms = st.last_ms.max(ts);
        let (severity, mitre, summary) =
            (st.severity.as_str().to_string(), st.mitre(), st.summary());
        let p = &mut self.pending;
        match p.signal_at.get(&st.id) {
            Some(&i) => {
                let row = &mut p.signals[i];
                if !new_signal {
                    row.count += 1;
                }
                row.last_ts_ms = row.last_ts_ms.max(ts);
                (row.severity, row.mitre, row.summary) = (severity, mitre, summary);
                if crossed {
                    row.status = SignalStatus::Open.as_str().to_string();
                }
            }
            None => {
                let c = p.signal_changes.entry(st.id).or_insert(SignalChange {
                    last_ts_ms: ts,
                    ..Default::default()
                });
                c.count_add += 1;
                c.last_ts_ms = c.last_ts_ms.max(ts);
                c.drift = Some((severity, mitre, summary));
                c.reopen |= crossed;
            }
        }
        let out = DriftOutcome {
            signal_id: st.id,
            new_signal,
            new_nodes,
            reraised: crossed,
        };
        if crossed {
            tracing::info!(signal = st.id, "drift signal raised again: a new category");
        }
        self.index.drift.insert(container, st);
        self.flush_unless_batching()?;
        Ok(Some(out))
    }
}

impl Pending {
    /// A novel node first counted on drift signal `signal_id`.
    fn drift_node_new(&mut self, signal_id: i64, n: &NovelNode, ts: i64) {
        self.drift_at
            .insert((signal_id, n.key.0.clone()), self.drift_nodes.len());
        self.drift_nodes.push(DriftNodeWrite {
            signal_id,
            node_key: n.key.0.clone(),
            parent_key: n.key.parent().map(|p| p.0),
            kind: n.kind.as_str().to_string(),
            label: n.label.clone(),
            access: i32::from(n.access.0),
            category: n.category.as_str().to_string(),
            severity: n.severity.as_str().to_string(),
            tactic: n.tactic.clone(),
            why: n.why.clone(),
            stored: false,
            ranked_up: false,
            count: 1,
            first_ms: ts,
            last_ms: ts,
        });
    }

    /// A node the drift signal holds, seen again: counted, its access now `access`, and
    /// when it ranks higher than before, its severity, category, tactic and why replaced.
    fn drift_node_again(
        &mut self,
        signal_id: i64,
        n: &NovelNode,
        ts: i64,
        access: u16,
        rank_up: bool,
    ) {
        let k = (signal_id, n.key.0.clone());
        let w = match self.drift_at.get(&k) {
            Some(&i) => {
                let w = &mut self.drift_nodes[i];
                w.count += 1;
                w.first_ms = w.first_ms.min(ts);
                w.last_ms = w.last_ms.max(ts);
                w
            }
            None => {
                // stored in an earlier batch: what to add to its row
                self.drift_at.insert(k, self.drift_nodes.len());
                self.drift_nodes.push(DriftNodeWrite {
                    signal_id,
                    node_key: n.key.0.clone(),
                    parent_key: None,
                    kind: String::new(),
                    label: String::new(),
                    access: 0,
                    category: String::new(),
                    severity: String::new(),
                    tactic: String::new(),
                    why: String::new(),
                    stored: true,
                    ranked_up: false,
                    count: 1,
                    first_ms: ts,
                    last_ms: ts,
                });
                self.drift_nodes.last_mut().expect("pushed")
            }
        };
        w.access = i32::from(access);
        if rank_up {
            w.ranked_up = true;
            w.severity = n.severity.as_str().to_string();
            w.category = n.category.as_str().to_string();
            w.tactic = n.tactic.clone();
            w.why = n.why.clone();
        }
    }
}

impl Reads<'_> {
    /// Fill `drift` of the drift signals among `rows` (all, or the one named).
    pub(crate) fn attach_drift(
        &self,
        rows: &mut [SignalRow],
        one: Option<i64>,
        ids: Option<&str>,
    ) -> Result<()> {
        if !rows.iter().any(|s| s.kind == SignalKind::Drift.as_str()) {
            return Ok(());
        }
        // `ids`: the signals of a page (see `signal::page_ids`).
        let mut stmt = self.conn.prepare(if ids.is_some() {
            "SELECT signal_id, node_key, parent_key, kind, label, access, category, severity,
                    tactic, why, count, first_ms, last_ms
             FROM drift_nodes
             WHERE (? IS NULL OR signal_id = ?)
               AND signal_id IN (SELECT unnest(CAST(? AS BIGINT[])))
             ORDER BY signal_id, first_ms, length(node_key), node_key"
        } else {
            "SELECT signal_id, node_key, parent_key, kind, label, access, category, severity,
                    tactic, why, count, first_ms, last_ms
             FROM drift_nodes WHERE (? IS NULL OR signal_id = ?) AND CAST(? AS VARCHAR) IS NULL
             ORDER BY signal_id, first_ms, length(node_key), node_key"
        })?;
        let found = stmt.query_map(params![one, one, ids], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                DriftNodeRow {
                    node_key: r.get(1)?,
                    parent_key: r.get(2)?,
                    kind: r.get(3)?,
                    label: r.get(4)?,
                    access: Access(r.get::<_, i32>(5)? as u16)
                        .names()
                        .into_iter()
                        .map(String::from)
                        .collect(),
                    category: r.get(6)?,
                    severity: r.get(7)?,
                    tactic: r.get(8)?,
                    why: r.get(9)?,
                    count: r.get::<_, i64>(10)? as u64,
                    first_ms: r.get(11)?,
                    last_ms: r.get(12)?,
                },
            ))
        })?;
        let at: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        for row in found {
            let (id, n) = row?;
            if let Some(&i) = at.get(&id) {
                rows[i].drift.push(n);
            }
        }
        Ok(())
    }
}
