//! The floor: what is physically possible on this machine against these servers. A bare
//! tokio-rustls client (ring, TLS 1.3 and 1.2, the lab's CA as the only root, resumption
//! off as in egresscheck) connects to every target address and completes one handshake
//! with the target's name as SNI, `concurrency` at a time, then sends close_notify and
//! closes. No DNS, no second trust store, no certificate description, no report.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::{BoxError, ChildReport, target_addr, target_name};

/// Bound on each connect and each handshake (egresscheck's default `--timeout`).
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the loop and returns what the child reports (the `floor` mode).
pub fn run(
    ca: &Path,
    port: u16,
    targets: usize,
    concurrency: usize,
    per_name: usize,
) -> Result<ChildReport, BoxError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    let connector = TlsConnector::from(Arc::new(config));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let times = runtime.block_on(async move {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (next, connector) = (Arc::clone(&next), connector.clone());
            workers.spawn(async move {
                let mut times = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= targets {
                        return times;
                    }
                    times.push(one(&connector, i, port, per_name).await);
                }
            });
        }
        let mut all: Vec<Option<f64>> = Vec::with_capacity(targets);
        while let Some(joined) = workers.join_next().await {
            all.extend(joined.unwrap_or_default());
        }
        all
    });
    let ok: Vec<f64> = times.iter().flatten().copied().collect();
    Ok(ChildReport::new(ok.len(), times.len(), ok))
}

/// Connect, handshake, close: the milliseconds it took, or None when it failed.
async fn one(connector: &TlsConnector, i: usize, port: u16, per_name: usize) -> Option<f64> {
    let start = Instant::now();
    let addr = SocketAddr::new(IpAddr::V4(target_addr(i)), port);
    let stream = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let name = ServerName::try_from(target_name(i, per_name)).ok()?;
    let mut tls = tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, stream))
        .await
        .ok()?
        .ok()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let _ = tls.shutdown().await;
    Some(ms)
}
