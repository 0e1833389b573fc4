//! `egresscheck probe …`: arguments, and the probe flags every probing command shares.
//!
//! The process environment (`HTTPS_PROXY`, `NO_PROXY`) and the open-file limit are read
//! here, at the edge, and passed into [`ProbeOptions`]; the library never reads them itself.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::values::{count_between, count_between_with, duration_between};
use crate::catalog::{DnsName, Port};
use crate::commands::CommandError;
use crate::commands::probe::{self, ProbeCommand};
use crate::exit::Status;
use crate::probe::connect_to::{ConnectRule, ConnectTo};
use crate::probe::model::{Family, ProbeRequest};
use crate::probe::options::{
    self, ControlOptions, ControlSni, MAX_ADDRESSES_PER_NAME, MAX_CONNECTS_WHY, MAX_DEADLINE,
    MAX_HANDSHAKE_CONCURRENCY, MAX_HTTP_BYTES, MAX_TIMEOUT, MAX_TLS_BYTES, MIN_HTTP_BYTES,
    MIN_TIMEOUT, MIN_TLS_BYTES, ProbeOptions,
};
use crate::probe::proxy::{ProxyEnv, ProxySettings};

/// Port probed when a name has none.
pub const DEFAULT_PORT: u16 = 443;
/// The soft open-file limit is raised to the hard limit, up to this.
pub const OPEN_FILE_CEILING: u64 = 65_536;
/// DNS port when `--resolver` names none.
const DNS_PORT: u16 = 53;

/// Address family (`--family`), shared by `probe`, `check` and `rules`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FamilyArg {
    /// IPv4 only.
    #[value(name = "4")]
    V4,
    /// IPv6 only.
    #[value(name = "6")]
    V6,
    /// IPv4 and IPv6.
    Both,
}

impl From<FamilyArg> for Family {
    fn from(arg: FamilyArg) -> Self {
        match arg {
            FamilyArg::V4 => Family::V4,
            FamilyArg::V6 => Family::V6,
            FamilyArg::Both => Family::Both,
        }
    }
}

/// Flags of every command that probes the network (`probe`, `check`).
#[derive(Debug, Clone, Args)]
pub struct ProbeFlags {
    /// DNS server to ask instead of the system configuration: IP, IP:PORT or [IPv6]:PORT
    /// (repeatable; UDP with TCP fallback). With it, the hosts file is not used either.
    #[arg(long = "resolver", value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub resolvers: Vec<SocketAddr>,

    /// HTTP proxy to CONNECT through: http://[user:pass@]host:port. Default: $https_proxy or
    /// $HTTPS_PROXY; names in $no_proxy / $NO_PROXY bypass it. Through a proxy, DNS is the
    /// proxy's.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Connect directly: ignore HTTPS_PROXY and NO_PROXY.
    #[arg(long, conflicts_with = "proxy")]
    pub no_proxy: bool,

    /// PEM file of trust anchors you declare legitimate (a private or test PKI), trusted like
    /// public roots (repeatable).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,

    /// Timeout of each TCP connect, each TLS handshake and (unless --http-timeout is given)
    /// each HTTP exchange, e.g. 5s, 500ms (10ms to 5m) [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = duration_between(MIN_TIMEOUT, MAX_TIMEOUT))]
    pub timeout: Option<Duration>,

    /// Timeout of each HTTP exchange after TLS (the data file's `http` checks; 10ms to 5m)
    /// [default: --timeout, else 5s].
    #[arg(long = "http-timeout", value_name = "DURATION", value_parser = duration_between(MIN_TIMEOUT, MAX_TIMEOUT))]
    pub http_timeout: Option<Duration>,

    /// Timeout of the DNS lookups of each name (10ms to 5m) [default: 5s].
    #[arg(long = "dns-timeout", value_name = "DURATION", value_parser = duration_between(MIN_TIMEOUT, MAX_TIMEOUT))]
    pub dns_timeout: Option<Duration>,

    /// Overall deadline of the run; whatever has not ended by then is reported as cut short
    /// (10ms to 60m) [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = duration_between(MIN_TIMEOUT, MAX_DEADLINE))]
    pub deadline: Option<Duration>,

    /// TLS handshakes in flight at once (1 to 4096) [default: 64].
    #[arg(long, value_name = "N", value_parser = count_between(1, MAX_HANDSHAKE_CONCURRENCY))]
    pub concurrency: Option<usize>,

