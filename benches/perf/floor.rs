//! The floor: what is physically possible on this machine against these servers. A bare
//! tokio-rustls client (ring, TLS 1.3 and 1.2, the lab's CA as the only root, resumption
//! off as in egresscheck) connects to every target address and completes one handshake
//! with the target's name as SNI, `concurrency` at a time, then sends close_notify and
//! closes. No DNS, no second trust store, no certificate description, no report.
//!
//! With stalling targets (`--stalls`, the stalled-TLS row's mix), the loop goes through the
//! same interleaved list as the check's data file, healthy then stalling, every handshake in
//! flight at once: the bare loop of issue 15, and what the mix costs any client.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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

use crate::{BoxError, ChildReport, stall_addr, stall_name, target_addr, target_name};

/// Bound on each connect and each handshake of the healthy floor (egresscheck's default
/// `--timeout`).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// One address to handshake with, and the name its ClientHello carries.
struct Goal {
    addr: Ipv4Addr,
    name: String,
}

/// The healthy targets, interleaved with `stalls` stalling ones as `data::targets` lists
/// them.
fn goals(targets: usize, stalls: usize, per_name: usize) -> Vec<Goal> {
    let mut goals = Vec::with_capacity(targets + stalls);
    for j in 0..targets.max(stalls) {
        if j < targets {
            goals.push(Goal {
                addr: target_addr(j),
                name: target_name(j, per_name),
            });
        }
        if j < stalls {
            goals.push(Goal {
                addr: stall_addr(j),
                name: stall_name(j),
            });
        }
    }
    goals
}

/// Runs the loop and returns what the child reports (the `floor` mode). `step` bounds each
/// connect and handshake.
pub fn run(
    ca: &Path,
    port: u16,
    (targets, stalls): (usize, usize),
    concurrency: usize,
    per_name: usize,
    step: Duration,
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

    // As egresscheck does before its threads start: the file table sized once, not grown
    // under load (see `reserve_file_table`).
    egresscheck::probe::options::raise_open_file_limit(65_536);
    egresscheck::probe::options::reserve_file_table((targets + stalls + concurrency + 64) as u64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let goals = Arc::new(goals(targets, stalls, per_name));
    let times = runtime.block_on(async move {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (next, connector, goals) =
                (Arc::clone(&next), connector.clone(), Arc::clone(&goals));
            workers.spawn(async move {
                let mut times = Vec::new();
                while let Some(goal) = goals.get(next.fetch_add(1, Ordering::Relaxed)) {
                    times.push(one(&connector, goal, port, step).await);
                }
                times
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
async fn one(connector: &TlsConnector, goal: &Goal, port: u16, step: Duration) -> Option<f64> {
    let start = Instant::now();
    let addr = SocketAddr::new(IpAddr::V4(goal.addr), port);
    let stream = tokio::time::timeout(step, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let name = ServerName::try_from(goal.name.clone()).ok()?;
    let mut tls = tokio::time::timeout(step, connector.connect(name, stream))
        .await
        .ok()?
        .ok()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let _ = tls.shutdown().await;
    Some(ms)
}
