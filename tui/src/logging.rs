//! tracing goes to a log file, never to the terminal the UI draws on.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Default log file: `$XDG_STATE_HOME/wsprof/wsprof.log` or `~/.local/state/wsprof/wsprof.log`.
pub fn default_log_path() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("wsprof").join("wsprof.log")
}

/// Send tracing to `path` (appending). Level from `WSPROF_LOG` (default `info`).
pub fn init(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .mode(0o600)
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("log file {}: {e}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WSPROF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
    Ok(())
}
