//! The lab: the servers every measurement talks to, in a process of their own so that the
//! client's peak RSS is the client's, and so that the floor and egresscheck face the same
//! server load.
//!
//! - N TLS servers: one rustls server configuration (TLS 1.3 and 1.2, ALPN h2 and
//!   http/1.1, certificates from a CA made at start, ECDSA P-256) behind N listeners, one per
//!   address `127.1.x.y`, all on one port, each with its own accept loop. By default every
//!   target presents one certificate for `*.bench.test`, as a provider's addresses usually
//!   do; with `--certs per-target` each target name gets its own (chosen by SNI; a client
//!   without SNI gets the wildcard one), so no verification can be shared between targets.
//! - N/2 black holes: a listener per address `127.2.x.y` whose accept queue is full (backlog
//!   0, filled by one connection of its own), so the kernel drops every further SYN and a
//!   connect waits until the client's timeout, as behind a firewall `drop`. No root needed.
//! - N/2 stalling servers: a listener per address `127.3.x.y` that accepts, reads the
//!   ClientHello and never answers (a middlebox that swallows TLS to a name it filters),
//!   holding the connection until the client closes it.
//! - A DNS server on `127.0.0.1` (see `dns`).
//!
//! The lab writes the CA to `DIR/ca.pem`, prints `ready TLS_PORT DNS_PORT` on standard output
//! and serves until its standard input closes (the orchestrator exits or drops it), or for
//! at most [`MAX_LIFETIME`]. It counts the handshakes its TLS servers complete and when the
//! last one did: a line `reset` on standard input zeroes both (answered `ok`), a line
//! `stats` is answered `stats COUNT LAST_NS` (nanoseconds since the Unix epoch), so the
//! orchestrator can tell when the healthy targets of a run were done.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, Days, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::{BoxError, dns, hole_addr, stall_addr, target_addr, target_name};

/// The lab stops by itself after this long, whatever happens to the orchestrator.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// A client gets this long to complete its handshake, and then to close.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried before giving up when another program holds the chosen one on some address.
const PORT_ATTEMPTS: usize = 20;

/// Which certificates the lab's servers present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Certs {
    /// One certificate for `*.bench.test` on every target.
    Shared,
    /// A certificate per target name (per group of targets sharing a name), chosen by SNI.
    PerTarget,
}

/// Runs the lab (the `lab` mode of the benchmark binary).
pub fn serve(
    dir: &Path,
    targets: usize,
    holes: usize,
    stalls: usize,
    certs: Certs,
    per_name: usize,
) -> Result<(), BoxError> {
    // One listener per address, two sockets per black hole: more than the default 1,024.
    egresscheck::probe::options::raise_open_file_limit(65_536);
    // Listeners, black holes and a connection per target, sized before the runtime's threads
    // start: a table that grows under load puts the lab's workers to sleep (see
    // `reserve_file_table`), which would slow floor and check alike and add noise.
    egresscheck::probe::options::reserve_file_table(
        ((targets + 2 * holes + stalls) * 2 + 1024) as u64,
    );
    let pki = Pki::new()?;
    std::fs::write(dir.join("ca.pem"), pki.ca_pem.clone())?;
    let wildcard = pki.certified_key(&format!("*.{}", crate::ZONE))?;
    let mut by_name = HashMap::new();
    if certs == Certs::PerTarget {
        for i in (0..targets).step_by(per_name.max(1)) {
            let name = target_name(i, per_name);
            by_name.insert(name.clone(), pki.certified_key(&name)?);
        }
    }
    let resolver = Arc::new(BySni {
        by_name,
        default: wildcard,
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stats = Arc::new(Stats::default());
    runtime.block_on(async move {
        let (port, listeners) = bind_all(targets).await?;
        for listener in listeners {
            tokio::spawn(accept_loop(listener, acceptor.clone(), Arc::clone(&stats)));
        }
        let _holes = black_holes(holes, port).await?;
        for i in 0..stalls {
            let addr = SocketAddr::new(IpAddr::V4(stall_addr(i)), port);
            tokio::spawn(stall_loop(TcpListener::bind(addr).await?));
        }
        let (dns_port, dns_task) = dns::start(targets, holes, stalls, per_name).await?;
        tokio::spawn(dns_task);

        let (stdin_closed_tx, stdin_closed) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            answer_commands(&stats);
            let _ = stdin_closed_tx.send(());
        });
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "ready {port} {dns_port}")?;
        stdout.flush()?;
        drop(stdout);
        let _ = tokio::time::timeout(MAX_LIFETIME, stdin_closed).await;
        Ok::<(), BoxError>(())
    })?;
    // Connection tasks may still hold sockets; dropping the runtime closes them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// The lab's CA, made at start.
struct Pki {
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
    /// Validity of the leaves.
    not_before: NaiveDate,
    not_after: NaiveDate,
}

/// A date as rcgen takes it (its date type is not nameable without the `time` crate, so the
/// conversion happens where it is assigned).
macro_rules! ymd {
    ($d:expr) => {
        rcgen::date_time_ymd(
            $d.year(),
            u8::try_from($d.month()).unwrap_or(1),
            u8::try_from($d.day()).unwrap_or(1),
        )
    };
}