    /// TCP connects in flight at once. A waiting connect costs a socket, not CPU, so this is
    /// bounded by the open-file limit, not by --concurrency [default: the open-file limit
    /// minus 256, at most 4096].
    #[arg(long = "max-connects", value_name = "N", value_parser = count_between_with(max_connects_bounds))]
    pub max_connects: Option<usize>,

    /// DNS answers probed per name; addresses from the data file or --connect-to come on top (1 to 1024)
    /// [default: 32].
    #[arg(long = "max-addresses", value_name = "N", value_parser = count_between(1, MAX_ADDRESSES_PER_NAME))]
    pub max_addresses: Option<usize>,

    /// Bytes read from a TLS server before its handshake is abandoned (16384 to 16777216)
    /// [default: 262144].
    #[arg(long = "max-tls-bytes", value_name = "BYTES", value_parser = count_between(MIN_TLS_BYTES, MAX_TLS_BYTES))]
    pub max_tls_bytes: Option<usize>,

    /// Body bytes read from an HTTP answer; the rest is left unread (1024 to 16777216)
    /// [default: 65536].
    #[arg(long = "max-http-bytes", value_name = "BYTES", value_parser = count_between(MIN_HTTP_BYTES, MAX_HTTP_BYTES))]
    pub max_http_bytes: Option<usize>,

    /// Send no HTTP request after TLS, even where the data file asks for an HTTP check.
    #[arg(long = "no-http")]
    pub no_http: bool,

    /// The SNI of the control handshake that tells an SNI filter from a broken server: when
    /// a handshake gets no ServerHello, the same address is asked once more without SNI and
    /// with this name [default: example.com, or example.net or example.org when the run
    /// probes that name itself].
    #[arg(long = "control-sni", value_name = "NAME", value_parser = parse_control_sni)]
    pub control_sni: Option<DnsName>,

    /// Make no control handshakes (see --control-sni).
    #[arg(long = "no-control", conflicts_with = "control_sni")]
    pub no_control: bool,

    /// Address family to resolve and probe.
    #[arg(long, value_enum, default_value = "both")]
    pub family: FamilyArg,
}

impl ProbeFlags {
    /// The options these flags and `env` ask for, validated.
    pub fn to_options(&self, env: &ProxyEnv) -> Result<ProbeOptions, CommandError> {
        let proxy = ProxySettings::from_sources(self.proxy.as_deref(), self.no_proxy, env)
            .map_err(|err| CommandError::Usage(err.to_string()))?;
        let defaults = ProbeOptions::default();
        let options = ProbeOptions {
            resolvers: self.resolvers.clone(),
            proxy: proxy.proxy,
            no_proxy: proxy.no_proxy,
            ca_files: self.ca_files.clone(),
            family: self.family.into(),
            connect_timeout: self.timeout.unwrap_or(defaults.connect_timeout),
            handshake_timeout: self.timeout.unwrap_or(defaults.handshake_timeout),
            dns_timeout: self.dns_timeout.unwrap_or(defaults.dns_timeout),
            deadline: self.deadline.unwrap_or(defaults.deadline),
            handshake_concurrency: self.concurrency.unwrap_or(defaults.handshake_concurrency),
            max_pending_connects: self.max_connects.unwrap_or(defaults.max_pending_connects),
            dns_concurrency: defaults.dns_concurrency,
            max_addresses_per_name: self
                .max_addresses
                .unwrap_or(defaults.max_addresses_per_name),
            max_tls_bytes: self.max_tls_bytes.unwrap_or(defaults.max_tls_bytes),
            http_checks: !self.no_http,
            http_timeout: self
                .http_timeout
                .or(self.timeout)
                .unwrap_or(defaults.http_timeout),
            max_http_bytes: self.max_http_bytes.unwrap_or(defaults.max_http_bytes),
            connect_to: defaults.connect_to,
            control: ControlOptions {
                enabled: !self.no_control,
                sni: self
                    .control_sni
                    .clone()
                    .map_or(defaults.control.sni, ControlSni::Name),
            },
        };
        options
            .validate()
            .map_err(|err| CommandError::Usage(err.to_string()))?;
        Ok(options)
    }
}

/// Reads the proxy variables of the process environment (lowercase first, as curl does).
pub fn proxy_env() -> ProxyEnv {
    let var = |lower: &str, upper: &str| {
        std::env::var(lower)
            .ok()
            .or_else(|| std::env::var(upper).ok())
    };
    ProxyEnv {
        https_proxy: var("https_proxy", "HTTPS_PROXY"),
        no_proxy: var("no_proxy", "NO_PROXY"),
    }
}

