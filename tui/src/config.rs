//! Settings: built-in defaults < the config file (`/etc/wsprof/config.toml`, `$WSPROF_CONFIG`
//! or `--config`) < command-line flags. Every effective value remembers where it came from
//! (`default`, `FILE:LINE` or `--flag`), which `wsprof config show` prints.
//!
//! The file is strict: an unknown section or key, a value of the wrong type or out of
//! range is an error of one line, `FILE:LINE:COL: message`, so that a typo never silently
//! falls back to a default.

use crate::cli::CaptureArgs;
use crate::view::text::parse_duration;
use anyhow::{anyhow, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::{Spanned, Value};

/// Read when neither `--config` nor `$WSPROF_CONFIG` names a file, if it exists.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/wsprof/config.toml";
/// Environment variable naming the config file (used when `--config` is not given).
pub const CONFIG_ENV: &str = "WSPROF_CONFIG";

const DAY_MS: i64 = 86_400_000;

/// Every setting's key (`section.key`), in the order `config show` prints them.
pub const KEYS: [&str; 11] = [
    "lifecycle.snapshots_to_stable",
    "lifecycle.duration_to_stable",
    "signals.suggestion_threshold",
    "capture.snapshot_interval",
    "capture.max_containers",
    "capture.runtime_sockets",
    "capture.host",
    "store.path",
    "store.retention_days",
    "agent.socket",
    "agent.socket_group",
];

/// The settings' values, by section (the sections of the config file).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub lifecycle: LifecycleSection,
    pub signals: SignalsSection,
    pub capture: CaptureSection,
    pub store: StoreSection,
    pub agent: AgentSection,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleSection {
    /// A profile is Stable once this many snapshots are merged ...
    pub snapshots_to_stable: u32,
    /// ... or this long after its first merged snapshot, whichever comes first.
    pub duration_to_stable_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SignalsSection {
    /// Commonality (0..=1) at or above which a signal gets a suppression suggestion.
    pub suggestion_threshold: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSection {
    pub snapshot_interval_ms: i64,
    pub max_containers: usize,
    /// Empty: docker's and podman's default sockets.
    pub runtime_sockets: Vec<PathBuf>,
    /// Also profile processes outside containers.
    pub host: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreSection {
    pub path: PathBuf,
    /// Unmerged snapshots, closed signals and capture counters older than this many days
    /// are pruned; 0 keeps everything.
    pub retention_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentSection {
    pub socket: PathBuf,
    pub socket_group: String,
}

impl Default for Settings {
    fn default() -> Self {
        let lifecycle = model::LifecycleSettings::default();
        let capture = capture::CaptureOptions::default();
        Settings {
            lifecycle: LifecycleSection {
                snapshots_to_stable: lifecycle.stable_after_snapshots,
                duration_to_stable_ms: lifecycle.stable_after_ms,
            },
            signals: SignalsSection {
                suggestion_threshold: model::signal::DEFAULT_SUGGESTION_THRESHOLD,
            },
            capture: CaptureSection {
                snapshot_interval_ms: capture.snapshot_interval.as_millis() as i64,
                max_containers: capture.max_containers,
                runtime_sockets: capture.runtime_sockets,
                host: capture.capture_host,
            },
            store: StoreSection {
                path: crate::commands::default_db_path(),
                retention_days: 30,
            },
            agent: AgentSection {
                socket: PathBuf::from(crate::client::DEFAULT_SOCKET),
                socket_group: "wsprof".into(),
            },
        }
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    /// The config file, at the line of the value.
    File {
        path: PathBuf,
        line: usize,
    },
    /// A command-line flag, e.g. `--max-containers`.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Flag(flag) => f.write_str(flag),
        }
    }
}

/// The settings in effect and where each came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub settings: Settings,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    sources: BTreeMap<&'static str, Source>,
}

/// Command-line flags that override the config file; `None`/empty/`false` = not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// `--db`
    pub db: Option<PathBuf>,
    /// `--socket`
    pub socket: Option<PathBuf>,
    /// `--snapshot-interval`
    pub snapshot_interval: Option<String>,
    /// `--max-containers`
    pub max_containers: Option<usize>,
    /// `--runtime-socket` (repeatable)
    pub runtime_sockets: Vec<PathBuf>,
    /// `--host`
    pub host: bool,
}

impl Flags {
    /// The capture flags of `wsprof capture` / `wsprof live`.
    pub fn from_capture(args: &CaptureArgs) -> Flags {
        Flags {
            snapshot_interval: args.snapshot_interval.clone(),
            max_containers: args.max_containers,
            runtime_sockets: args.runtime_sockets.clone(),
            host: args.host,
            ..Flags::default()
        }
    }
}

/// One line of `config show`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: &'static str,
    /// The value as TOML (durations as `"30m"`).
    pub value: Value,
    pub source: Source,
}

impl Settings {
    /// The effective settings: `path` (`--config`; must exist), else `$WSPROF_CONFIG`
    /// (must exist), else `/etc/wsprof/config.toml` if it exists, else the defaults.
    pub fn load(path: Option<&Path>) -> Result<Effective> {
        let env = std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let explicit = path.map(Path::to_path_buf).or(env);
        let file = match explicit {
            Some(p) => p,
            None => {
                let p = PathBuf::from(DEFAULT_CONFIG_PATH);
                if !p.exists() {
                    return Ok(Effective::defaults());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&file).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "no such file".to_string()
            } else {
                e.to_string()
            };
            anyhow!("config file {}: {why}", file.display())
        })?;
        Settings::parse(&text, &file)
    }

    /// The defaults overridden by the config file `text` (read from `origin`).
    pub fn parse(text: &str, origin: &Path) -> Result<Effective> {
        let mut eff = Effective::defaults();
        eff.file = Some(origin.to_path_buf());
        let at = |span: Option<Range<usize>>, msg: &str| {
            let (line, col) = line_col(text, span.map_or(0, |s| s.start));
            anyhow!(
                "{}:{line}:{col}: {}",
                origin.display(),
                one_line(msg).trim_end_matches('.')
            )
        };
        let doc: FileDoc =
            toml::from_str(text).map_err(|e| at(e.span(), &toml_message(e.message())))?;
        eff.apply_file(doc, text, origin)
            .map_err(|b| at(Some(b.span), &b.msg))?;
        Ok(eff)
    }
}

