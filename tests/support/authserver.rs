//! A test authorization server in Maskinporten's image, on loopback, over TLS with the test
//! CA: metadata (RFC 8414), JWKS, and a token endpoint that validates JWT grants exactly as
//! Digdir's JWT grant specification says, answering tokens or Digdir-style errors.
//!
//! The grant is checked independently of egresscheck's own code (its own JWT parsing, ring
//! for the signature): `grant_type`; three base64url parts; header `alg` RS256/384/512 and
//! exactly one of `x5c` or `kid`; the client (`iss`) registered; the signature against the
//! `x5c` leaf's key or the key registered under `kid`; `aud` = the issuer; `exp - iat <= 120`;
//! `iat` within 10 s of the server's clock (which a test may set off); `jti` never seen
//! before; for `x5c`, a leaf from a CA this environment accepts (a production certificate
//! is refused in test), within its validity, for the client's organisation; every scope
//! registered on the client, or delegated by `consumer_org` through the delegation table.
//!
//! ```ignore
//! let auth = AuthServer::builder(tls_leaf)                 // TLS certificate for the host
//!     .bind(ip)
//!     .client(TestClient::new("client-1", "910753614").scopes(&["skatteetaten:a"]))
//!     .accept_ca("Egress Test Class 3 Test4 CA")
//!     .start();
//! auth.metadata_url("auth.egress.test")   // https://auth.egress.test:PORT/.well-known/…
//! auth.grants()                            // what came, decoded (header and claims)
//! ```
//!
//! Access tokens are JWTs signed ES256 with a key made at start (the JWKS serves it); the
//! client only reads their claims.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaPublicKeyComponents};
use rustls::ServerConfig;
use rustls::crypto::ring::default_provider;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::enterprise::b64url;
use super::pki::Leaf;
use super::server::{self, Listen, Log, ServerGuard, listen_methods};

/// Largest request read (header and body).
const MAX_REQUEST: usize = 64 * 1024;

/// A client registered on the server.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub org: String,
    pub scopes: Vec<String>,
    /// Keys registered under a kid: (kid, modulus, exponent).
    pub keys: Vec<(String, Vec<u8>, Vec<u8>)>,
}