/// `egresscheck probe`: probe names without a data file.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Names to probe, each NAME or NAME:PORT (port 443 when none is given).
    #[arg(value_name = "NAME[:PORT]", required = true)]
    pub targets: Vec<String>,

    /// How to probe.
    #[command(flatten)]
    pub flags: ProbeFlags,

    /// Connect to this address instead of asking DNS, keeping the name for SNI and the
    /// certificate check (as curl's --connect-to): HOST1:PORT1:ADDRESS:PORT2, where an empty
    /// HOST1 or PORT1 matches any name or port and an empty PORT2 keeps the port, or just
    /// ADDRESS for every name (IPv6 in brackets). Repeatable; the first match wins. Such
    /// connections go direct, not through a proxy.
    #[arg(long = "connect-to", value_name = "HOST1:PORT1:ADDRESS:PORT2", value_parser = ConnectRule::parse)]
    pub connect_to: Vec<ConnectRule>,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ProbeFormatArg,

    /// A label for the output (KEY=VALUE, repeatable), e.g. site=oslo: JSON and JSON lines
    /// carry it.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

/// Output format of `probe`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProbeFormatArg {
    /// Tables for people.
    Table,
    /// JSON for programs (documented in the README).
    Json,
    /// One JSON object per target, per line, each with the labels.
    Jsonl,
}

impl From<ProbeFormatArg> for probe::ProbeFormat {
    fn from(arg: ProbeFormatArg) -> Self {
        match arg {
            ProbeFormatArg::Table => probe::ProbeFormat::Table,
            ProbeFormatArg::Json => probe::ProbeFormat::Json,
            ProbeFormatArg::Jsonl => probe::ProbeFormat::Jsonl,
        }
    }
}

impl ProbeArgs {
    /// Runs the command, writing to `out`.
    pub fn run(
        self,
        screen: crate::term::Screen,
        out: &mut dyn Write,
    ) -> Result<Status, CommandError> {
        // Before the defaults are computed: they follow the open-file limit (`parse` raised
        // it already; this is for callers that built the arguments themselves).
        options::prepare_open_files(OPEN_FILE_CEILING);
        let requests = requests(&self.targets)?;
        let mut options = self.flags.to_options(&proxy_env())?;
        options.connect_to = ConnectTo::new(self.connect_to);
        probe::probe(
            &ProbeCommand {
                requests,
                options,
                format: self.format.into(),
                labels: crate::labels::Labels::parse(&self.labels)
                    .map_err(|err| CommandError::Usage(err.to_string()))?,
                screen,
            },
            out,
        )
    }
}

/// One request per distinct name, ports merged, in the order given.
pub fn requests(targets: &[String]) -> Result<Vec<ProbeRequest>, CommandError> {
    let mut requests: Vec<ProbeRequest> = Vec::new();
    for text in targets {
        let (name, port) = parse_target(text).map_err(CommandError::Usage)?;
        match requests.iter_mut().find(|r| r.name == name) {
            Some(request) if request.ports.contains(&port) => {}
            Some(request) => request.ports.push(port),
            None => requests.push(ProbeRequest {
                name,
                ports: vec![port],
                documented: Vec::new(),
                http: None,
            }),
        }
    }
    Ok(requests)
}

/// `NAME` or `NAME:PORT`.
pub fn parse_target(text: &str) -> Result<(DnsName, Port), String> {
    let shown = crate::term::sanitize(text);
    let host_part = text.rsplit_once(':').map_or(text, |(host, _)| host);
    if text.starts_with('[')
        || text.parse::<IpAddr>().is_ok()
        || host_part.parse::<IpAddr>().is_ok()
        || text.matches(':').count() > 1
    {
        return Err(format!(
            "`{shown}`: probe takes DNS names, not addresses: TLS needs the name for SNI and certificate checks"
        ));
    }
    let (name, port) = match text.rsplit_once(':') {
        Some((name, port)) => {
            let port = port
                .parse::<u16>()
                .ok()
                .and_then(|p| Port::try_from(p).ok())
                .ok_or_else(|| format!("`{shown}`: port must be 1-65535"))?;
            (name, port)
        }
        None => (
            text,
            Port::try_from(DEFAULT_PORT).map_err(|_| "default port".to_owned())?,
        ),
    };
    let name = DnsName::parse(name).map_err(|err| format!("`{shown}`: {err}"))?;
    Ok((name, port))
}

