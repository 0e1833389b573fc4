//! A world that changes between two runs: `check --save S`, then the test DNS server's zone,
//! the TLS servers' certificates and versions, the firewall in front of the listeners and
//! the data file change, then `check --baseline S`. Every transition drift knows is there
//! once, each said the way it happened; a third run over an unchanged world reports none.
//!
//! Everything lives in a network namespace of the test's own, so that nftables can refuse,
//! drop and reject connections to the listeners on its loopback, as a firewall on the path
//! would.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Output;

use chrono::NaiveDate;
use serde_json::Value;

use super::stderr;
use crate::support::data;
use crate::support::dns::{DnsBuilder, DnsServer};
use crate::support::netns::{self, Netns};
use crate::support::pki::{Leaf, TestCa};
use crate::support::tls::TlsServer;
use crate::support::tools;

const AS_OF: &str = "2026-11-28";

/// The drift codes (README, "Findings").
const DRIFT: [&str; 12] = [
    "name-resolves",
    "name-stopped-resolving",
    "dns-outcome-changed",
    "address-added",
    "address-removed",
    "target-appeared",
    "target-vanished",
    "reachability-changed",
    "tls-trust-changed",
    "tls-downgraded",
    "tls-version-changed",
    "certificate-changed",
];

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The names the lab serves, each with the address DNS gives it and a TLS listener there.
const SERVED: [(&str, u8); 14] = [
    ("late", 31),
    ("moving", 32),
    ("moved", 33), // the second address of moving.egress.test
    ("leaving", 34),
    ("steady", 35),
    ("a", 41),
    ("b", 42),
    ("c", 43),
    ("d", 44),
    ("e", 51),
    ("f", 52),
    ("g", 53),
    ("h", 54),
    ("i", 55),
];

