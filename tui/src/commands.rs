//! The non-interactive twins of the screens, for scripts and tests, and the demo runner.

use crate::source::{LifecycleRequest, Source, SuppressRequest};
use crate::view::text::{
    decision_text, opt_time, parse_duration, percent, snapshot_state, sparkline, time,
};
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

pub fn profiles(src: &mut dyn Source, json: bool) -> Result<()> {
    let ps = src.profiles()?;
    if json {
        return print_json(&ps);
    }
    println!(
        "{:<24} {:<10} {:>9} {:<8} {:>11} {:>10} {:>7}  LAST UPDATED",
        "IMAGE", "VERSION", "SNAPSHOTS", "STATUS", "COMMONALITY", "CONTAINERS", "SIGNALS"
    );
    let mut prev = String::new();
    let mut manual = false;
    for p in ps {
        let name = if p.image == prev {
            String::new()
        } else {
            p.image.clone()
        };
        prev = p.image.clone();
        manual |= p.status_manual;
        println!(
            "{:<24} {:<10} {:>9} {:<8} {:>11} {:>10} {:>7}  {}",
            name,
            p.version,
            p.snapshots,
            status_text(&p),
            percent(p.commonality),
            p.containers,
            p.open_signals,
            opt_time(p.last_updated_ms)
        );
    }
    if manual {
        println!("* status set by a person (wsprof profile history IMAGE:VERSION)");
    }
    Ok(())
}

/// `stable`, or `stable*` when a person set it (promote, reset).
pub fn status_text(p: &store::ProfileSummary) -> String {
    if p.status_manual {
        format!("{}*", p.status)
    } else {
        p.status.clone()
    }
}

/// `IMAGE:VERSION` split at its last colon (a version never holds one; an image may, with
/// a registry port).
pub fn image_version(spec: &str) -> Result<(&str, &str)> {
    spec.rsplit_once(':')
        .filter(|(i, v)| !i.is_empty() && !v.is_empty())
        .ok_or_else(|| anyhow!("`{spec}` is not IMAGE:VERSION"))
}

/// The profile of `spec`, which must exist.
fn summary_of(src: &mut dyn Source, spec: &str) -> Result<store::ProfileSummary> {
    let (image, version) = image_version(spec)?;
    src.profiles()?
        .into_iter()
        .find(|p| p.image == image && p.version == version)
        .ok_or_else(|| anyhow!("no profile {image}:{version} (see `wsprof profiles`)"))
}

/// `wsprof profile progress IMAGE:VERSION`: what the last merged snapshots brought.
pub fn profile_progress(src: &mut dyn Source, spec: &str, last: usize, json: bool) -> Result<()> {
    let (image, version) = image_version(spec)?;
    if last == 0 {
        bail!("--last 0: give how many of the last merged snapshots to show (1 or more)");
    }
    let p = src.learning_progress(image, version, last)?;
    if json {
        return print_json(&p);
    }
    println!(
        "{image}:{version}  {}  {} snapshots merged, {} nodes; the last {} in ingest order, oldest first",
        p.status.to_uppercase(),
        p.merged_snapshots,
        p.nodes,
        p.steps.len()
    );
    if p.steps.is_empty() {
        println!("no snapshot merged yet");
        return Ok(());
    }
    println!(
        "{:<8} {:<w$}  {:>5}  LAST NEW",
        "KIND",
        "NEW NODES PER SNAPSHOT",
        "TOTAL",
        w = p.steps.len().max(22)
    );
    for k in model::learning::KindCounts::KINDS {
        let values: Vec<u32> = p.steps.iter().map(|s| s.new.get(k)).collect();
        let since = match p.snapshots_since_new.get(k.as_str()).copied().flatten() {
            None => "never".to_string(),
            Some(0) => "in the last snapshot".to_string(),
            Some(n) => format!("{n} snapshots ago"),
        };
        println!(
            "{:<8} {:<w$}  {:>5}  {since}",
            k.as_str(),
            sparkline(&values),
            p.new_in_steps.get(k),
            w = p.steps.len().max(22)
        );
    }
    println!();
    println!(
        "{:>4}  {:<16}  {:<24} {:>4} {:>4} {:>4} {:>4} {:>4}  NODES",
        "#", "ENDED", "SNAPSHOT", "PROC", "FILE", "DNS", "NET", "KERN"
    );
    for s in &p.steps {
        println!(
            "{:>4}  {:<16}  {:<24} {:>4} {:>4} {:>4} {:>4} {:>4}  {}",
            s.position,
            time(s.ended_ms),
            s.snapshot_id,
            s.new.process,
            s.new.file,
            s.new.dns,
            s.new.net,
            s.new.kernel,
            s.nodes_after
        );
    }
    Ok(())
}

