//! `egresscheck serve`: the check as a Prometheus exporter, one run per scrape.
//!
//! A site's egress path is seen from the site, so the admin who watches fifty sites runs the
//! exporter at each and lets Prometheus do the fleet work: scraping, alerting, keeping
//! history. Each `GET /probe?env=…&service=…&host=…` is one run of [`super::pipeline`], the
//! very path `check` takes, answered in the textfile output's metric names plus the scrape's
//! own (`egresscheck_probe_success`, …). The shape is blackbox_exporter's (`prober/handler.go`):
//! a fresh result per request, a deadline taken from Prometheus's
//! `X-Prometheus-Scrape-Timeout-Seconds`, `?debug=true`, errors of the request answered with
//! one line before anything is probed. Where it differs on purpose: `/probe` takes no
//! target, only names the data file holds, so no request can make it connect anywhere the
//! data file does not name (blackbox's `?target=` reaches anything: CVE-2020-16248).
//!
//! The modules: [`http`] (listening, TLS, connection limits and timeouts), [`routes`] (the
//! endpoints), [`scrape`] (`/probe`), [`query`] (what a scrape may ask), [`auth`] (basic
//! authentication), [`webconfig`] (exporter-toolkit's web configuration), [`metrics`] (the
//! exporter's own `/metrics`) and [`log`] (structured logs).

pub mod auth;
pub mod http;
pub mod log;
pub mod metrics;
pub mod query;
pub mod routes;
pub mod scrape;
pub mod webconfig;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::audit::AuditOptions;
use crate::catalog::Catalog;
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::probe::Limits;
use crate::probe::options::ProbeOptions;
use crate::probe::tls::TlsClient;
use log::{Level, LogFormat, Logger};
use metrics::ExporterMetrics;
use webconfig::{WebConfig, WebConfigError};

/// Default address: loopback only, so that a fresh install exposes nothing. 9716 is in the
/// exporters' range (9100–9999); `--listen 0.0.0.0:9716` (or a Pod IP) opens it up.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9716";
/// Default `--timeout-offset`: taken off Prometheus's scrape timeout, as blackbox does.
pub const DEFAULT_TIMEOUT_OFFSET: Duration = Duration::from_millis(500);
/// Default `--max-concurrent-probes`. Runs share one set of probe limits (handshake turns,
/// sockets, DNS lookups: [`crate::probe::Limits`]), so overlapping scrapes cost the machine
/// what one check of all their targets costs; the bound only caps what waiting runs hold.
pub const DEFAULT_MAX_CONCURRENT_PROBES: usize = 32;
/// Most `--max-concurrent-probes` accepted.
pub const MAX_CONCURRENT_PROBES: usize = 256;
/// Share of a scrape's deadline it may spend waiting for a turn, by default and at most
/// (`--probe-queue-wait` caps it further): the run keeps the other half.
pub const QUEUE_WAIT_DIVISOR: u32 = 2;
/// Default `--web.max-connections`: connections beyond it are closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Most `--web.max-connections` accepted.
pub const MAX_CONNECTIONS: usize = 16_384;
/// Default `--web.read-timeout`: a request's head must arrive within it (also the wait for the
/// next request on an idle connection, and for the TLS handshake), and a response write
/// that makes no progress for this long ends the connection.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Everything `serve` needs, already validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the data file comes from (re-read on reload).
    pub data: DataSource,
    /// `--web.config.file`.
    pub web_config: Option<PathBuf>,
    /// How to probe; `deadline` caps every scrape's run.
    pub probe: ProbeOptions,
    /// Taken off the scrape timeout.
    pub timeout_offset: Duration,
    /// Probe runs at once.
    pub max_concurrent_probes: usize,
    /// How long a scrape over the bound waits for a turn at most (never more than half its
    /// deadline); `None`: half its deadline.
    pub probe_queue_wait: Option<Duration>,
    /// Connections open at once.
    pub max_connections: usize,
    /// Bound on reading a request head, on idle connections and on stalled writes.
    pub read_timeout: Duration,
    /// Audit thresholds (the as-of date is the day of each scrape).
    pub audit: AuditOptions,
    /// `--label`s on every series of `/probe`.
    pub labels: crate::labels::Labels,
    /// Least log level written.
    pub log_level: Level,
    /// Log line format.
    pub log_format: LogFormat,
}

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The web configuration is unusable.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// What is read from files, swapped whole on reload: a scrape keeps the version it started
/// with.
pub struct Loaded {
    /// The data file.
    pub catalog: Catalog,
    /// The probe's TLS client (trust stores, `--ca-file`).
    pub tls: TlsClient,
    /// The web configuration.
    pub web: WebConfig,
    /// Basic authentication over `web.users`.
    pub auth: auth::Auth,
}

