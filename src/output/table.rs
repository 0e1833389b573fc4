//! The human report: a summary line, a table per environment, then the findings, then what
//! to do next. Colour only when asked (a terminal without `NO_COLOR`).

use std::io::{self, Write};

use comfy_table::{Cell, Color};

use super::{Renderer, cells, verdict_word};
use crate::audit::{Code, Severity, days_left};
use crate::report::Report;
use crate::term::{self, sanitize};

/// The table renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableRenderer {
    /// Use colour (decided by the caller: terminal and `NO_COLOR`).
    pub colour: bool,
}

impl TableRenderer {
    fn severity_cell(&self, severity: Option<Severity>) -> Cell {
        let (text, colour) = match severity {
            Some(Severity::Fail) => ("fail", Color::Red),
            Some(Severity::Warn) => ("warn", Color::Yellow),
            Some(Severity::Info) | None => ("ok", Color::Green),
        };
        let cell = Cell::new(text);
        if self.colour { cell.fg(colour) } else { cell }
    }
}

impl Renderer for TableRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let rows = report.rows();
        let up = rows
            .iter()
            .filter(|r| crate::audit::target_up(r.target))
            .count();
        writeln!(
            out,
            "egresscheck {}: {} data {}, as of {}: {} targets, {} up; {} fail, {} warn, {} info ({:.1} s)",
            verdict_word(report),
            report.catalog.data.provider,
            report.catalog.data.version,
            report.as_of,
            rows.len(),
            up,
            report.count(Severity::Fail),
            report.count(Severity::Warn),
            report.count(Severity::Info),
            report.duration_seconds,
        )?;
        for env in &report.catalog.environments {
            let planned: Vec<_> = report
                .plan
                .names
                .iter()
                .enumerate()
                .filter(|(_, p)| p.environment == env.id)
                .collect();
            if planned.is_empty() {
                continue;
            }
            writeln!(out)?;
            writeln!(out, "{} ({})", env.name, env.id)?;
            // The HTTP column only when the data asks some target for an HTTP check.
            let http = rows.iter().any(|r| r.target.http.is_some());
            let mut header = vec!["host", "address", "port", "DNS", "TCP", "TLS"];
            if http {
                header.push("HTTP");
            }
            header.extend(["cert days", "verdict"]);
            let mut table = term::table(header);
            if self.colour {
                table.enforce_styling();
            } else {
                table.force_no_tty();
            }
            for (index, p) in planned {
                let Some(name) = report.observation(&p.name) else {
                    continue;
                };
                let host = match p.kind {
                    crate::plan::EntryKind::Legacy => format!("{} (legacy)", p.name),
                    crate::plan::EntryKind::Endpoint => p.name.to_string(),
                };
                let targets = report.rows_of(index);
                if targets.is_empty() {
                    let worst = report
                        .findings_for_host(env.id.as_str(), p.name.as_str())
                        .map(|f| f.severity)
                        .max();
                    let mut cells = vec![
                        Cell::new(&host),
                        Cell::new("-"),
                        Cell::new(
                            p.ports
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        Cell::new(cells::dns(name, None)),
                        Cell::new("-"),
                        Cell::new("-"),
                    ];
                    if http {
                        cells.push(Cell::new("-"));
                    }
                    cells.extend([Cell::new("-"), self.severity_cell(worst)]);
                    table.add_row(cells);
                }
                for row in targets {
                    let worst = report.findings_for(row).map(|f| f.severity).max();
                    let address = match (row.target.address, row.documented) {
                        (Some(a), true) => a.to_string(),
                        (Some(a), false) => format!("{a} (undocumented)"),
                        (None, _) => "(proxy)".to_owned(),
                    };
                    let cert_days = row
                        .target
                        .tls
                        .as_ref()
                        .and_then(|t| t.chain.first())
                        .map(|c| days_left(c.not_after, report.as_of).to_string())
                        .unwrap_or_else(|| "-".to_owned());
                    let mut cells = vec![
                        Cell::new(&host),
                        Cell::new(address),
                        Cell::new(row.target.port.to_string()),
                        Cell::new(cells::dns(name, Some(row.target))),
                        Cell::new(cells::tcp(row.target)),
                        Cell::new(cells::tls(row.target)),
                    ];
                    if http {
                        cells.push(Cell::new(cells::http(row.target)));
                    }
                    cells.extend([Cell::new(cert_days), self.severity_cell(worst)]);
                    table.add_row(cells);
                }
            }
            writeln!(out, "{table}")?;
        }
        if let Some(token) = &report.token {
            writeln!(out)?;
            writeln!(
                out,
                "Token ({}, client {}, scopes {}):",
                token.environment,
                sanitize(&token.client_id),
                sanitize(&token.scopes.join(" "))
            )?;
            crate::output::token::write_steps(token, &[], out)?;
        }
        if !report.findings.is_empty() {
            writeln!(out)?;
            writeln!(out, "Findings:")?;
            for f in &report.findings {
                let place = [f.environment.as_deref(), f.host.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                writeln!(
                    out,
                    "  {:<4} {:<28} {}: {}",
                    f.severity.as_str(),
                    f.code.as_str(),
                    place,
                    sanitize(&f.message)
                )?;
            }
        }
        advice(report, out)
    }
}

/// What to do next, when something is blocked or undocumented.
fn advice(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let has = |codes: &[Code]| report.findings.iter().any(|f| codes.contains(&f.code));
    if let Some(advice) = crate::audit::nothing_resolved(report.observations) {
        writeln!(out)?;
        writeln!(out, "{advice}")?;
    }
    if has(&[
        Code::Blocked,
        Code::Refused,
        Code::Unreachable,
        Code::UndocumentedAddress,
        Code::DnsFailure,
    ]) {
        let envs: Vec<String> = report
            .findings
            .iter()
            .filter_map(|f| f.environment.clone())
            .fold(Vec::new(), |mut acc, e| {
                if !acc.contains(&e) {
                    acc.push(e);
                }
                acc
            });
        let env_flags: String = envs.iter().map(|e| format!(" --env {e}")).collect();
        writeln!(out)?;
        writeln!(
            out,
            "To write the firewall change: `egresscheck rules --format nftables{env_flags}` (or iptables, ufw, firewalld, pf, windows, cisco-asa, k8s, cilium, aws, azure, gcp, squid, dnsmasq-nftset; `egresscheck rules --list-formats`), or `egresscheck check --rules FORMAT` for only what this run found closed."
        )?;
    }
    Ok(())
}