impl TestClient {
    /// Client `id` of organisation `org`, no scopes, no keys.
    pub fn new(id: &str, org: &str) -> TestClient {
        TestClient {
            id: id.to_owned(),
            org: org.to_owned(),
            scopes: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// Scopes provisioned on the client.
    pub fn scopes(mut self, scopes: &[&str]) -> TestClient {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// A key registered under `kid`.
    pub fn key(mut self, kid: &str, public: (Vec<u8>, Vec<u8>)) -> TestClient {
        self.keys.push((kid.to_owned(), public.0, public.1));
        self
    }
}

/// A grant as the server received it.
#[derive(Debug, Clone)]
pub struct SeenGrant {
    pub header: Value,
    pub claims: Value,
    /// The error answered, or None for a token.
    pub error: Option<String>,
    /// The raw form body (for secret-leak tests: what the client sent).
    pub body: String,
    /// The access token issued, if one was (for secret-leak tests).
    pub issued: Option<String>,
}

#[derive(Debug, Clone)]
struct Config {
    clients: Vec<TestClient>,
    /// (consumer org, supplier org, scope).
    delegations: Vec<(String, String, String)>,
    accepted_cas: Vec<String>,
    clock_offset: i64,
    drop_scopes: Vec<String>,
    require_audience: Option<String>,
    token_status: Option<(u16, String)>,
}

/// Builds the server.
pub struct AuthServerBuilder {
    leaf: Leaf,
    listen: Listen,
    config: Config,
}

impl AuthServerBuilder {
    listen_methods!();

    /// Registers a client.
    pub fn client(mut self, client: TestClient) -> Self {
        self.config.clients.push(client);
        self
    }

    /// `consumer` has delegated `scope` to `supplier` (Altinn).
    pub fn delegation(mut self, consumer: &str, supplier: &str, scope: &str) -> Self {
        self.config
            .delegations
            .push((consumer.into(), supplier.into(), scope.into()));
        self
    }

    /// Accepts enterprise certificates issued by the CA with this common name.
    pub fn accept_ca(mut self, name: &str) -> Self {
        self.config.accepted_cas.push(name.to_owned());
        self
    }

    /// The server's clock runs `seconds` ahead of this machine's (negative: behind).
    pub fn clock_offset(mut self, seconds: i64) -> Self {
        self.config.clock_offset = seconds;
        self
    }

    /// Leaves these scopes out of tokens, without an error (a token narrower than asked).
    pub fn drop_scopes(mut self, scopes: &[&str]) -> Self {
        self.config.drop_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Requires this `aud` instead of the issuer (a server whose metadata disagrees with it).
    pub fn require_audience(mut self, aud: &str) -> Self {
        self.config.require_audience = Some(aud.to_owned());
        self
    }

    /// Answers every token request with this status and body (a broken server).
    pub fn token_status(mut self, status: u16, body: &str) -> Self {
        self.config.token_status = Some((status, body.to_owned()));
        self
    }

    /// Binds and serves.
    pub fn start(self) -> AuthServer {
        let tls = Arc::new(
            ServerConfig::builder_with_provider(Arc::new(default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(self.leaf.chain.clone(), self.leaf.key())
                .expect("test leaf"),
        );
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("token key");
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .expect("token key");
        let log = Log::new();
        let state = Arc::new(State {
            config: self.config,
            jtis: Mutex::new(HashSet::new()),
            key,
            log: Arc::clone(&log),
        });
        let bind = self.listen.ip;
        let (guard, addr) = server::spawn("auth", &self.listen.placement, move || async move {
            let listener = TcpListener::bind(SocketAddr::new(bind, 0)).await?;
            let addr = listener.local_addr()?;
            let serving = server::accept_loop(listener, move |stream| {
                let (tls, state) = (Arc::clone(&tls), Arc::clone(&state));
                async move { connection(stream, tls, state).await }
            });
            Ok((addr, serving))
        })
        .unwrap_or_else(|e| panic!("auth server on {bind}: {e}"));
        AuthServer {
            _guard: guard,
            addr,
            log,
        }
    }
}

/// A running test authorization server; stops on drop.
pub struct AuthServer {
    _guard: ServerGuard,
    addr: SocketAddr,
    log: Arc<Log<SeenGrant>>,
}

impl AuthServer {
    /// A server presenting `leaf` (its TLS certificate), no clients, no accepted CA.
    pub fn builder(leaf: Leaf) -> AuthServerBuilder {
        AuthServerBuilder {
            leaf,
            listen: Listen::default(),
            config: Config {
                clients: Vec::new(),
                delegations: Vec::new(),
                accepted_cas: Vec::new(),
                clock_offset: 0,
                drop_scopes: Vec::new(),
                require_audience: None,
                token_status: None,
            },
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metadata URL for `host` (a name that resolves to this server).
    pub fn metadata_url(&self, host: &str) -> String {
        format!(
            "https://{host}:{}/.well-known/oauth-authorization-server",
            self.addr.port()
        )
    }

    /// The issuer the metadata states for `host`.
    pub fn issuer(&self, host: &str) -> String {
        format!("https://{host}:{}/", self.addr.port())
    }

    /// Every token request so far.
    pub fn grants(&self) -> Vec<SeenGrant> {
        self.log.snapshot()
    }

    /// Waits (up to 10 s) for `n` token requests.
    pub fn wait_for_grants(&self, n: usize) -> Vec<SeenGrant> {
        self.log.wait_for(n, Duration::from_secs(10))
    }
}

struct State {
    config: Config,
    jtis: Mutex<HashSet<String>>,
    key: EcdsaKeyPair,
    log: Arc<Log<SeenGrant>>,
}

struct Request {
    method: String,
    path: String,
    host: String,
    body: Vec<u8>,
}

async fn connection(stream: TcpStream, tls: Arc<ServerConfig>, state: Arc<State>) {
    let Ok(mut stream) = TlsAcceptor::from(tls).accept(stream).await else {
        return;
    };
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let issuer = format!("https://{}/", request.host);
    let (status, body) = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/.well-known/oauth-authorization-server") => (
            200,
            json!({
                "issuer": issuer,
                "token_endpoint": format!("{issuer}token"),
                "jwks_uri": format!("{issuer}jwks"),
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "grant_types_supported": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512"],
            })
            .to_string(),
        ),
        ("GET", "/jwks") => {
            let point = state.key.public_key().as_ref();
            (
                200,
                json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "auth-1", "alg": "ES256",
                    "x": b64url(&point[1..33]), "y": b64url(&point[33..65])}]})
                .to_string(),
            )
        }
        ("POST", "/token") => token(&state, &issuer, &request.body),
        _ => (404, json!({"error": "not_found"}).to_string()),
    };
    let date = (Utc::now() + chrono::Duration::seconds(state.config.clock_offset))
        .format("%a, %d %b %Y %H:%M:%S GMT");
    let head = format!(
        "HTTP/1.1 {status} {}\r\nDate: {date}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut tokio_rustls::server::TlsStream<TcpStream>) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let host = header("host").unwrap_or_default();
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Request {
        method,
        path,
        host,
        body,
    })
}

/// A Digdir-style error.
fn oauth_error(error: &str, description: &str) -> (u16, String) {
    (
        400,
        json!({"error": error, "error_description": description}).to_string(),
    )
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn token(state: &State, issuer: &str, body: &[u8]) -> (u16, String) {
    let body = String::from_utf8_lossy(body).into_owned();
    let mut seen = SeenGrant {
        header: Value::Null,
        claims: Value::Null,
        error: None,
        body: body.clone(),
        issued: None,
    };
    let answer = validate(state, issuer, &body, &mut seen);
    seen.issued = serde_json::from_str::<Value>(&answer.1)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned));
    seen.error = (answer.0 != 200).then(|| {
        serde_json::from_str::<Value>(&answer.1)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| answer.1.clone())
    });
    state.log.push(seen);
    answer
}

