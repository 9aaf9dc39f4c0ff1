//! Suppressions: created from a signal (rule + image + process lineage), previewed, listed,
//! undone, optionally expiring.

use crate::read::Reads;
use crate::{Result, Store, StoreError};
use duckdb::params;
use model::suppression::scoped_expression_text;
use model::tree::NodeKey;
use serde::{Deserialize, Serialize};

/// A stored suppression with how many matches it has hidden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressionRow {
    pub id: i64,
    pub rule_id: String,
    pub image: String,
    pub lineage: Vec<String>,
    pub expression: String,
    pub created_ms: i64,
    pub created_by: String,
    pub reason: String,
    pub expires_ms: Option<i64>,
    pub removed_ms: Option<i64>,
    /// Signals hidden: those marked suppressed when it was accepted, plus later matches.
    pub hidden: u64,
    pub active: bool,
    /// Only containers carrying this tag (`namespace:payments`); None: every container.
    #[serde(default)]
    pub scope: Option<String>,
}

impl Store {
    /// Accept the suggestion of a signal: store a suppression for its rule, image and
    /// process lineage, and mark every open signal it covers as suppressed.
    pub fn suppress(
        &mut self,
        signal_id: i64,
        created_by: &str,
        reason: &str,
        expires_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<SuppressionRow> {
        self.suppress_scoped(signal_id, created_by, reason, expires_ms, now_ms, None)
    }

    /// [`suppress`](Self::suppress), limited to containers carrying `scope` (a tag such as
    /// `namespace:payments`), which the signal's own container must carry.
    pub fn suppress_scoped(
        &mut self,
        signal_id: i64,
        created_by: &str,
        reason: &str,
        expires_ms: Option<i64>,
        now_ms: i64,
        scope: Option<&str>,
    ) -> Result<SuppressionRow> {
        self.flush()?;
        let s = self.signal(signal_id)?;
        if let Some(tag) = scope {
            if !s.tags.iter().any(|t| t == tag) {
                return Err(StoreError::Refused(format!(
                    "signal {signal_id}: its container has no tag `{tag}` (it has: {})",
                    if s.tags.is_empty() {
                        "none".to_string()
                    } else {
                        s.tags.join(", ")
                    }
                )));
            }
        }
        let lineage = NodeKey(s.node_key.clone()).lineage();
        if let Some(existing) = self.suppressions(false)?.into_iter().find(|x| {
            x.active
                && x.rule_id == s.rule_id
                && x.image == s.image
                && x.lineage == lineage
                && (x.scope.is_none() || x.scope.as_deref() == scope)
        }) {
            return Err(StoreError::Refused(format!(
                "signal {signal_id} is already covered by suppression {}",
                existing.id
            )));
        }
        let open = self.reads().matching_signals_scoped(
            &s.rule_id,
            &s.image,
            &lineage,
            Some("open"),
            scope,
        )?;
        let hidden: u64 = open.iter().map(|(_, c)| *c as u64).sum();
        let expression = scoped_expression_text(&s.image, &lineage, scope);
        let lineage_json =
            serde_json::to_string(&lineage).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.conn.transaction()?;
        let id: i64 = tx.query_row(
            "INSERT INTO suppressions (rule_id, image, lineage_json, expression, created_ms, created_by, reason, expires_ms, removed_ms, hidden_count, scope_tag)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) RETURNING suppression_id",
            params![s.rule_id, s.image, lineage_json, expression, now_ms, created_by, reason, expires_ms, hidden as i64, scope.unwrap_or("")],
            |r| r.get(0),
        )?;
        {
            let mut upd = tx.prepare(
                "UPDATE signals SET status = 'suppressed', suppression_id = ? WHERE signal_id = ?",
            )?;
            for (sid, _) in &open {
                upd.execute(params![id, sid])?;
            }
        }
        tx.commit()?;
        self.index = Default::default();
        self.suppression(id)
    }

    /// Undo a suppression: it stops hiding matches and the signals it hid are open again.
    pub fn unsuppress(&mut self, id: i64, now_ms: i64) -> Result<SuppressionRow> {
        self.flush()?;
        let sup = self.suppression(id)?;
        if sup.removed_ms.is_some() {
            return Err(StoreError::Refused(format!(
                "suppression {id} was already undone"
            )));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE suppressions SET removed_ms = ? WHERE suppression_id = ?",
            params![now_ms, id],
        )?;
        tx.execute(
            "UPDATE signals SET status = 'open', suppression_id = NULL WHERE suppression_id = ?",
            params![id],
        )?;
        tx.commit()?;
        self.index = Default::default();
        self.suppression(id)
    }
}

impl Reads<'_> {
    /// How many stored signals (and how many matches, counting duplicates) a suppression
    /// made from this signal would hide.
    pub(crate) fn preview_suppression(&self, signal_id: i64) -> Result<(u32, u64)> {
        let s = self.signal(signal_id)?;
        let lineage = NodeKey(s.node_key.clone()).lineage();
        let ids = self.matching_signals(&s.rule_id, &s.image, &lineage, None)?;
        let matches: u64 = ids.iter().map(|(_, c)| *c as u64).sum();
        Ok((ids.len() as u32, matches))
    }

