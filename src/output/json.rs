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
//!  "summary": {"targets": 24, "up": 20, "ok": 18, "reachable": 20, "names": 12,
//!              "names_not_probed": 1, "fail": 3, "warn": 1, "info": 2},
//!  "baseline": {"file": "state.json", "state": "read", "schema": 2, "kept_as": null},
//!  "names": [ {name, outcome, entries, probed, dns}, … ],
//!  "targets": [ {environment, service, host, documented, address, port, origin, proxy, tcp, tls, ok, reachable}, … ],
//!  "findings": [{"code", "severity", "environment", "service", "host", "address", "port", "message"}],
//!  "rules_needed": [ … ],
//!  "causes": [{"number": 1, "code": "tls-intercepted", "severity": "fail", "actor": "proxy",
//!              "summary": "TLS intercepted by CN=… (26 of 31 targets; …)", "action": "…",
//!              "targets": 26, "names_not_probed": 0, "hosts": […], "findings": 26}]}
//! ```

use std::io::{self, Write};

use chrono::NaiveDate;
use serde::Serialize;

use std::borrow::Cow;
use std::collections::HashMap;

use super::Renderer;
use crate::audit::{Finding, Severity};
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
    /// The findings grouped by cause, worst first (see [`crate::report::causes`]).
    causes: Vec<CauseJson<'a>>,
}

/// One cause: its code, who acts, its words and what it covers.
#[derive(Serialize)]
struct CauseJson<'a> {
    /// Its number, as the table refers to it.
    number: usize,
    code: crate::audit::Code,
    severity: Severity,
    actor: crate::report::causes::Actor,
    /// What is wrong, for all its targets at once.
    summary: String,
    /// What to do (empty when the summary says it).
    action: String,
    /// Targets it concerns (of `summary.targets`).
    targets: usize,
    /// Names without an address it concerns.
    names_not_probed: usize,
    /// The hosts its findings name.
    hosts: &'a [String],
    /// Its findings (of `findings[]`).
    findings: usize,
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

/// Counts over `targets[]` and `names[]` (the vocabulary of [`crate::report::targets`]),
/// then the findings per severity.
#[derive(Serialize)]
struct Summary {
    /// Entries of `targets[]`.
    targets: usize,
    /// Targets where TCP and TLS completed (the same number as `reachable`; the name of
    /// schema 1).
    up: usize,
    /// Targets with no `fail` finding.
    ok: usize,
    /// Targets where TCP and TLS completed.
    reachable: usize,
    /// Names planned (a name planned in two environments counts twice).
    names: usize,
    /// Planned names that gave no address to probe (`probed: false` in `names[]`).
    names_not_probed: usize,
    /// Findings of severity `fail`.
    fail: usize,
    /// Findings of severity `warn`.
    warn: usize,
    /// Findings of severity `info`.
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
            let mut entry = NameEntry::new(Cow::Owned(without_targets(observation)), refs);
            entry.probed = Some(!observation.targets.is_empty());
            Some(entry)
        })
        .collect()
}

/// The target objects of a report: one per probed target and catalog entry, in plan order.
pub fn target_entries<'a>(report: &Report<'a>) -> Vec<TargetEntry<'a>> {
    report
        .rows()
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let state = report.state(index);
            TargetEntry {
                environment: Some(row.planned.environment.to_string()),
                service: Some(row.planned.service.to_string()),
                host: row.planned.name.to_string(),
                documented: row.documented,
                observation: Cow::Borrowed(row.target),
                ok: Some(state.ok),
                reachable: Some(state.reachable),
            }
        })
        .collect()
}

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let summary = report.summary();
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
                targets: summary.targets,
                up: summary.reachable,
                ok: summary.ok,
                reachable: summary.reachable,
                names: summary.names,
                names_not_probed: summary.names_not_probed,
                fail: report.count(Severity::Fail),
                warn: report.count(Severity::Warn),
                info: report.count(Severity::Info),
            },
            baseline: report.baseline.as_ref(),
            names: name_entries(report),
            targets: target_entries(report),
            findings: &report.findings,
            rules_needed: crate::report::rules_needed(report),
            causes: report
                .causes()
                .iter()
                .map(|cause| {
                    let words = crate::report::explain::explain(report, cause);
                    CauseJson {
                        number: cause.number,
                        code: cause.code,
                        severity: cause.severity,
                        actor: cause.actor,
                        summary: words.summary,
                        action: words.action,
                        targets: cause.targets.len(),
                        names_not_probed: cause.names_not_probed.len(),
                        hosts: &cause.hosts,
                        findings: cause.findings.len(),
                    }
                })
                .collect(),
            token: report.token.as_ref(),
        };
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
        writeln!(out)
    }
}
