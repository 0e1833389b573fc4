//! Renderers of a `check` report, one file per format behind one small trait (hyperfine's
//! `export` module): `table` for people, `json` for programs and baselines, `prometheus` for
//! node_exporter's textfile collector, `junit` for CI pipelines, `nagios` for plugin-style
//! monitoring, `markdown` and `html` for a change ticket or a wiki (one document shape,
//! [`markup`], two syntaxes). Each writes to a writer it is given and never reads the clock.
//!
//! [`target`] defines the target object shared by `probe --format json` and
//! `check --format json`: one (host, address, port) with what DNS, TCP and TLS showed.
//! [`probe_table`] is the `probe` command's table.

pub mod html;
pub mod json;
pub mod jsonl;
pub mod junit;
pub mod markdown;
pub mod markup;
pub mod nagios;
pub mod probe_table;
pub mod prometheus;
mod rows;
pub mod table;
pub mod target;
pub mod token;

use std::io::{self, Write};

use crate::report::Report;

/// A report format.
pub trait Renderer {
    /// Writes `report` to `out`.
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()>;
}

/// The counts every human format leads with: `34 targets: 19 ok, 19 reachable; 1 name not
/// probed (no address); findings: 15 fail, 0 warn, 4 info`.
pub(crate) fn counts_text(report: &Report<'_>) -> String {
    let summary = report.summary();
    let not_probed = match summary.names_not_probed {
        0 => String::new(),
        n => format!(
            "; {} not probed (no address)",
            crate::term::plural(n, "name", "names")
        ),
    };
    format!(
        "{}: {} ok, {} reachable{not_probed}; findings: {} fail, {} warn, {} info",
        crate::term::plural(summary.targets, "target", "targets"),
        summary.ok,
        summary.reachable,
        report.count(crate::audit::Severity::Fail),
        report.count(crate::audit::Severity::Warn),
        report.count(crate::audit::Severity::Info),
    )
}

/// Status words per verdict, shared by the text formats.
pub fn verdict_word(report: &Report<'_>) -> &'static str {
    match report.verdict {
        crate::audit::Severity::Fail => "FAIL",
        crate::audit::Severity::Warn => "WARN",
        crate::audit::Severity::Info => "PASS",
    }
}

/// Compact words for one target's TLS and HTTP, for table cells.
pub(crate) mod cells {
    use crate::probe::model::TargetObservation;

    /// The HTTP column: the check's status and time, or how it failed; `-` without one.
    pub fn http(target: &TargetObservation) -> String {
        match &target.http {
            None => "-".to_owned(),
            Some(http) => match http.status {
                Some(status) => format!("{status} {:.0} ms", http.ms),
                None => match http.failure {
                    Some(crate::probe::model::HttpFailure::Timeout) => "timeout".to_owned(),
                    Some(crate::probe::model::HttpFailure::NotSent) => "not sent".to_owned(),
                    _ => "failed".to_owned(),
                },
            },
        }
    }

    /// How far a connection got, in a word: the TCP state when it did not connect
    /// (`filtered`, `refused`, `proxy-denied`, …), else whose certificate the TLS handshake
    /// showed (`trusted`, `intercepted`: trusted only by this machine's store, `out of date`:
    /// a public CA's but for its dates, `untrusted`), or how TLS failed (`TLS failed`,
    /// `TLS timeout`).
    pub fn connection(target: &TargetObservation) -> String {
        if target.tcp.state != crate::probe::model::TcpState::Open {
            return crate::report::tcp_state_name(target.tcp.state);
        }
        match &target.tls {
            None => "open".to_owned(),
            Some(tls) if !tls.ok => {
                if tls.timed_out {
                    "TLS timeout".to_owned()
                } else {
                    "TLS failed".to_owned()
                }
            }
            Some(tls) => match (tls.trusted_public, tls.trusted_system) {
                (true, _) => "trusted",
                (false, true) => "intercepted",
                // A public CA's chain but for its dates: expired, or not valid yet.
                (false, false) if tls.anchored_public => "out of date",
                (false, false) => "untrusted",
            }
            .to_owned(),
        }
    }
}
