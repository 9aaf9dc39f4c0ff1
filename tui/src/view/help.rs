//! The help overlay, generated from the active keymap.

use crate::app::App;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

pub fn draw(f: &mut Frame, app: &App, body: Rect) {
    let lines_src = app.keymap.help_lines();
    let key_w = lines_src
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4)
        .min(28);
    let lines: Vec<Line> = lines_src
        .iter()
        .skip(app.help_scroll.min(lines_src.len().saturating_sub(1)))
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<key_w$}  "),
                    Style::default()
                        .fg(Color::Cyan)
                        .add_modifier(Modifier::BOLD),
                ),
                Span::raw(d.clone()),
            ])
        })
        .collect();
    let desc_w = lines_src
        .iter()
        .map(|(_, d)| d.chars().count())
        .max()
        .unwrap_or(20);
    let w = ((key_w + desc_w) as u16 + 6).min(body.width);
    let h = (lines.len() as u16 + 2).min(body.height);
    let area = Rect {
        x: body.x + (body.width - w) / 2,
        y: body.y + (body.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys (from the active keymap) "),
        ),
        area,
    );
}
