//! The interactive loop: input -> actions -> app state; engine changes -> refresh; draw.

use crate::app::{App, Banner, Writes};
use crate::engine::{Engine, EngineStatus, WriteCmd};
use crate::keymap::Key;
use crate::view;
use crossterm::event::{self, Event, KeyEventKind, MouseButton, MouseEventKind};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use std::time::{Duration, Instant};
use store::{Store, SuppressionRow};

/// The person's writes, sent to the engine's writer thread.
pub struct EngineWrites<'a> {
    pub engine: &'a Engine,
    pub user: String,
}

impl Writes for EngineWrites<'_> {
    fn suppress(&self, signal_id: i64, reason: &str) -> Result<SuppressionRow, String> {
        self.engine.call(|reply| WriteCmd::Suppress {
            signal_id,
            by: self.user.clone(),
            reason: reason.to_string(),
            expires_ms: None,
            reply,
        })
    }
    fn unsuppress(&self, id: i64) -> Result<SuppressionRow, String> {
        self.engine.call(|reply| WriteCmd::Unsuppress { id, reply })
    }
    fn reject(&self, signal_id: i64) -> Result<(), String> {
        self.engine.call(|reply| WriteCmd::Reject { id: signal_id, reply })
    }
}

/// Who is at the keyboard (for "who accepted this suppression").
pub fn current_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Run until the person quits.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    reader: &Store,
    engine: &Engine,
    banner: &dyn Fn(&EngineStatus) -> Banner,
) -> anyhow::Result<()> {
    let writes = EngineWrites {
        engine,
        user: current_user(),
    };
    let started = Instant::now();
    let mut first_frame = true;
    let mut seen_gen = u64::MAX;
    let mut last_refresh = Instant::now() - Duration::from_secs(1);
    loop {
        let gen = engine.generation();
        if gen != seen_gen && last_refresh.elapsed() >= Duration::from_millis(250) {
            if let Err(e) = app.refresh(reader) {
                app.message = format!("reading the store failed: {e}");
            }
            seen_gen = gen;
            last_refresh = Instant::now();
        }
        let status = engine.status();
        app.banner = banner(&status);
        if let Some(e) = &status.error {
            app.banner.progress = format!("{} | ERROR: {e}", app.banner.progress);
        }
        let size = terminal.size()?;
        app.page = (size.height as usize).saturating_sub(8).max(1);
        terminal.draw(|f| view::draw(f, app))?;
        if first_frame {
            tracing::info!(ms = started.elapsed().as_millis() as u64, "first frame drawn");
            first_frame = false;
        }
        if !event::poll(Duration::from_millis(100))? {
            continue;
        }
        match event::read()? {
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                if !app.search_input(&k) {
                    if let Some(a) = app.keymap.action_for(&Key::from_event(&k)) {
                        app.apply(a, reader, &writes);
                    }
                }
            }
            Event::Mouse(m) => {
                let area = Rect::new(0, 0, size.width, size.height);
                match m.kind {
                    MouseEventKind::ScrollDown => app.apply(crate::action::Action::Down, reader, &writes),
                    MouseEventKind::ScrollUp => app.apply(crate::action::Action::Up, reader, &writes),
                    MouseEventKind::Down(MouseButton::Left) => {
                        let rows = view::list_rows_area(app, area);
                        if m.row >= rows.y && m.row < rows.y + rows.height && m.column >= rows.x && m.column < rows.x + rows.width {
                            let sel = current_sel(app);
                            let offset = view::scroll_offset(sel, rows.height as usize);
                            app.click_row(offset + (m.row - rows.y) as usize);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if app.quit {
            return Ok(());
        }
    }
}

fn current_sel(app: &App) -> usize {
    match app.screen {
        crate::app::Screen::Images => app.image_sel,
        crate::app::Screen::Signals => app.signal_sel,
        crate::app::Screen::Suppressions => app.suppression_sel,
        crate::app::Screen::Profile => app.profile.as_ref().map_or(0, |p| p.tree.selected_row()),
    }
}
