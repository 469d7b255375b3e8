//! The keymap as data: each binding is (context, key, action, help). The help overlay and the
//! hint line are generated from it, and `[keys]` overrides replace an action's keys by its id.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::BTreeMap;
use std::fmt;

/// Where a binding applies. `Global` bindings apply everywhere a context binding does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    List,
    Detail,
    Targets,
}

impl Context {
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::List => "list",
            Context::Detail => "detail",
            Context::Targets => "targets",
        }
    }
}

/// The actions this milestone implements, by their stable ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Down,
    Up,
    PageDown,
    PageUp,
    First,
    Newest,
    Open,
    Back,
    NextTab,
    PrevTab,
    Tab(u8),
    FocusTargets,
    Filter,
    Follow,
    BodyMode,
    Pause,
    Probe,
    EventLog,
    Help,
    Quit,
}

impl Action {
    pub fn id(self) -> &'static str {
        match self {
            Action::Down => "down",
            Action::Up => "up",
            Action::PageDown => "page_down",
            Action::PageUp => "page_up",
            Action::First => "first",
            Action::Newest => "newest",
            Action::Open => "open",
            Action::Back => "back",
            Action::NextTab => "next_tab",
            Action::PrevTab => "prev_tab",
            Action::Tab(1) => "tab_1",
            Action::Tab(2) => "tab_2",
            Action::Tab(3) => "tab_3",
            Action::Tab(4) => "tab_4",
            Action::Tab(_) => "tab_5",
            Action::FocusTargets => "focus_targets",
            Action::Filter => "filter",
            Action::Follow => "follow",
            Action::BodyMode => "body_mode",
            Action::Pause => "pause",
            Action::Probe => "probe",
            Action::EventLog => "event_log",
            Action::Help => "help",
            Action::Quit => "quit",
        }
    }

    fn all() -> impl Iterator<Item = Action> {
        DEFAULTS.iter().map(|d| d.1)
    }
}

/// Action ids of later issues: accepted in `[keys]` (so a config written for them loads), not
/// bound until they work.
const LATER: &[&str] = &[
    "replay",
    "replay_raw",
    "duplicate",
    "edit_resend",
    "forward",
    "copy",
    "export",
    "verify_with",
    "target_events",
    "mouse",
];

/// A key as bindings name it: the code and the modifiers that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    pub const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        }
    }

    /// The key of a terminal event, normalized so that `G` and Shift-`g` are one key; `None` for
    /// a release or repeat report (only presses count).
    pub fn of(event: &KeyEvent) -> Option<Key> {
        if event.kind != KeyEventKind::Press {
            return None;
        }
        let mut mods =
            event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match event.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                })
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Some(Key { code, mods })
    }

    /// Parses `j`, `G`, `ctrl-d`, `pgdn`, `shift-tab`, `f12`, `enter`, `space`…
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            let stripped = ["ctrl-", "alt-", "shift-"]
                .iter()
                .find(|p| lower.starts_with(**p) && rest.len() > p.len());
            match stripped {
                Some(&"ctrl-") => mods |= KeyModifiers::CONTROL,
                Some(&"alt-") => mods |= KeyModifiers::ALT,
                Some(_) => mods |= KeyModifiers::SHIFT,
                None => break,
            }
            rest = &rest[stripped.map_or(0, |p| p.len())..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() && c != ' ' => {
                if mods.contains(KeyModifiers::SHIFT) && c.is_ascii_alphabetic() {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::Char(c.to_ascii_uppercase())
                } else if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if mods.contains(KeyModifiers::SHIFT) => {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::BackTab
                }
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                f if f.starts_with('f')
                    && f[1..].parse::<u8>().is_ok_and(|n| (1..=24).contains(&n)) =>
                {
                    KeyCode::F(f[1..].parse().unwrap_or(1))
                }
                _ => {
                    return Err(format!(
                        "\"{s}\" is not a key (e.g. \"j\", \"ctrl-d\", \"pgdn\", \"f12\")"
                    ));
                }
            },
        };
        let key = Key { code, mods };
        // Terminals send these as Enter, Tab, Backspace, LF and Esc: a binding would never fire.
        if mods == KeyModifiers::CONTROL
            && matches!(code, KeyCode::Char('m' | 'i' | 'h' | 'j' | '['))
        {
            return Err(format!(
                "\"{s}\" cannot be told apart from Enter/Tab/Backspace/Esc by a terminal"
            ));
        }
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

use Context::{Detail, Global, List, Targets};

