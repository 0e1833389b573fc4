//! HTTP after TLS: one HTTP/1.1 exchange over the connection the probe itself handshook.
//!
//! An open port and a genuine certificate do not yet say that the provider answers: a proxy
//! that inspects TLS may serve its own block page, a gateway may answer 403, and a host whose
//! clock is off cannot get a token although every path is open. So, where the data file asks
//! for it, the probe sends one request over the completed TLS connection (hyper's client
//! connection over [`TlsStream`]) and records what came back: status, the headers an admin
//! acts on, the server's clock against ours, the body's first line, and whether a JSON body
//! holds the keys it should. Every read is bounded in bytes (header and body) and time.
//!
//! [`exchange`] is the step; it is public, with [`HttpRequest`] and [`HttpResponse`], so that
//! a command that needs one request over the probe path (a token request) uses the same HTTP
//! and TLS code as `check` (see [`super::fetch`]).
//!
//! A request's body and an answer's body may be secrets (a signed grant; an access token), so
//! the copies this module makes are wiped when the last reference to them goes: the body is
//! collected into a [`Zeroizing`] buffer that wipes the old one whenever it grows, and both
//! bodies are [`Bytes`] owning a [`Zeroizing`] vector. What hyper and rustls buffer on their
//! own (the read buffer a body frame is cut from, TLS records) is out of reach.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::catalog::{DnsName, Port};
use crate::probe::StepLimit;
use crate::probe::model::{ClockReading, HttpFailure, HttpObservation};
use crate::probe::stream::TlsStream;
use crate::term::sanitize;

/// Largest answer header read (status line and headers): 64 KiB. hyper's own floor is 8 KiB.
pub const MAX_HTTP_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields read from one answer.
pub const MAX_HTTP_HEADERS: usize = 100;
/// Largest request body sent (a token request's form): 64 KiB.
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;
/// TLS records, tickets and alerts read beyond the header and body bounds before the
/// connection is cut: 64 KiB.
const STREAM_SLACK_BYTES: usize = 64 * 1024;
/// Characters kept of the body's first line, a header value, a title.
const QUOTE_CHARS: usize = 160;
/// Header names and JSON keys recorded per answer.
const MAX_NAMES: usize = 64;
/// Characters kept of one header name or JSON key.
const NAME_CHARS: usize = 64;

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP request: {0}")]
pub struct HttpRequestError(pub String);

/// An HTTP method the probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the answer has no body.
    Head,
    /// `POST` (a token request).
    Post,
}

impl Method {
    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
        }
    }

    fn hyper(self) -> hyper::Method {
        match self {
            Method::Get => hyper::Method::GET,
            Method::Head => hyper::Method::HEAD,
            Method::Post => hyper::Method::POST,
        }
    }
}

/// One request: method, path, extra headers and a small body. Built only through its
/// checked constructors, so that nothing it holds can break out of its place in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl HttpRequest {
    /// The request of a data file's HTTP check.
    pub fn for_check(check: &crate::catalog::HttpCheck) -> Result<Self, HttpRequestError> {
        let method = match check.method {
            crate::catalog::HttpMethod::Get => Method::Get,
            crate::catalog::HttpMethod::Head => Method::Head,
        };
        HttpRequest::new(method, &check.path)
    }

    /// A request with no body. `path` starts with `/` and holds only the characters of a URL
    /// path and query (RFC 3986), at most [`crate::catalog::MAX_HTTP_PATH_CHARS`].
    pub fn new(method: Method, path: &str) -> Result<Self, HttpRequestError> {
        check_path(path)?;
        Ok(HttpRequest {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        })
    }

    /// A `POST` of `body` (at most [`MAX_REQUEST_BODY_BYTES`]) as `content_type`, e.g. a
    /// token request's `application/x-www-form-urlencoded` form.
    pub fn post(path: &str, content_type: &str, body: Vec<u8>) -> Result<Self, HttpRequestError> {
        if body.len() > MAX_REQUEST_BODY_BYTES {
            return Err(HttpRequestError(format!(
                "the body is {} bytes, more than {MAX_REQUEST_BODY_BYTES}",
                body.len()
            )));
        }
        let mut request = HttpRequest::new(Method::Post, path)?;
        request.body = wiping_bytes(Zeroizing::new(body));
        request.with_header("content-type", content_type)
    }

    /// Adds a header (`Accept`, `Authorization`, …). `Host`, `Content-Length`, `Connection`
    /// and `Transfer-Encoding` are the exchange's own and refused here.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, HttpRequestError> {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpRequestError(format!("{:?} is not a header name", sanitize(name))))?;
        if [
            hyper::header::HOST,
            hyper::header::CONTENT_LENGTH,
            hyper::header::CONNECTION,
            hyper::header::TRANSFER_ENCODING,
        ]
        .contains(&header)
        {
            return Err(HttpRequestError(format!(
                "the {header} header is set by the exchange itself"
            )));
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            HttpRequestError(format!(
                "the value of {header} holds characters a header cannot carry"
            ))
        })?;
        self.headers.push((header, value));
        Ok(self)
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path and query.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The catalog's path grammar (the loader checks data files with the same function).
fn check_path(path: &str) -> Result<(), HttpRequestError> {
    crate::catalog::check_http_path(path)
        .map_err(|why| HttpRequestError(format!("the path {:?}: {why}", sanitize(path))))
}

