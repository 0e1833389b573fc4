//! The one way every harness server runs: its own thread, its own current-thread runtime,
//! optionally inside a network namespace, stopped and joined on drop.
//!
//! A server built this way works the same from a `#[tokio::test]` (no runtime nesting, no
//! blocking of the test's runtime) and from a plain `#[test]` that runs the binary as a
//! subprocess. Dropping the runtime cancels every connection task, which closes their
//! sockets: nothing outlives the guard.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};

use super::netns::{self, Netns};

/// Most connections one server serves at once; more wait in the listen backlog. Keeps a
/// runaway client from making a server hold unbounded state.
pub const MAX_CONNECTIONS: usize = 256;

/// Most bytes a server reads from one connection and throws away (a client that keeps
/// sending past this is no longer read).
pub const READ_CAP: u64 = 1 << 20;

/// Where a server's sockets live: the test's own namespace (the default) or one made by
/// [`Netns`].
#[derive(Debug, Clone, Default)]
pub struct Placement {
    netns: Option<PathBuf>,
}

impl Placement {
    /// Inside `ns`: the server's thread joins it before binding.
    pub fn netns(ns: &Netns) -> Placement {
        Placement {
            netns: Some(ns.path()),
        }
    }

    /// True when the server runs inside a test namespace.
    pub fn is_netns(&self) -> bool {
        self.netns.is_some()
    }
}

/// Where a server listens: an address (default 127.0.0.1) in a namespace (default the
/// test's own). Builders hold one and get `bind` and `in_netns` from [`listen_methods`].
#[derive(Debug, Clone)]
pub struct Listen {
    /// Address to bind, port chosen by the kernel.
    pub ip: IpAddr,
    /// Namespace to bind in.
    pub placement: Placement,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            placement: Placement::default(),
        }
    }
}

/// Adds `bind(ip)` and `in_netns(&ns)` to a builder that has a `listen: Listen` field.
macro_rules! listen_methods {
    () => {
        /// Address to listen on (default 127.0.0.1; any 127/8 address, or ::1).
        pub fn bind(mut self, ip: std::net::IpAddr) -> Self {
            self.listen.ip = ip;
            self
        }

        /// Run inside `ns` (a server binds there, a proxy also connects from there) instead
        /// of the test's own namespace.
        pub fn in_netns(mut self, ns: &$crate::support::netns::Netns) -> Self {
            self.listen.placement = $crate::support::server::Placement::netns(ns);
            self
        }
    };
}
pub(crate) use listen_methods;

/// Accepts connections until the server stops, running `handle` for each on its own task,
/// at most [`MAX_CONNECTIONS`] at once (the rest wait in the listen backlog).
pub async fn accept_loop<F, Fut>(listener: TcpListener, mut handle: F)
where
    F: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limit = connection_limit();
    loop {
        let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let task = handle(stream);
        tokio::spawn(async move {
            let _permit = permit;
            task.await;
        });
    }
}

/// Stops its server on drop: signals it, then waits for the thread to end.
#[derive(Debug)]
pub struct ServerGuard {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread was already printed; do not double-panic here.
            let _ = thread.join();
        }
    }
}

/// Starts a server: on a new thread (inside `placement`'s namespace), builds a runtime, runs
/// `setup` (which binds and returns what the test needs to know, plus the serving future),
/// hands that info back, then serves until the guard is dropped.
///
/// Returns setup's error if binding failed.
pub fn spawn<T, S, SF, RF>(
    label: &str,
    placement: &Placement,
    setup: S,
) -> io::Result<(ServerGuard, T)>
where
    T: Send + 'static,
    S: FnOnce() -> SF + Send + 'static,
    SF: Future<Output = io::Result<(T, RF)>>,
    RF: Future<Output = ()>,
{
    let (info_tx, info_rx) = mpsc::channel::<io::Result<T>>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let ns_path = placement.netns.clone();
    let thread = thread::Builder::new()
        .name(format!("harness {label}"))
        .spawn(move || {
            if let Some(path) = ns_path
                && let Err(e) = netns::join_netns(&path)
            {
                let _ = info_tx.send(Err(e));
                return;
            }
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = info_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                match setup().await {
                    Ok((info, serve)) => {
                        let _ = info_tx.send(Ok(info));
                        tokio::select! {
                            () = serve => {}
                            _ = stop_rx => {}
                        }
                    }
                    Err(e) => {
                        let _ = info_tx.send(Err(e));
                    }
                }
            });
            // Dropping the runtime here cancels the connection tasks and closes their sockets.
        })?;
    let info = info_rx
        .recv()
        .map_err(|_| io::Error::other(format!("{label} server thread ended during setup")))??;
    Ok((
        ServerGuard {
            stop: Some(stop_tx),
            thread: Some(thread),
        },
        info,
    ))
}

/// A connection limit shared by one server's tasks (see [`MAX_CONNECTIONS`]).
pub fn connection_limit() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_CONNECTIONS))
}

/// An append-only log shared between a server's thread and the test, capped so a flood of
/// requests cannot grow it without bound (entries past the cap are counted, not kept).
#[derive(Debug)]
pub struct Log<T> {
    inner: std::sync::Mutex<LogInner<T>>,
}

#[derive(Debug)]
struct LogInner<T> {
    entries: Vec<T>,
    dropped: usize,
}

/// Entries kept per log.
pub const LOG_CAP: usize = 10_000;

impl<T: Clone> Log<T> {
    /// An empty log.
    pub fn new() -> Arc<Log<T>> {
        Arc::new(Log {
            inner: std::sync::Mutex::new(LogInner {
                entries: Vec::new(),
                dropped: 0,
            }),
        })
    }

    /// Appends, or counts the entry as dropped when the log is full.
    pub fn push(&self, entry: T) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.entries.len() < LOG_CAP {
            inner.entries.push(entry);
        } else {
            inner.dropped += 1;
        }
    }

    /// A copy of the entries so far.
    pub fn snapshot(&self) -> Vec<T> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .clone()
    }

    /// Waits until at least `n` entries are in (servers log a connection once they are done
    /// with it, which can be a moment after the client is), then returns them all. Panics
    /// after `timeout`: a generous bound that only proves the entries never came.
    pub fn wait_for(&self, n: usize, timeout: std::time::Duration) -> Vec<T> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let entries = self.snapshot();
            if entries.len() >= n {
                return entries;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} log entries within {timeout:?}, have {}",
                entries.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Entries not kept because the log was full.
    pub fn dropped(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }

    /// Forgets what was logged so far (to assert on one phase of a test).
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.entries.clear();
        inner.dropped = 0;
    }
}

/// Fills `buf` with cheap pseudo-random bytes (xorshift; `state` carries on between calls),
/// for servers that send garbage. Never zero-seeded, never a sensible protocol message for
/// long.
pub fn fill_garbage(state: &mut u64, buf: &mut [u8]) {
    if *state == 0 {
        *state = 0x2545_f491_4f6c_dd1d;
    }
    for b in buf {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *b = *state as u8;
    }
}
