//! Plain TCP endpoints that answer badly: a black hole, a closed port, and a port whose
//! connects time out.
//!
//! - [`BlackHole`]: accepts every connection and never sends a byte (a TLS handshake waits
//!   until the prober's timeout). Connections stay open until the guard drops.
//! - [`ClosedPort`]: an address:port with no listener, so a connect is refused (RST). The port
//!   is held by a bound, non-listening socket, so nothing else can take it while the guard
//!   lives.
//! - [`UnansweredPort`]: a listener whose accept queue is full, so the kernel drops new SYNs
//!   and a connect times out, as behind a firewall `drop`. A cheap stand-in that needs no
//!   root; the real thing is an nftables rule in a namespace (see `netns`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::netns::Netns;
use super::server::{self, Listen, ServerGuard, listen_methods};

/// Accepts connections and never answers; stops (closing them all) on drop.
#[derive(Debug)]
pub struct BlackHole {
    _guard: ServerGuard,
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

/// Settings of a [`BlackHole`] or [`UnansweredPort`].
#[derive(Debug, Clone, Default)]
pub struct TcpBuilder {
    listen: Listen,
}

impl TcpBuilder {
    listen_methods!();

    /// Starts a [`BlackHole`].
    pub fn black_hole(self) -> BlackHole {
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let bind = self.listen.ip;
        let (guard, addr) =
            server::spawn("black hole", &self.listen.placement, move || async move {
                let listener = TcpListener::bind(SocketAddr::new(bind, 0)).await?;
                let addr = listener.local_addr()?;
                Ok((addr, swallow(listener, counter)))
            })
            .unwrap_or_else(|e| panic!("black hole on {bind}: {e}"));
        BlackHole {
            _guard: guard,
            addr,
            accepted,
        }
    }

    /// Starts an [`UnansweredPort`].
    pub fn unanswered(self) -> UnansweredPort {
        let bind = self.listen.ip;
        let (guard, addr) = server::spawn(
            "unanswered port",
            &self.listen.placement,
            move || async move {
                let socket = socket_for(bind)?;
                socket.bind(SocketAddr::new(bind, 0))?;
                let addr = socket.local_addr()?;
                // Backlog 0 admits one connection to the accept queue; ours fills it, and since
                // nothing ever accepts, every later SYN is dropped by the kernel.
                let listener = socket.listen(0)?;
                let filler = TcpStream::connect(addr).await?;
                let serve = async move {
                    let _held = (listener, filler);
                    std::future::pending::<()>().await;
                };
                Ok((addr, serve))
            },
        )
        .unwrap_or_else(|e| panic!("unanswered port on {bind}: {e}"));
        UnansweredPort {
            _guard: guard,
            addr,
        }
    }
}

impl BlackHole {
    /// A black hole on 127.0.0.1.
    pub fn start() -> BlackHole {
        TcpBuilder::default().black_hole()
    }

    /// Settings for a black hole elsewhere (`.bind(ip)`, `.in_netns(&ns)`), then
    /// `.black_hole()`.
    pub fn builder() -> TcpBuilder {
        TcpBuilder::default()
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits (up to 10 s) until `n` connections were accepted.
    pub fn wait_for_accepted(&self, n: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.accepted() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "black hole accepted only {}",
                self.accepted()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.accepted()
    }
}

async fn swallow(listener: TcpListener, accepted: Arc<AtomicUsize>) {
    server::accept_loop(listener, |stream| {
        accepted.fetch_add(1, Ordering::SeqCst);
        // Held, never read or written, until the runtime is dropped with the guard.
        async move {
            let _held = stream;
            std::future::pending::<()>().await;
        }
    })
    .await;
}

/// A port whose connects time out (full accept queue); see the module docs.
#[derive(Debug)]
pub struct UnansweredPort {
    _guard: ServerGuard,
    addr: SocketAddr,
}

impl UnansweredPort {
    /// An unanswered port on 127.0.0.1.
    pub fn start() -> UnansweredPort {
        TcpBuilder::default().unanswered()
    }

    /// Settings for one elsewhere (`.bind(ip)`, `.in_netns(&ns)`), then `.unanswered()`.
    pub fn builder() -> TcpBuilder {
        TcpBuilder::default()
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// An address:port where connects are refused; the port stays reserved until drop.
#[derive(Debug)]
pub struct ClosedPort {
    _socket: TcpSocket,
    addr: SocketAddr,
}

impl ClosedPort {
    /// A closed port on 127.0.0.1.
    pub fn new() -> ClosedPort {
        ClosedPort::on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// A closed port on `ip` (any 127/8 address, or ::1).
    pub fn on(ip: IpAddr) -> ClosedPort {
        reserve(ip).unwrap_or_else(|e| panic!("closed port on {ip}: {e}"))
    }

    /// A closed port on `ip` inside `ns`.
    pub fn in_netns(ns: &Netns, ip: IpAddr) -> ClosedPort {
        ns.enter(move || reserve(ip))
            .unwrap_or_else(|e| panic!("closed port on {ip} in {}: {e}", ns.name()))
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        ClosedPort::new()
    }
}

/// Binds without listening: connects get RST, and without SO_REUSEADDR no other socket can
/// bind (or be handed as an ephemeral port) the same address and port.
fn reserve(ip: IpAddr) -> io::Result<ClosedPort> {
    let socket = socket_for(ip)?;
    socket.bind(SocketAddr::new(ip, 0))?;
    let addr = socket.local_addr()?;
    Ok(ClosedPort {
        _socket: socket,
        addr,
    })
}

fn socket_for(ip: IpAddr) -> io::Result<TcpSocket> {
    match ip {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
}