/// The default bindings: contexts, action, keys, help.
#[allow(clippy::type_complexity)]
const DEFAULTS: &[(&[Context], Action, &[&str], &str)] = &[
    (
        &[List, Detail, Targets],
        Action::Down,
        &["j", "down"],
        "move down",
    ),
    (
        &[List, Detail, Targets],
        Action::Up,
        &["k", "up"],
        "move up",
    ),
    (
        &[List, Detail],
        Action::PageDown,
        &["pgdn", "ctrl-d"],
        "page down",
    ),
    (
        &[List, Detail],
        Action::PageUp,
        &["pgup", "ctrl-u"],
        "page up",
    ),
    (&[List], Action::First, &["g", "home"], "oldest"),
    (&[List], Action::Newest, &["G", "end"], "newest (follow on)"),
    (&[List], Action::Open, &["enter"], "open"),
    (&[Detail, Targets], Action::Back, &["esc"], "back"),
    (&[List, Detail], Action::NextTab, &["tab"], "next tab"),
    (
        &[List, Detail],
        Action::PrevTab,
        &["shift-tab"],
        "previous tab",
    ),
    (&[List, Detail], Action::Tab(1), &["1"], "Overview"),
    (&[List, Detail], Action::Tab(2), &["2"], "Request"),
    (&[List, Detail], Action::Tab(3), &["3"], "Signature"),
    (&[List, Detail], Action::Tab(4), &["4"], "Deliveries"),
    (&[List, Detail], Action::Tab(5), &["5"], "Raw"),
    (&[Global], Action::FocusTargets, &["T"], "targets"),
    (&[List], Action::Filter, &["/"], "filter"),
    (&[List], Action::Follow, &["F"], "follow"),
    (&[Detail], Action::BodyMode, &["m"], "body: auto/raw/hex"),
    (&[Targets], Action::Pause, &["p"], "pause / resume"),
    (&[Targets], Action::Probe, &["P"], "probe now"),
    (
        &[Global],
        Action::EventLog,
        &["E"],
        "event log: what every action said",
    ),
    (&[Global], Action::Help, &["?"], "help"),
    (&[Global], Action::Quit, &["q", "ctrl-c"], "quit"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub context: Context,
    pub key: Key,
    pub action: Action,
    pub help: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

/// A `[keys]` entry that cannot be applied: the action id and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub action: String,
    pub message: String,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&BTreeMap::new()).unwrap_or_else(|_| Keymap {
            bindings: Vec::new(),
        })
    }
}

impl Keymap {
    /// The defaults with `[keys]` applied: `action = "key"` (several keys separated by spaces)
    /// replaces that action's keys. An unknown action, an unparsable key or a key bound twice in
    /// one context is an error.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Keymap, KeyError> {
        let mut parsed: BTreeMap<&str, Vec<Key>> = BTreeMap::new();
        for (action, keys) in overrides {
            let known = Action::all().any(|a| a.id() == action) || LATER.contains(&action.as_str());
            let err = |message: String| KeyError {
                action: action.clone(),
                message,
            };
            if !known {
                return Err(err(format!("\"{action}\" is not an action id")));
            }
            let list = keys
                .split_whitespace()
                .map(Key::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            if list.is_empty() {
                return Err(err("names no key".into()));
            }
            parsed.insert(action.as_str(), list);
        }
        let mut bindings: Vec<Binding> = Vec::new();
        for (contexts, action, keys, help) in DEFAULTS {
            let keys = match parsed.get(action.id()) {
                Some(keys) => keys.clone(),
                None => keys.iter().filter_map(|k| Key::parse(k).ok()).collect(),
            };
            for context in *contexts {
                for key in &keys {
                    if let Some(other) = bindings.iter().find(|b| {
                        b.key == *key
                            && (b.context == *context || b.context == Global || *context == Global)
                    }) {
                        let blamed = if parsed.contains_key(action.id()) {
                            action.id()
                        } else {
                            other.action.id()
                        };
                        return Err(KeyError {
                            action: blamed.to_owned(),
                            message: format!(
                                "{key} is bound twice in the {} context ({} and {})",
                                context.as_str(),
                                other.action.id(),
                                action.id()
                            ),
                        });
                    }
                    bindings.push(Binding {
                        context: *context,
                        key: *key,
                        action: *action,
                        help,
                    });
                }
            }
        }
        Ok(Keymap { bindings })
    }

