//! `GET /metrics`: the exporter's own health, never the network's.
//!
//! What `/probe` measures belongs to the scrape that asked for it (one run per request, thrown
//! away after, as blackbox_exporter does); `/metrics` says how the exporter itself fares:
//! its build, how scrapes ended, how long probes took, whether the last reload worked, and
//! the usual `process_*` metrics. Every label here takes values from a closed set.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How a `/probe` request ended (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Probed, and `egresscheck_probe_success` was 1.
    Success,
    /// Probed, and `egresscheck_probe_success` was 0.
    Failure,
    /// Refused before probing: a parameter outside the data file, a bad header (400).
    BadRequest,
    /// Refused because too many probes ran (503).
    Rejected,
    /// The probe could not start (500).
    Error,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::BadRequest,
        Outcome::Rejected,
        Outcome::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::BadRequest => "bad_request",
            Outcome::Rejected => "rejected",
            Outcome::Error => "error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Upper bounds of the probe duration histogram, seconds (a scrape timeout is 10 s by
/// default, and at most the scrape interval).
pub const DURATION_BUCKETS: [f64; 11] =
    [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Reload bookkeeping.
#[derive(Debug, Default)]
struct Reloads {
    successful: bool,
    last_success: f64,
    failures: u64,
}

/// Counters of the exporter, shared by every connection.
#[derive(Debug)]
pub struct ExporterMetrics {
    started: f64,
    scrapes: [AtomicU64; Outcome::ALL.len()],
    in_flight: AtomicU64,
    connections_rejected: AtomicU64,
    histogram: Mutex<Histogram>,
    reloads: Mutex<Reloads>,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl ExporterMetrics {
    /// Fresh counters; the data was loaded at start.
    pub fn new() -> ExporterMetrics {
        let now = unix_now();
        ExporterMetrics {
            started: now,
            scrapes: Default::default(),
            in_flight: AtomicU64::new(0),
            connections_rejected: AtomicU64::new(0),
            histogram: Mutex::default(),
            reloads: Mutex::new(Reloads {
                successful: true,
                last_success: now,
                failures: 0,
            }),
        }
    }

    /// Counts a `/probe` request by how it ended.
    pub fn scrape(&self, outcome: Outcome) {
        if let Some(counter) = self.scrapes.get(outcome.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the duration of a probe run.
    pub fn probe_duration(&self, seconds: f64) {
        if let Ok(mut h) = self.histogram.lock() {
            for (bound, count) in DURATION_BUCKETS.iter().zip(h.counts.iter_mut()) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// A probe starts; the guard ends it.
    pub fn probe_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// A connection was closed at once because the connection limit was reached.
    pub fn connection_rejected(&self) {
        self.connections_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how a reload ended.
    pub fn reloaded(&self, ok: bool) {
        if let Ok(mut r) = self.reloads.lock() {
            r.successful = ok;
            if ok {
                r.last_success = unix_now();
            } else {
                r.failures += 1;
            }
        }
    }

    /// The text exposition of every metric; `provider` and `version` are the data in force.
    pub fn render(&self, provider: &str, version: &str, open_connections: usize) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            "egresscheck_exporter_build_info",
            "gauge",
            "Version of egresscheck serve; always 1.",
        );
        let _ = writeln!(
            out,
            "egresscheck_exporter_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            "egresscheck_exporter_data_info",
            "gauge",
            "The data file in force: provider and data version; always 1.",
        );
        let _ = writeln!(
            out,
            "egresscheck_exporter_data_info{{provider=\"{}\",data_version=\"{}\"}} 1",
            crate::output::prometheus::escape_label(provider),
            crate::output::prometheus::escape_label(version)
        );
        self.render_scrapes(&mut out);
        self.render_histogram(&mut out);
        self.render_reloads(&mut out);
        let _ = writeln!(
            out,
            "# HELP egresscheck_exporter_connections_open HTTP connections open now.\n# TYPE egresscheck_exporter_connections_open gauge\negresscheck_exporter_connections_open {open_connections}"
        );
        let _ = writeln!(
            out,
            "# HELP egresscheck_exporter_connections_rejected_total Connections closed at once because --web.max-connections were open.\n# TYPE egresscheck_exporter_connections_rejected_total counter\negresscheck_exporter_connections_rejected_total {}",
            self.connections_rejected.load(Ordering::Relaxed)
        );
        process::render(&mut out, self.started);
        out
    }

    fn render_scrapes(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP egresscheck_exporter_scrapes_total /probe requests by outcome: success, failure (probe_success 0), bad_request (400), rejected (503: too many probes), error (500).\n# TYPE egresscheck_exporter_scrapes_total counter"
        );
        for outcome in Outcome::ALL {
            let count = self
                .scrapes
                .get(outcome.index())
                .map_or(0, |c| c.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "egresscheck_exporter_scrapes_total{{outcome=\"{}\"}} {count}",
                outcome.as_str()
            );
        }
        let _ = writeln!(
            out,
            "# HELP egresscheck_exporter_probes_in_flight Probe runs under way now.\n# TYPE egresscheck_exporter_probes_in_flight gauge\negresscheck_exporter_probes_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
    }

    fn render_histogram(&self, out: &mut String) {
        let Ok(h) = self.histogram.lock() else {
            return;
        };
        let name = "egresscheck_exporter_probe_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Wall time of the probe runs of /probe.\n# TYPE {name} histogram"
        );
        for (bound, count) in DURATION_BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum {}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
    }

    fn render_reloads(&self, out: &mut String) {
        let Ok(r) = self.reloads.lock() else {
            return;
        };
        let _ = writeln!(
            out,
            "# HELP egresscheck_exporter_config_last_reload_successful 1 when the last reload of the data file (and web configuration) worked; 0 while the exporter serves the previous one.\n# TYPE egresscheck_exporter_config_last_reload_successful gauge\negresscheck_exporter_config_last_reload_successful {}",
            u8::from(r.successful)
        );
        let _ = writeln!(
            out,
            "# HELP egresscheck_exporter_config_last_reload_success_timestamp_seconds When the data in force was loaded, Unix time.\n# TYPE egresscheck_exporter_config_last_reload_success_timestamp_seconds gauge\negresscheck_exporter_config_last_reload_success_timestamp_seconds {}",
            r.last_success
        );
        let _ = writeln!(
            out,
            "# HELP egresscheck_exporter_config_reload_failures_total Reloads that failed and kept the previous data.\n# TYPE egresscheck_exporter_config_reload_failures_total counter\negresscheck_exporter_config_reload_failures_total {}",
            r.failures
        );
    }
}

impl Default for ExporterMetrics {
    fn default() -> Self {
        ExporterMetrics::new()
    }
}

/// Counts a probe run as in flight while it lives.
#[derive(Debug)]
pub struct InFlight<'a>(&'a ExporterMetrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The `process_*` metrics every Prometheus client library exports, read from `/proc`.
mod process {
    use std::fmt::Write as _;

    pub fn render(out: &mut String, started: f64) {
        let _ = writeln!(
            out,
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch, seconds.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {started}"
        );
        #[cfg(target_os = "linux")]
        linux(out);
    }

    #[cfg(target_os = "linux")]
    fn linux(out: &mut String) {
        let mut gauge = |name: &str, kind: &str, help: &str, value: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        if let Some(stat) = Stat::read() {
            gauge(
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                stat.cpu_seconds,
            );
            gauge(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                stat.resident_bytes,
            );
            gauge(
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                stat.virtual_bytes,
            );
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            // A count of descriptors is far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let open = entries.count() as f64;
            gauge(
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                open,
            );
        }
        if let Ok(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .ok_or(())
        {
            // Open-file limits are far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let limit = limit as f64;
            gauge(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                limit,
            );
        }
    }

    #[cfg(target_os = "linux")]
    struct Stat {
        cpu_seconds: f64,
        resident_bytes: f64,
        virtual_bytes: f64,
    }

    #[cfg(target_os = "linux")]
    impl Stat {
        /// Fields of `/proc/self/stat` after the command name (which may hold spaces and
        /// parentheses, so the text is split after its last `)`).
        fn read() -> Option<Stat> {
            let text = std::fs::read_to_string("/proc/self/stat").ok()?;
            let (_, rest) = text.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After the name: state is field 3 of proc(5), so field N is at N - 3.
            let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
            // Clock ticks and page sizes are small integers.
            #[allow(clippy::cast_precision_loss)]
            let ticks = rustix::param::clock_ticks_per_second() as f64;
            #[allow(clippy::cast_precision_loss)]
            let page = rustix::param::page_size() as f64;
            Some(Stat {
                cpu_seconds: (field(14)? + field(15)?) / ticks.max(1.0),
                virtual_bytes: field(23)?,
                resident_bytes: field(24)? * page,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_has_every_family_with_help_and_type() {
        let metrics = ExporterMetrics::new();
        metrics.scrape(Outcome::Success);
        metrics.scrape(Outcome::Rejected);
        metrics.probe_duration(0.3);
        metrics.probe_duration(12.0);
        metrics.reloaded(false);
        let text = metrics.render("Egress \"Test\"", "2026-01-01.1", 3);
        for line in [
            "egresscheck_exporter_build_info{version=\"",
            "egresscheck_exporter_data_info{provider=\"Egress \\\"Test\\\"\",data_version=\"2026-01-01.1\"} 1",
            "egresscheck_exporter_scrapes_total{outcome=\"success\"} 1",
            "egresscheck_exporter_scrapes_total{outcome=\"rejected\"} 1",
            "egresscheck_exporter_scrapes_total{outcome=\"failure\"} 0",
            "egresscheck_exporter_probe_duration_seconds_bucket{le=\"0.5\"} 1",
            "egresscheck_exporter_probe_duration_seconds_bucket{le=\"15\"} 2",
            "egresscheck_exporter_probe_duration_seconds_bucket{le=\"+Inf\"} 2",
            "egresscheck_exporter_probe_duration_seconds_count 2",
            "egresscheck_exporter_config_last_reload_successful 0",
            "egresscheck_exporter_config_reload_failures_total 1",
            "egresscheck_exporter_connections_open 3",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        #[cfg(target_os = "linux")]
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
        ] {
            assert!(text.contains(name), "{name} missing:\n{text}");
        }
    }
}
