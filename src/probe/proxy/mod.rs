//! HTTP CONNECT through a proxy: the exchange, and what the proxy's answer means.
//!
//! Through a proxy the proxy resolves the name and opens the connection, so the probe sees
//! only the proxy's answer. Its answers are kept apart (`403` denied, `407` credentials
//! wanted, `502`/`504` target unreachable from the proxy, `503` unavailable, no answer in
//! time, anything else) because each asks for a different change. The answer is read with a
//! bound, so a proxy that floods or trickles cannot stall a run. Which proxy, and for which
//! names, is [`config`]'s business; what a 407 asks for, [`auth`]'s.

pub mod auth;
mod config;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub use config::{
    DEFAULT_PROXY_PORT, NoProxy, ProxyConfig, ProxyEnv, ProxySettings, ProxyUrlError,
};

use crate::catalog::{DnsName, Port};
use crate::probe::StepLimit;
use crate::probe::model::{TcpObservation, TcpState};
use crate::term::sanitize;

/// Largest proxy answer header read: 16 KiB. A longer header is a broken or hostile proxy.
pub const MAX_PROXY_HEADER_BYTES: usize = 16 * 1024;
/// Characters of a proxy's answer quoted in a message.
const QUOTE_CHARS: usize = 80;

/// How a CONNECT answer header reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProxyAnswer {
    /// The header is not complete yet.
    Incomplete,
    /// A status line: code, reason, and the length of the header including its blank line.
    Status {
        code: u16,
        reason: String,
        header_len: usize,
    },
    /// Not an HTTP answer.
    Garbage(String),
}

/// Reads what a proxy sent so far.
pub(crate) fn parse_answer(buf: &[u8]) -> ProxyAnswer {
    // A status line that is not HTTP is garbage as soon as enough of it is there to tell.
    let prefix = b"HTTP/1.";
    let seen = buf.len().min(prefix.len());
    if buf.get(..seen) != prefix.get(..seen) {
        return ProxyAnswer::Garbage(quote(buf));
    }
    let Some(header_len) = header_end(buf) else {
        return ProxyAnswer::Incomplete;
    };
    let header = String::from_utf8_lossy(buf.get(..header_len).unwrap_or_default());
    let status_line = header.lines().next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let code = parts.next().and_then(|c| {
        if c.len() == 3 {
            c.parse::<u16>().ok()
        } else {
            None
        }
    });
    match code {
        Some(code) if (100..600).contains(&code) => ProxyAnswer::Status {
            code,
            reason: sanitize(parts.next().unwrap_or_default().trim())
                .chars()
                .take(QUOTE_CHARS)
                .collect(),
            header_len,
        },
        _ => ProxyAnswer::Garbage(quote(buf)),
    }
}

/// End of the header: after `\r\n\r\n` (or a bare `\n\n`).
fn header_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn quote(buf: &[u8]) -> String {
    let text: String =
        String::from_utf8_lossy(buf.get(..QUOTE_CHARS.min(buf.len())).unwrap_or_default())
            .into_owned();
    format!("\"{}\"", sanitize(&text))
}

/// The state a CONNECT status stands for.
pub(crate) fn state_for_status(code: u16) -> TcpState {
    match code {
        200..=299 => TcpState::Open,
        403 => TcpState::ProxyDenied,
        407 => TcpState::ProxyAuthRequired,
        502 | 504 => TcpState::ProxyBadGateway,
        503 => TcpState::ProxyUnavailable,
        _ => TcpState::ProxyError,
    }
}

fn status_hint(code: u16) -> &'static str {
    match code {
        200..=299 => "",
        403 => ": the proxy's policy does not allow this destination",
        407 => ": the proxy wants credentials (http://user:pass@host:port)",
        502 => ": the proxy could not connect to the destination",
        504 => ": the proxy's connection to the destination timed out",
        503 => ": the proxy is unavailable",
        _ => ": unexpected answer to CONNECT",
    }
}

/// What a 407 says: the schemes it asks for, and what was sent.
fn auth_hint(schemes: &[String], sent: bool) -> String {
    let asks = if schemes.is_empty() {
        ": the proxy wants credentials but names no scheme".to_owned()
    } else {
        format!(": it asks for {}", schemes.join(", "))
    };
    let sent = if sent {
        "; the Basic credentials of the proxy URL were sent and refused"
    } else {
        ""
    };
    format!("{asks}{sent}")
}

/// A tunnel through the proxy, ready for TLS: the stream and any bytes the proxy sent after
/// its header (they belong to the TLS server).
pub(crate) struct Tunnel {
    pub stream: TcpStream,
    pub leftover: Vec<u8>,
}

