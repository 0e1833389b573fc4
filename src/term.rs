//! What reaches a terminal: tables, colour decisions and sanitising of remote text.
//!
//! Strings that come from the network (certificate subjects, proxy answers, DNS names in
//! answers) may hold escape sequences or bidirectional controls; [`sanitize`] makes them
//! inert before they are printed (fd's `sanitize.rs` does the same for file names).

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// A table in the house style, with `header`.
pub fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(
            header
                .into_iter()
                .map(Into::into)
                .collect::<Vec<comfy_table::Cell>>(),
        );
    table
}

/// True when colour should be used on standard output: it is a terminal and `NO_COLOR` is
/// unset or empty (<https://no-color.org>).
pub fn stdout_wants_colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
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
