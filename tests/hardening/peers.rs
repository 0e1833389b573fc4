//! Hostile peers seen by `check` rather than `probe`: what the probe bounds must reach the
//! report as a finding a person can act on.

use std::net::{IpAddr, Ipv4Addr};

use crate::support::dns::DnsServer;
use crate::support::rss;
use crate::support::tcp::ClosedPort;
use crate::support::tools;

use super::egresscheck;

/// A name with 1,000 A records: 32 are probed (the default cap), the rest recorded, and the
/// cap is reported as `addresses-capped`, in bounded time and memory.
#[test]
fn a_thousand_a_records_are_capped_and_reported_by_check() {
    tools::require(&["time"]);
    let closed = ClosedPort::on(IpAddr::V4(Ipv4Addr::new(127, 1, 0, 1)));
    let port = closed.addr().port();
    let addresses =
        (0..1000u32).map(|i| Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8));
    let dns = DnsServer::zone("egress.test")
        .a_many("many.egress.test", addresses, 60)
        .start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.toml");
    // The whole /16 is documented, so the only finding about the answer is the cap.
    let text = super::data_file(&[super::Endpoint {
        host: "many.egress.test",
        address: None,
        port,
    }])
    .replace(
        "host = \"many.egress.test\"\n",
        "host = \"many.egress.test\"\nipv4 = [\"127.1.0.0/16\"]\n",
    );
    std::fs::write(&data, text).unwrap();
    let started = std::time::Instant::now();
    let measured = rss::run(egresscheck().arg("--data").arg(&data).args([
        "check",
        "--no-proxy",
        "--family",
        "4",
        "--timeout",
        "2s",
        "--resolver",
        &dns.resolver_arg(),
        "--format",
        "json",
    ]));
    assert!(started.elapsed().as_secs() < 60, "ends, does not hang");
    measured.assert_peak_below_mib(crate::probe::HOSTILE_RSS_MIB, "check, 1,000 A records");
    let out = measured.output;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let findings = report["findings"].as_array().unwrap();
    let capped: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["code"] == "addresses-capped")
        .collect();
    assert_eq!(capped.len(), 1, "{findings:?}");
    assert_eq!(capped[0]["severity"], "warn");
    assert_eq!(capped[0]["host"], "many.egress.test");
    let message = capped[0]["message"].as_str().unwrap();
    assert!(message.contains("968 more addresses"), "{message}");
    let probed = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["host"] == "many.egress.test")
        .count();
    assert_eq!(probed, 32, "the default cap");
    assert!(
        findings.iter().all(|f| f["code"] != "undocumented-address"),
        "{findings:?}"
    );
}
