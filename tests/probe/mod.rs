//! The probe engine end to end: `egresscheck probe` run as a subprocess against the offline
//! harness (DNS server, test PKI and TLS servers, bad TCP endpoints, CONNECT proxy, network
//! namespaces). One file per layer; every outcome the engine distinguishes has a test.

mod cli;
mod dns;
mod hostile;
mod proxy;
mod tcp;
mod tls;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::dns::DnsServer;
use crate::support::netns::Netns;

/// Environment the probe reads; removed so the machine's settings cannot leak into a test.
pub const PROBE_ENV: [&str; 7] = [
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NO_COLOR",
];

/// `cmd` without the environment the probe reads ([`PROBE_ENV`]).
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for var in PROBE_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// The binary with a clean environment.
pub fn egresscheck() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egresscheck"));
    clean_env(&mut cmd);
    // The tests read what the table says, not how it folds to a width.
    cmd.env("COLUMNS", "240");
    cmd
}

/// The binary inside the network namespace `ns`, with a clean environment.
pub fn egresscheck_in(ns: &Netns) -> Command {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_egresscheck"));
    clean_env(&mut cmd);
    cmd
}

/// `egresscheck probe --format json --resolver DNS TARGETS...`.
pub fn probe(dns: &DnsServer, targets: &[&str]) -> Command {
    let mut cmd = egresscheck();
    cmd.args([
        "probe",
        "--format",
        "json",
        "--resolver",
        &dns.resolver_arg(),
    ]);
    cmd.args(targets);
    cmd
}

/// `egresscheck probe --resolver DNS TARGETS...` with the table output.
pub fn probe_table(dns: &DnsServer, targets: &[&str]) -> Command {
    let mut cmd = egresscheck();
    cmd.args(["probe", "--resolver", &dns.resolver_arg()]);
    cmd.args(targets);
    cmd
}

/// A finished run: exit code, the JSON document, standard error.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

impl Run {
    /// The target objects of `host`.
    pub fn targets(&self, host: &str) -> Vec<&Value> {
        self.json["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("no targets array in {}", self.json))
            .iter()
            .filter(|t| t["host"] == host)
            .collect()
    }

    /// The only target object of `host`.
    pub fn target(&self, host: &str) -> &Value {
        let targets = self.targets(host);
        assert_eq!(targets.len(), 1, "one target for {host}: {}", self.json);
        targets[0]
    }
}

/// Peak memory a probe of hostile peers may use. A debug build of a small probe peaks at
/// about 11 MiB; the bound is generous for that, yet far below what the floods of the hostile
/// servers would cost if they were buffered.
pub const HOSTILE_RSS_MIB: u64 = 64;

/// Time a run against hostile peers may take: its timeouts are a few seconds; this only
/// proves that it ends (a busy 2-core machine can be slow, so no tighter).
pub const HOSTILE_RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// [`run_json`] for hostile peers: the run must end within [`HOSTILE_RUN_LIMIT`] with its
/// peak memory under [`HOSTILE_RSS_MIB`] (measured by GNU time, see `support::rss`).
pub fn run_json_bounded(cmd: &mut Command, what: &str) -> Run {
    let started = std::time::Instant::now();
    let measured = crate::support::rss::run(cmd);
    assert!(
        started.elapsed() < HOSTILE_RUN_LIMIT,
        "{what}: ends, does not hang ({:?})",
        started.elapsed()
    );
    measured.assert_peak_below_mib(HOSTILE_RSS_MIB, what);
    parse(&measured.output)
}

/// Runs `cmd` and parses its JSON output.
pub fn run_json(cmd: &mut Command) -> Run {
    let output = cmd.output().expect("run egresscheck");
    parse(&output)
}

fn parse(output: &Output) -> Run {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    Run {
        code: output.status.code().expect("exit code"),
        json,
        stderr,
    }
}

/// Runs `cmd` and returns exit code, standard output and standard error as text.
pub fn run_text(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().expect("run egresscheck");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A loopback address of its own for a test server, so DNS can point at it.
pub fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}