/// `wsprof profile promote|reset IMAGE:VERSION --reason TEXT`.
pub fn profile_lifecycle(
    src: &mut dyn Source,
    spec: &str,
    action: model::LifecycleAction,
    reason: &str,
) -> Result<()> {
    let (image, version) = image_version(spec)?;
    if reason.trim().is_empty() {
        bail!(
            "--reason: say why {image}:{version} should be {} (it is kept in the audit trail)",
            match action {
                model::LifecycleAction::Promote => "Stable now",
                model::LifecycleAction::Reset => "learned again",
            }
        );
    }
    let req = LifecycleRequest {
        image: image.to_string(),
        version: version.to_string(),
        action,
        reason: reason.to_string(),
    };
    let c = src.change_lifecycle(&req, &crate::ui::current_user(), store::now_ms())?;
    match action {
        model::LifecycleAction::Promote => println!(
            "{image}:{version} promoted to Stable ({} snapshots merged); undo with `wsprof profile undo {image}:{version}`",
            c.snapshots_before
        ),
        model::LifecycleAction::Reset => println!(
            "{image}:{version} reset to Learning: it learns again from its next snapshot; {} nodes from {} snapshots archived (undo with `wsprof profile undo {image}:{version}`)",
            c.archived_nodes, c.snapshots_before
        ),
    }
    Ok(())
}

/// `wsprof profile undo IMAGE:VERSION`.
pub fn profile_undo(src: &mut dyn Source, spec: &str, reason: &str) -> Result<()> {
    let (image, version) = image_version(spec)?;
    let c = src.undo_lifecycle(
        image,
        version,
        reason,
        &crate::ui::current_user(),
        store::now_ms(),
    )?;
    let now = summary_of(src, spec)?;
    println!(
        "{} #{} of {image}:{version} undone; it is {} again ({} snapshots merged)",
        c.action,
        c.id,
        now.status.to_uppercase(),
        now.snapshots
    );
    Ok(())
}

/// `wsprof profile history IMAGE:VERSION`.
pub fn profile_history(src: &mut dyn Source, spec: &str, json: bool) -> Result<()> {
    let (image, version) = image_version(spec)?;
    summary_of(src, spec)?;
    let rows = src.lifecycle_changes(image, version)?;
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        println!("{image}:{version}: no promote or reset; its status is the lifecycle rule's");
        return Ok(());
    }
    println!(
        "{:>4} {:<16} {:<8} {:<24} {:<9} {:>9}  {:<30} WHY",
        "ID", "TIME", "ACTION", "WHO", "BEFORE", "SNAPSHOTS", "UNDONE"
    );
    for c in rows {
        let undone = match (c.undone_ms, &c.undone_by) {
            (Some(t), Some(by)) => format!("{} by {by}", time(t)),
            (Some(t), None) => time(t),
            _ => "-".into(),
        };
        println!(
            "{:>4} {:<16} {:<8} {:<24} {:<9} {:>9}  {:<30} {}",
            c.id,
            time(c.ts_ms),
            c.action,
            c.who,
            c.status_before,
            c.snapshots_before,
            undone,
            c.reason
        );
    }
    Ok(())
}

