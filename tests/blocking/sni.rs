//! SNI filtering detected: an SNI-reading relay in front of a TLS server drops or resets
//! ClientHellos for blocked names and passes other names and the control; the probe's
//! control handshakes tell that (`sni-filtered`) from a path that blocks TLS whatever the
//! name (`tls-failure`), and a reset from silence.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::Value;

use super::{Lab, Site, assert_every_format, codes, findings, leaf, targets};
use crate::support::pki::TestCa;
use crate::support::sni::{Block, SniRelay};
use crate::support::tcp::BlackHole;
use crate::support::tls::TlsServer;

const NAME: &str = "filtered.egress.test";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 18, last))
}

/// A TLS server for [`NAME`] behind a relay that answers blocked names with `block`.
fn filtered(ca: &TestCa, last: u8, block: Block, blocked: &[&str]) -> (TlsServer, SniRelay) {
    let server = TlsServer::builder(leaf(ca, NAME)).bind(ip(last)).start();
    let mut relay = SniRelay::builder(server.addr(), block).bind(ip(last + 1));
    for name in blocked {
        relay = relay.block(name);
    }
    (server, relay.start())
}

fn lab(ca: TestCa, relay_addr: std::net::SocketAddr) -> Lab {
    Lab::new(ca, &[Site::at(NAME, relay_addr)])
}

fn target(report: &Value) -> &Value {
    targets(report, NAME)[0]
}

fn message(report: &Value, code: &str) -> String {
    findings(report, code)[0]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_name_dropped_by_its_sni_is_sni_filtered_in_every_format() {
    let ca = TestCa::new("Egress Public Root CA");
    let (_server, relay) = filtered(&ca, 1, Block::Drop, &[NAME]);
    let lab = lab(ca, relay.addr());
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "{report}");
    assert_eq!(codes(&report), vec!["sni-filtered"], "{report}");
    let text = message(&report, "sni-filtered");
    for part in [
        "a device on the path blocks TLS to filtered.egress.test by its SNI",
        "got no answer, as if silently dropped",
        "answered a ClientHello without SNI with a ServerHello",
        "FQDN/SNI allow rule for filtered.egress.test",
        "not an IP rule",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    let target = target(&report);
    assert_eq!(target["tls"]["failure"], "timeout");
    assert_eq!(target["tls"]["server_bytes"], 0);
    assert_eq!(target["tls"]["reset"], false);
    let control = target["control"].as_array().expect("control handshakes");
    let sni: Vec<&Value> = control.iter().map(|c| &c["sni"]).collect();
    assert_eq!(sni, vec![&Value::Null, &Value::from("example.com")]);
    assert!(
        control.iter().all(|c| c["server_hello"] == true),
        "{control:?}"
    );
    // The relay saw the name, then both controls; the controls went out alongside the
    // silent handshake (a quarter of its 2 s timeout after it), not after its timeout.
    let seen = relay.wait_for_connections(3);
    let real = seen
        .iter()
        .find(|r| r.sni.as_deref() == Some(NAME))
        .unwrap();
    assert!(real.blocked);
    for control in seen.iter().filter(|r| r.sni.as_deref() != Some(NAME)) {
        assert!(!control.blocked, "{control:?}");
        let after = control.accepted.duration_since(real.accepted);
        assert!(
            after < Duration::from_millis(1500),
            "controls start alongside, not after the 2 s timeout: {after:?}"
        );
    }
    assert_every_format(&lab, &[], "sni-filtered", "fail", "by its SNI");
}

#[test]
fn a_name_reset_by_its_sni_is_told_from_silence() {
    let ca = TestCa::new("Egress Public Root CA");
    let (_server, relay) = filtered(&ca, 11, Block::Reset, &[NAME]);
    let lab = lab(ca, relay.addr());
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "{report}");
    assert_eq!(codes(&report), vec!["sni-filtered"], "{report}");
    let text = message(&report, "sni-filtered");
    assert!(
        text.contains("was reset right after it was sent, an active block (a TCP reset)"),
        "{text}"
    );
    let tls = &target(&report)["tls"];
    assert_eq!(tls["reset"], true, "{tls}");
    assert_eq!(tls["server_bytes"], 0);
    assert_eq!(tls["failure"], "closed");
}