struct World {
    ns: Netns,
    dns: DnsServer,
    servers: Vec<(String, TlsServer)>,
    /// The certificates each server started with.
    leaves: Vec<(String, Leaf)>,
    public: TestCa,
    middlebox: TestCa,
    stranger: TestCa,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let ns = Netns::new();
        let public = TestCa::new("Egress Public Root CA");
        let middlebox = TestCa::new("Corporate Inspection CA");
        let stranger = TestCa::new("Nobody's CA");
        let mut servers = Vec::new();
        let mut leaves = Vec::new();
        for (label, last) in SERVED {
            let name = format!("{label}.egress.test");
            // `moved` serves moving.egress.test at its second address.
            let sni = if label == "moved" {
                "moving.egress.test".to_owned()
            } else {
                name.clone()
            };
            let leaf = issue(&public, &sni, "2026-01-01", "2031-01-01");
            let server = TlsServer::builder(leaf.clone())
                .bind(ip(last))
                .in_netns(&ns)
                .start();
            leaves.push((name.clone(), leaf));
            servers.push((name, server));
        }
        let dns = DnsServer::zone("egress.test").in_netns(&ns).start();
        World {
            ns,
            dns,
            servers,
            leaves,
            public,
            middlebox,
            stranger,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn server(&self, name: &str) -> &TlsServer {
        &self
            .servers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no server {name}"))
            .1
    }

    /// The certificate `name`'s server started with.
    fn leaf(&self, name: &str) -> Leaf {
        self.leaves
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, leaf)| leaf.clone())
            .unwrap_or_else(|| panic!("no leaf {name}"))
    }

    fn port(&self, name: &str) -> u16 {
        self.server(name).port()
    }

    /// The zone of the first run: `late` and `flaky` do not exist, `moving` is at .32,
    /// `leaving` at .34.
    fn first_zone(&self) -> DnsBuilder {
        self.common_zone(DnsServer::zone("egress.test"))
            .addr("moving.egress.test", ip(32), 60)
            .addr("leaving.egress.test", ip(34), 60)
    }

    /// The zone of the second run: `late` resolves, `leaving` is gone, `flaky` fails,
    /// `moving` moved to .33.
    fn second_zone(&self) -> DnsBuilder {
        self.common_zone(DnsServer::zone("egress.test"))
            .addr("late.egress.test", ip(31), 60)
            .addr("moving.egress.test", ip(33), 60)
            .servfail("flaky.egress.test")
    }

    fn common_zone(&self, zone: DnsBuilder) -> DnsBuilder {
        ["steady", "a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .fold(zone, |zone, label| {
                let last = SERVED.iter().find(|(l, _)| l == label).unwrap().1;
                zone.addr(&format!("{label}.egress.test"), ip(last), 60)
            })
    }

    /// The data file: every name an endpoint of its server's port; `steady` also documents
    /// `extra` (an address nothing listens on), which the second version changes.
    fn data(&self, file: &str, extra: u8) -> PathBuf {
        let mut text = data::header("Firewall openings");
        text.push_str(data::PROD_API);
        let mut add = |host: &str, port: u16, documented: &[u8]| {
            let addresses: Vec<IpAddr> = documented.iter().map(|last| ip(*last)).collect();
            text.push_str(&data::endpoint(host, &addresses, port));
        };
        for label in ["late", "leaving", "moving"] {
            let name = format!("{label}.egress.test");
            add(&name, self.port(&name), &[]);
        }
        add("flaky.egress.test", 443, &[]);
        add(
            "steady.egress.test",
            self.port("steady.egress.test"),
            &[35, extra],
        );
        for (label, last) in SERVED.iter().filter(|(l, _)| l.len() == 1) {
            let name = format!("{label}.egress.test");
            add(&name, self.port(&name), &[*last]);
        }
        let path = self.dir.path().join(format!("{file}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The firewall in front of the listeners: each (name, verdict) pair is a rule on the
    /// name's address and port.
    fn firewall(&self, verdicts: &[(&str, &str)]) {
        let mut rules = String::new();
        for (name, verdict) in verdicts {
            let server = self.server(name);
            rules.push_str(&format!(
                "    ip daddr {} tcp dport {} {verdict}\n",
                server.addr().ip(),
                server.port()
            ));
        }
        let _ = self
            .ns
            .run("nft", &["delete", "table", "inet", "egress_time"]);
        self.ns
            .load_nft(&format!(
                "table inet egress_time {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n{rules}  }}\n}}\n"
            ))
            .unwrap_or_else(|e| panic!("nft: {e}"));
    }

    /// `egresscheck --data DATA check … ARGS` inside the namespace, judged as of AS_OF.
    fn check(&self, data: &PathBuf, args: &[&str]) -> Output {
        self.ns
            .command(env!("CARGO_BIN_EXE_egresscheck"))
            .arg("--data")
            .arg(data)
            .args([
                "check",
                "--no-proxy",
                "--resolver",
                &self.dns.resolver_arg(),
                "--timeout",
                "1s",
                "--dns-timeout",
                "2s",
                "--as-of",
                AS_OF,
                "--format",
                "json",
            ])
            .arg("--ca-file")
            .arg(self.public.pem_file())
            // The middlebox's CA is in this machine's store only: the mark of interception.
            .env("SSL_CERT_FILE", self.middlebox.pem_file())
            .env_remove("SSL_CERT_DIR")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn issue(ca: &TestCa, name: &str, from: &str, to: &str) -> Leaf {
    ca.leaf(&[name]).validity(date(from), date(to)).issue()
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// The drift findings of a report: (code, host, address).
fn drift(report: &Value) -> BTreeSet<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| DRIFT.contains(&f["code"].as_str().unwrap()))
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["host"].as_str().unwrap().to_owned(),
                f["address"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn message<'a>(report: &'a Value, code: &str, host: &str) -> &'a str {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code && f["host"] == host)
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no {code} for {host}"))
}

impl World {
    /// The first world (see [`expected`] for what changes after it).
    fn first(&self) -> PathBuf {
        self.dns.set_zone(self.first_zone());
        let present = |name: &str, ca: &TestCa, to: &str| {
            TlsServer::builder(issue(ca, name, "2026-01-01", to))
        };
        self.server("e.egress.test")
            .present(present("e.egress.test", &self.public, "2031-01-01"));
        self.server("f.egress.test").present(present(
            "f.egress.test",
            &self.middlebox,
            "2031-01-01",
        ));
        self.server("h.egress.test")
            .present(present("h.egress.test", &self.public, "2027-01-01"));
        let i = self.leaf("i.egress.test");
        self.server("i.egress.test")
            .present(TlsServer::builder(i).tls12_only());
        self.firewall(&[
            ("b.egress.test", "reject with tcp reset"),
            ("c.egress.test", "drop"),
            ("d.egress.test", "reject with icmpx admin-prohibited"),
        ]);
        self.data("first", 36)
    }

    /// The second world: every transition of drift, once.
    fn second(&self) -> PathBuf {
        self.dns.set_zone(self.second_zone());
        let present = |name: &str, ca: &TestCa, from: &str, to: &str| {
            TlsServer::builder(issue(ca, name, from, to))
        };
        // Trusted → intercepted, intercepted → untrusted.
        self.server("e.egress.test").present(present(
            "e.egress.test",
            &self.middlebox,
            "2026-01-01",
            "2031-01-01",
        ));
        self.server("f.egress.test").present(present(
            "f.egress.test",
            &self.stranger,
            "2026-01-01",
            "2031-01-01",
        ));
        // TLS 1.3 → 1.2, and 1.2 → 1.3, each keeping its certificate.
        self.server("g.egress.test")
            .present(TlsServer::builder(self.leaf("g.egress.test")).tls12_only());
        self.server("i.egress.test")
            .present(TlsServer::builder(self.leaf("i.egress.test")));
        // Renewed by the same CA.
        self.server("h.egress.test").present(present(
            "h.egress.test",
            &self.public,
            "2026-11-01",
            "2027-12-01",
        ));
        // open → refused → filtered → unreachable → open.
        self.firewall(&[
            ("a.egress.test", "reject with tcp reset"),
            ("b.egress.test", "drop"),
            ("c.egress.test", "reject with icmpx admin-prohibited"),
        ]);
        self.data("second", 37)
    }
}

/// What the second run reports against the first: (code, host, address).
fn expected() -> BTreeSet<(String, String, String)> {
    [
        ("name-resolves", "late", ""),
        ("name-stopped-resolving", "leaving", ""),
        ("dns-outcome-changed", "flaky", ""),
        ("address-added", "moving", "127.0.0.33"),
        ("address-removed", "moving", "127.0.0.32"),
        ("target-vanished", "steady", "127.0.0.36"),
        ("target-appeared", "steady", "127.0.0.37"),
        ("reachability-changed", "a", "127.0.0.41"),
        ("reachability-changed", "b", "127.0.0.42"),
        ("reachability-changed", "c", "127.0.0.43"),
        ("reachability-changed", "d", "127.0.0.44"),
        ("tls-trust-changed", "e", "127.0.0.51"),
        ("certificate-changed", "e", "127.0.0.51"),
        ("tls-trust-changed", "f", "127.0.0.52"),
        ("certificate-changed", "f", "127.0.0.52"),
        ("tls-downgraded", "g", "127.0.0.53"),
        ("certificate-changed", "h", "127.0.0.54"),
        ("tls-version-changed", "i", "127.0.0.55"),
    ]
    .iter()
    .map(|(code, label, address)| {
        (
            (*code).to_owned(),
            format!("{label}.egress.test"),
            (*address).to_owned(),
        )
    })
    .collect()
}

#[test]
fn drift_reports_every_transition_of_a_changing_world_once() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let world = World::new();
    let state = world.path("state.json");

    let data = world.first();
    let first = world.check(&data, &["--baseline", &state, "--save", &state]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let first = report(&first);
    assert_eq!(first["baseline"]["state"], "not-yet");
    assert_eq!(drift(&first), BTreeSet::new());
    // The first world as intended.
    let state_of = |report: &Value, host: &str| -> String {
        let t = report["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["host"] == host)
            .unwrap_or_else(|| panic!("no target of {host}"));
        t["tcp"]["state"].as_str().unwrap().to_owned()
    };
    for (host, tcp) in [
        ("a.egress.test", "open"),
        ("b.egress.test", "refused"),
        ("c.egress.test", "filtered"),
        ("d.egress.test", "unreachable"),
    ] {
        assert_eq!(state_of(&first, host), tcp, "{host}");
    }

    let data = world.second();
    let second = world.check(&data, &["--baseline", &state, "--save", &state]);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let second = report(&second);
    assert_eq!(second["baseline"]["state"], "read");
    let found = drift(&second);
    let want = expected();
    assert_eq!(
        found,
        want,
        "missing: {:?}\nunexpected: {:?}",
        want.difference(&found).collect::<Vec<_>>(),
        found.difference(&want).collect::<Vec<_>>()
    );

    // Each says what it was and what it is now.
    for (code, host, words) in [
        (
            "name-resolves",
            "late.egress.test",
            &["127.0.0.31", "NXDOMAIN"][..],
        ),
        (
            "name-stopped-resolving",
            "leaving.egress.test",
            &["127.0.0.34", "NXDOMAIN"],
        ),
        (
            "dns-outcome-changed",
            "flaky.egress.test",
            &["NXDOMAIN in the baseline", "SERVFAIL now"],
        ),
        (
            "address-added",
            "moving.egress.test",
            &[
                "now resolves to 127.0.0.33",
                "then 127.0.0.32, now 127.0.0.33",
            ],
        ),
        (
            "address-removed",
            "moving.egress.test",
            &[
                "no longer resolves to 127.0.0.32",
                "then 127.0.0.32, now 127.0.0.33",
            ],
        ),
        (
            "reachability-changed",
            "a.egress.test",
            &["was open in the baseline, now refused"],
        ),
        (
            "reachability-changed",
            "b.egress.test",
            &["was refused in the baseline, now filtered"],
        ),
        (
            "reachability-changed",
            "c.egress.test",
            &["was filtered in the baseline, now unreachable"],
        ),
        (
            "reachability-changed",
            "d.egress.test",
            &["was unreachable in the baseline, now open"],
        ),
        (
            "tls-trust-changed",
            "e.egress.test",
            &[
                "was trusted in the baseline, now intercepted",
                "Corporate Inspection CA",
            ],
        ),
        (
            "tls-trust-changed",
            "f.egress.test",
            &["was intercepted in the baseline, now untrusted"],
        ),
        (
            "tls-downgraded",
            "g.egress.test",
            &["TLSv1.3 in the baseline, now TLSv1.2"],
        ),
        (
            "tls-version-changed",
            "i.egress.test",
            &["TLSv1.2 in the baseline, now TLSv1.3"],
        ),
        (
            "certificate-changed",
            "e.egress.test",
            &["Egress Public Root CA →", "Corporate Inspection CA"],
        ),
        (
            "certificate-changed",
            "f.egress.test",
            &["Corporate Inspection CA →"],
        ),
        (
            "certificate-changed",
            "h.egress.test",
            &["(unchanged)", "valid until 2027-01-01 → 2027-12-01"],
        ),
        (
            "target-appeared",
            "steady.egress.test",
            &["127.0.0.37", "not in the baseline"],
        ),
        (
            "target-vanished",
            "steady.egress.test",
            &["127.0.0.36", "not now"],
        ),
    ] {
        let text = message(&second, code, host);
        for word in words {
            assert!(
                text.contains(word),
                "{code} {host}: {word:?} not in {text:?}"
            );
        }
    }

    // The world stays as it is: the next run reports no drift.
    let third = world.check(&data, &["--baseline", &state, "--save", &state]);
    assert_eq!(third.status.code(), Some(1), "{}", stderr(&third));
    assert_eq!(drift(&report(&third)), BTreeSet::new());
}
