//! `check --format markdown`: the go-live report for a change ticket, a pull request or a
//! wiki, in GitHub-flavoured Markdown (the sections of [`super::markup`]; tables as GFM
//! pipe tables).
//!
//! Every string is escaped, so that text from the data file or the network reads as itself
//! and never as markup: ASCII punctuation that Markdown gives a meaning (`|` ends a cell, a
//! backtick opens code, `<` opens HTML, `[` a link, `*` and `_` emphasis, …) is preceded by
//! a backslash, and line breaks in a text become spaces. A table cell of several lines (the
//! token section's details) has its lines, each escaped, joined by `<br>`: the one tag this
//! writer emits, never from the text. Rules go into a fenced block whose fence is longer than
//! any run of backticks in them.

use std::io::{self, Write};

use super::Renderer;
use super::markup::{self, Cell, Mark, Markup, RulesText};
use crate::report::Report;

/// The Markdown renderer.
#[derive(Debug, Clone, Default)]
pub struct MarkdownRenderer {
    /// The rules of `--rules`, shown in the document.
    pub rules: Option<RulesText>,
}

impl Renderer for MarkdownRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        markup::write(report, self.rules.as_ref(), &Syntax, out)
    }
}

/// The characters escaped with a backslash wherever they are: those CommonMark and GFM give
/// a meaning inside a line (code, emphasis, links and images, HTML and entities, cells,
/// strikethrough). Parentheses, quotes and apostrophes mean nothing without them and stay
/// as they are, readable in the raw text.
const SPECIAL: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&'];

/// `text` as literal Markdown inline text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '\n' | '\r' | '\t' => out.push(' '),
            c if SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` as a literal paragraph or heading: [`escape`], and what would start a heading, a
/// list item or a heading underline at the start of a line escaped too (table cells need
/// not: no block starts inside a cell).
pub fn escape_block(text: &str) -> String {
    let mut out = escape(text);
    if out.starts_with(['#', '+', '-', '=']) {
        out.insert(0, '\\');
    } else {
        let digits = out.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && out.get(digits..).is_some_and(|r| r.starts_with(['.', ')'])) {
            out.insert(digits, '\\');
        }
    }
    out
}

/// A fence of backticks longer than any run of backticks in `text` (at least three).
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// The Markdown hooks.
struct Syntax;

impl Markup for Syntax {
    fn begin(&self, _title: &str, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn heading(&self, level: u8, text: &str, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{} {}\n",
            "#".repeat(usize::from(level.clamp(1, 6))),
            escape_block(text)
        )
    }

    fn paragraph(&self, text: &str, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}\n", escape_block(text))
    }

    fn verdict(&self, word: &str, _mark: Mark, rest: &str, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "**{}**: {}\n", escape(word), escape(rest))
    }

    fn table(&self, header: &[&str], rows: &[Vec<Cell>], out: &mut dyn Write) -> io::Result<()> {
        let head: Vec<String> = header.iter().map(|h| escape(h)).collect();
        writeln!(out, "| {} |", head.join(" | "))?;
        writeln!(out, "|{}", "---|".repeat(header.len()))?;
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| match c.text.as_str() {
                    "" => " ".to_owned(),
                    // A cell is one line of a pipe table: its lines are joined by a `<br>`,
                    // which GitHub, GitLab and Azure DevOps render as a break.
                    text => text
                        .split('\n')
                        .map(escape)
                        .collect::<Vec<_>>()
                        .join("<br>"),
                })
                .collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        writeln!(out)
    }

    fn code_block(&self, text: &str, out: &mut dyn Write) -> io::Result<()> {
        let fence = fence(text);
        writeln!(out, "{fence}\n{}\n{fence}\n", text.trim_end_matches('\n'))
    }

    fn end(&self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_backticks_and_markup_are_literal() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("`x`"), "\\`x\\`");
        assert_eq!(escape("<b>&amp;</b>"), "\\<b\\>\\&amp;\\</b\\>");
        assert_eq!(escape("[a](http://x)"), "\\[a\\](http://x)");
        assert_eq!(escape("line\nbreak"), "line break");
        assert_eq!(escape("provider's (of 3)"), "provider's (of 3)");
        assert_eq!(escape_block("# not a heading"), "\\# not a heading");
        assert_eq!(escape_block("1. item"), "1\\. item");
        assert_eq!(escape_block("- item"), "\\- item");
        assert_eq!(escape("- in a cell"), "- in a cell");
        assert_eq!(escape("51.13.21.170"), "51.13.21.170");
        assert_eq!(escape("api.example.no"), "api.example.no");
    }

    #[test]
    fn a_cell_of_several_lines_has_each_escaped_and_joined_by_a_break() {
        let mut out = Vec::new();
        Syntax
            .table(
                &["step", "details"],
                &[vec![Cell::from("token"), Cell::from("a|b\n<br>`c`")]],
                &mut out,
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "| step | details |\n|---|---|\n| token | a\\|b<br>\\<br\\>\\`c\\` |\n\n"
        );
    }

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }
}