#[test]
fn a_name_the_filter_passes_needs_no_control() {
    let ca = TestCa::new("Egress Public Root CA");
    let (_server, relay) = filtered(&ca, 21, Block::Reset, &["other.egress.test"]);
    let lab = lab(ca, relay.addr());
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 0, "{report}");
    assert!(codes(&report).is_empty(), "{report}");
    assert!(target(&report).get("control").is_none(), "{report}");
    assert_eq!(relay.wait_for_connections(1).len(), 1);
}

#[test]
fn a_block_whatever_the_name_stays_tls_failure_and_says_how() {
    let ca = TestCa::new("Egress Public Root CA");
    // Silence for every ClientHello: a black hole behind TCP.
    let hole = BlackHole::builder().bind(ip(31)).black_hole();
    let lab_silent = lab(TestCa::new("Egress Public Root CA"), hole.addr());
    let (exit, report) = lab_silent.json(&[]);
    assert_eq!(exit, 1, "{report}");
    assert_eq!(codes(&report), vec!["tls-failure"], "{report}");
    let text = message(&report, "tls-failure");
    for part in [
        "the ClientHello got no answer: something on the path drops it silently",
        "failed a ClientHello without SNI and a ClientHello for example.com as well",
        "whatever the name, not by SNI",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert_eq!(hole.wait_for_accepted(3), 3, "the target and two controls");
    assert_every_format(
        &lab_silent,
        &[],
        "tls-failure",
        "fail",
        "the ClientHello got no answer",
    );
    // A reset for every ClientHello, with SNI or without.
    let server = TlsServer::builder(leaf(&ca, NAME)).bind(ip(32)).start();
    let relay = SniRelay::builder(server.addr(), Block::Reset)
        .block_all()
        .bind(ip(33))
        .start();
    let lab_reset = lab(ca, relay.addr());
    let (_, report) = lab_reset.json(&[]);
    assert_eq!(codes(&report), vec!["tls-failure"], "{report}");
    let text = message(&report, "tls-failure");
    assert!(
        text.contains("reset right after the ClientHello: something on the path refuses TLS to this address actively"),
        "{text}"
    );
    assert!(text.contains("as well"), "{text}");
    assert_every_format(&lab_reset, &[], "tls-failure", "fail", "actively");
}

#[test]
fn controls_follow_their_flags() {
    let ca = TestCa::new("Egress Public Root CA");
    let (_server, relay) = filtered(&ca, 41, Block::Reset, &[NAME]);
    let lab = lab(ca, relay.addr());
    // Off: no control, and the finding cannot say more than tls-failure.
    let (_, report) = lab.json(&["--no-control"]);
    assert_eq!(codes(&report), vec!["tls-failure"], "{report}");
    assert!(target(&report).get("control").is_none());
    assert_eq!(relay.wait_for_connections(1).len(), 1);
    // A control name of one's own.
    let (_, report) = lab.json(&["--control-sni", "control.egress.test"]);
    assert_eq!(codes(&report), vec!["sni-filtered"], "{report}");
    let control = target(&report)["control"].as_array().unwrap().clone();
    assert_eq!(control[1]["sni"], "control.egress.test");
    let out = lab
        .command(&["--no-control", "--control-sni", "x.egress.test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "conflicting flags");
}

#[test]
fn probe_says_what_the_controls_found() {
    let ca = TestCa::new("Egress Public Root CA");
    let (_server, relay) = filtered(&ca, 51, Block::Reset, &[NAME]);
    let dns = crate::support::dns::DnsServer::zone("egress.test")
        .addr(NAME, relay.addr().ip(), 60)
        .start();
    let target = format!("{NAME}:{}", relay.addr().port());
    let (code, table, _) = crate::probe::run_text(
        crate::probe::probe_table(&dns, &[&target])
            .args(["--family", "4", "--timeout", "2s", "--ca-file"])
            .arg(ca.pem_file()),
    );
    assert_eq!(code, 1, "{table}");
    assert!(
        table.contains("the same address answered a ClientHello without SNI with a ServerHello: a device on the path blocks TLS to filtered.egress.test by its SNI"),
        "{table}"
    );
}
