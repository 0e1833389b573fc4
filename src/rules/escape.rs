//! Quoting and comment-making for every syntax the rules are written in.
//!
//! Rules are pasted into shells, firewall consoles and configuration files, often as root, so
//! nothing from a data file (or from a DNS answer, when `check` builds rules) may reach the
//! output unescaped. Two layers, both always applied:
//!
//! 1. [`comment`] turns free text into a single line drawn from an allow-list of characters
//!    that are inert in every dialect: letters and digits, space and `.,:/_+-*()`, and the
//!    typographic apostrophe `’` for an apostrophe (left out in ASCII-only dialects). Quotes,
//!    `$`, backticks, `;`, `#`, `\`, `<>`, `{}`, `!`, `%`, `&`, `?`, line breaks, controls and
//!    Unicode bidirectional or invisible formatting characters all become `_` or a space,
//!    and `*/` or `/*` are split so no block comment can close or open.
//! 2. Each dialect then quotes the result for its own string syntax ([`sh_single`],
//!    [`ps_single`], [`nft_quoted`], [`iptables_quoted`], [`hcl_quoted`], [`yaml_quoted`],
//!    [`csv_field`]). These functions are correct for arbitrary input on their own, so a
//!    caller that forgets layer 1 still cannot produce a breakout.
//!
//! Names that become identifiers (sets, tables, objects, cloud rule names) are built only from
//! validated ids, ports and addresses, and bounded in length by [`fit_name`].

use std::fmt::Write as _;

/// Which letters a dialect accepts in comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Any Unicode letter or digit (plus the ASCII punctuation of [`comment`]); an apostrophe
    /// is written as the typographic one, [`APOSTROPHE`].
    Unicode,
    /// ASCII only (AWS descriptions, for one, reject anything else, apostrophes included:
    /// they are left out).
    Ascii,
}

/// The apostrophe of comments: `’` (U+2019) reads as `'` does ("the provider’s table") and,
/// unlike `'`, quotes nothing in a shell, nft, iptables-restore, YAML, HCL or CSV. PowerShell
/// does read it as a quote, and its quoting ([`ps_single`]) doubles it.
pub const APOSTROPHE: char = '\u{2019}';

/// ASCII punctuation kept in comments: inert in shells, quoted strings, YAML and HCL comments,
/// firewall consoles and CSV cells alike.
const COMMENT_PUNCTUATION: &str = " .,:/_+-*()";

/// What a truncated comment ends with.
const ELLIPSIS: &str = "...";

