//! Profile screen: collapsible process tree with commonality on every node (and the count
//! of open signals on the nodes that have some); side panel with the selected process's
//! files, DNS, network and kernel activity; the learning panel (new nodes per kind of the
//! last merged snapshots); the snapshots and containers behind the profile, or its signals.

use super::text::{cut, percent, sparkline, time};
use super::{commonality_style, scroll_offset, selected_style, severity_style};
use crate::app::{App, ProfileFocus, ProfileView};
use crate::tree::ProfileTree;
use model::learning::KindCounts;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use store::NodeRow;

struct Parts {
    header: Rect,
    tree: Rect,
    side: Rect,
    learning: Rect,
    bottom: Rect,
}

fn parts(body: Rect) -> Parts {
    let [header, main, bottom] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(6),
        Constraint::Length(7),
    ])
    .areas(body);
    let [tree, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
    let [side, learning] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(7)]).areas(right);
    Parts {
        header,
        tree,
        side,
        learning,
        bottom,
    }
}

pub fn list_rows(body: Rect) -> Rect {
    inner(parts(body).tree)
}

/// The inside of a bordered block.
pub(super) fn inner(r: Rect) -> Rect {
    Rect {
        x: r.x + 1,
        y: r.y + 1,
        width: r.width.saturating_sub(2),
        height: r.height.saturating_sub(2),
    }
}

pub(super) fn focus_style(on: bool) -> Style {
    if on {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    }
}

/// Extra spans after a node's label (signal counts, "first seen here", ...).
pub(super) type Marks<'a> = &'a dyn Fn(&NodeRow) -> Vec<Span<'static>>;

/// A bordered process tree: `▾ 75% /bin/sh` per visible row, the selection reversed when
/// `focused`.
pub(super) fn draw_tree(
    f: &mut Frame,
    area: Rect,
    tree: &ProfileTree,
    focused: bool,
    title: &str,
    marks: Marks,
) {
    let rows_area = inner(area);
    let offset = scroll_offset(tree.selected_row(), rows_area.height as usize);
    let lines: Vec<Line> = tree
        .rows()
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_area.height as usize)
        .map(|(i, r)| {
            let n = &tree.nodes[r.node];
            let marker = match (r.has_children, r.collapsed) {
                (false, _) => "  ",
                (true, true) => "▸ ",
                (true, false) => "▾ ",
            };
            let mut label_style = Style::default();
            if r.matched {
                label_style = label_style.add_modifier(Modifier::UNDERLINED);
            }
            let mut spans = vec![
                Span::raw("  ".repeat(r.depth)),
                Span::raw(marker),
                Span::styled(percent(n.commonality), commonality_style(n.commonality)),
                Span::raw(" "),
                Span::styled(n.label.clone(), label_style),
            ];
            spans.extend(marks(n));
            let mut line = Line::from(spans);
            if i == tree.selected_row() && focused {
                line = line.style(selected_style());
            }
            line
        })
        .collect();
    let title = if tree.query().is_empty() {
        format!(" {title} ")
    } else {
        format!(" {title} (search: {}) ", tree.query())
    };
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(focus_style(focused)),
        ),
        area,
    );
}

/// The selected process: "in N of M snapshots", its argv, then its files, DNS, network
/// and kernel activity with their commonality.
pub(super) fn draw_side(
    f: &mut Frame,
    area: Rect,
    tree: &ProfileTree,
    total: u32,
    title: &str,
    marks: Marks,
) {
    let mut side: Vec<Line> = Vec::new();
    if let Some(n) = tree.selected() {
        let mut head = vec![Span::styled(
            n.label.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        )];
        head.extend(marks(n));
        side.push(Line::from(head));
        side.push(Line::from(vec![
            Span::raw("in "),
            Span::styled(
                format!(
                    "{} of {} snapshots ({})",
                    n.snapshots,
                    total,
                    percent(n.commonality).trim()
                ),
                commonality_style(n.commonality),
            ),
        ]));
        if !n.args.is_empty() {
            side.push(Line::from(Span::styled(
                format!("argv: {}", cut(&n.args.join(" "), 200)),
                Style::default().fg(Color::DarkGray),
            )));
        }
        let leaves = tree.selected_leaves();
        for (kind, title) in [
            ("file", "Files"),
            ("dns", "DNS"),
            ("net", "Network"),
            ("kernel", "Kernel activity"),
        ] {
            let of_kind: Vec<_> = leaves.iter().filter(|l| l.kind == kind).collect();
            if of_kind.is_empty() {
                continue;
            }
            side.push(Line::from(Span::styled(
                format!("{title} ({})", of_kind.len()),
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            )));
            for l in of_kind {
                let access = if l.access.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", l.access.join(","))
                };
                let mut spans = vec![
                    Span::styled(percent(l.commonality), commonality_style(l.commonality)),
                    Span::raw(format!(" {}{access}", l.label)),
                    Span::styled(
                        format!("  {}/{}", l.snapshots, total),
                        Style::default().fg(Color::DarkGray),
                    ),
                ];
                spans.extend(marks(l));
                side.push(Line::from(spans));
            }
        }
    }
    f.render_widget(
        Paragraph::new(side).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {title} ")),
        ),
        area,
    );
}

