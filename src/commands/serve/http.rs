//! Listening: connections, TLS, and the bounds that keep hostile clients from hurting the
//! exporter.
//!
//! An exporter listens where anyone on the network can reach it, so every resource a client
//! can take is bounded: connections (`--web.max-connections`; one more is closed at once and
//! counted), the time to send a request head, to finish a TLS handshake and to sit idle
//! between requests (`--web.read-timeout`: a header that never ends is cut there), the size of
//! a request head including its query string ([`MAX_REQUEST_HEAD_BYTES`]; more gets 431), and
//! a response nobody reads ([`WriteTimeout`]: a write that makes no progress for the read
//! timeout ends the connection). Request bodies are never read. HTTP/1.1 only: every
//! scraper speaks it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::log::Level;
use super::{ServeError, State};

/// Largest request head (request line with its query string, and headers): 16 KiB, twice
/// the most a scrape's URL needs and the smallest buffer hyper accepts is 8 KiB.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// How long a graceful stop waits for scrapes under way.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Listens on `state.options.listen` until SIGINT or SIGTERM, then stops accepting and waits
/// briefly for requests under way.
pub async fn run(state: Arc<State>) -> Result<(), ServeError> {
    let address = state.options.listen;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind { address, source })?;
    let local = listener.local_addr().unwrap_or(address);
    let loaded = state.current();
    state.log.log(
        Level::Info,
        "listening",
        &[
            ("address", local.to_string().into()),
            ("tls", loaded.web.tls.is_some().into()),
            ("basic_auth", (!loaded.web.users.is_empty()).into()),
            ("provider", loaded.catalog.data.provider.clone().into()),
            (
                "data_version",
                loaded.catalog.data.version.to_string().into(),
            ),
        ],
    );
    drop(loaded);
    tokio::spawn(reload_on_hangup(Arc::clone(&state)));
    let signal = crate::interrupt::wait();
    let connections = Arc::new(Semaphore::new(state.options.max_connections));
    accept_until(&listener, &state, &connections, signal).await;
    drop(listener);
    let max = u32::try_from(state.options.max_connections).unwrap_or(u32::MAX);
    // Every permit back: every connection has ended.
    let _ = tokio::time::timeout(STOP_GRACE, connections.acquire_many(max)).await;
    state.log.log(Level::Info, "stopped", &[]);
    Ok(())
}

/// Accepts connections until `stop` resolves.
async fn accept_until(
    listener: &TcpListener,
    state: &Arc<State>,
    connections: &Arc<Semaphore>,
    stop: impl Future,
) {
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => {
                state.log.log(Level::Info, "stopping: signal received", &[]);
                return;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors, most likely: let connections end before the next try.
                    state.log.log(Level::Warn, "accept failed", &[("err", err.to_string().into())]);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(connections).try_acquire_owned() else {
            state.metrics.connection_rejected();
            state.log.log(
                Level::Debug,
                "connection closed at once: --web.max-connections reached",
                &[("remote", peer.to_string().into())],
            );
            drop(stream);
            continue;
        };
        let state = Arc::clone(state);
        tokio::spawn(async move {
            state.connections.fetch_add(1, Ordering::Relaxed);
            connection(stream, peer, &state).await;
            state.connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// Serves one connection: TLS when configured, then HTTP/1.1 under the bounds.
async fn connection(stream: TcpStream, peer: SocketAddr, state: &Arc<State>) {
    let _ = stream.set_nodelay(true);
    let timeout = state.options.read_timeout;
    let tls = state.current().web.tls.clone();
    match tls {
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => http(WriteTimeout::new(stream, timeout), peer, state).await,
                Ok(Err(err)) => state.log.log(
                    Level::Debug,
                    "TLS handshake failed",
                    &[
                        ("remote", peer.to_string().into()),
                        ("err", err.to_string().into()),
                    ],
                ),
                Err(_) => state.log.log(
                    Level::Debug,
                    "TLS handshake timed out",
                    &[("remote", peer.to_string().into())],
                ),
            }
        }
        None => http(WriteTimeout::new(stream, timeout), peer, state).await,
    }
}

async fn http<S>(stream: WriteTimeout<S>, peer: SocketAddr, state: &Arc<State>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_state = Arc::clone(state);
    let service = service_fn(move |request| {
        let state = Arc::clone(&service_state);
        async move {
            Ok::<_, std::convert::Infallible>(super::routes::handle(&state, request, peer).await)
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.options.read_timeout)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(true);
    if let Err(err) = builder
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        state.log.log(
            Level::Debug,
            "connection ended",
            &[
                ("remote", peer.to_string().into()),
                ("err", err.to_string().into()),
            ],
        );
    }
}

/// SIGHUP re-reads the files, as Prometheus does.
async fn reload_on_hangup(state: Arc<State>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            state.log.log(
                Level::Warn,
                "cannot catch SIGHUP; reload with POST /-/reload",
                &[],
            );
            return;
        };
        while hangups.recv().await.is_some() {
            let _ = state.reload("SIGHUP").await;
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}

/// A stream whose writes fail when they make no progress for `limit`: a client that asks and
/// never reads cannot hold a connection (and its response) forever.
pub struct WriteTimeout<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limit: Duration) -> Self {
        WriteTimeout {
            inner,
            limit,
            stalled: None,
        }
    }

    /// A write's outcome, with the clock: progress stops it, a pending write starts it (or
    /// fails once it ran out).
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending => match self.check_stall(cx) {
                Ok(()) => Poll::Pending,
                Err(err) => Poll::Ready(Err(err)),
            },
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    /// Called when a write is pending: starts the clock, or says that it ran out.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of the response in time",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.bounded(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.bounded(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
