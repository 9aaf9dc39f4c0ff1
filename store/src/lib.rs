//! The wsprof store: one DuckDB file holding images/profiles, snapshots, one row per node
//! per snapshot, profile node commonality, signals and suppressions.
//!
//! One [`Store`] owns the writer's connection; writes go through transactions (snapshot
//! nodes through the Appender, flushed before commit). Other threads read on their own
//! connections through [`Store::reader`] ([`StoreReader`], `Send`), concurrently with the
//! writes; both handles offer the same read methods (written once, in `read.rs`).
//!
//! Why readers run each read in one transaction and statements are never cached
//! (reproduced in `tests/concurrency.rs`): DuckDB 1.5.6 plans a statement from the table
//! statistics of the moment it is prepared (perfect-hash aggregation sized to a column's
//! min/max, sort keys sized to the longest string) and reuses that plan when it executes.
//! duckdb-rs prepares and executes in two calls, each its own auto-commit transaction
//! unless one is open. A commit between the two (the writer, on another connection) gave
//! "Perfect hash aggregate: aggregate group N exceeded total groups M"; a statement kept
//! across writes (`prepare_cached`) read garbage strings, or crashed, once longer strings
//! had been committed. Inside one transaction the snapshot is older than the statistics
//! the plan was made from, as in a one-shot query, and the plan is never reused. The
//! writer's own reads need no transaction: nothing else commits. (Known: the writer's
//! explicit `CHECKPOINT` can be refused while reader transactions are open.)

mod batch;
pub mod decision;
pub mod detect;
mod drift;
mod exchange;
mod ingest;
mod investigation;
mod learning;
mod lifecycle;
mod merge;
mod migration;
mod query;
mod read;
pub mod recovery;
pub mod response;
mod retention;
mod signal;
mod snapshot;
mod snapshot_file;
mod suppression;

pub use drift::{DriftNodeRow, DriftOutcome, DRIFT_BLOCK};
pub use exchange::ExchangeError;
pub use ingest::IngestOutcome;
pub use learning::{LearningProgress, ProgressStep};
pub use lifecycle::LifecycleChange;
pub use query::{NodeRow, ProfileSummary, SnapshotSummary};
pub use read::StoreReader;
pub use recovery::{CheckReport, RecoverReport, StoreCounts};
pub use response::{ResponseAction, ResponseRow};
pub use retention::PruneOutcome;
pub use signal::{rate_limit_note, AddOutcome, MatchRow, SignalFilter, SignalRow, MATCH_PAGE};
pub use snapshot::SnapshotDetail;
pub use suppression::SuppressionRow;

use duckdb::Connection;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: locked by another process{}; DuckDB allows one writer: use that process (`wsprof --socket` when it is the agent), stop it, or use another --db", holder.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Locked {
        path: PathBuf,
        /// Who holds the lock, as DuckDB names it ("PID 1234"), when it says.
        holder: Option<String>,
    },
    #[error("database {path}: not a usable DuckDB file ({detail}); `wsprof store check --db {path}` tells more")]
    Damaged { path: PathBuf, detail: String },
    #[error("database {path}: its write-ahead log {wal} cannot be replayed (writes since the last checkpoint, left by a crash); run `wsprof store recover --db {path}` to keep a copy, set the log aside and open what the file holds")]
    WalReplay { path: PathBuf, wal: PathBuf },
    #[error("database {path}: cannot create ({detail})")]
    Create { path: PathBuf, detail: String },
    #[error("database schema version {found} is newer than this wsprof understands ({known})")]
    TooNew { found: i64, known: i64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    /// Shown as its first line; DuckDB's full message (which may carry a stack trace) goes
    /// to the log when the error is made.
    #[error("database error: {}", first_line(&.0.to_string()))]
    Db(duckdb::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

impl From<duckdb::Error> for StoreError {
    fn from(e: duckdb::Error) -> Self {
        let full = e.to_string();
        if full.contains('\n') {
            tracing::warn!(error = %full, "DuckDB error (full text)");
        }
        StoreError::Db(e)
    }
}

/// The first line of a DuckDB message, without the stack trace DuckDB appends to internal
/// errors, and at most 300 characters.
pub fn first_line(msg: &str) -> String {
    let line = msg
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = line.split(" Stack Trace").next().unwrap_or(line);
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Settings the store applies when merging and suggesting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoreSettings {
    pub lifecycle: model::LifecycleSettings,
    /// Commonality at or above which a signal gets a suppression suggestion.
    pub suggestion_threshold: f64,
    /// Identical signals within this window are counted on the first one.
    pub dedup_window_ms: i64,
    /// At most this many new signals of one rule for one container per window; more
    /// matches are counted on the newest.
    pub rate_limit: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            lifecycle: model::LifecycleSettings::default(),
            suggestion_threshold: model::signal::DEFAULT_SUGGESTION_THRESHOLD,
            dedup_window_ms: 3600 * 1000,
            rate_limit: 20,
        }
    }
}

pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    pub settings: StoreSettings,
    index: signal::SignalIndex,
    /// Writes gathered for the open batch (see `batch.rs`).
    pending: batch::Pending,
    /// A batch is open: writes wait for its end.
    batching: bool,
    /// The next value of the signal id sequence, once known.
    signal_seq: Option<i64>,
    /// Hashes of the stored snapshot ids (read at the first ingest).
    snapshot_ids: Option<std::collections::HashSet<u64>>,
    /// The batch's staging tables exist on this connection.
    staging_ready: bool,
    /// Moved by every lifecycle decision (see `lifecycle.rs`).
    lifecycle_epoch: u64,
}