impl Effective {
    /// The built-in defaults, every source `default`.
    pub fn defaults() -> Effective {
        Effective {
            settings: Settings::default(),
            file: None,
            sources: BTreeMap::new(),
        }
    }

    /// Where the setting `key` (one of [`KEYS`]) came from.
    pub fn source(&self, key: &str) -> &Source {
        self.sources.get(key).unwrap_or(&Source::Default)
    }

    /// Apply the flags that were given; they win over the file and the defaults.
    pub fn apply_flags(&mut self, flags: &Flags) -> Result<()> {
        if let Some(db) = &flags.db {
            self.settings.store.path = db.clone();
            self.sources.insert("store.path", Source::Flag("--db"));
        }
        if let Some(socket) = &flags.socket {
            self.settings.agent.socket = socket.clone();
            self.sources
                .insert("agent.socket", Source::Flag("--socket"));
        }
        if let Some(text) = &flags.snapshot_interval {
            let ms = parse_duration(text)
                .and_then(positive)
                .map_err(|e| anyhow!("--snapshot-interval: {e}"))?;
            self.settings.capture.snapshot_interval_ms = ms;
            self.sources.insert(
                "capture.snapshot_interval",
                Source::Flag("--snapshot-interval"),
            );
        }
        if let Some(n) = flags.max_containers {
            if n == 0 {
                return Err(anyhow!("--max-containers: must be at least 1"));
            }
            self.settings.capture.max_containers = n;
            self.sources
                .insert("capture.max_containers", Source::Flag("--max-containers"));
        }
        if !flags.runtime_sockets.is_empty() {
            self.settings.capture.runtime_sockets = flags.runtime_sockets.clone();
            self.sources
                .insert("capture.runtime_sockets", Source::Flag("--runtime-socket"));
        }
        if flags.host {
            self.settings.capture.host = true;
            self.sources.insert("capture.host", Source::Flag("--host"));
        }
        Ok(())
    }

