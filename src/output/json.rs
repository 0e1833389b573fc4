//! `check --format json`: the versioned report (also the `--baseline` format).
//!
//! Schema 1 (public interface, documented in the README; fields are only added):
//!
//! ```json
//! {"schema": 1, "tool": {"name": "egresscheck", "version": "0.1.0"},
//!  "data": {"provider": "…", "version": "2026-02-09.1", "source_url": "…", "document_date": "2026-02-09"},
//!  "as_of": "2026-11-28", "verdict": "fail", "duration_seconds": 5.1,
//!  "summary": {"targets": 24, "up": 20, "fail": 3, "warn": 1, "info": 2},
//!  "targets": [ {target object, see output::target, with environment and service} ],
//!  "findings": [{"code", "severity", "environment", "service", "host", "address", "port", "message"}],
//!  "rules_needed": [ … ]}
//! ```

use std::io::{self, Write};

use chrono::NaiveDate;
use serde::Serialize;

use super::Renderer;
use super::target::TargetReport;
use crate::audit::{Finding, Severity, target_up};
use crate::report::{REPORT_SCHEMA, Report};

/// The JSON renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

#[derive(Serialize)]
struct ReportJson<'a> {
    schema: u32,
    tool: Tool,
    data: Data<'a>,
    as_of: NaiveDate,
    /// `pass` (nothing worse than info), `warn` or `fail`.
    verdict: &'static str,
    duration_seconds: f64,
    summary: Summary,
    targets: Vec<TargetReport>,
    findings: &'a [Finding],
    rules_needed: Vec<crate::report::NeededRule>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Data<'a> {
    provider: &'a str,
    version: String,
    source_url: Option<&'a str>,
    document_date: Option<NaiveDate>,
}

#[derive(Serialize)]
struct Summary {
    targets: usize,
    up: usize,
    fail: usize,
    warn: usize,
    info: usize,
}

/// The target objects of a report, with their environment and service: one per probed
/// target, or one per port for a name where nothing could be probed.
pub fn target_reports(report: &Report<'_>) -> Vec<TargetReport> {
    let mut out = Vec::with_capacity(report.rows().len());
    for (index, planned) in report.plan.names.iter().enumerate() {
        let Some(observation) = report.observation(&planned.name) else {
            continue;
        };
        let mine = report.rows_of(index);
        let with_context = |mut t: TargetReport| {
            t.environment = Some(planned.environment.to_string());
            t.service = Some(planned.service.to_string());
            t
        };
        if mine.is_empty() {
            out.extend(
                planned
                    .ports
                    .iter()
                    .map(|p| with_context(TargetReport::unprobed(observation, *p))),
            );
        }
        for row in mine {
            let mut t = with_context(TargetReport::probed(
                observation,
                row.target,
                &planned.documented,
            ));
            t.documented = row.documented;
            out.push(t);
        }
    }
    out
}

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let rows = report.rows();
        let source = report.catalog.primary_source();
        let doc = ReportJson {
            schema: REPORT_SCHEMA,
            tool: Tool {
                name: "egresscheck",
                version: env!("CARGO_PKG_VERSION"),
            },
            data: Data {
                provider: &report.catalog.data.provider,
                version: report.catalog.data.version.to_string(),
                source_url: source.map(|s| s.url.as_str()),
                document_date: source.and_then(|s| s.document_date),
            },
            as_of: report.as_of,
            verdict: match report.verdict {
                Severity::Info => "pass",
                Severity::Warn => "warn",
                Severity::Fail => "fail",
            },
            duration_seconds: report.duration_seconds,
            summary: Summary {
                targets: rows.len(),
                up: rows.iter().filter(|r| target_up(r.target)).count(),
                fail: report.count(Severity::Fail),
                warn: report.count(Severity::Warn),
                info: report.count(Severity::Info),
            },
            targets: target_reports(report),
            findings: &report.findings,
            rules_needed: crate::report::rules_needed(report),
        };
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
        writeln!(out)
    }
}
