//! Prometheus text exposition for node_exporter's textfile collector.
//!
//! Metric names are public interface (alert rules and dashboards use them). Label values
//! are bounded: environments, hosts, addresses and ports come from the data file and DNS
//! answers capped per name; finding codes and severities are closed sets. Every code is
//! exported, at 0 when absent, so that alerts see 0 rather than a missing series.
//!
//! `serve` answers each `/probe` with this same text ([`render_scrape`]): every HELP then says
//! that the value was probed at that scrape, and the scrape's own families follow
//! (`egresscheck_probe_success`, `egresscheck_probe_duration_seconds`, the deadline and what it
//! cut short), as blackbox_exporter's `probe_*` metrics do.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::NaiveTime;

use super::Renderer;
use crate::audit::{Code, Severity};
use crate::report::Report;

/// The Prometheus renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrometheusRenderer;

/// What `serve` adds to a scrape's text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scrape {
    /// The deadline the run was given, seconds.
    pub deadline_seconds: f64,
}

/// Appended to every HELP of a scrape's text: the exporter keeps no results between scrapes.
const SCRAPE_HELP: &str = " Probed when scraped; nothing is cached.";

/// Writes the metrics of one `serve` scrape: the textfile families of [`PrometheusRenderer`],
/// then the scrape's own. Returns the value of `egresscheck_probe_success`.
pub fn render_scrape(
    report: &Report<'_>,
    scrape: &Scrape,
    out: &mut dyn Write,
) -> io::Result<bool> {
    let mut text = String::new();
    let mut m = Family {
        out: &mut text,
        help_suffix: SCRAPE_HELP,
        extra: &report.labels,
    };
    families(report, &mut m);
    let cut_short = report
        .rows()
        .iter()
        .filter(|row| row.target.cut_by_deadline())
        .count();
    let success = report.verdict < Severity::Fail && cut_short == 0;
    m.header(
        "egresscheck_probe_success",
        "1 when this scrape's run found no failure and the deadline cut nothing short, else 0.",
    );
    m.sample(
        "egresscheck_probe_success",
        &[],
        f64::from(u8::from(success)),
    );
    m.header(
        "egresscheck_probe_duration_seconds",
        "Wall time of this scrape's probe run.",
    );
    m.sample(
        "egresscheck_probe_duration_seconds",
        &[],
        report.duration_seconds,
    );
    m.header(
        "egresscheck_probe_deadline_seconds",
        "Deadline of this scrape's run: the scrape timeout minus --timeout-offset and a reserve for reporting, at most --deadline.",
    );
    m.sample(
        "egresscheck_probe_deadline_seconds",
        &[],
        scrape.deadline_seconds,
    );
    m.header(
        "egresscheck_probe_cut_short_targets",
        "Targets whose probe the deadline ended unfinished (not probed, or connect or handshake stopped); their target_up is 0.",
    );
    // A count of targets is far below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let cut_short = cut_short as f64;
    m.sample("egresscheck_probe_cut_short_targets", &[], cut_short);
    out.write_all(text.as_bytes())?;
    Ok(success)
}

/// Escapes a label value: backslash, double quote and line feed (the exposition format's
/// three escapes).
pub fn escape_label(value: &str) -> String {
    label(value)
}

fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

struct Family<'a> {
    out: &'a mut String,
    /// Added to every HELP text.
    help_suffix: &'static str,
    /// `--label`s, added to every sample after its own labels.
    extra: &'a crate::labels::Labels,
}

impl Family<'_> {
    fn header(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}{}", self.help_suffix);
        let _ = writeln!(self.out, "# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: f64) {
        let rendered: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
            .chain(
                self.extra
                    .iter()
                    .map(|l| format!("{}=\"{}\"", l.name, label(&l.value))),
            )
            .collect();
        if rendered.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", rendered.join(","));
        }
    }
}

