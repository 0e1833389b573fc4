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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig, ClientConnection, PeerIncompatible};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::catalog::DnsName;
use crate::probe::engine::NOT_PROBED_DEADLINE;
use crate::probe::model::{TlsFailure, TlsObservation};
use crate::probe::stream::TlsStream;
use crate::probe::verify::{Recorded, RecordingVerifier, TrustStores, with_recording};
use crate::probe::{ProbeError, StepLimit};
use crate::term::sanitize;

/// ALPN protocols offered, most preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// ALPN offered on a connection that will carry an HTTP/1.1 exchange: the exchange speaks
/// HTTP/1.1 only, so the server must not pick `h2`.
pub const ALPN_HTTP1: [&[u8]; 1] = [b"http/1.1"];

/// What a ClientHello offers: the probe's usual hello, or one for a connection that will
/// carry an HTTP/1.1 exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hello {
    /// SNI, ALPN `h2` and `http/1.1`: what a modern client sends.
    Standard,
    /// SNI, ALPN `http/1.1` only.
    Http1,
}

/// Where a handshake's CPU work waits for its turn: building the ClientHello and processing
/// the server's flight (key exchange, chain verification) happen inside [`CpuGate::enter`];
/// waiting for the server's bytes happens outside it.
pub trait CpuGate {
    /// Holds a turn while the returned guard lives; `None` when no turn can be had (the
    /// run's deadline passed first).
    fn enter(&self) -> impl std::future::Future<Output = Option<impl Sized>> + Send;
}

/// No gate: every step runs at once (the caller bounds the handshake as a whole).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ungated;

impl CpuGate for Ungated {
    async fn enter(&self) -> Option<impl Sized> {
        Some(())
    }
}

/// The TLS client of a run: one verifier, shared by every handshake, and a configuration
/// per kind of ClientHello (ALPN offered, SNI sent or not).
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    http1: Arc<ClientConfig>,
    config_no_sni: Arc<ClientConfig>,
    http1_no_sni: Arc<ClientConfig>,
}