/// True for characters that can break a line or disguise text: controls (CR, LF, tab, ESC, …),
/// bidirectional controls ("Trojan Source"), line and paragraph separators, and invisible
/// formatting characters (zero-width spaces and joiners, soft hyphen, byte-order mark, tags).
pub fn is_hidden(ch: char) -> bool {
    ch.is_control()
        || crate::term::is_bidi_control(ch)
        || matches!(
            ch,
            '\u{00AD}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// One line of plain text: hidden characters and whitespace runs become one space, and the
/// ends are trimmed. Used where a structured format (JSON, CSV) does the quoting.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.chars() {
        if ch.is_whitespace() || is_hidden(ch) {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
    out
}

/// Free text made safe for a comment or description in any dialect, at most `max_bytes`
/// long (UTF-8 bytes; a truncated text ends with `...`).
pub fn comment(text: &str, max_bytes: usize, charset: Charset) -> String {
    let cleaned = clean(text);
    let mut safe = String::with_capacity(cleaned.len());
    let mut previous = ' ';
    for ch in cleaned.chars() {
        if matches!(ch, '\'' | '\u{2018}' | APOSTROPHE) {
            // Kept where the dialect's letters allow, never as `_` ("Digdir_s").
            if charset == Charset::Unicode {
                safe.push(APOSTROPHE);
                previous = APOSTROPHE;
            }
            continue;
        }
        let allowed = ch.is_ascii_alphanumeric()
            || COMMENT_PUNCTUATION.contains(ch)
            || (charset == Charset::Unicode && !ch.is_ascii() && ch.is_alphanumeric());
        let ch = if allowed { ch } else { '_' };
        // Split `*/` and `/*`: no block comment of any language can close or open here.
        if (previous == '*' && ch == '/') || (previous == '/' && ch == '*') {
            safe.push(' ');
        }
        safe.push(ch);
        previous = ch;
    }
    truncate(&safe, max_bytes)
}

/// `text` cut to at most `max_bytes` on a character boundary, ending with `...` when cut.
pub fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let budget = max_bytes.saturating_sub(ELLIPSIS.len());
    let mut end = 0;
    for (index, ch) in text.char_indices() {
        if index + ch.len_utf8() > budget {
            break;
        }
        end = index + ch.len_utf8();
    }
    let mut out = text.get(..end).unwrap_or_default().trim_end().to_owned();
    if out.len() + ELLIPSIS.len() <= max_bytes {
        out.push_str(ELLIPSIS);
    }
    out
}

/// A URL for a comment: the catalog already limits URLs to RFC 3986 characters without
/// quotes, `$`, `;`, parentheses or `*`; anything else (only reachable through other callers)
/// is percent-encoded.
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!&+,=%".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A POSIX shell word in single quotes: nothing inside is expanded; a `'` is written `'\''`.
pub fn sh_single(text: &str) -> String {
    let text = clean(text);
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A PowerShell single-quoted string: nothing inside is expanded; quote characters (PowerShell
/// also treats the typographic single quotes as quotes) are doubled.
pub fn ps_single(text: &str) -> String {
    let mut out = String::from("'");
    for ch in clean(text).chars() {
        if matches!(ch, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(ch);
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

/// An nftables quoted string. nft has no escape sequences inside quotes, so a `"` (and a `\`,
/// for readers that think otherwise) cannot be represented and becomes `'`.
pub fn nft_quoted(text: &str) -> String {
    let body: String = clean(text)
        .chars()
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect();
    format!("\"{body}\"")
}

/// An argument of `iptables-restore` (and of the `iptables` command in a shell, where it is
/// single-quoted instead). iptables-restore treats `"`, `'` and `\` specially; they become `_`.
pub fn iptables_quoted(text: &str) -> String {
    let body: String = clean(text)
        .chars()
        .map(|c| {
            if matches!(c, '"' | '\'' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("\"{body}\"")
}

/// A Terraform (HCL) quoted string: `\` and `"` escaped, `${` and `%{` (interpolation and
/// template directives) doubled so they stay literal.
pub fn hcl_quoted(text: &str) -> String {
    let text = clean(text);
    let mut out = String::from("\"");
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(ch);
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar (JSON string syntax, which YAML 1.2 reads the same way).
pub fn yaml_quoted(text: &str) -> String {
    // Serialising a str cannot fail; the fallback keeps the function total anyway.
    serde_json::to_string(&clean(text)).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or space, with quotes doubled;
/// a field a spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) gets a leading `'`.
pub fn csv_field(text: &str) -> String {
    let mut text = clean(text);
    if text.starts_with(['=', '+', '-', '@']) {
        text.insert(0, '\'');
    }
    if text.contains([',', '"', ' ']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `name` if it is at most `max` bytes, else its start and a hash of the whole, so two long
/// names stay distinct. `name` must be ASCII (callers build it from ids, ports and addresses).
pub fn fit_name(name: &str, max: usize, separator: char) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()));
    let keep = max.saturating_sub(hash.len() + 1);
    let start: String = name.chars().take(keep).collect();
    format!("{start}{separator}{hash}")
}

/// FNV-1a, 32 bits: a stable, dependency-free hash for name suffixes and ids derived from
/// names (not for security).
pub(crate) fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// `text` with every character outside `[A-Za-z0-9]` replaced by `replacement`: for
/// identifiers built from addresses (`20.100.51.138/32` → `20_100_51_138_32`).
pub fn ident_part(text: &str, replacement: char) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c
            } else {
                replacement
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "a\"b'c`d$(e)f;g#h\\i",
        "line1\nline2\r\nline3\u{2028}x",
        "end */ start /* ${x} %{y}",
        "bidi \u{202E}evil\u{202C} \u{2066}x\u{2069} zw\u{200B}j",
        "tab\there\x1b[31m red \x07",
        "'; rm -rf / #",
        "\"); DROP TABLE x; --",
        "=cmd|' /C calc'!A0",
        "$(curl evil) `id` ${IFS}",
        "<script>&amp;</script> ? ! % & | ^ ~ { }",
    ];

    #[test]
    fn comment_keeps_only_inert_characters() {
        for text in HOSTILE {
            let out = comment(text, 1000, Charset::Unicode);
            for ch in out.chars() {
                assert!(
                    ch.is_alphanumeric() || COMMENT_PUNCTUATION.contains(ch) || ch == APOSTROPHE,
                    "{ch:?} survived in {out:?} from {text:?}"
                );
            }
            assert!(!out.contains("*/") && !out.contains("/*"), "{out:?}");
        }
    }

    #[test]
    fn comment_keeps_ordinary_text_readable() {
        assert_eq!(
            comment(
                "prod: skatteetaten-api *.api.skatteetaten.no (remove after 2024-10-17)",
                200,
                Charset::Unicode
            ),
            "prod: skatteetaten-api *.api.skatteetaten.no (remove after 2024-10-17)"
        );
        assert_eq!(
            comment("Preprod miljø", 200, Charset::Unicode),
            "Preprod miljø"
        );
        assert_eq!(
            comment("Preprod miljø", 200, Charset::Ascii),
            "Preprod milj_"
        );
        assert_eq!(comment("a\n\n  b", 200, Charset::Unicode), "a b");
    }

    #[test]
    fn apostrophes_are_kept_not_mangled() {
        assert_eq!(
            comment("Digdir's test platform", 200, Charset::Unicode),
            "Digdir’s test platform"
        );
        assert_eq!(
            comment("the provider’s table", 200, Charset::Unicode),
            "the provider’s table"
        );
        assert_eq!(
            comment("Digdir's test platform", 200, Charset::Ascii),
            "Digdirs test platform"
        );
        // Each dialect's quoting carries it as it is (PowerShell doubles it, as a quote).
        let text = comment("Digdir's", 200, Charset::Unicode);
        assert_eq!(sh_single(&text), "'Digdir’s'");
        assert_eq!(nft_quoted(&text), "\"Digdir’s\"");
        assert_eq!(iptables_quoted(&text), "\"Digdir’s\"");
        assert_eq!(ps_single(&text), "'Digdir’’s'");
        assert_eq!(hcl_quoted(&text), "\"Digdir’s\"");
        assert_eq!(yaml_quoted(&text), "\"Digdir’s\"");
    }

    #[test]
    fn truncation_respects_bytes_and_characters() {
        let text = "æøå".repeat(50);
        for max in [0, 1, 3, 4, 5, 10, 128] {
            let out = comment(&text, max, Charset::Unicode);
            assert!(out.len() <= max, "{max}: {out:?}");
        }
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdefg", 6), "abc...");
    }

    #[test]
    fn shell_quoting_is_one_inert_word() {
        assert_eq!(sh_single("it's"), "'it'\\''s'");
        assert_eq!(sh_single("$(x) `y`"), "'$(x) `y`'");
        assert_eq!(sh_single("a\nb"), "'a b'");
        assert_eq!(ps_single("it's ‘x’"), "'it''s ‘‘x’’'");
    }

    #[test]
    fn string_quoting_per_syntax() {
        assert_eq!(nft_quoted("a\"b\\c"), "\"a'b'c\"");
        assert_eq!(iptables_quoted("a\"b'c\\d"), "\"a_b_c_d\"");
        assert_eq!(
            hcl_quoted("a\"b\\c ${x} %{y} $z"),
            "\"a\\\"b\\\\c $${x} %%{y} $z\""
        );
        assert_eq!(yaml_quoted("a\"b\nc"), "\"a\\\"b c\"");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-x"), "'-x");
        assert_eq!(csv_field("plain"), "plain");
        for text in HOSTILE {
            assert!(!nft_quoted(text)[1..].trim_end_matches('"').contains('"'));
            let ipt = iptables_quoted(text);
            assert!(!ipt[1..ipt.len() - 1].contains(['"', '\'', '\\', '\n']));
            assert!(!sh_single(text).contains('\n'));
            assert!(!yaml_quoted(text).contains('\n'));
            assert!(!hcl_quoted(text).contains('\n'));
        }
    }

    #[test]
    fn urls_stay_urls() {
        let page = "https://skatteetaten.github.io/api-dokumentasjon/om/sikkerhet?x=1#a";
        assert_eq!(url(page), page);
        assert_eq!(
            url("https://x.no/a b\"'$(x)"),
            "https://x.no/a%20b%22%27%24%28x%29"
        );
    }

    #[test]
    fn names_fit_and_stay_distinct() {
        assert_eq!(fit_name("egc_prod", 31, '_'), "egc_prod");
        let a = fit_name(&format!("egc_{}_a", "x".repeat(60)), 31, '_');
        let b = fit_name(&format!("egc_{}_b", "x".repeat(60)), 31, '_');
        assert!(a.len() <= 31 && b.len() <= 31);
        assert_ne!(a, b);
        assert_eq!(ident_part("2a13:6200::/32", '_'), "2a13_6200___32");
    }
}