/// The HTTP check's status and time, and the server's clock against ours, per target that
/// got an answer.
fn http_samples(
    m: &mut Family<'_>,
    rows: &[crate::audit::TargetRow<'_>],
    labels: &dyn Fn(&crate::audit::TargetRow<'_>) -> Vec<(&'static str, String)>,
) {
    let answered = || {
        rows.iter().filter_map(|row| {
            let http = row.target.http.as_ref()?;
            http.status.map(|status| (row, http, status))
        })
    };
    m.header(
        "egresscheck_http_status_code",
        "Status code of the HTTP check's answer, for targets whose data asks for one.",
    );
    for (row, _, status) in answered() {
        m.sample(
            "egresscheck_http_status_code",
            &labels(row),
            f64::from(status),
        );
    }
    m.header(
        "egresscheck_http_request_seconds",
        "Time of the HTTP check, request sent to answer read.",
    );
    for (row, http, _) in answered() {
        m.sample(
            "egresscheck_http_request_seconds",
            &labels(row),
            http.ms / 1000.0,
        );
    }
    m.header(
        "egresscheck_clock_skew_seconds",
        "The server's clock (its HTTP Date) minus this host's, best estimate.",
    );
    for (row, http, _) in answered() {
        if let Some(clock) = http.clock {
            m.sample(
                "egresscheck_clock_skew_seconds",
                &labels(row),
                clock.skew_seconds,
            );
        }
    }
}

impl Renderer for PrometheusRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        let mut m = Family {
            out: &mut text,
            help_suffix: "",
            extra: &report.labels,
        };
        families(report, &mut m);
        last_success(report, &mut m);
        out.write_all(text.as_bytes())
    }
}

/// When this run ended: the Prometheus documentation asks batch jobs for it, so that an
/// alert sees a schedule that stopped (`time() - egresscheck_last_success_timestamp_seconds`).
/// Every run that produced a report writes it; a run that could not (bad data, a signal)
/// writes no file at all, so the value goes stale.
fn last_success(report: &Report<'_>, m: &mut Family<'_>) {
    let Some(finished) = report.finished_at else {
        return;
    };
    m.header(
        "egresscheck_last_success_timestamp_seconds",
        "When the last check run completed (with any verdict), Unix time.",
    );
    // Milliseconds since 1970 fit an f64 exactly (below 2^53).
    #[allow(clippy::cast_precision_loss)]
    let seconds = finished.timestamp_millis() as f64 / 1000.0;
    m.sample("egresscheck_last_success_timestamp_seconds", &[], seconds);
}

/// The families of a report, shared by the textfile output and `serve`'s scrapes.
fn families(report: &Report<'_>, m: &mut Family<'_>) {
    run_families(report, m);
    target_families(report, m);
    findings_family(report, m);
    legacy_family(report, m);
    data_family(report, m);
}

/// Whether the run passed, and how long it took.
fn run_families(report: &Report<'_>, m: &mut Family<'_>) {
    m.header(
        "egresscheck_check_success",
        "1 when the check found no failure, else 0.",
    );
    m.sample(
        "egresscheck_check_success",
        &[],
        f64::from(u8::from(report.verdict < Severity::Fail)),
    );
    m.header(
        "egresscheck_check_duration_seconds",
        "Wall time of the probe run.",
    );
    m.sample(
        "egresscheck_check_duration_seconds",
        &[],
        report.duration_seconds,
    );
}

/// The labels of a target's series.
fn target_labels(row: &crate::audit::TargetRow<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("environment", row.planned.environment.to_string()),
        ("service", row.planned.service.to_string()),
        ("host", row.planned.name.to_string()),
        (
            "address",
            row.target
                .address
                .map(|a| a.to_string())
                .unwrap_or_default(),
        ),
        ("port", row.target.port.to_string()),
    ]
}