/// The SNI of a ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sni<'a> {
    /// The handshake's name (what every client sends).
    Name,
    /// None at all (a control: the same ClientHello without the name).
    Omitted,
    /// Another name (a control: a name a filter has no reason to block).
    Control(&'a DnsName),
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
        let build = |alpn: &[&[u8]], sni: bool| -> Result<Arc<ClientConfig>, ProbeError> {
            let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .map_err(|err| ProbeError::Tls(err.to_string()))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<_>)
                .with_no_client_auth();
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            config.resumption = Resumption::disabled();
            config.enable_sni = sni;
            Ok(Arc::new(config))
        };
        Ok(TlsClient {
            config: build(&ALPN, true)?,
            http1: build(&ALPN_HTTP1, true)?,
            config_no_sni: build(&ALPN, false)?,
            http1_no_sni: build(&ALPN_HTTP1, false)?,
        })
    }

    fn config(&self, hello: Hello, sni: Sni<'_>) -> &Arc<ClientConfig> {
        match (hello, sni) {
            (Hello::Standard, Sni::Omitted) => &self.config_no_sni,
            (Hello::Http1, Sni::Omitted) => &self.http1_no_sni,
            (Hello::Standard, _) => &self.config,
            (Hello::Http1, _) => &self.http1,
        }
    }

    /// Runs a handshake with `handshake.name` over `stream`, feeding `leftover` (bytes a
    /// proxy sent after its answer) first, with `gate` around its CPU work. Never fails:
    /// every outcome is an observation. The connection is kept open when the handshake
    /// completed and `keep` gives the stream's read budget (for an HTTP exchange); else it is
    /// closed.
    pub async fn connect(
        &self,
        mut stream: TcpStream,
        leftover: &[u8],
        handshake: &Handshake<'_>,
        gate: &impl CpuGate,
        keep: Option<usize>,
    ) -> (TlsObservation, Option<TlsStream>) {
        let Handshake {
            name,
            sni,
            hello,
            timeout,
            deadline,
            max_bytes,
            progress,
        } = *handshake;
        // Without SNI the chain is still judged for the name; a control name is judged for
        // itself (a control's certificate is not what it is for).
        let judged = match sni {
            Sni::Control(control) => control,
            Sni::Name | Sni::Omitted => name,
        };
        let server_name = match ServerName::try_from(judged.as_str().to_owned()) {
            Ok(server_name) => server_name,
            Err(err) => {
                return (
                    failed(TlsFailure::Other, sanitize(&err.to_string()), 0.0),
                    None,
                );
            }
        };
        // Building the ClientHello (a key share) is the first turn of CPU work; the
        // handshake's time starts when it has it, as the server's does with the ClientHello.
        let Some(turn) = gate.enter().await else {
            return (TlsObservation::not_attempted(NOT_PROBED_DEADLINE), None);
        };
        let start = Instant::now();
        let limit = StepLimit::new(timeout, deadline);
        let config = Arc::clone(self.config(hello, sni));
        let mut conn = match ClientConnection::new(config, server_name) {
            Ok(conn) => conn,
            Err(err) => {
                return (
                    failed(TlsFailure::Other, sanitize(&err.to_string()), 0.0),
                    None,
                );
            }
        };
        drop(turn);
        if let Some(progress) = progress {
            let _ = progress.sent.set(start);
        }
        let mut state = DriveState {
            progress,
            ..DriveState::default()
        };
        let driven = tokio::time::timeout(
            limit.duration,
            drive(
                &mut stream,
                &mut conn,
                leftover,
                max_bytes,
                &mut state,
                gate,
            ),
        )
        .await;
        let ms = super::elapsed_ms(start);
        let mut reset = false;
        let outcome = match driven {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => {
                flush_now(&stream, &mut conn);
                reset = matches!(&failure, Failure::Io(err) if err.kind() == io::ErrorKind::ConnectionReset);
                Some(describe_failure(failure, state.bytes_read, max_bytes))
            }
            Err(_) => Some((
                TlsFailure::Timeout,
                format!("no TLS handshake {}", limit.describe()),
            )),
        };
        let mut observation = observation(Some(&conn), state.recorded.take(), outcome, ms);
        observation.server_bytes = state.bytes_read;
        observation.reset = reset;
        match keep {
            Some(budget) if observation.ok => {
                (observation, Some(TlsStream::new(stream, conn, budget)))
            }
            _ => {
                if observation.ok {
                    // Say goodbye properly; the peer's answer is not needed.
                    conn.send_close_notify();
                    flush_now(&stream, &mut conn);
                }
                let _ = stream.shutdown().await;
                (observation, None)
            }
        }
    }
}

/// What one handshake is: the name (SNI and the name the chain is judged for), the hello,
/// its time and its read bound.
#[derive(Debug, Clone, Copy)]
pub struct Handshake<'a> {
    /// The name.
    pub name: &'a DnsName,
    /// The SNI sent.
    pub sni: Sni<'a>,
    /// What the ClientHello offers.
    pub hello: Hello,
    /// Time for the handshake, from the ClientHello on.
    pub timeout: Duration,
    /// The run's deadline, which cuts the handshake (and the wait for its first turn) short.
    pub deadline: Instant,
    /// Bytes read from the server before the handshake is abandoned.
    pub max_bytes: usize,
    /// Where the handshake reports its progress, for a caller watching for silence.
    pub progress: Option<&'a HandshakeProgress>,
}

/// How far a running handshake has come: when its ClientHello went out, and whether the
/// server has sent anything since.
#[derive(Debug, Default)]
pub struct HandshakeProgress {
    sent: std::sync::OnceLock<Instant>,
    answered: AtomicBool,
}