/// `wsprof snapshot show ID`: one snapshot's own tree.
pub fn snapshot_show(src: &mut dyn Source, id: &str, json: bool) -> Result<()> {
    if id.trim().is_empty() {
        bail!("snapshot id: empty (ids: `wsprof profile show IMAGE:VERSION --json`)");
    }
    let d = src.snapshot(id)?;
    if json {
        return print_json(&d);
    }
    let sn = &d.snapshot;
    println!(
        "snapshot {}  {}:{}  {}",
        sn.id,
        d.image,
        d.version,
        snapshot_state(&d)
    );
    println!("window    {} .. {}", time(sn.started_ms), time(sn.ended_ms));
    println!("container {}  host {}", sn.container_id, sn.host);
    if !sn.tags.is_empty() {
        println!("tags      {}", sn.tags.join(" "));
    }
    if !sn.digest.is_empty() {
        println!("digest    {}", sn.digest);
    }
    println!(
        "{} nodes; {} first seen in this snapshot (+); commonality in the profile now ({} {} snapshots)",
        d.nodes.len(),
        d.first_seen_here.len(),
        d.profile_status,
        d.profile_snapshots
    );
    let new: std::collections::HashSet<&str> =
        d.first_seen_here.iter().map(String::as_str).collect();
    for n in &d.nodes {
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
        let mark = if new.contains(n.key.as_str()) {
            "+"
        } else {
            " "
        };
        println!(
            "{}{mark}{indent}{what}{}{access}  {}/{}",
            percent(n.commonality),
            n.label,
            n.snapshots,
            d.profile_snapshots
        );
    }
    Ok(())
}

/// `IMAGE:VERSION` split at its last `:` (an image name may hold a registry port).
pub fn profile_spec(spec: &str) -> Result<(&str, &str)> {
    spec.rsplit_once(':')
        .filter(|(i, v)| !i.is_empty() && !v.is_empty() && !v.contains('/'))
        .ok_or_else(|| anyhow!("`{spec}` is not IMAGE:VERSION (e.g. nginx:1.25.3)"))
}

/// A share: `0.2` or `20%`, between 0 and 1.
pub fn parse_share(s: &str) -> Result<f64, String> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.trim().parse::<f64>(),
    };
    v.ok().filter(|v| (0.0..=1.0).contains(v)).ok_or_else(|| {
        format!("`{s}`: expected a share between 0 and 1 (0.2) or a percentage (20%)")
    })
}

pub fn profile_show(src: &mut dyn Source, spec: &str, json: bool) -> Result<()> {
    let (image, version) = image_version(spec)?;
    let summary = summary_of(src, spec)?;
    let nodes = src.profile_nodes(image, version)?;
    let snapshots = src.profile_snapshots(image, version)?;
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
    if let Some(c) = summary.lifecycle_decision.as_ref() {
        println!("{}", decision_text(c));
    }
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

/// `wsprof profile diff FROM TO`: what TO holds that FROM does not, what it no longer
/// holds, and what moved by more than the threshold, as a tree.
pub fn profile_diff(
    src: &mut dyn Source,
    from: (&str, &str),
    to: (&str, &str),
    threshold: f64,
    json: bool,
) -> Result<()> {
    let d = src.profile_diff(from, to, threshold)?;
    if json {
        return print_json(&d);
    }
    let side = |s: &model::diff::DiffSide| {
        format!(
            "{} ({}, {} snapshots, {} nodes, commonality {})",
            s.name(),
            s.status,
            s.snapshots,
            s.nodes,
            percent(s.commonality).trim()
        )
    };
    println!("{} -> {}", side(&d.from), side(&d.to));
    println!(
        "{} added, {} removed, {} moved by more than {}",
        d.added,
        d.removed,
        d.moved,
        percent(d.threshold).trim()
    );
    if d.is_empty() {
        println!("no differences");
        return Ok(());
    }
    println!("{:<9} {:>6} {:>6}  NODE", "CHANGE", "BEFORE", "AFTER");
    let pct = |c: Option<f64>| c.map(percent).unwrap_or_else(|| "-".into());
    for l in crate::view::diff::lines(&d.nodes) {
        let n = &d.nodes[l.node];
        println!(
            "{:<9} {:>6} {:>6}  {}{}",
            l.marker,
            pct(n.before),
            pct(n.after),
            "  ".repeat(n.depth as usize),
            l.text
        );
    }
    Ok(())
}

/// The first 12 characters of a container id, as docker shows them.
pub fn short_id(id: &str) -> &str {
    id.char_indices().nth(12).map_or(id, |(i, _)| &id[..i])
}

/// `wsprof profile outliers IMAGE:VERSION`: the containers, most unusual first.
pub fn profile_outliers(src: &mut dyn Source, p: (&str, &str), json: bool) -> Result<()> {
    let r = src.profile_outliers(p.0, p.1)?;
    if json {
        return print_json(&r);
    }
    println!(
        "{}:{} ({}, {} snapshots merged): {} containers, the most unusual first",
        r.image,
        r.version,
        r.status,
        r.profile_snapshots,
        r.containers.len()
    );
    println!("{}", r.formula);
    println!(
        "{:>4} {:<12} {:>6} {:>6} {:>5} {:>6} {:>9}  HOSTS",
        "RANK", "CONTAINER", "SCORE", "NODES", "RARE", "NOVEL", "SNAPSHOTS"
    );
    for c in &r.containers {
        println!(
            "{:>4} {:<12} {:>6} {:>6} {:>5} {:>6} {:>9}  {}",
            c.rank,
            short_id(&c.container_id),
            percent(c.score),
            c.nodes,
            c.rare_nodes,
            c.novel_nodes,
            c.snapshots,
            c.hosts.join(",")
        );
        for n in c.distinguishing.iter().take(5) {
            println!("       {}", crate::view::outliers::node_text(n));
        }
        if c.distinguishing_total > 5 {
            println!(
                "       ... and {} more (--json lists {})",
                c.distinguishing_total - 5,
                c.distinguishing.len()
            );
        }
    }
    Ok(())
}

/// `wsprof profile export IMAGE:VERSION --format F [--output FILE]`.
pub fn profile_export(
    src: &mut dyn Source,
    p: (&str, &str),
    format: model::export::ExportFormat,
    force: bool,
    output: Option<&Path>,
) -> Result<()> {
    let text = src.profile_export(p.0, p.1, format, force)?;
    match output {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Some(f) => {
            std::fs::write(f, &text).with_context(|| format!("--output {}", f.display()))?;
            println!("exported {}:{} as {format} to {}", p.0, p.1, f.display());
        }
    }
    Ok(())
}

pub fn signals(src: &mut dyn Source, json: bool, filter: SignalFilter) -> Result<()> {
    if let Some(s) = &filter.status {
        if model::signal::SignalStatus::parse(s).is_none() {
            bail!("--status `{s}`: expected open, suppressed or rejected");
        }
    }
    let rows = src.signals(&filter)?;
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
            signal_note(&s)
        );
    }
    Ok(())
}