impl Store {
    /// Open (or create, mode 0600) a store file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = open_private(path)?;
        Self::finish_open(conn, Some(path.to_path_buf()))
    }

    /// A store in memory (tests, `--db :memory:`).
    pub fn open_in_memory() -> Result<Store> {
        Self::finish_open(Connection::open_in_memory()?, None)
    }

    fn finish_open(conn: Connection, path: Option<PathBuf>) -> Result<Store> {
        let mut store = Store {
            conn,
            path,
            settings: StoreSettings::default(),
            index: Default::default(),
            pending: Default::default(),
            batching: false,
            signal_seq: None,
            snapshot_ids: None,
            staging_ready: false,
            lifecycle_epoch: 0,
        };
        migration::migrate(&mut store.conn).map_err(|e| match (&store.path, e) {
            (Some(p), StoreError::Db(d)) => classify_open_error(p, d),
            (Some(p), StoreError::TooNew { found, known }) => StoreError::Refused(format!(
                "database {}: schema version {found} is newer than this wsprof understands ({known}); use a newer wsprof",
                p.display()
            )),
            (_, e) => e,
        })?;
        Ok(store)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Write everything to the file now (what a batch gathered, then checkpoint the WAL).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.flush()?;
        self.conn.execute_batch("CHECKPOINT")?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Open the file. A new store is built beside it under a temporary name, its schema
/// written and checkpointed, then renamed into place: a crash can never leave a store whose
/// schema lives only in the WAL (DuckDB 1.5.6 cannot replay some schema changes, see
/// `migration.rs`). Files are created under umask 077, so the store is 0600 from its first
/// byte; its WAL, created later by DuckDB, is 0600 because the `wsprof` binary runs with
/// umask 077 (see `tui/src/main.rs`).
fn open_private(path: &Path) -> Result<Connection> {
    if !path.exists() {
        create_fresh(path)?;
    } else {
        tighten_wal_mode(path);
    }
    Connection::open(path).map_err(|e| classify_open_error(path, e))
}

/// Create a new, fully checkpointed store at `path` (atomically, by rename).
fn create_fresh(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let create_err = |detail: String| StoreError::Create {
        path: path.to_path_buf(),
        detail,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| create_err(e.to_string()))?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".new-{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(wal_path(&tmp));
    // SAFETY: umask only swaps the process file-mode mask; it cannot fail.
    let old = unsafe { libc::umask(0o077) };
    let built = (|| -> Result<()> {
        let mut conn =
            Connection::open(&tmp).map_err(|e| create_err(first_line(&e.to_string())))?;
        migration::migrate(&mut conn)?;
        conn.execute_batch("CHECKPOINT")?;
        drop(conn);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| create_err(e.to_string()))?;
        // The checkpoint emptied the log; a leftover empty WAL must not travel.
        let _ = std::fs::remove_file(wal_path(&tmp));
        // Another process may have created the store meanwhile: never replace it (a link
        // fails where a rename would overwrite).
        match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                Err(create_err(e.to_string()))
            }
            _ => Ok(()),
        }
    })();
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(wal_path(&tmp));
    built
}

