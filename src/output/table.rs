//! The go-live report for people: the verdict and the counts, then the causes (what is wrong,
//! on how many targets, and who acts), then one compact row per name with each of its targets
//! (address, how far the connection got), laid out for the screen. `--verbose` adds every
//! finding as it stands and each distinct certificate in full.
//!
//! The report of a whole provider fits one screen: a cause is said once however many targets
//! share it, long values (a certificate's names) once per certificate, and a name's targets
//! share its row (a state all of them share is said once).

use std::io::{self, Write};

use super::rows::{Row, environment_title, per_target, target_rows};
use super::{Renderer, counts_text, verdict_word};
use crate::audit::Severity;
use crate::report::Report;
use crate::report::causes::{Actor, certificates};
use crate::report::explain::explain;
use crate::term::grid::{Cell, Column, Frame, Grid, Tone};
use crate::term::{self, Screen, sanitize};

/// The table renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableRenderer {
    /// Width and colour (decided by the caller: `COLUMNS`, the terminal, `--color`,
    /// `NO_COLOR`).
    pub screen: Screen,
    /// `--verbose`: every finding and each distinct certificate in full, after the report.
    pub verbose: bool,
}

impl Renderer for TableRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        self.headline(report, out)?;
        self.causes(report, out)?;
        self.targets(report, out)?;
        self.token(report, out)?;
        self.next_steps(report, out)?;
        if self.verbose {
            self.findings(report, out)?;
            self.certificates(report, out)?;
        }
        Ok(())
    }
}

impl TableRenderer {
    fn wrap(&self, out: &mut dyn Write, indent: &str, hang: &str, text: &str) -> io::Result<()> {
        term::write_wrapped(out, self.screen.width, indent, hang, text)
    }

    /// The verdict, the data judged, and the counts of the vocabulary of
    /// [`crate::report::targets`].
    fn headline(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let labels = if report.labels.is_empty() {
            String::new()
        } else {
            format!(" [{}]", sanitize(&report.labels.to_text()))
        };
        let text = format!(
            "egresscheck {}: {} data {}, as of {}{labels}: {} ({:.1} s)",
            verdict_word(report),
            report.catalog.data.provider,
            report.catalog.data.version,
            report.as_of,
            counts_text(report),
            report.duration_seconds,
        );
        self.wrap(out, "", "  ", &text)
    }

    /// Each cause once: severity, what is wrong on how many targets, who acts and how.
    fn causes(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        if report.causes().is_empty() {
            return Ok(());
        }
        writeln!(out)?;
        writeln!(out, "Causes")?;
        let width = report.causes().len().to_string().len();
        for cause in report.causes() {
            let words = explain(report, cause);
            let severity = self.tone(cause.severity, cause.severity.as_str());
            let lead = format!(
                " {:>width$}. {severity}{} ",
                cause.number,
                " ".repeat(4 - cause.severity.as_str().len())
            );
            let hang = " ".repeat(width + 9);
            // The code ties the cause to the findings of `-v`, JSON and the metrics' labels.
            let text = format!("{}: {}", cause.code, sanitize(&words.summary));
            self.wrap(out, &lead, &hang, &text)?;
            // A note needs no one to act: `-v` has the rest of what it says.
            if cause.severity > Severity::Info
                && (!words.action.is_empty() || cause.actor != Actor::Nobody)
            {
                let action = if words.action.is_empty() {
                    format!("→ {}", cause.actor.label())
                } else {
                    format!("→ {}: {}", cause.actor.label(), words.action)
                };
                self.wrap(out, &hang, &format!("{hang}  "), &action)?;
            }
        }
        Ok(())
    }

    /// One row per planned name with each of its targets (or `no address`), under a title
    /// row per environment.
    fn targets(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let rows = target_rows(report);
        if rows.is_empty() {
            return Ok(());
        }
        // The HTTP column only when the data asks some target for an HTTP check.
        let http = rows.iter().any(|r| !r.http.is_empty());
        let mut ports: Vec<&str> = rows
            .iter()
            .flat_map(|r| r.ports.iter().map(String::as_str))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        let one_port = ports.len() <= 1;
        writeln!(out)?;
        match ports.as_slice() {
            [port] => writeln!(out, "Targets (all on port {port})")?,
            _ => writeln!(out, "Targets")?,
        }
        // At the width of a terminal: port, then HTTP go first.
        let mut columns = vec![Column::names("host"), Column::spaced("address")];
        if !one_port {
            columns.push(Column::atoms("port").drop_order(2));
        }
        columns.push(Column::spaced("connection"));
        if http {
            columns.push(Column::spaced("HTTP").drop_order(3));
        }
        columns.push(Column::atoms("result"));
        let mut grid = Grid::new(columns);
        let mut environment = None;
        for row in &rows {
            if environment != Some(&row.env) {
                environment = Some(&row.env);
                grid.row([Cell::from(environment_title(report, &row.env))]);
            }
            let mut cells = vec![
                Cell::from(row.host.as_str()),
                Cell::from(row.addresses.join(", ")),
            ];
            if !one_port {
                cells.push(Cell::from(per_target(&row.ports)));
            }
            cells.push(Cell::from(per_target(&row.connections)));
            if http {
                cells.push(Cell::from(per_target(&row.http)));
            }
            cells.push(result_cell(row));
            grid.row(cells);
        }
        let rendered = grid.render(self.screen.width, Frame::Plain, self.screen.colour);
        term::write_table(out, self.screen.width, "", &rendered)
    }

