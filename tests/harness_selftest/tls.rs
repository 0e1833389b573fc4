//! The test PKI issues what it says, and the TLS servers present it with the versions, ALPN
//! and OCSP asked for; hostile servers misbehave and still let the client end. Checked with a
//! tokio-rustls client that trusts only the test CA.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::support::pki::{Leaf, TestCa};
use crate::support::tls::{Hostile, TlsServer};

const NAME: &str = "api.egress.test";

/// What the client saw: the verifier's inputs and the negotiated parameters.
#[derive(Debug, Default)]
struct Seen {
    ocsp: Vec<u8>,
    intermediates: usize,
    version: Option<rustls::ProtocolVersion>,
    alpn: Option<Vec<u8>>,
}

/// Delegates to WebPKI and records what it was given: the shape of the probe's verifier.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Mutex<Seen>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut seen = self.seen.lock().unwrap();
        seen.ocsp = ocsp_response.to_vec();
        seen.intermediates = intermediates.len();
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Handshakes with `addr` as `sni`, trusting `roots`, offering h2 and http/1.1.
async fn connect(
    addr: SocketAddr,
    sni: &str,
    roots: RootCertStore,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (Result<(), rustls::Error>, Seen) {
    let provider = Arc::new(default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let verifier = Recording {
        inner,
        seen: Arc::clone(&seen),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let server_name = ServerName::try_from(sni.to_string()).unwrap();
    let result = TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await;
    let outcome = match result {
        Ok(stream) => {
            let (_, conn) = stream.get_ref();
            let mut seen = seen.lock().unwrap();
            seen.version = conn.protocol_version();
            seen.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
            Ok(())
        }
        Err(e) => Err(e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned()
            .unwrap_or_else(|| rustls::Error::General(e.to_string()))),
    };
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (outcome, seen)
}

/// Some trust anchor: hostile servers never get as far as verification.
fn any_roots() -> RootCertStore {
    TestCa::new("Unused CA").root_store()
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn cert_error(result: Result<(), rustls::Error>) -> CertificateError {
    match result {
        Err(rustls::Error::InvalidCertificate(e)) => e,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_leaf_with_alpn_and_stapled_ocsp() {
    let ca = TestCa::new("Egress Test Root CA");
    let server = TlsServer::builder(ca.valid(&[NAME]))
        .alpn(&["h2", "http/1.1"])
        .ocsp(b"not really an OCSP response")
        .start();
    let (result, seen) = connect(server.addr(), NAME, ca.root_store(), BOTH).await;
    result.unwrap();
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(seen.ocsp, b"not really an OCSP response");
    assert_eq!(seen.intermediates, 0);

    let conns = server.wait_for_connections(1);
    assert_eq!(conns[0].sni.as_deref(), Some(NAME));
    assert_eq!(conns[0].alpn_offered, ["h2", "http/1.1"]);
    assert!(conns[0].completed);
    assert_eq!(conns[0].version.as_deref(), Some("TLSv1_3"));
    assert_eq!(conns[0].alpn.as_deref(), Some("h2"));
}

#[tokio::test]
async fn no_ocsp_and_no_alpn_unless_configured() {
    let ca = TestCa::new("Egress Test Root CA");
    let server = TlsServer::start(ca.valid(&[NAME]));
    let (result, seen) = connect(server.addr(), NAME, ca.root_store(), BOTH).await;
    result.unwrap();
    assert!(seen.ocsp.is_empty());
    assert_eq!(seen.alpn, None);
}

#[tokio::test]
async fn expired_not_yet_valid_wrong_name_and_self_signed_fail_verification() {
    let ca = TestCa::new("Egress Test Root CA");
    let cases = [
        (ca.expired(&[NAME]), "expired"),
        (ca.not_yet_valid(&[NAME]), "not yet valid"),
        (ca.valid(&["other.egress.test"]), "wrong name"),
        (Leaf::self_signed(&[NAME]), "self-signed"),
    ];
    for (leaf, what) in cases {
        let server = TlsServer::start(leaf);
        let (result, _) = connect(server.addr(), NAME, ca.root_store(), BOTH).await;
        let err = cert_error(result);
        let ok = match what {
            "expired" => matches!(
                err,
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ),
            "not yet valid" => {
                matches!(
                    err,
                    CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
                )
            }
            "wrong name" => matches!(
                err,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ),
            _ => matches!(err, CertificateError::UnknownIssuer),
        };
        assert!(ok, "{what}: {err:?}");
        // The server saw the whole ClientHello even though the client gave up.
        assert_eq!(
            server.wait_for_connections(1)[0].sni.as_deref(),
            Some(NAME),
            "{what}"
        );
    }
    // Another CA's valid leaf is untrusted: the shape of an interception test.
    let other = TestCa::new("Corp TLS Inspection CA");
    let server = TlsServer::start(other.valid(&[NAME]));
    let (result, _) = connect(server.addr(), NAME, ca.root_store(), BOTH).await;
    assert!(matches!(
        cert_error(result),
        CertificateError::UnknownIssuer
    ));
    let (result, _) = connect(server.addr(), NAME, other.root_store(), BOTH).await;
    result.unwrap();
}

#[tokio::test]
async fn intermediate_chains_are_sent_and_verify_against_the_root() {
    let root = TestCa::new("Egress Test Root CA");
    let issuing = root.intermediate("Egress Test Issuing CA 1");
    let leaf = issuing.valid(&[NAME]);
    assert_eq!(leaf.chain.len(), 2);
    let server = TlsServer::start(leaf);
    let (result, seen) = connect(server.addr(), NAME, issuing.root_store(), BOTH).await;
    result.unwrap();
    assert_eq!(seen.intermediates, 1);

    // A chain of 100 certificates (issue 6: leaf and 99 intermediates) is delivered in
    // full; webpki refuses the depth.
    let mut ca = root.intermediate("Deep CA 1");
    for i in 2..100 {
        ca = ca.intermediate(&format!("Deep CA {i}"));
    }
    let deep = ca.valid(&[NAME]);
    assert_eq!(deep.chain.len(), 100);
    let server = TlsServer::start(deep);
    let (result, seen) = connect(server.addr(), NAME, root.root_store(), BOTH).await;
    assert!(result.is_err());
    assert_eq!(seen.intermediates, 99);
}

#[tokio::test]
async fn version_pinned_servers() {
    let ca = TestCa::new("Egress Test Root CA");
    let tls12 = TlsServer::builder(ca.valid(&[NAME])).tls12_only().start();
    let (result, seen) = connect(tls12.addr(), NAME, ca.root_store(), BOTH).await;
    result.unwrap();
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_2));
    let (result, _) = connect(
        tls12.addr(),
        NAME,
        ca.root_store(),
        &[&rustls::version::TLS13],
    )
    .await;
    assert!(
        result.is_err(),
        "a TLS 1.3-only client must fail against a TLS 1.2-only server"
    );

    let tls13 = TlsServer::builder(ca.valid(&[NAME])).tls13_only().start();
    let (result, seen) = connect(tls13.addr(), NAME, ca.root_store(), BOTH).await;
    result.unwrap();
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_3));
    let (result, _) = connect(
        tls13.addr(),
        NAME,
        ca.root_store(),
        &[&rustls::version::TLS12],
    )
    .await;
    assert!(result.is_err());
    assert_eq!(
        tls12.wait_for_connections(2)[0].version.as_deref(),
        Some("TLSv1_2")
    );
}

#[tokio::test]
async fn a_running_server_presents_another_leaf_and_versions_on_the_same_port() {
    let ca = TestCa::new("Egress Test Root CA");
    let other = TestCa::new("Other CA");
    let server = TlsServer::start(ca.valid(&[NAME]));
    let addr = server.addr();
    let (result, seen) = connect(addr, NAME, ca.root_store(), BOTH).await;
    result.unwrap();
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_3));
    server.present(TlsServer::builder(other.valid(&[NAME])).tls12_only());
    assert_eq!(server.addr(), addr);
    let (result, _) = connect(addr, NAME, ca.root_store(), BOTH).await;
    assert!(result.is_err(), "the old CA no longer vouches for it");
    let (result, seen) = connect(addr, NAME, other.root_store(), BOTH).await;
    result.unwrap();
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_2));
}

