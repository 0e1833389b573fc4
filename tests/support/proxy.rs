//! An HTTP CONNECT proxy, to test `--proxy` and `HTTPS_PROXY`: one that tunnels, one that
//! denies (403), one that wants credentials (407), one whose upstream fails (502, 503), one
//! that never answers, and one that says 200 and then sends garbage.
//!
//! Through a proxy DNS is the proxy's, so a tunnelling proxy resolves target names itself:
//! with the test DNS server ([`ProxyBuilder::resolve_with`]) or a fixed name-to-address map
//! ([`ProxyBuilder::map`]). Running in the test's own namespace, it only ever connects to
//! loopback addresses (anything else gets 502), so a wrong answer cannot send traffic off the
//! machine; inside a namespace the namespace is the fence.
//!
//! Every CONNECT it reads is recorded: target authority, the `Proxy-Authorization` header,
//! and the status it answered.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::dns::{DnsServer, test_resolver};
use super::server::{self, Listen, Log, ServerGuard, listen_methods};

/// Largest request head (request line and headers) the proxy reads; longer gets 431.
const HEAD_MAX: usize = 8 * 1024;
/// How long the proxy waits for the client's request head, and for its own upstream connect.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// How the proxy answers a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyMode {
    /// Tunnel to the target (200), or 502 if it cannot be resolved or reached.
    Allow,
    /// 403 Forbidden.
    Deny,
    /// 407 unless `Proxy-Authorization: Basic` carries these credentials; then as `Allow`.
    RequireAuth {
        /// Expected user name.
        user: String,
        /// Expected password.
        password: String,
    },
    /// Answers this status (502, 503, ...) and closes.
    Status(u16),
    /// Reads the request and never answers.
    Silent,
    /// Answers 200, then sends this many bytes of garbage instead of the target's bytes.
    OkThenGarbage(usize),
    /// Answers exactly these bytes (a hostile reason phrase, a header that never ends), then
    /// this many more bytes of `x` (0: none), and closes.
    Raw(Vec<u8>, usize),
}

/// One CONNECT request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The method (CONNECT, unless the client is confused).
    pub method: String,
    /// The request target: `name:port` for CONNECT.
    pub authority: String,
    /// The `Proxy-Authorization` header's value, if sent.
    pub proxy_authorization: Option<String>,
    /// The status the proxy answered (None when it stayed silent).
    pub status: Option<u16>,
}

impl ConnectRequest {
    /// True when the client sent a `Proxy-Authorization` header.
    pub fn auth_present(&self) -> bool {
        self.proxy_authorization.is_some()
    }
}

/// How a tunnelling proxy finds the target's address.
#[derive(Debug, Clone, Default)]
struct Resolution {
    dns: Option<SocketAddr>,
    map: HashMap<String, Vec<IpAddr>>,
}

/// Builds a proxy; start with [`ProxyServer::builder`] or a shorthand.
#[derive(Debug)]
pub struct ProxyBuilder {
    mode: ProxyMode,
    listen: Listen,
    resolution: Resolution,
}

impl ProxyBuilder {
    /// Resolve target names with this DNS server (A and AAAA).
    pub fn resolve_with(mut self, dns: &DnsServer) -> Self {
        self.resolution.dns = Some(dns.addr());
        self
    }

    /// Resolve target names with the DNS server at `addr`.
    pub fn resolve_with_addr(mut self, addr: SocketAddr) -> Self {
        self.resolution.dns = Some(addr);
        self
    }

    /// Resolve `name` to `addr` without DNS (tried before DNS; repeat for more addresses).
    pub fn map(mut self, name: &str, addr: IpAddr) -> Self {
        self.resolution
            .map
            .entry(name.trim_end_matches('.').to_ascii_lowercase())
            .or_default()
            .push(addr);
        self
    }

    // Inside a namespace the proxy tunnels to any address the namespace can reach.
    listen_methods!();

