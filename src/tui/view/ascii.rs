//! ASCII fallbacks for terminals that cannot draw the interface's glyphs (a `C`/`POSIX` locale,
//! a serial console, `HOOKLENS_ASCII=1`): each glyph the views use becomes one ASCII character
//! of the same width, applied to the finished frame so no view needs a second spelling.

use ratatui::buffer::Buffer;

/// Whether the environment asks for ASCII: `HOOKLENS_ASCII=1`/`0` decides; else a locale that
/// is set and is not UTF-8 (`LC_ALL`, then `LC_CTYPE`, then `LANG`, as the C library reads
/// them). No locale at all is taken as UTF-8, which every current terminal speaks.
pub fn wanted(var: impl Fn(&str) -> Option<String>) -> bool {
    if let Some(v) = var("HOOKLENS_ASCII").filter(|v| !v.is_empty()) {
        return v != "0";
    }
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| var(k).filter(|v| !v.is_empty()));
    locale.is_some_and(|l| {
        let l = l.to_ascii_lowercase();
        !(l.contains("utf-8") || l.contains("utf8"))
    })
}

/// The ASCII stand-in of a glyph the views draw; `None` for anything else.
fn fallback(symbol: &str) -> Option<&'static str> {
    Some(match symbol {
        "✓" => "+",
        "✗" => "x",
        "·" => ".",
        "↻" => "~",
        "◐" => "%",
        "●" => "*",
        "○" => "o",
        "‖" => "|",
        "▶" => ">",
        "—" | "─" | "━" => "-",
        "…" => "~",
        "│" | "┃" => "|",
        "┌" | "┐" | "└" | "┘" | "├" | "┤" | "┬" | "┴" | "┼" => "+",
        "▁" => "_",
        "▂" => ".",
        "▃" => ":",
        "▄" => "-",
        "▅" => "=",
        "▆" => "+",
        "▇" => "*",
        "█" => "#",
        "↑" => "^",
        "↓" => "v",
        "←" => "<",
        "→" => ">",
        "▏" => "|",
        _ => return None,
    })
}

/// Replaces every glyph of the frame with its ASCII stand-in.
pub fn fold(buffer: &mut Buffer) {
    for cell in buffer.content.iter_mut() {
        if !cell.symbol().is_ascii()
            && let Some(ascii) = fallback(cell.symbol())
        {
            cell.set_symbol(ascii);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_locale_decides_unless_told() {
        assert!(!wanted(env(&[])), "no locale: UTF-8");
        assert!(!wanted(env(&[("LANG", "en_US.UTF-8")])));
        assert!(!wanted(env(&[("LANG", "C.utf8")])));
        assert!(wanted(env(&[("LANG", "C")])));
        assert!(wanted(env(&[("LANG", "en_US.UTF-8"), ("LC_ALL", "POSIX")])));
        assert!(!wanted(env(&[("LC_ALL", ""), ("LANG", "de_DE.UTF-8")])));
        assert!(wanted(env(&[("HOOKLENS_ASCII", "1"), ("LANG", "C.UTF-8")])));
        assert!(!wanted(env(&[("HOOKLENS_ASCII", "0"), ("LANG", "C")])));
    }
}
