//! `wsprof`: workload security profiles in the terminal.

use anyhow::{anyhow, Result};
use clap::Parser;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use store::{SignalFilter, Store};
use wsprof_tui::app::{App, Banner};
use wsprof_tui::cli::{
    CaptureArgs, Cli, Command, ConfigCommand, ProfileCommand, RulesCommand, SnapshotsCommand,
};
use wsprof_tui::config::{Effective, Flags, Settings};
use wsprof_tui::engine::{spawn_demo, Engine, EngineStatus, Speed};
use wsprof_tui::keymap::{user_keymap_path, Keymap};
use wsprof_tui::view::text::{parse_duration, time};
use wsprof_tui::{commands, live, logging, terminal, ui};

fn main() {
    ui::PROCESS_START.get_or_init(std::time::Instant::now);
    // Behave like other CLI tools when output is piped into `head`: exit quietly.
    // SAFETY: restoring the default SIGPIPE disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let log = cli
        .log_file
        .clone()
        .unwrap_or_else(logging::default_log_path);
    if let Err(e) = logging::init(&log) {
        eprintln!("wsprof: {e}");
        std::process::exit(2);
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
    let open = || open_store(&cli, false);
    match &cli.command {
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
        Command::Status { json } => commands::status(&open()?, *json),
        Command::Profiles { json } => commands::profiles(&open()?, *json),
        Command::Profile {
            command: ProfileCommand::Show { profile, json },
        } => commands::profile_show(&open()?, profile, *json),
        Command::Signals {
            json,
            image,
            rule,
            status,
        } => commands::signals(
            &open()?,
            *json,
            SignalFilter {
                image: image.clone(),
                rule: rule.clone(),
                status: status.clone(),
            },
        ),
        Command::Suppress {
            signal_id,
            reason,
            expires_in,
            force,
            dry_run,
        } => commands::suppress(
            &mut open()?,
            *signal_id,
            reason,
            expires_in.as_deref(),
            *force,
            *dry_run,
        ),
        Command::Unsuppress { suppression_id } => {
            commands::unsuppress(&mut open()?, *suppression_id)
        }
        Command::Suppressions { json, all } => commands::suppressions(&open()?, *json, *all),
        Command::Rules {
            command: RulesCommand::Check { file },
        } => commands::rules_check(file),
        Command::Rules {
            command: RulesCommand::List { json },
        } => commands::rules_list(&commands::load_rules(&cli.rules)?, *json),
        Command::Snapshots {
            command: SnapshotsCommand::Export { file },
        } => commands::snapshots_export(&open()?, file),
        Command::Snapshots {
            command: SnapshotsCommand::Import { file },
        } => commands::snapshots_import(&mut open_store(&cli, true)?, file),
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

/// The effective settings: defaults < config file < `--db` and the given `flags`.
fn settings(cli: &Cli, flags: &Flags) -> Result<Effective> {
    let mut eff = Settings::load(cli.config.as_deref())?;
    eff.apply_flags(&Flags {
        db: cli.db.clone(),
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
    let result = run_ui(keymap, &engine, &banner);
    stop.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    engine.shutdown();
    result
}

fn run_ui(keymap: Keymap, engine: &Engine, banner: &dyn Fn(&EngineStatus) -> Banner) -> Result<()> {
    let mut app = App::new(keymap);
    let mut guard = terminal::TerminalGuard::enter()?;
    ui::run(&mut guard.terminal, &mut app, engine, banner)
}

/// `live` (UI) and `capture` (headless; `Some(duration)`, `None` = until Ctrl-C).
fn live(
    cli: &Cli,
    args: &CaptureArgs,
    keymap: Option<&str>,
    headless: Option<Option<i64>>,
) -> Result<()> {
    let eff = settings(cli, &Flags::from_capture(args))?;
    let keymap = match headless {
        Some(_) => Keymap::builtin(),
        None => Keymap::load(keymap, user_keymap_path().as_deref())?,
    };
    let rules = commands::load_rules(&cli.rules)?;
    let db_path = eff.settings.store.path.clone();
    let mut store = Store::open(&db_path)?;
    store.settings = eff.store_settings();
    prune(&mut store, eff.settings.store.retention_days)?;
    let opts = eff.capture_options();
    let engine = Engine::start(store, rules);
    let stats = Arc::new(std::sync::Mutex::new(capture::CaptureStats::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = live::spawn_capture(opts, engine.sender(), stats.clone(), stop.clone())?;
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
            let stats = stats.clone();
            let banner = move |s: &EngineStatus| Banner {
                mode: "LIVE".into(),
                clock: time(store::now_ms()),
                progress: format!(
                    "{} | {} signals | db {}",
                    stats
                        .lock()
                        .map(|st| live::status_text(&st))
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
            st.lost,
            st.dedup_hits,
            db_path.display(),
            status.snapshots,
            status.detect.signals
        );
    }
    Ok(())
}

/// Retention at the start of a capture: drop what is older than `days` (0 = keep all).
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

/// A temporary demo directory removed at exit.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
