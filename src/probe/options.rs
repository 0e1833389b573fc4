//! How a probe run behaves: resolvers, proxy, trust anchors, and every timeout and bound.
//!
//! Each timeout and bound has a named default and an allowed range (trippy's
//! `validate_round_duration`): a value outside it is a usage error that names the flag, the
//! value and the range, never a silent clamp. The CLI fills a [`ProbeOptions`] and calls
//! [`ProbeOptions::validate`]; the engine trusts the result.
//!
//! Two concurrency limits are kept apart on purpose. A pending connect costs a socket and no
//! CPU, so connects are bounded only by the open-file limit ([`default_max_pending_connects`]):
//! a black-holed address then waits its timeout alongside every other one instead of queueing
//! behind them. A TLS handshake costs CPU, so handshakes are bounded by
//! [`DEFAULT_HANDSHAKE_CONCURRENCY`].
//!
//! Between the two sits the connect-ahead window: a connect that completes holds a place in it
//! until its handshake has a slot, so on a fast path about as many connections sit open and
//! idle as there are handshake slots; a connect unanswered for [`CONNECT_AHEAD_STALL`] gives
//! its place back, and no target waits for one longer than a tenth of its connect timeout
//! ([`CONNECT_AHEAD_PATIENCE_DIVISOR`]; see `engine::connect_ahead`).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::DnsName;
use crate::probe::connect_to::ConnectTo;
use crate::probe::model::Family;
use crate::probe::proxy::{NoProxy, ProxyConfig};

/// Default bound on each TCP connect (also the CONNECT exchange with a proxy): 5 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on each TLS handshake: 5 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on the DNS lookups of one name (A and AAAA run in parallel): 5 s.
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on each HTTP exchange after TLS (request sent, answer read): 5 s.
pub const DEFAULT_HTTP_TIMEOUT: Duration = crate::probe::http::DEFAULT_HTTP_TIMEOUT;
/// Default bound on the body bytes read from one HTTP answer: 64 KiB (a provider's metadata
/// document is a few KiB; a block page is read far enough to show what it says).
pub const DEFAULT_MAX_HTTP_BYTES: usize = 64 * 1024;
/// Smallest accepted HTTP body bound: 1 KiB.
pub const MIN_HTTP_BYTES: usize = 1024;
/// Largest accepted HTTP body bound: 16 MiB.
pub const MAX_HTTP_BYTES: usize = 16 * 1024 * 1024;
/// Default overall deadline of a run: 60 s. Whatever has not ended by then is recorded as
/// cut short, so a run always ends.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// Shortest accepted timeout (each step, and the deadline): 10 ms.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Longest accepted per-step timeout: 5 minutes.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest accepted overall deadline: 1 hour.
pub const MAX_DEADLINE: Duration = Duration::from_secs(3600);