/// The answer, for a caller that needs more than the observation (a token response's JSON).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, as hyper read them (at most [`MAX_HTTP_HEADERS`], within
    /// [`MAX_HTTP_HEADER_BYTES`]).
    pub headers: HeaderMap,
    /// The body, at most the exchange's body bound.
    pub body: Bytes,
    /// True when the body was longer than the bound (the rest was not read).
    pub body_truncated: bool,
}

/// What one exchange gives: the observation (always) and the answer (when one came).
#[derive(Debug, Clone)]
pub struct HttpExchange {
    /// What the report shows.
    pub observation: HttpObservation,
    /// The answer itself.
    pub response: Option<HttpResponse>,
}

/// Bounds of one exchange.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time for the whole exchange: request sent, header and body read.
    pub limit: StepLimit,
    /// Body bytes read; the rest is left unread and the answer marked truncated.
    pub max_body_bytes: usize,
}

/// Sends `request` to `host:port` over `stream` (a completed TLS connection to that host)
/// and reads the answer within `limits`. Never fails: every outcome is an observation. The
/// connection is closed afterwards.
pub async fn exchange(
    stream: TlsStream,
    host: &DnsName,
    port: Port,
    request: &HttpRequest,
    limits: HttpLimits,
) -> HttpExchange {
    let start = Instant::now();
    let sent = Utc::now();
    let mut observation = empty_observation(request);
    let outcome = tokio::time::timeout(
        limits.limit.duration,
        send(stream, host, port, request, limits.max_body_bytes),
    )
    .await;
    observation.ms = super::elapsed_ms(start);
    let answer = match outcome {
        Ok(Ok(answer)) => answer,
        Ok(Err(Failed { failure, message })) => {
            observation.failure = Some(failure);
            observation.error = Some(message);
            return HttpExchange {
                observation,
                response: None,
            };
        }
        Err(_) => {
            observation.failure = Some(HttpFailure::Timeout);
            observation.error = Some(format!(
                "no complete HTTP answer {}",
                limits.limit.describe()
            ));
            return HttpExchange {
                observation,
                response: None,
            };
        }
    };
    describe(&mut observation, &answer, sent);
    if let Some(problem) = &answer.body_error {
        observation.failure = Some(problem.failure);
        observation.error = Some(problem.message.clone());
    }
    HttpExchange {
        observation,
        response: Some(answer.response),
    }
}

/// The exchange of a request that was not sent, saying why.
pub(crate) fn not_sent(request: &HttpRequest, why: &str) -> HttpExchange {
    let mut observation = empty_observation(request);
    observation.failure = Some(HttpFailure::NotSent);
    observation.error = Some(why.to_owned());
    HttpExchange {
        observation,
        response: None,
    }
}

/// The observation of `request` before anything came back.
fn empty_observation(request: &HttpRequest) -> HttpObservation {
    HttpObservation {
        method: request.method.as_str().to_owned(),
        path: request.path.clone(),
        status: None,
        ms: 0.0,
        server: None,
        content_type: None,
        location: None,
        date: None,
        clock: None,
        proxy_headers: Vec::new(),
        headers: Vec::new(),
        body_bytes: 0,
        body_truncated: false,
        body_first_line: None,
        html_title: None,
        json_keys: None,
        error: None,
        failure: None,
    }
}