/// A WAL left by an older wsprof (created under the caller's umask) is made 0600.
fn tighten_wal_mode(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let wal = wal_path(path);
    if let Ok(md) = std::fs::metadata(&wal) {
        if md.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o600));
        }
    }
}

/// The WAL file DuckDB keeps beside a store.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut w = path.as_os_str().to_owned();
    w.push(".wal");
    PathBuf::from(w)
}

pub(crate) fn classify_open_error(path: &Path, e: duckdb::Error) -> StoreError {
    let msg = e.to_string();
    tracing::warn!(path = %path.display(), error = %msg, "opening the store failed");
    let lower = msg.to_lowercase();
    // DuckDB's lock conflict: `IO Error: Could not set lock on file "X": Conflicting lock
    // is held in /usr/bin/wsprof (PID 1234) by user root.`
    if lower.contains("could not set lock on file") {
        let holder = msg
            .find("(PID ")
            .and_then(|i| msg[i + 1..].split(')').next())
            .map(str::to_string);
        return StoreError::Locked {
            path: path.to_path_buf(),
            holder,
        };
    }
    if lower.contains("replaying wal") || lower.contains("replay wal") {
        return StoreError::WalReplay {
            path: path.to_path_buf(),
            wal: wal_path(path),
        };
    }
    if lower.contains("not a valid duckdb")
        || lower.contains("corrupt")
        || lower.contains("serialization")
        || lower.contains("checksum")
        || lower.contains("magic")
        || lower.contains("unable to open")
        || lower.contains("io error")
    {
        StoreError::Damaged {
            path: path.to_path_buf(),
            detail: first_line(&msg),
        }
    } else {
        StoreError::Db(e)
    }
}

/// Current time in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duck(msg: &str) -> duckdb::Error {
        duckdb::Error::DuckDBFailure(duckdb::ffi::Error::new(1), Some(msg.into()))
    }

    #[test]
    fn only_duckdbs_lock_conflict_is_called_locked() {
        let p = Path::new("/var/lib/wsprof/w.duckdb");
        let e = classify_open_error(p, duck("IO Error: Could not set lock on file \"/var/lib/wsprof/w.duckdb\": Conflicting lock is held in /usr/bin/wsprof (PID 4242) by user root. See also https://duckdb.org/docs/stable/connect/concurrency"));
        match &e {
            StoreError::Locked { holder, .. } => assert_eq!(holder.as_deref(), Some("PID 4242")),
            other => panic!("expected Locked, got {other}"),
        }
        assert!(e.to_string().contains("PID 4242"), "{e}");
        // a message that merely mentions a lock is not a lock conflict
        for msg in [
            "Catalog Error: Table with name block_lock does not exist!",
            "Binder Error: column \"lock_owner\" not found",
        ] {
            assert!(
                !matches!(classify_open_error(p, duck(msg)), StoreError::Locked { .. }),
                "{msg}"
            );
        }
    }

    #[test]
    fn wal_replay_failure_is_one_line_naming_the_file_and_the_next_step() {
        let p = Path::new("/tmp/new.duckdb");
        let msg = "INTERNAL Error: Failure while replaying WAL file \"/tmp/new.duckdb.wal\": Calling DatabaseManager::GetDefaultDatabase with no default database set\n\nStack Trace:\n\n/usr/lib/libduckdb.so(+0x1234)\n/usr/lib/libduckdb.so(+0x5678)\n";
        let e = classify_open_error(p, duck(msg)).to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.contains("/tmp/new.duckdb") && e.contains("wsprof store recover"),
            "{e}"
        );
    }

    #[test]
    fn other_duckdb_errors_show_their_first_line_only() {
        let e = StoreError::from(duck(
            "INTERNAL Error: something broke\n\nStack Trace:\n\nframe 1\nframe 2",
        ))
        .to_string();
        assert_eq!(e, "database error: INTERNAL Error: something broke");
        assert_eq!(first_line(&"x".repeat(1000)).chars().count(), 303);
    }
}
