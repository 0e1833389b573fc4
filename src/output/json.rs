//! `check --format json`: the versioned report (also what `--save` writes and `--baseline`
//! reads back).
//!
//! Schema 2 (public interface, documented in the README; fields are only added). Each name's
//! DNS observation is in `names[]` once, and each probed target in `targets[]` refers to its
//! name by `host`; both embed the probe model as it is (see [`crate::report::document`]),
//! which is what makes every report a baseline:
//!
//! ```json
//! {"schema": 2, "tool": {"name": "egresscheck", "version": "0.1.0"},
//!  "data": {"provider": "…", "version": "2026-02-09.2", "source_url": "…", "document_date": "2026-02-09"},
//!  "as_of": "2026-11-28", "verdict": "fail", "duration_seconds": 5.1,
//!  "summary": {"targets": 24, "up": 20, "fail": 3, "warn": 1, "info": 2},
//!  "baseline": {"file": "state.json", "state": "read", "schema": 2, "kept_as": null},
//!  "names": [ {name, outcome, entries, dns}, … ],
//!  "targets": [ {environment, service, host, documented, address, port, origin, proxy, tcp, tls}, … ],
//!  "findings": [{"code", "severity", "environment", "service", "host", "address", "port", "message"}],
//!  "rules_needed": [ … ]}
//! ```

use std::io::{self, Write};

use chrono::NaiveDate;
use serde::Serialize;

use std::borrow::Cow;
use std::collections::HashMap;

use super::Renderer;
use crate::audit::{Finding, Severity, target_up};
use crate::catalog::DnsName;
use crate::report::document::{EntryRef, NameEntry, TargetEntry, without_targets};
use crate::report::{BaselineNote, REPORT_SCHEMA, Report};

/// The JSON renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

#[derive(Serialize)]
struct ReportJson<'a> {
    schema: u32,
    tool: Tool,
    data: Data<'a>,
    as_of: NaiveDate,
    /// `--label`s, an object (`{}` without any).
    labels: &'a crate::labels::Labels,
    /// `pass` (nothing worse than info), `warn` or `fail`.
    verdict: &'static str,
    duration_seconds: f64,
    summary: Summary,
    /// What `--baseline` gave; null without `--baseline`.
    baseline: Option<&'a BaselineNote>,
    names: Vec<NameEntry<'a>>,
    targets: Vec<TargetEntry<'a>>,
    findings: &'a [Finding],
    rules_needed: Vec<crate::report::NeededRule>,
    /// The token step of `check --client`; absent without `--client`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a crate::token::flow::TokenObservation>,
}

/// The `tool` object of the JSON documents.
#[derive(Serialize)]
pub(crate) struct Tool {
    name: &'static str,
    version: &'static str,
}

impl Tool {
    /// This build.
    pub(crate) fn this() -> Self {
        Tool {
            name: "egresscheck",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The `data` object of the JSON documents: which data file, from which page.
#[derive(Serialize)]
pub(crate) struct Data<'a> {
    provider: &'a str,
    version: String,
    source_url: Option<&'a str>,
    document_date: Option<NaiveDate>,
}

impl<'a> Data<'a> {
    /// The data of `catalog`.
    pub(crate) fn of(catalog: &'a crate::catalog::Catalog) -> Self {
        let source = catalog.primary_source();
        Data {
            provider: &catalog.data.provider,
            version: catalog.data.version.to_string(),
            source_url: source.map(|s| s.url.as_str()),
            document_date: source.and_then(|s| s.document_date),
        }
    }
}

#[derive(Serialize)]
struct Summary {
    targets: usize,
    up: usize,
    fail: usize,
    warn: usize,
    info: usize,
}

/// The name entries of a report: each planned name once, in plan order, with what DNS said
/// and the catalog entries that name it.
pub fn name_entries<'a>(report: &Report<'a>) -> Vec<NameEntry<'a>> {
    let mut entries: HashMap<&DnsName, Vec<EntryRef>> = HashMap::new();
    let mut order: Vec<&DnsName> = Vec::new();
    for planned in &report.plan.names {
        let refs = entries.entry(&planned.name).or_insert_with(|| {
            order.push(&planned.name);
            Vec::new()
        });
        refs.push(EntryRef {
            environment: planned.environment.to_string(),
            service: planned.service.to_string(),
            kind: planned.kind,
        });
    }
    order
        .into_iter()
        .filter_map(|name| {
            let observation = report.observation(name)?;
            let refs = entries.remove(name).unwrap_or_default();
            Some(NameEntry::new(
                Cow::Owned(without_targets(observation)),
                refs,
            ))
        })
        .collect()
}

/// The target objects of a report: one per probed target and catalog entry, in plan order.
pub fn target_entries<'a>(report: &Report<'a>) -> Vec<TargetEntry<'a>> {
    report
        .rows()
        .iter()
        .map(|row| TargetEntry {
            environment: Some(row.planned.environment.to_string()),
            service: Some(row.planned.service.to_string()),
            host: row.planned.name.to_string(),
            documented: row.documented,
            observation: Cow::Borrowed(row.target),
        })
        .collect()
}

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let rows = report.rows();
        let doc = ReportJson {
            schema: REPORT_SCHEMA,
            tool: Tool::this(),
            data: Data::of(report.catalog),
            as_of: report.as_of,
            labels: &report.labels,
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
            baseline: report.baseline.as_ref(),
            names: name_entries(report),
            targets: target_entries(report),
            findings: &report.findings,
            rules_needed: crate::report::rules_needed(report),
            token: report.token.as_ref(),
        };
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
        writeln!(out)
    }
}
