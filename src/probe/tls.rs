//! The TLS handshake: SNI is the probe name, ALPN offers `h2` and `http/1.1`, and
//! everything negotiated is recorded together with the recording verifier's verdicts.
//!
//! The client configuration is built once per run ([`TlsClient::new`]) with the ring
//! provider, TLS 1.3 and 1.2 (rustls speaks nothing older: a server that offers only older
//! versions fails the handshake, and the observation says so in words), session resumption
//! off (a resumed session shows no certificate), and [`RecordingVerifier`].
//!
//! The handshake is driven here over the tokio socket rather than through tokio-rustls's
//! `connect`: driving rustls's `ClientConnection` directly keeps the connection, and so the
//! peer's chain and whatever was negotiated, when the handshake fails after the certificate
//! arrived; it lets bytes a proxy sent after its CONNECT answer be fed to TLS; and it counts
//! every byte read, so no peer can stall or flood a run.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig, ClientConnection, PeerIncompatible};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::catalog::DnsName;
use crate::probe::model::{TlsFailure, TlsObservation};
use crate::probe::verify::{Recorded, RecordingVerifier, TrustStores, with_recording};
use crate::probe::{ProbeError, StepLimit};
use crate::term::sanitize;

/// ALPN protocols offered, most preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// The TLS client of a run: one configuration, one verifier, shared by every handshake.
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl TlsClient {
    /// Loads the trust stores (Mozilla's roots, the system store, `ca_files`) and builds the
    /// configuration.
    pub fn new(ca_files: &[PathBuf]) -> Result<Self, ProbeError> {
        TlsClient::with_stores(TrustStores::load(ca_files)?)
    }

    /// Builds the configuration over already loaded trust stores.
    pub fn with_stores(stores: TrustStores) -> Result<Self, ProbeError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(RecordingVerifier::new(
            stores,
            provider.signature_verification_algorithms,
        ));
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|err| ProbeError::Tls(err.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        config.resumption = Resumption::disabled();
        Ok(TlsClient {
            config: Arc::new(config),
        })
    }

    /// Runs a handshake with `name` over `stream`, feeding `leftover` (bytes a proxy sent
    /// after its answer) first. Never fails: every outcome is an observation.
    pub(crate) async fn handshake(
        &self,
        mut stream: TcpStream,
        leftover: &[u8],
        name: &DnsName,
        limit: StepLimit,
        max_bytes: usize,
    ) -> TlsObservation {
        let start = Instant::now();
        let server_name = match ServerName::try_from(name.as_str().to_owned()) {
            Ok(server_name) => server_name,
            Err(err) => return failed(TlsFailure::Other, sanitize(&err.to_string()), 0.0),
        };
        let mut conn = match ClientConnection::new(Arc::clone(&self.config), server_name) {
            Ok(conn) => conn,
            Err(err) => return failed(TlsFailure::Other, sanitize(&err.to_string()), 0.0),
        };
        let mut state = DriveState::default();
        let driven = tokio::time::timeout(
            limit.duration,
            drive(&mut stream, &mut conn, leftover, max_bytes, &mut state),
        )
        .await;
        let ms = super::elapsed_ms(start);
        let outcome = match driven {
            Ok(Ok(())) => {
                // Say goodbye properly; the peer's answer is not needed.
                conn.send_close_notify();
                flush_now(&stream, &mut conn);
                None
            }
            Ok(Err(failure)) => {
                flush_now(&stream, &mut conn);
                Some(describe_failure(failure, state.bytes_read, max_bytes))
            }
            Err(_) => Some((
                TlsFailure::Timeout,
                format!("no TLS handshake {}", limit.describe()),
            )),
        };
        let _ = stream.shutdown().await;
        observation(&conn, state.recorded, outcome, ms)
    }
}

#[derive(Default)]
struct DriveState {
    recorded: Option<Recorded>,
    bytes_read: usize,
}

enum Failure {
    Tls(rustls::Error),
    Io(io::Error),
    Closed,
    TooLarge,
}

