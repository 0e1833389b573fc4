//! IPv6 broken but preferred: a dual-stack name whose IPv6 listener is missing while IPv4
//! answers is `ipv6-broken`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Lab, Site, assert_every_format_with_verdict, codes, findings, leaf};
use crate::support::pki::TestCa;
use crate::support::tls::TlsServer;

const NAME: &str = "dual.egress.test";

/// A TLS server on 127.0.20.1 and, on [::1] with the same port, another (`v6_up`) or
/// nothing (a bound socket that never listens holds the port, so every connect is refused).
fn dual_stack(ca: &TestCa, v6_up: bool) -> (TlsServer, Vec<Box<dyn std::any::Any>>) {
    let v4 = TlsServer::builder(leaf(ca, NAME))
        .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 20, 1)))
        .start();
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), v4.port());
    let held: Box<dyn std::any::Any> = if v6_up {
        Box::new(
            TlsServer::builder(leaf(ca, NAME))
                .bind(v6.ip())
                .port(v6.port())
                .start(),
        )
    } else {
        let reserved = tokio::net::TcpSocket::new_v6().unwrap();
        reserved.bind(v6).unwrap();
        Box::new(reserved)
    };
    (v4, vec![held])
}

fn lab(ca: TestCa, server: &TlsServer) -> Lab {
    Lab::with_more_addresses(
        ca,
        &[Site::at(NAME, server.addr())],
        &[(NAME, IpAddr::V6(Ipv6Addr::LOCALHOST))],
    )
}

#[test]
fn a_dual_stack_name_whose_ipv6_fails_while_ipv4_works_is_ipv6_broken() {
    let ca = TestCa::new("Egress Public Root CA");
    let (server, _held) = dual_stack(&ca, false);
    let lab = lab(ca, &server);
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "the IPv6 target itself is refused: {report}");
    assert_eq!(codes(&report), vec!["ipv6-broken", "refused"], "{report}");
    let broken = findings(&report, "ipv6-broken")[0];
    assert_eq!(broken["severity"], "warn");
    assert_eq!(broken["address"], serde_json::Value::Null, "one per name");
    let text = broken["message"].as_str().unwrap();
    for part in ["(::1)", "while IPv4 does", "prefer IPv6", "gai.conf"] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert_every_format_with_verdict(&lab, &[], "ipv6-broken", "warn", "while IPv4 does", "fail");
    // Asked for IPv4 only, there is nothing to compare.
    let (exit, report) = lab.json(&["--family", "4"]);
    assert_eq!(exit, 0, "{report}");
    assert!(codes(&report).is_empty(), "{report}");
}

#[test]
fn a_dual_stack_name_that_answers_on_both_families_is_not() {
    let ca = TestCa::new("Egress Public Root CA");
    let (server, _held) = dual_stack(&ca, true);
    let lab = lab(ca, &server);
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 0, "{report}");
    assert!(codes(&report).is_empty(), "{report}");
}