impl HandshakeProgress {
    /// When the ClientHello went out, once it has.
    pub fn hello_sent(&self) -> Option<Instant> {
        self.sent.get().copied()
    }

    /// True once the server has sent any bytes.
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
struct DriveState<'a> {
    recorded: Option<Recorded>,
    bytes_read: usize,
    progress: Option<&'a HandshakeProgress>,
}

impl DriveState<'_> {
    /// Counts `n` bytes from the server.
    fn received(&mut self, n: usize) {
        self.bytes_read += n;
        if let Some(progress) = self.progress {
            progress.answered.store(true, Ordering::Relaxed);
        }
    }
}

enum Failure {
    Tls(rustls::Error),
    Io(io::Error),
    Closed,
    TooLarge,
    /// No turn at the CPU gate before the run's deadline.
    Deadline,
}

/// Drives the handshake to its end. Waiting for the server holds nothing but the socket;
/// each batch of the server's bytes is processed inside one turn of `gate`.
async fn drive(
    stream: &mut TcpStream,
    conn: &mut ClientConnection,
    leftover: &[u8],
    max_bytes: usize,
    state: &mut DriveState<'_>,
    gate: &impl CpuGate,
) -> Result<(), Failure> {
    if !leftover.is_empty() {
        state.received(leftover.len());
        if state.bytes_read > max_bytes {
            return Err(Failure::TooLarge);
        }
        let _turn = gate.enter().await.ok_or(Failure::Deadline)?;
        feed(conn, leftover, state)?;
    }
    loop {
        while conn.wants_write() {
            let mut out = Vec::new();
            conn.write_tls(&mut out).map_err(Failure::Io)?;
            stream.write_all(&out).await.map_err(Failure::Io)?;
        }
        if !conn.is_handshaking() {
            return Ok(());
        }
        // No buffer of ours while waiting: the bytes go from the socket into rustls.
        stream.readable().await.map_err(Failure::Io)?;
        let _turn = gate.enter().await.ok_or(Failure::Deadline)?;
        receive(stream, conn, max_bytes, state)?;
    }
}

/// Hands everything the socket holds now to rustls and processes it.
fn receive(
    stream: &TcpStream,
    conn: &mut ClientConnection,
    max_bytes: usize,
    state: &mut DriveState<'_>,
) -> Result<(), Failure> {
    let mut socket = TryRead(stream);
    loop {
        match conn.read_tls(&mut socket) {
            Ok(0) => return Err(Failure::Closed),
            Ok(n) => {
                state.received(n);
                if state.bytes_read > max_bytes {
                    return Err(Failure::TooLarge);
                }
                process(conn, state)?;
                if !conn.is_handshaking() {
                    return Ok(());
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) => return Err(Failure::Io(err)),
        }
    }
}

/// `Read` over the socket without waiting: what is there now, or `WouldBlock`.
struct TryRead<'a>(&'a TcpStream);

impl io::Read for TryRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// Processes what rustls received, keeping what the verifier recorded.
fn process(conn: &mut ClientConnection, state: &mut DriveState) -> Result<(), Failure> {
    let (result, recorded) = with_recording(|| conn.process_new_packets());
    if recorded.is_some() {
        state.recorded = recorded;
    }
    result.map(|_| ()).map_err(Failure::Tls)
}

/// Hands received bytes to rustls and processes them, keeping what the verifier recorded.
fn feed(
    conn: &mut ClientConnection,
    mut data: &[u8],
    state: &mut DriveState<'_>,
) -> Result<(), Failure> {
    while !data.is_empty() {
        let taken = conn.read_tls(&mut data).map_err(Failure::Io)?;
        process(conn, state)?;
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
        Failure::Deadline => (
            TlsFailure::Timeout,
            "the run's overall deadline passed during the TLS handshake".to_owned(),
        ),
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
        server_bytes: 0,
        reset: false,
    }
}

fn observation(
    conn: Option<&ClientConnection>,
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
    let Some(conn) = conn else {
        return obs;
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