    /// What the store applies when merging and suggesting (dedup window and rate limit
    /// keep the store's defaults).
    pub fn store_settings(&self) -> store::StoreSettings {
        let s = &self.settings;
        store::StoreSettings {
            lifecycle: model::LifecycleSettings {
                stable_after_snapshots: s.lifecycle.snapshots_to_stable,
                stable_after_ms: s.lifecycle.duration_to_stable_ms,
            },
            suggestion_threshold: s.signals.suggestion_threshold,
            ..store::StoreSettings::default()
        }
    }

    /// How to capture (the options that are not settings keep their defaults).
    pub fn capture_options(&self) -> capture::CaptureOptions {
        let c = &self.settings.capture;
        capture::CaptureOptions {
            snapshot_interval: std::time::Duration::from_millis(c.snapshot_interval_ms as u64),
            max_containers: c.max_containers,
            runtime_sockets: c.runtime_sockets.clone(),
            capture_host: c.host,
            ..capture::CaptureOptions::default()
        }
    }

    /// Every setting with its value and source, in [`KEYS`] order.
    pub fn entries(&self) -> Vec<Entry> {
        let s = &self.settings;
        let path = |p: &Path| Value::String(p.display().to_string());
        let values: [Value; 11] = [
            Value::Integer(s.lifecycle.snapshots_to_stable.into()),
            Value::String(format_duration(s.lifecycle.duration_to_stable_ms)),
            Value::Float(s.signals.suggestion_threshold),
            Value::String(format_duration(s.capture.snapshot_interval_ms)),
            Value::Integer(s.capture.max_containers as i64),
            Value::Array(s.capture.runtime_sockets.iter().map(|p| path(p)).collect()),
            Value::Boolean(s.capture.host),
            path(&s.store.path),
            Value::Integer(s.store.retention_days.into()),
            path(&s.agent.socket),
            Value::String(s.agent.socket_group.clone()),
        ];
        KEYS.iter()
            .zip(values)
            .map(|(key, value)| Entry {
                key,
                value,
                source: self.source(key).clone(),
            })
            .collect()
    }

    /// `config show`: `key = value    (source)` lines, values in TOML syntax.
    pub fn show_text(&self) -> String {
        let mut out = match &self.file {
            Some(f) => format!("# config file: {}\n", f.display()),
            None => format!("# no config file ({DEFAULT_CONFIG_PATH} does not exist)\n"),
        };
        let lines: Vec<(String, String)> = self
            .entries()
            .into_iter()
            .map(|e| (format!("{} = {}", e.key, e.value), e.source.to_string()))
            .collect();
        let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for (line, source) in lines {
            out.push_str(&format!("{line:<width$}    ({source})\n"));
        }
        out
    }

    /// `config show --json`: `{"file": ..., "settings": {key: {"value", "source"}}}`.
    pub fn show_json(&self) -> serde_json::Value {
        let settings: serde_json::Map<String, serde_json::Value> = self
            .entries()
            .into_iter()
            .map(|e| {
                let value = serde_json::to_value(&e.value).unwrap_or(serde_json::Value::Null);
                (
                    e.key.to_string(),
                    serde_json::json!({"value": value, "source": e.source.to_string()}),
                )
            })
            .collect();
        serde_json::json!({
            "file": self.file.as_ref().map(|f| f.display().to_string()),
            "settings": settings,
        })
    }

