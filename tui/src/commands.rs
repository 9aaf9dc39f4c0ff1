//! The non-interactive twins of the screens, for scripts and tests, and the demo runner.

use crate::view::text::{opt_time, parse_duration, percent, time};
use anyhow::{anyhow, bail, Context, Result};
use model::rule::{RuleFormat, RuleSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use store::{SignalFilter, Store};

/// `$XDG_DATA_HOME/wsprof/wsprof.duckdb` or `~/.local/share/wsprof/wsprof.duckdb`.
pub fn default_db_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("wsprof").join("wsprof.duckdb")
}

/// Open an existing store for the CLI twins (they never create one by accident).
pub fn open_existing(db: &Path) -> Result<Store> {
    if !db.exists() {
        bail!("database {}: no such file (run `wsprof demo --db {}` or `wsprof capture --db {}` first)", db.display(), db.display(), db.display());
    }
    Ok(Store::open(db)?)
}

/// The default rules plus the user's rules files, in order.
pub fn load_rules(files: &[PathBuf]) -> Result<RuleSet> {
    let mut rules = RuleSet::defaults();
    for f in files {
        let file = read_rules_file(f, &rules)?;
        rules.merge(file).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(rules)
}

/// Parse one rules file (TOML or YAML by extension); it may use `base`'s macros.
fn read_rules_file(f: &Path, base: &RuleSet) -> Result<RuleSet> {
    let origin = f.display().to_string();
    let format = RuleFormat::from_path(&origin)
        .ok_or_else(|| anyhow!("{origin}: rules files end in .toml, .yaml or .yml"))?;
    let text = std::fs::read_to_string(f).with_context(|| format!("{origin}: cannot read"))?;
    RuleSet::parse_with_macros(&text, format, &origin, base.macros()).map_err(|e| anyhow!("{e}"))
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

pub fn profiles(store: &Store, json: bool) -> Result<()> {
    let ps = store.profiles()?;
    if json {
        return print_json(&ps);
    }
    println!(
        "{:<24} {:<10} {:>9} {:<8} {:>11} {:>10} {:>7}  LAST UPDATED",
        "IMAGE", "VERSION", "SNAPSHOTS", "STATUS", "COMMONALITY", "CONTAINERS", "SIGNALS"
    );
    let mut prev = String::new();
    for p in ps {
        let name = if p.image == prev {
            String::new()
        } else {
            p.image.clone()
        };
        prev = p.image.clone();
        println!(
            "{:<24} {:<10} {:>9} {:<8} {:>11} {:>10} {:>7}  {}",
            name,
            p.version,
            p.snapshots,
            p.status,
            percent(p.commonality),
            p.containers,
            p.open_signals,
            opt_time(p.last_updated_ms)
        );
    }
    Ok(())
}

pub fn profile_show(store: &Store, spec: &str, json: bool) -> Result<()> {
    let (image, version) = spec
        .rsplit_once(':')
        .filter(|(i, v)| !i.is_empty() && !v.is_empty())
        .ok_or_else(|| anyhow!("`{spec}` is not IMAGE:VERSION"))?;
    let summary = store
        .profiles()?
        .into_iter()
        .find(|p| p.image == image && p.version == version)
        .ok_or_else(|| anyhow!("no profile {image}:{version} (see `wsprof profiles`)"))?;
    let nodes = store.profile_nodes(image, version)?;
    let snapshots = store.profile_snapshots(image, version)?;
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            profile: &'a store::ProfileSummary,
            nodes: &'a [store::NodeRow],
            snapshots: &'a [store::SnapshotSummary],
        }
        return print_json(&Out {
            profile: &summary,
            nodes: &nodes,
            snapshots: &snapshots,
        });
    }
    println!(
        "{}:{}  {}  commonality {}  {} snapshots from {} containers, {} nodes",
        image,
        version,
        summary.status.to_uppercase(),
        percent(summary.commonality).trim(),
        summary.snapshots,
        summary.containers,
        summary.nodes
    );
    // depth-first by key order: parents sort before their children
    for n in &nodes {
        let indent = "  ".repeat(n.depth as usize);
        let what = match n.kind.as_str() {
            "process" => String::new(),
            k => format!("[{k}] "),
        };
        let access = if n.access.is_empty() {
            String::new()
        } else {
            format!(" ({})", n.access.join(","))
        };
        println!(
            "{} {indent}{what}{}{access}  {}/{}",
            percent(n.commonality),
            n.label,
            n.snapshots,
            summary.snapshots
        );
    }
    Ok(())
}

