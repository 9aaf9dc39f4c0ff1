//! Signal queue: newest first, filters, and for the selected signal its profile context and
//! suppression suggestion with a preview of what accepting would hide.

use super::text::{cut, percent, time};
use super::{commonality_style, list_table, severity_style};
use crate::action::Action;
use crate::app::App;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};
use ratatui::Frame;

fn split(body: Rect) -> [Rect; 2] {
    Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(body)
}

pub fn list_rows(body: Rect) -> Rect {
    let [list, _] = split(body);
    super::table_rows(list)
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let [list, detail] = split(area);
    let visible = app.visible_signals();
    let mut filters = Vec::new();
    if let Some(s) = &app.filter.status {
        filters.push(format!("status={s}"));
    }
    if let Some(i) = &app.filter.image {
        filters.push(format!("image={i}"));
    }
    if let Some(r) = &app.filter.rule {
        filters.push(format!("rule={r}"));
    }
    if app.filter.limit.is_some_and(|n| app.signals.len() >= n) {
        // a full page: older signals are in the store (`wsprof signals`, or narrow the filters)
        filters.push(format!("newest {}", app.signals.len()));
    }
    let title = if filters.is_empty() {
        format!(" Signal queue ({}) ", visible.len())
    } else {
        format!(" Signal queue ({}) [{}] ", visible.len(), filters.join(" "))
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    if visible.is_empty() {
        let msg = if app.signals.is_empty() {
            "No signals yet."
        } else {
            "Nothing matches."
        };
        f.render_widget(Paragraph::new(msg).block(block), list);
    } else {
        let rows_area = list_rows(area);
        let make = |i: usize, _first: bool| {
            let s = &app.signals[i];
            let mark = match (s.status.as_str(), s.suggestion.is_some()) {
                ("suppressed", _) => Span::styled("S", Style::default().fg(Color::DarkGray)),
                ("rejected", _) => Span::styled("X", Style::default().fg(Color::Red)),
                (_, true) => Span::styled("✓", Style::default().fg(Color::Green)),
                _ => Span::raw(" "),
            };
            let count = if s.count > 1 {
                format!("×{}", s.count)
            } else {
                String::new()
            };
            let row = Row::new(vec![
                Cell::from(time(s.ts_ms)[8..].to_string()),
                Cell::from(Span::styled(
                    cut(&s.severity, 4).replace('…', ""),
                    severity_style(&s.severity),
                )),
                Cell::from(mark),
                Cell::from(queue_rule(s)),
                Cell::from(format!("{}:{}", s.image, s.version)),
                Cell::from(model::event::base_name(&s.process.exec_path).to_string()),
                Cell::from(count),
            ]);
            if s.status != "open" {
                row.style(Style::default().fg(Color::DarkGray))
            } else {
                row
            }
        };
        let table = list_table(
            &visible,
            app.signal_sel,
            rows_area.height as usize,
            make,
            &[
                Constraint::Length(8),
                Constraint::Length(4),
                Constraint::Length(1),
                Constraint::Fill(3),
                Constraint::Fill(2),
                Constraint::Length(10),
                Constraint::Length(5),
            ],
            &["DAY TIME", "SEV", "", "RULE", "IMAGE", "PROCESS", "COUNT"],
            block,
        );
        f.render_widget(table, list);
    }
    draw_detail(f, app, detail);
}

fn label(s: &str) -> Span<'static> {
    Span::styled(format!("{s:<10}"), Style::default().fg(Color::Cyan))
}