/// The exporter's state, shared by every connection.
pub struct State {
    /// The options it runs with.
    pub options: ServeOptions,
    loaded: RwLock<Arc<Loaded>>,
    /// Turns for probe runs (`--max-concurrent-probes`).
    pub probes: Semaphore,
    /// The probe limits every scrape's run draws from.
    pub limits: Limits,
    /// The exporter's own metrics.
    pub metrics: ExporterMetrics,
    /// The log.
    pub log: Logger,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Connections open now.
    pub connections: std::sync::atomic::AtomicUsize,
}

impl State {
    /// The files in force.
    pub fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(loaded) => Arc::clone(&loaded),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads the data file, the trust stores and the web configuration. On any error the
    /// files in force stay, the error is logged and counted, and returned (one line).
    pub async fn reload(self: &Arc<Self>, trigger: &str) -> Result<String, String> {
        let _one = self.reloading.lock().await;
        let options = self.options.clone();
        let result = tokio::task::spawn_blocking(move || load(&options, false))
            .await
            .map_err(|e| format!("reload failed: {e}"))
            .and_then(|r| r.map_err(|e| e.to_string()));
        match result {
            Ok(loaded) => {
                let summary = format!(
                    "{} data {}",
                    loaded.catalog.data.provider, loaded.catalog.data.version
                );
                match self.loaded.write() {
                    Ok(mut slot) => *slot = Arc::new(loaded),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(loaded),
                }
                self.metrics.reloaded(true);
                self.log.log(
                    Level::Info,
                    "reloaded",
                    &[
                        ("trigger", trigger.into()),
                        ("data", summary.clone().into()),
                    ],
                );
                Ok(summary)
            }
            Err(reason) => {
                let reason = crate::term::sanitize(&reason).replace('\n', "; ");
                self.metrics.reloaded(false);
                self.log.log(
                    Level::Error,
                    "reload failed; the previous data and web configuration stay in force",
                    &[("trigger", trigger.into()), ("err", reason.clone().into())],
                );
                Err(reason)
            }
        }
    }
}

/// Reads every file the exporter depends on (standard input only the `first` time).
pub fn load(options: &ServeOptions, first: bool) -> Result<Loaded, CommandError> {
    let catalog = match &options.data {
        DataSource::Stdin if !first => {
            return Err(CommandError::Usage(
                "the data came from standard input, which cannot be read again; give --data FILE to reload".to_owned(),
            ));
        }
        source => source.load()?,
    };
    let tls = TlsClient::new(&options.probe.ca_files)?;
    let web = match &options.web_config {
        Some(path) => WebConfig::load(path).map_err(ServeError::from)?,
        None => WebConfig::default(),
    };
    let auth = auth::Auth::new(web.users.clone());
    Ok(Loaded {
        catalog,
        tls,
        web,
        auth,
    })
}

/// Runs the exporter until SIGINT or SIGTERM; logs go to `log_sink`.
pub fn serve(
    options: ServeOptions,
    log_sink: Box<dyn Write + Send>,
) -> Result<Status, CommandError> {
    let log = Logger::new(options.log_level, options.log_format, log_sink);
    let loaded = load(&options, true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(1)
        .build()
        .map_err(ServeError::Runtime)?;
    let max_probes = options.max_concurrent_probes;
    let limits = Limits::new(&options.probe);
    let state = Arc::new(State {
        options,
        loaded: RwLock::new(Arc::new(loaded)),
        probes: Semaphore::new(max_probes),
        limits,
        metrics: ExporterMetrics::new(),
        log,
        reloading: tokio::sync::Mutex::new(()),
        connections: std::sync::atomic::AtomicUsize::new(0),
    });
    crate::interrupt::install();
    let result = runtime.block_on(http::run(Arc::clone(&state)));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(Status::Pass)
}
