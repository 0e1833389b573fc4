//! Renderers of a `check` report, one file per format behind one small trait (hyperfine's
//! `export` module): `table` for people, `json` for programs and baselines, `prometheus` for
//! node_exporter's textfile collector, `junit` for CI pipelines, `nagios` for plugin-style
//! monitoring. Each writes to a writer it is given and never reads the clock.
//!
//! [`target`] defines the target object shared by `probe --format json` and
//! `check --format json`: one (host, address, port) with what DNS, TCP and TLS showed.
//! [`probe_table`] is the `probe` command's table.

pub mod json;
pub mod jsonl;
pub mod junit;
pub mod nagios;
pub mod probe_table;
pub mod prometheus;
pub mod table;
pub mod target;

use std::io::{self, Write};

use crate::report::Report;

/// A report format.
pub trait Renderer {
    /// Writes `report` to `out`.
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()>;
}

/// Status words per verdict, shared by the text formats.
pub(crate) fn verdict_word(report: &Report<'_>) -> &'static str {
    match report.verdict {
        crate::audit::Severity::Fail => "FAIL",
        crate::audit::Severity::Warn => "WARN",
        crate::audit::Severity::Info => "PASS",
    }
}

/// Compact description of one target's DNS, TCP and TLS state, for table cells and test
/// case names.
pub(crate) mod cells {
    use crate::probe::model::{DnsOutcome, NameObservation, TargetObservation};
    use crate::report::tcp_state_name;

    /// The DNS column: outcome and TTL of the answer that named this address.
    pub fn dns(name: &NameObservation, target: Option<&TargetObservation>) -> String {
        let Some(dns) = &name.dns else {
            return "via proxy".to_owned();
        };
        let outcome = dns.outcome();
        if outcome != DnsOutcome::Answer {
            return serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
        }
        let Some(addr) = target.and_then(|t| t.address) else {
            return "answer".to_owned();
        };
        let ttl = dns
            .a
            .iter()
            .chain(dns.aaaa.iter())
            .flat_map(|l| l.answers.iter())
            .find(|a| a.address == addr)
            .map(|a| a.ttl);
        match ttl {
            Some(ttl) => format!("ok ttl {ttl}"),
            None => "not in DNS".to_owned(),
        }
    }

    /// The TCP column.
    pub fn tcp(target: &TargetObservation) -> String {
        let state = tcp_state_name(target.tcp.state);
        if target.tcp.state == crate::probe::model::TcpState::Open {
            format!("open {:.0} ms", target.tcp.ms)
        } else {
            state
        }
    }

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

    /// The TLS column.
    pub fn tls(target: &TargetObservation) -> String {
        match &target.tls {
            None => "-".to_owned(),
            Some(tls) if !tls.ok => {
                if tls.timed_out {
                    "timeout".to_owned()
                } else {
                    "failed".to_owned()
                }
            }
            Some(tls) => {
                let trust = match (tls.trusted_public, tls.trusted_system) {
                    (true, _) => "trusted",
                    (false, true) => "INTERCEPTED",
                    (false, false) => "untrusted",
                };
                format!("{} {trust}", tls.version.as_deref().unwrap_or("?"))
            }
        }
    }
}