/// "⚑2": open signals on a node.
fn signal_mark(pv: &ProfileView, n: &NodeRow) -> Vec<Span<'static>> {
    match pv.signal_marks.get(&n.key) {
        Some(c) => vec![Span::styled(
            format!("  ⚑{c}"),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )],
        None => Vec::new(),
    }
}

/// The second header line: who set the status, or that the rule did.
fn lifecycle_line(app: &App, pv: &ProfileView) -> Line<'static> {
    let s = &pv.summary;
    let k = &app.keymap;
    let key = |a| k.keys_for(a).split(", ").next().unwrap_or("").to_string();
    use crate::action::Action as A;
    let dim = Style::default().fg(Color::DarkGray);
    match &s.lifecycle_decision {
        Some(c) => {
            let mut text = format!("{} at {}", c.describe(), time(c.ts_ms));
            if !c.reason.is_empty() {
                text.push_str(&format!(": {}", c.reason));
            }
            let style = if s.status_manual {
                Style::default().fg(Color::Magenta)
            } else {
                dim
            };
            let mut spans = vec![Span::styled(text, style)];
            if !s.status_manual {
                spans.push(Span::styled(
                    format!("; {} since by the rule", s.status),
                    dim,
                ));
            }
            spans.push(Span::styled(format!("  ({} undo)", key(A::Undo)), dim));
            Line::from(spans)
        }
        None => Line::from(Span::styled(
            format!(
                "status by the lifecycle rule{}  ({} promote, {} reset to Learning)",
                if s.archived_snapshots > 0 {
                    format!("; {} snapshots archived", s.archived_snapshots)
                } else {
                    String::new()
                },
                key(A::Promote),
                key(A::ResetLearning)
            ),
            dim,
        )),
    }
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let Some(pv) = &app.profile else {
        f.render_widget(
            Paragraph::new("This profile is not in the store (any more).")
                .block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let p = parts(area);
    let s = &pv.summary;
    let status_style = if s.status == "stable" {
        Style::default()
            .fg(Color::Green)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD)
    };
    let header = Line::from(vec![
        Span::styled(
            format!("{}:{}  ", s.image, s.version),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(
                "{}{}",
                s.status.to_uppercase(),
                if s.status_manual { "*" } else { "" }
            ),
            status_style,
        ),
        if s.digest_changed {
            Span::styled(
                format!("  RETAGGED: {} image digests", s.digests.len()),
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            )
        } else {
            Span::raw("")
        },
        Span::raw("   behaviour commonality "),
        Span::styled(
            percent(s.commonality),
            commonality_style(s.commonality).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "   {} snapshots from {} containers   {} nodes   {} open signals",
            s.snapshots, s.containers, s.nodes, pv.open_signals
        )),
    ]);
    f.render_widget(
        Paragraph::new(vec![header, lifecycle_line(app, pv)])
            .block(Block::default().borders(Borders::ALL)),
        p.header,
    );

    let marks = |n: &NodeRow| signal_mark(pv, n);
    draw_tree(
        f,
        p.tree,
        &pv.tree,
        pv.focus == ProfileFocus::Tree,
        "Process tree",
        &marks,
    );
    draw_side(f, p.side, &pv.tree, s.snapshots, "Selected process", &marks);
    draw_learning(f, p.learning, pv);
    if pv.focus == ProfileFocus::Signals {
        draw_signals(f, p.bottom, pv);
    } else {
        draw_snapshots(f, p.bottom, pv);
    }
}

/// The bottom panel's title: both of its lists, the shown one bold.
fn bottom_title(pv: &ProfileView) -> Line<'static> {
    let on = Style::default().add_modifier(Modifier::BOLD);
    let off = Style::default().fg(Color::DarkGray);
    let signals = pv.focus == ProfileFocus::Signals;
    Line::from(vec![
        Span::raw(" "),
        Span::styled(
            format!("Snapshots and containers ({})", pv.snapshots.len()),
            if signals { off } else { on },
        ),
        Span::raw(" │ "),
        Span::styled(
            format!("Signals ({} open of {})", pv.open_signals, pv.signals.len()),
            if signals { on } else { off },
        ),
        Span::raw(" "),
    ])
}

