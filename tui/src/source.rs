//! Where the screens and the CLI twins get their data and send the person's decisions: a
//! store file opened in this process, or the agent over its socket. Both give the same
//! answers; the decision rules (what may be suppressed, the default reason) live here once,
//! in the store implementation, which the agent also runs for its clients.

use crate::http::ClientError;
use crate::respond::{self, RespondRequest};
use model::diff::ProfileDiff;
use model::export::ExportFormat;
use model::outlier::OutlierReport;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use store::decision::Decision;
use store::{
    LearningProgress, LifecycleChange, NodeRow, ProfileSummary, ResponseRow, SignalFilter,
    SignalRow, SnapshotDetail, SnapshotSummary, Store, StoreError, StoreReader, SuppressionRow,
};

/// Why a read or a decision failed; one line.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The agent answered with an error status.
    #[error("{message}")]
    Agent { status: u16, message: String },
}

pub type Result<T, E = SourceError> = std::result::Result<T, E>;

/// A suppression the person asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressRequest {
    pub signal_id: i64,
    /// Empty: the suggestion's text ("known behaviour, N of M snapshots").
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub expires_ms: Option<i64>,
    /// Suppress even without a suggestion.
    #[serde(default)]
    pub force: bool,
    /// Only containers carrying this tag (`namespace:payments`); None: every container of
    /// the image.
    #[serde(default)]
    pub scope: Option<String>,
}

/// A lifecycle decision the person asks for: promote a profile to Stable, or reset it to
/// Learning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRequest {
    pub image: String,
    pub version: String,
    pub action: model::LifecycleAction,
    /// Why (required).
    pub reason: String,
}

/// What `wsprof status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub profiles: usize,
    pub stable: usize,
    pub snapshots: u64,
    pub signals: SignalCounts,
    pub suppressions: usize,
    /// The last capture counters recorded in the store (or the agent's live ones).
    pub capture: Option<serde_json::Value>,
    /// Set when an agent answers: who it is and what its pipeline dropped.
    #[serde(default)]
    pub agent: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalCounts {
    pub open: u32,
    pub suppressed: u32,
    pub rejected: u32,
}

