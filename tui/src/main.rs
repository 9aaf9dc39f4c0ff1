//! `wsprof`: workload security profiles in the terminal.

use anyhow::{anyhow, Result};
use clap::Parser;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use store::{SignalFilter, Store};
use wsprof_tui::app::{App, Banner};
use wsprof_tui::cli::{
    CaptureArgs, Cli, Command, ConfigCommand, ProfileCommand, RespondCommand, RulesCommand,
    SignalCommand, SnapshotCommand, SnapshotsCommand, StoreCommand,
};
use wsprof_tui::client::{self, AgentClient, Target};
use wsprof_tui::config::{Effective, Flags, Settings};
use wsprof_tui::engine::{spawn_demo, Engine, EngineStatus, Speed};
use wsprof_tui::keymap::{user_keymap_path, Keymap};
use wsprof_tui::source::Source;
use wsprof_tui::view::text::{parse_duration, time};
use wsprof_tui::{agent, attach, commands, live, logging, respond, terminal, ui};

fn main() {
    ui::PROCESS_START.get_or_init(std::time::Instant::now);
    // Every file wsprof creates holds activity data (the store, the WAL DuckDB creates
    // later, exports, logs): owner-only from its creation, whatever the caller's umask.
    // SAFETY: umask only swaps the process file-mode mask, before any thread starts.
    unsafe {
        libc::umask(0o077);
    }
    // Behave like other CLI tools when output is piped into `head`: exit quietly.
    // SAFETY: restoring the default SIGPIPE disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // A log file asked for must open; the default one may not be writable (a user without
    // a home running the CLI against the agent): then there is no log, and no error.
    match &cli.log_file {
        Some(log) => {
            if let Err(e) = logging::init(log) {
                eprintln!("wsprof: {e}");
                std::process::exit(2);
            }
        }
        None => {
            let _ = logging::init(&logging::default_log_path());
        }
    }
    if let Err(e) = run(cli) {
        tracing::error!("{e:#}");
        eprintln!("wsprof: {}", one_line(&format!("{e:#}")));
        std::process::exit(1);
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(cli: Cli) -> Result<()> {
    let db = || -> Result<std::path::PathBuf> {
        Ok(settings(&cli, &Flags::default())?.settings.store.path)
    };
    let Some(command) = &cli.command else {
        return ui_attached(&cli, None);
    };
    match command {
        Command::Demo {
            speed,
            headless,
            bundle,
            ui,
        } => demo(
            &cli,
            *speed,
            *headless,
            bundle.as_deref(),
            ui.keymap.as_deref(),
        ),
        Command::Live { capture, ui } => live(&cli, capture, ui.keymap.as_deref(), None),
        Command::Capture { capture, duration } => {
            let d = duration
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| anyhow!("--duration: {e}"))?;
            live(&cli, capture, None, Some(d))
        }
        Command::Agent {
            capture,
            socket_group,
        } => agent(&cli, capture, socket_group.as_deref()),
        Command::Ui { ui } => ui_attached(&cli, ui.keymap.as_deref()),
        Command::Status { json } => commands::status(&mut *source(&cli)?, *json),
        Command::Profiles { json } => commands::profiles(&mut *source(&cli)?, *json),
        Command::Profile {
            command: ProfileCommand::Show { profile, json },
        } => commands::profile_show(&mut *source(&cli)?, profile, *json),
        Command::Profile {
            command:
                ProfileCommand::Progress {
                    profile,
                    last,
                    json,
                },
        } => commands::profile_progress(&mut *source(&cli)?, profile, *last, *json),
        Command::Profile {
            command: ProfileCommand::Promote { profile, reason },
        } => commands::profile_lifecycle(
            &mut *source(&cli)?,
            profile,
            model::LifecycleAction::Promote,
            reason,
        ),
        Command::Profile {
            command: ProfileCommand::Reset { profile, reason },
        } => commands::profile_lifecycle(
            &mut *source(&cli)?,
            profile,
            model::LifecycleAction::Reset,
            reason,
        ),
        Command::Profile {
            command: ProfileCommand::Undo { profile, reason },
        } => commands::profile_undo(&mut *source(&cli)?, profile, reason),
        Command::Profile {
            command: ProfileCommand::History { profile, json },
        } => commands::profile_history(&mut *source(&cli)?, profile, *json),
        Command::Snapshot {
            command: SnapshotCommand::Show { id, json },
        } => commands::snapshot_show(&mut *source(&cli)?, id, *json),
        Command::Profile {
            command:
                ProfileCommand::Diff {
                    from,
                    to,
                    threshold,
                    json,
                },
        } => {
            // Bad input is refused before any store or agent is asked.
            let from = commands::profile_spec(from)?;
            let to = commands::profile_spec(to)?;
            let threshold =
                commands::parse_share(threshold).map_err(|e| anyhow!("--threshold {e}"))?;
            commands::profile_diff(&mut *source(&cli)?, from, to, threshold, *json)
        }
        Command::Profile {
            command: ProfileCommand::Outliers { profile, json },
        } => {
            let p = commands::profile_spec(profile)?;
            commands::profile_outliers(&mut *source(&cli)?, p, *json)
        }
        Command::Profile {
            command:
                ProfileCommand::Export {
                    profile,
                    format,
                    output,
                    force,
                },
        } => {
            let p = commands::profile_spec(profile)?;
            let format =
                model::export::ExportFormat::parse(format).map_err(|e| anyhow!("--{e}"))?;
            commands::profile_export(&mut *source(&cli)?, p, format, *force, output.as_deref())
        }
        Command::Signal {
            command: SignalCommand::Show { id, json },
        } => commands::signal_show(&mut *source(&cli)?, *id, *json),
        Command::Signals {
            json,
            image,
            rule,
            status,
            tag,
            namespace,
            limit,
        } => commands::signals(
            &mut *source(&cli)?,
            *json,
            SignalFilter {
                image: image.clone(),
                rule: rule.clone(),
                status: status.clone(),
                tag: tag
                    .clone()
                    .or_else(|| namespace.as_ref().map(|ns| format!("namespace:{ns}"))),
                limit: *limit,
            },
        ),
        Command::Suppress {
            signal_id,
            reason,
            expires_in,
            force,
            dry_run,
            namespace,
            tag,
        } => commands::suppress(
            &mut *source(&cli)?,
            *signal_id,
            reason,
            expires_in.as_deref(),
            *force,
            *dry_run,
            namespace
                .as_ref()
                .map(|n| format!("namespace:{n}"))
                .or_else(|| tag.clone()),
        ),
        Command::Unsuppress { suppression_id } => {
            commands::unsuppress(&mut *source(&cli)?, *suppression_id)
        }
        Command::Suppressions { json, all } => {
            commands::suppressions(&mut *source(&cli)?, *json, *all)
        }
        Command::Respond { command } => {
            let eff = settings(&cli, &Flags::default())?;
            respond::set_runtime_sockets(eff.settings.capture.runtime_sockets.clone());
            let (req, yes, json) = match command {
                RespondCommand::Freeze {
                    signal_id,
                    yes,
                    reason,
                    json,
                } => (
                    respond::RespondRequest {
                        action: store::ResponseAction::Freeze,
                        signal_id: Some(*signal_id),
                        container: None,
                        reason: reason.clone(),
                    },
                    *yes,
                    *json,
                ),
                RespondCommand::Thaw {
                    target,
                    yes,
                    reason,
                    json,
                } => (
                    respond::RespondRequest::parse_target(
                        store::ResponseAction::Thaw,
                        target,
                        reason,
                    ),
                    *yes,
                    *json,
                ),
            };
            commands::respond(&mut *source(&cli)?, &req, yes, json)
        }
        Command::Responses { json } => commands::responses(&mut *source(&cli)?, *json),
        Command::Decisions { json, limit } => {
            let eff = settings(&cli, &Flags::default())?;
            commands::decisions(target(&cli, &eff)?, *json, *limit)
        }
        Command::Rules {
            command: RulesCommand::Check { file },
        } => commands::rules_check(file),
        Command::Rules {
            command: RulesCommand::List { json },
        } => commands::rules_list(&commands::load_rules(&cli.rules)?, *json),
        Command::Snapshots {
            command: SnapshotsCommand::Export { file },
        } => commands::snapshots_export(&open_store(&cli, false)?, file),
        Command::Snapshots {
            command: SnapshotsCommand::Import { file },
        } => commands::snapshots_import(&mut open_store(&cli, true)?, file),
        Command::Store {
            command: StoreCommand::Check { json },
        } => commands::store_check(&db()?, *json),
        Command::Store {
            command: StoreCommand::Recover { json },
        } => commands::store_recover(&db()?, *json),
        Command::Config {
            command: ConfigCommand::Show { json },
        } => {
            let eff = settings(&cli, &Flags::default())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&eff.show_json())?);
            } else {
                print!("{}", eff.show_text());
            }
            Ok(())
        }
    }
}

