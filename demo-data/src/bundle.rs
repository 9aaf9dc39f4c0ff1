//! The demo bundle: snapshots and events, and its file format, gzip of
//! `{"format":"wsprof-demo-bundle","version":1,"seed":N,"snapshots":[...],"events":[...]}`
//! (snapshots as in `model::snapshot`, events as `model::Event`).

use flate2::read::GzDecoder;
use flate2::{Compression, GzBuilder};
use model::snapshot::Snapshot;
use model::Event;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;

pub const BUNDLE_FORMAT: &str = "wsprof-demo-bundle";
pub const BUNDLE_VERSION: u32 = 1;

/// The bundle compiled into the binary (regenerate with `cargo run -p demo-data --bin gen-demo`).
static EMBEDDED: &[u8] = include_bytes!("../bundle.json.gz");

/// What `load_embedded` names in its errors.
pub const EMBEDDED_NAME: &str = "<embedded demo bundle>";

/// Snapshots (sorted by `ended_ms`) and events (sorted by `ts_ms`) to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub snapshots: Vec<Snapshot>,
    pub events: Vec<Event>,
    pub generated_with_seed: u64,
}

/// One step of a replay: a snapshot (at its `ended_ms`) or an event (at its `ts_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineItem<'a> {
    Snapshot(&'a Snapshot),
    Event(&'a Event),
}

impl TimelineItem<'_> {
    /// When the item happens on the replay clock.
    pub fn ts_ms(&self) -> i64 {
        match self {
            TimelineItem::Snapshot(s) => s.ended_ms,
            TimelineItem::Event(e) => e.ts_ms,
        }
    }
}

/// Why a bundle could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read demo bundle {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("demo bundle {path} is not gzip-compressed UTF-8 JSON: {detail}")]
    Gzip { path: String, detail: String },
    #[error("demo bundle {path} is not valid JSON: {detail}")]
    Json { path: String, detail: String },
    #[error(
        "{path} is not a wsprof demo bundle (format is `{found}`, expected `{BUNDLE_FORMAT}`)"
    )]
    WrongFormat { path: String, found: String },
    #[error("demo bundle {path} has version {found}; this wsprof reads version {BUNDLE_VERSION} (regenerate it with `cargo run -p demo-data --bin gen-demo`)")]
    WrongVersion { path: String, found: u32 },
    #[error("demo bundle {path}: snapshot #{index} (`{id}`): {problem}")]
    InvalidSnapshot {
        path: String,
        index: usize,
        id: String,
        problem: String,
    },
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'a str,
    version: u32,
    seed: u64,
    snapshots: &'a [Snapshot],
    events: &'a [Event],
}

#[derive(Deserialize)]
struct FileHead {
    format: Option<String>,
    version: Option<u32>,
}

#[derive(Deserialize)]
struct FileIn {
    seed: u64,
    snapshots: Vec<Snapshot>,
    events: Vec<Event>,
}

impl Bundle {
    /// The bundle compiled into this binary: needs no files at run time.
    pub fn load_embedded() -> Result<Bundle, BundleError> {
        Bundle::from_gzip(EMBEDDED, EMBEDDED_NAME)
    }

    /// A bundle file (same format) from disk.
    pub fn load(path: &Path) -> Result<Bundle, BundleError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| BundleError::Io {
            path: name.clone(),
            source,
        })?;
        Bundle::from_gzip(&bytes, &name)
    }

    /// Parse gzip-compressed bundle bytes; `origin` names them in errors.
    pub fn from_gzip(bytes: &[u8], origin: &str) -> Result<Bundle, BundleError> {
        let mut text = String::new();
        GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .map_err(|e| BundleError::Gzip {
                path: origin.to_string(),
                detail: e.to_string(),
            })?;
        Bundle::from_json(&text, origin)
    }

    /// Parse the (uncompressed) bundle JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Bundle, BundleError> {
        let json_err = |e: serde_json::Error| BundleError::Json {
            path: origin.to_string(),
            detail: e.to_string(),
        };
        let head: FileHead = serde_json::from_str(text).map_err(json_err)?;
        let format = head.format.unwrap_or_default();
        if format != BUNDLE_FORMAT {
            return Err(BundleError::WrongFormat {
                path: origin.to_string(),
                found: format,
            });
        }
        match head.version {
            Some(BUNDLE_VERSION) => {}
            other => {
                return Err(BundleError::WrongVersion {
                    path: origin.to_string(),
                    found: other.unwrap_or(0),
                })
            }
        }
        let file: FileIn = serde_json::from_str(text).map_err(json_err)?;
        for (index, s) in file.snapshots.iter().enumerate() {
            s.validate()
                .map_err(|problem| BundleError::InvalidSnapshot {
                    path: origin.to_string(),
                    index,
                    id: s.id.clone(),
                    problem,
                })?;
        }
        let mut bundle = Bundle {
            snapshots: file.snapshots,
            events: file.events,
            generated_with_seed: file.seed,
        };
        // A hand-edited bundle may be out of order; replay needs time order.
        bundle.snapshots.sort_by_key(|s| s.ended_ms);
        bundle.events.sort_by_key(|e| e.ts_ms);
        Ok(bundle)
    }

    /// The bundle as (uncompressed) JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&FileOut {
            format: BUNDLE_FORMAT,
            version: BUNDLE_VERSION,
            seed: self.generated_with_seed,
            snapshots: &self.snapshots,
            events: &self.events,
        })
        .expect("a bundle serializes")
    }

    /// The bundle file's bytes: gzip (no file name, time 0) of [`Bundle::to_json`].
    pub fn to_gzip(&self) -> Vec<u8> {
        let mut enc = GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), Compression::best());
        enc.write_all(self.to_json().as_bytes())
            .expect("writing to memory");
        enc.finish().expect("writing to memory")
    }

    /// Snapshots (at `ended_ms`) and events merged in time order. Ties: snapshots before
    /// events (a snapshot ending at `t` holds the events before `t`), then bundle order.
    pub fn timeline(&self) -> Vec<TimelineItem<'_>> {
        let mut out = Vec::with_capacity(self.snapshots.len() + self.events.len());
        let (mut s, mut e) = (
            self.snapshots.iter().peekable(),
            self.events.iter().peekable(),
        );
        loop {
            let take_snapshot = match (s.peek(), e.peek()) {
                (Some(a), Some(b)) => a.ended_ms <= b.ts_ms,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_snapshot {
                out.extend(s.next().map(TimelineItem::Snapshot));
            } else {
                out.extend(e.next().map(TimelineItem::Event));
            }
        }
        out
    }

    /// First and last instant in the bundle (snapshot starts and ends, event times);
    /// `(0, 0)` for an empty bundle.
    pub fn span_ms(&self) -> (i64, i64) {
        let times = self
            .snapshots
            .iter()
            .flat_map(|s| [s.started_ms, s.ended_ms])
            .chain(self.events.iter().map(|e| e.ts_ms));
        times
            .fold(None, |acc: Option<(i64, i64)>, t| match acc {
                None => Some((t, t)),
                Some((lo, hi)) => Some((lo.min(t), hi.max(t))),
            })
            .unwrap_or((0, 0))
    }
}