/// The data behind the screens and the CLI twins.
pub trait Source {
    fn profiles(&mut self) -> Result<Vec<ProfileSummary>>;
    fn profile_nodes(&mut self, image: &str, version: &str) -> Result<Vec<NodeRow>>;
    fn profile_snapshots(&mut self, image: &str, version: &str) -> Result<Vec<SnapshotSummary>>;
    fn signals(&mut self, filter: &SignalFilter) -> Result<Vec<SignalRow>>;
    fn signal(&mut self, id: i64) -> Result<SignalRow>;
    /// (signals, matches) accepting this signal's suggestion would hide.
    fn preview_suppression(&mut self, signal_id: i64) -> Result<(u32, u64)>;
    fn suppressions(&mut self, include_removed: bool) -> Result<Vec<SuppressionRow>>;
    /// Add a suppression for a signal's rule, image and process lineage. `who` and `now_ms`
    /// are what this process knows; the agent records its client's peer credentials and its
    /// own clock instead.
    fn suppress(&mut self, req: &SuppressRequest, who: &str, now_ms: i64)
        -> Result<SuppressionRow>;
    fn reject_signal(&mut self, id: i64, who: &str) -> Result<()>;
    fn unsuppress(&mut self, id: i64, who: &str, now_ms: i64) -> Result<SuppressionRow>;
    fn status(&mut self) -> Result<StatusReport>;
    /// What profile `to` holds that `from` does not, what it no longer holds, and the
    /// nodes whose commonality moved by more than `threshold` (0..1).
    fn profile_diff(
        &mut self,
        from: (&str, &str),
        to: (&str, &str),
        threshold: f64,
    ) -> Result<ProfileDiff>;
    /// The profile's containers ranked by how rare their behaviour is in it.
    fn profile_outliers(&mut self, image: &str, version: &str) -> Result<OutlierReport>;
    /// The profile exported as `format` (YAML); a Learning profile only with `force`.
    fn profile_export(
        &mut self,
        image: &str,
        version: &str,
        format: ExportFormat,
        force: bool,
    ) -> Result<String>;
    /// One snapshot with its own tree (each node's commonality in the profile, what it
    /// brought first).
    fn snapshot(&mut self, id: &str) -> Result<SnapshotDetail>;
    /// The snapshot windows a signal happened in, oldest first (its first match in the
    /// first one); empty when its container's activity was not stored as a snapshot.
    fn signal_snapshots(&mut self, signal_id: i64) -> Result<Vec<SnapshotSummary>>;
    /// New nodes per kind that each of a profile's last `last` merged snapshots brought.
    fn learning_progress(
        &mut self,
        image: &str,
        version: &str,
        last: usize,
    ) -> Result<LearningProgress>;
    /// The promote and reset decisions on a profile, newest first.
    fn lifecycle_changes(&mut self, image: &str, version: &str) -> Result<Vec<LifecycleChange>>;
    /// Promote or reset a profile (recorded in the audit trail, undoable). `who` and
    /// `now_ms` as for [`suppress`](Source::suppress).
    fn change_lifecycle(
        &mut self,
        req: &LifecycleRequest,
        who: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange>;
    /// Undo the latest promote or reset of a profile.
    fn undo_lifecycle(
        &mut self,
        image: &str,
        version: &str,
        reason: &str,
        who: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange>;
    /// Freeze or thaw the container of a signal (or of an earlier response), now, and
    /// append the attempt to the responses audit table (see [`crate::respond`]). A failed
    /// attempt is recorded, then returned as an error. The agent records its client's peer
    /// credentials and its own clock instead of `who` and `now_ms`.
    fn respond(&mut self, req: &RespondRequest, who: &str, now_ms: i64) -> Result<ResponseRow>;
    /// The newest `limit` responses, newest first.
    fn responses(&mut self, limit: usize) -> Result<Vec<ResponseRow>>;
}

impl Source for Store {
    fn profiles(&mut self) -> Result<Vec<ProfileSummary>> {
        Ok(Store::profiles(self)?)
    }

    fn profile_nodes(&mut self, image: &str, version: &str) -> Result<Vec<NodeRow>> {
        Ok(Store::profile_nodes(self, image, version)?)
    }

    fn profile_snapshots(&mut self, image: &str, version: &str) -> Result<Vec<SnapshotSummary>> {
        Ok(Store::profile_snapshots(self, image, version)?)
    }

    fn signals(&mut self, filter: &SignalFilter) -> Result<Vec<SignalRow>> {
        Ok(Store::signals(self, filter)?)
    }

    fn signal(&mut self, id: i64) -> Result<SignalRow> {
        Ok(Store::signal(self, id)?)
    }

    fn preview_suppression(&mut self, signal_id: i64) -> Result<(u32, u64)> {
        Ok(Store::preview_suppression(self, signal_id)?)
    }

    fn suppressions(&mut self, include_removed: bool) -> Result<Vec<SuppressionRow>> {
        Ok(Store::suppressions(self, include_removed)?)
    }

    fn suppress(
        &mut self,
        req: &SuppressRequest,
        who: &str,
        now_ms: i64,
    ) -> Result<SuppressionRow> {
        let s = Store::signal(self, req.signal_id)?;
        if s.status != "open" {
            return Err(
                StoreError::Refused(format!("signal {} is {}, not open", s.id, s.status)).into(),
            );
        }
        if s.kind == model::signal::SignalKind::Drift.as_str() {
            return Err(StoreError::Refused(format!(
                "signal {} is drift and cannot be suppressed: {}",
                s.id,
                store::DRIFT_BLOCK
            ))
            .into());
        }
        if s.suggestion.is_none() && !req.force {
            let why = match &s.suggestion_block {
                Some(b) => b.clone(),
                None => format!("its behaviour is not common in {}:{}", s.image, s.version),
            };
            return Err(StoreError::Refused(format!(
                "signal {} has no suggestion: {why} (use --force to suppress anyway)",
                s.id
            ))
            .into());
        }
        let reason = if req.reason.is_empty() {
            s.suggestion
                .as_ref()
                .map(|g| g.text())
                .unwrap_or_else(|| "forced".into())
        } else {
            req.reason.clone()
        };
        let sup = Store::suppress_scoped(
            self,
            req.signal_id,
            who,
            &reason,
            req.expires_ms,
            now_ms,
            req.scope.as_deref(),
        )?;
        tracing::info!(
            signal = req.signal_id,
            suppression = sup.id,
            who,
            "suppression added"
        );
        self.record_decision(&Decision {
            ts_ms: now_ms,
            who: who.into(),
            action: "accept".into(),
            signal_id: Some(req.signal_id),
            suppression_id: Some(sup.id),
            detail: reason,
            profile: None,
        })?;
        Ok(Store::suppression(self, sup.id)?)
    }

    fn reject_signal(&mut self, id: i64, who: &str) -> Result<()> {
        Store::reject_signal(self, id)?;
        tracing::info!(signal = id, who, "suggestion rejected");
        self.record_decision(&Decision {
            ts_ms: store::now_ms(),
            who: who.into(),
            action: "reject".into(),
            signal_id: Some(id),
            suppression_id: None,
            detail: String::new(),
            profile: None,
        })?;
        Ok(())
    }

    fn unsuppress(&mut self, id: i64, who: &str, now_ms: i64) -> Result<SuppressionRow> {
        let s = Store::unsuppress(self, id, now_ms)?;
        tracing::info!(suppression = id, who, "suppression undone");
        self.record_decision(&Decision {
            ts_ms: now_ms,
            who: who.into(),
            action: "undo".into(),
            signal_id: None,
            suppression_id: Some(id),
            detail: s.expression.clone(),
            profile: None,
        })?;
        Ok(s)
    }

    fn profile_diff(
        &mut self,
        from: (&str, &str),
        to: (&str, &str),
        threshold: f64,
    ) -> Result<ProfileDiff> {
        Ok(Store::profile_diff(
            self, from.0, from.1, to.0, to.1, threshold,
        )?)
    }

    fn profile_outliers(&mut self, image: &str, version: &str) -> Result<OutlierReport> {
        Ok(Store::profile_outliers(self, image, version)?)
    }

    fn profile_export(
        &mut self,
        image: &str,
        version: &str,
        format: ExportFormat,
        force: bool,
    ) -> Result<String> {
        Ok(Store::profile_export(self, image, version, format, force)?)
    }

    fn respond(&mut self, req: &RespondRequest, who: &str, now_ms: i64) -> Result<ResponseRow> {
        let t = respond::target(self, req)?;
        respond::require_root(req.action)?;
        let row = respond::execute(&t, req.action, who, &req.reason, now_ms);
        respond::outcome(self.record_response(&row)?)
    }

    fn responses(&mut self, limit: usize) -> Result<Vec<ResponseRow>> {
        Ok(Store::responses(self, limit)?)
    }

    fn status(&mut self) -> Result<StatusReport> {
        Ok(status_report(
            Store::profiles(self)?,
            self.signal_counts()?,
            self.latest_capture_stats()?,
            Store::suppressions(self, false)?.len(),
        ))
    }

    fn snapshot(&mut self, id: &str) -> Result<SnapshotDetail> {
        Ok(self.snapshot_detail(id)?)
    }

    fn signal_snapshots(&mut self, signal_id: i64) -> Result<Vec<SnapshotSummary>> {
        Ok(Store::signal_snapshots(self, signal_id)?)
    }

    fn learning_progress(
        &mut self,
        image: &str,
        version: &str,
        last: usize,
    ) -> Result<LearningProgress> {
        Ok(Store::learning_progress(self, image, version, last)?)
    }

    fn lifecycle_changes(&mut self, image: &str, version: &str) -> Result<Vec<LifecycleChange>> {
        Ok(Store::lifecycle_changes(self, Some((image, version)))?)
    }

    fn change_lifecycle(
        &mut self,
        req: &LifecycleRequest,
        who: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange> {
        Ok(Store::change_lifecycle(
            self,
            &req.image,
            &req.version,
            req.action,
            who,
            &req.reason,
            now_ms,
        )?)
    }

    fn undo_lifecycle(
        &mut self,
        image: &str,
        version: &str,
        reason: &str,
        who: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange> {
        Ok(Store::undo_lifecycle(
            self, image, version, who, reason, now_ms,
        )?)
    }
}

fn status_report(
    profiles: Vec<ProfileSummary>,
    (open, suppressed, rejected): (u32, u32, u32),
    capture: Option<(i64, i64, String)>,
    suppressions: usize,
) -> StatusReport {
    StatusReport {
        profiles: profiles.len(),
        stable: profiles.iter().filter(|p| p.status == "stable").count(),
        snapshots: profiles
            .iter()
            .map(|p| u64::from(p.snapshots + p.unmerged_snapshots + p.archived_snapshots))
            .sum(),
        signals: SignalCounts {
            open,
            suppressed,
            rejected,
        },
        suppressions,
        capture: capture.and_then(|(_, _, d)| serde_json::from_str(&d).ok()),
        agent: None,
    }
}

/// Reads on a reader connection of their own, which never wait for the writer (ingest);
/// the person's decisions on the writer's store, behind its lock.
pub struct SplitSource<'a> {
    pub reader: &'a StoreReader,
    pub writer: &'a Mutex<Store>,
}

impl SplitSource<'_> {
    fn write<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let mut g = self
            .writer
            .lock()
            .map_err(|_| StoreError::Refused("the store lock is poisoned".into()))?;
        f(&mut g)
    }
}

impl Source for SplitSource<'_> {
    fn profiles(&mut self) -> Result<Vec<ProfileSummary>> {
        Ok(self.reader.profiles()?)
    }