    /// Binds a random port and starts serving. Panics if it cannot.
    pub fn start(self) -> ProxyServer {
        let log = Log::new();
        let server_log = Arc::clone(&log);
        let bind = self.listen.ip;
        let proxy = Proxy {
            mode: self.mode,
            resolution: self.resolution,
            loopback_only: !self.listen.placement.is_netns(),
            resolver: None,
        };
        let (guard, addr) = server::spawn("proxy", &self.listen.placement, move || async move {
            let listener = TcpListener::bind(SocketAddr::new(bind, 0)).await?;
            let addr = listener.local_addr()?;
            let mut proxy = proxy;
            proxy.resolver = proxy
                .resolution
                .dns
                .map(|dns| test_resolver(dns, Duration::from_secs(2)));
            Ok((addr, serve(listener, Arc::new(proxy), server_log)))
        })
        .unwrap_or_else(|e| panic!("proxy on {bind}: {e}"));
        ProxyServer {
            _guard: guard,
            addr,
            log,
        }
    }
}

/// A running CONNECT proxy; stops on drop (closing its tunnels).
#[derive(Debug)]
pub struct ProxyServer {
    _guard: ServerGuard,
    addr: SocketAddr,
    log: Arc<Log<ConnectRequest>>,
}

impl ProxyServer {
    /// A proxy answering as `mode`, on 127.0.0.1.
    pub fn builder(mode: ProxyMode) -> ProxyBuilder {
        ProxyBuilder {
            mode,
            listen: Listen::default(),
            resolution: Resolution::default(),
        }
    }

    /// A tunnelling proxy (add `.resolve_with(&dns)` or `.map(..)`).
    pub fn allow() -> ProxyBuilder {
        ProxyServer::builder(ProxyMode::Allow)
    }

