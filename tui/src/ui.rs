//! The interactive loop: input -> actions -> app state; engine changes -> refresh; draw.

use crate::app::{App, Banner};
use crate::engine::{Engine, EngineStatus};
use crate::keymap::Key;
use crate::view;
use crossterm::event::{self, Event, KeyEventKind, MouseButton, MouseEventKind};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use std::time::{Duration, Instant};

/// When the process started (set first thing in `main`), for the first-frame measurement.
pub static PROCESS_START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Who is at the keyboard (for "who accepted this suppression").
pub fn current_user() -> String {
    for var in ["SUDO_USER", "USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    // SAFETY: getpwuid returns a pointer to static storage or null; read it at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            if let Ok(name) = std::ffi::CStr::from_ptr((*pw).pw_name).to_str() {
                return name.to_string();
            }
        }
        format!("uid {}", libc::getuid())
    }
}

/// Run until the person quits.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    engine: &Engine,
    banner: &dyn Fn(&EngineStatus) -> Banner,
) -> anyhow::Result<()> {
    let shared = engine.store();
    let lock = || {
        shared
            .lock()
            .map_err(|_| anyhow::anyhow!("the store lock is poisoned (a writer panicked)"))
    };
    app.user = current_user();
    let started = *PROCESS_START.get_or_init(Instant::now);
    let mut first_frame = true;
    let mut seen_gen = u64::MAX;
    let mut last_refresh = Instant::now() - Duration::from_secs(1);
    loop {
        let gen = engine.generation();
        if gen != seen_gen && last_refresh.elapsed() >= Duration::from_millis(250) {
            if let Err(e) = app.refresh(&*lock()?) {
                app.message = format!("reading the store failed: {e}");
            }
            seen_gen = gen;
            last_refresh = Instant::now();
        }
        let status = engine.status();
        app.now_ms = status.now_ms;
        app.banner = banner(&status);
        if let Some(e) = &status.error {
            app.banner.progress = format!("{} | ERROR: {e}", app.banner.progress);
        }
        let size = terminal.size()?;
        app.page = (size.height as usize).saturating_sub(8).max(1);
        terminal.draw(|f| view::draw(f, app))?;
        if first_frame {
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "first frame drawn (ms since process start)"
            );
            first_frame = false;
            // For the end-to-end test that the terminal is restored after a panic.
            if std::env::var_os("WSPROF_TEST_PANIC_AFTER_FIRST_FRAME").is_some() {
                panic!("panic requested by WSPROF_TEST_PANIC_AFTER_FIRST_FRAME");
            }
        }
        if !event::poll(Duration::from_millis(100))? {
            continue;
        }
        match event::read()? {
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                if app.search_input(&k) {
                    app.ensure_preview(&*lock()?);
                } else {
                    if let Some(a) = app.keymap.action_for(&Key::from_event(&k)) {
                        app.apply(a, &mut *lock()?);
                    }
                }
            }
            Event::Mouse(m) => {
                let area = Rect::new(0, 0, size.width, size.height);
                match m.kind {
                    MouseEventKind::ScrollDown => {
                        app.apply(crate::action::Action::Down, &mut *lock()?)
                    }
                    MouseEventKind::ScrollUp => app.apply(crate::action::Action::Up, &mut *lock()?),
                    MouseEventKind::Down(MouseButton::Left) => {
                        let rows = view::list_rows_area(app, area);
                        if m.row >= rows.y
                            && m.row < rows.y + rows.height
                            && m.column >= rows.x
                            && m.column < rows.x + rows.width
                        {
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