    fn profile_nodes(&mut self, image: &str, version: &str) -> Result<Vec<NodeRow>> {
        Ok(self.reader.profile_nodes(image, version)?)
    }

    fn profile_snapshots(&mut self, image: &str, version: &str) -> Result<Vec<SnapshotSummary>> {
        Ok(self.reader.profile_snapshots(image, version)?)
    }

    fn signals(&mut self, filter: &SignalFilter) -> Result<Vec<SignalRow>> {
        Ok(self.reader.signals(filter)?)
    }

    fn signal(&mut self, id: i64) -> Result<SignalRow> {
        Ok(self.reader.signal(id)?)
    }

    fn preview_suppression(&mut self, signal_id: i64) -> Result<(u32, u64)> {
        Ok(self.reader.preview_suppression(signal_id)?)
    }

    fn suppressions(&mut self, include_removed: bool) -> Result<Vec<SuppressionRow>> {
        Ok(self.reader.suppressions(include_removed)?)
    }

    fn suppress(
        &mut self,
        req: &SuppressRequest,
        who: &str,
        now_ms: i64,
    ) -> Result<SuppressionRow> {
        self.write(|s| Source::suppress(s, req, who, now_ms))
    }

    fn reject_signal(&mut self, id: i64, who: &str) -> Result<()> {
        self.write(|s| Source::reject_signal(s, id, who))
    }

