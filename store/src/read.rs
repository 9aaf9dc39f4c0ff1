//! Reads for the screens and their CLI twins, written once over a borrowed connection
//! ([`Reads`]) and offered by both handles: [`Store`] (the writer's connection) and
//! [`StoreReader`] (a connection of its own, for another thread).
//!
//! A [`StoreReader`] runs every read method in one read transaction (prepare and execute
//! of each statement inside it). That is what makes reading while another connection
//! commits safe: see the crate documentation and `tests/concurrency.rs`.

use crate::learning::LearningProgress;
use crate::lifecycle::LifecycleChange;
use crate::query::{NodeRow, ProfileSummary, SnapshotSummary};
use crate::response::ResponseRow;
use crate::signal::{SignalFilter, SignalRow};
use crate::snapshot::SnapshotDetail;
use crate::suppression::SuppressionRow;
use crate::{Result, Store, StoreSettings};
use duckdb::Connection;
use model::profile::ProfileStatus;
use model::snapshot::Snapshot;
use model::Profile;
use std::path::{Path, PathBuf};

/// The read queries over one connection; every read method of [`Store`] and
/// [`StoreReader`] is implemented here once.
pub(crate) struct Reads<'c> {
    pub(crate) conn: &'c Connection,
    pub(crate) suggestion_threshold: f64,
}

/// A connection of its own to an open store, for reading on another thread while the
/// [`Store`] writes. Each read method runs in one read transaction: it sees the data as
/// committed when it started, never waits for the writer, and is not disturbed by the
/// writer's commits. Made by [`Store::reader`].
pub struct StoreReader {
    conn: Connection,
    path: Option<PathBuf>,
    settings: StoreSettings,
}

impl Store {
    /// A reader on its own connection to this store's database (`Send`: move it to the
    /// thread that reads). Reads on it run concurrently with this store's writes.
    pub fn reader(&self) -> Result<StoreReader> {
        Ok(StoreReader {
            conn: self.conn().try_clone()?,
            path: self.path().map(Path::to_path_buf),
            settings: self.settings,
        })
    }

    pub(crate) fn reads(&self) -> Reads<'_> {
        Reads {
            conn: self.conn(),
            suggestion_threshold: self.settings.suggestion_threshold,
        }
    }
}

impl StoreReader {
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The settings reads apply (the suggestion threshold), copied from the store.
    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// The reader's DuckDB connection, for tests that reproduce engine behaviour. Reads
    /// belong in the methods of this type, which run each read in one transaction.
    #[doc(hidden)]
    pub fn raw_connection(&self) -> &Connection {
        &self.conn
    }

    /// Run `f` in one read transaction, so that each statement is planned and executed
    /// against the same snapshot (see the crate documentation for why this matters).
    fn in_snapshot<T>(&self, f: impl FnOnce(Reads<'_>) -> Result<T>) -> Result<T> {
        // READ ONLY: a plain BEGIN counts as a write transaction, and the writer's
        // CHECKPOINT refuses to run while one is open.
        self.conn.execute_batch("BEGIN TRANSACTION READ ONLY")?;
        let out = f(Reads {
            conn: &self.conn,
            suggestion_threshold: self.settings.suggestion_threshold,
        });
        // Nothing was written: rolling back ends the transaction.
        let end = self.conn.execute_batch("ROLLBACK");
        let out = out?;
        end?;
        Ok(out)
    }
}

/// Each read method once, for both handles: on [`Store`] straight on its connection (it
/// is the only writer, so nothing commits between a statement's planning and its
/// execution), on [`StoreReader`] in one read transaction.
macro_rules! read_methods {
    ($($(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        impl Store {
            $($(#[$doc])* pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.reads().$name($($arg),*)
            })*
        }
        impl StoreReader {
            $($(#[$doc])* pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.in_snapshot(|r| r.$name($($arg),*))
            })*
        }
    };
}

read_methods! {
    /// Every profile, by image then version.
    fn profiles(&self) -> Result<Vec<ProfileSummary>>;
    /// The nodes of a profile, parents before children, with commonality.
    fn profile_nodes(&self, image: &str, version: &str) -> Result<Vec<NodeRow>>;
    /// The status of a profile, if it exists (cheap: one row).
    fn profile_status(&self, image: &str, version: &str) -> Result<Option<ProfileStatus>>;
    /// The profile as the domain model sees it (for suggestions and anomalies).
    fn profile(&self, image: &str, version: &str) -> Result<Option<Profile>>;
    /// The snapshots behind a profile (merged, kept, and of archived generations), newest
    /// first.
    fn profile_snapshots(&self, image: &str, version: &str) -> Result<Vec<SnapshotSummary>>;
    /// Full snapshots (trees read back) of one image version, oldest first.
    fn snapshots_of(&self, image: &str, version: &str) -> Result<Vec<Snapshot>>;
    /// Every stored snapshot, oldest first.
    fn all_snapshots(&self) -> Result<Vec<Snapshot>>;
    /// Latest capture counters: (events, lost, detail).
    fn latest_capture_stats(&self) -> Result<Option<(i64, i64, String)>>;
    /// Signals, newest first, filtered, each with its suggestion against the current profile.
    fn signals(&self, f: &SignalFilter) -> Result<Vec<SignalRow>>;
    /// One signal by id.
    fn signal(&self, id: i64) -> Result<SignalRow>;
    /// Signals per status, for status lines: (open, suppressed, rejected).
    fn signal_counts(&self) -> Result<(u32, u32, u32)>;
    /// Suppressions, newest first; undone ones only with `include_removed`.
    fn suppressions(&self, include_removed: bool) -> Result<Vec<SuppressionRow>>;
    /// One suppression by id (undone ones too).
    fn suppression(&self, id: i64) -> Result<SuppressionRow>;
    /// How many stored signals (and how many matches, counting duplicates) a suppression
    /// made from this signal would hide.
    fn preview_suppression(&self, signal_id: i64) -> Result<(u32, u64)>;
    /// What profile `to` holds that `from` does not, what it no longer holds, and the
    /// nodes whose commonality moved by more than `threshold` (0..1).
    fn profile_diff(&self, from_image: &str, from_version: &str, to_image: &str, to_version: &str, threshold: f64) -> Result<model::diff::ProfileDiff>;
    /// The profile's containers ranked by how rare their behaviour is in it.
    fn profile_outliers(&self, image: &str, version: &str) -> Result<model::outlier::OutlierReport>;
    /// The profile as a NetworkPolicy, rules file or Kubescape ApplicationProfile (YAML);
    /// a Learning profile is refused unless `force`.
    fn profile_export(&self, image: &str, version: &str, format: model::export::ExportFormat, force: bool) -> Result<String>;
    /// One snapshot with its own tree, each node's commonality in the profile, and what it
    /// brought to the profile first.
    fn snapshot_detail(&self, id: &str) -> Result<SnapshotDetail>;
    /// The snapshot windows of a signal's container from its first to its last match,
    /// oldest first (the first is where it happened).
    fn signal_snapshots(&self, signal_id: i64) -> Result<Vec<SnapshotSummary>>;
    /// Per node kind, the new nodes each of a profile's last `last` merged snapshots brought.
    fn learning_progress(&self, image: &str, version: &str, last: usize) -> Result<LearningProgress>;
    /// Lifecycle decisions (promote, reset), newest first: of one profile or of all.
    fn lifecycle_changes(&self, profile: Option<(&str, &str)>) -> Result<Vec<LifecycleChange>>;
    /// The newest `limit` responses (freeze, thaw), newest first.
    fn responses(&self, limit: usize) -> Result<Vec<ResponseRow>>;
}