    fn apply_file(&mut self, doc: FileDoc, text: &str, origin: &Path) -> Result<(), Bad> {
        let mut set = |key: &'static str, v: &Spanned<Value>| {
            let (line, _) = line_col(text, v.span().start);
            self.sources.insert(
                key,
                Source::File {
                    path: origin.to_path_buf(),
                    line,
                },
            );
        };
        let s = &mut self.settings;
        if let Some(l) = doc.lifecycle {
            if let Some(v) = &l.snapshots_to_stable {
                let key = "lifecycle.snapshots_to_stable";
                s.lifecycle.snapshots_to_stable = int(v, key, 1, u32::MAX.into())? as u32;
                set(key, v);
            }
            if let Some(v) = &l.duration_to_stable {
                let key = "lifecycle.duration_to_stable";
                s.lifecycle.duration_to_stable_ms = duration(v, key)?;
                set(key, v);
            }
        }
        if let Some(sig) = doc.signals {
            if let Some(v) = &sig.suggestion_threshold {
                let key = "signals.suggestion_threshold";
                s.signals.suggestion_threshold = threshold(v, key)?;
                set(key, v);
            }
        }
        if let Some(c) = doc.capture {
            if let Some(v) = &c.snapshot_interval {
                let key = "capture.snapshot_interval";
                s.capture.snapshot_interval_ms = duration(v, key)?;
                set(key, v);
            }
            if let Some(v) = &c.max_containers {
                let key = "capture.max_containers";
                s.capture.max_containers = int(v, key, 1, 4096)? as usize;
                set(key, v);
            }
            if let Some(v) = &c.runtime_sockets {
                let key = "capture.runtime_sockets";
                s.capture.runtime_sockets = path_list(v, key)?;
                set(key, v);
            }
            if let Some(v) = &c.host {
                let key = "capture.host";
                s.capture.host = boolean(v, key)?;
                set(key, v);
            }
        }
        if let Some(st) = doc.store {
            if let Some(v) = &st.path {
                let key = "store.path";
                s.store.path = PathBuf::from(string(v, key)?);
                set(key, v);
            }
            if let Some(v) = &st.retention_days {
                let key = "store.retention_days";
                s.store.retention_days = int(v, key, 0, 36_500)? as u32;
                set(key, v);
            }
        }
        if let Some(a) = doc.agent {
            if let Some(v) = &a.socket {
                let key = "agent.socket";
                s.agent.socket = PathBuf::from(string(v, key)?);
                set(key, v);
            }
            if let Some(v) = &a.socket_group {
                let key = "agent.socket_group";
                s.agent.socket_group = string(v, key)?;
                set(key, v);
            }
        }
        Ok(())
    }
}

