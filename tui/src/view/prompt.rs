//! The confirmation of a lifecycle decision: it names the profile, says what will happen,
//! and takes the reason as typed (Enter confirms, Esc cancels).

use crate::app::{Prompt, PromptKind};
use model::LifecycleAction;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(f: &mut Frame, p: &Prompt, body: Rect) {
    let name = format!("{}:{}", p.image, p.version);
    let (title, what, reason_label) = match &p.kind {
        PromptKind::Lifecycle(LifecycleAction::Promote) => (
            format!(" Promote {name} to Stable? "),
            format!(
                "It keeps what {} snapshots taught it and takes no more; activity it lacks becomes drift.",
                p.snapshots
            ),
            "Why (required): ",
        ),
        PromptKind::Lifecycle(LifecycleAction::Reset) => (
            format!(" Reset {name} to Learning? "),
            format!(
                "It learns again from its next snapshot. Its {} nodes and {} snapshots are archived (kept; undo brings them back).",
                p.nodes, p.snapshots
            ),
            "Why (required): ",
        ),
        PromptKind::Undo {
            id,
            action,
            who,
            reason,
        } => (
            format!(" Undo {action} #{id} of {name}? "),
            format!(
                "{action} by {who}{}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ),
            "Why (optional): ",
        ),
    };
    let mut lines = vec![
        Line::from(what),
        Line::from(""),
        Line::from(vec![
            Span::styled(reason_label, Style::default().fg(Color::Cyan)),
            Span::styled(
                format!("{}_", p.reason),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ]),
    ];
    if !p.error.is_empty() {
        lines.push(Line::from(Span::styled(
            p.error.clone(),
            Style::default().fg(Color::Red),
        )));
    }
    lines.push(Line::from(Span::styled(
        "Enter confirm   Esc cancel",
        Style::default().fg(Color::DarkGray),
    )));
    let w = body.width.saturating_sub(4).min(76);
    let h = (lines.len() as u16 + 3).min(body.height);
    let area = Rect {
        x: body.x + (body.width - w) / 2,
        y: body.y + (body.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(Style::default().fg(Color::Yellow)),
        ),
        area,
    );
}
