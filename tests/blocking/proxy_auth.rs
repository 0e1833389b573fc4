//! Proxy authentication: a 407 reports the schemes the proxy offers and says what to do;
//! Basic is spoken (credentials in the proxy URL), Negotiate and NTLM are detected, not
//! spoken.

use std::net::{IpAddr, Ipv4Addr};

use super::{Lab, Site, assert_every_format, codes, findings, leaf, targets};
use crate::support::pki::TestCa;
use crate::support::proxy::{ProxyMode, ProxyServer};
use crate::support::tls::TlsServer;

const NAME: &str = "api.egress.test";

/// A lab for the server at `server`, checked through the proxy at `url`.
fn lab_behind(url: String, server: &TlsServer, ca: TestCa) -> Lab {
    let mut lab = Lab::new(ca, &[Site::at(NAME, server.addr())]);
    lab.proxy = Some(url);
    lab
}

fn server(ca: &TestCa, last: u8) -> TlsServer {
    TlsServer::builder(leaf(ca, NAME))
        .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 21, last)))
        .start()
}

fn answering_407(challenges: &[&str]) -> ProxyServer {
    let mut answer = String::from("HTTP/1.1 407 Proxy Authentication Required\r\n");
    for challenge in challenges {
        answer.push_str(&format!("Proxy-Authenticate: {challenge}\r\n"));
    }
    answer.push_str("Content-Length: 0\r\n\r\n");
    ProxyServer::builder(ProxyMode::Raw(answer.into_bytes(), 0)).start()
}

fn proxy_message(report: &serde_json::Value) -> String {
    findings(report, "proxy-denied")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn each_scheme_a_407_offers_is_reported_with_what_to_do() {
    let ca = TestCa::new("Egress Public Root CA");
    let target = server(&ca, 1);
    for (challenges, schemes, advice) in [
        (
            &["Basic realm=\"corp\""][..],
            &["Basic"][..],
            "give Basic credentials in --proxy http://user:pass@host:port",
        ),
        (
            &["Negotiate"][..],
            &["Negotiate"][..],
            "egresscheck detects Negotiate but does not speak it",
        ),
        (
            &["NTLM"][..],
            &["NTLM"][..],
            "egresscheck detects NTLM but does not speak it",
        ),
        (
            &["Negotiate", "NTLM"][..],
            &["Negotiate", "NTLM"][..],
            "cntlm, px",
        ),
    ] {
        let proxy = answering_407(challenges);
        let lab = lab_behind(proxy.url(), &target, TestCa::new("Egress Public Root CA"));
        let (exit, report) = lab.json(&[]);
        assert_eq!(exit, 1, "{report}");
        assert_eq!(codes(&report), vec!["proxy-denied"], "{report}");
        let tcp = &targets(&report, NAME)[0]["tcp"];
        assert_eq!(tcp["state"], "proxy-auth-required", "{tcp}");
        assert_eq!(tcp["proxy_auth"], serde_json::json!(schemes), "{tcp}");
        let message = proxy_message(&report);
        assert!(
            message.contains(&format!("asks for {}", schemes.join(", "))),
            "{message}"
        );
        assert!(message.contains(advice), "{advice:?} not in {message}");
        // Each scheme in every format.
        let offered = format!("asks for {}", schemes.join(", "));
        assert_every_format(&lab, &[], "proxy-denied", "fail", &offered);
        if challenges.len() == 2 {
            assert_every_format(&lab, &[], "proxy-denied", "fail", "does not speak it");
        }
    }
}

#[test]
fn basic_credentials_in_the_proxy_url_are_spoken() {
    let ca = TestCa::new("Egress Public Root CA");
    let target = server(&ca, 11);
    let dns_for_proxy = crate::support::dns::DnsServer::zone("egress.test")
        .addr(NAME, target.addr().ip(), 60)
        .start();
    let proxy = ProxyServer::require_auth("alice", "s3cret")
        .resolve_with(&dns_for_proxy)
        .start();
    // Wrong password: refused, and the report says the credentials were sent.
    let lab = lab_behind(proxy.url_with("alice", "Wr0ng-pass"), &target, ca);
    let (_, report) = lab.json(&[]);
    let message = proxy_message(&report);
    assert!(message.contains("asks for Basic"), "{message}");
    let tcp = &targets(&report, NAME)[0]["tcp"];
    assert!(
        tcp["message"]
            .as_str()
            .unwrap()
            .contains("the Basic credentials of the proxy URL were sent and refused"),
        "{tcp}"
    );
    assert!(
        !report.to_string().contains("Wr0ng-pass"),
        "the password appears nowhere: {report}"
    );
    // The right ones: through.
    let mut lab = lab;
    lab.proxy = Some(proxy.url_with("alice", "s3cret"));
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 0, "{report}");
    assert_eq!(targets(&report, NAME)[0]["tls"]["ok"], true);
}
