//! The CONNECT proxy tunnels, refuses and misbehaves in each of its modes, and records what
//! it was asked.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;
use crate::support::proxy::{ProxyMode, ProxyServer, base64};
use crate::support::tls::TlsServer;

const NAME: &str = "api.egress.test";
const WAIT: Duration = Duration::from_secs(10);

/// Sends a CONNECT (with extra header lines) and returns the stream and the response head.
fn connect_via(proxy: SocketAddr, authority: &str, extra: &str) -> (TcpStream, String) {
    let mut conn = TcpStream::connect(proxy).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        conn,
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{extra}\r\n"
    )
    .unwrap();
    let head = read_head(&mut conn).unwrap();
    (conn, head)
}

fn read_head(conn: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8(head).unwrap())
}

fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A TLS handshake for NAME over an established tunnel, trusting `ca`.
fn tls_over(conn: TcpStream, ca: &TestCa) -> Result<(), rustls::Error> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(ca.root_store())
    .with_no_client_auth();
    let name = ServerName::try_from(NAME).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(config), name)?;
    let mut conn = conn;
    while client.is_handshaking() {
        client
            .complete_io(&mut conn)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
    }
    Ok(())
}

#[test]
fn allow_tunnels_to_names_from_the_test_dns_or_a_map() {
    let ca = TestCa::new("Egress Test Root CA");
    let tls = TlsServer::start(ca.valid(&[NAME]));
    let dns = DnsServer::zone("egress.test")
        .a(NAME, Ipv4Addr::LOCALHOST, 60)
        .start();
    let via_dns = ProxyServer::allow().resolve_with(&dns).start();
    let via_map = ProxyServer::allow()
        .map(NAME, IpAddr::V4(Ipv4Addr::LOCALHOST))
        .bind(IpAddr::V6(Ipv6Addr::LOCALHOST))
        .start();
    for proxy in [&via_dns, &via_map] {
        let authority = format!("{NAME}:{}", tls.port());
        let (conn, head) = connect_via(proxy.addr(), &authority, "");
        assert_eq!(status(&head), 200, "{head}");
        tls_over(conn, &ca).unwrap();
        let requests = proxy.wait_for_requests(1);
        assert_eq!(requests[0].method, "CONNECT");
        assert_eq!(requests[0].authority, authority);
        assert_eq!(requests[0].status, Some(200));
        assert!(!requests[0].auth_present());
    }
    assert!(
        !dns.queries_for(NAME).is_empty(),
        "the proxy resolved with the test DNS"
    );
    assert!(via_map.url().starts_with("http://[::1]:"));
    assert_eq!(
        tls.wait_for_connections(2)[1].sni.as_deref(),
        Some(NAME),
        "SNI passes through"
    );
}

#[test]
fn allow_answers_502_for_unknown_unreachable_and_off_machine_targets() {
    let dns = DnsServer::zone("egress.test").start();
    let closed = crate::support::tcp::ClosedPort::new();
    let proxy = ProxyServer::allow()
        .resolve_with(&dns)
        .map("far.egress.test", IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)))
        .start();
    for authority in [
        "nope.egress.test:443".to_string(),
        format!("{}", closed.addr()),
        "far.egress.test:443".to_string(),
        "not-an-authority".to_string(),
    ] {
        let (_, head) = connect_via(proxy.addr(), &authority, "");
        assert_eq!(status(&head), 502, "{authority}: {head}");
    }
}

#[test]
fn deny_and_upstream_failures_answer_their_status_and_close() {
    for (mode, code) in [
        (ProxyMode::Deny, 403),
        (ProxyMode::Status(502), 502),
        (ProxyMode::Status(503), 503),
    ] {
        let proxy = ProxyServer::builder(mode).start();
        let (mut conn, head) = connect_via(proxy.addr(), "api.egress.test:443", "");
        assert_eq!(status(&head), code, "{head}");
        let mut body = String::new();
        conn.read_to_string(&mut body).unwrap();
        assert!(
            body.contains(&code.to_string()),
            "a short body, then the proxy closes: {body}"
        );
        assert_eq!(proxy.wait_for_requests(1)[0].status, Some(code));
    }
}

