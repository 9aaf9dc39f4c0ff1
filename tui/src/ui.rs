//! The interactive loop: input -> actions -> app state; engine changes -> refresh; draw.

use crate::app::{App, Banner, Reload};
use crate::changes::Counters;
use crate::engine::{Engine, EngineStatus};
use crate::keymap::Key;
use crate::source::Source;
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

/// What the UI runs against: an engine in this process (demo, live, a store file) or an
/// agent it attached to.
pub trait Session {
    /// Change counters; a list is read again only when its kind moved.
    fn counters(&self) -> Counters;
    /// Run `f` on the data source (reads and the person's decisions).
    fn with_source(&self, f: &mut dyn FnMut(&mut dyn Source)) -> anyhow::Result<()>;
    /// The status line, the data's clock (0 = wall clock) and an error to show, if any.
    fn banner(&self) -> (Banner, i64, Option<String>);
}

/// An engine in this process, with the binary's status line.
pub struct EngineSession<'a> {
    pub engine: &'a Engine,
    pub banner: &'a dyn Fn(&EngineStatus) -> Banner,
}

impl Session for EngineSession<'_> {
    fn counters(&self) -> Counters {
        self.engine.changes().counters()
    }

    fn with_source(&self, f: &mut dyn FnMut(&mut dyn Source)) -> anyhow::Result<()> {
        self.engine.with_source(|src| f(src))
    }

    fn banner(&self) -> (Banner, i64, Option<String>) {
        let status = self.engine.status();
        ((self.banner)(&status), status.now_ms, status.error)
    }
}

/// Run until the person quits.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    session: &dyn Session,
) -> anyhow::Result<()> {
    app.user = current_user();
    let started = *PROCESS_START.get_or_init(Instant::now);
    let mut first_frame = true;
    let mut seen: Option<Counters> = None;
    let mut last_refresh = Instant::now() - Duration::from_secs(1);
    loop {
        let counters = session.counters();
        if seen != Some(counters) && last_refresh.elapsed() >= Duration::from_millis(250) {
            let what = match &seen {
                Some(old) => Reload::between(old, &counters),
                None => Reload::ALL,
            };
            if what.any() {
                session.with_source(&mut |src| {
                    if let Err(e) = app.refresh_changed(src, what) {
                        app.message = format!("reading the store failed: {e}");
                    }
                })?;
            }
            seen = Some(counters);
            last_refresh = Instant::now();
        }
        let (banner, now_ms, error) = session.banner();
        app.now_ms = now_ms;
        app.banner = banner;
        if let Some(e) = &error {
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
                if app.prompt.is_some() {
                    session.with_source(&mut |src| {
                        app.prompt_input(&k, src);
                    })?;
                } else if app.search_input(&k) {
                    session.with_source(&mut |src| app.ensure_preview(src))?;
                } else if let Some(a) = app.keymap.action_for(&Key::from_event(&k)) {
                    session.with_source(&mut |src| app.apply(a, src))?;
                }
            }
            Event::Mouse(m) => {
                let area = Rect::new(0, 0, size.width, size.height);
                match m.kind {
                    MouseEventKind::ScrollDown => session
                        .with_source(&mut |src| app.apply(crate::action::Action::Down, src))?,
                    MouseEventKind::ScrollUp => {
                        session.with_source(&mut |src| app.apply(crate::action::Action::Up, src))?
                    }
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
        crate::app::Screen::Responses => app.response_sel,
        crate::app::Screen::Profile => app.profile.as_ref().map_or(0, |p| p.tree.selected_row()),
        crate::app::Screen::Diff => app.diff.as_ref().map_or(0, |d| d.sel),
        crate::app::Screen::Outliers => app.outliers.as_ref().map_or(0, |o| o.sel),
        crate::app::Screen::Snapshot => app.snapshot.as_ref().map_or(0, |s| s.tree.selected_row()),
    }
}
