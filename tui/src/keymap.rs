//! Keymaps as data: `keymaps/*.toml` files of `{ on, run, desc }` bindings. The default
//! keymap is built in; a preset (vim, emacs) and the user's file extend it, a binding for a
//! key already bound replacing the earlier one. Unknown actions, bad key strings and a key
//! bound twice in one file are refused with the file and line.

use crate::action::Action;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

pub const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");
pub const VIM_KEYMAP: &str = include_str!("../../keymaps/vim.toml");
pub const EMACS_KEYMAP: &str = include_str!("../../keymaps/emacs.toml");

/// A key with modifiers, as written in keymaps (`q`, `<C-c>`, `<S-Tab>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    /// Normalise a terminal key event: shifted characters carry their shift in the char.
    pub fn from_event(ev: &KeyEvent) -> Key {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match ev.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                })
            }
            KeyCode::BackTab => {
                mods.insert(KeyModifiers::SHIFT);
                KeyCode::Tab
            }
            c => c,
        };
        Key { code, mods }
    }

    /// Parse a key string.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (None, _) => return Err("empty key".into()),
            (Some(c), None) => {
                return Ok(Key {
                    code: KeyCode::Char(c),
                    mods: KeyModifiers::NONE,
                })
            }
            _ => {}
        }
        let inner = s
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .ok_or_else(|| {
                format!("`{s}` is not a key: write one character or <Name> (e.g. <Enter>, <C-c>)")
            })?;
        let mut mods = KeyModifiers::NONE;
        let mut rest = inner;
        loop {
            let m = match rest.get(..2) {
                Some("C-") => KeyModifiers::CONTROL,
                Some("A-") => KeyModifiers::ALT,
                Some("S-") => KeyModifiers::SHIFT,
                _ => break,
            };
            if rest.len() == 2 {
                break;
            }
            mods |= m;
            rest = &rest[2..];
        }
        let code = match rest {
            "Enter" => KeyCode::Enter,
            "Esc" => KeyCode::Esc,
            "Tab" => KeyCode::Tab,
            "Space" => KeyCode::Char(' '),
            "Up" => KeyCode::Up,
            "Down" => KeyCode::Down,
            "Left" => KeyCode::Left,
            "Right" => KeyCode::Right,
            "PageUp" => KeyCode::PageUp,
            "PageDown" => KeyCode::PageDown,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            "Backspace" => KeyCode::Backspace,
            "Delete" => KeyCode::Delete,
            "Insert" => KeyCode::Insert,
            f if f.starts_with('F')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            one if one.chars().count() == 1 => {
                let c = one.chars().next().unwrap_or(' ');
                KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                })
            }
            other => return Err(format!("unknown key name `{other}` in `{s}`")),
        };
        if let KeyCode::Char(c) = code {
            if mods.contains(KeyModifiers::SHIFT) && !c.is_ascii_alphabetic() {
                return Err(format!(
                    "`{s}`: write the shifted character itself instead of S-"
                ));
            }
            if mods.contains(KeyModifiers::SHIFT) {
                mods.remove(KeyModifiers::SHIFT);
                return Ok(Key {
                    code: KeyCode::Char(c.to_ascii_uppercase()),
                    mods,
                });
            }
        }
        Ok(Key { code, mods })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if self.mods.is_empty() => return write!(f, "{c}"),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::PageUp => "PageUp".into(),
            KeyCode::PageDown => "PageDown".into(),
            KeyCode::Backspace => "Backspace".into(),
            c => format!("{c:?}"),
        };
        let mut m = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            m.push_str("C-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            m.push_str("A-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            m.push_str("S-");
        }
        write!(f, "<{m}{name}>")
    }
}

/// One binding, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub key: Key,
    pub action: Action,
    pub desc: String,
    pub origin: String,
}

/// A keymap error: names the file and line.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{origin}:{line}: {message}")]
pub struct KeymapError {
    pub origin: String,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    keymap: Vec<toml::Spanned<RawBinding>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    on: String,
    run: String,
    desc: Option<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parse one keymap file.
pub fn parse_file(text: &str, origin: &str) -> Result<Vec<Binding>, KeymapError> {
    let err = |line, message: String| KeymapError {
        origin: origin.to_string(),
        line,
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        err(line, e.message().to_string())
    })?;
    let mut out: Vec<Binding> = Vec::new();
    for b in raw.keymap {
        let line = line_of(text, b.span().start);
        let b = b.into_inner();
        let key = Key::parse(&b.on).map_err(|m| err(line, m))?;
        let action = Action::from_name(&b.run).ok_or_else(|| {
            let known: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
            err(
                line,
                format!("unknown action `{}` (known: {})", b.run, known.join(", ")),
            )
        })?;
        if let Some(prev) = out.iter().find(|x| x.key == key) {
            return Err(err(
                line,
                format!(
                    "key `{}` is bound twice in this file (also to `{}`)",
                    b.on, prev.action
                ),
            ));
        }
        out.push(Binding {
            key,
            action,
            desc: b.desc.unwrap_or_else(|| action.name().replace('_', " ")),
            origin: origin.to_string(),
        });
    }
    Ok(out)
}