/// The last column of `wsprof signals`: the suggestion, a drift signal's size, and what the
/// rate limit counted on the signal.
fn signal_note(s: &store::SignalRow) -> String {
    let mut parts = Vec::new();
    if s.kind == "drift" {
        parts.push(s.summary.clone());
    }
    if let Some(g) = &s.suggestion {
        parts.push(g.text());
    }
    if let Some(n) = &s.rate_limit_note {
        parts.push(format!("{n} (wsprof signal show {})", s.id));
    }
    parts.join("; ")
}

/// `wsprof signal show ID`: one signal with every distinct match or novel node.
pub fn signal_show(src: &mut dyn Source, id: i64, json: bool) -> Result<()> {
    let s = src.signal(id)?;
    let windows = src.signal_snapshots(id)?;
    if json {
        // the signal as `signals --json` has it, with the snapshot windows it happened in
        let mut v = serde_json::to_value(&s)?;
        v["snapshots"] = serde_json::to_value(&windows)?;
        return print_json(&v);
    }
    let mut lineage = s.process.ancestors.clone();
    lineage.reverse();
    lineage.push(s.process.exec_path.clone());
    println!("#{} {}  {}", s.id, s.rule_id, s.severity);
    println!(
        "status    {} ({} matches, first {}, last {})",
        s.status,
        s.count,
        time(s.ts_ms),
        time(s.last_ts_ms)
    );
    if !s.mitre.is_empty() {
        println!("mitre     {}", s.mitre);
    }
    println!("image     {}:{}", s.image, s.version);
    println!("container {}", s.container_id);
    println!("event     {}", s.summary);
    println!("process   {}", lineage.join(" > "));
    if !s.reason.is_empty() {
        println!("why       {}", s.reason);
    }
    if let Some(g) = &s.suggestion {
        println!("suggest   {}", g.text());
    } else if let Some(b) = &s.suggestion_block {
        println!("no suggestion: {b}");
    }
    match windows.split_first() {
        Some((first, rest)) => {
            println!(
                "snapshot  {} ({} .. {}; `wsprof snapshot show {}`)",
                first.id,
                time(first.started_ms),
                time(first.ended_ms),
                first.id
            );
            match rest {
                [] => {}
                [a] => println!("          and up to its last match: {}", a.id),
                [.., last] => println!(
                    "          and {} more windows up to its last match, through {} ({})",
                    rest.len(),
                    last.id,
                    time(last.ended_ms)
                ),
            }
        }
        None => println!(
            "snapshot  none stored for its window (its container had no profiling slot, or the window is still open)"
        ),
    }
    if !s.drift.is_empty() {
        println!("\nnovel activity ({} nodes):", s.drift.len());
        for l in crate::view::drift::tree_lines(&s.drift, false) {
            println!("  {}{}", "  ".repeat(l.depth), l.text);
        }
    } else {
        println!("\ndistinct matches ({}):", s.matches_total);
        if let Some(n) = &s.rate_limit_note {
            println!("  {n}");
        }
        for m in &s.matches {
            let limited = if m.rate_limited > 0 {
                format!("  ({} by the rate limit)", m.rate_limited)
            } else {
                String::new()
            };
            println!(
                "  ×{:<5} {}  {} .. {}{limited}",
                m.count,
                m.summary,
                time(m.first_ms),
                time(m.last_ms)
            );
        }
    }
    Ok(())
}

