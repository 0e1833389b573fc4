//! `egresscheck serve …`: arguments of the exporter.
//!
//! Flag names follow the Prometheus exporters' where they exist (`--web.config.file`,
//! `--log.level`, `--log.format`, `--timeout-offset`), so that an admin's habits and
//! deployment templates carry over; the probe flags are `check`'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::audit::AuditFlags;
use super::probe::{OPEN_FILE_CEILING, ProbeFlags, proxy_env};
use super::values::{count_between, duration_between};
use crate::commands::serve::log::{Level, LogFormat};
use crate::commands::serve::{self, ServeOptions};
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::probe::options;

/// Longest `--timeout-offset`, `--probe-queue-wait` and `--web.read-timeout`.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Shortest `--web.read-timeout`.
const MIN_READ_TIMEOUT: Duration = Duration::from_millis(100);

/// `--log.format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// `time=… level=info msg="…" key=value`.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `--log.level`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogLevelArg {
    /// Also one line per scrape.
    Debug,
    /// Start, stop, reloads.
    Info,
    /// Problems only.
    Warn,
    /// Failures only.
    Error,
}

/// `egresscheck serve`: the check as a Prometheus exporter.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. The default is loopback only; give 0.0.0.0:9716 (or
    /// [::]:9716) to let Prometheus in from elsewhere.
    #[arg(long, value_name = "ADDR:PORT", default_value = serve::DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// exporter-toolkit web configuration (YAML): tls_server_config (cert_file, key_file,
    /// client_ca_file, client_auth_type, min_version, …), basic_auth_users (bcrypt hashes),
    /// http_server_config.headers. Re-read on SIGHUP and POST /-/reload.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Taken off Prometheus's scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) to give
    /// the run's deadline, so that the answer arrives before Prometheus gives up.
    #[arg(long = "timeout-offset", value_name = "DURATION", default_value = "0.5s", value_parser = duration_between(Duration::ZERO, MAX_WAIT))]
    pub timeout_offset: Duration,

    /// Probe runs at once; a scrape over the bound waits for a turn (half its deadline, or
    /// --probe-queue-wait), then gets 503. Runs share the probe's limits (--concurrency,
    /// --max-connects), so more runs do not mean more handshakes at once.
    #[arg(long = "max-concurrent-probes", value_name = "N", default_value_t = serve::DEFAULT_MAX_CONCURRENT_PROBES, value_parser = count_between(1, serve::MAX_CONCURRENT_PROBES))]
    pub max_concurrent_probes: usize,

    /// How long a scrape over --max-concurrent-probes waits for a turn before 503 [default:
    /// half its deadline, which is also the most it waits].
    #[arg(long = "probe-queue-wait", value_name = "DURATION", value_parser = duration_between(Duration::ZERO, MAX_WAIT))]
    pub probe_queue_wait: Option<Duration>,

    /// Connections open at once; one more is closed at once (and counted in
    /// egresscheck_exporter_connections_rejected_total).
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = serve::DEFAULT_MAX_CONNECTIONS, value_parser = count_between(1, serve::MAX_CONNECTIONS))]
    pub max_connections: usize,

    /// A request's head (and a TLS handshake) must arrive within this; a connection idle
    /// for this long is closed, and so is one whose client reads nothing of an answer for
    /// this long.
    #[arg(long = "web.read-timeout", value_name = "DURATION", default_value = "10s", value_parser = duration_between(MIN_READ_TIMEOUT, MAX_WAIT))]
    pub read_timeout: Duration,

    /// Least level logged (debug: one line per scrape).
    #[arg(long = "log.level", value_enum, default_value = "info")]
    pub log_level: LogLevelArg,

    /// Log line format, on standard error.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormatArg,

    /// How to probe. --deadline caps every scrape's run (default 60s), and is the deadline of
    /// a request without Prometheus's timeout header.
    #[command(flatten)]
    pub flags: ProbeFlags,

    /// Audit thresholds.
    #[command(flatten)]
    pub audit: AuditFlags,

    /// A label on every series /probe answers (KEY=VALUE, repeatable), e.g. site=oslo or
    /// node=$NODE_NAME.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> Self {
        match arg {
            LogFormatArg::Logfmt => LogFormat::Logfmt,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

impl From<LogLevelArg> for Level {
    fn from(arg: LogLevelArg) -> Self {
        match arg {
            LogLevelArg::Debug => Level::Debug,
            LogLevelArg::Info => Level::Info,
            LogLevelArg::Warn => Level::Warn,
            LogLevelArg::Error => Level::Error,
        }
    }
}

impl ServeArgs {
    /// Runs the exporter with the data from `data` until SIGINT or SIGTERM.
    pub fn run(self, data: DataSource) -> Result<Status, CommandError> {
        options::prepare_open_files(OPEN_FILE_CEILING);
        let probe = self.flags.to_options(&proxy_env())?;
        serve::serve(
            ServeOptions {
                listen: self.listen,
                data,
                web_config: self.web_config_file,
                probe,
                timeout_offset: self.timeout_offset,
                max_concurrent_probes: self.max_concurrent_probes,
                probe_queue_wait: self.probe_queue_wait,
                max_connections: self.max_connections,
                read_timeout: self.read_timeout,
                audit: self.audit.to_options()?,
                labels: crate::labels::Labels::parse(&self.labels)
                    .map_err(|err| CommandError::Usage(err.to_string()))?,
                log_level: self.log_level.into(),
                log_format: self.log_format.into(),
            },
            Box::new(std::io::stderr()),
        )
    }
}