impl Pki {
    /// A CA valid from yesterday for a year; its leaves are valid from yesterday for 90 days.
    fn new() -> Result<Pki, BoxError> {
        let today = Utc::now().date_naive();
        let yesterday = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        let key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name
            .push(DnType::CommonName, "egresscheck bench CA");
        ca.distinguished_name
            .push(DnType::OrganizationName, "egresscheck bench");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = ymd!(yesterday);
        ca.not_after = ymd!(today.checked_add_days(Days::new(365)).unwrap_or(today));
        let ca_pem = ca.self_signed(&key)?.pem();
        Ok(Pki {
            issuer: Issuer::new(ca, key),
            ca_pem,
            not_before: yesterday,
            not_after: today.checked_add_days(Days::new(90)).unwrap_or(today),
        })
    }

    /// A leaf for `name` with its key, ready for a server.
    fn certified_key(&self, name: &str) -> Result<Arc<CertifiedKey>, BoxError> {
        let key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(vec![name.to_owned()])?;
        leaf.distinguished_name = rcgen::DistinguishedName::new();
        leaf.distinguished_name.push(DnType::CommonName, name);
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        leaf.not_before = ymd!(self.not_before);
        leaf.not_after = ymd!(self.not_after);
        let cert = leaf.signed_by(&key, &self.issuer)?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&der)?;
        Ok(Arc::new(CertifiedKey::new(
            vec![cert.der().clone()],
            signing,
        )))
    }
}

/// The certificate for the SNI name, or the wildcard one.
#[derive(Debug)]
struct BySni {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|name| self.by_name.get(name))
            .unwrap_or(&self.default);
        Some(Arc::clone(chosen))
    }
}

/// Binds a listener on every target address, all on one port (retrying with another port
/// when some address has it taken).
async fn bind_all(targets: usize) -> Result<(u16, Vec<TcpListener>), BoxError> {
    let mut last: Option<std::io::Error> = None;
    for _ in 0..PORT_ATTEMPTS {
        let first = TcpListener::bind(SocketAddr::new(IpAddr::V4(target_addr(0)), 0)).await?;
        let port = first.local_addr()?.port();
        let mut listeners = vec![first];
        let mut failed = None;
        for i in 1..targets {
            match TcpListener::bind(SocketAddr::new(IpAddr::V4(target_addr(i)), port)).await {
                Ok(listener) => listeners.push(listener),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        match failed {
            None => return Ok((port, listeners)),
            Some(err) => last = Some(err),
        }
    }
    Err(format!(
        "cannot bind {targets} loopback addresses on one port: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )
    .into())
}

/// Handshakes the TLS servers completed, and when the last one did.
#[derive(Debug, Default)]
struct Stats {
    done: AtomicUsize,
    last_ns: AtomicU64,
}

impl Stats {
    fn record(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.done.fetch_add(1, Ordering::SeqCst);
        self.last_ns.fetch_max(now, Ordering::SeqCst);
    }
}

/// Answers `reset` and `stats` lines on standard input until it closes.
fn answer_commands(stats: &Stats) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else {
            return;
        };
        let answer = match line.trim() {
            "reset" => {
                stats.done.store(0, Ordering::SeqCst);
                stats.last_ns.store(0, Ordering::SeqCst);
                "ok".to_owned()
            }
            "stats" => format!(
                "stats {} {}",
                stats.done.load(Ordering::SeqCst),
                stats.last_ns.load(Ordering::SeqCst)
            ),
            _ => continue,
        };
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{answer}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Accepts forever; each connection gets its own task. A failed accept (out of file
/// descriptors) pauses briefly instead of spinning.
async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, stats: Arc<Stats>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(stream, acceptor.clone(), Arc::clone(&stats)));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A server that never answers: each connection's bytes (its ClientHello) are read and
/// dropped until the client closes it (or a minute passes).
async fn stall_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((mut stream, _)) => {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = tokio::time::timeout(Duration::from_secs(60), async {
                        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                    })
                    .await;
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One connection: the handshake, then wait for the client to close (bounded).
async fn handle(stream: TcpStream, acceptor: TlsAcceptor, stats: Arc<Stats>) {
    let _ = stream.set_nodelay(true);
    let Ok(Ok(mut tls)) = tokio::time::timeout(CONNECTION_TIMEOUT, acceptor.accept(stream)).await
    else {
        return;
    };
    stats.record();
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        while let Ok(n) = tls.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Listeners that never accept, each with its backlog filled: SYNs to them are dropped.
async fn black_holes(holes: usize, port: u16) -> Result<Vec<(TcpListener, TcpStream)>, BoxError> {
    let mut held = Vec::with_capacity(holes);
    for i in 0..holes {
        let addr = SocketAddr::new(IpAddr::V4(hole_addr(i)), port);
        let socket = TcpSocket::new_v4()?;
        socket.bind(addr)?;
        // Backlog 0 admits one connection to the accept queue; the filler takes it, and as
        // nothing ever accepts, every later SYN is dropped by the kernel.
        let listener = socket.listen(0)?;
        let filler = TcpStream::connect(addr).await?;
        held.push((listener, filler));
    }
    Ok(held)
}

/// The address of the lab's DNS server.
pub fn dns_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}
