//! `wsprof store check` and `wsprof store recover`: what a store holds and whether it is
//! consistent, and getting a store that no longer opens back into use without losing
//! more than what could not be read.
//!
//! Recovery never deletes anything: the damaged files are copied into a recovery directory
//! beside the store first, and the WAL DuckDB could not replay is moved there (not removed),
//! so a later DuckDB may still read it.

use crate::{first_line, wal_path, Result, Store, StoreError};
use duckdb::{AccessMode, Config, Connection};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a store holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreCounts {
    pub schema_version: i64,
    pub profiles: u64,
    pub snapshots: u64,
    pub merged_snapshots: u64,
    pub signals: u64,
    pub suppressions: u64,
    /// End of the newest snapshot, unix ms.
    pub last_snapshot_ms: Option<i64>,
    /// Newest signal, unix ms.
    pub last_signal_ms: Option<i64>,
}

/// The outcome of `wsprof store check`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub path: PathBuf,
    pub size_bytes: u64,
    /// Size of the WAL beside the store, when there is one (writes not yet checkpointed).
    pub wal_bytes: Option<u64>,
    pub counts: StoreCounts,
    /// Inconsistencies found; empty when the store is sound.
    pub problems: Vec<String>,
}

/// The outcome of `wsprof store recover`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoverReport {
    pub path: PathBuf,
    /// False when the store opened as it was: nothing was touched.
    pub recovered: bool,
    /// Where the copies of the damaged files were put.
    pub backup_dir: Option<PathBuf>,
    /// Bytes of the WAL set aside: the writes since the last checkpoint, lost to the store.
    pub wal_bytes_set_aside: u64,
    /// What the store holds now.
    pub counts: StoreCounts,
}

impl Store {
    /// Counts of what the store holds.
    pub fn counts(&self) -> Result<StoreCounts> {
        counts(self.conn())
    }
}

fn counts(conn: &Connection) -> Result<StoreCounts> {
    let one = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    let opt = |sql: &str| -> Result<Option<i64>> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    Ok(StoreCounts {
        schema_version: one("SELECT coalesce(max(version), 0) FROM schema_migrations")?,
        profiles: one("SELECT count(*) FROM profiles")? as u64,
        snapshots: one("SELECT count(*) FROM snapshots")? as u64,
        merged_snapshots: one("SELECT count(*) FROM snapshots WHERE merged")? as u64,
        signals: one("SELECT count(*) FROM signals")? as u64,
        suppressions: one("SELECT count(*) FROM suppressions")? as u64,
        last_snapshot_ms: opt("SELECT max(ended_ms) FROM snapshots")?,
        last_signal_ms: opt("SELECT max(last_ts_ms) FROM signals")?,
    })
}

/// Consistency checks over a readable store; each finding is one line.
fn problems(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    // A store checked read-only may predate migration 7 (lifecycle resets): then every
    // merged snapshot is of the current generation.
    let has_resets: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'snapshots' AND column_name = 'reset_id'",
        [],
        |r| r.get(0),
    )?;
    let merged_counts = if has_resets > 0 {
        "SELECT count(*) FROM profiles p WHERE p.snapshot_count <>
           (SELECT count(*) FROM snapshots s WHERE s.profile_id = p.profile_id AND s.merged AND s.reset_id IS NULL)"
    } else {
        "SELECT count(*) FROM profiles p WHERE p.snapshot_count <>
           (SELECT count(*) FROM snapshots s WHERE s.profile_id = p.profile_id AND s.merged)"
    };
    let checks: &[(&str, &str)] = &[
        (
            "SELECT count(*) FROM snapshots s LEFT JOIN profiles p USING (profile_id) WHERE p.profile_id IS NULL",
            "snapshot(s) belong to no profile",
        ),
        (
            merged_counts,
            "profile(s) whose snapshot count differs from their merged snapshots",
        ),
        (
            "SELECT count(*) FROM profile_nodes n, profiles p
             WHERE n.profile_id = p.profile_id AND (n.snapshots < 1 OR n.snapshots > p.snapshot_count)",
            "profile node(s) seen in more snapshots than their profile merged",
        ),
        (
            "SELECT count(*) FROM signals s WHERE s.suppression_id IS NOT NULL
               AND s.suppression_id NOT IN (SELECT suppression_id FROM suppressions)",
            "signal(s) hidden by a suppression that does not exist",
        ),
        (
            "SELECT count(*) FROM signals WHERE status NOT IN ('open', 'suppressed', 'rejected')",
            "signal(s) with an unknown status",
        ),
    ];
    for (sql, what) in checks {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
        if n > 0 {
            out.push(format!("{n} {what}"));
        }
    }
    Ok(out)
}