/// Default number of TLS handshakes in flight at once (`--concurrency`).
pub const DEFAULT_HANDSHAKE_CONCURRENCY: usize = 64;
/// Most TLS handshakes in flight at once that `--concurrency` accepts.
pub const MAX_HANDSHAKE_CONCURRENCY: usize = 4096;
/// How long a connect counts in the connect-ahead window (as many open connections waiting
/// for a handshake slot as there are slots): one unanswered by then is a slow or black-holed
/// path, which costs a socket and no longer holds back the connects behind it.
pub const CONNECT_AHEAD_STALL: Duration = Duration::from_millis(5);
/// A target waits for a place in the connect-ahead window at most its connect timeout
/// divided by this, then connects without one: a black hole queued behind connections that
/// wait for handshakes is reported at most a tenth of a timeout late.
pub const CONNECT_AHEAD_PATIENCE_DIVISOR: u32 = 10;
/// Most connects in flight at once by default, however high the open-file limit is.
pub const DEFAULT_MAX_PENDING_CONNECTS: usize = 4096;
/// File descriptors kept free for everything but probe sockets: DNS sockets
/// ([`DEFAULT_DNS_CONCURRENCY`] names × 2 lookups, 128), standard streams, the trust store
/// and the files the command writes.
pub const RESERVED_FILE_DESCRIPTORS: u64 = 256;
/// Open-file limit assumed where it cannot be read.
pub const FALLBACK_OPEN_FILE_LIMIT: u64 = 1024;
/// Names resolved at once. A thousand names at 20 ms each take 0.3 s at 64 at once (1.3 s
/// at 16), so the targets only DNS knows start early; 128 queries in flight are nothing to
/// a resolver.
pub const DEFAULT_DNS_CONCURRENCY: usize = 64;
/// Most names resolved at once that the options accept.
pub const MAX_DNS_CONCURRENCY: usize = 256;
/// Default number of DNS answers probed per name (A and AAAA together). Documented addresses
/// are always probed on top; answers beyond the cap are recorded, not probed, and counted in
/// `DnsObservation::addresses_dropped`.
pub const DEFAULT_MAX_ADDRESSES_PER_NAME: usize = 32;
/// Most DNS answers per name that `--max-addresses` accepts.
pub const MAX_ADDRESSES_PER_NAME: usize = 1024;
/// Default bound on the bytes read from one TLS peer during its handshake: 256 KiB, four
/// times the largest certificate message a server can send in one TLS handshake message.
pub const DEFAULT_MAX_TLS_BYTES: usize = 256 * 1024;
/// Smallest accepted TLS read bound: 16 KiB, one full TLS record.
pub const MIN_TLS_BYTES: usize = 16 * 1024;
/// Largest accepted TLS read bound: 16 MiB.
pub const MAX_TLS_BYTES: usize = 16 * 1024 * 1024;

/// Everything that shapes a probe run. [`Default`] gives the documented defaults with the
/// system resolver, no proxy and no extra trust anchors.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// DNS servers to ask instead of the system configuration (`--resolver`). When set, the
    /// hosts file is not used either.
    pub resolvers: Vec<SocketAddr>,
    /// HTTP proxy for CONNECT (`--proxy`, or `HTTPS_PROXY`).
    pub proxy: Option<ProxyConfig>,
    /// Names that bypass the proxy (`NO_PROXY`).
    pub no_proxy: NoProxy,
    /// PEM files with extra trust anchors, trusted like public roots (`--ca-file`).
    pub ca_files: Vec<PathBuf>,
    /// Address families to resolve and probe (`--family`).
    pub family: Family,
    /// Bound on each TCP connect and each CONNECT exchange with a proxy.
    pub connect_timeout: Duration,
    /// Bound on each TLS handshake.
    pub handshake_timeout: Duration,
    /// Bound on the DNS lookups of one name.
    pub dns_timeout: Duration,
    /// Overall deadline of the run.
    pub deadline: Duration,
    /// TLS handshakes in flight at once (`--concurrency`).
    pub handshake_concurrency: usize,
    /// Sockets open at once (connecting or handshaking); bounded by the open-file limit.
    pub max_pending_connects: usize,
    /// Names resolved at once.
    pub dns_concurrency: usize,
    /// DNS answers probed per name (documented addresses come on top).
    pub max_addresses_per_name: usize,
    /// Bytes read from one TLS peer before the handshake is abandoned.
    pub max_tls_bytes: usize,
    /// Run the HTTP checks the requests carry (`--no-http` turns them off).
    pub http_checks: bool,
    /// Bound on each HTTP exchange after TLS.
    pub http_timeout: Duration,
    /// Body bytes read from one HTTP answer.
    pub max_http_bytes: usize,
    /// Names and ports to connect to at a given address instead of asking DNS
    /// (`probe --connect-to`).
    pub connect_to: ConnectTo,
    /// The control handshakes that tell an SNI filter from a broken server.
    pub control: ControlOptions,
}

/// The control handshakes (`--control-sni`, `--no-control`): when a direct target's
/// handshake gets no ServerHello (silence, a reset, an alert), the same address is asked
/// once more, with the same ClientHello but without SNI and with a control name, at the same
/// time and with the same timeouts. A handshake whose server has sent nothing for
/// 1/[`CONTROL_AFTER_SILENCE_DIVISOR`] of its timeout starts them alongside, ending with its
/// timeout, so that a silent path costs one timeout, not two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlOptions {
    /// Make them (`--no-control` turns them off).
    pub enabled: bool,
    /// The control name (`--control-sni`), a name no filter has reason to block.
    pub sni: ControlSni,
}

