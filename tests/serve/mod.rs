//! `egresscheck serve` end to end: the exporter as a process in front of the offline lab
//! (DNS, a healthy TLS endpoint, a black-holed one, and a canary the data file does not
//! name), scraped the way Prometheus scrapes it.

mod endpoints;
mod hostile;
mod probe;
mod prometheus;
mod webconfig;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::support::data::{Endpoint, data_file};
use crate::support::dns::DnsServer;
use crate::support::exporter::Exporter;
use crate::support::pki::TestCa;
use crate::support::tcp::{BlackHole, UnansweredPort};
use crate::support::tls::TlsServer;

/// Prometheus's scrape-timeout header.
pub const TIMEOUT: &str = "X-Prometheus-Scrape-Timeout-Seconds";
/// The healthy lab host.
pub const GOOD: &str = "good.api.egress.test";
/// The black-holed lab host (connects never answered: a firewall's drop).
pub const HOLE: &str = "hole.api.egress.test";
/// A name DNS answers but the data file does not hold.
pub const CANARY: &str = "canary.egress.test";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// The lab: DNS, servers, and a data file describing the good and the blocked host.
pub struct Lab {
    pub dns: DnsServer,
    pub good: TlsServer,
    /// Kept for the lab's lifetime: its full accept queue is the black hole.
    _hole: UnansweredPort,
    /// Accepts and counts connections; nothing should ever connect to it.
    pub canary: BlackHole,
    pub ca: TestCa,
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
}

impl Lab {
    /// A lab on 127.0.0.FIRST.. (distinct per test module, so runs in parallel never meet).
    pub fn on(first: u8) -> Lab {
        let ca = TestCa::new("Egress Exporter Lab CA");
        let good = TlsServer::builder(ca.valid(&[GOOD]))
            .bind(ip(first))
            .start();
        let hole = UnansweredPort::builder().bind(ip(first + 1)).unanswered();
        let canary = BlackHole::builder().bind(ip(first + 2)).black_hole();
        let dns = DnsServer::zone("egress.test")
            .addr(GOOD, ip(first), 300)
            .addr(HOLE, ip(first + 1), 300)
            .addr(CANARY, ip(first + 2), 300)
            .start();
        let text = data_file(&[
            Endpoint {
                host: GOOD,
                address: Some(ip(first)),
                port: good.port(),
            },
            Endpoint {
                host: HOLE,
                address: Some(ip(first + 1)),
                port: hole.addr().port(),
            },
        ]);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("lab.toml");
        std::fs::write(&data, text).unwrap();
        Lab {
            dns,
            good,
            _hole: hole,
            canary,
            ca,
            dir,
            data,
        }
    }

    /// The arguments of `egresscheck --data LAB serve` against this lab (connect and
    /// handshake timeout 1 s unless `extra` names one), then `extra`.
    pub fn serve_args<'a>(&'a self, extra: &[&'a str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--data".into(),
            self.data.display().to_string(),
            "serve".into(),
            "--resolver".into(),
            self.dns.resolver_arg(),
            "--ca-file".into(),
            self.ca.pem_file().display().to_string(),
            "--no-proxy".into(),
        ];
        if !extra.contains(&"--timeout") {
            args.extend(["--timeout".to_owned(), "1s".to_owned()]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }

    /// Starts the exporter in front of the lab.
    pub fn exporter(&self, extra: &[&str]) -> Exporter {
        let args = self.serve_args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Exporter::start_with(&args, |cmd| {
            cmd.env_remove("SSL_CERT_DIR").env_remove("SSL_CERT_FILE");
        })
    }
}
