//! The UI attached to an agent: reads and decisions go through the API; a background thread
//! follows `GET /v1/events` and moves per-kind change counters, so the UI reloads only what
//! changed. When the agent goes away the status line says so and the thread reconnects,
//! resuming from the last change it saw (or reloading everything when that is too old).

use crate::app::Banner;
use crate::changes::{Change, ChangeKind, Counters};
use crate::client::AgentClient;
use crate::source::Source;
use crate::ui::Session;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct Shared {
    counters: Counters,
    /// The latest capture counters the agent streamed.
    capture: Option<serde_json::Value>,
    connected: bool,
    error: Option<String>,
}

pub struct AgentSession {
    client: AgentClient,
    shared: Arc<Mutex<Shared>>,
}

impl AgentSession {
    /// Attach to the agent on `socket` and start following its changes.
    pub fn start(socket: &Path) -> AgentSession {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (sock, sh) = (socket.to_path_buf(), shared.clone());
        let _ = std::thread::Builder::new()
            .name("wsprof-attach".into())
            .spawn(move || follow(&sock, &sh));
        AgentSession {
            client: AgentClient::new(socket),
            shared,
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Apply one streamed line to the counters; returns the sequence it carried.
fn apply_line(line: &str, shared: &Mutex<Shared>) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
    match v["kind"].as_str()? {
        "hello" | "heartbeat" => {}
        "expired" => g.counters = g.counters.all_moved(),
        _ => {
            let c: Change = serde_json::from_value(v.clone()).ok()?;
            g.counters.bump(c.kind);
            if c.kind == ChangeKind::Capture {
                g.capture = Some(c.detail);
            }
        }
    }
    v["seq"].as_u64()
}

fn follow(socket: &Path, shared: &Mutex<Shared>) {
    let mut since: Option<u64> = None;
    loop {
        let target = match since {
            Some(n) => format!("/v1/events?since={n}"),
            None => "/v1/events".to_string(),
        };
        match crate::http::stream(socket, &target) {
            Ok(mut lines) => {
                {
                    let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
                    if !g.connected && since.is_some() {
                        // back after a gap: read everything again
                        g.counters = g.counters.all_moved();
                    }
                    g.connected = true;
                    g.error = None;
                }
                while let Ok(Some(line)) = lines.next_line() {
                    if let Some(seq) = apply_line(&line, shared) {
                        since = Some(seq);
                    }
                }
            }
            Err(e) => {
                let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
                g.error = Some(e.to_string());
            }
        }
        {
            let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
            g.connected = false;
            if g.error.is_none() {
                g.error = Some(format!("agent on {} went away", socket.display()));
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

impl Session for AgentSession {
    fn counters(&self) -> Counters {
        self.shared().counters
    }

    fn with_source(&self, f: &mut dyn FnMut(&mut dyn Source)) -> anyhow::Result<()> {
        let mut c = self.client.clone();
        f(&mut c);
        Ok(())
    }

    fn banner(&self) -> (Banner, i64, Option<String>) {
        let g = self.shared();
        let progress = match &g.capture {
            Some(c) => format!(
                "{:.0} events/s | {} events | lost {} | {} snapshots | profiling {} container(s) | agent {}",
                c["events_per_sec"].as_f64().unwrap_or(0.0),
                c["events"].as_u64().unwrap_or(0),
                c["lost"]["total"].as_u64().unwrap_or(0),
                c["snapshots"].as_u64().unwrap_or(0),
                c["profiled"].as_u64().unwrap_or(0),
                self.client.socket().display()
            ),
            None => format!("agent {}", self.client.socket().display()),
        };
        (
            Banner {
                mode: "AGENT".into(),
                clock: crate::view::text::time(store::now_ms()),
                progress,
            },
            0,
            if g.connected { None } else { g.error.clone() },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_lines_move_the_counters_of_their_kind() {
        let shared = Mutex::new(Shared::default());
        assert_eq!(apply_line(r#"{"kind":"hello","seq":4}"#, &shared), Some(4));
        apply_line(
            r#"{"seq":5,"ts_ms":1,"kind":"signals","detail":{"signals":[3]}}"#,
            &shared,
        );
        apply_line(
            r#"{"seq":6,"ts_ms":1,"kind":"capture","detail":{"events":10}}"#,
            &shared,
        );
        let g = shared.lock().unwrap();
        assert_eq!(g.counters.signals, 1);
        assert_eq!(g.counters.profiles, 0);
        assert_eq!(g.capture.as_ref().unwrap()["events"], 10);
        drop(g);
        apply_line(r#"{"kind":"expired","oldest":100,"seq":200}"#, &shared);
        let g = shared.lock().unwrap();
        assert_eq!(g.counters.profiles, 1, "expired: everything is read again");
    }
}
