//! What the probe engine observed: plain data, serialisable, no behaviour.
//!
//! This is the contract between the engine (the only code that touches the network) and
//! everything after it: the audit reads these types, the `probe` and `check` JSON outputs
//! serialise them, and a baseline (an earlier `check` report) is read back into them. Field
//! names are public interface (see the README's JSON schema); add fields freely, rename none.
//! Every type here derives both `Serialize` and `Deserialize`, so whatever the engine can
//! observe is written by `--save` and read back by `--baseline` without code of its own. A
//! field added later should carry `#[serde(default)]`, so that reports written before it
//! still load.

use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{DnsName, Port};
use crate::probe::http::HttpRequest;

/// One name to resolve and probe, with what the data file says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    /// The name: DNS query name and TLS SNI.
    pub name: DnsName,
    /// Ports to probe on every address.
    pub ports: Vec<Port>,
    /// Single addresses the data file documents for this name; probed even when DNS does
    /// not return them.
    pub documented: Vec<IpAddr>,
    /// The HTTP request to send over each completed TLS connection, when the data asks for
    /// an HTTP check.
    pub http: Option<HttpRequest>,
}

pub use crate::catalog::Family;

/// Everything observed for one requested name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameObservation {
    /// The name.
    pub name: DnsName,
    /// DNS results (absent when a proxy resolves for us).
    pub dns: Option<DnsObservation>,
    /// One entry per (address, port), or per port when connecting through a proxy. Left out
    /// of JSON when empty (the `check` report lists targets apart from their names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetObservation>,
}

/// DNS results for one name: an A and an AAAA lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsObservation {
    /// The A lookup (absent when `--family 6`).
    pub a: Option<DnsLookup>,
    /// The AAAA lookup (absent when `--family 4`).
    pub aaaa: Option<DnsLookup>,
    /// Distinct DNS answers (of the admitted families) not probed because of the per-name
    /// cap (`--max-addresses`; documented addresses never count against it). Zero when
    /// nothing was cut; the answers themselves are all kept in `a` and `aaaa`.
    pub addresses_dropped: usize,
}

impl DnsObservation {
    /// All answered addresses, A first.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.a
            .iter()
            .chain(self.aaaa.iter())
            .flat_map(|l| l.answers.iter().map(|a| a.address))
    }

    /// The overall outcome: an answer if either lookup answered, else the more telling
    /// failure (NXDOMAIN over no-records over the rest).
    pub fn outcome(&self) -> DnsOutcome {
        let lookups: Vec<&DnsLookup> = self.a.iter().chain(self.aaaa.iter()).collect();
        if lookups.iter().any(|l| l.outcome == DnsOutcome::Answer) {
            return DnsOutcome::Answer;
        }
        lookups
            .iter()
            .map(|l| l.outcome)
            .min_by_key(|o| o.rank())
            .unwrap_or(DnsOutcome::NoRecords)
    }
}

/// One DNS query and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsLookup {
    /// `A` or `AAAA`.
    #[serde(deserialize_with = "record_type")]
    pub record_type: RecordTypeName,
    /// How it ended.
    pub outcome: DnsOutcome,
    /// The addresses, with their TTLs.
    pub answers: Vec<DnsAnswer>,
    /// CNAMEs followed from the query name to the answer, in order.
    pub cname_chain: Vec<String>,
    /// The server that answered, when known.
    pub server: Option<SocketAddr>,
    /// Time the lookup took, in milliseconds.
    pub ms: f64,
    /// The resolver's message for failures, sanitised.
    pub message: Option<String>,
}

/// One address record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// The address.
    pub address: IpAddr,
    /// Its TTL in seconds.
    pub ttl: u32,
}

/// How a DNS lookup ended. The outcomes are kept apart because they mean different things
/// to an admin: NXDOMAIN is a wrong name, SERVFAIL a broken resolver, a timeout a blocked
/// path to the resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsOutcome {
    /// At least one address.
    Answer,
    /// The name does not exist.
    Nxdomain,
    /// The name exists but has no records of this type.
    NoRecords,
    /// The server failed (SERVFAIL).
    Servfail,
    /// The server refused (REFUSED).
    Refused,
    /// No answer in time.
    Timeout,
    /// Anything else (I/O error, malformed answer, CNAME loop).
    Error,
}

impl DnsOutcome {
    fn rank(self) -> u8 {
        match self {
            DnsOutcome::Answer => 0,
            DnsOutcome::Nxdomain => 1,
            DnsOutcome::Servfail => 2,
            DnsOutcome::Refused => 3,
            DnsOutcome::Timeout => 4,
            DnsOutcome::Error => 5,
            DnsOutcome::NoRecords => 6,
        }
    }
}