/// Opens a CONNECT tunnel to `name:port` through the proxy at `addrs`: connect within
/// `limit`, then the answer header within `limit` again.
pub(crate) async fn connect_via(
    proxy: &ProxyConfig,
    addrs: &[SocketAddr],
    name: &DnsName,
    port: Port,
    limit: impl Fn() -> StepLimit,
) -> (TcpObservation, Option<Tunnel>) {
    let start = Instant::now();
    let done = |state: TcpState, status: Option<u16>, message: String| TcpObservation {
        state,
        ms: super::elapsed_ms(start),
        message: Some(message),
        proxy_status: status,
        proxy_auth: Vec::new(),
    };
    let mut stream = None;
    let mut failure = format!("the proxy {proxy} has no address");
    for addr in addrs {
        let (obs, connected) = super::tcp::connect(*addr, limit()).await;
        match connected {
            Some(s) => {
                stream = Some(s);
                break;
            }
            None => {
                failure = format!(
                    "cannot connect to the proxy {proxy} ({addr}): {}",
                    obs.message.unwrap_or_default()
                );
            }
        }
    }
    let Some(mut stream) = stream else {
        return (done(TcpState::ProxyError, None, failure), None);
    };
    let mut request = format!(
        "CONNECT {name}:{port} HTTP/1.1\r\nHost: {name}:{port}\r\nUser-Agent: egresscheck/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(auth) = proxy.authorization() {
        request.push_str("Proxy-Authorization: ");
        request.push_str(auth);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let limit = limit();
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        read_answer(&mut stream).await
    };
    let answer = match tokio::time::timeout(limit.duration, exchange).await {
        Err(_) => {
            return (
                done(
                    TcpState::ProxyTimeout,
                    None,
                    format!(
                        "the proxy {proxy} did not answer CONNECT {}",
                        limit.describe()
                    ),
                ),
                None,
            );
        }
        Ok(Err(err)) => {
            return (
                done(
                    TcpState::ProxyError,
                    None,
                    format!(
                        "the proxy {proxy} failed during CONNECT: {}",
                        sanitize(&err.to_string())
                    ),
                ),
                None,
            );
        }
        Ok(Ok(answer)) => answer,
    };
    match answer {
        Answer::Status {
            code,
            reason,
            leftover,
            schemes,
        } => {
            let state = state_for_status(code);
            let hint = match code {
                407 => auth_hint(&schemes, proxy.has_credentials()),
                _ => status_hint(code).to_owned(),
            };
            let message = format!("the proxy {proxy} answered {code} {reason}{hint}");
            let mut obs = done(state, Some(code), message);
            if code == 407 {
                obs.proxy_auth = schemes;
            }
            if state == TcpState::Open {
                obs.message = None;
                (obs, Some(Tunnel { stream, leftover }))
            } else {
                (obs, None)
            }
        }
        Answer::Garbage(quoted) => (
            done(
                TcpState::ProxyError,
                None,
                format!(
                    "the proxy {proxy} answered CONNECT with something that is not HTTP: {quoted}"
                ),
            ),
            None,
        ),
        Answer::TooLong => (
            done(
                TcpState::ProxyError,
                None,
                format!(
                    "the proxy {proxy} sent an answer header over {MAX_PROXY_HEADER_BYTES} bytes"
                ),
            ),
            None,
        ),
        Answer::Closed => (
            done(
                TcpState::ProxyError,
                None,
                format!("the proxy {proxy} closed the connection without answering CONNECT"),
            ),
            None,
        ),
    }
}

enum Answer {
    Status {
        code: u16,
        reason: String,
        leftover: Vec<u8>,
        /// The schemes of its `Proxy-Authenticate` headers.
        schemes: Vec<String>,
    },
    Garbage(String),
    TooLong,
    Closed,
}

async fn read_answer(stream: &mut TcpStream) -> std::io::Result<Answer> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(match parse_answer(&buf) {
                ProxyAnswer::Garbage(quoted) if !buf.is_empty() => Answer::Garbage(quoted),
                _ => Answer::Closed,
            });
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        match parse_answer(&buf) {
            ProxyAnswer::Incomplete if buf.len() > MAX_PROXY_HEADER_BYTES => {
                return Ok(Answer::TooLong);
            }
            ProxyAnswer::Incomplete => {}
            ProxyAnswer::Garbage(quoted) => return Ok(Answer::Garbage(quoted)),
            ProxyAnswer::Status {
                code,
                reason,
                header_len,
            } => {
                let leftover = buf.get(header_len..).unwrap_or_default().to_vec();
                let header = String::from_utf8_lossy(buf.get(..header_len).unwrap_or_default());
                return Ok(Answer::Status {
                    code,
                    reason,
                    leftover,
                    schemes: auth::schemes(&header),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_into_status_incomplete_or_garbage() {
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03"),
            ProxyAnswer::Status {
                code: 200,
                reason: "Connection established".into(),
                header_len: 39
            }
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\nVia: x\r\n"),
            ProxyAnswer::Incomplete
        );
        assert_eq!(parse_answer(b"HTT"), ProxyAnswer::Incomplete);
        assert_eq!(parse_answer(b""), ProxyAnswer::Incomplete);
        assert!(matches!(
            parse_answer(b"SSH-2.0-OpenSSH\r\n"),
            ProxyAnswer::Garbage(_)
        ));
        assert!(matches!(
            parse_answer(b"HTTP/1.1 2000 x\r\n\r\n"),
            ProxyAnswer::Garbage(_)
        ));
        assert!(matches!(
            parse_answer(b"HTTP/1.0 407\n\n"),
            ProxyAnswer::Status { code: 407, .. }
        ));
        // Escape sequences in the reason are made inert.
        match parse_answer(b"HTTP/1.1 403 \x1b[31mno\r\n\r\n") {
            ProxyAnswer::Status { reason, .. } => assert!(!reason.contains('\x1b')),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_map_to_states() {
        assert_eq!(state_for_status(200), TcpState::Open);
        assert_eq!(state_for_status(403), TcpState::ProxyDenied);
        assert_eq!(state_for_status(407), TcpState::ProxyAuthRequired);
        assert_eq!(state_for_status(502), TcpState::ProxyBadGateway);
        assert_eq!(state_for_status(504), TcpState::ProxyBadGateway);
        assert_eq!(state_for_status(503), TcpState::ProxyUnavailable);
        assert_eq!(state_for_status(500), TcpState::ProxyError);
        assert_eq!(state_for_status(301), TcpState::ProxyError);
    }
}
