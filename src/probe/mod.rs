//! The probe engine: DNS, TCP and TLS against every planned address, through a proxy when
//! asked. The only module of egresscheck that touches the network.
//!
//! [`run`] takes the plan's [`ProbeRequest`]s and [`ProbeOptions`] and returns one
//! [`NameObservation`] per request. Each concept has its own file: [`options`] (timeouts and
//! bounds), [`dns`] (hickory behind a trait), [`targets`] (which addresses and ports),
//! [`tcp`], [`proxy`] (HTTP CONNECT), [`tls`] with [`verify`] (the recording verifier) and
//! [`cert`] (what a certificate says), [`http`] (one HTTP exchange over the TLS connection,
//! through [`stream`]), [`limits`] (the bounds on work in flight, shareable between runs) and
//! [`engine`] (the concurrent run).

pub mod cert;
pub mod connect_to;
pub mod dns;
pub mod engine;
pub mod http;
pub mod limits;
pub mod model;
pub mod options;
pub mod proxy;
pub mod stream;
pub mod targets;
mod tcp;
pub mod tls;
pub mod verify;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub use engine::{FetchRequest, Fetched, SendPolicy, fetch, run_with, run_within};
pub use limits::Limits;
pub use model::{NameObservation, ProbeRequest};
pub use options::{OptionsError, ProbeOptions};

use crate::catalog::Family;
use crate::probe::dns::{HickoryResolver, RecordKind, Resolve};
use crate::probe::model::{DnsLookup, DnsOutcome};
use crate::probe::options::Millis;
use crate::probe::tls::TlsClient;

/// Why a probe run could not start. Everything that happens once it runs is an observation.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// An option outside its range.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The resolver configuration could not be built.
    #[error("cannot set up DNS: {0}")]
    SystemResolver(String),
    /// A `--ca-file` could not be used.
    #[error("--ca-file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS client configuration could not be built.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A signal stopped the run ([`crate::interrupt`]).
    #[error("interrupted by {0}")]
    Interrupted(crate::interrupt::Signal),
}

/// How far a run has come, for a progress bar. Target totals grow as names resolve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Names requested.
    pub names: usize,
    /// Names resolved (or handed to the proxy).
    pub names_done: usize,
    /// Targets known so far.
    pub targets: usize,
    /// Targets finished.
    pub targets_done: usize,
}

/// A progress callback; never called concurrently.
pub type ProgressFn<'a> = dyn Fn(Progress) + Send + Sync + 'a;

/// How often (in task polls) the runtime's workers take newly spawned tasks before the ones
/// they already run. Every target's first poll is cheap (a connect, a DNS query) and starts
/// its timeout, while handshakes in flight keep the workers busy: taking new tasks first
/// starts every connect at once, so black-holed targets wait one timeout together instead of
/// queueing behind handshakes (tokio's default favours work already under way).
const GLOBAL_QUEUE_INTERVAL: u32 = 1;

