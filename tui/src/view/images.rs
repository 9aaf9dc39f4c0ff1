//! Images screen: profiles grouped by image name, one row per version.

use super::text::{opt_time, percent};
use super::{commonality_style, list_table};
use crate::app::App;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row};
use ratatui::Frame;

pub fn list_rows(body: Rect) -> Rect {
    super::table_rows(body)
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let visible = app.visible_images();
    let block = Block::default().borders(Borders::ALL).title(format!(
        " Images: {} profiles of {} images ",
        app.images.len(),
        {
            let mut names: Vec<&str> = app.images.iter().map(|p| p.image.as_str()).collect();
            names.dedup();
            names.len()
        }
    ));
    if visible.is_empty() {
        let msg = if app.images.is_empty() {
            "No profiles yet. Snapshots appear here as they are merged."
        } else {
            "Nothing matches the search."
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    let rows_area = list_rows(area);
    let mut prev_image: Option<&str> = None;
    let make = |i: usize, first_shown: bool| {
        let p = &app.images[i];
        let first_of_group = prev_image != Some(p.image.as_str()) || first_shown;
        prev_image = Some(p.image.as_str());
        let status_style = if p.status == "stable" {
            Style::default().fg(Color::Green)
        } else {
            Style::default().fg(Color::Yellow)
        };
        let name = if first_of_group {
            p.image.clone()
        } else {
            String::new()
        };
        Row::new(vec![
            Cell::from(name).style(Style::default().add_modifier(Modifier::BOLD)),
            // `!`: snapshots of this tag came from more than one image digest (retagged).
            Cell::from(if p.digest_changed {
                format!("{}!", p.version)
            } else {
                p.version.clone()
            })
            .style(if p.digest_changed {
                Style::default().fg(Color::Yellow)
            } else {
                Style::default()
            }),
            Cell::from(format!("{:>5}", p.snapshots)),
            // `*`: a person set it (promote, reset); the line below says who and why
            Cell::from(crate::commands::status_text(p)).style(status_style),
            Cell::from(percent(p.commonality)).style(commonality_style(p.commonality)),
            Cell::from(format!("{:>5}", p.containers)),
            Cell::from(format!("{:>5}", p.open_signals)),
            Cell::from(opt_time(p.last_updated_ms)),
        ])
    };
    let table = list_table(
        &visible,
        app.image_sel,
        rows_area.height as usize,
        make,
        &[
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(17),
        ],
        &[
            "IMAGE",
            "VERSION",
            "SNAPSHOTS",
            "STATUS",
            "COMMONALITY",
            "CONTAINERS",
            "SIGNALS",
            "LAST UPDATED",
        ],
        block,
    );
    f.render_widget(table, area);
    if let Some(p) = app.selected_image() {
        // who set the status, when and why, before the counts (the line is cut at the
        // screen's width)
        let mut text = format!(" {}:{} - ", p.image, p.version);
        if let Some(c) = &p.lifecycle_decision {
            text.push_str(&format!("{} - ", super::text::decision_text(c)));
        }
        text.push_str(&format!(
            "{} nodes, {} snapshots kept after Stable",
            p.nodes, p.unmerged_snapshots
        ));
        if p.archived_snapshots > 0 {
            text.push_str(&format!(", {} archived by a reset", p.archived_snapshots));
        }
        text.push(' ');
        let hint = Line::from(vec![Span::styled(
            text,
            Style::default().fg(if p.status_manual {
                Color::Magenta
            } else {
                Color::DarkGray
            }),
        )]);
        let r = Rect {
            x: area.x + 1,
            y: area.y + area.height.saturating_sub(1),
            width: area.width.saturating_sub(2),
            height: 1,
        };
        f.render_widget(Paragraph::new(hint), r);
    }
}