pub fn suppress(
    src: &mut dyn Source,
    signal_id: i64,
    reason: &str,
    expires_in: Option<&str>,
    force: bool,
    dry_run: bool,
    scope: Option<String>,
) -> Result<()> {
    let s = src.signal(signal_id)?;
    if dry_run {
        let (n, m) = src.preview_suppression(signal_id)?;
        println!(
            "would hide {n} stored signal(s) ({m} match(es)) of rule {} for {}",
            s.rule_id, s.image
        );
        return Ok(());
    }
    let expires_ms = expires_in
        .map(|d| parse_duration(d).map(|ms| store::now_ms() + ms))
        .transpose()
        .map_err(|e| anyhow!("--expires-in: {e}"))?;
    let req = SuppressRequest {
        signal_id,
        reason: reason.to_string(),
        expires_ms,
        force,
        scope,
    };
    let sup = src.suppress(&req, &crate::ui::current_user(), store::now_ms())?;
    println!("suppression {} added: {}", sup.id, sup.expression);
    println!("hid {} signal(s)", sup.hidden);
    Ok(())
}

pub fn unsuppress(src: &mut dyn Source, id: i64) -> Result<()> {
    let s = src.unsuppress(id, &crate::ui::current_user(), store::now_ms())?;
    println!(
        "suppression {} undone; signals of rule {} for {} are open again",
        s.id, s.rule_id, s.image
    );
    Ok(())
}

