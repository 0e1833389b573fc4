//! The scheduled job as the contrib files run it, `check --baseline X --save X --format
//! prometheus --output M`, through a DNS outage and back: no run exits 2, every run writes its
//! metrics and its state, the outage is drift (and a failure), and once DNS is back the run
//! is clean.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::{read_json, stderr};
use crate::support::data::{Endpoint, data_file};
use crate::support::dns::DnsServer;
use crate::support::netns::{self, Netns};
use crate::support::pki::TestCa;
use crate::support::tls::TlsServer;
use crate::support::tools;

const NAMES: [(&str, u8); 2] = [("one.egress.test", 61), ("two.egress.test", 62)];

#[test]
fn a_scheduled_run_goes_through_a_dns_outage_and_back_without_getting_stuck() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let ns = Netns::new();
    let ca = TestCa::new("Egress Schedule Root CA");
    let mut zone = DnsServer::zone("egress.test").in_netns(&ns);
    let mut servers = Vec::new();
    for (name, last) in NAMES {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
        zone = zone.addr(name, ip, 60);
        servers.push(
            TlsServer::builder(ca.valid(&[name]))
                .bind(ip)
                .in_netns(&ns)
                .start(),
        );
    }
    let dns = zone.start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.toml");
    let endpoints: Vec<Endpoint<'_>> = NAMES
        .iter()
        .zip(&servers)
        .map(|((name, last), server)| Endpoint {
            host: name,
            address: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, *last))),
            port: server.port(),
        })
        .collect();
    std::fs::write(&data, data_file(&endpoints)).unwrap();
    let state = dir.path().join("report.json");
    let metrics = dir.path().join("egresscheck.prom");

    let run = || -> (Output, String, Value) {
        let _ = std::fs::remove_file(&metrics);
        let out = ns
            .command(env!("CARGO_BIN_EXE_egresscheck"))
            .arg("--data")
            .arg(&data)
            .args([
                "check",
                "--no-proxy",
                "--resolver",
                &dns.resolver_arg(),
                "--dns-timeout",
                "1s",
                "--timeout",
                "1s",
                "--format",
                "prometheus",
            ])
            .arg("--ca-file")
            .arg(ca.pem_file())
            .arg("--baseline")
            .arg(&state)
            .arg("--save")
            .arg(&state)
            .arg("--output")
            .arg(&metrics)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(2), "never exit 2: {}", stderr(&out));
        let text = std::fs::read_to_string(&metrics)
            .unwrap_or_else(|e| panic!("every run writes its metrics ({e}): {}", stderr(&out)));
        (out, text, read_json(&state))
    };
    let codes = crate::blocking::codes;

    // The first run of the schedule.
    let (out, text, report) = run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text.contains("egresscheck_check_success 1"), "{text}");
    assert_eq!(report["baseline"]["state"], "not-yet");

    // The resolver goes silent: every question dropped.
    ns.load_nft(&format!(
        "table inet outage {{\n  chain input {{\n    type filter hook input priority 0;\n    udp dport {port} drop\n    tcp dport {port} drop\n  }}\n}}\n",
        port = dns.addr().port()
    ))
    .unwrap();
    let (out, text, report) = run();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failure, not an error: {}",
        stderr(&out)
    );
    assert!(text.contains("egresscheck_check_success 0"), "{text}");
    assert_eq!(report["baseline"]["state"], "read");
    assert_eq!(
        codes(&report),
        [
            "dns-failure",
            "dns-failure",
            "name-stopped-resolving",
            "name-stopped-resolving"
        ],
        "{}",
        report["findings"]
    );
    // The documented addresses were still probed: they answered.
    assert!(
        text.contains(&format!(
            "egresscheck_target_up{{environment=\"prod\",service=\"api\",host=\"one.egress.test\",address=\"127.0.0.61\",port=\"{}\"}} 1",
            servers[0].port()
        )),
        "{text}"
    );

    // DNS is back: the run is clean, and says what came back.
    ns.run("nft", &["delete", "table", "inet", "outage"]);
    let (out, text, report) = run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text.contains("egresscheck_check_success 1"), "{text}");
    assert_eq!(report["verdict"], "pass");
    assert_eq!(codes(&report), ["name-resolves", "name-resolves"]);
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["severity"], "info", "{f}");
        assert!(f["message"].as_str().unwrap().contains("timeout"), "{f}");
    }

    // And stays so.
    let (out, _, report) = run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(codes(&report), Vec::<String>::new());
    assert!(Path::new(&state).exists());
}
