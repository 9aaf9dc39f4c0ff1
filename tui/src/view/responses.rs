//! Responses screen: the audit table of containers frozen and thawed (who, when, which
//! container and image, from which signal, through what, and how it went); and the
//! confirmation dialog asked before a freeze or thaw.

use super::list_table;
use super::text::{cut, time};
use crate::action::Action;
use crate::app::App;
use crate::respond::short_id;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Wrap};
use ratatui::Frame;
use store::ResponseAction;

fn split(body: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Min(5), Constraint::Length(7)]).areas(body)
}

pub fn list_rows(body: Rect) -> Rect {
    let [list, _] = split(body);
    super::table_rows(list)
}

fn label(key: &str) -> Span<'static> {
    Span::styled(format!("{key:<10}"), Style::default().fg(Color::Cyan))
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let [list, detail] = split(area);
    let visible = app.visible_responses();
    let failed = app.responses.iter().filter(|r| !r.ok()).count();
    let block = Block::default().borders(Borders::ALL).title(format!(
        " Responses ({} in all, {failed} failed) ",
        app.responses.len()
    ));
    if visible.is_empty() {
        let msg = if app.responses.is_empty() {
            format!(
                "No responses. {} on a signal freezes its container (after a question); {} thaws it.",
                first_key(app, Action::Freeze),
                first_key(app, Action::Thaw)
            )
        } else {
            "Nothing matches the search.".to_string()
        };
        f.render_widget(Paragraph::new(msg).block(block), list);
    } else {
        let rows_area = list_rows(area);
        let make = |i: usize, _first: bool| {
            let r = &app.responses[i];
            let (outcome, colour) = if r.ok() {
                ("ok", Color::Green)
            } else {
                ("error", Color::Red)
            };
            let action_colour = match r.action {
                ResponseAction::Freeze => Color::LightBlue,
                ResponseAction::Thaw => Color::Yellow,
            };
            Row::new(vec![
                Cell::from(format!("{:>3}", r.id)),
                Cell::from(time(r.at_ms)),
                Cell::from(r.action.as_str()).style(Style::default().fg(action_colour)),
                Cell::from(short_id(&r.container_id).to_string()),
                Cell::from(format!("{}:{}", r.image, r.version)),
                Cell::from(r.signal_id.map(|s| format!("#{s}")).unwrap_or_default()),
                Cell::from(r.who.clone()),
                Cell::from(outcome).style(Style::default().fg(colour)),
            ])
        };
        let table = list_table(
            &visible,
            app.response_sel,
            rows_area.height as usize,
            make,
            &[
                Constraint::Length(4),
                Constraint::Length(16),
                Constraint::Length(6),
                Constraint::Length(12),
                Constraint::Fill(2),
                Constraint::Length(6),
                Constraint::Fill(1),
                Constraint::Length(7),
            ],
            &[
                "ID",
                "WHEN",
                "ACTION",
                "CONTAINER",
                "IMAGE",
                "SIGNAL",
                "WHO",
                "OUTCOME",
            ],
            block,
        );
        f.render_widget(table, list);
    }
    let lines = match app.selected_response() {
        Some(r) => vec![
            Line::from(vec![label("container"), Span::raw(r.container_id.clone())]),
            Line::from(vec![
                label("through"),
                Span::raw(if r.method.is_empty() {
                    "nothing reached".to_string()
                } else if r.cgroup_path.is_empty() {
                    r.method.clone()
                } else {
                    format!("{} {}", r.method, r.cgroup_path)
                }),
            ]),
            Line::from(vec![
                label("outcome"),
                if r.ok() {
                    Span::styled("ok", Style::default().fg(Color::Green))
                } else {
                    Span::styled(r.error.clone(), Style::default().fg(Color::Red))
                },
            ]),
            Line::from(vec![label("why"), Span::raw(r.reason.clone())]),
        ],
        None => vec![],
    };
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Selected response "),
        ),
        detail,
    );
}

fn first_key(app: &App, a: Action) -> String {
    app.keymap
        .keys_for(a)
        .split(", ")
        .next()
        .unwrap_or("")
        .to_string()
}

/// The question before a freeze or thaw, over the current screen: what will happen to
/// which container of which image, and the keys that answer it.
pub fn draw_confirm(f: &mut Frame, app: &App, body: Rect) {
    let Some(c) = &app.confirm else {
        return;
    };
    let t = &c.target;
    let (verb, effect) = match c.request.action {
        ResponseAction::Freeze => (
            "Freeze",
            "Every process in it stops where it is (cgroup freezer) until it is thawed.",
        ),
        ResponseAction::Thaw => ("Thaw", "Its processes run again."),
    };
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{verb} container "), bold),
            Span::styled(
                short_id(&t.container_id).to_string(),
                bold.fg(Color::Yellow),
            ),
            Span::styled(" of image ", bold),
            Span::styled(format!("{}:{}", t.image, t.version), bold.fg(Color::Yellow)),
            Span::styled("?", bold),
        ]),
        Line::from(""),
        Line::from(vec![
            label("container"),
            Span::raw(cut(&t.container_id, 64)),
        ]),
        Line::from(vec![
            label("image"),
            Span::raw(format!("{}:{}", t.image, t.version)),
        ]),
    ];
    if let (Some(id), Some((rule, severity))) = (t.signal_id, &c.signal) {
        lines.push(Line::from(vec![
            label("signal"),
            Span::raw(format!("#{id} {rule} ({severity})")),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(effect));
    lines.push(Line::from(
        "It is recorded with your name in the responses table.",
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(
            format!(" {} ", first_key(app, Action::Confirm)),
            Style::default().fg(Color::Black).bg(Color::Yellow),
        ),
        Span::raw(format!(" {}   ", verb.to_lowercase())),
        Span::styled(
            format!(" {} ", first_key(app, Action::Back)),
            Style::default().fg(Color::Black).bg(Color::Gray),
        ),
        Span::raw(" cancel"),
    ]));
    let w = 82.min(body.width);
    let h = (lines.len() as u16 + 2).min(body.height);
    let area = Rect {
        x: body.x + (body.width - w) / 2,
        y: body.y + (body.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(Color::Yellow))
                .title(format!(" {verb} container? ")),
        ),
        area,
    );
}