/// How often `run_blocking` passes the latest progress on. The run gathers its results on
/// the runtime's workers; the calling thread only looks in this often (and once at the end),
/// instead of being woken for every result: a thread switch per target costs more than the
/// gathering itself.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Validates `options`, starts a runtime and runs the probe (for commands, which are
/// synchronous). A signal caught by [`crate::interrupt`] ends it at once with
/// [`ProbeError::Interrupted`]. `progress` is called from the calling thread, at most every
/// [`PROGRESS_INTERVAL`] and once when the run is over.
pub fn run_blocking(
    requests: &[ProbeRequest],
    options: &ProbeOptions,
    progress: Option<&ProgressFn<'_>>,
) -> Result<Vec<NameObservation>, ProbeError> {
    options.validate()?;
    let runtime = runtime()?;
    let latest: Arc<Mutex<Option<Progress>>> = Arc::default();
    let gathered = Arc::clone(&latest);
    let (requests, options) = (requests.to_vec(), options.clone());
    let pass_on = || {
        let update = latest.lock().ok().and_then(|mut slot| slot.take());
        if let (Some(progress), Some(update)) = (progress, update) {
            progress(update);
        }
    };
    let result = runtime.block_on(async {
        let mut engine = tokio::spawn(async move {
            let note = move |p: Progress| {
                if let Ok(mut slot) = gathered.lock() {
                    *slot = Some(p);
                }
            };
            run(&requests, &options, Some(&note)).await
        });
        let mut ticks = tokio::time::interval(PROGRESS_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let interrupted = crate::interrupt::wait();
        tokio::pin!(interrupted);
        loop {
            tokio::select! {
                joined = &mut engine => {
                    pass_on();
                    break match joined {
                        Ok(result) => result,
                        // A panic in the run (a bug) goes on as it would have without the task.
                        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                        Err(err) => Err(ProbeError::Runtime(std::io::Error::other(err))),
                    };
                }
                _ = ticks.tick() => pass_on(),
                signal = &mut interrupted => {
                    engine.abort();
                    break Err(ProbeError::Interrupted(signal));
                }
            }
        }
    });
    if result.is_err() {
        // Do not wait for work still in flight (a blocking lookup, a connect): the run is
        // over and the process is about to exit.
        runtime.shutdown_background();
    }
    result
}

/// Runs the probe with hickory and the TLS client built from `options`. A DNS configuration
/// that cannot be read is not fatal: every lookup then reports it, and documented addresses
/// and proxied names are still probed.
pub async fn run(
    requests: &[ProbeRequest],
    options: &ProbeOptions,
    progress: Option<&ProgressFn<'_>>,
) -> Result<Vec<NameObservation>, ProbeError> {
    let tls = TlsClient::new(&options.ca_files)?;
    run_with_tls(requests, options, tls, None, progress).await
}

/// [`run`] with a TLS client built earlier: `serve` loads the trust stores once (and on
/// reload), not on every scrape. With `limits`, the run draws from bounds it shares with
/// other runs (every scrape of `serve`); without, it has its own.
pub async fn run_with_tls(
    requests: &[ProbeRequest],
    options: &ProbeOptions,
    tls: TlsClient,
    limits: Option<&Limits>,
    progress: Option<&ProgressFn<'_>>,
) -> Result<Vec<NameObservation>, ProbeError> {
    let resolver = SystemDns::new(options)?;
    let limits = limits.cloned().unwrap_or_else(|| Limits::new(options));
    Ok(run_within(requests, options, resolver, tls, limits, progress).await)
}

/// The runtime of a probe run.
fn runtime() -> Result<tokio::runtime::Runtime, ProbeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(GLOBAL_QUEUE_INTERVAL)
        .build()
        .map_err(ProbeError::Runtime)
}

/// Validates `options`, starts a runtime and fetches `request` over the probe path (see
/// [`engine::fetch`]), with hickory and the TLS client built from `options`. A signal
/// caught by [`crate::interrupt`] ends it at once with [`ProbeError::Interrupted`].
pub fn fetch_blocking(
    request: &FetchRequest,
    options: &ProbeOptions,
) -> Result<Fetched, ProbeError> {
    options.validate()?;
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let tls = TlsClient::new(&options.ca_files)?;
        let resolver = SystemDns::new(options)?;
        let interrupted = crate::interrupt::wait();
        tokio::select! {
            fetched = fetch(request, options, resolver, tls) => Ok(fetched),
            signal = interrupted => Err(ProbeError::Interrupted(signal)),
        }
    });
    if result.is_err() {
        runtime.shutdown_background();
    }
    result
}

/// The system resolver, or why there is none.
enum SystemDns {
    Ready(Box<HickoryResolver>),
    Unavailable(String),
}

impl SystemDns {
    /// hickory over the configured resolvers, or the reason the system configuration cannot
    /// be used (not fatal: every lookup reports it, and proxied names and documented
    /// addresses are still probed). A `--resolver` that cannot be set up is fatal.
    fn new(options: &ProbeOptions) -> Result<Self, ProbeError> {
        match HickoryResolver::new(options) {
            Ok(resolver) => Ok(SystemDns::Ready(Box::new(resolver))),
            Err(ProbeError::SystemResolver(problem)) if options.resolvers.is_empty() => {
                Ok(SystemDns::Unavailable(problem))
            }
            Err(err) => Err(err),
        }
    }

    /// The observation of every lookup when there is no resolver.
    fn unavailable(problem: &str, kind: RecordKind) -> DnsLookup {
        dns::failure(
            kind,
            DnsOutcome::Error,
            None,
            0.0,
            format!("cannot set up DNS: {problem}"),
        )
    }