fn file_size(p: &Path) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.len())
}

fn require_file(path: &Path) -> Result<u64> {
    file_size(path)
        .ok_or_else(|| StoreError::NotFound(format!("database {}: no such file", path.display())))
}

/// Open read-only (a WAL is replayed in memory, nothing is written) and check the store.
pub fn check(path: &Path) -> Result<CheckReport> {
    let size_bytes = require_file(path)?;
    let wal_bytes = file_size(&wal_path(path));
    let config = Config::default().access_mode(AccessMode::ReadOnly)?;
    let conn = Connection::open_with_flags(path, config)
        .map_err(|e| crate::classify_open_error(path, e))?;
    let has_schema: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if has_schema == 0 {
        return Err(StoreError::Damaged {
            path: path.to_path_buf(),
            detail: "a DuckDB file, but not a wsprof store (no schema_migrations table)".into(),
        });
    }
    let counts = counts(&conn)?;
    let mut problems = problems(&conn)?;
    if counts.schema_version > crate::migration::LATEST {
        problems.push(format!(
            "schema version {} is newer than this wsprof understands ({})",
            counts.schema_version,
            crate::migration::LATEST
        ));
    }
    Ok(CheckReport {
        path: path.to_path_buf(),
        size_bytes,
        wal_bytes,
        counts,
        problems,
    })
}

/// Get a store that does not open back into use. A store that opens is left as it is.
/// Otherwise the store and its WAL are copied into `PATH.recovery-TIMESTAMP/`, the WAL is
/// moved there (out of DuckDB's way), and the store is opened from what its main file holds.
pub fn recover(path: &Path) -> Result<RecoverReport> {
    require_file(path)?;
    match Store::open(path) {
        Ok(store) => {
            return Ok(RecoverReport {
                path: path.to_path_buf(),
                recovered: false,
                backup_dir: None,
                wal_bytes_set_aside: 0,
                counts: store.counts()?,
            })
        }
        Err(e @ StoreError::Locked { .. }) => return Err(e),
        Err(e @ StoreError::Refused(_)) => return Err(e),
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "recovering the store"),
    }
    let dir = backup_dir(path);
    let io = |what: &str, e: std::io::Error| {
        StoreError::Refused(format!(
            "database {}: recovery could not {what}: {e}",
            path.display()
        ))
    };
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io(&format!("create {}", dir.display()), e))?;
    }
    let name = path
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| "store.duckdb".into());
    std::fs::copy(path, dir.join(&name)).map_err(|e| io("copy the store", e))?;
    let wal = wal_path(path);
    let mut wal_bytes = 0;
    if let Some(n) = file_size(&wal) {
        wal_bytes = n;
        let mut kept = name.into_os_string();
        kept.push(".wal");
        let kept = dir.join(kept);
        if std::fs::rename(&wal, &kept).is_err() {
            std::fs::copy(&wal, &kept).map_err(|e| io("copy the WAL", e))?;
            std::fs::remove_file(&wal).map_err(|e| io("set the WAL aside", e))?;
        }
    }
    let mut store = Store::open(path).map_err(|e| StoreError::Damaged {
        path: path.to_path_buf(),
        detail: format!(
            "the main file does not open even without its WAL ({}); copies are in {}",
            first_line(&e.to_string()),
            dir.display()
        ),
    })?;
    // What was read from the main file is written back in full now.
    store.checkpoint()?;
    Ok(RecoverReport {
        path: path.to_path_buf(),
        recovered: true,
        backup_dir: Some(dir),
        wal_bytes_set_aside: wal_bytes,
        counts: store.counts()?,
    })
}

/// `PATH.recovery-YYYYMMDDTHHMMSS` (with a suffix if taken).
fn backup_dir(path: &Path) -> PathBuf {
    let secs = crate::now_ms() / 1000;
    let (y, mo, d, h, mi, s) = model::calendar::utc(secs);
    let stamp = format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}");
    let mut n = 0;
    loop {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".recovery-{stamp}"));
        if n > 0 {
            name.push(format!("-{n}"));
        }
        let p = PathBuf::from(name);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}