/// Appends `data` to `buffer`; when it must grow, the bytes move to a new buffer and the old
/// one is wiped (a plain `Vec` would leave them behind in the memory it frees).
fn append_wiping(buffer: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    let needed = buffer.len().saturating_add(data.len());
    if needed > buffer.capacity() {
        let mut grown = Zeroizing::new(Vec::with_capacity(
            needed.max(buffer.capacity().saturating_mul(2)),
        ));
        grown.extend_from_slice(buffer);
        // The old buffer is wiped as it drops here.
        *buffer = grown;
    }
    buffer.extend_from_slice(data);
}

/// A body as [`Bytes`] that wipes `buffer` when its last reference drops.
fn wiping_bytes(buffer: Zeroizing<Vec<u8>>) -> Bytes {
    Bytes::from_owner(buffer)
}

/// A failed exchange, in the observation's words.
#[derive(Debug)]
struct Failed {
    failure: HttpFailure,
    message: String,
}

/// An answer as read: the response, when its header arrived, and what cut its body short.
struct Answer {
    response: HttpResponse,
    received: DateTime<Utc>,
    body_error: Option<Failed>,
}

async fn send(
    stream: TlsStream,
    host: &DnsName,
    port: Port,
    request: &HttpRequest,
    max_body_bytes: usize,
) -> Result<Answer, Failed> {
    let mut builder = hyper::client::conn::http1::Builder::new();
    builder
        .max_buf_size(MAX_HTTP_HEADER_BYTES.max(MIN_HYPER_BUFFER))
        .max_header_size(MAX_HTTP_HEADER_BYTES)
        .max_headers(MAX_HTTP_HEADERS);
    let (mut sender, connection) = builder
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|err| failed(&err))?;
    let authority = if port.get() == 443 {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    let mut outgoing = hyper::Request::builder()
        .method(request.method.hyper())
        .uri(request.path.as_str())
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONNECTION, "close");
    // The caller's headers, then defaults for what it left out.
    for (name, value) in &request.headers {
        outgoing = outgoing.header(name, value);
    }
    let defaults = [
        (
            hyper::header::USER_AGENT,
            concat!("egresscheck/", env!("CARGO_PKG_VERSION")),
        ),
        (hyper::header::ACCEPT, "*/*"),
    ];
    for (name, value) in defaults {
        if !request.headers.iter().any(|(given, _)| *given == name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let outgoing = outgoing
        .body(Full::new(request.body.clone()))
        .map_err(|err| Failed {
            failure: HttpFailure::NotSent,
            message: sanitize(&err.to_string()),
        })?;
    let read = async {
        let response = sender
            .send_request(outgoing)
            .await
            .map_err(|err| failed(&err))?;
        let received = Utc::now();
        let (parts, mut body) = response.into_parts();
        let mut collected: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
        let mut body_truncated = false;
        let mut body_error = None;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        let room = max_body_bytes.saturating_sub(collected.len());
                        append_wiping(
                            &mut collected,
                            data.get(..room.min(data.len())).unwrap_or_default(),
                        );
                        if data.len() > room {
                            body_truncated = true;
                            break;
                        }
                    }
                }
                Err(err) => {
                    body_error = Some(failed(&err));
                    break;
                }
            }
        }
        Ok::<_, Failed>(Answer {
            response: HttpResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: wiping_bytes(collected),
                body_truncated,
            },
            received,
            body_error,
        })
    };
    // The connection future does the reading and writing; the request future waits on it.
    // Once the connection ends (the server closed after a complete answer, say), what it read
    // is already handed over, so the request future is awaited on its own.
    let mut connection = std::pin::pin!(connection);
    let mut read = std::pin::pin!(read);
    tokio::select! {
        answer = &mut read => answer,
        ended = &mut connection => match ended {
            Ok(()) => read.await,
            Err(err) => match read.await {
                Ok(answer) => Ok(answer),
                Err(_) => Err(failed(&err)),
            },
        },
    }
}