/// The effective settings: defaults < config file < `--db`, `--socket` and the given `flags`.
fn settings(cli: &Cli, flags: &Flags) -> Result<Effective> {
    let mut eff = Settings::load(cli.config.as_deref())?;
    eff.apply_flags(&Flags {
        db: cli.db.clone(),
        socket: client::named_socket(cli.socket.as_deref()),
        ..flags.clone()
    })?;
    Ok(eff)
}

/// The store of the settings (an existing one unless `create`), with their thresholds.
fn open_store(cli: &Cli, create: bool) -> Result<Store> {
    let eff = settings(cli, &Flags::default())?;
    let path = &eff.settings.store.path;
    let mut store = if create {
        Store::open(path)?
    } else {
        commands::open_existing(path)?
    };
    store.settings = eff.store_settings();
    Ok(store)
}

/// Delete what is older than the retention (unmerged snapshots, closed signals, old
/// capture counters); 0 days keeps everything.
fn prune(store: &mut Store, days: u32) -> Result<()> {
    if days == 0 {
        return Ok(());
    }
    let out = store.prune(store::now_ms(), days)?;
    tracing::info!(
        retention_days = days,
        snapshots = out.snapshots,
        snapshot_nodes = out.snapshot_nodes,
        signals = out.signals,
        capture_stats = out.capture_stats,
        "pruned data older than the retention"
    );
    Ok(())
}