fn validate(state: &State, issuer: &str, body: &str, seen: &mut SeenGrant) -> (u16, String) {
    let config = &state.config;
    if let Some((status, text)) = &config.token_status {
        return (*status, text.clone());
    }
    if form_value(body, "grant_type").as_deref()
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error("unsupported_grant_type", "grant_type must be jwt-bearer");
    }
    let Some(assertion) = form_value(body, "assertion") else {
        return oauth_error(
            "invalid_request",
            "MP-011: Invalid assertion. Invalid parameter value",
        );
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let decode = |p: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .ok()
    };
    let (Some(h), Some(c), Some(sig)) = (
        parts.first().and_then(|p| decode(p)),
        parts.get(1).and_then(|p| decode(p)),
        parts.get(2).and_then(|p| decode(p)),
    ) else {
        return oauth_error(
            "invalid_request",
            "MP-011: Invalid assertion. Invalid parameter value",
        );
    };
    if parts.len() != 3 {
        return oauth_error("invalid_request", "MP-011: Invalid assertion");
    }
    let (Ok(header), Ok(claims)) = (
        serde_json::from_slice::<Value>(&h),
        serde_json::from_slice::<Value>(&c),
    ) else {
        return oauth_error(
            "invalid_request",
            "MP-011: Invalid assertion. Invalid parameter value",
        );
    };
    seen.header = header.clone();
    seen.claims = claims.clone();
    let algorithm: &'static signature::RsaParameters = match header["alg"].as_str() {
        Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
        Some("RS384") => &signature::RSA_PKCS1_2048_8192_SHA384,
        Some("RS512") => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return oauth_error("invalid_grant", "MP-123: Invalid JWT header alg"),
    };
    let x5c = header.get("x5c");
    let kid = header.get("kid").and_then(Value::as_str);
    if x5c.is_some() == kid.is_some() {
        return oauth_error(
            "invalid_grant",
            "MP-123: Invalid JWT header: either x5c or kid",
        );
    }
    let Some(client) = claims["iss"]
        .as_str()
        .and_then(|iss| config.clients.iter().find(|c| c.id == iss))
    else {
        return oauth_error("invalid_client", "MP-100: Client not found");
    };
    // The key that must have signed the grant.
    let (n, e, leaf) = match (x5c, kid) {
        (Some(x5c), _) => {
            let Some(first) = x5c
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
            else {
                return oauth_error("invalid_grant", "MP-123: Invalid JWT header x5c");
            };
            let Ok(der) = base64::engine::general_purpose::STANDARD.decode(first) else {
                return oauth_error("invalid_grant", "MP-123: Invalid JWT header x5c");
            };
            let Ok((_, cert)) = X509Certificate::from_der(&der) else {
                return oauth_error("invalid_grant", "MP-123: Invalid JWT header x5c");
            };
            let Ok(PublicKey::RSA(rsa)) = cert.public_key().parsed() else {
                return oauth_error("invalid_grant", "MP-124: Invalid JWT signature");
            };
            (strip(rsa.modulus), strip(rsa.exponent), Some(der.clone()))
        }
        (None, Some(kid)) => match client.keys.iter().find(|(k, _, _)| k == kid) {
            Some((_, n, e)) => (strip(n), strip(e), None),
            None => {
                return oauth_error(
                    "invalid_client",
                    "MP-100: Invalid assertion. Client authentication failed: unknown kid",
                );
            }
        },
        (None, None) => unreachable!("checked above"),
    };
    let signed = format!("{}.{}", parts[0], parts[1]);
    let public = RsaPublicKeyComponents { n: &n, e: &e };
    if public.verify(algorithm, signed.as_bytes(), &sig).is_err() {
        return oauth_error("invalid_grant", "MP-124: Invalid JWT signature");
    }
    let expected_aud = config.require_audience.as_deref().unwrap_or(issuer);
    if claims["aud"].as_str() != Some(expected_aud) {
        return oauth_error(
            "invalid_grant",
            "MP-110: Invalid assertion. Client authentication failed. Invalid JWT claim aud",
        );
    }
    let now = Utc::now().timestamp() + config.clock_offset;
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return oauth_error("invalid_grant", "MP-011: iat and exp are required");
    };
    if exp - iat > 120 {
        return oauth_error(
            "invalid_grant",
            "MP-011: exp - iat must be at most 120 seconds",
        );
    }
    if (iat - now).abs() > 10 {
        return oauth_error(
            "invalid_grant",
            "MP-130: Issue time is after now or too old: check the clock",
        );
    }
    if exp < now {
        return oauth_error("invalid_grant", "MP-130: JWT is expired");
    }
    let Some(jti) = claims["jti"].as_str() else {
        return oauth_error("invalid_grant", "MP-012: jti is required");
    };
    if !state.jtis.lock().unwrap().insert(jti.to_owned()) {
        return oauth_error("invalid_grant", "MP-012: Grant is used before");
    }
    if let Some(der) = leaf
        && let Some(problem) = certificate_problem(config, client, &der, now)
    {
        return problem;
    }
    let scopes: Vec<&str> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let consumer_org = claims["consumer_org"].as_str();
    if consumer_org == Some(client.org.as_str()) {
        return oauth_error(
            "invalid_request",
            "Validation of JWT claim failed: The combination consumer_org in claim and delegation scope on client is invalid",
        );
    }
    for scope in &scopes {
        let delegated = |consumer: &str| {
            config
                .delegations
                .iter()
                .any(|(c, s, sc)| c == consumer && s == &client.org && sc == scope)
        };
        match consumer_org {
            Some(consumer) if !delegated(consumer) => {
                return (
                    403,
                    json!({"error": "access_denied", "error_description": format!(
                        "MP-251: Consumer {consumer} has not delegated access to the scope {scope} to supplier {}", client.org)})
                    .to_string(),
                );
            }
            None if !client.scopes.iter().any(|s| s == scope) => {
                return oauth_error(
                    "invalid_scope",
                    "MP-200: Invalid scope - Token request contains invalid scopes for client",
                );
            }
            _ => {}
        }
    }
    let granted: Vec<&str> = scopes
        .iter()
        .copied()
        .filter(|s| !config.drop_scopes.iter().any(|d| d == s))
        .collect();
    let org =
        |number: &str| json!({"authority": "iso6523-actorid-upis", "ID": format!("0192:{number}")});
    let mut token_claims = json!({
        "iss": issuer, "client_amr": if kid.is_some() { "private_key_jwt" } else { "virksomhetssertifikat" },
        "token_type": "Bearer", "scope": granted.join(" "), "client_id": client.id,
        "iat": now, "exp": now + 119, "jti": format!("token-{jti}"),
        "consumer": org(consumer_org.unwrap_or(&client.org)),
    });
    if consumer_org.is_some() {
        token_claims["supplier"] = org(&client.org);
        token_claims["delegation_source"] = json!("https://www.altinn.no");
    }
    if let Some(resource) = claims.get("resource") {
        token_claims["aud"] = resource.get(0).cloned().unwrap_or(resource.clone());
    }
    let head = b64url(
        json!({"kid": "auth-1", "alg": "ES256", "typ": "JWT"})
            .to_string()
            .as_bytes(),
    );
    let payload = b64url(token_claims.to_string().as_bytes());
    let input = format!("{head}.{payload}");
    let signature = state
        .key
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("sign token");
    let access_token = format!("{input}.{}", b64url(signature.as_ref()));
    (
        200,
        json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 119, "scope": granted.join(" ")})
            .to_string(),
    )
}

/// MP-120 for a certificate from a CA this environment does not accept or outside its
/// validity; MP-122 for another organisation's certificate.
fn certificate_problem(
    config: &Config,
    client: &TestClient,
    der: &[u8],
    now: i64,
) -> Option<(u16, String)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default();
    let valid = cert.validity();
    if !config.accepted_cas.iter().any(|ca| ca == issuer)
        || now < valid.not_before.timestamp()
        || now > valid.not_after.timestamp()
    {
        return Some(oauth_error(
            "invalid_grant",
            "MP-120: Invalid assertion. Client authentication failed. The JWT is signed with an invalid certificate.",
        ));
    }
    let org = cert
        .subject()
        .iter_attributes()
        .find(|a| {
            let oid = a.attr_type().to_id_string();
            oid == "2.5.4.97" || oid == "2.5.4.5"
        })
        .and_then(|a| a.as_str().ok())
        .map(|v| v.trim_start_matches("NTRNO-").to_owned())
        .unwrap_or_default();
    (org != client.org).then(|| {
        oauth_error(
            "invalid_grant",
            "MP-122: Invalid JWT. Invalid organization number for client. Does not match certificate orgno",
        )
    })
}

fn strip(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}
