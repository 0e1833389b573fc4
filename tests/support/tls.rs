//! TLS servers to probe: genuine ones with chosen versions, ALPN and stapled OCSP, and hostile
//! ones that send garbage, dribble bytes, or hang up after the ClientHello.
//!
//! Each server presents one [`Leaf`] (see `pki`), listens on a chosen loopback address (any
//! 127/8 address binds on Linux, or ::1) with a random port, and records every ClientHello it
//! sees (SNI, offered ALPN) and what the handshake settled on, so a test can assert what the
//! prober sent as well as what it saw.
//!
//! A genuine server can also answer one HTTP/1.1 request after the handshake
//! ([`TlsBuilder::http`]): a chosen status, headers, body and `Date` (now, off by some
//! seconds, a fixed text, or none), logging the request it read.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::ring::default_provider;
use rustls::server::Acceptor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::LazyConfigAcceptor;

use super::pki::Leaf;
use super::server::{self, Listen, Log, READ_CAP, ServerGuard, listen_methods};

/// How long a genuine server keeps an idle connection after the handshake.
const IDLE: Duration = Duration::from_secs(30);

/// Which TLS versions a server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versions {
    /// TLS 1.2 and 1.3.
    #[default]
    Both,
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// A server that breaks the protocol on purpose (issue "hostile input and faults").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Sends this many bytes of non-TLS garbage as soon as a client connects, then closes.
    Garbage(usize),
    /// Sends the start of a TLS record one byte per interval, forever (slowloris).
    Slow(Duration),
    /// Reads the ClientHello (recorded), then closes without answering.
    CloseAfterHello,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Genuine,
    Hostile(Hostile),
}

/// The `Date` header of an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpDate {
    /// The server's clock (this machine's).
    Now,
    /// This machine's clock moved by this many seconds (positive: the server is ahead).
    Offset(i64),
    /// This text, as is.
    Raw(String),
    /// No `Date` header.
    Omitted,
}

/// What a server answers to the HTTP request after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Extra header lines, `Name: value` (Content-Length, Date and Connection are added).
    pub headers: Vec<String>,
    /// The body.
    pub body: Vec<u8>,
    /// The `Date` header.
    pub date: HttpDate,
    /// Close the connection after reading the request, without answering.
    pub hang_up: bool,
}

impl HttpAnswer {
    /// `status` with `body`, a `Date` of now and no other header.
    pub fn new(status: u16, body: &str) -> HttpAnswer {
        HttpAnswer {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            date: HttpDate::Now,
            hang_up: false,
        }
    }

    /// A 200 with a JSON body (`Content-Type: application/json`).
    pub fn json(body: &str) -> HttpAnswer {
        HttpAnswer::new(200, body).header("Content-Type: application/json")
    }

    /// Adds a header line.
    pub fn header(mut self, line: &str) -> HttpAnswer {
        self.headers.push(line.to_owned());
        self
    }

    /// Sets the `Date` header.
    pub fn date(mut self, date: HttpDate) -> HttpAnswer {
        self.date = date;
        self
    }

    /// Reads the request, then closes without a word.
    pub fn hang_up() -> HttpAnswer {
        HttpAnswer {
            hang_up: true,
            ..HttpAnswer::new(200, "")
        }
    }
}

/// An HTTP request as the server read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpSeen {
    /// The request line, e.g. `GET / HTTP/1.1`.
    pub request_line: String,
    /// Header lines as sent.
    pub headers: Vec<String>,
    /// The body (as far as `Content-Length` says, up to 64 KiB).
    pub body: Vec<u8>,
}

impl HttpSeen {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// One connection as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConnection {
    /// SNI the client sent, if it sent one.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in order.
    pub alpn_offered: Vec<String>,
    /// True when the handshake completed.
    pub completed: bool,
    /// Negotiated version ("TLSv1_2", "TLSv1_3"), after a completed handshake.
    pub version: Option<String>,
    /// Negotiated ALPN protocol, if any.
    pub alpn: Option<String>,
    /// Bytes a hostile server managed to send before the client went away.
    pub bytes_sent: usize,
    /// The HTTP request read after the handshake, by a server that answers HTTP.
    pub http: Option<HttpSeen>,
}

