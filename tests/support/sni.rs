//! An SNI filter: a TCP relay in front of a server that reads each ClientHello's SNI and,
//! for names on its block list, drops the connection silently or resets it (as a
//! next-generation firewall's URL or App-ID policy does), and passes everything else
//! (other names, no SNI) through to the server unchanged.
//!
//! ```ignore
//! use crate::support::sni::{Block, SniRelay};
//! let relay = SniRelay::builder(server.addr(), Block::Drop)   // or Block::Reset
//!     .block("blocked.egress.test")
//!     .bind(ip)
//!     .start();
//! let seen = relay.wait_for_connections(3);  // each: SNI (None without), blocked or passed
//! ```
//!
//! The ClientHello is parsed with rustls's `Acceptor` on a copy of the bytes read (at most
//! 16 KiB, for 10 s); what was read is then written to the server as it came.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::server::Acceptor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::server::{self, Listen, Log, ServerGuard, listen_methods};

/// Most bytes read while looking for a complete ClientHello.
const HELLO_CAP: usize = 16 * 1024;
/// The block-list entry of [`SniRelayBuilder::block_all`].
const ANY: &str = "*";
/// How long a client gets to send it, and how long a dropped connection is held.
const HOLD: Duration = Duration::from_secs(30);

/// What the relay does to a ClientHello for a blocked name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Nothing: the connection stays open and silent until the client gives up.
    Drop,
    /// A TCP reset (SO_LINGER 0, then close).
    Reset,
}

/// One connection as the relay saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// The SNI of the ClientHello; None when it had none (or was not a ClientHello).
    pub sni: Option<String>,
    /// True when the name was blocked.
    pub blocked: bool,
    /// When the relay accepted the connection.
    pub accepted: Instant,
}

/// Settings of an [`SniRelay`].
#[derive(Debug, Clone)]
pub struct SniRelayBuilder {
    listen: Listen,
    upstream: SocketAddr,
    block: Block,
    names: Vec<String>,
}

impl SniRelayBuilder {
    listen_methods!();

    /// Blocks ClientHellos with this SNI (repeatable).
    pub fn block(mut self, name: &str) -> Self {
        self.names.push(name.to_ascii_lowercase());
        self
    }

    /// Blocks every ClientHello, with or without SNI (a block by address, not by name).
    pub fn block_all(mut self) -> Self {
        self.names.push(ANY.to_owned());
        self
    }

    /// Binds a random port and starts relaying.
    pub fn start(self) -> SniRelay {
        let log = Log::new();
        let server_log = Arc::clone(&log);
        let bind = self.listen.ip;
        let rules = Arc::new((self.upstream, self.block, self.names));
        let (guard, addr) =
            server::spawn("sni relay", &self.listen.placement, move || async move {
                let listener = TcpListener::bind(SocketAddr::new(bind, 0)).await?;
                let addr = listener.local_addr()?;
                let serve = server::accept_loop(listener, move |stream| {
                    let (rules, log) = (Arc::clone(&rules), Arc::clone(&server_log));
                    async move { relay(stream, &rules, &log).await }
                });
                Ok((addr, serve))
            })
            .unwrap_or_else(|e| panic!("SNI relay on {bind}: {e}"));
        SniRelay {
            _guard: guard,
            addr,
            log,
        }
    }
}

/// A running relay; stops (closing every connection) on drop.
#[derive(Debug)]
pub struct SniRelay {
    _guard: ServerGuard,
    addr: SocketAddr,
    log: Arc<Log<Relayed>>,
}

impl SniRelay {
    /// A relay to `upstream` that answers blocked names with `block`.
    pub fn builder(upstream: SocketAddr, block: Block) -> SniRelayBuilder {
        SniRelayBuilder {
            listen: Listen::default(),
            upstream,
            block,
            names: Vec::new(),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits (up to 10 s) until `n` connections are logged (each once its ClientHello was
    /// read), and returns them all.
    pub fn wait_for_connections(&self, n: usize) -> Vec<Relayed> {
        self.log.wait_for(n, Duration::from_secs(10))
    }
}

async fn relay(
    mut client: TcpStream,
    rules: &(SocketAddr, Block, Vec<String>),
    log: &Log<Relayed>,
) {
    let (upstream, block, names) = rules;
    let accepted = Instant::now();
    let Ok(Some((sni, bytes))) = tokio::time::timeout(HOLD, read_hello(&mut client)).await else {
        return;
    };
    let blocked = names.iter().any(|n| n == ANY)
        || sni
            .as_deref()
            .is_some_and(|s| names.iter().any(|n| n.eq_ignore_ascii_case(s)));
    log.push(Relayed {
        sni,
        blocked,
        accepted,
    });
    match (blocked, block) {
        (true, Block::Reset) => {
            let _ = client.set_zero_linger();
            drop(client);
        }
        (true, Block::Drop) => {
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(HOLD, async {
                while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
        }
        (false, _) => {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            if server.write_all(&bytes).await.is_err() {
                return;
            }
            let _ = tokio::time::timeout(
                HOLD,
                tokio::io::copy_bidirectional(&mut client, &mut server),
            )
            .await;
        }
    }
}

/// Reads until a complete ClientHello can be parsed: its SNI, and every byte read.
async fn read_hello(client: &mut TcpStream) -> Option<(Option<String>, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut acceptor = Acceptor::default();
    loop {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 || bytes.len() + n > HELLO_CAP {
            return None;
        }
        let mut fresh = &chunk[..n];
        bytes.extend_from_slice(fresh);
        while !fresh.is_empty() {
            acceptor.read_tls(&mut fresh).ok()?;
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let sni = accepted.client_hello().server_name().map(str::to_owned);
                return Some((sni, bytes));
            }
            Ok(None) => {}
            Err(_) => return Some((None, bytes)),
        }
    }
}