fn draw_detail(f: &mut Frame, app: &App, area: Rect) {
    let Some(s) = app.selected_signal() else {
        f.render_widget(
            Block::default().borders(Borders::ALL).title(" Signal "),
            area,
        );
        return;
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("#{} ", s.id),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                s.rule_id.clone(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw("  "),
            Span::styled(s.severity.clone(), severity_style(&s.severity)),
        ]),
        Line::from(vec![
            label("status"),
            Span::raw(format!(
                "{} ({}, last {})",
                s.status,
                plural(s.count as u64, "match"),
                time(s.last_ts_ms)
            )),
        ]),
    ];
    if !s.mitre.is_empty() {
        lines.push(Line::from(vec![label("mitre"), Span::raw(s.mitre.clone())]));
    }
    lines.push(Line::from(vec![
        label("image"),
        Span::raw(format!("{}:{}", s.image, s.version)),
    ]));
    lines.push(Line::from(vec![
        label("container"),
        Span::raw(s.container_id[..s.container_id.len().min(12)].to_string()),
    ]));
    if !s.tags.is_empty() {
        lines.push(Line::from(vec![label("tags"), Span::raw(s.tags.join(" "))]));
    }
    lines.push(Line::from(vec![
        label("event"),
        Span::raw(s.summary.clone()),
    ]));
    let mut lineage = s.process.ancestors.clone();
    lineage.reverse();
    lineage.push(s.process.exec_path.clone());
    lines.push(Line::from(vec![
        label("process"),
        Span::raw(lineage.join(" > ")),
    ]));
    if !s.process.args.is_empty() {
        lines.push(Line::from(vec![
            label("argv"),
            Span::raw(cut(&s.process.args.join(" "), 160)),
        ]));
    }
    if !s.reason.is_empty() {
        lines.push(Line::from(vec![label("why"), Span::raw(s.reason.clone())]));
    }
    if s.kind == "drift" {
        // the novel tree is what matters here; drift gets no suggestion
        push_drift(&mut lines, s);
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(" Signal ")),
            area,
        );
        return;
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "Profile context",
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
    )));
    match (&s.suggestion, s.status.as_str()) {
        (Some(sug), status) => {
            lines.push(Line::from(vec![
                Span::styled("✓ ", Style::default().fg(Color::Green)),
                Span::styled(sug.text(), commonality_style(sug.commonality())),
            ]));
            lines.push(Line::raw(format!(
                "  node: {}",
                cut(&model::NodeKey(sug.node.0.clone()).last().1, 60)
            )));
            if status == "open" {
                let keys = app.keymap.keys_for(Action::Accept);
                let preview = match app.current_preview() {
                    Some((n, m)) => format!(
                        "hides now: {} ({}), and all future matches",
                        plural(n as u64, "signal"),
                        plural(m, "match")
                    ),
                    None => "accepting hides this signal and future matches".to_string(),
                };
                lines.push(Line::from(Span::styled(
                    format!(
                        "Suggestion: suppress {} for this image and process",
                        s.rule_id
                    ),
                    Style::default().add_modifier(Modifier::BOLD),
                )));
                lines.push(Line::raw(format!("  {preview}")));
                lines.push(Line::from(vec![
                    Span::raw("  press "),
                    Span::styled(
                        keys,
                        Style::default()
                            .fg(Color::Green)
                            .add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(" to accept, "),
                    Span::styled(
                        app.keymap.keys_for(Action::Reject),
                        Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(" to reject"),
                ]));
            } else if let Some(id) = s.suppression_id {
                lines.push(Line::raw(format!("  suppressed by suppression {id}")));
            }
        }
        (None, _) => {
            let why = match &s.suggestion_block {
                Some(b) => format!("no suggestion: {b}"),
                None => "no suggestion: this behaviour is not common for the image".to_string(),
            };
            lines.push(Line::from(Span::styled(
                why,
                Style::default().fg(Color::Red),
            )));
            let c = app
                .images
                .iter()
                .find(|p| p.image == s.image && p.version == s.version)
                .map(|p| {
                    format!(
                        "  profile {} ({} snapshots, {})",
                        p.status,
                        p.snapshots,
                        percent(p.commonality).trim()
                    )
                });
            if let Some(c) = c {
                lines.push(Line::raw(c));
            }
        }
    }
    push_matches(&mut lines, s);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Signal ")),
        area,
    );
}

/// Distinct matches shown in the panel; the rest are counted.
const PANEL_MATCHES: usize = 8;
/// Novel nodes shown in the panel; the rest are counted.
const PANEL_NODES: usize = 40;

/// The RULE cell of the queue: a drift signal's size, or the rule with what the rate limit
/// counted on it.
fn queue_rule(s: &store::SignalRow) -> String {
    if s.kind == "drift" {
        // `drift: 37 novel nodes (5 exec, ...)` made to fit: the size first
        s.summary
            .replacen(" novel nodes", " nodes", 1)
            .replacen(" novel node", " node", 1)
    } else if s.rate_limited > 0 {
        format!("{} (+{} rate-limited)", s.rule_id, s.rate_limited)
    } else {
        s.rule_id.clone()
    }
}

fn heading(text: String) -> Line<'static> {
    Line::from(Span::styled(
        text,
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
    ))
}

/// The distinct matches of a rule signal (when there is more than its own), paged.
fn push_matches(lines: &mut Vec<Line<'static>>, s: &store::SignalRow) {
    if s.kind == "drift" || (s.matches_total <= 1 && s.rate_limited == 0) {
        return;
    }
    lines.push(Line::raw(""));
    lines.push(heading(format!("Distinct matches ({})", s.matches_total)));
    if let Some(note) = &s.rate_limit_note {
        lines.push(Line::from(Span::styled(
            note.clone(),
            Style::default().fg(Color::Yellow),
        )));
    }
    for m in s.matches.iter().take(PANEL_MATCHES) {
        lines.push(Line::raw(format!(
            "  ×{:<4} {}",
            m.count,
            cut(&m.summary, 120)
        )));
    }
    let shown = s.matches.len().min(PANEL_MATCHES) as u64;
    let rest = u64::from(s.matches_total).saturating_sub(shown);
    if rest > 0 {
        lines.push(Line::raw(format!(
            "  … and {} (wsprof signal show {})",
            plural(rest, "more match"),
            s.id
        )));
    }
}

/// The novel tree of a drift signal, paged.
fn push_drift(lines: &mut Vec<Line<'static>>, s: &store::SignalRow) {
    if s.drift.is_empty() {
        return;
    }
    lines.push(Line::raw(""));
    lines.push(heading(format!(
        "Novel activity ({})",
        plural(s.drift.len() as u64, "node")
    )));
    let tree = super::drift::tree_lines(&s.drift, true);
    for l in tree.iter().take(PANEL_NODES) {
        let indent = "  ".repeat(l.depth + 1);
        let style = if l.severity.is_empty() {
            Style::default().fg(Color::DarkGray)
        } else {
            severity_style(&l.severity)
        };
        lines.push(Line::from(Span::styled(
            format!("{indent}{}", l.text),
            style,
        )));
    }
    if tree.len() > PANEL_NODES {
        lines.push(Line::raw(format!(
            "  … and {} more lines (wsprof signal show {})",
            tree.len() - PANEL_NODES,
            s.id
        )));
    }
}

/// `1 signal`, `2 signals`, `3 matches`.
pub fn plural(n: u64, word: &str) -> String {
    match (n, word.ends_with("ch") || word.ends_with('s')) {
        (1, _) => format!("1 {word}"),
        (_, true) => format!("{n} {word}es"),
        _ => format!("{n} {word}s"),
    }
}
