//! Snapshot screen: one snapshot's own activity tree, each node with its commonality in the
//! profile now, `+new` on what this snapshot brought to the profile first, and (opened
//! from a signal) `◆` on the signal's node.

use super::profile::{draw_side, draw_tree, inner};
use super::text::{snapshot_state, time};
use crate::app::{App, SnapshotView};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use store::NodeRow;

fn parts(body: Rect) -> (Rect, Rect, Rect) {
    let [header, main] = Layout::vertical([Constraint::Length(5), Constraint::Min(6)]).areas(body);
    let [tree, side] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
    (header, tree, side)
}

pub fn list_rows(body: Rect) -> Rect {
    inner(parts(body).1)
}

/// `+new` and `◆ signal #N` after a node's label.
fn marks(sv: &SnapshotView, n: &NodeRow) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    if sv.first_seen.contains(&n.key) {
        out.push(Span::styled(
            "  +new",
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    if let Some((id, key)) = &sv.signal {
        if key == &n.key {
            out.push(Span::styled(
                format!("  ◆ signal #{id}"),
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        } else if n.kind == "process" && sv.tree.owner_of(key) == Some(n.key.as_str()) {
            // the signal's node is this process's activity, or below it and not in the tree
            out.push(Span::styled(
                format!("  ◇ signal #{id}"),
                Style::default().fg(Color::Red),
            ));
        }
    }
    out
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let Some(sv) = &app.snapshot else {
        f.render_widget(
            Paragraph::new("This snapshot is not in the store (any more).")
                .block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let (header, tree, side) = parts(area);
    let d = &sv.detail;
    let sn = &d.snapshot;
    let state = snapshot_state(d);
    let dim = Style::default().fg(Color::DarkGray);
    let lines = vec![
        Line::from(vec![
            Span::styled(
                format!("snapshot {}  ", sn.id),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{}:{}  ", d.image, d.version)),
            Span::styled(
                state,
                Style::default().fg(if sn.merged {
                    Color::Green
                } else {
                    Color::Yellow
                }),
            ),
            Span::styled(
                match &sv.signal {
                    Some((id, _)) => format!("   opened from signal #{id}: its node ◆"),
                    None => String::new(),
                },
                Style::default().fg(Color::Red),
            ),
        ]),
        Line::from(vec![
            Span::raw(format!(
                "window {} .. {}   container {}   host {}",
                time(sn.started_ms),
                time(sn.ended_ms),
                &sn.container_id[..sn.container_id.len().min(12)],
                sn.host
            )),
            Span::styled(
                if sn.tags.is_empty() {
                    String::new()
                } else {
                    format!("   {}", sn.tags.join(" "))
                },
                dim,
            ),
        ]),
        Line::from(vec![
            Span::raw(format!("{} nodes, ", d.nodes.len())),
            Span::styled(
                format!("{} first seen here (+new)", d.first_seen_here.len()),
                Style::default().fg(Color::Yellow),
            ),
            Span::styled(
                format!(
                    "; % = commonality in the profile now ({} snapshots, {})",
                    d.profile_snapshots, d.profile_status
                ),
                dim,
            ),
        ]),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL)),
        header,
    );
    let m = |n: &NodeRow| marks(sv, n);
    draw_tree(f, tree, &sv.tree, true, "Snapshot tree", &m);
    draw_side(
        f,
        side,
        &sv.tree,
        d.profile_snapshots,
        "Selected process",
        &m,
    );
}