pub fn signals(store: &Store, json: bool, filter: SignalFilter) -> Result<()> {
    if let Some(s) = &filter.status {
        if model::signal::SignalStatus::parse(s).is_none() {
            bail!("--status `{s}`: expected open, suppressed or rejected");
        }
    }
    let rows = store.signals(&filter)?;
    if json {
        return print_json(&rows);
    }
    println!(
        "{:>5} {:<16} {:<8} {:<10} {:<32} {:<24} {:<14} SUGGESTION",
        "ID", "TIME", "SEVERITY", "STATUS", "RULE", "IMAGE", "PROCESS"
    );
    for s in rows {
        println!(
            "{:>5} {:<16} {:<8} {:<10} {:<32} {:<24} {:<14} {}",
            s.id,
            time(s.ts_ms),
            s.severity,
            s.status,
            s.rule_id,
            format!("{}:{}", s.image, s.version),
            model::event::base_name(&s.process.exec_path),
            s.suggestion.as_ref().map(|g| g.text()).unwrap_or_default()
        );
    }
    Ok(())
}

pub fn suppress(
    store: &mut Store,
    signal_id: i64,
    reason: &str,
    expires_in: Option<&str>,
    force: bool,
    dry_run: bool,
) -> Result<()> {
    let s = store.signal(signal_id)?;
    let (n, m) = store.preview_suppression(signal_id)?;
    if dry_run {
        println!(
            "would hide {n} stored signal(s) ({m} match(es)) of rule {} for {}",
            s.rule_id, s.image
        );
        return Ok(());
    }
    if s.suggestion.is_none() && !force {
        bail!(
            "signal {signal_id} has no suggestion: its behaviour is not common in {}:{} (use --force to suppress anyway)",
            s.image,
            s.version
        );
    }
    let expires_ms = expires_in
        .map(|d| parse_duration(d).map(|ms| store::now_ms() + ms))
        .transpose()
        .map_err(|e| anyhow!("--expires-in: {e}"))?;
    let reason = if reason.is_empty() {
        s.suggestion
            .as_ref()
            .map(|g| g.text())
            .unwrap_or_else(|| "forced".into())
    } else {
        reason.to_string()
    };
    let sup = store.suppress(
        signal_id,
        &crate::ui::current_user(),
        &reason,
        expires_ms,
        store::now_ms(),
    )?;
    println!("suppression {} added: {}", sup.id, sup.expression);
    println!("hid {} signal(s)", sup.hidden);
    Ok(())
}

pub fn unsuppress(store: &mut Store, id: i64) -> Result<()> {
    let s = store.unsuppress(id, store::now_ms())?;
    println!(
        "suppression {} undone; signals of rule {} for {} are open again",
        s.id, s.rule_id, s.image
    );
    Ok(())
}

pub fn suppressions(store: &Store, json: bool, all: bool) -> Result<()> {
    let rows = store.suppressions(all)?;
    if json {
        return print_json(&rows);
    }
    println!(
        "{:>4} {:<8} {:<32} {:<20} {:>7} {:<16} {:<12} EXPRESSION",
        "ID", "STATE", "RULE", "IMAGE", "HIDDEN", "CREATED", "BY"
    );
    for s in rows {
        let state = if s.removed_ms.is_some() {
            "undone"
        } else if s.active {
            "active"
        } else {
            "expired"
        };
        println!(
            "{:>4} {:<8} {:<32} {:<20} {:>7} {:<16} {:<12} {}",
            s.id,
            state,
            s.rule_id,
            s.image,
            s.hidden,
            time(s.created_ms),
            s.created_by,
            s.expression
        );
    }
    Ok(())
}

pub fn rules_check(file: &Path) -> Result<()> {
    let mut rules = RuleSet::defaults();
    let checked = read_rules_file(file, &rules)?;
    let n = checked.len();
    rules.merge(checked).map_err(|e| anyhow!("{e}"))?;
    println!(
        "{}: ok, {n} rule(s); {} enabled together with the defaults",
        file.display(),
        rules.rules().iter().filter(|r| r.enabled).count()
    );
    Ok(())
}

pub fn rules_list(rules: &RuleSet, json: bool) -> Result<()> {
    if json {
        let v: Vec<serde_json::Value> = rules
            .rules()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "description": r.description, "expression": r.expression.source(),
                    "severity": r.severity.as_str(), "mitre": r.mitre, "tags": r.tags, "enabled": r.enabled,
                })
            })
            .collect();
        return print_json(&v);
    }
    for r in rules.rules() {
        println!(
            "{:<40} {:<8} {:<10} {}{}",
            r.id,
            r.severity.as_str(),
            r.mitre.as_deref().unwrap_or("-"),
            r.description,
            if r.enabled { "" } else { " (disabled)" }
        );
    }
    Ok(())
}

pub fn snapshots_export(store: &Store, file: &Path) -> Result<()> {
    let n = if is_parquet(file) {
        store.export_parquet(file)?
    } else {
        store.export_json(file)?
    };
    println!("exported {n} snapshot(s) to {}", file.display());
    Ok(())
}