fn draw_snapshots(f: &mut Frame, area: Rect, pv: &ProfileView) {
    let h = area.height.saturating_sub(2) as usize;
    let off = scroll_offset(pv.snapshot_sel, h);
    let snap_lines: Vec<Line> = pv
        .snapshots
        .iter()
        .enumerate()
        .skip(off)
        .take(h)
        .map(|(i, sn)| {
            let mut line = Line::from(vec![
                Span::raw(format!("{}  ", time(sn.ended_ms))),
                Span::raw(format!("{:<22} ", cut(&sn.id, 22))),
                Span::styled(
                    format!("{}  ", &sn.container_id[..sn.container_id.len().min(12)]),
                    Style::default().fg(Color::DarkGray),
                ),
                Span::raw(format!("{:<10} ", cut(&sn.host, 10))),
                Span::raw(snapshot_tags(sn)),
                Span::raw(format!("{:>4} nodes  ", sn.nodes)),
                match (sn.merged, sn.reset_id) {
                    (_, Some(r)) => Span::styled(
                        format!("archived (reset #{r})"),
                        Style::default().fg(Color::Magenta),
                    ),
                    (true, None) => Span::styled("merged", Style::default().fg(Color::Green)),
                    (false, None) => Span::styled(
                        "kept (profile was Stable)",
                        Style::default().fg(Color::DarkGray),
                    ),
                },
            ]);
            if i == pv.snapshot_sel && pv.focus == ProfileFocus::Snapshots {
                line = line.style(selected_style());
            }
            line
        })
        .collect();
    f.render_widget(
        Paragraph::new(snap_lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(bottom_title(pv))
                .border_style(focus_style(pv.focus == ProfileFocus::Snapshots)),
        ),
        area,
    );
}

fn draw_signals(f: &mut Frame, area: Rect, pv: &ProfileView) {
    let h = area.height.saturating_sub(2) as usize;
    let off = scroll_offset(pv.signal_sel, h);
    let lines: Vec<Line> = if pv.signals.is_empty() {
        vec![Line::from(Span::styled(
            "No signals for this image version.",
            Style::default().fg(Color::DarkGray),
        ))]
    } else {
        pv.signals
            .iter()
            .enumerate()
            .skip(off)
            .take(h)
            .map(|(i, sg)| {
                let mut line = Line::from(vec![
                    Span::raw(format!("#{:<5} {}  ", sg.id, time(sg.ts_ms))),
                    Span::styled(format!("{:<8} ", sg.severity), severity_style(&sg.severity)),
                    Span::raw(format!("{:<10} ", sg.status)),
                    Span::raw(format!("{:<30} ", cut(&sg.rule_id, 30))),
                    Span::raw(cut(&sg.summary, 60)),
                    Span::styled(
                        if sg.count > 1 {
                            format!("  ×{}", sg.count)
                        } else {
                            String::new()
                        },
                        Style::default().fg(Color::DarkGray),
                    ),
                ]);
                if i == pv.signal_sel {
                    line = line.style(selected_style());
                }
                line
            })
            .collect()
    };
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(bottom_title(pv))
                .border_style(focus_style(true)),
        ),
        area,
    );
}

/// One line per kind: a sparkline of the new nodes each of the last snapshots (that fit)
/// brought, how many, and how long since the last new one.
fn draw_learning(f: &mut Frame, area: Rect, pv: &ProfileView) {
    let width = inner(area).width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let title = match &pv.progress {
        None => " Learning ".to_string(),
        Some(p) if p.steps.is_empty() => {
            lines.push(Line::from(Span::styled(
                if p.status == "stable" {
                    "Stable before any snapshot was merged."
                } else {
                    "Learning: no snapshot merged yet."
                },
                Style::default().fg(Color::DarkGray),
            )));
            " Learning ".to_string()
        }
        Some(p) => {
            // "process " + bars + " NNN new, last NNN ago"
            let room = width.saturating_sub(8 + 22).max(1);
            let shown = &p.steps[p.steps.len().saturating_sub(room)..];
            for k in KindCounts::KINDS {
                let values: Vec<u32> = shown.iter().map(|s| s.new.get(k)).collect();
                let total: u32 = values.iter().sum();
                let since = match p.snapshots_since_new.get(k.as_str()).copied().flatten() {
                    None => "never".to_string(),
                    Some(0) => "last now".to_string(),
                    Some(n) => format!("last {n} ago"),
                };
                let quiet = total == 0;
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{:<8}", k.as_str()),
                        Style::default().fg(Color::Cyan),
                    ),
                    Span::styled(
                        format!("{:<room$}", sparkline(&values)),
                        if quiet {
                            Style::default().fg(Color::DarkGray)
                        } else {
                            Style::default().fg(Color::Yellow)
                        },
                    ),
                    Span::styled(
                        format!(" {total:>3} new, {since}"),
                        Style::default().fg(Color::DarkGray),
                    ),
                ]));
            }
            format!(
                " Learning: new nodes, last {} of {} ",
                shown.len(),
                p.merged_snapshots
            )
        }
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

/// The pod of a snapshot's container as `namespace/pod` (as kubectl names it), where the
/// runtime named them.
fn snapshot_tags(sn: &store::SnapshotSummary) -> String {
    let tag = |k: &str| {
        sn.tags
            .iter()
            .find_map(|t| t.strip_prefix(k))
            .map(str::to_string)
    };
    match (tag("namespace:"), tag("pod:")) {
        (Some(ns), Some(pod)) => format!("{ns}/{pod}  "),
        (None, Some(pod)) => format!("pod {pod}  "),
        (Some(ns), None) => format!("ns {ns}  "),
        (None, None) => String::new(),
    }
}
