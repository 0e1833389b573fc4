//! The go-live report as a document for a change ticket (issue 13): `--format markdown` and
//! `--format html`, rendered from the bundled data's situations, read the way their readers
//! read them — the Markdown as GitHub-flavoured tables, the HTML in a real headless browser.

use egresscheck::output::Renderer;
use egresscheck::output::html::HtmlRenderer;
use egresscheck::output::markdown::MarkdownRenderer;
use egresscheck::report::Report;
use egresscheck::report::explain::explain;

use crate::support::browser;
use crate::support::scenario::{Scenario, Situation};

fn render(renderer: &dyn Renderer, report: &Report<'_>) -> String {
    let mut out = Vec::new();
    renderer.render(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The cells of a GFM table row: split at pipes no backslash escapes.
pub fn cells(line: &str) -> Vec<String> {
    let inner = line
        .trim()
        .strip_prefix('|')
        .and_then(|l| l.strip_suffix('|'))
        .unwrap_or_else(|| panic!("not a table row: {line}"));
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for ch in inner.chars() {
        match ch {
            '|' if !escaped => cells.push(String::new()),
            c => {
                cells.last_mut().unwrap().push(c);
                escaped = c == '\\' && !escaped;
                continue;
            }
        }
        escaped = false;
    }
    cells
}

/// Every table in `markdown` has as many cells in each row as in its header, and a
/// delimiter row after the header.
pub fn assert_tables_well_formed(what: &str, markdown: &str) {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut tables = 0;
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with('|') {
            i += 1;
            continue;
        }
        tables += 1;
        let width = cells(lines[i]).len();
        let delimiter = lines.get(i + 1).unwrap_or(&"");
        assert_eq!(
            cells(delimiter)
                .iter()
                .filter(|c| c.trim() == "---")
                .count(),
            width,
            "{what}: delimiter row of the table at line {}",
            i + 1
        );
        i += 2;
        while i < lines.len() && lines[i].starts_with('|') {
            assert_eq!(
                cells(lines[i]).len(),
                width,
                "{what}: row at line {} of a {width}-column table: {}",
                i + 1,
                lines[i]
            );
            i += 1;
        }
    }
    assert!(tables > 0, "{what}: no table:\n{markdown}");
}

/// `text` with each run of white space one space, as a browser shows it.
fn collapsed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_markdown_report_has_well_formed_tables_and_every_cause() {
    for situation in Situation::ALL {
        let scenario = Scenario::new(situation);
        let report = scenario.report();
        let markdown = render(&MarkdownRenderer::default(), &report);
        let what = situation.name();
        assert_tables_well_formed(what, &markdown);
        let verdict = egresscheck::output::verdict_word(&report);
        assert!(
            markdown.contains(&format!("**{verdict}**")),
            "{what}: verdict {verdict}:\n{markdown}"
        );
        for cause in report.causes() {
            let words = explain(&report, cause);
            assert!(
                markdown.contains(&egresscheck::output::markdown::escape(&words.summary)),
                "{what}: cause {}:\n{markdown}",
                cause.number
            );
        }
        for heading in [
            "## Causes",
            "## Targets",
            "### Test (test)",
            "### Produksjon (prod)",
        ] {
            assert!(markdown.contains(heading), "{what}: {heading}:\n{markdown}");
        }
    }
}

#[test]
fn the_markdown_report_reads_as_a_change_ticket() {
    let scenario = Scenario::new(Situation::BlockedRefusedExpired);
    let markdown = render(&MarkdownRenderer::default(), &scenario.report());
    insta::assert_snapshot!("document_markdown_blocked_refused_expired", markdown);
}

#[test]
fn the_html_report_opens_in_a_headless_browser_with_the_verdict_and_every_cause() {
    let dir = tempfile::tempdir().unwrap();
    for situation in Situation::ALL {
        let scenario = Scenario::new(situation);
        let report = scenario.report();
        let html = render(&HtmlRenderer::default(), &report);
        let what = situation.name();
        assert_self_contained(what, &html);
        let path = dir.path().join(format!("{what}.html"));
        std::fs::write(&path, &html).unwrap();
        let page = browser::open(&path);
        assert!(
            page.console.is_empty(),
            "{what}: console messages: {:#?}",
            page.console
        );
        let verdict = egresscheck::output::verdict_word(&report);
        assert!(
            page.text.contains(&format!("{verdict} :"))
                || page.text.contains(&format!("{verdict}:")),
            "{what}: verdict {verdict} in {}",
            page.text
        );
        assert!(page.text.contains("Causes"), "{what}: {}", page.text);
        for cause in report.causes() {
            let summary = collapsed(&explain(&report, cause).summary);
            assert!(
                page.text.contains(&summary),
                "{what}: cause {} ({summary}) not in the rendered text:\n{}",
                cause.number,
                page.text
            );
        }
        // Every target's name is in the rendered tables.
        for row in report.rows() {
            assert!(
                page.text.contains(row.planned.name.as_str()),
                "{what}: {}",
                row.planned.name
            );
        }
    }
}

/// The console check is not blind: a page that breaks its own policy is caught.
#[test]
fn the_browser_reports_a_page_that_breaks_its_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.html");
    std::fs::write(
        &path,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"><title>bad</title></head><body><p>x</p><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let page = browser::open(&path);
    assert!(!page.console.is_empty(), "no console message: {page:?}");
}

/// One file: no script, no external style sheet, font, image or link.
pub fn assert_self_contained(what: &str, html: &str) {
    let lower = html.to_ascii_lowercase();
    for outside in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        " src=",
        " href=",
        "url(",
        "@import",
        "@font-face",
    ] {
        assert!(!lower.contains(outside), "{what}: {outside} in\n{html}");
    }
    assert!(lower.starts_with("<!doctype html>"), "{what}");
    assert!(lower.contains("<style>"), "{what}: inline style");
    assert!(lower.contains("@media print"), "{what}: a print style");
}