async fn drive(
    stream: &mut TcpStream,
    conn: &mut ClientConnection,
    leftover: &[u8],
    max_bytes: usize,
    state: &mut DriveState,
) -> Result<(), Failure> {
    if !leftover.is_empty() {
        state.bytes_read += leftover.len();
        if state.bytes_read > max_bytes {
            return Err(Failure::TooLarge);
        }
        feed(conn, leftover, state)?;
    }
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        while conn.wants_write() {
            let mut out = Vec::new();
            conn.write_tls(&mut out).map_err(Failure::Io)?;
            stream.write_all(&out).await.map_err(Failure::Io)?;
        }
        if !conn.is_handshaking() {
            return Ok(());
        }
        let n = stream.read(&mut buf).await.map_err(Failure::Io)?;
        if n == 0 {
            return Err(Failure::Closed);
        }
        state.bytes_read += n;
        if state.bytes_read > max_bytes {
            return Err(Failure::TooLarge);
        }
        feed(conn, buf.get(..n).unwrap_or_default(), state)?;
    }
}

/// Hands received bytes to rustls and processes them, keeping what the verifier recorded.
fn feed(
    conn: &mut ClientConnection,
    mut data: &[u8],
    state: &mut DriveState,
) -> Result<(), Failure> {
    while !data.is_empty() {
        let taken = conn.read_tls(&mut data).map_err(Failure::Io)?;
        let (result, recorded) = with_recording(|| conn.process_new_packets());
        if recorded.is_some() {
            state.recorded = recorded;
        }
        result.map_err(Failure::Tls)?;
        if taken == 0 {
            // rustls took nothing and reported no error: it will not take more.
            return Err(Failure::Tls(rustls::Error::General(
                "TLS buffer full".to_owned(),
            )));
        }
    }
    Ok(())
}

/// Writes whatever rustls queued (an alert, close_notify) without waiting.
fn flush_now(stream: &TcpStream, conn: &mut ClientConnection) {
    let mut out = Vec::new();
    while conn.wants_write() {
        if conn.write_tls(&mut out).is_err() {
            break;
        }
    }
    if !out.is_empty() {
        let _ = stream.try_write(&out);
    }
}

fn describe_failure(failure: Failure, bytes_read: usize, max_bytes: usize) -> (TlsFailure, String) {
    match failure {
        Failure::Closed if bytes_read == 0 => (
            TlsFailure::Closed,
            "the server closed the connection without answering the TLS ClientHello".to_owned(),
        ),
        Failure::Closed => (
            TlsFailure::Closed,
            "the server closed the connection during the TLS handshake".to_owned(),
        ),
        Failure::TooLarge => (
            TlsFailure::TooLarge,
            format!("the server sent more than {max_bytes} bytes without completing the handshake"),
        ),
        Failure::Io(err) if err.kind() == io::ErrorKind::ConnectionReset => (
            TlsFailure::Closed,
            format!(
                "the connection was reset during the TLS handshake ({}): a middlebox may block TLS to this name",
                sanitize(&err.to_string())
            ),
        ),
        Failure::Io(err) => (TlsFailure::Io, sanitize(&err.to_string())),
        Failure::Tls(err) => describe_tls_error(&err),
    }
}

/// rustls's own text is already a good finding; a few cases get words an admin can act on.
pub(crate) fn describe_tls_error(err: &rustls::Error) -> (TlsFailure, String) {
    let text = sanitize(&err.to_string());
    match err {
        rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::ServerDoesNotSupportTls12Or13,
        )
        | rustls::Error::AlertReceived(AlertDescription::ProtocolVersion) => (
            TlsFailure::ProtocolVersion,
            format!(
                "the server offers only protocol versions older than TLS 1.2, which are deprecated (RFC 8996) and which egresscheck does not speak ({text})"
            ),
        ),
        rustls::Error::InvalidMessage(_) => (
            TlsFailure::NotTls,
            format!(
                "the server's answer is not valid TLS; is this port plain HTTP or another protocol? ({text})"
            ),
        ),
        rustls::Error::AlertReceived(_) => (
            TlsFailure::Alert,
            format!("the server aborted the handshake: {text}"),
        ),
        _ => (TlsFailure::Other, text),
    }
}

impl TlsObservation {
    /// A handshake that was never started (the run's deadline came first).
    pub(crate) fn not_attempted(message: &str) -> TlsObservation {
        failed(TlsFailure::Timeout, message.to_owned(), 0.0)
    }
}

