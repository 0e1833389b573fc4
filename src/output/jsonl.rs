//! `--format jsonl`: one JSON object per line, for log pipelines (Loki, Elasticsearch,
//! journald) and automation (Ansible's `from_json` per line).
//!
//! Every line stands alone: it carries its `type` and the run's `labels`, so a line that a
//! pipeline splits off its run still says where it came from. The lines, in order: one
//! `target` per probed target, one `token` when `--client` took the token step, one
//! `finding` per finding, then one `summary`.
//!
//! ```json
//! {"type":"target","labels":{"site":"oslo"},"environment":"prod","service":"api","host":"…","address":"…","port":443,"ok":true,"reachable":true,"tcp":"open","tcp_ms":1.2,"tls_version":"TLSv1.3","tls_ms":3.4,"findings":[]}
//! {"type":"token","labels":{"site":"oslo"},"granted":false,"outcome":"the authorization server refused the token (HTTP 400 invalid_scope)","findings":["token-scope-missing"],"environment":"prod","service":"maskinporten","client_id":"…","scopes":["…"],…,"answer":{"outcome":"error",…},"stopped":null}
//! {"type":"finding","labels":{"site":"oslo"},"code":"blocked","severity":"fail","environment":"prod",…,"message":"…"}
//! {"type":"summary","labels":{"site":"oslo"},"provider":"…","data_version":"…","as_of":"2026-11-28","verdict":"fail","duration_seconds":5.1,"targets":24,"reachable":20,"fail":3,"warn":1,"info":2}
//! ```
//!
//! `ok`: no `fail` finding about the target; `reachable`: TCP connected and the TLS handshake
//! completed (`egresscheck_target_up`). A `token` line holds the JSON report's `token` object
//! (no secret: no key, grant or token) after `granted` (this host got a token), `outcome`
//! (that, or what stopped it, in words) and `findings` (the codes of the token step's
//! findings).

use std::io::{self, Write};

use serde::Serialize;

use super::Renderer;
use crate::audit::{Code, Finding, Severity, target_up};
use crate::labels::Labels;
use crate::report::{Report, tcp_state_name};
use crate::token::flow::TokenObservation;

/// The JSON-lines renderer of `check`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonlRenderer;

#[derive(Serialize)]
struct TargetLine<'a> {
    r#type: &'static str,
    labels: &'a Labels,
    environment: &'a str,
    service: &'a str,
    host: &'a str,
    address: Option<String>,
    port: u16,
    ok: bool,
    reachable: bool,
    tcp: String,
    tcp_ms: f64,
    tls_version: Option<&'a str>,
    tls_ms: Option<f64>,
    findings: Vec<Code>,
}

#[derive(Serialize)]
struct FindingLine<'a> {
    r#type: &'static str,
    labels: &'a Labels,
    #[serde(flatten)]
    finding: &'a Finding,
}

#[derive(Serialize)]
struct TokenLine<'a> {
    r#type: &'static str,
    labels: &'a Labels,
    granted: bool,
    outcome: String,
    findings: Vec<Code>,
    #[serde(flatten)]
    token: &'a TokenObservation,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    r#type: &'static str,
    labels: &'a Labels,
    provider: &'a str,
    data_version: String,
    as_of: chrono::NaiveDate,
    verdict: &'static str,
    duration_seconds: f64,
    targets: usize,
    reachable: usize,
    fail: usize,
    warn: usize,
    info: usize,
}

/// Writes one value as one line.
pub fn line(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    writeln!(out)
}

impl Renderer for JsonlRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let labels = &report.labels;
        for row in report.rows() {
            let findings: Vec<&Finding> = report.findings_for(row).collect();
            let tls = row.target.tls.as_ref();
            line(
                out,
                &TargetLine {
                    r#type: "target",
                    labels,
                    environment: row.planned.environment.as_str(),
                    service: row.planned.service.as_str(),
                    host: row.planned.name.as_str(),
                    address: row.target.address.map(|a| a.to_string()),
                    port: row.target.port.get(),
                    ok: findings.iter().all(|f| f.severity < Severity::Fail),
                    reachable: target_up(row.target),
                    tcp: tcp_state_name(row.target.tcp.state),
                    tcp_ms: row.target.tcp.ms,
                    tls_version: tls.and_then(|t| t.version.as_deref()),
                    tls_ms: tls.map(|t| t.ms),
                    findings: findings.iter().map(|f| f.code).collect(),
                },
            )?;
        }
        if let Some(token) = &report.token {
            let (granted, outcome) = super::token::outcome(token);
            line(
                out,
                &TokenLine {
                    r#type: "token",
                    labels,
                    granted,
                    outcome,
                    findings: report.token_findings().iter().map(|f| f.code).collect(),
                    token,
                },
            )?;
        }
        for finding in &report.findings {
            line(
                out,
                &FindingLine {
                    r#type: "finding",
                    labels,
                    finding,
                },
            )?;
        }
        let rows = report.rows();
        line(
            out,
            &SummaryLine {
                r#type: "summary",
                labels,
                provider: &report.catalog.data.provider,
                data_version: report.catalog.data.version.to_string(),
                as_of: report.as_of,
                verdict: match report.verdict {
                    Severity::Fail => "fail",
                    Severity::Warn => "warn",
                    Severity::Info => "pass",
                },
                duration_seconds: report.duration_seconds,
                targets: rows.len(),
                reachable: rows.iter().filter(|r| target_up(r.target)).count(),
                fail: report.count(Severity::Fail),
                warn: report.count(Severity::Warn),
                info: report.count(Severity::Info),
            },
        )
    }
}
