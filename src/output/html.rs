//! `check --format html`: the go-live report as one self-contained HTML file for a change
//! ticket or a wiki (the sections of [`super::markup`]).
//!
//! One file: the style sheet is inline, there is no script, no font, no image and no link
//! to anything outside the file, so it reads the same offline, attached to a ticket, and
//! printed (a print style drops the colours' backgrounds and keeps tables whole on a page
//! where it can). A Content-Security-Policy meta element forbids scripts and external loads
//! should anything slip through. Every string is escaped for HTML text (`&`, `<`, `>`, `"`,
//! `'`) after control characters are made visible, whether it came from the data file or
//! the network.

use std::io::{self, Write};

use super::Renderer;
use super::markup::{self, Cell, Mark, Markup, RulesText};
use crate::report::Report;

/// The HTML renderer.
#[derive(Debug, Clone, Default)]
pub struct HtmlRenderer {
    /// The rules of `--rules`, shown in the document.
    pub rules: Option<RulesText>,
}

impl Renderer for HtmlRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        markup::write(report, self.rules.as_ref(), &Syntax, out)
    }
}

/// `text` as HTML text or a quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The style sheet: readable on a screen and on paper, no external resource.
const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em; color: #1b1b1b; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 1.5em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; width: 100%; }
th, td { border: 1px solid #c8c8c8; padding: 0.25em 0.5em; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { background: #f0f0f0; }
.good { color: #0a6b24; } .warn { color: #8a5a00; font-weight: bold; } .bad { color: #b00020; font-weight: bold; }
.verdict { font-size: 1.1em; }
pre { background: #f6f6f6; border: 1px solid #c8c8c8; padding: 0.75em; overflow-x: auto; white-space: pre-wrap; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  th { background: none; }
  tr, pre { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
";

/// The HTML hooks.
struct Syntax;

impl Syntax {
    fn class(mark: Mark) -> &'static str {
        match mark {
            Mark::Plain => "",
            Mark::Good => " class=\"good\"",
            Mark::Warn => " class=\"warn\"",
            Mark::Bad => " class=\"bad\"",
        }
    }
}

impl Markup for Syntax {
    fn begin(&self, title: &str, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"egresscheck {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
            env!("CARGO_PKG_VERSION"),
            escape(title)
        )
    }

    fn heading(&self, level: u8, text: &str, out: &mut dyn Write) -> io::Result<()> {
        let level = level.clamp(1, 6);
        writeln!(out, "<h{level}>{}</h{level}>", escape(text))
    }

    fn paragraph(&self, text: &str, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "<p>{}</p>", escape(text))
    }

    fn verdict(&self, word: &str, mark: Mark, rest: &str, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "<p class=\"verdict\"><strong{}>{}</strong>: {}</p>",
            Self::class(mark),
            escape(word),
            escape(rest)
        )
    }

    fn table(&self, header: &[&str], rows: &[Vec<Cell>], out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "<table>\n<thead><tr>")?;
        for h in header {
            write!(out, "<th>{}</th>", escape(h))?;
        }
        writeln!(out, "</tr></thead>\n<tbody>")?;
        for row in rows {
            write!(out, "<tr>")?;
            for cell in row {
                let lines: Vec<String> = cell.text.split('\n').map(escape).collect();
                write!(
                    out,
                    "<td{}>{}</td>",
                    Self::class(cell.mark),
                    lines.join("<br>")
                )?;
            }
            writeln!(out, "</tr>")?;
        }
        writeln!(out, "</tbody>\n</table>")
    }

    fn code_block(&self, text: &str, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "<pre><code>{}</code></pre>", escape(text))
    }

    fn end(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "</body>\n</html>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn a_cell_of_several_lines_has_each_escaped_and_joined_by_a_break() {
        let mut out = Vec::new();
        Syntax
            .table(&["details"], &[vec![Cell::from("a<b>\n<br>&")]], &mut out)
            .unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(
            html.contains("<tr><td>a&lt;b&gt;<br>&lt;br&gt;&amp;</td></tr>"),
            "{html}"
        );
    }

    #[test]
    fn the_style_sheet_loads_nothing() {
        for outside in ["url(", "@import", "http:", "https:", "@font-face"] {
            assert!(!STYLE.contains(outside), "{outside}");
        }
    }
}