/// Where a CLI twin reads and decides: the agent when one answers, else the store file.
fn source(cli: &Cli) -> Result<Box<dyn Source>> {
    let eff = settings(cli, &Flags::default())?;
    match target(cli, &eff)? {
        Target::Agent(sock) => Ok(Box::new(AgentClient::new(&sock))),
        Target::File(db) => match commands::open_existing(&db) {
            Ok(mut store) => {
                store.settings = eff.store_settings();
                Ok(Box::new(store))
            }
            Err(e) => {
                let locked = matches!(
                    e.downcast_ref::<store::StoreError>(),
                    Some(store::StoreError::Locked { .. })
                );
                let socket = &eff.settings.agent.socket;
                match locked
                    .then(|| client::agent_for_locked(&db, socket))
                    .flatten()
                {
                    Some(sock) => Ok(Box::new(AgentClient::new(&sock))),
                    None => Err(e),
                }
            }
        },
    }
}

/// The agent (named by `--socket`/`WSPROF_SOCKET`, or answering on the configured socket)
/// or the store file (`--db`, or the configured one).
fn target(cli: &Cli, eff: &Effective) -> Result<Target> {
    Ok(client::resolve(
        cli.socket.as_deref(),
        &eff.settings.agent.socket,
        cli.db.as_deref(),
        eff.settings.store.path.clone(),
    )?)
}