/// The bounds of `--max-connects`: the open-file limit in force when the command line is
/// read (`main` raises it first) minus a reserve.
fn max_connects_bounds() -> (usize, usize, &'static str) {
    (
        1,
        options::socket_budget(options::open_file_limit()),
        MAX_CONNECTS_WHY,
    )
}

/// A DNS name for `--control-sni`.
fn parse_control_sni(text: &str) -> Result<DnsName, String> {
    DnsName::parse(text).map_err(|err| err.to_string())
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| format!("`{text}` is not IP, IP:PORT or [IPv6]:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_and_without_port() {
        let (name, port) = parse_target("API.Example.no").unwrap();
        assert_eq!((name.as_str(), port.get()), ("api.example.no", 443));
        let (name, port) = parse_target("api.example.no:8443").unwrap();
        assert_eq!((name.as_str(), port.get()), ("api.example.no", 8443));
    }

    #[test]
    fn garbage_and_addresses_are_rejected_clearly() {
        for (text, needle) in [
            ("127.0.0.1", "not addresses"),
            ("127.0.0.1:443", "not addresses"),
            ("[::1]:443", "not addresses"),
            ("::1", "not addresses"),
            ("api.example.no:0", "1-65535"),
            ("api.example.no:http", "1-65535"),
            ("api.example.no:70000", "1-65535"),
            ("localhost", "single label"),
            ("bad_name.example.no", "holds"),
            ("", "empty"),
        ] {
            let err = parse_target(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn same_name_twice_merges_ports() {
        let requests = requests(&[
            "a.example.no".into(),
            "b.example.no:8443".into(),
            "a.example.no:8443".into(),
            "a.example.no:443".into(),
        ])
        .unwrap();
        assert_eq!(requests.len(), 2);
        let ports: Vec<u16> = requests[0].ports.iter().map(|p| p.get()).collect();
        assert_eq!(ports, vec![443, 8443]);
    }

    #[test]
    fn resolvers_parse() {
        assert_eq!(
            parse_resolver("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_resolver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            parse_resolver("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert!(parse_resolver("dns.example.no").is_err());
    }

    #[test]
    fn flags_become_validated_options() {
        use clap::Parser;
        #[derive(Parser)]
        struct Harness {
            #[command(flatten)]
            flags: ProbeFlags,
        }
        let parsed = Harness::try_parse_from([
            "x",
            "--timeout",
            "2s",
            "--dns-timeout",
            "1s",
            "--family",
            "6",
            "--resolver",
            "127.0.0.1:5353",
            "--concurrency",
            "8",
        ])
        .unwrap();
        let env = ProxyEnv {
            https_proxy: Some("http://env-proxy:3128".into()),
            no_proxy: None,
        };
        let options = parsed.flags.to_options(&env).unwrap();
        assert_eq!(options.connect_timeout, Duration::from_secs(2));
        assert_eq!(options.handshake_timeout, Duration::from_secs(2));
        assert_eq!(options.dns_timeout, Duration::from_secs(1));
        assert_eq!(options.family, Family::V6);
        assert_eq!(options.handshake_concurrency, 8);
        assert_eq!(options.proxy.unwrap().host(), "env-proxy");
        // Zero, too short and malformed: refused while the command line is read, in one
        // style that names the flag, the value and the range.
        for (value, reason) in [
            ("0s", "must be between 10ms and 5m"),
            ("1ms", "must be between 10ms and 5m"),
            ("soon", "not a duration"),
        ] {
            let err = Harness::try_parse_from(["x", "--timeout", value])
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains(&format!(
                    "invalid value '{value}' for '--timeout <DURATION>': {reason}"
                )),
                "{err}"
            );
        }
        for (flag, value, reason) in [
            ("--concurrency", "0", "must be between 1 and 4096"),
            ("--concurrency", "lots", "not a whole number"),
            ("--max-addresses", "2000", "must be between 1 and 1024"),
            ("--max-connects", "0", "ulimit -n"),
            ("--deadline", "2h", "not a duration"),
            ("--deadline", "61m", "must be between 10ms and 60m"),
        ] {
            let err = Harness::try_parse_from(["x", flag, value])
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(&format!("invalid value '{value}'")), "{err}");
            assert!(err.contains(reason), "{flag} {value}: {err}");
        }
        let parsed = Harness::try_parse_from(["x", "--proxy", "ftp://x"]).unwrap();
        assert!(parsed.flags.to_options(&ProxyEnv::default()).is_err());
        assert!(Harness::try_parse_from(["x", "--proxy", "http://p:1", "--no-proxy"]).is_err());
    }
}