/// Builds a TLS server; start with [`TlsServer::builder`] or [`TlsServer::hostile`].
#[derive(Debug)]
pub struct TlsBuilder {
    leaf: Option<Leaf>,
    mode: Mode,
    listen: Listen,
    versions: Versions,
    alpn: Vec<Vec<u8>>,
    ocsp: Vec<u8>,
    http: Option<HttpAnswer>,
    port: u16,
}

impl TlsBuilder {
    listen_methods!();

    /// Listen on this port (default: one the kernel chooses), e.g. the port another
    /// server of the same name has on the other address family.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Answer one HTTP/1.1 request after the handshake with `answer`, then close.
    pub fn http(mut self, answer: HttpAnswer) -> Self {
        self.http = Some(answer);
        self
    }

    /// Accept only these versions.
    pub fn versions(mut self, versions: Versions) -> Self {
        self.versions = versions;
        self
    }

    /// TLS 1.2 only.
    pub fn tls12_only(self) -> Self {
        self.versions(Versions::Tls12)
    }

    /// TLS 1.3 only.
    pub fn tls13_only(self) -> Self {
        self.versions(Versions::Tls13)
    }

    /// ALPN protocols the server supports, in its order of preference (default none).
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
        self
    }

    /// An OCSP response to staple (any bytes: the prober records that one was stapled).
    pub fn ocsp(mut self, response: &[u8]) -> Self {
        self.ocsp = response.to_vec();
        self
    }

    /// Binds a random port and starts serving. Panics if it cannot.
    pub fn start(self) -> TlsServer {
        let config: ConfigSlot = Arc::new(RwLock::new(self.config()));
        let served = Arc::clone(&config);
        let log = Log::new();
        let server_log = Arc::clone(&log);
        let (bind, mode, http, port) = (self.listen.ip, self.mode, self.http, self.port);
        let (guard, addr) = server::spawn("tls", &self.listen.placement, move || async move {
            let listener = TcpListener::bind(SocketAddr::new(bind, port)).await?;
            let addr = listener.local_addr()?;
            Ok((addr, serve(listener, served, mode, http, server_log)))
        })
        .unwrap_or_else(|e| panic!("TLS server on {bind}: {e}"));
        TlsServer {
            _guard: guard,
            addr,
            log,
            config,
        }
    }

    /// The server configuration of a genuine server: its leaf, versions, ALPN and OCSP.
    fn config(&self) -> Option<Arc<ServerConfig>> {
        self.leaf
            .as_ref()
            .map(|leaf| Arc::new(self.server_config(leaf)))
    }

    fn server_config(&self, leaf: &Leaf) -> ServerConfig {
        let versions: &[&'static rustls::SupportedProtocolVersion] = match self.versions {
            Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
            Versions::Tls12 => &[&rustls::version::TLS12],
            Versions::Tls13 => &[&rustls::version::TLS13],
        };
        let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_protocol_versions(versions)
            .expect("ring supports these versions")
            .with_no_client_auth()
            .with_single_cert_with_ocsp(leaf.chain.clone(), leaf.key(), self.ocsp.clone())
            .expect("test leaf and key match");
        config.alpn_protocols = self.alpn.clone();
        config
    }
}

/// What a genuine server presents, replaceable while it runs ([`TlsServer::present`]).
type ConfigSlot = Arc<RwLock<Option<Arc<ServerConfig>>>>;

/// A running TLS server; stops on drop.
#[derive(Debug)]
pub struct TlsServer {
    _guard: ServerGuard,
    addr: SocketAddr,
    log: Arc<Log<TlsConnection>>,
    config: ConfigSlot,
}

