//! What reaches a terminal: tables, colour decisions and sanitising of remote text.
//!
//! Strings that come from the network (certificate subjects, proxy answers, DNS names in
//! answers) may hold escape sequences or bidirectional controls; [`sanitize`] makes them
//! inert before they are printed (fd's `sanitize.rs` does the same for file names).
//!
//! How wide and whether in colour is decided once, at the edge ([`Screen`]): the width from
//! `COLUMNS` when it is set (piped output too), else the terminal's, else
//! [`DEFAULT_WIDTH`]; colour from `--color`, else on a terminal unless `NO_COLOR` is set.
//! Tables are laid out for that width by [`grid`].

pub mod grid;

use std::io::IsTerminal;

/// Width of output for people when neither `COLUMNS` nor a terminal says: wide enough for a
/// report's table, narrow enough for a change ticket or a mail.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrowest width honoured: below it, tables would only be columns of single words.
pub const MIN_WIDTH: usize = 40;

/// How output for people is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// Columns of text available.
    pub width: usize,
    /// Whether to colour.
    pub colour: bool,
}

impl Default for Screen {
    fn default() -> Self {
        Screen {
            width: DEFAULT_WIDTH,
            colour: false,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColourChoice {
    /// On a terminal, unless `NO_COLOR` is set (<https://no-color.org>).
    #[default]
    Auto,
    /// Always, `NO_COLOR` or not (a command-line flag overrides the variable).
    Always,
    /// Never.
    Never,
}

impl Screen {
    /// What the process's environment and standard output ask for. `to_file` is true when the
    /// output goes to a file (`--output`): the terminal then says nothing about it.
    pub fn detect(choice: ColourChoice, to_file: bool) -> Screen {
        let terminal = !to_file && std::io::stdout().is_terminal();
        let terminal_width = if terminal { stdout_width() } else { None };
        Screen {
            width: decide_width(std::env::var("COLUMNS").ok().as_deref(), terminal_width),
            colour: decide_colour(
                choice,
                std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
                terminal,
            ),
        }
    }
}

/// The width to lay out for: `COLUMNS` when it is a number (at least [`MIN_WIDTH`]), else
/// the terminal's, else [`DEFAULT_WIDTH`].
pub fn decide_width(columns: Option<&str>, terminal: Option<usize>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or(terminal.filter(|&t| t > 0))
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// Whether to colour: `--color always|never` decides; `auto` colours a terminal unless
/// `NO_COLOR` is set to something.
pub fn decide_colour(choice: ColourChoice, no_color: bool, terminal: bool) -> bool {
    match choice {
        ColourChoice::Always => true,
        ColourChoice::Never => false,
        ColourChoice::Auto => terminal && !no_color,
    }
}

/// Columns of the terminal on standard output, when it is one.
fn stdout_width() -> Option<usize> {
    #[cfg(unix)]
    {
        rustix::termios::tcgetwinsize(std::io::stdout())
            .ok()
            .map(|size| usize::from(size.ws_col))
            .filter(|&w| w > 0)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// True when colour should be used on standard output: it is a terminal and `NO_COLOR` is
/// unset or empty (<https://no-color.org>).
pub fn stdout_wants_colour() -> bool {
    Screen::detect(ColourChoice::Auto, false).colour
}

/// Writes `text` wrapped to `width` (see [`grid::wrap`]): the first line after `indent`, the
/// rest after `hang`. Names and addresses in it stay whole.
pub fn write_wrapped(
    out: &mut dyn std::io::Write,
    width: usize,
    indent: &str,
    hang: &str,
    text: &str,
) -> std::io::Result<()> {
    for line in grid::wrap(text, width, indent, hang) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Writes a laid-out table, each line after `indent`, then the note naming columns left out
/// for the width, if any, wrapped to `width`.
pub fn write_table(
    out: &mut dyn std::io::Write,
    width: usize,
    indent: &str,
    table: &grid::Rendered,
) -> std::io::Result<()> {
    for line in &table.lines {
        writeln!(out, "{indent}{line}")?;
    }
    if let Some(note) = table.dropped_note() {
        write_wrapped(out, width, indent, &format!("{indent} "), &note)?;
    }
    Ok(())
}

/// `count` and the noun in the right number: `1 target`, `2 targets`, `0 addresses`.
pub fn plural(count: usize, singular: &str, plural: &str) -> String {
    format!("{count} {}", if count == 1 { singular } else { plural })
}

/// Replaces control characters and Unicode bidirectional controls with `\u{…}` escapes so
/// that text from the network cannot move the cursor, recolour the terminal or reorder what
/// a reader sees.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_control() || is_bidi_control(ch) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(ch)));
        } else {
            out.push(ch);
        }
    }
    out
}

/// Unicode bidirectional formatting characters ("Trojan Source", CVE-2021-42574).
pub fn is_bidi_control(ch: char) -> bool {
    matches!(
        ch,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_from_columns_then_terminal_then_default() {
        assert_eq!(decide_width(Some("132"), Some(80)), 132);
        assert_eq!(decide_width(None, Some(80)), 80);
        assert_eq!(decide_width(None, None), DEFAULT_WIDTH);
        assert_eq!(decide_width(Some("wide"), None), DEFAULT_WIDTH);
        assert_eq!(decide_width(Some("0"), Some(90)), 90);
        assert_eq!(decide_width(Some("10"), None), MIN_WIDTH);
    }

    #[test]
    fn colour_follows_the_flag_then_no_color_then_the_terminal() {
        use ColourChoice::{Always, Auto, Never};
        assert!(decide_colour(Always, true, false));
        assert!(!decide_colour(Never, false, true));
        assert!(decide_colour(Auto, false, true));
        assert!(!decide_colour(Auto, true, true));
        assert!(!decide_colour(Auto, false, false));
    }

    #[test]
    fn plural_forms() {
        assert_eq!(plural(0, "subnet", "subnets"), "0 subnets");
        assert_eq!(plural(1, "subnet", "subnets"), "1 subnet");
        assert_eq!(plural(2, "address", "addresses"), "2 addresses");
    }

    #[test]
    fn sanitize_escapes_controls_and_bidi() {
        assert_eq!(sanitize("ok\x1b[31mred"), "ok\\u{001b}[31mred");
        assert_eq!(sanitize("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(sanitize("Skatteetaten ÆØÅ"), "Skatteetaten ÆØÅ");
    }
}