    /// One future of [`Resolve::lookup_pair`]: the resolver's, or the reason there is none.
    async fn pair_half(
        &self,
        name: &crate::catalog::DnsName,
        kind: RecordKind,
        lookup: Option<impl std::future::Future<Output = DnsLookup>>,
    ) -> DnsLookup {
        match (lookup, self) {
            (Some(lookup), _) => lookup.await,
            (None, SystemDns::Unavailable(problem)) => SystemDns::unavailable(problem, kind),
            (None, SystemDns::Ready(resolver)) => resolver.lookup(name, kind).await,
        }
    }
}

impl Resolve for SystemDns {
    async fn lookup(&self, name: &crate::catalog::DnsName, kind: RecordKind) -> DnsLookup {
        match self {
            SystemDns::Ready(resolver) => resolver.lookup(name, kind).await,
            SystemDns::Unavailable(problem) => SystemDns::unavailable(problem, kind),
        }
    }

    fn lookup_pair<'a>(
        &'a self,
        name: &'a crate::catalog::DnsName,
        family: Family,
    ) -> (
        impl std::future::Future<Output = DnsLookup> + Send + 'a,
        impl std::future::Future<Output = DnsLookup> + Send + 'a,
    ) {
        let (a, aaaa) = match self {
            SystemDns::Ready(resolver) => {
                let (a, aaaa) = resolver.lookup_pair(name, family);
                (Some(a), Some(aaaa))
            }
            SystemDns::Unavailable(_) => (None, None),
        };
        (
            self.pair_half(name, RecordKind::A, a),
            self.pair_half(name, RecordKind::Aaaa, aaaa),
        )
    }

    async fn explain(
        &self,
        name: &crate::catalog::DnsName,
        kind: RecordKind,
        lookup: DnsLookup,
    ) -> DnsLookup {
        match self {
            SystemDns::Ready(resolver) => resolver.explain(name, kind, lookup).await,
            SystemDns::Unavailable(_) => lookup,
        }
    }
}

impl<R: Resolve> Resolve for Arc<R> {
    fn lookup(
        &self,
        name: &crate::catalog::DnsName,
        kind: RecordKind,
    ) -> impl std::future::Future<Output = DnsLookup> + Send {
        R::lookup(self, name, kind)
    }

    fn lookup_pair<'a>(
        &'a self,
        name: &'a crate::catalog::DnsName,
        family: Family,
    ) -> (
        impl std::future::Future<Output = DnsLookup> + Send + 'a,
        impl std::future::Future<Output = DnsLookup> + Send + 'a,
    ) {
        R::lookup_pair(self, name, family)
    }

    fn explain(
        &self,
        name: &crate::catalog::DnsName,
        kind: RecordKind,
        lookup: DnsLookup,
    ) -> impl std::future::Future<Output = DnsLookup> + Send {
        R::explain(self, name, kind, lookup)
    }
}

/// The time a step may take: its own timeout, or what is left before the run's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepLimit {
    /// How long.
    pub duration: Duration,
    /// True when the deadline, not the step's timeout, set it.
    pub by_deadline: bool,
}

impl StepLimit {
    /// The shorter of `step` and the time left until `deadline`.
    pub fn new(step: Duration, deadline: Instant) -> Self {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < step {
            StepLimit {
                duration: left,
                by_deadline: true,
            }
        } else {
            StepLimit {
                duration: step,
                by_deadline: false,
            }
        }
    }

    /// `within 5s`, or `before the run's overall deadline`.
    pub fn describe(&self) -> String {
        if self.by_deadline {
            "before the run's overall deadline".to_owned()
        } else {
            format!("within {}", Millis(self.duration))
        }
    }
}

/// Milliseconds since `start`, to 0.01 ms.
pub(crate) fn elapsed_ms(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 100_000.0).round() / 100.0
}

/// Fakes shared by the engine's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::IpAddr;

    use crate::probe::dns::RecordKind;
    use crate::probe::model::{DnsAnswer, DnsLookup, DnsOutcome};

    /// A lookup that answered `addresses` with TTL 60 (no records when empty).
    pub fn answered(kind: RecordKind, addresses: &[IpAddr]) -> DnsLookup {
        DnsLookup {
            record_type: kind.label(),
            outcome: if addresses.is_empty() {
                DnsOutcome::NoRecords
            } else {
                DnsOutcome::Answer
            },
            answers: addresses
                .iter()
                .map(|&address| DnsAnswer { address, ttl: 60 })
                .collect(),
            cname_chain: Vec::new(),
            server: None,
            ms: 0.1,
            message: None,
        }
    }
}
