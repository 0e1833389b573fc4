//! Black hole, closed port and unanswered port give the outcomes their names promise.

use std::io::{ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::support::netns::{self, Netns};
use crate::support::tcp::{BlackHole, ClosedPort, UnansweredPort};
use crate::support::tools;

const SHORT: Duration = Duration::from_millis(300);

fn connect(addr: SocketAddr) -> Result<TcpStream, ErrorKind> {
    TcpStream::connect_timeout(&addr, SHORT).map_err(|e| e.kind())
}

#[test]
fn black_hole_accepts_and_never_answers_until_dropped() {
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let hole = BlackHole::builder().bind(ip).black_hole();
        let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(hole.addr()).unwrap()).collect();
        assert_eq!(hole.wait_for_accepted(3), 3);
        let conn = &mut conns[0];
        std::io::Write::write_all(conn, b"\x16\x03\x01 a ClientHello, say").unwrap();
        conn.set_read_timeout(Some(SHORT)).unwrap();
        let mut buf = [0u8; 16];
        let silent = conn.read(&mut buf).unwrap_err().kind();
        assert!(
            matches!(silent, ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{silent:?}"
        );

        let addr = hole.addr();
        drop(hole);
        // Dropping closes the held connections and the listener.
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert!(matches!(conn.read(&mut buf), Ok(0) | Err(_)));
        assert_eq!(connect(addr).unwrap_err(), ErrorKind::ConnectionRefused);
    }
}

#[tokio::test]
async fn black_hole_stalls_a_tls_handshake() {
    let hole = BlackHole::start();
    let tcp = tokio::net::TcpStream::connect(hole.addr()).await.unwrap();
    let roots = crate::support::pki::TestCa::new("Unused CA").root_store();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("api.egress.test").unwrap();
    let handshake =
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp);
    assert!(
        tokio::time::timeout(SHORT, handshake).await.is_err(),
        "the handshake must hang"
    );
}

#[test]
fn closed_port_refuses_and_stays_reserved() {
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let closed = ClosedPort::on(ip);
        assert_eq!(closed.addr().ip(), ip);
        assert_eq!(
            connect(closed.addr()).unwrap_err(),
            ErrorKind::ConnectionRefused
        );
        assert_eq!(
            TcpListener::bind(closed.addr()).unwrap_err().kind(),
            ErrorKind::AddrInUse,
            "nothing else may listen there while the guard lives"
        );
    }
}

#[test]
fn unanswered_port_times_out_like_a_firewall_drop() {
    for ip in [
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let port = UnansweredPort::builder().bind(ip).unanswered();
        for _ in 0..2 {
            assert_eq!(connect(port.addr()).unwrap_err(), ErrorKind::TimedOut);
        }
    }
}

#[test]
fn tcp_endpoints_inside_a_namespace() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let ns = Netns::new();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let closed = ClosedPort::in_netns(&ns, lo);
    let hole = BlackHole::builder().in_netns(&ns).black_hole();
    let unanswered = UnansweredPort::builder().in_netns(&ns).unanswered();
    let (c, h, u) = (closed.addr(), hole.addr(), unanswered.addr());
    let kinds = ns.enter(move || {
        [
            connect(c).map(drop),
            connect(h).map(drop),
            connect(u).map(drop),
        ]
    });
    assert_eq!(
        kinds,
        [
            Err(ErrorKind::ConnectionRefused),
            Ok(()),
            Err(ErrorKind::TimedOut)
        ]
    );
    assert_eq!(hole.wait_for_accepted(1), 1);
}