/// The control name of [`ControlOptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlSni {
    /// The first of [`CONTROL_SNI_CANDIDATES`] that the run does not probe itself (none when
    /// it probes all three: the control hello then goes without SNI only).
    Default,
    /// This name (`--control-sni`).
    Name(DnsName),
}

/// Default control names, in order: the first the data file does not name is used.
pub const CONTROL_SNI_CANDIDATES: [&str; 3] = ["example.com", "example.net", "example.org"];
/// A handshake whose server sent nothing for its timeout divided by this starts its control
/// handshakes alongside. A live server answers a ClientHello within a round trip, so a
/// quarter of the timeout (1.25 s at the default 5 s) is silence, and a slow but live server
/// seldom costs controls that are then dropped; the controls keep three quarters of the
/// timeout to get their ServerHello.
pub const CONTROL_AFTER_SILENCE_DIVISOR: u32 = 4;

impl ControlOptions {
    /// The control name of a run that probes the names `probed` claims.
    pub fn sni_for(&self, probed: impl Fn(&DnsName) -> bool) -> Option<DnsName> {
        match &self.sni {
            ControlSni::Name(name) => Some(name.clone()),
            ControlSni::Default => CONTROL_SNI_CANDIDATES
                .iter()
                .filter_map(|name| DnsName::parse(name).ok())
                .find(|name| !probed(name)),
        }
    }
}

impl Default for ControlOptions {
    fn default() -> Self {
        ControlOptions {
            enabled: true,
            sni: ControlSni::Default,
        }
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            resolvers: Vec::new(),
            proxy: None,
            no_proxy: NoProxy::default(),
            ca_files: Vec::new(),
            family: Family::Both,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            dns_timeout: DEFAULT_DNS_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            handshake_concurrency: DEFAULT_HANDSHAKE_CONCURRENCY,
            max_pending_connects: default_max_pending_connects(),
            dns_concurrency: DEFAULT_DNS_CONCURRENCY,
            max_addresses_per_name: DEFAULT_MAX_ADDRESSES_PER_NAME,
            max_tls_bytes: DEFAULT_MAX_TLS_BYTES,
            http_checks: true,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            max_http_bytes: DEFAULT_MAX_HTTP_BYTES,
            connect_to: ConnectTo::default(),
            control: ControlOptions::default(),
        }
    }
}

/// An option outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {value}: {reason}")]
pub struct OptionsError {
    /// The flag (or option) name, e.g. `--timeout`.
    pub flag: &'static str,
    /// The value given, as the user would write it.
    pub value: String,
    /// What is allowed.
    pub reason: String,
}

impl ProbeOptions {
    /// Checks every timeout and bound against its range.
    pub fn validate(&self) -> Result<(), OptionsError> {
        validate_duration("--timeout", self.connect_timeout, MIN_TIMEOUT, MAX_TIMEOUT)?;
        validate_duration(
            "--timeout",
            self.handshake_timeout,
            MIN_TIMEOUT,
            MAX_TIMEOUT,
        )?;
        validate_duration("--dns-timeout", self.dns_timeout, MIN_TIMEOUT, MAX_TIMEOUT)?;
        validate_duration(
            "--http-timeout",
            self.http_timeout,
            MIN_TIMEOUT,
            MAX_TIMEOUT,
        )?;
        validate_duration("--deadline", self.deadline, MIN_TIMEOUT, MAX_DEADLINE)?;
        validate_count(
            "--concurrency",
            self.handshake_concurrency,
            1,
            MAX_HANDSHAKE_CONCURRENCY,
            "",
        )?;
        let socket_limit = socket_budget(open_file_limit());
        validate_count(
            "--max-connects",
            self.max_pending_connects,
            1,
            socket_limit,
            MAX_CONNECTS_WHY,
        )?;
        validate_count(
            "DNS concurrency",
            self.dns_concurrency,
            1,
            MAX_DNS_CONCURRENCY,
            "",
        )?;
        validate_count(
            "--max-addresses",
            self.max_addresses_per_name,
            1,
            MAX_ADDRESSES_PER_NAME,
            "",
        )?;
        validate_count(
            "--max-tls-bytes",
            self.max_tls_bytes,
            MIN_TLS_BYTES,
            MAX_TLS_BYTES,
            "",
        )?;
        validate_count(
            "--max-http-bytes",
            self.max_http_bytes,
            MIN_HTTP_BYTES,
            MAX_HTTP_BYTES,
            "",
        )?;
        Ok(())
    }
}

