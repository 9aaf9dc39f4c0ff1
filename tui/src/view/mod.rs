//! Drawing. Every function here reads the [`App`]; none changes it.

pub mod diff;
pub mod drift;
mod help;
mod images;
pub mod outliers;
mod profile;
mod prompt;
mod responses;
mod signals;
mod snapshot;
mod suppressions;
pub mod text;

use crate::app::{App, Screen};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};
use ratatui::Frame;

/// The screen's regions: tabs line, body, search/message line, status bar.
pub struct Areas {
    pub tabs: Rect,
    pub body: Rect,
    pub footer: Rect,
    pub status: Rect,
}

pub fn areas(size: Rect) -> Areas {
    let [tabs, body, footer, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(size);
    Areas {
        tabs,
        body,
        footer,
        status,
    }
}

/// The rectangle of the main list's data rows on the current screen (for mouse clicks).
pub fn list_rows_area(app: &App, size: Rect) -> Rect {
    let body = areas(size).body;
    match app.screen {
        Screen::Images => images::list_rows(body),
        Screen::Signals => signals::list_rows(body),
        Screen::Suppressions => suppressions::list_rows(body),
        Screen::Responses => responses::list_rows(body),
        Screen::Profile => profile::list_rows(body),
        Screen::Diff => diff::list_rows(body),
        Screen::Outliers => outliers::list_rows(body),
        Screen::Snapshot => snapshot::list_rows(body),
    }
}

/// The data rows of a bordered table with a header line.
pub fn table_rows(table: Rect) -> Rect {
    Rect {
        x: table.x + 1,
        y: table.y + 2,
        width: table.width.saturating_sub(2),
        height: table.height.saturating_sub(3),
    }
}

/// First visible row so that `sel` is on screen in a list of `height` rows.
pub fn scroll_offset(sel: usize, height: usize) -> usize {
    if height == 0 {
        0
    } else {
        sel.saturating_sub(height - 1)
    }
}

/// Colour of a commonality (0..1): common is green, rare is red.
pub fn commonality_style(c: f64) -> Style {
    let color = if c >= 0.8 {
        Color::Green
    } else if c >= 0.4 {
        Color::Yellow
    } else if c >= 0.1 {
        Color::LightRed
    } else {
        Color::Red
    };
    Style::default().fg(color)
}

pub fn severity_style(s: &str) -> Style {
    match s {
        "critical" => Style::default()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD),
        "high" => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        "medium" => Style::default().fg(Color::Yellow),
        "low" => Style::default().fg(Color::Cyan),
        _ => Style::default().fg(Color::Gray),
    }
}

pub fn selected_style() -> Style {
    Style::default().add_modifier(Modifier::REVERSED)
}

/// A list screen's table: the rows of `visible` that fit `height` with the selection in
/// view, the selected one reversed, a bold header and the block. `make(index, first_shown)`
/// builds the row of `visible`'s item `index`.
pub fn list_table<'a>(
    visible: &[usize],
    sel: usize,
    height: usize,
    mut make: impl FnMut(usize, bool) -> Row<'a>,
    widths: &[Constraint],
    headers: &[&'a str],
    block: Block<'a>,
) -> Table<'a> {
    let offset = scroll_offset(sel, height);
    let rows: Vec<Row> = visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(pos, &i)| {
            let row = make(i, pos == offset);
            if pos == sel {
                row.style(selected_style())
            } else {
                row
            }
        })
        .collect();
    Table::new(rows, widths.to_vec())
        .header(
            Row::new(headers.to_vec()).style(
                Style::default()
                    .add_modifier(Modifier::BOLD)
                    .fg(Color::Cyan),
            ),
        )
        .block(block)
}

pub fn draw(f: &mut Frame, app: &App) {
    let a = areas(f.area());
    draw_tabs(f, app, a.tabs);
    match app.screen {
        Screen::Images => images::draw(f, app, a.body),
        Screen::Profile => profile::draw(f, app, a.body),
        Screen::Signals => signals::draw(f, app, a.body),
        Screen::Suppressions => suppressions::draw(f, app, a.body),
        Screen::Diff => diff::draw(f, app, a.body),
        Screen::Outliers => outliers::draw(f, app, a.body),
        Screen::Snapshot => snapshot::draw(f, app, a.body),
        Screen::Responses => responses::draw(f, app, a.body),
    }
    draw_footer(f, app, a.footer);
    draw_status(f, app, a.status);
    if app.confirm.is_some() {
        responses::draw_confirm(f, app, a.body);
    }
    if app.help {
        help::draw(f, app, a.body);
    }
    if let Some(p) = &app.prompt {
        prompt::draw(f, p, a.body);
    }
}

