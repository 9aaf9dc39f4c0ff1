//! The wsprof store: one DuckDB file holding images/profiles, snapshots, one row per node
//! per snapshot, profile node commonality, signals and suppressions.
//!
//! Statements are prepared with bound parameters but not cached: with DuckDB 1.5.6, a
//! cached prepared statement re-executed after writes on the connection returned wrong
//! rows (tested in `tui/tests/engine.rs` and `store/tests/store.rs`).
//!
//! One [`Store`] owns the one connection; writes go through transactions (snapshot nodes
//! through the Appender, flushed before commit). Code in the same process that reads while
//! another thread writes shares the `Store` behind a lock instead of opening a second
//! connection: reads on a second connection during writes failed with DuckDB 1.5.6
//! ("Perfect hash aggregate ... exceeded total groups").

pub mod detect;
mod exchange;
mod ingest;
mod migration;
mod query;
mod retention;
mod signal;
mod suppression;

pub use exchange::ExchangeError;
pub use ingest::IngestOutcome;
pub use query::{NodeRow, ProfileSummary, SnapshotSummary};
pub use retention::PruneOutcome;
pub use signal::{AddOutcome, SignalFilter, SignalRow};
pub use suppression::SuppressionRow;

use duckdb::Connection;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: locked by another wsprof process (DuckDB allows one writer); stop it or use another --db")]
    Locked { path: PathBuf },
    #[error("database {path}: not a usable DuckDB file ({detail})")]
    Damaged { path: PathBuf, detail: String },
    #[error("database {path}: cannot create ({detail})")]
    Create { path: PathBuf, detail: String },
    #[error("database schema version {found} is newer than this wsprof understands ({known})")]
    TooNew { found: i64, known: i64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
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
        configure(&conn)?;
        let mut store = Store {
            conn,
            path,
            settings: StoreSettings::default(),
            index: Default::default(),
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

    /// Write everything to the file now (checkpoint the WAL).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.execute_batch("CHECKPOINT")?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Per-connection settings. Perfect-hash aggregation is planned from column statistics,
/// which a concurrent writer changed under a running read when the UI still read on a
/// second connection ("Perfect hash aggregate: aggregate group N exceeded total groups
/// M"); kept off as a guard for other processes' read-only use. Reads here are small, so
/// plain hash aggregation costs nothing noticeable.
fn configure(conn: &Connection) -> Result<()> {
    conn.execute_batch("SET perfect_ht_threshold = 0")?;
    Ok(())
}

/// Open the file; a new one is created mode 0600 (umask 077 while DuckDB creates it, so
/// there is no moment where it is readable by others).
fn open_private(path: &Path) -> Result<Connection> {
    use std::os::unix::fs::PermissionsExt;
    let create_err = |detail: String| StoreError::Create {
        path: path.to_path_buf(),
        detail,
    };
    let new = !path.exists();
    if new {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| create_err(e.to_string()))?;
        }
    }
    // SAFETY: umask only swaps the process file-mode mask; it cannot fail.
    let old = new.then(|| unsafe { libc::umask(0o077) });
    let conn = Connection::open(path);
    if let Some(old) = old {
        // SAFETY: as above, restoring the previous mask.
        unsafe { libc::umask(old) };
    }
    let conn = conn.map_err(|e| classify_open_error(path, e))?;
    if new {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| create_err(e.to_string()))?;
    }
    Ok(conn)
}

fn classify_open_error(path: &Path, e: duckdb::Error) -> StoreError {
    let msg = e.to_string();
    let lower = msg.to_lowercase();
    if lower.contains("lock") {
        StoreError::Locked {
            path: path.to_path_buf(),
        }
    } else if lower.contains("not a valid duckdb")
        || lower.contains("corrupt")
        || lower.contains("serialization")
        || lower.contains("checksum")
        || lower.contains("magic")
        || lower.contains("unable to open")
        || lower.contains("io error")
    {
        StoreError::Damaged {
            path: path.to_path_buf(),
            detail: msg.lines().next().unwrap_or("").to_string(),
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