fn validate_duration(
    flag: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), OptionsError> {
    duration_in_range(value, min, max).map_err(|reason| OptionsError {
        flag,
        value: Millis(value).to_string(),
        reason,
    })
}

fn validate_count(
    flag: &'static str,
    value: usize,
    min: usize,
    max: usize,
    why: &str,
) -> Result<(), OptionsError> {
    count_in_range(value, min, max, why).map_err(|reason| OptionsError {
        flag,
        value: value.to_string(),
        reason,
    })
}

/// The one range check of every duration option (the command line's parsers call it too,
/// so a value is refused by the same rule with the same words wherever it comes from).
pub fn duration_in_range(value: Duration, min: Duration, max: Duration) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!(
            "must be between {} and {}",
            Millis(min),
            Millis(max)
        ));
    }
    Ok(())
}

/// The one range check of every count option; `why` explains a bound that is not obvious.
pub fn count_in_range<T: PartialOrd + fmt::Display>(
    value: T,
    min: T,
    max: T,
    why: &str,
) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!("must be between {min} and {max}{why}"));
    }
    Ok(())
}

/// Why `--max-connects` has the upper bound it has.
pub const MAX_CONNECTS_WHY: &str =
    " (the open-file limit minus a reserve; raise it with `ulimit -n`)";

/// A duration shown the way the flags accept it: `500ms`, `5s`, `5m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms >= 60_000 && ms.is_multiple_of(60_000) {
            write!(f, "{}m", ms / 60_000)
        } else if ms >= 1000 && ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// The soft limit on open files of this process ([`FALLBACK_OPEN_FILE_LIMIT`] where it
/// cannot be read, or is unlimited beyond what a `u64` says).
pub fn open_file_limit() -> u64 {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit};
        getrlimit(Resource::Nofile)
            .current
            .unwrap_or(u64::MAX)
            .max(1)
    }
    #[cfg(not(unix))]
    {
        FALLBACK_OPEN_FILE_LIMIT
    }
}

/// Raises the soft open-file limit to the hard limit (capped at `ceiling`), as Go programs do
/// at start: a run with many black-holed targets holds a socket per pending connect. Returns
/// the soft limit in force afterwards. Failing to raise it is not an error: the defaults
/// follow whatever limit is in force.
pub fn raise_open_file_limit(ceiling: u64) -> u64 {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        let current = limit.current.unwrap_or(u64::MAX);
        let wanted = limit.maximum.unwrap_or(u64::MAX).min(ceiling);
        if wanted > current {
            let raised = Rlimit {
                current: Some(wanted),
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return wanted;
            }
        }
        current
    }
    #[cfg(not(unix))]
    {
        let _ = ceiling;
        FALLBACK_OPEN_FILE_LIMIT
    }
}

/// Descriptors a probing command sizes its file table for before it starts threads (see
/// [`reserve_file_table`]): as many as the default bound on pending connects. A run that
/// opens more grows the table from there, each growth doubling it.
pub const FILE_TABLE_RESERVE: u64 = DEFAULT_MAX_PENDING_CONNECTS as u64;