    fn unsuppress(&mut self, id: i64, who: &str, now_ms: i64) -> Result<SuppressionRow> {
        self.write(|s| Source::unsuppress(s, id, who, now_ms))
    }

    fn profile_diff(
        &mut self,
        from: (&str, &str),
        to: (&str, &str),
        threshold: f64,
    ) -> Result<ProfileDiff> {
        Ok(self
            .reader
            .profile_diff(from.0, from.1, to.0, to.1, threshold)?)
    }

    fn profile_outliers(&mut self, image: &str, version: &str) -> Result<OutlierReport> {
        Ok(self.reader.profile_outliers(image, version)?)
    }

    fn profile_export(
        &mut self,
        image: &str,
        version: &str,
        format: ExportFormat,
        force: bool,
    ) -> Result<String> {
        Ok(self.reader.profile_export(image, version, format, force)?)
    }

    /// The container is frozen without the store's lock (it may take seconds); only the
    /// audit row is written behind it.
    fn respond(&mut self, req: &RespondRequest, who: &str, now_ms: i64) -> Result<ResponseRow> {
        let t = respond::target(self, req)?;
        respond::require_root(req.action)?;
        let row = respond::execute(&t, req.action, who, &req.reason, now_ms);
        respond::outcome(self.write(|s| Ok(s.record_response(&row)?))?)
    }

    fn responses(&mut self, limit: usize) -> Result<Vec<ResponseRow>> {
        Ok(self.reader.responses(limit)?)
    }

    fn status(&mut self) -> Result<StatusReport> {
        let r = self.reader;
        Ok(status_report(
            r.profiles()?,
            r.signal_counts()?,
            r.latest_capture_stats()?,
            r.suppressions(false)?.len(),
        ))
    }

    fn snapshot(&mut self, id: &str) -> Result<SnapshotDetail> {
        Ok(self.reader.snapshot_detail(id)?)
    }

    fn signal_snapshots(&mut self, signal_id: i64) -> Result<Vec<SnapshotSummary>> {
        Ok(self.reader.signal_snapshots(signal_id)?)
    }

    fn learning_progress(
        &mut self,
        image: &str,
        version: &str,
        last: usize,
    ) -> Result<LearningProgress> {
        Ok(self.reader.learning_progress(image, version, last)?)
    }

    fn lifecycle_changes(&mut self, image: &str, version: &str) -> Result<Vec<LifecycleChange>> {
        Ok(self.reader.lifecycle_changes(Some((image, version)))?)
    }

    fn change_lifecycle(
        &mut self,
        req: &LifecycleRequest,
        who: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange> {
        self.write(|s| Source::change_lifecycle(s, req, who, now_ms))
    }

    fn undo_lifecycle(
        &mut self,
        image: &str,
        version: &str,
        reason: &str,
        who: &str,
        now_ms: i64,
    ) -> Result<LifecycleChange> {
        self.write(|s| Source::undo_lifecycle(s, image, version, reason, who, now_ms))
    }
}