impl TlsServer {
    /// A genuine server presenting `leaf` (TLS 1.2 and 1.3, no ALPN, no OCSP by default).
    pub fn builder(leaf: Leaf) -> TlsBuilder {
        TlsBuilder {
            leaf: Some(leaf),
            mode: Mode::Genuine,
            listen: Listen::default(),
            versions: Versions::Both,
            alpn: Vec::new(),
            ocsp: Vec::new(),
            http: None,
            port: 0,
        }
    }

    /// A server that misbehaves as `hostile` says (no certificate involved).
    pub fn hostile(hostile: Hostile) -> TlsBuilder {
        TlsBuilder {
            leaf: None,
            mode: Mode::Hostile(hostile),
            listen: Listen::default(),
            versions: Versions::Both,
            alpn: Vec::new(),
            ocsp: Vec::new(),
            http: None,
            port: 0,
        }
    }

    /// Shorthand: a genuine server for `leaf` on 127.0.0.1.
    pub fn start(leaf: Leaf) -> TlsServer {
        TlsServer::builder(leaf).start()
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port (to put in a data file or a `NAME:PORT` argument).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every connection logged so far. A genuine server logs a connection when its
    /// handshake ends, a hostile one when it is done with the connection; use
    /// [`TlsServer::wait_for_connections`] right after a client finished.
    pub fn connections(&self) -> Vec<TlsConnection> {
        self.log.snapshot()
    }

    /// Waits (up to 10 s) until `n` connections are logged, and returns all of them.
    pub fn wait_for_connections(&self, n: usize) -> Vec<TlsConnection> {
        self.log.wait_for(n, Duration::from_secs(10))
    }

    /// Presents what `builder` describes (its leaf, versions, ALPN, OCSP) to every connection
    /// from now on, on the same address and port: a certificate renewed or replaced by a
    /// middlebox, a server that stops speaking TLS 1.3. For a genuine server; the builder's
    /// listen settings, mode and HTTP answer are ignored.
    pub fn present(&self, builder: TlsBuilder) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = builder.config();
    }
}

async fn serve(
    listener: TcpListener,
    slot: ConfigSlot,
    mode: Mode,
    http: Option<HttpAnswer>,
    log: Arc<Log<TlsConnection>>,
) {
    server::accept_loop(listener, |stream| {
        // Each connection gets the configuration presented when it was accepted.
        let config = slot.read().unwrap_or_else(|p| p.into_inner()).clone();
        let (log, http) = (Arc::clone(&log), http.clone());
        async move {
            match (mode, config) {
                (Mode::Genuine, Some(config)) => genuine(stream, config, http, &log).await,
                (Mode::Hostile(Hostile::CloseAfterHello), _) => {
                    log.push(close_after_hello(stream).await)
                }
                (Mode::Hostile(Hostile::Garbage(n)), _) => log.push(garbage(stream, n).await),
                (Mode::Hostile(Hostile::Slow(interval)), _) => {
                    log.push(slow(stream, interval).await)
                }
                (Mode::Genuine, None) => {}
            }
        }
    })
    .await;
}

fn hello_record(hello: &rustls::server::ClientHello<'_>) -> TlsConnection {
    TlsConnection {
        sni: hello.server_name().map(str::to_string),
        alpn_offered: hello
            .alpn()
            .map(|protocols| {
                protocols
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        ..TlsConnection::default()
    }
}

async fn genuine(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    http: Option<HttpAnswer>,
    log: &Log<TlsConnection>,
) {
    let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), stream).await else {
        return log.push(TlsConnection::default());
    };
    let mut record = hello_record(&start.client_hello());
    let mut tls = match start.into_stream(config).await {
        Ok(tls) => tls,
        Err(_) => return log.push(record),
    };
    let (_, state) = tls.get_ref();
    record.completed = true;
    record.version = state.protocol_version().map(|v| format!("{v:?}"));
    record.alpn = state
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    if let Some(answer) = http {
        let seen = tokio::time::timeout(IDLE, read_request(&mut tls)).await;
        record.http = seen.ok().flatten();
        log.push(record);
        if !answer.hang_up {
            let _ = tls.write_all(&render(&answer)).await;
        }
        let _ = tls.shutdown().await;
        return;
    }
    log.push(record);
    // Hold the connection like a real server until the client closes, reading at most
    // READ_CAP bytes and giving up after an idle spell.
    let mut sink = tokio::io::sink();
    let mut limited = (&mut tls).take(READ_CAP);
    let _ = tokio::time::timeout(IDLE, tokio::io::copy(&mut limited, &mut sink)).await;
    let _ = tls.shutdown().await;
}