/// Where a target's address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressOrigin {
    /// Returned by DNS.
    Dns,
    /// Documented in the data file (not returned by DNS).
    Documented,
    /// Returned by DNS and documented.
    DnsAndDocumented,
    /// No address: the proxy resolved and connected.
    Proxy,
    /// Given on the command line (`probe --connect-to`); DNS was not asked.
    ConnectTo,
}

/// One (address, port) probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetObservation {
    /// The address connected to (absent through a proxy).
    pub address: Option<IpAddr>,
    /// The port.
    pub port: Port,
    /// Where the address came from.
    pub origin: AddressOrigin,
    /// The proxy used, `host:port` without credentials, when any.
    pub proxy: Option<String>,
    /// The TCP connect (through a proxy: the CONNECT exchange).
    pub tcp: TcpObservation,
    /// The TLS handshake, when TCP connected.
    pub tls: Option<TlsObservation>,
    /// The HTTP exchange after the handshake, when the data asks for one and TLS completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpObservation>,
    /// Control handshakes to the same address (another ClientHello: no SNI, a control
    /// name), made when the handshake got no ServerHello; empty when none was needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub control: Vec<ControlHello>,
}

/// One control handshake: the same address and port, a ClientHello that differs from the
/// target's only in its SNI. A ServerHello to it where the target's own ClientHello got none
/// shows a device on the path that filters TLS by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlHello {
    /// The SNI sent; null: none.
    pub sni: Option<String>,
    /// How its TCP connect ended.
    pub tcp: TcpState,
    /// True when the server answered with a ServerHello (a handshake then followed, whatever
    /// its certificate says).
    pub server_hello: bool,
    /// How the handshake failed, when it failed before a ServerHello.
    #[serde(default)]
    pub failure: Option<TlsFailure>,
    /// True when the connection was reset.
    #[serde(default)]
    pub reset: bool,
    /// Bytes the server sent.
    #[serde(default)]
    pub server_bytes: usize,
    /// What went wrong, sanitised.
    #[serde(default)]
    pub error: Option<String>,
    /// Connect plus handshake time, in milliseconds.
    pub ms: f64,
}

/// Words that every observation cut short by the run's overall deadline carries in its
/// message: the engine's "not probed" placeholder and [`crate::probe::StepLimit::describe`]
/// both say them (tested below), and [`TargetObservation::cut_by_deadline`] looks for them.
pub const DEADLINE_MARK: &str = "the run's overall deadline";

impl TargetObservation {
    /// True when the run's deadline, not the network, ended this target's probe: it was not
    /// probed at all, or its connect or handshake was stopped unfinished.
    pub fn cut_by_deadline(&self) -> bool {
        let marked = |message: Option<&str>| message.is_some_and(|m| m.contains(DEADLINE_MARK));
        marked(self.tcp.message.as_deref())
            || self
                .tls
                .as_ref()
                .is_some_and(|tls| !tls.ok && marked(tls.error.as_deref()))
    }
}

/// TCP connect result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpObservation {
    /// How it ended.
    pub state: TcpState,
    /// Connect time in milliseconds (for `open`, or time until the failure).
    pub ms: f64,
    /// The OS or proxy message for failures, sanitised.
    pub message: Option<String>,
    /// The proxy's HTTP status for CONNECT, when a proxy was used and answered.
    pub proxy_status: Option<u16>,
    /// The authentication schemes a proxy's 407 offers (`Basic`, `Negotiate`, `NTLM`, …,
    /// from its `Proxy-Authenticate` headers), in its order; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_auth: Vec<String>,
}

/// How a TCP connect (or a proxy CONNECT) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TcpState {
    /// Connected.
    Open,
    /// Actively refused (RST).
    Refused,
    /// No answer before the timeout: a firewall dropping packets.
    Filtered,
    /// No route (EHOSTUNREACH, ENETUNREACH), or an ICMP prohibition.
    Unreachable,
    /// The proxy denied the CONNECT (403).
    ProxyDenied,
    /// The proxy wants credentials (407).
    ProxyAuthRequired,
    /// The proxy could not reach the target (502).
    ProxyBadGateway,
    /// The proxy is unavailable (503).
    ProxyUnavailable,
    /// The proxy did not answer the CONNECT in time.
    ProxyTimeout,
    /// The proxy answered something else, or could not be reached.
    ProxyError,
    /// Any other failure (see `message`).
    Other,
}