/// `wsprof` (no command) and `wsprof ui`: attached to the agent, or on the store file.
fn ui_attached(cli: &Cli, keymap: Option<&str>) -> Result<()> {
    let keymap = Keymap::load(keymap, user_keymap_path().as_deref())?;
    let eff = settings(cli, &Flags::default())?;
    respond::set_runtime_sockets(eff.settings.capture.runtime_sockets.clone());
    let mut app = App::new(keymap);
    match target(cli, &eff)? {
        Target::Agent(sock) => {
            let session = attach::AgentSession::start(&sock);
            let mut guard = terminal::TerminalGuard::enter()?;
            ui::run(&mut guard.terminal, &mut app, &session)
        }
        Target::File(db) => {
            let mut store = commands::open_existing(&db)?;
            store.settings = eff.store_settings();
            let engine = Engine::start(store, commands::load_rules(&cli.rules)?);
            let db_text = db.display().to_string();
            let banner = move |_: &EngineStatus| Banner {
                mode: "STORE".into(),
                clock: time(store::now_ms()),
                progress: format!("no agent running: browsing {db_text} (no capture)"),
            };
            let session = ui::EngineSession {
                engine: &engine,
                banner: &banner,
            };
            let mut guard = terminal::TerminalGuard::enter()?;
            ui::run(&mut guard.terminal, &mut app, &session)
        }
    }
}

/// A capture feeding an engine on the store of the settings.
struct Capturing {
    engine: Engine,
    stats: Arc<std::sync::Mutex<capture::CaptureStats>>,
    pipeline: Arc<live::Pipeline>,
    /// Set to stop capture (the feeder then stores the open snapshots and ends).
    stop: Arc<AtomicBool>,
    feeder: std::thread::JoinHandle<Result<capture::CaptureStats, String>>,
}

/// Open the store (pruned to the retention), start the engine on it and capture into it.
fn start_capturing(eff: &Effective, rules: model::rule::RuleSet) -> Result<Capturing> {
    let mut store = Store::open(&eff.settings.store.path)?;
    store.settings = eff.store_settings();
    prune(&mut store, eff.settings.store.retention_days)?;
    let engine = Engine::start(store, rules);
    let stats = Arc::new(std::sync::Mutex::new(capture::CaptureStats::default()));
    let pipeline = Arc::new(live::Pipeline::default());
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = live::spawn_capture(
        eff.capture_options(),
        engine.sender(),
        stats.clone(),
        stop.clone(),
        engine.changes(),
        pipeline.clone(),
    )?;
    Ok(Capturing {
        engine,
        stats,
        pipeline,
        stop,
        feeder,
    })
}