pub fn snapshots_import(store: &mut Store, file: &Path) -> Result<()> {
    let settings = store.settings.lifecycle;
    let n = if is_parquet(file) {
        store.import_parquet(file, &settings)?
    } else {
        store.import_json(file, &settings)?
    };
    println!("imported {n} snapshot(s) from {}", file.display());
    Ok(())
}

fn is_parquet(f: &Path) -> bool {
    f.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

pub fn status(store: &Store, json: bool) -> Result<()> {
    let profiles = store.profiles()?;
    let (open, suppressed, rejected) = store.signal_counts()?;
    let capture = store.latest_capture_stats()?;
    let detail: Option<serde_json::Value> = capture
        .as_ref()
        .and_then(|(_, _, d)| serde_json::from_str(d).ok());
    if json {
        return print_json(&serde_json::json!({
            "profiles": profiles.len(),
            "stable": profiles.iter().filter(|p| p.status == "stable").count(),
            "snapshots": profiles.iter().map(|p| p.snapshots + p.unmerged_snapshots).sum::<u32>(),
            "signals": {"open": open, "suppressed": suppressed, "rejected": rejected},
            "suppressions": store.suppressions(false)?.len(),
            "capture": detail,
        }));
    }
    println!(
        "{} profiles ({} stable), {} snapshots; signals: {open} open, {suppressed} suppressed, {rejected} rejected",
        profiles.len(),
        profiles.iter().filter(|p| p.status == "stable").count(),
        profiles.iter().map(|p| p.snapshots + p.unmerged_snapshots).sum::<u32>()
    );
    match (capture, detail) {
        (Some((events, lost, _)), Some(d)) => {
            println!("last capture: {events} events, {lost} lost");
            if let Some(m) = d["drops_by_kind"].as_object().filter(|m| !m.is_empty()) {
                let drops: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
                println!("  lost by kind: {}", drops.join(", "));
            }
            if let Some(h) = d["dedup_hits"].as_u64() {
                println!("  repeated opens de-duplicated in the kernel: {h}");
            }
        }
        (Some((events, lost, _)), None) => println!("last capture: {events} events, {lost} lost"),
        _ => println!("no live capture recorded in this store"),
    }
    Ok(())
}

/// `wsprof store check`: exit status 1 (through the error) when the store has problems.
pub fn store_check(db: &Path, json: bool) -> Result<()> {
    let r = store::recovery::check(db)?;
    if json {
        print_json(&r)?;
    } else {
        let c = &r.counts;
        println!(
            "{}: schema {}, {} bytes{}",
            r.path.display(),
            c.schema_version,
            r.size_bytes,
            r.wal_bytes
                .map(|n| format!(", WAL {n} bytes not yet checkpointed (replays fine)"))
                .unwrap_or_default()
        );
        println!(
            "  {} profiles, {} snapshots ({} merged), {} signals, {} suppressions; last snapshot {}, last signal {}",
            c.profiles,
            c.snapshots,
            c.merged_snapshots,
            c.signals,
            c.suppressions,
            opt_time(c.last_snapshot_ms),
            opt_time(c.last_signal_ms)
        );
        for p in &r.problems {
            println!("  problem: {p}");
        }
    }
    if r.problems.is_empty() {
        if !json {
            println!("ok");
        }
        Ok(())
    } else {
        bail!(
            "database {}: {} problem(s) found: {}",
            db.display(),
            r.problems.len(),
            r.problems.join("; ")
        )
    }
}

/// `wsprof store recover`.
pub fn store_recover(db: &Path, json: bool) -> Result<()> {
    let r = store::recovery::recover(db)?;
    if json {
        return print_json(&r);
    }
    let c = &r.counts;
    let holds = format!(
        "{} profiles, {} snapshots, {} signals, {} suppressions (last snapshot {}, last signal {})",
        c.profiles,
        c.snapshots,
        c.signals,
        c.suppressions,
        opt_time(c.last_snapshot_ms),
        opt_time(c.last_signal_ms)
    );
    if !r.recovered {
        println!("{}: opens as it is; nothing to recover. It holds {holds}", db.display());
        return Ok(());
    }
    let dir = r
        .backup_dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    println!("{}: recovered; it holds {holds}", db.display());
    println!("  copies of the damaged store and its WAL: {dir}");
    if r.wal_bytes_set_aside > 0 {
        println!(
            "  lost: the {} bytes of writes in the WAL that DuckDB could not replay (activity after the last checkpoint)",
            r.wal_bytes_set_aside
        );
    } else {
        println!("  lost: nothing (there was no WAL)");
    }
    Ok(())
}