/// TLS handshake result. Verification is recorded, never used to abort, so an untrusted or
/// expired certificate is still described in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsObservation {
    /// True when the handshake completed.
    pub ok: bool,
    /// Why it did not, sanitised.
    pub error: Option<String>,
    /// What kind of failure, when it failed (for the audit: `protocol-version` is a server
    /// that speaks only TLS older than 1.2).
    pub failure: Option<TlsFailure>,
    /// True when the handshake ran out of time.
    pub timed_out: bool,
    /// `TLSv1.3`, `TLSv1.2`, …
    pub version: Option<String>,
    /// The negotiated cipher suite, IANA name.
    pub cipher: Option<String>,
    /// The key-exchange group, e.g. `X25519`.
    pub kx_group: Option<String>,
    /// The negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// Handshake time in milliseconds.
    pub ms: f64,
    /// Whether the server stapled an OCSP response.
    pub ocsp_stapled: bool,
    /// Chain valid against Mozilla's roots (plus `--ca-file` anchors).
    pub trusted_public: bool,
    /// Chain valid against the system store (honours SSL_CERT_FILE / SSL_CERT_DIR).
    pub trusted_system: bool,
    /// The verifier's reason when the chain is not trusted publicly, sanitised.
    pub public_error: Option<String>,
    /// The verifier's reason when the chain is not trusted by the system store.
    pub system_error: Option<String>,
    /// Whether the chain leads to an anchor of the public store when its validity dates
    /// are set aside (true whenever `trusted_public` is): an expired certificate of a
    /// public CA, as against one of an unknown CA.
    #[serde(default)]
    pub anchored_public: bool,
    /// The same for the system store: an expired certificate of a CA installed here only
    /// (an intercepting middlebox whose certificate went stale).
    #[serde(default)]
    pub anchored_system: bool,
    /// Whether the leaf certificate is valid for the probe name.
    pub hostname_match: bool,
    /// The verifier's reason when the name does not match, sanitised.
    pub name_error: Option<String>,
    /// The peer's chain, leaf first.
    pub chain: Vec<CertificateInfo>,
    /// Bytes the server sent during the handshake (0: the ClientHello got no answer at all).
    #[serde(default)]
    pub server_bytes: usize,
    /// True when the connection was reset (a TCP RST) before the handshake completed: with
    /// `server_bytes` 0, something refused the ClientHello actively, where silence
    /// (`timed_out`) is a drop.
    #[serde(default)]
    pub reset: bool,
}

/// How a TLS handshake failed. Kept apart because each asks for a different fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsFailure {
    /// No handshake before the timeout (a middlebox that swallows TLS, or a stalled server).
    Timeout,
    /// The server closed or reset the connection during the handshake.
    Closed,
    /// The server speaks only TLS versions older than 1.2 (or refused ours).
    ProtocolVersion,
    /// The server sent a fatal alert.
    Alert,
    /// The server's answer is not TLS (plain HTTP, another protocol, garbage).
    NotTls,
    /// The server sent more than the read bound without completing the handshake.
    TooLarge,
    /// A socket error other than a reset.
    Io,
    /// Anything else rustls rejected (see `error`).
    Other,
}

/// One certificate of a peer chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Subject distinguished name (RFC 4514), sanitised.
    pub subject: String,
    /// Issuer distinguished name, sanitised.
    pub issuer: String,
    /// DNS and IP subject alternative names.
    pub sans: Vec<String>,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the DER encoding, lowercase hex.
    pub sha256: String,
    /// Public key algorithm, e.g. `EC P-256`, `RSA 2048`.
    pub key_algorithm: String,
    /// Signature algorithm, e.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
}

/// One HTTP/1.1 exchange over a completed TLS connection: what was asked, what came back,
/// bounded. Response text is sanitised and cut; the body itself is not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpObservation {
    /// The method sent (`GET`, `HEAD`, `POST`).
    pub method: String,
    /// The path (and query) sent.
    pub path: String,
    /// The status code, when an answer came.
    #[serde(default)]
    pub status: Option<u16>,
    /// Time from sending the request to the end of the answer read, in milliseconds.
    pub ms: f64,
    /// The `Server` header, sanitised.
    #[serde(default)]
    pub server: Option<String>,
    /// The `Content-Type` header, sanitised.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The `Location` header of a redirect, sanitised.
    #[serde(default)]
    pub location: Option<String>,
    /// The `Date` header as sent, sanitised.
    #[serde(default)]
    pub date: Option<String>,
    /// The server's clock against this host's, from `Date`; absent without a usable `Date`.
    #[serde(default)]
    pub clock: Option<ClockReading>,
    /// Headers only a proxy or gateway adds (`Via`, `Proxy-Status`, `X-Squid-Error`, …), as
    /// `Name: value`, sanitised.
    #[serde(default)]
    pub proxy_headers: Vec<String>,
    /// Names of every header of the answer, lowercase (the first 64).
    #[serde(default)]
    pub headers: Vec<String>,
    /// Bytes of body read.
    #[serde(default)]
    pub body_bytes: usize,
    /// True when the body was longer than the read bound (the rest was not read).
    #[serde(default)]
    pub body_truncated: bool,
    /// The body's first non-blank line, sanitised and cut to 160 characters.
    #[serde(default)]
    pub body_first_line: Option<String>,
    /// The `<title>` of an HTML body, sanitised.
    #[serde(default)]
    pub html_title: Option<String>,
    /// The top-level keys of a JSON object body (the first 64); absent when the body is not
    /// a complete JSON object.
    #[serde(default)]
    pub json_keys: Option<Vec<String>>,
    /// Why the exchange failed, sanitised.
    #[serde(default)]
    pub error: Option<String>,
    /// What kind of failure, when it failed.
    #[serde(default)]
    pub failure: Option<HttpFailure>,
}