/// `wsprof agent`: capture + detection + ingest into the store, the API on the socket, until
/// SIGTERM/SIGINT; then the open snapshots are stored, the store checkpointed, the socket
/// removed.
fn agent(cli: &Cli, args: &CaptureArgs, socket_group: Option<&str>) -> Result<()> {
    let eff = settings(cli, &Flags::from_capture(args))?;
    let rules = commands::load_rules(&cli.rules)?;
    let db = eff.settings.store.path.clone();
    let socket = eff.settings.agent.socket.clone();
    let socket_group = socket_group.unwrap_or(&eff.settings.agent.socket_group);
    let retention_days = eff.settings.store.retention_days;
    respond::set_runtime_sockets(eff.settings.capture.runtime_sockets.clone());
    // Capture first: "not root" or a rejected program is reported before the socket exists.
    let Capturing {
        engine,
        stats,
        pipeline,
        stop,
        feeder,
    } = start_capturing(&eff, rules)?;
    let (listener, group) = match agent::bind_socket(&socket, socket_group) {
        Ok(l) => l,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            let _ = feeder.join();
            engine.shutdown();
            return Err(e);
        }
    };
    let ctx = Arc::new(agent::ApiContext {
        store: engine.store(),
        readers: engine.readers(),
        changes: engine.changes(),
        info: agent::AgentInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION"),
            started_ms: store::now_ms(),
            db: std::fs::canonicalize(&db).unwrap_or(db.clone()),
            socket: socket.clone(),
            socket_group: group.clone(),
        },
        live: {
            let (stats, pipeline) = (stats.clone(), pipeline.clone());
            Box::new(move || {
                let st = stats.lock().map(|s| s.clone()).unwrap_or_default();
                let loss = pipeline.loss(&st);
                let mut capture = serde_json::to_value(&st).unwrap_or_default();
                capture["loss"] = serde_json::to_value(loss).unwrap_or_default();
                serde_json::json!({ "capture": capture, "pipeline": loss })
            })
        },
    });
    let api_stop = Arc::new(AtomicBool::new(false));
    let server = agent::serve(listener, ctx, api_stop.clone())?;
    live::catch_interrupts();
    tracing::info!(db = %db.display(), socket = %socket.display(), group = ?group, "agent started");
    eprintln!(
        "wsprof agent: capturing into {}; API on {} ({})",
        db.display(),
        socket.display(),
        match &group {
            Some(g) => format!("mode 0660, group {g}"),
            None => format!("root only: group {socket_group} does not exist"),
        }
    );
    let mut last_prune = std::time::Instant::now();
    while !live::interrupted() && !feeder.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(200));
        // A host that runs for months keeps a bounded store.
        if last_prune.elapsed() >= std::time::Duration::from_secs(3600) {
            last_prune = std::time::Instant::now();
            if let Ok(mut s) = engine.store().lock() {
                if let Err(e) = prune(&mut s, retention_days) {
                    tracing::warn!("pruning: {e:#}");
                }
            }
        }
    }
    tracing::info!("agent stopping: storing the open snapshots");
    stop.store(true, Ordering::Relaxed);
    let captured = feeder
        .join()
        .map_err(|_| anyhow!("the capture thread panicked"))?;
    tracing::info!("capture stopped and detached");
    // The API goes first: a reader's open transaction would refuse the final checkpoint.
    api_stop.store(true, Ordering::SeqCst);
    let _ = server.join();
    let _ = std::fs::remove_file(&socket);
    let status = engine.shutdown();
    let st = captured.map_err(|e| anyhow!(e))?;
    if let Some(e) = status.error {
        return Err(anyhow!(e));
    }
    tracing::info!(
        events = st.events,
        snapshots = status.snapshots,
        "agent stopped"
    );
    Ok(())
}