#[tokio::test]
async fn binds_to_ipv6_loopback_and_other_127_addresses_with_ip_sans() {
    let ca = TestCa::new("Egress Test Root CA");
    for ip in [
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7)),
    ] {
        let server = TlsServer::builder(ca.valid(&[NAME, &ip.to_string()]))
            .bind(ip)
            .start();
        assert_eq!(server.addr().ip(), ip);
        let (result, _) = connect(server.addr(), NAME, ca.root_store(), BOTH).await;
        result.unwrap();
        // The IP SAN verifies too (a client that connects by address, without SNI).
        let (result, _) = connect(server.addr(), &ip.to_string(), ca.root_store(), BOTH).await;
        result.unwrap();
        let addr = server.addr();
        drop(server);
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "still listening after drop"
        );
    }
}

#[test]
fn ca_pem_file_holds_the_root_and_leaves_carry_their_settings() {
    let root = TestCa::new("Egress Test Root CA");
    let issuing = root.intermediate("Egress Test Issuing CA");
    let path = issuing.pem_file();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        certs,
        [root.cert_der().clone()],
        "the file holds the root, the trust anchor"
    );
    assert_eq!(issuing.pem_file(), path, "written once");
    assert!(root.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));

    let not_before = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let not_after = chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let leaf = root
        .leaf(&[NAME])
        .validity(not_before, not_after)
        .serial(42)
        .issue();
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.cert()).unwrap();
    assert_eq!(
        parsed.validity().not_before.to_datetime().unix_timestamp(),
        1_735_689_600
    );
    assert_eq!(
        parsed.validity().not_after.to_datetime().unix_timestamp(),
        1_767_139_200
    );
    assert_eq!(parsed.raw_serial(), &[42]);
    assert!(parsed.issuer().to_string().contains("Egress Test Root CA"));
    assert_eq!(leaf.sha256_hex().len(), 64);

    drop(issuing);
    assert!(!path.exists(), "the PEM file goes with its CA");
}