/// How an HTTP exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpFailure {
    /// No complete answer before the timeout.
    Timeout,
    /// The server closed the connection before a complete answer.
    Closed,
    /// The answer's header was larger than the read bound.
    TooLarge,
    /// The answer is not HTTP/1.x.
    NotHttp,
    /// A socket or TLS error.
    Io,
    /// The request was not sent (the connection's trust did not allow it, or the deadline
    /// came first).
    NotSent,
}

/// The server's clock (its `Date` header) against this host's clock.
///
/// `Date` has a resolution of one second and is written somewhere between the moment the
/// request left and the moment the answer arrived, so the server's clock lies within an
/// interval of this host's: `skew_min_seconds` is the smallest difference that interval
/// allows (0 when it contains this host's time), and what a threshold is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockReading {
    /// The server's time as its `Date` header states it.
    pub server_time: DateTime<Utc>,
    /// This host's time when the request was sent.
    pub sent: DateTime<Utc>,
    /// This host's time when the answer's header arrived.
    pub received: DateTime<Utc>,
    /// Best estimate of the server's clock minus this host's, in seconds (positive: this
    /// host is behind).
    pub skew_seconds: f64,
    /// The smallest absolute difference consistent with `Date`'s resolution and the round
    /// trip, in seconds.
    pub skew_min_seconds: f64,
}

impl ClockReading {
    /// The reading of a `Date` of `server_time` on an answer to a request sent at `sent` and
    /// answered at `received` (this host's clock).
    pub fn new(server_time: DateTime<Utc>, sent: DateTime<Utc>, received: DateTime<Utc>) -> Self {
        let (sent, received) = if received < sent {
            (received, sent)
        } else {
            (sent, received)
        };
        // Milliseconds between two clock readings are far below 2^53, where f64 rounds.
        #[allow(clippy::cast_precision_loss)]
        let seconds = |d: chrono::TimeDelta| d.num_milliseconds() as f64 / 1000.0;
        // The server wrote `Date` at some instant t in [sent, received] of this host's clock,
        // when its own clock read somewhere in [server_time, server_time + 1 s).
        let lowest = seconds(server_time - received);
        let highest = seconds(server_time - sent) + 1.0;
        let skew_min_seconds = if lowest > 0.0 {
            lowest
        } else if highest < 0.0 {
            -highest
        } else {
            0.0
        };
        ClockReading {
            server_time,
            sent,
            received,
            skew_seconds: round_ms((lowest + highest) / 2.0),
            skew_min_seconds: round_ms(skew_min_seconds),
        }
    }
}

/// Rounds seconds to whole milliseconds.
fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// The record type of a lookup, `"A"` or `"AAAA"`: a `&'static str` under a name of its own,
/// because serde's derive takes a field written as a reference to borrow from its input and
/// would then read a lookup only from input that lives forever. Read back by
/// [`record_type`], which maps the two names onto the engine's constants.
pub type RecordTypeName = &'static str;

/// Reads a lookup's record type back as the engine's own `&'static str`.
fn record_type<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<&'static str, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.as_str() {
        "A" => Ok("A"),
        "AAAA" => Ok("AAAA"),
        _ => Err(serde::de::Error::custom(format!(
            "record type {:?}, expected \"A\" or \"AAAA\"",
            crate::term::sanitize(&text)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::DEADLINE_MARK;
    use crate::probe::StepLimit;

    #[test]
    fn every_deadline_message_carries_the_mark() {
        assert!(crate::probe::engine::NOT_PROBED_DEADLINE.contains(DEADLINE_MARK));
        let cut = StepLimit {
            duration: std::time::Duration::ZERO,
            by_deadline: true,
        };
        assert!(cut.describe().contains(DEADLINE_MARK));
        let own = StepLimit {
            duration: std::time::Duration::from_secs(5),
            by_deadline: false,
        };
        assert!(!own.describe().contains(DEADLINE_MARK));
    }
}