#[test]
fn require_auth_wants_the_right_basic_credentials() {
    let ca = TestCa::new("Egress Test Root CA");
    let tls = TlsServer::start(ca.valid(&[NAME]));
    let proxy = ProxyServer::require_auth("egress", "s3cret")
        .map(NAME, IpAddr::V4(Ipv4Addr::LOCALHOST))
        .start();
    let authority = format!("{NAME}:{}", tls.port());

    let (_, head) = connect_via(proxy.addr(), &authority, "");
    assert_eq!(status(&head), 407);
    assert!(head.contains("Proxy-Authenticate: Basic"), "{head}");
    let wrong = format!("Proxy-Authorization: Basic {}\r\n", base64(b"egress:wrong"));
    assert_eq!(
        status(&connect_via(proxy.addr(), &authority, &wrong).1),
        407
    );
    let right = format!(
        "proxy-authorization: Basic {}\r\n",
        base64(b"egress:s3cret")
    );
    let (conn, head) = connect_via(proxy.addr(), &authority, &right);
    assert_eq!(status(&head), 200);
    tls_over(conn, &ca).unwrap();

    let requests = proxy.wait_for_requests(3);
    let seen: Vec<(bool, Option<u16>)> = requests
        .iter()
        .map(|r| (r.auth_present(), r.status))
        .collect();
    assert_eq!(
        seen,
        [(false, Some(407)), (true, Some(407)), (true, Some(200))]
    );
    assert_eq!(
        requests[2].proxy_authorization.as_deref(),
        Some("Basic ZWdyZXNzOnMzY3JldA==")
    );
    assert_eq!(
        proxy.url_with("egress", "s3cret"),
        format!("http://egress:s3cret@{}", proxy.addr())
    );
}

#[test]
fn silent_proxy_reads_the_request_and_never_answers() {
    let proxy = ProxyServer::builder(ProxyMode::Silent).start();
    let mut conn = TcpStream::connect(proxy.addr()).unwrap();
    conn.write_all(b"CONNECT api.egress.test:443 HTTP/1.1\r\n\r\n")
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1];
    let kind = conn.read(&mut buf).unwrap_err().kind();
    assert!(
        matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{kind:?}"
    );
    let requests = proxy.wait_for_requests(1);
    assert_eq!(requests[0].authority, "api.egress.test:443");
    assert_eq!(requests[0].status, None);
}

#[test]
fn ok_then_garbage_sends_200_then_exactly_the_garbage() {
    let proxy = ProxyServer::builder(ProxyMode::OkThenGarbage(100_000)).start();
    let (mut conn, head) = connect_via(proxy.addr(), "api.egress.test:443", "");
    assert_eq!(status(&head), 200);
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len(), 100_000);
    assert!(!rest.starts_with(b"\x16\x03"), "not a TLS record");
}

#[test]
fn oversized_heads_and_other_methods_are_refused() {
    let proxy = ProxyServer::allow().start();
    let big = format!("X-Filler: {}\r\n", "a".repeat(10_000));
    let (_, head) = connect_via(proxy.addr(), "api.egress.test:443", &big);
    assert_eq!(status(&head), 431);
    let mut conn = TcpStream::connect(proxy.addr()).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    conn.write_all(b"GET http://api.egress.test/ HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(status(&read_head(&mut conn).unwrap()), 405);
}

#[test]
fn tunnels_inside_a_namespace_pair() {
    use crate::support::netns::{self, NetnsPair, SERVER_V4};
    use crate::support::tools;
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    let ca = TestCa::new("Egress Test Root CA");
    let tls = TlsServer::builder(ca.valid(&[NAME]))
        .bind(SERVER_V4.into())
        .in_netns(&pair.server)
        .start();
    let proxy = ProxyServer::allow()
        .map(NAME, SERVER_V4.into())
        .in_netns(&pair.client)
        .start();
    let (proxy_addr, port) = (proxy.addr(), tls.port());
    let outcome = pair.client.enter(move || {
        let (conn, head) = connect_via(proxy_addr, &format!("{NAME}:{port}"), "");
        assert_eq!(status(&head), 200, "{head}");
        tls_over(conn, &ca)
    });
    outcome.unwrap();
    assert_eq!(tls.wait_for_connections(1)[0].sni.as_deref(), Some(NAME));
}

#[test]
fn base64_matches_rfc_4648_vectors() {
    for (input, expected) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(input.as_bytes()), expected);
    }
}