// The file's shape. Values are read as `Spanned<Value>` and checked here, so that every
// message names the key and points at the value.

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a config file")]
struct FileDoc {
    lifecycle: Option<FileLifecycle>,
    signals: Option<FileSignals>,
    capture: Option<FileCapture>,
    store: Option<FileStore>,
    agent: Option<FileAgent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [lifecycle] table")]
struct FileLifecycle {
    snapshots_to_stable: Option<Spanned<Value>>,
    duration_to_stable: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [signals] table")]
struct FileSignals {
    suggestion_threshold: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [capture] table")]
struct FileCapture {
    snapshot_interval: Option<Spanned<Value>>,
    max_containers: Option<Spanned<Value>>,
    runtime_sockets: Option<Spanned<Value>>,
    host: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [store] table")]
struct FileStore {
    path: Option<Spanned<Value>>,
    retention_days: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [agent] table")]
struct FileAgent {
    socket: Option<Spanned<Value>>,
    socket_group: Option<Spanned<Value>>,
}

/// A bad value: where it is and what is wrong.
struct Bad {
    span: Range<usize>,
    msg: String,
}

fn bad(v: &Spanned<Value>, key: &str, msg: impl fmt::Display) -> Bad {
    Bad {
        span: v.span(),
        msg: format!("{key}: {msg}"),
    }
}

fn wrong_type(v: &Spanned<Value>, key: &str, expected: &str) -> Bad {
    let found = match v.get_ref() {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    };
    bad(v, key, format!("expected {expected}, found {found}"))
}

fn int(v: &Spanned<Value>, key: &str, min: i64, max: i64) -> Result<i64, Bad> {
    let Value::Integer(n) = *v.get_ref() else {
        return Err(wrong_type(v, key, "an integer"));
    };
    if n < min {
        return Err(bad(v, key, format!("must be at least {min} (got {n})")));
    }
    if n > max {
        return Err(bad(v, key, format!("must be at most {max} (got {n})")));
    }
    Ok(n)
}

fn duration(v: &Spanned<Value>, key: &str) -> Result<i64, Bad> {
    let Value::String(s) = v.get_ref() else {
        return Err(wrong_type(
            v,
            key,
            "a duration string like \"30m\", \"48h\" or \"7d\"",
        ));
    };
    parse_duration(s)
        .and_then(positive)
        .map_err(|e| bad(v, key, e))
}

fn positive(ms: i64) -> Result<i64, String> {
    if ms > 0 {
        Ok(ms)
    } else {
        Err("must be longer than zero".into())
    }
}

/// A fraction `0.5` (or `0`/`1`) or a percentage `"50%"`.
fn threshold(v: &Spanned<Value>, key: &str) -> Result<f64, Bad> {
    let x = match v.get_ref() {
        Value::Float(f) => *f,
        Value::Integer(n) => *n as f64,
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .map(|p| p / 100.0)
            .ok_or_else(|| {
                bad(
                    v,
                    key,
                    format!("`{s}` is not a fraction (0.5) or a percentage (\"50%\")"),
                )
            })?,
        _ => {
            return Err(wrong_type(
                v,
                key,
                "a fraction like 0.5 or a percentage like \"50%\"",
            ))
        }
    };
    if !(0.0..=1.0).contains(&x) {
        return Err(bad(
            v,
            key,
            "must be between 0 and 1 (or 0% and 100%)".to_string(),
        ));
    }
    Ok(x)
}

fn boolean(v: &Spanned<Value>, key: &str) -> Result<bool, Bad> {
    match v.get_ref() {
        Value::Boolean(b) => Ok(*b),
        _ => Err(wrong_type(v, key, "true or false")),
    }
}

fn string(v: &Spanned<Value>, key: &str) -> Result<String, Bad> {
    match v.get_ref() {
        Value::String(s) if s.trim().is_empty() => Err(bad(v, key, "must not be empty")),
        Value::String(s) => Ok(s.clone()),
        _ => Err(wrong_type(v, key, "a string")),
    }
}

fn path_list(v: &Spanned<Value>, key: &str) -> Result<Vec<PathBuf>, Bad> {
    let Value::Array(items) = v.get_ref() else {
        return Err(wrong_type(v, key, "an array of paths"));
    };
    items
        .iter()
        .map(|i| match i {
            Value::String(s) if !s.trim().is_empty() => Ok(PathBuf::from(s)),
            _ => Err(bad(v, key, "expected an array of non-empty path strings")),
        })
        .collect()
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// serde's words in the file's terms: a field is a key, a top-level one a section.
fn toml_message(msg: &str) -> String {
    if !msg.starts_with("unknown field") {
        return msg.to_string();
    }
    let what = if msg.contains("`lifecycle`, `signals`") {
        "unknown section"
    } else {
        "unknown key"
    };
    msg.replacen("unknown field", what, 1)
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// ms as the largest whole unit, hours up to 72: `48h`, `7d`, `30m`, `90s`.
pub fn format_duration(ms: i64) -> String {
    for (unit, size) in [("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
        if ms != 0 && ms % size == 0 && !(unit == "d" && ms <= 3 * DAY_MS) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Effective> {
        Settings::parse(text, Path::new("/etc/wsprof/config.toml"))
    }

    fn err(text: &str) -> String {
        let e = parse(text).expect_err("must be refused").to_string();
        assert_eq!(e.lines().count(), 1, "one line: {e:?}");
        e
    }

    /// The config file the Debian package installs parses as it is (all defaults) and with
    /// every line uncommented (the values it documents are the defaults).
    #[test]
    fn the_packaged_config_parses_commented_and_uncommented() {
        let text = include_str!("../../packaging/config.toml");
        let as_shipped = Settings::parse(text, Path::new("config.toml")).unwrap();
        let defaults = Effective::defaults();
        assert_eq!(
            as_shipped.show_json()["settings"],
            defaults.show_json()["settings"]
        );
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let all = Settings::parse(&uncommented, Path::new("config.toml")).unwrap();
        for e in all.entries() {
            assert!(
                e.source.to_string().starts_with("config.toml:"),
                "{} not documented in the packaged config",
                e.key
            );
        }
    }

    #[test]
    fn defaults_and_their_sources() {
        let e = Effective::defaults();
        let s = &e.settings;
        assert_eq!(s.lifecycle.snapshots_to_stable, 200);
        assert_eq!(s.lifecycle.duration_to_stable_ms, 48 * 3_600_000);
        assert_eq!(s.signals.suggestion_threshold, 0.5);
        assert_eq!(s.capture.snapshot_interval_ms, 30 * 60_000);
        assert_eq!(s.capture.max_containers, 5);
        assert!(s.capture.runtime_sockets.is_empty() && !s.capture.host);
        assert_eq!(s.store.retention_days, 30);
        assert_eq!(s.agent.socket, Path::new("/run/wsprof/wsprof.sock"));
        assert_eq!(s.agent.socket_group, "wsprof");
        assert!(KEYS.iter().all(|k| *e.source(k) == Source::Default));
        assert_eq!(e.store_settings(), store::StoreSettings::default());
        // An empty file is the defaults too.
        assert_eq!(parse("").unwrap().settings, Settings::default());
    }

    #[test]
    fn a_file_overrides_some_keys_and_records_where() {
        let e = parse(
            "# wsprof\n[lifecycle]\nsnapshots_to_stable = 50\nduration_to_stable = \"12h\"\n\n\
             [signals]\nsuggestion_threshold = \"75%\"\n[capture]\nruntime_sockets = [\"/run/podman/podman.sock\"]\nhost = true\n\
             [store]\nretention_days = 0\n[agent]\nsocket_group = \"adm\"\n",
        )
        .unwrap();
        let s = &e.settings;
        assert_eq!(s.lifecycle.snapshots_to_stable, 50);
        assert_eq!(s.lifecycle.duration_to_stable_ms, 12 * 3_600_000);
        assert_eq!(s.signals.suggestion_threshold, 0.75);
        assert_eq!(
            s.capture.runtime_sockets,
            vec![PathBuf::from("/run/podman/podman.sock")]
        );
        assert!(s.capture.host);
        assert_eq!(s.store.retention_days, 0);
        assert_eq!(s.agent.socket_group, "adm");
        // untouched keys keep their defaults
        assert_eq!(s.capture.max_containers, 5);
        assert_eq!(*e.source("capture.max_containers"), Source::Default);
        let src = |k| e.source(k).to_string();
        assert_eq!(
            src("lifecycle.snapshots_to_stable"),
            "/etc/wsprof/config.toml:3"
        );
        assert_eq!(
            src("lifecycle.duration_to_stable"),
            "/etc/wsprof/config.toml:4"
        );
        assert_eq!(
            src("signals.suggestion_threshold"),
            "/etc/wsprof/config.toml:7"
        );
        assert_eq!(src("agent.socket_group"), "/etc/wsprof/config.toml:14");
        assert_eq!(src("agent.socket"), "default");

        let st = e.store_settings();
        assert_eq!(st.lifecycle.stable_after_snapshots, 50);
        assert_eq!(st.lifecycle.stable_after_ms, 12 * 3_600_000);
        assert_eq!(st.suggestion_threshold, 0.75);
        let c = e.capture_options();
        assert!(c.capture_host && c.max_containers == 5);
        assert_eq!(c.snapshot_interval, std::time::Duration::from_secs(1800));

        let text = e.show_text();
        assert!(
            text.starts_with("# config file: /etc/wsprof/config.toml\n"),
            "{text}"
        );
        let line = |k: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{k} = ")))
                .unwrap()
                .to_string()
        };
        assert!(
            line("lifecycle.snapshots_to_stable").ends_with("(/etc/wsprof/config.toml:3)"),
            "{text}"
        );
        assert!(
            line("lifecycle.duration_to_stable").contains("= \"12h\""),
            "{text}"
        );
        assert!(
            line("capture.max_containers").ends_with("(default)"),
            "{text}"
        );
        let j = e.show_json();
        assert_eq!(j["settings"]["signals.suggestion_threshold"]["value"], 0.75);
        assert_eq!(
            j["settings"]["capture.host"]["source"],
            "/etc/wsprof/config.toml:10"
        );
        assert_eq!(j["settings"].as_object().unwrap().len(), KEYS.len());
    }

    #[test]
    fn flags_override_the_file() {
        let mut e = parse("[capture]\nmax_containers = 8\nsnapshot_interval = \"10m\"\n").unwrap();
        // only flags really given override
        e.apply_flags(&Flags::default()).unwrap();
        assert_eq!(e.settings.capture.max_containers, 8);
        e.apply_flags(&Flags {
            max_containers: Some(2),
            db: Some("/tmp/x.duckdb".into()),
            host: true,
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(e.settings.capture.max_containers, 2);
        assert_eq!(
            e.source("capture.max_containers").to_string(),
            "--max-containers"
        );
        assert_eq!(e.settings.store.path, Path::new("/tmp/x.duckdb"));
        assert_eq!(e.source("store.path").to_string(), "--db");
        assert_eq!(e.source("capture.host").to_string(), "--host");
        assert_eq!(e.settings.capture.snapshot_interval_ms, 10 * 60_000);
        assert_eq!(
            e.source("capture.snapshot_interval").to_string(),
            "/etc/wsprof/config.toml:3"
        );
        let bad = |f: Flags| e.clone().apply_flags(&f).unwrap_err().to_string();
        assert_eq!(
            bad(Flags {
                max_containers: Some(0),
                ..Flags::default()
            }),
            "--max-containers: must be at least 1"
        );
        assert_eq!(
            bad(Flags {
                snapshot_interval: Some("5x".into()),
                ..Flags::default()
            }),
            "--snapshot-interval: `5x` is not a duration (e.g. 30m, 12h, 7d)"
        );
    }

    #[test]
    fn bad_files_give_one_line_with_file_line_col() {
        assert_eq!(
            err("[lifecycle]\nsnapshot_to_stable = 100\n"),
            "/etc/wsprof/config.toml:2:1: unknown key `snapshot_to_stable`, expected `snapshots_to_stable` or `duration_to_stable`"
        );
        assert_eq!(
            err("[capture]\nhost = true\n\n[lifecycel]\n"),
            "/etc/wsprof/config.toml:4:2: unknown section `lifecycel`, expected one of `lifecycle`, `signals`, `capture`, `store`, `agent`"
        );
        assert_eq!(
            err("[capture]\nmax_containers = \"five\"\n"),
            "/etc/wsprof/config.toml:2:18: capture.max_containers: expected an integer, found a string"
        );
        assert_eq!(
            err("[lifecycle]\n  duration_to_stable = \"2 days\"\n"),
            "/etc/wsprof/config.toml:2:24: lifecycle.duration_to_stable: `2 days` is not a duration (e.g. 30m, 12h, 7d)"
        );
        assert_eq!(
            err("[capture]\nsnapshot_interval = \"0m\"\n"),
            "/etc/wsprof/config.toml:2:21: capture.snapshot_interval: must be longer than zero"
        );
        assert_eq!(
            err("[signals]\nsuggestion_threshold = 1.5\n"),
            "/etc/wsprof/config.toml:2:24: signals.suggestion_threshold: must be between 0 and 1 (or 0% and 100%)"
        );
        assert_eq!(
            err("[signals]\nsuggestion_threshold = \"150%\"\n"),
            "/etc/wsprof/config.toml:2:24: signals.suggestion_threshold: must be between 0 and 1 (or 0% and 100%)"
        );
        assert_eq!(
            err("[capture]\nmax_containers = 0\n"),
            "/etc/wsprof/config.toml:2:18: capture.max_containers: must be at least 1 (got 0)"
        );
        assert_eq!(
            err("[capture]\nmax_containers = 5\nhost = tru\n"),
            "/etc/wsprof/config.toml:3:8: invalid string; expected `\"`, `'`"
        );
        assert_eq!(
            err("lifecycle = 3\n"),
            "/etc/wsprof/config.toml:1:13: invalid type: integer `3`, expected a [lifecycle] table"
        );
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let e = Settings::load(Some(Path::new("/nonexistent/wsprof.toml")))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "config file /nonexistent/wsprof.toml: no such file");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é = 1\nx", 3), (1, 3));
        assert_eq!(format_duration(48 * 3_600_000), "48h");
        assert_eq!(format_duration(7 * DAY_MS), "7d");
        assert_eq!(format_duration(30 * 60_000), "30m");
        assert_eq!(format_duration(90_000), "90s");
    }
}
