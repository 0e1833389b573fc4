//! The library's one-request path (`probe::fetch_blocking`), which `egresscheck token` uses:
//! the same DNS, proxy, TLS and HTTP steps as `check`, the answer handed back, bounded, and a
//! secret request sent only over a trusted connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use egresscheck::catalog::{DnsName, Port};
use egresscheck::probe::http::HttpRequest;
use egresscheck::probe::model::{AddressOrigin, Family, HttpFailure, TcpState};
use egresscheck::probe::options::ProbeOptions;
use egresscheck::probe::proxy::ProxyConfig;
use egresscheck::probe::{FetchRequest, SendPolicy, fetch_blocking};

use super::leaf;
use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;
use crate::support::proxy::ProxyServer;
use crate::support::tls::{HttpAnswer, TlsServer};

const TOKEN_JSON: &str = r#"{"access_token":"t0k3n","token_type":"Bearer","expires_in":119}"#;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 16, last))
}

fn options(dns: &DnsServer, ca: Option<&TestCa>) -> ProbeOptions {
    ProbeOptions {
        resolvers: vec![dns.addr()],
        ca_files: ca.map(|ca| vec![ca.pem_file()]).unwrap_or_default(),
        family: Family::V4,
        connect_timeout: std::time::Duration::from_secs(2),
        handshake_timeout: std::time::Duration::from_secs(2),
        ..ProbeOptions::default()
    }
}

fn token_request(name: &str, port: u16, policy: SendPolicy) -> FetchRequest {
    FetchRequest {
        name: DnsName::parse(name).unwrap(),
        port: Port::try_from(port).unwrap(),
        http: HttpRequest::post(
            "/token",
            "application/x-www-form-urlencoded",
            b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=abc"
                .to_vec(),
        )
        .unwrap()
        .with_header("accept", "application/json")
        .unwrap(),
        policy,
    }
}

#[test]
fn a_post_goes_out_once_and_its_answer_comes_back() {
    let ca = TestCa::new("Egress Public Root CA");
    let server = TlsServer::builder(leaf(&ca, "auth.egress.test"))
        .bind(ip(1))
        .http(HttpAnswer::json(TOKEN_JSON))
        .start();
    // The first address refuses on the server's port; the second answers.
    let refusing = std::net::TcpListener::bind(SocketAddr::new(ip(2), server.port())).map(drop);
    refusing.unwrap();
    let dns = DnsServer::zone("egress.test")
        .a("auth.egress.test", Ipv4Addr::new(127, 0, 16, 2), 60)
        .a("auth.egress.test", Ipv4Addr::new(127, 0, 16, 1), 60)
        .start();
    let request = token_request("auth.egress.test", server.port(), SendPolicy::Trusted);
    let fetched = fetch_blocking(&request, &options(&dns, Some(&ca))).unwrap();
    let response = fetched.response.expect("an answer");
    assert_eq!(response.status, 200);
    assert_eq!(&response.body[..], TOKEN_JSON.as_bytes());
    assert!(!response.body_truncated);
    assert_eq!(
        response.headers.get("content-type").unwrap(),
        "application/json"
    );
    let observation = &fetched.observation;
    assert!(observation.dns.is_some());
    let tried: Vec<(Option<IpAddr>, TcpState)> = observation
        .targets
        .iter()
        .map(|t| (t.address, t.tcp.state))
        .collect();
    assert_eq!(
        tried,
        vec![
            (Some(ip(2)), TcpState::Refused),
            (Some(ip(1)), TcpState::Open)
        ],
        "addresses in order, until one answers"
    );
    let last = observation.targets.last().unwrap();
    assert!(last.tls.as_ref().unwrap().trusted_public);
    assert_eq!(last.http.as_ref().unwrap().status, Some(200));
    assert_eq!(last.http.as_ref().unwrap().method, "POST");
    // The server saw exactly one request: the form, as sent.
    let seen = server.wait_for_connections(1);
    assert_eq!(seen.len(), 1);
    let http = seen[0].http.clone().unwrap();
    assert_eq!(http.request_line, "POST /token HTTP/1.1");
    assert_eq!(
        http.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(http.header("accept").as_deref(), Some("application/json"));
    assert!(http.body.starts_with(b"grant_type=urn%3Aietf"));
}

#[test]
fn a_secret_request_is_not_sent_over_an_untrusted_connection() {
    let ca = TestCa::new("Egress Public Root CA");
    let server = TlsServer::builder(leaf(&ca, "auth.egress.test"))
        .bind(ip(11))
        .http(HttpAnswer::json(TOKEN_JSON))
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("auth.egress.test", ip(11), 60)
        .start();
    // Without --ca-file the test CA is trusted by nothing.
    let request = token_request("auth.egress.test", server.port(), SendPolicy::Trusted);
    let fetched = fetch_blocking(&request, &options(&dns, None)).unwrap();
    assert!(fetched.response.is_none());
    let target = &fetched.observation.targets[0];
    assert!(!target.tls.as_ref().unwrap().trusted_public);
    let http = target.http.as_ref().unwrap();
    assert_eq!(http.failure, Some(HttpFailure::NotSent));
    assert!(
        http.error.as_deref().unwrap().contains("not trusted"),
        "{http:?}"
    );
    assert_eq!(
        server.wait_for_connections(1)[0].http,
        None,
        "nothing reached the server"
    );
    // A request that carries nothing secret goes anyway, and says what answered.
    let request = token_request("auth.egress.test", server.port(), SendPolicy::Always);
    let fetched = fetch_blocking(&request, &options(&dns, None)).unwrap();
    assert_eq!(fetched.response.unwrap().status, 200);
}

#[test]
fn through_a_proxy_the_proxy_resolves_and_tunnels() {
    let ca = TestCa::new("Egress Public Root CA");
    let server = TlsServer::builder(leaf(&ca, "auth.egress.test"))
        .bind(ip(21))
        .http(HttpAnswer::json(TOKEN_JSON))
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("auth.egress.test", ip(21), 60)
        .start();
    let proxy = ProxyServer::allow().resolve_with(&dns).start();
    let options = ProbeOptions {
        proxy: Some(ProxyConfig::parse(&proxy.url()).unwrap()),
        ..options(&dns, Some(&ca))
    };
    let request = token_request("auth.egress.test", server.port(), SendPolicy::Trusted);
    let fetched = fetch_blocking(&request, &options).unwrap();
    assert_eq!(fetched.response.unwrap().status, 200);
    assert!(fetched.observation.dns.is_none(), "the proxy resolves");
    let target = &fetched.observation.targets[0];
    assert_eq!(target.origin, AddressOrigin::Proxy);
    assert_eq!(target.tcp.proxy_status, Some(200));
    let connects = proxy.wait_for_requests(1);
    assert_eq!(
        connects[0].authority,
        format!("auth.egress.test:{}", server.port())
    );
}