/// One series per target: up, connect and handshake times, certificate expiry.
fn target_families(report: &Report<'_>, m: &mut Family<'_>) {
    let rows = report.rows();
    m.header(
        "egresscheck_target_up",
        "1 when TCP connected and the TLS handshake completed (reachable; an intercepted target is up).",
    );
    for (index, row) in rows.iter().enumerate() {
        m.sample(
            "egresscheck_target_up",
            &target_labels(row),
            f64::from(u8::from(report.state(index).reachable)),
        );
    }
    m.header(
        "egresscheck_target_ok",
        "1 when no fail finding concerns the target (its DNS, connection, TLS and certificate are as they should be).",
    );
    for (index, row) in rows.iter().enumerate() {
        m.sample(
            "egresscheck_target_ok",
            &target_labels(row),
            f64::from(u8::from(report.state(index).ok)),
        );
    }
    m.header(
        "egresscheck_name_targets",
        "Targets probed for each planned name; 0 when the name gave no address to probe.",
    );
    for (index, planned) in report.plan.names.iter().enumerate() {
        // A count of a name's targets is far below 2^53, where f64 starts to round.
        #[allow(clippy::cast_precision_loss)]
        let count = report.row_range(index).len() as f64;
        m.sample(
            "egresscheck_name_targets",
            &[
                ("environment", planned.environment.to_string()),
                ("service", planned.service.to_string()),
                ("host", planned.name.to_string()),
            ],
            count,
        );
    }
    m.header(
        "egresscheck_tcp_connect_seconds",
        "TCP connect time of targets that connected.",
    );
    for row in rows
        .iter()
        .filter(|r| r.target.tcp.state == crate::probe::model::TcpState::Open)
    {
        m.sample(
            "egresscheck_tcp_connect_seconds",
            &target_labels(row),
            row.target.tcp.ms / 1000.0,
        );
    }
    m.header(
        "egresscheck_tls_handshake_seconds",
        "TLS handshake time of targets that completed one.",
    );
    for row in rows {
        if let Some(tls) = row.target.tls.as_ref().filter(|t| t.ok) {
            m.sample(
                "egresscheck_tls_handshake_seconds",
                &target_labels(row),
                tls.ms / 1000.0,
            );
        }
    }
    m.header(
        "egresscheck_tls_cert_not_after_timestamp_seconds",
        "End of validity of the leaf certificate, Unix time.",
    );
    for row in rows {
        if let Some(cert) = row.target.tls.as_ref().and_then(|t| t.chain.first()) {
            // i64 seconds fit an f64 exactly up to 2^53, far beyond any certificate.
            #[allow(clippy::cast_precision_loss)]
            let seconds = cert.not_after.timestamp() as f64;
            m.sample(
                "egresscheck_tls_cert_not_after_timestamp_seconds",
                &target_labels(row),
                seconds,
            );
        }
    }
    http_samples(m, rows, &target_labels);
}

/// Findings per code and severity, every code present.
fn findings_family(report: &Report<'_>, m: &mut Family<'_>) {
    m.header(
        "egresscheck_findings",
        "Number of findings per code and severity.",
    );
    for code in Code::ALL {
        for severity in code.severities() {
            let count = report
                .findings
                .iter()
                .filter(|f| f.code == *code && f.severity == *severity)
                .count();
            // A count of findings is far below 2^53, where f64 starts to round.
            #[allow(clippy::cast_precision_loss)]
            let value = count as f64;
            m.sample(
                "egresscheck_findings",
                &[
                    ("code", code.as_str().to_owned()),
                    ("severity", severity.as_str().to_owned()),
                ],
                value,
            );
        }
    }
}

/// The sunset of each legacy host.
fn legacy_family(report: &Report<'_>, m: &mut Family<'_>) {
    m.header(
        "egresscheck_legacy_sunset_timestamp_seconds",
        "Sunset of each legacy host, Unix time (start of the day after which it is gone).",
    );
    for legacy in &report.catalog.legacy {
        let labels = [
            ("environment", legacy.environment.to_string()),
            ("service", legacy.service.to_string()),
            ("host", legacy.host.to_string()),
        ];
        // Unix seconds of a calendar date fit an f64 exactly (below 2^53).
        #[allow(clippy::cast_precision_loss)]
        let seconds = legacy.sunset.and_time(NaiveTime::MIN).and_utc().timestamp() as f64;
        m.sample(
            "egresscheck_legacy_sunset_timestamp_seconds",
            &labels,
            seconds,
        );
    }
}

/// The date of the provider's page behind the data.
fn data_family(report: &Report<'_>, m: &mut Family<'_>) {
    if let Some(date) = report
        .catalog
        .primary_source()
        .and_then(|s| s.document_date)
    {
        m.header(
            "egresscheck_data_document_timestamp_seconds",
            "Date the provider's page states, Unix time.",
        );
        let labels = [
            ("provider", report.catalog.data.provider.clone()),
            ("data_version", report.catalog.data.version.to_string()),
        ];
        // Unix seconds of a calendar date fit an f64 exactly (below 2^53).
        #[allow(clippy::cast_precision_loss)]
        let seconds = date.and_time(NaiveTime::MIN).and_utc().timestamp() as f64;
        m.sample(
            "egresscheck_data_document_timestamp_seconds",
            &labels,
            seconds,
        );
    }
}
