//! Snapshot import and export: the versioned JSON file format of `model::snapshot` and
//! Parquet (one row per snapshot, tree as JSON, with a format version column). Imports are
//! validated completely before anything is written, then ingested in one transaction.

use crate::query::SnapshotRow;
use crate::snapshot_file::{SnapshotReader, Unusual};
use crate::{Result, Store, StoreError};
use model::snapshot::{from_file_json, to_file_json, Snapshot, SNAPSHOT_FORMAT_VERSION};
use model::LifecycleSettings;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Format {
        path: PathBuf,
        source: model::snapshot::SnapshotFormatError,
    },
    #[error("{path}: {detail}")]
    Parquet { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Store { path: PathBuf, source: StoreError },
}

/// DuckDB's COPY takes its file name as a literal, not a parameter: quote it as a SQL
/// string literal (doubling quotes) after refusing control characters.
fn sql_path_literal(path: &Path) -> std::result::Result<String, String> {
    let s = path
        .to_str()
        .ok_or_else(|| "path is not valid UTF-8".to_string())?;
    if s.chars().any(|c| c.is_control()) {
        return Err("path contains control characters".into());
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

fn write_atomically(path: &Path, data: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-wsprof");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

impl Store {
    /// Write every snapshot to a JSON snapshot file. Returns how many.
    pub fn export_json(&self, path: &Path) -> Result<usize, ExchangeError> {
        let snaps = self
            .all_snapshots()
            .map_err(|source| ExchangeError::Store {
                path: path.to_path_buf(),
                source,
            })?;
        write_atomically(path, &to_file_json(&snaps)).map_err(|source| ExchangeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(snaps.len())
    }

    /// Read, validate and ingest a JSON snapshot file; nothing is written on any error.
    /// Read one snapshot at a time (see `snapshot_file.rs`); a file that is not of the
    /// usual shape, and every error, is read again whole, which words the error as it
    /// always did.
    pub fn import_json(
        &mut self,
        path: &Path,
        settings: &LifecycleSettings,
    ) -> Result<usize, ExchangeError> {
        let streamed = std::fs::File::open(path)
            .map_err(Unusual::from)
            .and_then(SnapshotReader::open)
            .and_then(|r| {
                self.ingest_stream(settings, r.map(|s| s.map_err(StreamError::from)))
                    .map_err(|e: StreamError| {
                        if let StreamError::Store(e) = e {
                            tracing::info!(path = %path.display(), "import stopped ({e}); reading the file whole");
                        }
                        Unusual
                    })
            });
        match streamed {
            Ok(n) => Ok(n),
            Err(Unusual) => self.import_json_whole(path, settings),
        }
    }

    /// Read the whole file, validate every snapshot, then ingest them.
    fn import_json_whole(
        &mut self,
        path: &Path,
        settings: &LifecycleSettings,
    ) -> Result<usize, ExchangeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExchangeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let snaps = from_file_json(&text).map_err(|source| ExchangeError::Format {
            path: path.to_path_buf(),
            source,
        })?;
        drop(text);
        self.ingest_all(path, &snaps, settings)
    }

    fn ingest_all(
        &mut self,
        path: &Path,
        snaps: &[Snapshot],
        settings: &LifecycleSettings,
    ) -> Result<usize, ExchangeError> {
        self.ingest_snapshots(snaps, settings)
            .map_err(|source| ExchangeError::Store {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(snaps.len())
    }

    /// Write every snapshot to a Parquet file.
    pub fn export_parquet(&self, path: &Path) -> Result<usize, ExchangeError> {
        let err = |detail: String| ExchangeError::Parquet {
            path: path.to_path_buf(),
            detail,
        };
        let tmp = path.with_extension("tmp-wsprof");
        let tmp_lit = sql_path_literal(&tmp).map_err(err)?;
        let n = self
            .conn()
            .execute(
                &format!(
                    "COPY (SELECT {SNAPSHOT_FORMAT_VERSION}::INTEGER AS format_version, s.snapshot_id, s.container_id,
                                  p.image, p.version, s.host, s.started_ms, s.ended_ms, s.tree_json,
                                  s.tags_json, s.image_digest
                           FROM snapshots s JOIN profiles p USING (profile_id)
                           ORDER BY s.started_ms, s.snapshot_id)
                     TO {tmp_lit} (FORMAT parquet)"
                ),
                [],
            )
            .map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|source| ExchangeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(n)
    }

    /// Read, validate and ingest a Parquet snapshot file; nothing is written on any error.
    pub fn import_parquet(
        &mut self,
        path: &Path,
        settings: &LifecycleSettings,
    ) -> Result<usize, ExchangeError> {
        let err = |detail: String| ExchangeError::Parquet {
            path: path.to_path_buf(),
            detail,
        };
        if !path.is_file() {
            return Err(ExchangeError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        // Files written before tags existed lack `tags_json` and `image_digest`.
        let columns = "format_version, snapshot_id, container_id, image, version, host, started_ms, ended_ms, tree_json";
        let with_tags = self
            .conn()
            .prepare(&format!(
                "SELECT {columns}, tags_json, image_digest FROM read_parquet(?)"
            ))
            .and_then(|mut s| s.execute([path.to_string_lossy().to_string()]).map(|_| ()))
            .is_ok();
        let extra = if with_tags {
            "tags_json, image_digest"
        } else {
            "'[]' AS tags_json, '' AS image_digest"
        };
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {columns}, {extra} FROM read_parquet(?)"))
            .map_err(|e| {
                err(format!(
                    "not a wsprof snapshot Parquet file ({})",
                    first_line(&e.to_string())
                ))
            })?;
        let path_str = path.to_string_lossy().to_string();
        let rows = stmt
            .query_map([path_str], |r| {
                Ok((r.get::<_, i32>(0)?, SnapshotRow::read(r, 1)?))
            })
            .map_err(|e| {
                err(format!(
                    "not a wsprof snapshot Parquet file ({})",
                    first_line(&e.to_string())
                ))
            })?;
        let mut snaps = Vec::new();
        for (i, row) in rows.enumerate() {
            let (v, row) =
                row.map_err(|e| err(format!("row {i}: {}", first_line(&e.to_string()))))?;
            if v as u32 != SNAPSHOT_FORMAT_VERSION {
                return Err(err(format!(
                    "format version {v} is not supported (this wsprof reads version {SNAPSHOT_FORMAT_VERSION})"
                )));
            }
            let s = row
                .into_snapshot()
                .map_err(|e| err(format!("row {i} ({e})")))?;
            s.validate()
                .map_err(|p| err(format!("row {i} (`{}`): {p}", s.id)))?;
            snaps.push(s);
        }
        drop(stmt);
        self.ingest_all(path, &snaps, settings)
    }
}

/// Why a streamed import stopped.
enum StreamError {
    Store(StoreError),
    File,
}

impl From<StoreError> for StreamError {
    fn from(e: StoreError) -> Self {
        StreamError::Store(e)
    }
}

impl From<Unusual> for StreamError {
    fn from(_: Unusual) -> Self {
        StreamError::File
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
