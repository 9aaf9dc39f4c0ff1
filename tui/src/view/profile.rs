//! Profile screen: collapsible process tree with commonality on every node; side panel
//! with the selected process's files, DNS, network and kernel activity; the snapshots and
//! containers behind the profile.

use super::text::{cut, percent, time};
use super::{commonality_style, scroll_offset, selected_style};
use crate::app::{App, ProfileFocus};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

struct Parts {
    header: Rect,
    tree: Rect,
    side: Rect,
    snapshots: Rect,
}

fn parts(body: Rect) -> Parts {
    let [header, main, snapshots] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(6),
        Constraint::Length(7),
    ])
    .areas(body);
    let [tree, side] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
    Parts {
        header,
        tree,
        side,
        snapshots,
    }
}

pub fn list_rows(body: Rect) -> Rect {
    let t = parts(body).tree;
    Rect {
        x: t.x + 1,
        y: t.y + 1,
        width: t.width.saturating_sub(2),
        height: t.height.saturating_sub(2),
    }
}

fn focus_style(on: bool) -> Style {
    if on {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
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
        Span::styled(s.status.to_uppercase(), status_style),
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
        Paragraph::new(header).block(Block::default().borders(Borders::ALL)),
        p.header,
    );

    // tree
    let rows_area = list_rows(area);
    let tree = &pv.tree;
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
            let mut line = Line::from(vec![
                Span::raw("  ".repeat(r.depth)),
                Span::raw(marker),
                Span::styled(percent(n.commonality), commonality_style(n.commonality)),
                Span::raw(" "),
                Span::styled(n.label.clone(), label_style),
            ]);
            if i == tree.selected_row() && pv.focus == ProfileFocus::Tree {
                line = line.style(selected_style());
            }
            line
        })
        .collect();
    let title = if tree.query().is_empty() {
        " Process tree ".to_string()
    } else {
        format!(" Process tree (search: {}) ", tree.query())
    };
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(focus_style(pv.focus == ProfileFocus::Tree)),
        ),
        p.tree,
    );

    // side panel
    let mut side: Vec<Line> = Vec::new();
    if let Some(n) = tree.selected() {
        side.push(Line::from(Span::styled(
            n.label.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        side.push(Line::from(vec![
            Span::raw("in "),
            Span::styled(
                format!(
                    "{} of {} snapshots ({})",
                    n.snapshots,
                    s.snapshots,
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
                side.push(Line::from(vec![
                    Span::styled(percent(l.commonality), commonality_style(l.commonality)),
                    Span::raw(format!(" {}{access}", l.label)),
                    Span::styled(
                        format!("  {}/{}", l.snapshots, s.snapshots),
                        Style::default().fg(Color::DarkGray),
                    ),
                ]));
            }
        }
    }
    f.render_widget(
        Paragraph::new(side).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Selected process "),
        ),
        p.side,
    );

    // snapshots
    let h = p.snapshots.height.saturating_sub(2) as usize;
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
                Span::raw(format!(
                    "container {}  ",
                    &sn.container_id[..sn.container_id.len().min(12)]
                )),
                Span::raw(format!("host {:<10} ", cut(&sn.host, 10))),
                Span::raw(snapshot_tags(sn)),
                Span::raw(format!("{:>4} nodes ", sn.nodes)),
                if sn.merged {
                    Span::styled("merged", Style::default().fg(Color::Green))
                } else {
                    Span::styled(
                        "kept (profile was Stable)",
                        Style::default().fg(Color::DarkGray),
                    )
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
                .title(format!(
                    " Snapshots and containers ({}) ",
                    pv.snapshots.len()
                ))
                .border_style(focus_style(pv.focus == ProfileFocus::Snapshots)),
        ),
        p.snapshots,
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