    /// The action a key does in `context` (its own bindings first, then the global ones).
    pub fn action(&self, context: Context, key: Key) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.context == context && b.key == key)
            .or_else(|| {
                self.bindings
                    .iter()
                    .find(|b| b.context == Global && b.key == key)
            })
            .map(|b| b.action)
    }

    /// The keys of an action in a context (or globally), as shown: `j/↓`.
    pub fn keys_of(&self, context: Context, action: Action) -> String {
        let keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| b.action == action && (b.context == context || b.context == Global))
            .map(|b| b.key.to_string())
            .collect();
        keys.join("/")
    }

    /// One row per action of a context, for the help overlay: keys and help.
    pub fn help_rows(&self, context: Context) -> Vec<(String, &'static str)> {
        let mut rows: Vec<(String, &'static str)> = Vec::new();
        let mut seen: Vec<Action> = Vec::new();
        for b in &self.bindings {
            if (b.context == context || b.context == Global) && !seen.contains(&b.action) {
                seen.push(b.action);
                rows.push((self.keys_of(context, b.action), b.help));
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, k)| ((*a).to_owned(), (*k).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_resolve_by_context() {
        let k = Keymap::default();
        assert_eq!(k.action(Context::List, Key::ch('j')), Some(Action::Down));
        assert_eq!(
            k.action(Context::List, Key::ctrl('d')),
            Some(Action::PageDown)
        );
        assert_eq!(
            k.action(Context::Detail, Key::ch('3')),
            Some(Action::Tab(3))
        );
        assert_eq!(
            k.action(Context::Targets, Key::ch('P')),
            Some(Action::Probe)
        );
        assert_eq!(k.action(Context::List, Key::ch('p')), None);
        assert_eq!(k.action(Context::Detail, Key::ch('q')), Some(Action::Quit));
        assert_eq!(
            k.action(Context::List, Key::ch('r')),
            None,
            "replay is not bound yet"
        );
    }

    #[test]
    fn keys_parse_and_normalize() {
        assert_eq!(Key::parse("ctrl-D"), Ok(Key::ctrl('d')));
        assert_eq!(Key::parse("shift-g"), Ok(Key::ch('G')));
        assert_eq!(Key::parse("shift-tab"), Ok(Key::plain(KeyCode::BackTab)));
        assert_eq!(Key::parse("F12"), Ok(Key::plain(KeyCode::F(12))));
        assert!(Key::parse("ctrl-m").is_err());
        assert!(Key::parse("hyper-x").is_err());
        let shifted = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Key::of(&shifted), Some(Key::ch('G')));
        let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(Key::of(&release), None);
    }

    #[test]
    fn overrides_replace_and_conflicts_are_errors() {
        let k = Keymap::with_overrides(&map(&[("down", "n ctrl-n")])).unwrap();
        assert_eq!(k.action(Context::List, Key::ch('n')), Some(Action::Down));
        assert_eq!(k.action(Context::List, Key::ch('j')), None);
        let e = Keymap::with_overrides(&map(&[("down", "k")])).unwrap_err();
        assert_eq!(e.action, "down");
        assert!(e.message.contains("bound twice"), "{}", e.message);
        let e = Keymap::with_overrides(&map(&[("jump", "x")])).unwrap_err();
        assert_eq!(e.action, "jump");
        let e = Keymap::with_overrides(&map(&[("help", "hyper-x")])).unwrap_err();
        assert_eq!(e.action, "help");
        // A later issue's action is accepted but not bound.
        let k = Keymap::with_overrides(&map(&[("replay", "R")])).unwrap();
        assert_eq!(k.action(Context::List, Key::ch('R')), None);
    }
}

#[cfg(test)]
mod config_tests {
    use crate::config::{ConfigError, parse};
    use std::path::Path;

    fn key_of(toml: &str) -> Option<String> {
        match parse(toml, Path::new("hooklens.toml")) {
            Err(ConfigError::Invalid { key, .. }) => Some(key),
            Err(other) => panic!("{other}"),
            Ok(_) => None,
        }
    }

    #[test]
    fn a_bad_key_binding_is_a_config_error_naming_its_key() {
        assert_eq!(
            key_of("[keys]\njump = \"x\"\n").as_deref(),
            Some("keys.jump")
        );
        assert_eq!(
            key_of("[keys]\nhelp = \"hyper-x\"\n").as_deref(),
            Some("keys.help")
        );
        assert_eq!(
            key_of("[keys]\nfollow = \"j\"\n").as_deref(),
            Some("keys.follow")
        );
        assert_eq!(key_of("[keys]\nfollow = \"ctrl-f\"\n"), None);
    }
}