/// The active keymap: ordered bindings, later files overriding earlier ones per key.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Keymap {
    pub fn builtin() -> Keymap {
        Keymap {
            bindings: parse_file(DEFAULT_KEYMAP, "keymaps/default.toml")
                .expect("default keymap is valid (tested)"),
        }
    }

    /// Default + optional preset (`vim`, `emacs`, or a file path) + the user's file if present.
    pub fn load(preset: Option<&str>, user_file: Option<&Path>) -> Result<Keymap, KeymapError> {
        let mut km = Keymap::builtin();
        match preset {
            None | Some("default") => {}
            Some("vim") => km.extend(parse_file(VIM_KEYMAP, "keymaps/vim.toml")?),
            Some("emacs") => km.extend(parse_file(EMACS_KEYMAP, "keymaps/emacs.toml")?),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| KeymapError {
                    origin: path.to_string(),
                    line: 0,
                    message: format!("cannot read keymap: {e}"),
                })?;
                km.extend(parse_file(&text, path)?);
            }
        }
        if let Some(f) = user_file.filter(|f| f.exists()) {
            let origin = f.display().to_string();
            let text = std::fs::read_to_string(f).map_err(|e| KeymapError {
                origin: origin.clone(),
                line: 0,
                message: format!("cannot read keymap: {e}"),
            })?;
            km.extend(parse_file(&text, &origin)?);
        }
        Ok(km)
    }

    /// Add bindings; one for a key already bound replaces it.
    pub fn extend(&mut self, bindings: Vec<Binding>) {
        for b in bindings {
            match self.bindings.iter_mut().find(|x| x.key == b.key) {
                Some(slot) => *slot = b,
                None => self.bindings.push(b),
            }
        }
    }

    pub fn action_for(&self, key: &Key) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.key == *key)
            .map(|b| b.action)
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Keys bound to an action, as text (`q, <C-c>`), for hints.
    pub fn keys_for(&self, action: Action) -> String {
        let keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| b.action == action)
            .map(|b| b.key.to_string())
            .collect();
        keys.join(", ")
    }

    /// Help lines generated from the bindings: (keys, description), one per action.
    pub fn help_lines(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for a in Action::ALL {
            let keys = self.keys_for(*a);
            if keys.is_empty() {
                continue;
            }
            let desc = self
                .bindings
                .iter()
                .find(|b| b.action == *a)
                .map(|b| b.desc.clone())
                .unwrap_or_default();
            out.push((keys, desc));
        }
        out
    }
}

/// `$XDG_CONFIG_HOME/wsprof/keymap.toml`, or `~/.config/wsprof/keymap.toml`.
pub fn user_keymap_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("wsprof").join("keymap.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_keymaps_are_valid_and_cover_essentials() {
        let km = Keymap::builtin();
        for a in [
            Action::Quit,
            Action::Back,
            Action::Help,
            Action::Search,
            Action::Accept,
            Action::ViewSnapshot,
            Action::Promote,
            Action::ResetLearning,
            Action::Undo,
        ] {
            assert!(!km.keys_for(a).is_empty(), "{a} unbound");
        }
        assert_eq!(km.action_for(&Key::parse("q").unwrap()), Some(Action::Quit));
        assert_eq!(
            km.action_for(&Key::parse("<Esc>").unwrap()),
            Some(Action::Back)
        );
        let vim = Keymap::load(Some("vim"), None).unwrap();
        assert_eq!(
            vim.action_for(&Key::parse("j").unwrap()),
            Some(Action::Down)
        );
        let emacs = Keymap::load(Some("emacs"), None).unwrap();
        assert_eq!(
            emacs.action_for(&Key::parse("<C-n>").unwrap()),
            Some(Action::Down)
        );
    }

    #[test]
    fn key_strings_parse_and_print() {
        for s in [
            "q", "?", "G", "<Enter>", "<C-c>", "<S-Tab>", "<Space>", "<F5>", "<A-v>",
        ] {
            let k = Key::parse(s).unwrap();
            assert_eq!(Key::parse(&k.to_string()).unwrap(), k, "{s}");
        }
        assert_eq!(Key::parse("<S-a>").unwrap(), Key::parse("A").unwrap());
        assert!(Key::parse("<Hyper-x>")
            .unwrap_err()
            .contains("unknown key name"));
        assert!(Key::parse("za").unwrap_err().contains("is not a key"));
    }

    #[test]
    fn bad_files_are_refused_with_file_and_line() {
        let unknown = "keymap = [\n  { on = \"q\", run = \"quit\" },\n  { on = \"x\", run = \"explode\" },\n]\n";
        let e = parse_file(unknown, "my.toml").unwrap_err();
        assert_eq!((e.origin.as_str(), e.line), ("my.toml", 3));
        assert!(e.message.contains("unknown action `explode`"), "{e}");

        let dup =
            "keymap = [\n  { on = \"q\", run = \"quit\" },\n  { on = \"q\", run = \"help\" },\n]\n";
        let e = parse_file(dup, "dup.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "dup.toml:3: key `q` is bound twice in this file (also to `quit`)"
        );

        let badkey = "keymap = [\n\n  { on = \"<Ctrl-x>\", run = \"quit\" },\n]\n";
        let e = parse_file(badkey, "k.toml").unwrap_err();
        assert_eq!(e.line, 3, "{e}");

        let syntax = "keymap = [\n  { on = \"q\" run = \"quit\" },\n]\n";
        let e = parse_file(syntax, "s.toml").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn user_file_overrides_and_extends() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("keymap.toml");
        std::fs::write(&f, "keymap = [\n { on = \"q\", run = \"help\", desc = \"Help!\" },\n { on = \"J\", run = \"down\" },\n]\n").unwrap();
        let km = Keymap::load(None, Some(&f)).unwrap();
        assert_eq!(km.action_for(&Key::parse("q").unwrap()), Some(Action::Help));
        assert_eq!(km.action_for(&Key::parse("J").unwrap()), Some(Action::Down));
        assert!(km
            .help_lines()
            .iter()
            .any(|(k, d)| k.contains('q') && d == "Help!"));
    }
}
