//! Nagios plugin output: one status line with performance data, and the plugin exit codes
//! 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (a `baseline-unusable` finding here; runs that
//! could not be made at all, bad data or usage, are decided by the caller).

use std::io::{self, Write};

use super::Renderer;
use crate::audit::{Code, Severity};
use crate::exit::Status;
use crate::report::Report;

/// The Nagios renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NagiosRenderer {
    /// `--strict`: warnings count as failures.
    pub strict: bool,
}

impl NagiosRenderer {
    /// The plugin exit status for a report. A baseline that could not be used makes it
    /// UNKNOWN: the check ran, but what it is to compare with is missing.
    pub fn status(&self, report: &Report<'_>) -> Status {
        if report
            .findings
            .iter()
            .any(|f| f.code == Code::BaselineUnusable)
        {
            return Status::Unknown;
        }
        match report.verdict {
            Severity::Fail => Status::Error,
            Severity::Warn if self.strict => Status::Error,
            Severity::Warn => Status::Fail,
            Severity::Info => Status::Pass,
        }
    }
}

impl Renderer for NagiosRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let word = match self.status(report) {
            Status::Pass => "OK",
            Status::Fail => "WARNING",
            Status::Error => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        };
        let summary = report.summary();
        let fail = report.count(Severity::Fail);
        let warn = report.count(Severity::Warn);
        // The causes, worst first, each with how many targets it concerns: what a pager
        // shows of a check.
        let causes: Vec<String> = report
            .causes()
            .iter()
            .filter(|c| c.severity >= Severity::Warn)
            .map(|c| {
                let on = c.targets.len() + c.names_not_probed.len();
                format!("{} on {on}", c.code)
            })
            .collect();
        let first = match report
            .causes()
            .first()
            .filter(|c| c.severity >= Severity::Warn)
        {
            Some(cause) => format!(
                ": {}: {}",
                causes.join(", "),
                crate::term::sanitize(&crate::report::explain::explain(report, cause).summary)
                    .replace('|', "/")
            ),
            None => String::new(),
        };
        let not_probed = match summary.names_not_probed {
            0 => String::new(),
            n => format!(", {} not probed", crate::term::plural(n, "name", "names")),
        };
        // The labels say where: `[site=oslo node=a]`, before the perfdata's `|`.
        let labels = if report.labels.is_empty() {
            String::new()
        } else {
            format!(
                " [{}]",
                crate::term::sanitize(&report.labels.to_text()).replace('|', "/")
            )
        };
        writeln!(
            out,
            "EGRESSCHECK {word} - {}/{} ok, {} reachable{not_probed}; {fail} fail, {warn} warn{labels}{first} | targets={} ok={} reachable={} up={} names_not_probed={} fail={fail} warn={warn} info={} duration={:.3}s",
            summary.ok,
            crate::term::plural(summary.targets, "target", "targets"),
            summary.reachable,
            summary.targets,
            summary.ok,
            summary.reachable,
            summary.reachable,
            summary.names_not_probed,
            report.count(Severity::Info),
            report.duration_seconds,
        )
    }
}