#[tokio::test]
async fn garbage_server_ends_the_handshake_quickly() {
    let server = TlsServer::hostile(Hostile::Garbage(10 << 20)).start();
    let started = Instant::now();
    let (result, _) = connect(server.addr(), NAME, any_roots(), BOTH).await;
    assert!(result.is_err());
    assert!(started.elapsed() < Duration::from_secs(20));
    let conns = server.wait_for_connections(1);
    assert!(conns[0].bytes_sent > 0);
}

#[tokio::test]
async fn slow_server_dribbles_until_the_client_gives_up() {
    let server = TlsServer::hostile(Hostile::Slow(Duration::from_millis(50))).start();
    let attempt = connect(server.addr(), NAME, any_roots(), BOTH);
    let timed_out = tokio::time::timeout(Duration::from_millis(500), attempt).await;
    assert!(
        timed_out.is_err(),
        "a slowloris server must not finish a handshake"
    );
    let conns = server.wait_for_connections(1);
    assert!(conns[0].bytes_sent >= 2, "{conns:?}");
}

#[tokio::test]
async fn close_after_hello_server_hangs_up_after_reading_the_hello() {
    let server = TlsServer::hostile(Hostile::CloseAfterHello).start();
    let (result, _) = connect(server.addr(), NAME, any_roots(), BOTH).await;
    assert!(result.is_err());
    let conns = server.wait_for_connections(1);
    assert_eq!(conns[0].sni.as_deref(), Some(NAME));
    assert!(!conns[0].completed);
}
