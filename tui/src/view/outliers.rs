//! Outliers screen: a profile's containers ranked by how rare their behaviour is in the
//! profile (the formula in the header), and the nodes that set the selected one apart.

use super::text::{cut, percent, time};
use super::{commonality_style, list_table};
use crate::app::App;
use model::outlier::OutlierNode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};
use ratatui::Frame;

/// `  0% not in the profile, only this container, 3 of its snapshots: nginx > sh: file /x`.
pub fn node_text(n: &OutlierNode) -> String {
    format!(
        "{} {}, {}, in {} of its snapshots: {}",
        percent(n.commonality),
        if n.in_profile {
            "in the profile"
        } else {
            "not in the profile"
        },
        others(n.other_containers),
        n.snapshots,
        n.path
    )
}

fn others(n: u32) -> String {
    match n {
        0 => "only this container".into(),
        1 => "1 other container".into(),
        n => format!("{n} other containers"),
    }
}

struct Parts {
    header: Rect,
    list: Rect,
    side: Rect,
}

fn parts(body: Rect) -> Parts {
    let [header, main] = Layout::vertical([Constraint::Length(4), Constraint::Min(5)]).areas(body);
    let [list, side] =
        Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(main);
    Parts { header, list, side }
}

pub fn list_rows(body: Rect) -> Rect {
    super::table_rows(parts(body).list)
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let Some(ov) = &app.outliers else {
        f.render_widget(
            Paragraph::new("No ranking: open a profile and press the outliers key.")
                .block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let r = &ov.report;
    let p = parts(area);
    f.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(
                    format!("{}:{}", r.image, r.version),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(
                    "  {}  {} snapshots merged   {} containers, the most unusual first",
                    r.status.to_uppercase(),
                    r.profile_snapshots,
                    r.containers.len()
                )),
            ]),
            Line::from(Span::styled(
                r.formula.clone(),
                Style::default().fg(Color::DarkGray),
            )),
        ])
        .wrap(Wrap { trim: true })
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Outlier containers "),
        ),
        p.header,
    );

    let visible = app.visible_outliers();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Containers by score ")
        .border_style(Style::default().fg(Color::Cyan));
    if visible.is_empty() {
        let msg = if r.containers.is_empty() {
            "No snapshots: no containers to rank."
        } else {
            "Nothing matches the search."
        };
        f.render_widget(Paragraph::new(msg).block(block), p.list);
    } else {
        let rows = list_rows(area);
        let make = |i: usize, _first: bool| {
            let c = &r.containers[i];
            Row::new(vec![
                Cell::from(format!("{:>3}", c.rank)),
                Cell::from(crate::commands::short_id(&c.container_id).to_string()),
                // a high score is rare behaviour: coloured as a low commonality
                Cell::from(percent(c.score)).style(commonality_style(1.0 - c.score)),
                Cell::from(format!("{:>4}", c.rare_nodes)),
                Cell::from(format!("{:>5}", c.novel_nodes)),
                Cell::from(format!("{:>5}", c.snapshots)),
                Cell::from(c.hosts.join(",")),
            ])
        };
        let table = list_table(
            &visible,
            ov.sel,
            rows.height as usize,
            make,
            &[
                Constraint::Length(4),
                Constraint::Length(13),
                Constraint::Length(6),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Fill(1),
            ],
            &["#", "CONTAINER", "SCORE", "RARE", "NOVEL", "SNAPS", "HOSTS"],
            block,
        );
        f.render_widget(table, p.list);
    }

    let mut side: Vec<Line> = Vec::new();
    if let Some(c) = app.selected_outlier() {
        side.push(Line::from(vec![
            Span::styled(
                format!(
                    "#{} container {}",
                    c.rank,
                    crate::commands::short_id(&c.container_id)
                ),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw("  score "),
            Span::styled(
                percent(c.score).trim().to_string(),
                commonality_style(1.0 - c.score).add_modifier(Modifier::BOLD),
            ),
        ]));
        side.push(Line::raw(format!(
            "{} snapshots, {} .. {}, {} distinct nodes",
            c.snapshots,
            time(c.first_ms),
            time(c.last_ms),
            c.nodes
        )));
        side.push(Line::raw(format!(
            "{} rare (< {}), {} not in the profile",
            c.rare_nodes,
            percent(model::outlier::RARE).trim(),
            c.novel_nodes
        )));
        if !c.tags.is_empty() {
            side.push(Line::from(Span::styled(
                cut(&c.tags.join(" "), 200),
                Style::default().fg(Color::DarkGray),
            )));
        }
        side.push(Line::from(Span::styled(
            format!("What sets it apart ({})", c.distinguishing_total),
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        )));
        if c.distinguishing.is_empty() {
            side.push(Line::from(Span::styled(
                "nothing rare that sets it apart",
                Style::default().fg(Color::DarkGray),
            )));
        }
        for n in &c.distinguishing {
            side.push(Line::from(vec![
                Span::styled(percent(n.commonality), commonality_style(n.commonality)),
                Span::raw(" "),
                Span::raw(n.path.clone()),
                Span::styled(
                    format!(
                        "  {}{}, {}x",
                        if n.in_profile { "" } else { "new, " },
                        others(n.other_containers),
                        n.snapshots
                    ),
                    Style::default().fg(Color::DarkGray),
                ),
            ]));
        }
        if c.distinguishing_total as usize > c.distinguishing.len() {
            side.push(Line::from(Span::styled(
                format!(
                    "... and {} more (wsprof profile outliers --json)",
                    c.distinguishing_total as usize - c.distinguishing.len()
                ),
                Style::default().fg(Color::DarkGray),
            )));
        }
    }
    f.render_widget(
        Paragraph::new(side).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Selected container "),
        ),
        p.side,
    );
}