fn draw_tabs(f: &mut Frame, app: &App, area: Rect) {
    let open = app.signals.iter().filter(|s| s.status == "open").count();
    let mut tabs = vec![
        (Screen::Images, format!("1 Images ({})", app.images.len())),
        (Screen::Signals, format!("2 Signals ({open} open)")),
        (
            Screen::Suppressions,
            format!(
                "3 Suppressions ({})",
                app.suppressions.iter().filter(|s| s.active).count()
            ),
        ),
    ];
    // The responses tab appears once there is something in the audit table.
    if !app.responses.is_empty() || app.screen == Screen::Responses {
        tabs.push((
            Screen::Responses,
            format!("4 Responses ({})", app.responses.len()),
        ));
    }
    let mut spans = vec![Span::styled(
        " wsprof ",
        Style::default().fg(Color::Black).bg(Color::Cyan),
    )];
    for (screen, label) in tabs {
        let on = app.screen == screen
            || (screen == Screen::Images
                && matches!(
                    app.screen,
                    Screen::Profile | Screen::Diff | Screen::Outliers | Screen::Snapshot
                ));
        let style = if on {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::default().fg(Color::Gray)
        };
        spans.push(Span::raw("  "));
        spans.push(Span::styled(label, style));
    }
    let here = match app.screen {
        Screen::Profile => app
            .profile
            .as_ref()
            .map(|pv| format!("{}:{}", pv.summary.image, pv.summary.version)),
        Screen::Diff => app
            .diff
            .as_ref()
            .map(|dv| format!("diff {} → {}", dv.diff.from.name(), dv.diff.to.version)),
        Screen::Outliers => app
            .outliers
            .as_ref()
            .map(|ov| format!("{}:{} outliers", ov.report.image, ov.report.version)),
        _ => None,
    };
    if let Some(here) = here {
        spans.push(Span::raw("  > "));
        spans.push(Span::styled(
            here,
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    if let (Screen::Snapshot, Some(sv)) = (app.screen, &app.snapshot) {
        spans.push(Span::raw("  > "));
        spans.push(Span::styled(
            format!(
                "{}:{} > snapshot {}",
                sv.detail.image, sv.detail.version, sv.detail.snapshot.id
            ),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let line = if app.search.editing || (app.message.is_empty() && !app.search.query.is_empty()) {
        let cursor = if app.search.editing { "_" } else { "" };
        Line::from(vec![
            Span::styled("/", Style::default().fg(Color::Cyan)),
            Span::raw(format!("{}{cursor}", app.search.query)),
            Span::styled(
                if app.search.editing {
                    "   (Enter keep, Esc clear)"
                } else {
                    "   (Esc clears)"
                },
                Style::default().fg(Color::DarkGray),
            ),
        ])
    } else if !app.message.is_empty() {
        Line::from(Span::styled(
            app.message.clone(),
            Style::default().fg(Color::Yellow),
        ))
    } else {
        let k = &app.keymap;
        let hint = |a: crate::action::Action, what: &str| {
            format!("{} {what}", k.keys_for(a).split(", ").next().unwrap_or(""))
        };
        use crate::action::Action as A;
        let mut parts = vec![
            hint(A::Help, "help"),
            hint(A::Search, "search"),
            hint(A::Open, "open"),
            hint(A::Back, "back"),
        ];
        if app.screen == Screen::Signals {
            parts.push(hint(A::Accept, "accept"));
            parts.push(hint(A::Reject, "reject"));
            parts.push(hint(A::ViewProfile, "profile"));
            parts.push(hint(A::ViewSnapshot, "snapshot"));
            parts.push(hint(A::Freeze, "freeze"));
        }
        if app.screen == Screen::Responses {
            parts.push(hint(A::Thaw, "thaw"));
        }
        if app.screen == Screen::Suppressions {
            parts.push(hint(A::Undo, "undo"));
        }
        if matches!(app.screen, Screen::Images | Screen::Diff) {
            parts.push(hint(A::Diff, "diff"));
        }
        if matches!(app.screen, Screen::Images | Screen::Profile) {
            parts.push(hint(A::Outliers, "outliers"));
        }
        if app.screen == Screen::Profile {
            parts.push(hint(A::FocusNext, "panel"));
            parts.push(hint(A::ViewSnapshot, "snapshot"));
        }
        if matches!(app.screen, Screen::Images | Screen::Profile) {
            parts.push(hint(A::Promote, "promote"));
            parts.push(hint(A::ResetLearning, "reset"));
            parts.push(hint(A::Undo, "undo"));
        }
        parts.push(hint(A::Quit, "quit"));
        Line::from(Span::styled(
            parts.join("  "),
            Style::default().fg(Color::DarkGray),
        ))
    };
    f.render_widget(Paragraph::new(line), area);
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let b = &app.banner;
    let text = [b.mode.as_str(), b.clock.as_str(), b.progress.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" | ");
    f.render_widget(
        Paragraph::new(Line::from(Span::raw(format!(" {text}"))))
            .style(Style::default().fg(Color::Black).bg(Color::Gray)),
        area,
    );
}
