//! Hostile input and faults (issue 6): a closed standard output, Ctrl-C, injection through
//! the data file into every output, the fuzzers' regression inputs, property tests of the
//! validator and the rule renderers, and a real firewall end to end.

mod bounds;
mod firewall;
mod fuzz_regressions;
mod injection;
mod interrupt;
mod peers;
mod pipe;
pub(crate) mod properties;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use crate::support::dns::DnsServer;

/// The binary, with a clean environment (no proxy, no colour, no system CA override).
pub fn egresscheck() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egresscheck"));
    crate::probe::clean_env(&mut cmd);
    cmd.env("NO_COLOR", "1");
    // What the reports say, not how they fold to a terminal's width.
    cmd.env("COLUMNS", "1000");
    cmd
}

pub use crate::support::data::{Endpoint, data_file};

/// A data file with one endpoint, `host` documented at `ip:port`, in a temporary directory,
/// and a DNS server that answers `ip` for `host`. The server at `ip:port` is the test's.
pub struct OneEndpoint {
    pub dns: DnsServer,
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
}

impl OneEndpoint {
    pub fn new(host: &str, ip: IpAddr, port: u16) -> OneEndpoint {
        let dns = DnsServer::zone("egress.test").addr(host, ip, 60).start();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.toml");
        let endpoint = Endpoint {
            host,
            address: Some(ip),
            port,
        };
        std::fs::write(&data, data_file(&[endpoint])).unwrap();
        OneEndpoint { dns, dir, data }
    }

    /// `egresscheck --data DATA check --no-proxy --resolver DNS` (more arguments to add).
    pub fn check(&self) -> Command {
        let mut cmd = egresscheck();
        cmd.arg("--data").arg(&self.data).args([
            "check",
            "--no-proxy",
            "--resolver",
            &self.dns.resolver_arg(),
        ]);
        cmd
    }

    /// A path in the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