    pub(crate) fn matching_signals(
        &self,
        rule: &str,
        image: &str,
        lineage: &[String],
        status: Option<&str>,
    ) -> Result<Vec<(i64, u32)>> {
        self.matching_signals_scoped(rule, image, lineage, status, None)
    }

    /// Signals of `rule` for `image` with this process lineage (and, with `scope`, whose
    /// container carries that tag): (id, count).
    pub(crate) fn matching_signals_scoped(
        &self,
        rule: &str,
        image: &str,
        lineage: &[String],
        status: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Vec<(i64, u32)>> {
        let mut stmt = self.conn.prepare(
            "SELECT signal_id, node_key, count, coalesce(tags_json, '[]') FROM signals
             WHERE rule_id = ? AND image = ? AND (? IS NULL OR status = ?)",
        )?;
        let rows = stmt.query_map(params![rule, image, status, status], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, key, count, tags) = row?;
            let in_scope = scope.is_none_or(|t| {
                serde_json::from_str::<Vec<String>>(&tags)
                    .unwrap_or_default()
                    .iter()
                    .any(|x| x == t)
            });
            if in_scope && NodeKey(key).lineage() == lineage {
                out.push((id, count as u32));
            }
        }
        Ok(out)
    }

    pub(crate) fn suppression(&self, id: i64) -> Result<SuppressionRow> {
        self.suppressions(true)?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("no suppression with id {id}")))
    }

    /// Suppressions, newest first; undone ones only with `include_removed`.
    pub(crate) fn suppressions(&self, include_removed: bool) -> Result<Vec<SuppressionRow>> {
        let now = crate::now_ms();
        let mut stmt = self.conn.prepare(
            "SELECT suppression_id, rule_id, image, lineage_json, expression, created_ms, created_by, reason,
                    expires_ms, removed_ms, hidden_count, coalesce(scope_tag, '')
             FROM suppressions WHERE ? OR removed_ms IS NULL ORDER BY created_ms DESC, suppression_id DESC",
        )?;
        let rows = stmt.query_map(params![include_removed], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, String>(11)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                rule_id,
                image,
                lj,
                expression,
                created_ms,
                created_by,
                reason,
                expires_ms,
                removed_ms,
                hidden,
                scope,
            ) = row?;
            let lineage: Vec<String> = serde_json::from_str(&lj)
                .map_err(|e| StoreError::Corrupt(format!("suppression {id} lineage: {e}")))?;
            let active = removed_ms.is_none() && expires_ms.is_none_or(|e| now < e);
            out.push(SuppressionRow {
                id,
                rule_id,
                image,
                lineage,
                expression,
                created_ms,
                created_by,
                reason,
                expires_ms,
                removed_ms,
                hidden: hidden as u64,
                active,
                scope: (!scope.is_empty()).then_some(scope),
            });
        }
        Ok(out)
    }
}
