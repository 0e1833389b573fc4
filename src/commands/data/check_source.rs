//! `data check-source PAGE`: rendering of a [`SourceReport`]; exit 0 consistent, 1 drift.

use std::io::Write;

use chrono::NaiveDate;
use serde::Serialize;

use super::Format;
use crate::catalog::Catalog;
use crate::commands::CommandError;
use crate::exit::Status;
use crate::pagecheck::{self, Severity, SourceReport};
use crate::term::{self, Screen};

/// Version of the `data check-source` JSON format.
pub const CHECK_SOURCE_JSON_SCHEMA: u32 = 1;

/// Compares a page with the catalog and prints the result.
pub fn check_source(
    catalog: &Catalog,
    page_name: &str,
    page_bytes: &[u8],
    as_of: NaiveDate,
    format: Format,
    screen: Screen,
    out: &mut dyn Write,
) -> Result<Status, CommandError> {
    // Pages are untrusted: invalid UTF-8 becomes U+FFFD rather than an error, so a page with
    // one odd byte is still compared.
    let text = String::from_utf8_lossy(page_bytes);
    let report = pagecheck::check_source(catalog, page_name, &text, as_of);
    match format {
        Format::Table => render_text(catalog, &report, screen.width, out)?,
        Format::Json => {
            #[derive(Serialize)]
            struct Json<'a> {
                schema: u32,
                provider: &'a str,
                data_version: String,
                consistent: bool,
                #[serde(flatten)]
                report: &'a SourceReport,
            }
            let doc = Json {
                schema: CHECK_SOURCE_JSON_SCHEMA,
                provider: &catalog.data.provider,
                data_version: catalog.data.version.to_string(),
                consistent: report.is_consistent(),
                report: &report,
            };
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(if report.is_consistent() {
        Status::Pass
    } else {
        Status::Fail
    })
}

fn render_text(
    catalog: &Catalog,
    report: &SourceReport,
    width: usize,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let drift = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Drift)
        .count();
    let verdict = if drift == 0 {
        "consistent".to_owned()
    } else {
        format!("DRIFT ({})", term::plural(drift, "finding", "findings"))
    };
    let title = format!(
        "{}: {verdict} with {} data {} (source {}); {} compared",
        term::sanitize(&report.page),
        catalog.data.provider,
        catalog.data.version,
        report.primary_source,
        term::plural(report.mentions, "mention", "mentions")
    );
    term::write_wrapped(out, width, "", "  ", &title)?;
    for finding in &report.findings {
        let line = finding
            .line
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        let mark = match finding.severity {
            Severity::Drift => "drift",
            Severity::Info => "info ",
        };
        term::write_wrapped(
            out,
            width,
            &format!("  {mark} "),
            "        ",
            &format!("{line}{}", finding.message),
        )?;
    }
    if !report.references.is_empty() {
        term::write_wrapped(
            out,
            width,
            "  ",
            "   ",
            &format!(
                "(hyperlinks, not compared: {})",
                report.references.join(", ")
            ),
        )?;
    }
    Ok(())
}