    /// The token step (`--client FILE`), when the run took it.
    fn token(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let Some(token) = &report.token else {
            return Ok(());
        };
        writeln!(out)?;
        writeln!(
            out,
            "Token ({}, client {}, scopes {}):",
            token.environment,
            sanitize(&token.client_id),
            sanitize(&token.scopes.join(" "))
        )?;
        let path = crate::output::token::path_of(token);
        crate::output::token::write_steps(token, &path, &self.screen, out)
    }

    /// What to run next: the rules, when the firewall must act; the closing advice when
    /// nothing resolved; where the details are.
    fn next_steps(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let mut lines = Vec::new();
        if let Some(advice) = crate::audit::nothing_resolved(report.observations) {
            lines.push(advice);
        }
        if report
            .causes()
            .iter()
            .any(|c| c.actor == Actor::Firewall && c.severity == Severity::Fail)
        {
            let mut envs: Vec<&str> = report
                .causes()
                .iter()
                .filter(|c| c.actor == Actor::Firewall)
                .flat_map(|c| c.targets.iter())
                .filter_map(|&r| report.rows().get(r))
                .map(|row| row.planned.environment.as_str())
                .collect();
            envs.sort_unstable();
            envs.dedup();
            // Every environment is what no --env means.
            let env_flags: String = if envs.len() == report.catalog.environments.len() {
                String::new()
            } else {
                envs.iter().map(|e| format!(" --env {e}")).collect()
            };
            // One command a line: a command folded across lines is not pasted whole.
            lines.push(
                "Rules for what this run found closed: egresscheck check --rules nftables"
                    .to_owned(),
            );
            lines.push(format!(
                "Rules for the whole table: egresscheck rules --format nftables{env_flags} (or --list-formats)"
            ));
        }
        if !self.verbose && !report.findings.is_empty() {
            lines.push(
                "Every finding, and each certificate in full: egresscheck check -v.".to_owned(),
            );
        }
        if lines.is_empty() {
            return Ok(());
        }
        writeln!(out)?;
        for line in lines {
            self.wrap(out, "", "", &line)?;
        }
        Ok(())
    }

    /// `-v`: every finding, one per line as it stands.
    fn findings(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        if report.findings.is_empty() {
            return Ok(());
        }
        writeln!(out)?;
        writeln!(out, "Findings:")?;
        for f in &report.findings {
            let place = [f.environment.as_deref(), f.host.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let lead = format!("  {:<4} {:<28} ", f.severity.as_str(), f.code.as_str());
            self.wrap(
                out,
                &lead,
                "       ",
                &format!("{place}: {}", sanitize(&f.message)),
            )?;
        }
        Ok(())
    }

    /// `-v`: each distinct certificate the targets served, once, in full.
    fn certificates(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let all: Vec<usize> = (0..report.rows().len()).collect();
        let certs = certificates(report, &all);
        if certs.is_empty() {
            return Ok(());
        }
        writeln!(out)?;
        writeln!(out, "Certificates:")?;
        let now = report.as_of.and_time(chrono::NaiveTime::MIN).and_utc();
        for (chain, served) in certs {
            self.wrap(
                out,
                "  ",
                "    ",
                &format!("served to {}", term::plural(served, "target", "targets")),
            )?;
            for (label, value) in super::probe_table::certificate_lines(chain, now) {
                self.wrap(
                    out,
                    &format!("    {label:<9} "),
                    "              ",
                    &sanitize(&value),
                )?;
            }
        }
        Ok(())
    }

    /// `text` coloured as `severity` when colour is on.
    fn tone(&self, severity: Severity, text: &str) -> String {
        if !self.screen.colour {
            return text.to_owned();
        }
        let ansi = match severity {
            Severity::Fail => "\x1b[31m",
            Severity::Warn => "\x1b[33m",
            Severity::Info => "\x1b[32m",
        };
        format!("{ansi}{text}\x1b[0m")
    }
}

/// `ok`, `fail [1,2]`, `ok [4]`: the state word and the causes that concern the row.
fn result_cell(row: &Row) -> Cell {
    let word = if row.ok { "ok" } else { "fail" };
    let text = if row.causes.is_empty() {
        word.to_owned()
    } else {
        let numbers: Vec<String> = row.causes.iter().map(ToString::to_string).collect();
        format!("{word} [{}]", numbers.join(","))
    };
    let tone = match row.worst {
        Some(Severity::Fail) => Tone::Bad,
        Some(Severity::Warn) => Tone::Warn,
        Some(Severity::Info) | None => Tone::Good,
    };
    Cell::toned(text, tone)
}