fn demo(
    cli: &Cli,
    speed: Speed,
    headless: bool,
    bundle: Option<&std::path::Path>,
    keymap: Option<&str>,
) -> Result<()> {
    // Check everything the person gave us before touching the terminal.
    let keymap = if headless {
        Keymap::builtin()
    } else {
        Keymap::load(keymap, user_keymap_path().as_deref())?
    };
    let rules = commands::load_rules(&cli.rules)?;
    let bundle = Arc::new(match bundle {
        Some(p) => demo_data::Bundle::load(p)?,
        None => demo_data::Bundle::load_embedded()?,
    });
    let (db_path, _tmp) = match &cli.db {
        Some(p) => {
            if p.exists() {
                return Err(anyhow!(
                    "database {}: already exists; demo replays into a fresh store (remove it or pick another --db)",
                    p.display()
                ));
            }
            (p.clone(), None)
        }
        None => {
            let dir = std::env::temp_dir().join(format!("wsprof-demo-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            (dir.join("demo.duckdb"), Some(TempDir(dir)))
        }
    };
    let store = Store::open(&db_path)?;
    let engine = Engine::start(store, rules);
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = spawn_demo(
        bundle.clone(),
        speed,
        engine.sender(),
        engine.status_handle(),
        stop.clone(),
    );
    let speed_text = match speed {
        Speed::Max => "max".to_string(),
        Speed::Factor(f) => format!("x{f}"),
    };
    tracing::info!(db = %db_path.display(), speed = %speed_text, "demo started");
    if headless {
        let _ = feeder.join();
        let st = engine.shutdown();
        if let Some(e) = st.error {
            return Err(anyhow!(e));
        }
        println!(
            "replayed {} snapshots and {} events into {}: {} signals, {} deduplicated, {} suppressed, {} anomalies",
            st.snapshots,
            st.detect.events,
            db_path.display(),
            st.detect.signals,
            st.detect.deduplicated,
            st.detect.suppressed,
            st.detect.anomalies
        );
        return Ok(());
    }
    let db_text = db_path.display().to_string();
    let banner = move |s: &EngineStatus| Banner {
        mode: format!("DEMO {speed_text}"),
        clock: format!("sim {}", time(s.now_ms)),
        progress: format!(
            "{} {}/{} | {} snapshots | {} events | db {}",
            if s.feed_done { "replayed" } else { "replaying" },
            s.items_done,
            s.items_total,
            s.snapshots,
            s.detect.events,
            db_text
        ),
    };
    // A panic in the UI unwinds through here: stop the replay first, so that dropping the
    // engine (which waits for its writer) does not wait for the whole bundle.
    let _stop_on_unwind = StopOnDrop(stop.clone());
    let result = run_ui(keymap, &engine, &banner);
    stop.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    engine.shutdown();
    result
}

/// Sets its flag when dropped (also while a panic unwinds).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn run_ui(keymap: Keymap, engine: &Engine, banner: &dyn Fn(&EngineStatus) -> Banner) -> Result<()> {
    let mut app = App::new(keymap);
    let mut guard = terminal::TerminalGuard::enter()?;
    ui::run(
        &mut guard.terminal,
        &mut app,
        &ui::EngineSession { engine, banner },
    )
}

/// `live` (UI) and `capture` (headless; `Some(duration)`, `None` = until Ctrl-C).
fn live(
    cli: &Cli,
    args: &CaptureArgs,
    keymap: Option<&str>,
    headless: Option<Option<i64>>,
) -> Result<()> {
    let eff = settings(cli, &Flags::from_capture(args))?;
    respond::set_runtime_sockets(eff.settings.capture.runtime_sockets.clone());
    let keymap = match headless {
        Some(_) => Keymap::builtin(),
        None => Keymap::load(keymap, user_keymap_path().as_deref())?,
    };
    let rules = commands::load_rules(&cli.rules)?;
    let db_path = eff.settings.store.path.clone();
    let Capturing {
        engine,
        stats,
        pipeline,
        stop,
        feeder,
    } = start_capturing(&eff, rules)?;
    tracing::info!(db = %db_path.display(), "live capture started");
    let result = match headless {
        Some(duration) => {
            live::catch_interrupts();
            let start = std::time::Instant::now();
            eprintln!("capturing into {} (Ctrl-C to stop)", db_path.display());
            while !live::interrupted()
                && !feeder.is_finished()
                && duration.is_none_or(|d| start.elapsed().as_millis() < d as u128)
            {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Ok(())
        }
        None => {
            let db_text = db_path.display().to_string();
            let (stats, pipeline) = (stats.clone(), pipeline.clone());
            let banner = move |s: &EngineStatus| Banner {
                mode: "LIVE".into(),
                clock: time(store::now_ms()),
                progress: format!(
                    "{} | {} signals | db {}",
                    stats
                        .lock()
                        .map(|st| live::status_text(&st, &pipeline.loss(&st)))
                        .unwrap_or_default(),
                    s.detect.signals,
                    db_text
                ),
            };
            run_ui(keymap, &engine, &banner)
        }
    };
    stop.store(true, Ordering::Relaxed);
    let captured = feeder
        .join()
        .map_err(|_| anyhow!("the capture thread panicked"))?;
    let status = engine.shutdown();
    result?;
    let st = captured.map_err(|e| anyhow!(e))?;
    if let Some(e) = status.error {
        return Err(anyhow!(e));
    }
    if headless.is_some() {
        println!(
            "captured {} events ({} lost, {} deduplicated in the kernel) into {}: {} snapshots, {} signals",
            st.events,
            pipeline.loss(&st).text(),
            st.dedup_hits,
            db_path.display(),
            status.snapshots,
            status.detect.signals
        );
    }
    Ok(())
}

/// A temporary demo directory removed at exit.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