/// hyper's smallest accepted read buffer (`max_buf_size` panics below it).
const MIN_HYPER_BUFFER: usize = 8192;

/// A hyper error in the observation's words.
fn failed(err: &hyper::Error) -> Failed {
    let io = io_source(err);
    // hyper says "message head is too large" (its `is_parse_too_large` exists only with its
    // server side).
    let too_large = err.is_parse() && err.to_string().contains("too large");
    let (failure, message) = if too_large {
        (
            HttpFailure::TooLarge,
            format!(
                "the answer's header is larger than {MAX_HTTP_HEADER_BYTES} bytes or has more than {MAX_HTTP_HEADERS} fields"
            ),
        )
    } else if io.is_some_and(TlsStream::is_budget_error) {
        (
            HttpFailure::TooLarge,
            "the server sent more than the probe reads".to_owned(),
        )
    } else if err.is_parse() || err.is_parse_status() || err.is_parse_version_h2() {
        (
            HttpFailure::NotHttp,
            format!(
                "the answer is not HTTP/1.1 ({})",
                sanitize(&err.to_string())
            ),
        )
    } else if err.is_incomplete_message() || err.is_closed() || err.is_canceled() {
        (
            HttpFailure::Closed,
            "the server closed the connection before a complete HTTP answer".to_owned(),
        )
    } else if let Some(io) = io {
        (
            HttpFailure::Io,
            format!(
                "the connection failed during the HTTP exchange: {}",
                sanitize(&io.to_string())
            ),
        )
    } else {
        (HttpFailure::Io, sanitize(&err.to_string()))
    };
    Failed { failure, message }
}

fn io_source(err: &hyper::Error) -> Option<&io::Error> {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = cause.source();
    }
    None
}

/// Headers that only a proxy or gateway adds: their presence on an answer says that
/// something between this host and the provider answered or passed it on.
const PROXY_HEADERS: [&str; 5] = [
    "via",
    "proxy-status",
    "x-squid-error",
    "x-bluecoat-via",
    "proxy-connection",
];

/// Fills `observation` from an answer read in full (or up to the body bound).
fn describe(observation: &mut HttpObservation, answer: &Answer, sent: DateTime<Utc>) {
    let response = &answer.response;
    let headers = &response.headers;
    let text = |name: &str| {
        headers.get(name).map(|v| {
            cut(
                &sanitize(&String::from_utf8_lossy(v.as_bytes())),
                QUOTE_CHARS,
            )
        })
    };
    observation.status = Some(response.status);
    observation.server = text("server");
    observation.content_type = text("content-type");
    observation.location = text("location");
    observation.date = text("date");
    observation.clock = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .map(|server| ClockReading::new(server, sent, answer.received));
    observation.proxy_headers = headers
        .iter()
        .filter(|(name, _)| PROXY_HEADERS.contains(&name.as_str()))
        .take(MAX_NAMES)
        .map(|(name, value)| {
            format!(
                "{}: {}",
                canonical(name.as_str()),
                cut(
                    &sanitize(&String::from_utf8_lossy(value.as_bytes())),
                    QUOTE_CHARS
                )
            )
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    for name in headers.keys() {
        let name = cut(name.as_str(), NAME_CHARS);
        if names.len() < MAX_NAMES && !names.contains(&name) {
            names.push(name);
        }
    }
    observation.headers = names;
    observation.body_bytes = response.body.len();
    observation.body_truncated = response.body_truncated;
    let body = String::from_utf8_lossy(&response.body);
    observation.body_first_line = body
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| cut(&sanitize(line), QUOTE_CHARS));
    observation.html_title = html_title(&body);
    if !response.body_truncated {
        observation.json_keys = json_keys(&response.body);
    }
}

/// `Proxy-Status` for `proxy-status`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The first `max` characters of `text`, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

/// The text of the first `<title>` element, whitespace collapsed.
fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let content = open + lower.get(open..)?.find('>')? + 1;
    let close = content + lower.get(content..)?.find("</title")?;
    let title: Vec<&str> = body.get(content..close)?.split_whitespace().collect();
    let title = title.join(" ");
    (!title.is_empty()).then(|| cut(&sanitize(&title), QUOTE_CHARS))
}

