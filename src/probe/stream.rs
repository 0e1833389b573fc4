//! A TLS connection the probe handshook itself, kept open for an HTTP exchange.
//!
//! [`super::tls`] drives rustls's `ClientConnection` by hand (to keep the peer's chain when a
//! handshake fails, to feed TLS the bytes a proxy sent after its answer, and to count every
//! byte). When the data asks for an HTTP check, the same connection then carries one request:
//! [`TlsStream`] is that connection as a tokio `AsyncRead + AsyncWrite` (the shape of
//! tokio-rustls's stream, which cannot adopt a connection it did not handshake), so that
//! hyper's client connection runs over it. Reads stay bounded: the stream stops with an error
//! once the server has sent more than its byte budget, whatever the HTTP layer asks for.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use rustls::ClientConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A completed TLS client connection over TCP, with a budget of bytes it may still read.
#[derive(Debug)]
pub struct TlsStream {
    io: TcpStream,
    conn: ClientConnection,
    /// Bytes the server may still send before reads fail.
    budget: usize,
    /// The server closed its side of TCP.
    eof: bool,
}

/// The marker in the error a [`TlsStream`] returns once its budget is spent.
pub const BUDGET_SPENT: &str = "the server sent more than the probe reads";

impl TlsStream {
    /// Wraps a connection whose handshake is complete. `budget` bounds the bytes read from the
    /// socket from now on (TLS records, not plaintext).
    pub(crate) fn new(io: TcpStream, conn: ClientConnection, budget: usize) -> Self {
        TlsStream {
            io,
            conn,
            budget,
            eof: false,
        }
    }

    /// The rustls connection (negotiated version, ALPN, the peer's certificates).
    pub fn connection(&self) -> &ClientConnection {
        &self.conn
    }

    /// True when the error came from the byte budget.
    pub fn is_budget_error(err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::Other && err.to_string().contains(BUDGET_SPENT)
    }

    /// Reads TLS records from the socket into rustls and processes them.
    fn read_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.budget == 0 {
            return Poll::Ready(Err(io::Error::other(BUDGET_SPENT)));
        }
        let mut reader = Budgeted {
            io: &mut self.io,
            cx,
            budget: &mut self.budget,
        };
        let n = match self.conn.read_tls(&mut reader) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(err) => return Poll::Ready(Err(err)),
        };
        if let Err(err) = self.conn.process_new_packets() {
            // An alert describing the error goes out if it can; the error is what counts.
            let _ = self.write_io(cx);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, err)));
        }
        Poll::Ready(Ok(n))
    }

    /// Writes what rustls queued to the socket.
    fn write_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut writer = Writer {
            io: &mut self.io,
            cx,
        };
        match self.conn.write_tls(&mut writer) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            other => Poll::Ready(other),
        }
    }

    /// Writes everything rustls queued, or returns what stops it.
    fn flush_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            match self.write_io(cx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.conn.reader().read(buf.initialize_unfilled()) {
                // Data, or 0 after the server's close_notify: the end of the stream.
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                // TCP closed without close_notify: many servers end so after a response
                // whose length is known; whether the message is complete is HTTP's call.
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Ok(()));
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // Key updates and alerts rustls wants to answer go out first.
            if let Poll::Ready(Err(err)) = this.flush_tls(cx) {
                return Poll::Ready(Err(err));
            }
            match this.read_io(cx) {
                Poll::Ready(Ok(0)) => this.eof = true,
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Whatever was queued before must leave first, so the buffer rustls keeps stays small.
        match this.flush_tls(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        }
        let n = this.conn.writer().write(buf)?;
        // Best effort now; what stays queued goes with the next write or flush.
        if let Poll::Ready(Err(err)) = this.flush_tls(cx) {
            return Poll::Ready(Err(err));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.writer().flush()?;
        match this.flush_tls(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.send_close_notify();
        match this.flush_tls(cx) {
            Poll::Ready(Ok(())) => match Pin::new(&mut this.io).poll_shutdown(cx) {
                Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::NotConnected => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
            other => other,
        }
    }
}

/// `Read` for rustls over the async socket: `Pending` becomes `WouldBlock`, and no read
/// asks for more than the budget left.
struct Budgeted<'a, 'b> {
    io: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
    budget: &'a mut usize,
}

impl Read for Budgeted<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = buf.len().min(*self.budget);
        let Some(window) = buf.get_mut(..room) else {
            return Ok(0);
        };
        let mut read = ReadBuf::new(window);
        match Pin::new(&mut *self.io).poll_read(self.cx, &mut read) {
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                *self.budget = self.budget.saturating_sub(n);
                Ok(n)
            }
            Poll::Ready(Err(err)) => Err(err),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// `Write` for rustls over the async socket: `Pending` becomes `WouldBlock`.
struct Writer<'a, 'b> {
    io: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
}

impl Write for Writer<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