/// Sizes this process's file-descriptor table for `descriptors` (at most the soft open-file
/// limit), now.
///
/// Linux grows a process's file table by doubling it when a new descriptor does not fit, and
/// once the process has more than one thread each growth waits for an RCU grace period
/// (`expand_fdtable` calls `synchronize_rcu`): on a two-vCPU virtual machine 8 to 20 ms,
/// during which the thread opening the socket sleeps, and often every runtime worker with
/// it. A run over a thousand targets grows the table five or six times from 64: measured
/// with `perf sched` on the benchmark's stalled-TLS row, both workers asleep for tens of
/// milliseconds of its first two hundred. Called while the process still has one thread, the
/// growth is one allocation and no wait, and the table never shrinks. Failing is harmless:
/// the table then grows as it would have.
pub fn reserve_file_table(descriptors: u64) {
    #[cfg(unix)]
    {
        let highest = descriptors.min(open_file_limit()).saturating_sub(1);
        if let (Ok(file), Ok(highest)) = (std::fs::File::open("/dev/null"), i32::try_from(highest))
        {
            // The duplicate gets the lowest free descriptor from `highest` up, which sizes the
            // table to hold it; it is closed again at once.
            drop(rustix::io::fcntl_dupfd_cloexec(&file, highest));
        }
    }
    #[cfg(not(unix))]
    let _ = descriptors;
}

/// What every probing command does first, before any thread starts: raises the open-file
/// limit (up to `ceiling`) and sizes the file table for [`FILE_TABLE_RESERVE`] descriptors.
pub fn prepare_open_files(ceiling: u64) {
    raise_open_file_limit(ceiling);
    reserve_file_table(FILE_TABLE_RESERVE);
}

/// Sockets a run may hold open at once under an open-file limit of `limit`.
pub fn socket_budget(limit: u64) -> usize {
    let budget = limit.saturating_sub(RESERVED_FILE_DESCRIPTORS).max(1);
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// Default bound on pending connects: the open-file limit minus a reserve, at most
/// [`DEFAULT_MAX_PENDING_CONNECTS`].
pub fn default_max_pending_connects() -> usize {
    socket_budget(open_file_limit()).min(DEFAULT_MAX_PENDING_CONNECTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's size, from `/proc/self/status` (`FDSize`).
    #[cfg(target_os = "linux")]
    fn file_table_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_file_table_is_sized_for_the_descriptors_asked_for_within_the_limit() {
        let before = file_table_size();
        let wanted = (before * 4).min(open_file_limit());
        assert!(
            wanted > before,
            "the open-file limit leaves no room to test growth"
        );
        reserve_file_table(wanted);
        assert!(
            file_table_size() >= wanted,
            "table of {} after reserving {wanted}",
            file_table_size()
        );
        // Beyond the soft limit it asks for no more than the limit allows, and fails quietly.
        reserve_file_table(u64::MAX);
        assert!(file_table_size() >= wanted);
    }

    #[test]
    fn defaults_validate() {
        ProbeOptions::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_values_name_flag_value_and_range() {
        let options = ProbeOptions {
            connect_timeout: Duration::from_millis(1),
            ..ProbeOptions::default()
        };
        let err = options.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "--timeout 1ms: must be between 10ms and 5m"
        );
        let options = ProbeOptions {
            handshake_concurrency: 0,
            ..ProbeOptions::default()
        };
        assert_eq!(
            options.validate().unwrap_err().to_string(),
            "--concurrency 0: must be between 1 and 4096"
        );
        let options = ProbeOptions {
            max_pending_connects: usize::MAX,
            ..ProbeOptions::default()
        };
        let err = options.validate().unwrap_err();
        assert_eq!(err.flag, "--max-connects");
        assert!(err.reason.contains("ulimit -n"), "{err}");
        let options = ProbeOptions {
            deadline: Duration::from_secs(7200),
            ..ProbeOptions::default()
        };
        assert_eq!(options.validate().unwrap_err().flag, "--deadline");
    }

    #[test]
    fn socket_budget_keeps_a_reserve() {
        assert_eq!(socket_budget(1024), 768);
        assert_eq!(socket_budget(10), 1);
        assert!(default_max_pending_connects() >= 1);
        assert!(default_max_pending_connects() <= DEFAULT_MAX_PENDING_CONNECTS);
    }
}
