//! Suppressions screen: every suppression with who, when, why, what it hides; undoable.

use super::list_table;
use super::text::{cut, opt_time, time};
use crate::app::App;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};
use ratatui::Frame;

fn split(body: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Min(5), Constraint::Length(7)]).areas(body)
}

pub fn list_rows(body: Rect) -> Rect {
    let [list, _] = split(body);
    super::table_rows(list)
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let [list, detail] = split(area);
    let visible = app.visible_suppressions();
    let block = Block::default().borders(Borders::ALL).title(format!(
        " Suppressions ({} active, {} in all) ",
        app.suppressions.iter().filter(|s| s.active).count(),
        app.suppressions.len()
    ));
    if visible.is_empty() {
        let msg = if app.suppressions.is_empty() {
            "No suppressions. Accept a suggestion in the signal queue to add one."
        } else {
            "Nothing matches the search."
        };
        f.render_widget(Paragraph::new(msg).block(block), list);
    } else {
        let rows_area = list_rows(area);
        let make = |i: usize, _first: bool| {
            let s = &app.suppressions[i];
            let state = if s.removed_ms.is_some() {
                ("undone", Color::DarkGray)
            } else if s.active {
                ("active", Color::Green)
            } else {
                ("expired", Color::DarkGray)
            };
            Row::new(vec![
                Cell::from(format!("{:>3}", s.id)),
                Cell::from(s.rule_id.clone()),
                Cell::from(s.image.clone()),
                Cell::from(cut(&s.lineage.join(" > "), 40)),
                Cell::from(format!("{:>6}", s.hidden)),
                Cell::from(state.0).style(Style::default().fg(state.1)),
                Cell::from(format!("{} {}", s.created_by, time(s.created_ms))),
            ])
        };
        let table = list_table(
            &visible,
            app.suppression_sel,
            rows_area.height as usize,
            make,
            &[
                Constraint::Length(4),
                Constraint::Fill(2),
                Constraint::Length(16),
                Constraint::Fill(3),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(26),
            ],
            &[
                "ID",
                "RULE",
                "IMAGE",
                "PROCESS",
                "HIDDEN",
                "STATE",
                "BY / WHEN",
            ],
            block,
        );
        f.render_widget(table, list);
    }
    let lines = match app.selected_suppression() {
        Some(s) => vec![
            Line::from(vec![
                Span::styled("expression ", Style::default().fg(Color::Cyan)),
                Span::raw(s.expression.clone()),
            ]),
            Line::from(vec![
                Span::styled("why        ", Style::default().fg(Color::Cyan)),
                Span::raw(s.reason.clone()),
            ]),
            Line::from(vec![
                Span::styled("expires    ", Style::default().fg(Color::Cyan)),
                Span::raw(opt_time(s.expires_ms)),
                Span::styled("   undone ", Style::default().fg(Color::Cyan)),
                Span::raw(opt_time(s.removed_ms)),
            ]),
        ],
        None => vec![],
    };
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Selected suppression "),
        ),
        detail,
    );
}