    /// A proxy that wants `user`/`password` (407 otherwise), then tunnels.
    pub fn require_auth(user: &str, password: &str) -> ProxyBuilder {
        ProxyServer::builder(ProxyMode::RequireAuth {
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `--proxy` or `HTTPS_PROXY`: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The same with credentials: `http://user:password@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Every CONNECT logged so far (logged once the proxy has answered, or decided not to).
    pub fn requests(&self) -> Vec<ConnectRequest> {
        self.log.snapshot()
    }

    /// Waits (up to 10 s) until `n` requests are logged, and returns all of them.
    pub fn wait_for_requests(&self, n: usize) -> Vec<ConnectRequest> {
        self.log.wait_for(n, Duration::from_secs(10))
    }
}

/// The proxy's behaviour, shared by its connection tasks.
struct Proxy {
    mode: ProxyMode,
    resolution: Resolution,
    loopback_only: bool,
    resolver: Option<TokioResolver>,
}

async fn serve(listener: TcpListener, proxy: Arc<Proxy>, log: Arc<Log<ConnectRequest>>) {
    server::accept_loop(listener, |stream| {
        let (proxy, log) = (Arc::clone(&proxy), Arc::clone(&log));
        async move {
            let _ = handle(stream, &proxy, &log).await;
        }
    })
    .await;
}

/// A parsed request head, plus any bytes the client sent after it (a pipelined ClientHello).
struct Head {
    method: String,
    target: String,
    proxy_authorization: Option<String>,
    rest: Vec<u8>,
}

async fn handle(mut client: TcpStream, proxy: &Proxy, log: &Log<ConnectRequest>) -> io::Result<()> {
    let head = match tokio::time::timeout(STEP_TIMEOUT, read_head(&mut client)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => return respond(&mut client, 431, "").await,
        _ => return Ok(()),
    };
    let mut record = ConnectRequest {
        method: head.method.clone(),
        authority: head.target.clone(),
        proxy_authorization: head.proxy_authorization.clone(),
        status: None,
    };
    if !head.method.eq_ignore_ascii_case("CONNECT") {
        record.status = Some(405);
        log.push(record);
        return respond(&mut client, 405, "").await;
    }
    match &proxy.mode {
        ProxyMode::Silent => {
            log.push(record);
            // Hold the connection, unanswered, until the client gives up or the proxy stops.
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut (&mut client).take(server::READ_CAP), &mut sink).await;
            Ok(())
        }
        ProxyMode::Deny => {
            record.status = Some(403);
            log.push(record);
            respond(&mut client, 403, "").await
        }
        ProxyMode::Status(code) => {
            record.status = Some(*code);
            log.push(record);
            respond(&mut client, *code, "").await
        }
        ProxyMode::Raw(bytes, filler) => {
            log.push(record);
            client.write_all(bytes).await?;
            let chunk = [b'x'; 16 * 1024];
            let mut sent = 0;
            while sent < *filler {
                let n = chunk.len().min(filler - sent);
                client.write_all(&chunk[..n]).await?;
                sent += n;
            }
            client.shutdown().await
        }
        ProxyMode::OkThenGarbage(total) => {
            record.status = Some(200);
            log.push(record);
            respond(&mut client, 200, "").await?;
            let mut state = 0;
            let mut chunk = [0u8; 16 * 1024];
            let mut sent = 0;
            while sent < *total {
                server::fill_garbage(&mut state, &mut chunk);
                let n = chunk.len().min(total - sent);
                client.write_all(&chunk[..n]).await?;
                sent += n;
            }
            client.shutdown().await
        }
        ProxyMode::RequireAuth { user, password }
            if head.proxy_authorization.as_deref().map(str::trim)
                != Some(
                    format!("Basic {}", base64(format!("{user}:{password}").as_bytes())).as_str(),
                ) =>
        {
            record.status = Some(407);
            log.push(record);
            respond(
                &mut client,
                407,
                "Proxy-Authenticate: Basic realm=\"egress-test\"\r\n",
            )
            .await
        }
        ProxyMode::Allow | ProxyMode::RequireAuth { .. } => {
            let Some(mut upstream) = connect_upstream(proxy, &head.target).await else {
                record.status = Some(502);
                log.push(record);
                return respond(&mut client, 502, "").await;
            };
            record.status = Some(200);
            log.push(record);
            respond(&mut client, 200, "").await?;
            upstream.write_all(&head.rest).await?;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            Ok(())
        }
    }
}

/// Reads up to the blank line that ends the head; None when it does not fit in HEAD_MAX.
async fn read_head(client: &mut TcpStream) -> io::Result<Option<Head>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() >= HEAD_MAX {
            return Ok(None);
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or_default().to_string();
    let proxy_authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_string())
    });
    Ok(Some(Head {
        method,
        target,
        proxy_authorization,
        rest: buf[end + 4..].to_vec(),
    }))
}

async fn respond(client: &mut TcpStream, status: u16, headers: &str) -> io::Result<()> {
    let reason = match status {
        200 => "Connection established",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Test Status",
    };
    let response = if status == 200 {
        format!("HTTP/1.1 200 {reason}\r\n\r\n")
    } else {
        let body = format!("egress test proxy: {status} {reason}\n");
        format!(
            "HTTP/1.1 {status} {reason}\r\n{headers}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    client.write_all(response.as_bytes()).await?;
    if status != 200 {
        client.shutdown().await?;
        // Lingering close: closing with unread input would send RST, which can destroy the
        // answer before the client reads it. Drain a bounded amount, briefly.
        let mut sink = tokio::io::sink();
        let mut rest = (&mut *client).take(server::READ_CAP);
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::io::copy(&mut rest, &mut sink),
        )
        .await;
    }
    Ok(())
}

/// Resolves and connects to `authority` (`name:port`, `ip:port`, `[v6]:port`), trying each
/// address in turn; None when nothing answered.
async fn connect_upstream(proxy: &Proxy, authority: &str) -> Option<TcpStream> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![ip]
    } else if let Some(mapped) = proxy
        .resolution
        .map
        .get(&host.trim_end_matches('.').to_ascii_lowercase())
    {
        mapped.clone()
    } else if let Some(resolver) = &proxy.resolver {
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        resolver.lookup_ip(fqdn).await.ok()?.iter().collect()
    } else {
        return None;
    };
    for ip in addrs {
        if proxy.loopback_only && !ip.is_loopback() {
            // Outside a namespace the proxy reaches loopback only, whatever DNS said.
            continue;
        }
        let addr = SocketAddr::new(ip, port);
        if let Ok(Ok(stream)) = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr)).await {
            return Some(stream);
        }
    }
    None
}

/// Standard base64 with padding (for `Proxy-Authorization: Basic`): the same crate the
/// client encodes with, checked against RFC 4648's vectors by the harness self-test.
pub fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}
