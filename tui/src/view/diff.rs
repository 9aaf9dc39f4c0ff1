//! Diff screen: two versions of an image compared as a tree of what was added, removed or
//! moved (with the unchanged ancestors as context), coloured by commonality as on the
//! profile screen; the selected node's figures in both profiles beside it.

use super::text::{cut, percent};
use super::{commonality_style, scroll_offset, selected_style};
use crate::app::App;
use model::diff::{Change, DiffNode};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

/// One line of the diff tree, for the screen and `wsprof profile diff`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffLine {
    /// Index into the nodes.
    pub node: usize,
    /// `+ added`, `- removed`, `~ moved`, or empty for context.
    pub marker: &'static str,
    /// `[file] /etc/x` (processes without the kind).
    pub text: String,
}

pub fn marker(c: Change) -> &'static str {
    match c {
        Change::Added => "+ added",
        Change::Removed => "- removed",
        Change::Moved => "~ moved",
        Change::Context => "",
    }
}

fn node_text(n: &DiffNode) -> String {
    match n.kind.as_str() {
        "process" => n.label.clone(),
        k => format!("[{k}] {}", n.label),
    }
}

pub fn lines(nodes: &[DiffNode]) -> Vec<DiffLine> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| DiffLine {
            node: i,
            marker: marker(n.change),
            text: node_text(n),
        })
        .collect()
}

fn change_style(c: Change) -> Style {
    match c {
        Change::Added => Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
        Change::Removed => Style::default()
            .fg(Color::Magenta)
            .add_modifier(Modifier::BOLD),
        Change::Moved => Style::default().fg(Color::Yellow),
        Change::Context => Style::default().fg(Color::DarkGray),
    }
}

fn pct_span(c: Option<f64>) -> Span<'static> {
    match c {
        Some(c) => Span::styled(percent(c), commonality_style(c)),
        None => Span::styled("   -", Style::default().fg(Color::DarkGray)),
    }
}

struct Parts {
    header: Rect,
    tree: Rect,
    side: Rect,
}

fn parts(body: Rect) -> Parts {
    let [header, main] = Layout::vertical([Constraint::Length(4), Constraint::Min(5)]).areas(body);
    let [tree, side] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(main);
    Parts { header, tree, side }
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

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let Some(dv) = &app.diff else {
        f.render_widget(
            Paragraph::new(
                "No diff: select a profile on the images screen and press the diff key.",
            )
            .block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let d = &dv.diff;
    let p = parts(area);
    let side = |s: &model::diff::DiffSide| {
        vec![
            Span::styled(s.name(), Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                " ({}, {} snapshots, {} nodes, ",
                s.status, s.snapshots, s.nodes
            )),
            Span::styled(
                percent(s.commonality).trim().to_string(),
                commonality_style(s.commonality),
            ),
            Span::raw(")"),
        ]
    };
    let mut first = side(&d.from);
    first.push(Span::raw("  →  "));
    first.extend(side(&d.to));
    let counts = Line::from(vec![
        Span::styled(format!("+{} added", d.added), change_style(Change::Added)),
        Span::raw("   "),
        Span::styled(
            format!("-{} removed", d.removed),
            change_style(Change::Removed),
        ),
        Span::raw("   "),
        Span::styled(
            format!(
                "~{} moved by more than {}",
                d.moved,
                percent(d.threshold).trim()
            ),
            change_style(Change::Moved),
        ),
        Span::styled(
            if dv.others.len() > 1 {
                format!(
                    "   ({} other versions: {} compares with the next)",
                    dv.others.len(),
                    app.keymap.keys_for(crate::action::Action::Diff)
                )
            } else {
                String::new()
            },
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    f.render_widget(
        Paragraph::new(vec![Line::from(first), counts]).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Version diff "),
        ),
        p.header,
    );

    let rows_area = list_rows(area);
    let visible = app.visible_diff();
    let offset = scroll_offset(dv.sel, rows_area.height as usize);
    let tree_lines: Vec<Line> = if d.is_empty() {
        vec![Line::from(Span::styled(
            "No differences: the same nodes, no commonality moved by more than the threshold.",
            Style::default().fg(Color::DarkGray),
        ))]
    } else {
        visible
            .iter()
            .enumerate()
            .skip(offset)
            .take(rows_area.height as usize)
            .map(|(pos, &i)| {
                let n = &d.nodes[i];
                let mut line = Line::from(vec![
                    Span::styled(format!("{:<10}", marker(n.change)), change_style(n.change)),
                    pct_span(n.before),
                    Span::styled(" → ", Style::default().fg(Color::DarkGray)),
                    pct_span(n.after),
                    Span::raw(" "),
                    Span::raw("  ".repeat(n.depth as usize)),
                    Span::styled(
                        node_text(n),
                        if n.change == Change::Context {
                            Style::default()
                        } else {
                            Style::default().add_modifier(Modifier::BOLD)
                        },
                    ),
                ]);
                if pos == dv.sel {
                    line = line.style(selected_style());
                }
                line
            })
            .collect()
    };
    let title = if app.screen == crate::app::Screen::Diff && !app.search.query.is_empty() {
        format!(" Changes, in their tree (search: {}) ", app.search.query)
    } else {
        " Changes, in their tree (before → after) ".to_string()
    };
    f.render_widget(
        Paragraph::new(tree_lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(Style::default().fg(Color::Cyan)),
        ),
        p.tree,
    );

    let mut side_lines: Vec<Line> = Vec::new();
    if let Some(n) = app.selected_diff_node() {
        side_lines.push(Line::from(Span::styled(
            n.label.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        side_lines.push(Line::from(vec![
            Span::raw(format!("{} node, ", n.kind)),
            Span::styled(
                match n.change {
                    Change::Context => "unchanged (shown for what lies below)",
                    Change::Added => "added",
                    Change::Removed => "removed",
                    Change::Moved => "commonality moved",
                },
                change_style(n.change),
            ),
        ]));
        side_lines.push(Line::from(Span::styled(
            cut(&model::NodeKey(n.key.clone()).describe(), 200),
            Style::default().fg(Color::DarkGray),
        )));
        side_lines.push(Line::raw(""));
        let w = d
            .from
            .name()
            .chars()
            .count()
            .max(d.to.name().chars().count())
            .min(30);
        for (side, c, count) in [
            (&d.from, n.before, n.before_snapshots),
            (&d.to, n.after, n.after_snapshots),
        ] {
            let mut spans = vec![Span::raw(format!("{:<w$} ", cut(&side.name(), w)))];
            match c {
                Some(c) => {
                    spans.push(Span::styled(percent(c), commonality_style(c)));
                    spans.push(Span::raw(format!(
                        "  {count} of {} snapshots",
                        side.snapshots
                    )));
                }
                None => spans.push(Span::styled(
                    "not in this profile",
                    Style::default().fg(Color::DarkGray),
                )),
            }
            side_lines.push(Line::from(spans));
        }
        if let (Change::Moved, Some(a), Some(b)) = (n.change, n.before, n.after) {
            side_lines.push(Line::raw(format!("moved {:+.0} points", (b - a) * 100.0)));
        }
        side_lines.push(Line::raw(""));
        side_lines.push(Line::from(Span::styled(
            format!(
                "{} opens the profile at this node",
                app.keymap
                    .keys_for(crate::action::Action::Open)
                    .split(", ")
                    .next()
                    .unwrap_or("")
            ),
            Style::default().fg(Color::DarkGray),
        )));
    }
    f.render_widget(
        Paragraph::new(side_lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Selected node "),
        ),
        p.side,
    );
}