/// The top-level keys of a body that is one complete JSON object.
fn json_keys(body: &[u8]) -> Option<Vec<String>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    Some(
        value
            .keys()
            .take(MAX_NAMES)
            .map(|key| cut(&sanitize(key), NAME_CHARS))
            .collect(),
    )
}

/// An HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime
/// forms a recipient must accept.
pub fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc2822(text) {
        return Some(date.with_timezone(&Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// The time an exchange may take by default; see `ProbeOptions::http_timeout`.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes a [`TlsStream`] may read for an exchange whose body is bounded by `max_body_bytes`.
pub fn stream_budget(max_body_bytes: usize) -> usize {
    MAX_HTTP_HEADER_BYTES
        .saturating_add(max_body_bytes)
        .saturating_add(STREAM_SLACK_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_collected_in_pieces_is_whole_and_bounded_by_its_own_growth() {
        let mut buffer = Zeroizing::new(Vec::new());
        let mut expected = Vec::new();
        for piece in 0..200u8 {
            let data = vec![piece; usize::from(piece) * 7 + 1];
            append_wiping(&mut buffer, &data);
            expected.extend_from_slice(&data);
        }
        assert_eq!(buffer.as_slice(), expected.as_slice());
        assert!(
            buffer.capacity() <= 2 * expected.len(),
            "{}",
            buffer.capacity()
        );
        // Request and answer bodies own wiping buffers and read as what was given.
        let request = HttpRequest::post("/token", "text/plain", b"secret".to_vec()).unwrap();
        assert_eq!(&request.body[..], b"secret");
        assert_eq!(&wiping_bytes(buffer)[..], expected.as_slice());
    }

    /// A secret-looking stretch of bytes.
    const NEEDLE: &[u8; 24] = b"access_token=eyJ-SECRET-";

    /// 4 KiB of [`NEEDLE`]: small enough to stay on the heap once freed.
    fn marker() -> Vec<u8> {
        NEEDLE.repeat(170)
    }

    /// Reads this process's memory through /proc/self/mem. Opened, and its buffer allocated
    /// (of another size), before the memory to look at is freed, so that neither reuses it.
    struct Peek {
        mem: std::fs::File,
        left: Vec<u8>,
    }

    impl Peek {
        fn new() -> Peek {
            Peek {
                mem: std::fs::File::open("/proc/self/mem").unwrap(),
                left: vec![0; 3 * 4096],
            }
        }

        /// True when a stretch of [`NEEDLE`] is left at `address` (`len` bytes), past the
        /// allocator's own bookkeeping at the start of a freed block.
        fn holds_marker(&mut self, address: usize, len: usize) -> bool {
            use std::io::{Read, Seek, SeekFrom};
            let left = &mut self.left[..len];
            self.mem.seek(SeekFrom::Start(address as u64)).unwrap();
            self.mem.read_exact(left).unwrap();
            left[64..].windows(NEEDLE.len()).any(|w| w == NEEDLE)
        }
    }

    #[test]
    fn secret_bodies_leave_nothing_behind_in_freed_memory() {
        // The proof that the peek sees what a plain Vec leaves in freed memory.
        let mut peek = Peek::new();
        let plain = marker();
        let (address, len) = (plain.as_ptr() as usize, plain.len());
        drop(plain);
        assert!(peek.holds_marker(address, len), "a plain Vec's leftovers");

        // A body that grows: the buffer it outgrew is wiped.
        let mut peek = Peek::new();
        let mut buffer = Zeroizing::new(Vec::new());
        append_wiping(&mut buffer, &marker());
        let (address, len) = (buffer.as_ptr() as usize, buffer.len());
        let more = marker();
        append_wiping(&mut buffer, &more);
        assert!(!peek.holds_marker(address, len), "the outgrown buffer");

        // The answer's bytes, once the last reference goes.
        let mut peek = Peek::new();
        let (address, len) = (buffer.as_ptr() as usize, buffer.len());
        let body = wiping_bytes(buffer);
        let copy = body.clone();
        drop(body);
        assert_eq!(copy.len(), len);
        drop(copy);
        assert!(!peek.holds_marker(address, len), "the answer's body");

        // A request's body.
        let mut peek = Peek::new();
        let request = HttpRequest::post("/token", "text/plain", marker()).unwrap();
        let (address, len) = (request.body.as_ptr() as usize, request.body.len());
        drop(request);
        assert!(!peek.holds_marker(address, len), "the request's body");
    }

    #[test]
    fn http_dates_parse_in_all_three_forms() {
        let expected: DateTime<Utc> = "1994-11-06T08:49:37Z".parse().unwrap();
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(text), Some(expected), "{text}");
        }
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn paths_and_headers_are_checked() {
        assert!(HttpRequest::new(Method::Get, "/.well-known/oauth-authorization-server").is_ok());
        assert!(HttpRequest::new(Method::Get, "/a?b=c%20d").is_ok());
        for bad in ["", "relative", "/a b", "/a\r\nHost: x", "/#frag", "/ä"] {
            assert!(HttpRequest::new(Method::Get, bad).is_err(), "{bad:?}");
        }
        let long = format!("/{}", "a".repeat(crate::catalog::MAX_HTTP_PATH_CHARS));
        assert!(HttpRequest::new(Method::Get, &long).is_err());
        let request = HttpRequest::new(Method::Get, "/").unwrap();
        assert!(
            request
                .clone()
                .with_header("accept", "application/json")
                .is_ok()
        );
        assert!(request.clone().with_header("host", "evil.example").is_err());
        assert!(request.clone().with_header("bad name", "x").is_err());
        assert!(request.with_header("x-a", "line\r\nbreak").is_err());
        assert!(
            HttpRequest::post(
                "/token",
                "application/x-www-form-urlencoded",
                vec![b'a'; MAX_REQUEST_BODY_BYTES + 1]
            )
            .is_err()
        );
    }

    #[test]
    fn titles_keys_and_names_are_read_and_bounded() {
        assert_eq!(
            html_title("<html><head><TITLE>\n Access  Denied </title>").as_deref(),
            Some("Access Denied")
        );
        assert_eq!(html_title("<title></title>"), None);
        assert_eq!(html_title("no markup"), None);
        assert_eq!(
            json_keys(br#" {"issuer": "https://x/", "token_endpoint": "https://x/token"}"#),
            Some(vec!["issuer".to_owned(), "token_endpoint".to_owned()])
        );
        assert_eq!(json_keys(b"[1, 2]"), None);
        assert_eq!(json_keys(br#"{"issuer": "#), None, "incomplete");
        assert_eq!(canonical("proxy-status"), "Proxy-Status");
        assert_eq!(cut("abcdef", 3), "abc…");
    }

    #[test]
    fn clock_readings_allow_for_resolution_and_round_trip() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // In step: the Date second covers the exchange.
        let reading = ClockReading::new(
            at("2026-01-01T12:00:00Z"),
            at("2026-01-01T12:00:00.200Z"),
            at("2026-01-01T12:00:00.400Z"),
        );
        assert_eq!(reading.skew_min_seconds, 0.0);
        // The server is 12 s ahead: at least 12 - 0.4 = 11.6 s.
        let ahead = ClockReading::new(
            at("2026-01-01T12:00:12Z"),
            at("2026-01-01T12:00:00.200Z"),
            at("2026-01-01T12:00:00.400Z"),
        );
        assert!((ahead.skew_min_seconds - 11.6).abs() < 1e-9, "{ahead:?}");
        assert!(ahead.skew_seconds > 11.6 && ahead.skew_seconds < 12.8);
        // The server is 7 s behind: at most its second's end, 7 - 1 + 0.2 = 6.2 s.
        let behind = ClockReading::new(
            at("2026-01-01T11:59:53Z"),
            at("2026-01-01T12:00:00.200Z"),
            at("2026-01-01T12:00:00.400Z"),
        );
        assert!((behind.skew_min_seconds - 6.2).abs() < 1e-9, "{behind:?}");
        assert!(behind.skew_seconds < 0.0);
        // A slow round trip widens the interval: 3 s late by the clock, but the answer took
        // 4 s, so no skew can be claimed.
        let slow = ClockReading::new(
            at("2026-01-01T12:00:03Z"),
            at("2026-01-01T12:00:00Z"),
            at("2026-01-01T12:00:04Z"),
        );
        assert_eq!(slow.skew_min_seconds, 0.0);
    }
}