pub fn suppressions(src: &mut dyn Source, json: bool, all: bool) -> Result<()> {
    let rows = src.suppressions(all)?;
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

pub fn status(src: &mut dyn Source, json: bool) -> Result<()> {
    let st = src.status()?;
    if json {
        return print_json(&st);
    }
    let c = &st.signals;
    println!(
        "{} profiles ({} stable), {} snapshots; signals: {} open, {} suppressed, {} rejected; {} active suppressions",
        st.profiles, st.stable, st.snapshots, c.open, c.suppressed, c.rejected, st.suppressions
    );
    if let Some(a) = &st.agent {
        println!(
            "agent: pid {}, store {}, socket {} ({})",
            a["pid"],
            a["db"].as_str().unwrap_or("?"),
            a["socket"].as_str().unwrap_or("?"),
            a["socket_group"]
                .as_str()
                .map(|g| format!("group {g}"))
                .unwrap_or_else(|| "root only".into())
        );
    }
    match &st.capture {
        Some(d) => {
            let loss: Option<crate::live::Loss> = serde_json::from_value(d["loss"].clone()).ok();
            let lost = loss
                .map(|l| l.text())
                .unwrap_or_else(|| d["lost"].as_u64().unwrap_or(0).to_string());
            println!(
                "{}: {} events, {lost} lost",
                if st.agent.is_some() {
                    "capture"
                } else {
                    "last capture"
                },
                d["events"].as_u64().unwrap_or(0)
            );
            if let Some(m) = d["drops_by_kind"].as_object().filter(|m| !m.is_empty()) {
                let drops: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
                println!("  lost in the kernel by kind: {}", drops.join(", "));
            }
            if let Some(h) = d["dedup_hits"].as_u64() {
                println!("  repeated opens de-duplicated in the kernel: {h}");
            }
            if let Some(m) = d["unresolved"].as_object().filter(|m| !m.is_empty()) {
                // Grouped by reason: "unresolved: 1 container: containerd at /x.sock: ..."
                let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> =
                    std::collections::BTreeMap::new();
                for (id, why) in m {
                    by_reason
                        .entry(why.as_str().unwrap_or("unknown"))
                        .or_default()
                        .push(id);
                }
                for (why, ids) in by_reason {
                    println!(
                        "  unresolved: {} container{}: {why} ({})",
                        ids.len(),
                        if ids.len() == 1 { "" } else { "s" },
                        ids.join(", ")
                    );
                }
            }
            if let Some(w) = d["ignored_waiting"].as_u64().filter(|w| *w > 0) {
                println!(
                    "  events of containers without a profiling slot (checked, not profiled): {w}"
                );
            }
        }
        None => println!("no live capture recorded in this store"),
    }
    Ok(())
}

/// `wsprof respond freeze|thaw`: name the container and image, ask (unless `yes`), then
/// freeze or thaw it through the source (the agent, or this process as root).
pub fn respond(
    src: &mut dyn Source,
    req: &crate::respond::RespondRequest,
    yes: bool,
    json: bool,
) -> Result<()> {
    use std::io::IsTerminal;
    let t = crate::respond::target(src, req)?;
    let verb = req.action.as_str();
    let what = match t.signal_id {
        Some(id) => format!("{} from signal {id}", t.describe()),
        None => t.describe(),
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("{verb} {what}: needs a confirmation and stdin is not a terminal; add --yes");
        }
        eprint!("{verb} {what}? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            bail!("{verb} cancelled: {} left as it was", t.describe());
        }
    }
    let r = src.respond(req, &crate::ui::current_user(), store::now_ms())?;
    if json {
        return print_json(&r);
    }
    println!("{}", crate::respond::done_text(&r));
    if !r.cgroup_path.is_empty() {
        println!("cgroup {}", r.cgroup_path);
    }
    Ok(())
}

/// `wsprof responses`: the audit table, newest first.
pub fn responses(src: &mut dyn Source, json: bool) -> Result<()> {
    let rows = src.responses(crate::respond::RESPONSES_SHOWN)?;
    if json {
        return print_json(&rows);
    }
    println!(
        "{:>4} {:<16} {:<6} {:<12} {:<24} {:>6} {:<20} {:<7} DETAIL",
        "ID", "TIME", "ACTION", "CONTAINER", "IMAGE", "SIGNAL", "WHO", "OUTCOME"
    );
    for r in rows {
        let detail = if r.ok() {
            format!("{} {}", r.method, r.cgroup_path)
        } else {
            r.error.clone()
        };
        println!(
            "{:>4} {:<16} {:<6} {:<12} {:<24} {:>6} {:<20} {:<7} {}",
            r.id,
            time(r.at_ms),
            r.action.as_str(),
            crate::respond::short_id(&r.container_id),
            format!("{}:{}", r.image, r.version),
            r.signal_id.map(|i| i.to_string()).unwrap_or_default(),
            r.who,
            r.outcome,
            detail.trim()
        );
    }
    Ok(())
}

/// `wsprof decisions`: through the agent when one answers, else from the store file.
pub fn decisions(target: crate::client::Target, json: bool, limit: usize) -> Result<()> {
    let rows = match target {
        crate::client::Target::Agent(s) => crate::client::AgentClient::new(&s).decisions(limit)?,
        crate::client::Target::File(db) => open_existing(&db)?.decisions(limit)?,
    };
    if json {
        return print_json(&rows);
    }
    println!(
        "{:<16} {:<8} {:<24} {:>7} {:>11}  {:<24} DETAIL",
        "TIME", "ACTION", "WHO", "SIGNAL", "SUPPRESSION", "PROFILE"
    );
    for d in rows {
        println!(
            "{:<16} {:<8} {:<24} {:>7} {:>11}  {:<24} {}",
            time(d.ts_ms),
            d.action,
            d.who,
            d.signal_id.map(|i| i.to_string()).unwrap_or_default(),
            d.suppression_id.map(|i| i.to_string()).unwrap_or_default(),
            d.profile.as_deref().unwrap_or(""),
            d.detail
        );
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
        println!(
            "{}: opens as it is; nothing to recover. It holds {holds}",
            db.display()
        );
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
