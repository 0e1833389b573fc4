//! The human report: a summary line, a table per environment, then the findings, then what
//! to do next. Colour only when asked (a terminal without `NO_COLOR`).

use std::io::{self, Write};

use super::{Renderer, cells, verdict_word};
use crate::audit::{Code, Severity, days_left};
use crate::report::Report;
use crate::term::grid::{Cell, Column, Frame, Grid, Tone};
use crate::term::{self, Screen, sanitize};

/// The table renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableRenderer {
    /// Width and colour (decided by the caller: `COLUMNS`, the terminal, `--color`,
    /// `NO_COLOR`).
    pub screen: Screen,
}

impl TableRenderer {
    /// The state word of a target (`ok`: no fail finding), coloured by its worst finding.
    fn severity_cell(severity: Option<Severity>) -> Cell {
        match severity {
            Some(Severity::Fail) => Cell::toned("fail", Tone::Bad),
            Some(Severity::Warn) => Cell::toned("ok (warn)", Tone::Warn),
            Some(Severity::Info) | None => Cell::toned("ok", Tone::Good),
        }
    }
}

impl Renderer for TableRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let rows = report.rows();
        let summary = report.summary();
        let not_probed = match summary.names_not_probed {
            0 => String::new(),
            n => format!(
                "; {} not probed (no address)",
                term::plural(n, "name", "names")
            ),
        };
        writeln!(
            out,
            "egresscheck {}: {} data {}, as of {}: {}: {} ok, {} reachable{not_probed}; findings: {} fail, {} warn, {} info ({:.1} s)",
            verdict_word(report),
            report.catalog.data.provider,
            report.catalog.data.version,
            report.as_of,
            term::plural(summary.targets, "target", "targets"),
            summary.ok,
            summary.reachable,
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
            let mut columns = vec![
                Column::names("host"),
                Column::spaced("address"),
                Column::atoms("port").drop_order(4),
                Column::words("DNS").drop_order(1),
                Column::words("TCP").drop_order(3),
                Column::words("TLS").drop_order(5),
            ];
            if http {
                columns.push(Column::words("HTTP").drop_order(6));
            }
            columns.extend([
                Column::atoms("cert days").right().drop_order(2),
                Column::atoms("verdict"),
            ]);
            let mut table = Grid::new(columns);
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
                        Cell::from(host.as_str()),
                        Cell::from("-"),
                        Cell::from(
                            p.ports
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        Cell::from(cells::dns(name, None)),
                        Cell::from("-"),
                        Cell::from("-"),
                    ];
                    if http {
                        cells.push(Cell::from("-"));
                    }
                    cells.extend([Cell::from("-"), Self::severity_cell(worst)]);
                    table.row(cells);
                }
                for (row_index, row) in report.row_range(index).zip(targets) {
                    let worst = report.state(row_index).worst;
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
                        Cell::from(host.as_str()),
                        Cell::from(address),
                        Cell::from(row.target.port.to_string()),
                        Cell::from(cells::dns(name, Some(row.target))),
                        Cell::from(cells::tcp(row.target)),
                        Cell::from(cells::tls(row.target)),
                    ];
                    if http {
                        cells.push(Cell::from(cells::http(row.target)));
                    }
                    cells.extend([Cell::from(cert_days), Self::severity_cell(worst)]);
                    table.row(cells);
                }
            }
            let rendered = table.render(self.screen.width, Frame::Boxed, self.screen.colour);
            term::write_table(out, self.screen.width, "", &rendered)?;
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
                let lead = format!("  {:<4} {:<28} ", f.severity.as_str(), f.code.as_str());
                term::write_wrapped(
                    out,
                    self.screen.width,
                    &lead,
                    "       ",
                    &format!("{place}: {}", sanitize(&f.message)),
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