/// Most bytes of an HTTP request a server reads.
const HTTP_REQUEST_CAP: usize = 64 * 1024;

/// Reads one request: the head up to its blank line, then a body of `Content-Length`.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<HttpSeen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > HTTP_REQUEST_CAP {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next()?.to_owned();
    let headers: Vec<String> = lines.map(str::to_owned).collect();
    let mut seen = HttpSeen {
        request_line,
        headers,
        body: buf[head_end..].to_vec(),
    };
    let length: usize = seen
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(HTTP_REQUEST_CAP);
    while seen.body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        seen.body.extend_from_slice(&chunk[..n]);
    }
    seen.body.truncate(length);
    Some(seen)
}

/// The bytes of an answer.
fn render(answer: &HttpAnswer) -> Vec<u8> {
    let date =
        |at: chrono::DateTime<chrono::Utc>| at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let date = match &answer.date {
        HttpDate::Now => Some(date(chrono::Utc::now())),
        HttpDate::Offset(seconds) => Some(date(
            chrono::Utc::now() + chrono::TimeDelta::seconds(*seconds),
        )),
        HttpDate::Raw(text) => Some(text.clone()),
        HttpDate::Omitted => None,
    };
    let mut head = format!("HTTP/1.1 {} Status\r\n", answer.status);
    for line in &answer.headers {
        head.push_str(line);
        head.push_str("\r\n");
    }
    if let Some(date) = date {
        head.push_str(&format!("Date: {date}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&answer.body);
    bytes
}

async fn close_after_hello(stream: TcpStream) -> TlsConnection {
    match LazyConfigAcceptor::new(Acceptor::default(), stream).await {
        // Dropping the handshake drops the socket: the client sees the connection close.
        Ok(start) => hello_record(&start.client_hello()),
        Err(_) => TlsConnection::default(),
    }
}

async fn garbage(mut stream: TcpStream, total: usize) -> TlsConnection {
    let mut sent = 0;
    let mut chunk = [0u8; 16 * 1024];
    let mut state = 0;
    while sent < total {
        server::fill_garbage(&mut state, &mut chunk);
        let n = chunk.len().min(total - sent);
        if stream.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        sent += n;
    }
    let _ = stream.shutdown().await;
    TlsConnection {
        bytes_sent: sent,
        ..TlsConnection::default()
    }
}

async fn slow(stream: TcpStream, interval: Duration) -> TlsConnection {
    // A handshake record header announcing 16 KiB, then its body, one byte at a time: the
    // client always has a reason to wait for more.
    let (mut reader, mut writer) = stream.into_split();
    let drain = tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut (&mut reader).take(READ_CAP), &mut sink).await;
    });
    let header = [0x16u8, 0x03, 0x03, 0x40, 0x00];
    let mut sent = 0;
    loop {
        let byte = header.get(sent).copied().unwrap_or(0);
        if writer.write_all(&[byte]).await.is_err() || writer.flush().await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(interval).await;
        if drain.is_finished() {
            // The client closed its side; one more write would fail anyway.
            let _ = writer.write_all(&[0]).await;
            break;
        }
    }
    drain.abort();
    TlsConnection {
        bytes_sent: sent,
        ..TlsConnection::default()
    }
}