fn failed(failure: TlsFailure, message: String, ms: f64) -> TlsObservation {
    TlsObservation {
        ok: false,
        error: Some(message),
        failure: Some(failure),
        timed_out: failure == TlsFailure::Timeout,
        version: None,
        cipher: None,
        kx_group: None,
        alpn: None,
        ms,
        ocsp_stapled: false,
        trusted_public: false,
        trusted_system: false,
        public_error: None,
        system_error: None,
        anchored_public: false,
        anchored_system: false,
        hostname_match: false,
        name_error: None,
        chain: Vec::new(),
    }
}

fn observation(
    conn: &ClientConnection,
    recorded: Option<Recorded>,
    outcome: Option<(TlsFailure, String)>,
    ms: f64,
) -> TlsObservation {
    let mut obs = match outcome {
        Some((failure, message)) => failed(failure, message, ms),
        None => {
            let mut obs = failed(TlsFailure::Other, String::new(), ms);
            obs.ok = true;
            obs.error = None;
            obs.failure = None;
            obs
        }
    };
    obs.version = conn.protocol_version().map(|v| match v.as_str() {
        Some(name) => name.replace('_', "."),
        None => format!("0x{:04x}", u16::from(v)),
    });
    obs.cipher = conn.negotiated_cipher_suite().map(|suite| {
        let suite = suite.suite();
        match suite.as_str() {
            // rustls prefixes TLS 1.3 suites with TLS13_; IANA names them TLS_.
            Some(name) => match name.strip_prefix("TLS13_") {
                Some(rest) => format!("TLS_{rest}"),
                None => name.to_owned(),
            },
            None => format!("0x{:04x}", u16::from(suite)),
        }
    });
    obs.kx_group = conn.negotiated_key_exchange_group().map(|group| {
        let name = group.name();
        name.as_str()
            .map_or_else(|| format!("0x{:04x}", u16::from(name)), str::to_owned)
    });
    obs.alpn = conn
        .alpn_protocol()
        .map(|p| sanitize(&String::from_utf8_lossy(p)));
    if let Some(recorded) = recorded {
        let verdict = &recorded.verdict;
        obs.ocsp_stapled = recorded.ocsp_stapled;
        obs.trusted_public = verdict.trusted_public;
        obs.public_error = verdict.public_error.clone();
        obs.trusted_system = verdict.trusted_system;
        obs.system_error = verdict.system_error.clone();
        obs.anchored_public = verdict.anchored_public;
        obs.anchored_system = verdict.anchored_system;
        obs.hostname_match = verdict.hostname_match;
        obs.name_error = verdict.name_error.clone();
        obs.chain = verdict.chain.clone();
    }
    obs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::InvalidMessage;

    #[test]
    fn old_versions_and_garbage_get_telling_messages() {
        let (kind, text) = describe_tls_error(&rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13,
        ));
        assert_eq!(kind, TlsFailure::ProtocolVersion);
        assert!(text.contains("older than TLS 1.2"), "{text}");
        let (kind, _) = describe_tls_error(&rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion,
        ));
        assert_eq!(kind, TlsFailure::ProtocolVersion);
        let (kind, text) = describe_tls_error(&rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType,
        ));
        assert_eq!(kind, TlsFailure::NotTls);
        assert!(text.contains("plain HTTP"), "{text}");
        let (kind, _) = describe_tls_error(&rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure,
        ));
        assert_eq!(kind, TlsFailure::Alert);
    }

    #[test]
    fn the_client_is_built_once_with_alpn_and_no_resumption() {
        let stores = TrustStores {
            public: Arc::new(rustls::RootCertStore::empty()),
            system: Arc::new(rustls::RootCertStore::empty()),
            system_problem: None,
        };
        let client = TlsClient::with_stores(stores).unwrap();
        assert_eq!(
            client.config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn drive_failures_are_described() {
        let (kind, text) = describe_failure(Failure::Closed, 0, 10);
        assert_eq!(kind, TlsFailure::Closed);
        assert!(text.contains("without answering"), "{text}");
        let (kind, text) = describe_failure(Failure::TooLarge, 11, 10);
        assert_eq!(kind, TlsFailure::TooLarge);
        assert!(text.contains("more than 10 bytes"), "{text}");
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            describe_failure(Failure::Io(reset), 5, 10).0,
            TlsFailure::Closed
        );
    }
}
