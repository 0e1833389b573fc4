//! The token step, in order: the key, the certificate, the metadata, the grant, the token
//! request, the answer. Each step is recorded in a [`TokenObservation`]; a step that cannot
//! go on ends the flow, and the audit (`crate::audit::token`) says why and what to do.
//!
//! The two requests go through a [`Transport`]: in the program, the probe's own path
//! (DNS, TCP or the proxy's CONNECT, TLS with the recording verifier and interception
//! detection, one bounded HTTP exchange), so a token request meets the same network as
//! `check`; in tests, whatever the test needs. Nothing here reads the clock but through the
//! `now` it is given, nor prints: secrets (the key, the signed grant, the token) stay in
//! buffers wiped on drop and never reach the observation.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use zeroize::Zeroizing;

use super::answer::{self, Metadata, TokenAnswer};
use super::certificate::{self, CertificateFacts};
use super::grant::{self, GrantAlgorithm, GrantRequest, GrantSummary};
use super::keys::{self, KeySource};
use crate::catalog::{AuthorizationServer, HttpsUrl};
use crate::probe::ProbeError;
use crate::probe::model::NameObservation;

/// Everything `egresscheck token` (and `check --client`) is asked to do.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// The client id (`iss`).
    pub client_id: String,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// The key.
    pub key: KeySource,
    /// The file the keystore password came from, if any (its permissions are judged).
    pub password_file: Option<PathBuf>,
    /// `consumer_org` (acting for another organisation through an Altinn delegation).
    pub consumer_org: Option<String>,
    /// `resource` (the API the token is for; Skatteetaten wants none).
    pub resource: Option<String>,
    /// The metadata URL instead of the data file's (a test or private server).
    pub metadata_url: Option<HttpsUrl>,
    /// Signature algorithm of the grant.
    pub algorithm: GrantAlgorithm,
}

/// An answer over the probe path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body (bounded by the transport): a token, for a token request, so it is wiped
    /// when dropped.
    pub body: Zeroizing<Vec<u8>>,
}

/// What one request observed (DNS, every target tried, TCP, TLS, HTTP), and the answer when
/// one came.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The path, as `check` reports it.
    pub observation: NameObservation,
    /// The answer.
    pub answer: Option<Answer>,
    /// Why there is no answer, in words, when there is none.
    pub problem: Option<String>,
}

/// One HTTPS request to an authorization server; each call runs to its end (the probe's
/// timeouts and deadline bound it). An error is one that stops the command (a `--ca-file`
/// that cannot be read, a signal), never what the network did.
pub trait Transport {
    /// `GET url` (the metadata).
    fn get(&self, url: &HttpsUrl) -> Result<Delivered, ProbeError>;
    /// `POST url` with an `application/x-www-form-urlencoded` body (the token request). The
    /// body holds the signed grant: only a trusted connection may carry it.
    fn post_form(&self, url: &HttpsUrl, body: Zeroizing<Vec<u8>>) -> Result<Delivered, ProbeError>;
}

/// Where the flow stopped and why (the step that could not go on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stopped {
    /// The key could not be loaded.
    Key,
    /// The key or certificate cannot sign a grant Maskinporten takes.
    Certificate,
    /// The metadata could not be fetched or read.
    Metadata,
    /// The grant could not be built or signed.
    Grant,
    /// The token request got no answer.
    Request,
}

/// What the token step saw, step by step. Holds no secret: no key, no grant, no token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenObservation {
    /// The environment.
    pub environment: String,
    /// The authorization server's service.
    pub service: String,
    /// The client id.
    pub client_id: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// `consumer_org` asked for.
    pub consumer_org: Option<String>,
    /// `resource` asked for.
    pub resource: Option<String>,
    /// How the key was given: `pkcs12`, `pem` or `jwk`.
    pub key_source: &'static str,
    /// Files holding key material or a password that others can read.
    pub exposed_files: Vec<String>,
    /// Why the key could not be loaded.
    pub key_problem: Option<String>,
    /// The key, when it is not RSA (`an EC key`).
    pub key_type_problem: Option<String>,
    /// The leaf certificate, judged (absent for a JWK).
    pub certificate: Option<CertificateFacts>,
    /// True when the certificate's public key is not the private key's.
    pub key_mismatch: bool,
    /// The metadata URL used.
    pub metadata_url: String,
    /// True when `--metadata-url` replaced the data file's.
    pub metadata_url_given: bool,
    /// The path of the metadata request.
    #[serde(skip)]
    pub metadata_path: Option<NameObservation>,
    /// The metadata request's HTTP status.
    pub metadata_status: Option<u16>,
    /// The metadata, when read.
    pub metadata: Option<Metadata>,
    /// Why the metadata could not be had.
    pub metadata_problem: Option<String>,
    /// The grant sent, without its signature.
    pub grant: Option<GrantSummary>,
    /// Why no grant was sent.
    pub grant_problem: Option<String>,
    /// The path of the token request.
    #[serde(skip)]
    pub token_path: Option<NameObservation>,
    /// Why the token request got no answer.
    pub request_problem: Option<String>,
    /// The answer.
    pub answer: Option<TokenAnswer>,
    /// Where the flow stopped, when it did.
    pub stopped: Option<Stopped>,
}

/// Runs the token step for `server` (the data file's authorization server of the chosen
/// environment), with `servers` (every authorization server of its service, for telling
/// test from production certificates), over `transport`, issuing the grant at `now()`.
pub fn run<T: Transport>(
    options: &TokenOptions,
    server: &AuthorizationServer,
    servers: &[&AuthorizationServer],
    transport: &T,
    now: impl Fn() -> DateTime<Utc>,
) -> Result<TokenObservation, ProbeError> {
    let metadata_url = options
        .metadata_url
        .clone()
        .unwrap_or_else(|| server.metadata_url.clone());
    let mut obs = TokenObservation {
        environment: server.environment.to_string(),
        service: server.service.to_string(),
        client_id: options.client_id.clone(),
        scopes: options.scopes.clone(),
        consumer_org: options.consumer_org.clone(),
        resource: options.resource.clone(),
        key_source: options.key.kind(),
        exposed_files: keys::exposed_files(
            options
                .key
                .files()
                .into_iter()
                .chain(options.password_file.as_deref()),
        ),
        key_problem: None,
        key_type_problem: None,
        certificate: None,
        key_mismatch: false,
        metadata_url: metadata_url.url.clone(),
        metadata_url_given: options.metadata_url.is_some(),
        metadata_path: None,
        metadata_status: None,
        metadata: None,
        metadata_problem: None,
        grant: None,
        grant_problem: None,
        token_path: None,
        request_problem: None,
        answer: None,
        stopped: None,
    };

    // (a) the key, and (b) the certificate, before anything is sent.
    let key = match keys::load(&options.key) {
        Ok(key) => key,
        Err(err) => {
            obs.key_problem = Some(err.to_string());
            obs.stopped = Some(Stopped::Key);
            return Ok(obs);
        }
    };
    if let keys::PrivateKey::Other(kind) = &key.key {
        obs.key_type_problem = Some(kind.clone());
    }
    if let Some(leaf) = key.chain.first() {
        match certificate::judge(leaf, servers) {
            Ok(facts) => obs.certificate = Some(facts),
            Err(err) => {
                obs.key_problem = Some(err.to_string());
                obs.stopped = Some(Stopped::Key);
                return Ok(obs);
            }
        }
        obs.key_mismatch = !keys::matches_certificate(&key, leaf);
    }
    if obs.key_type_problem.is_some() || obs.key_mismatch {
        obs.stopped = Some(Stopped::Certificate);
        return Ok(obs);
    }

    // (c) the metadata, over the probe path.
    let delivered = transport.get(&metadata_url)?;
    obs.metadata_path = Some(delivered.observation);
    obs.metadata_status = delivered.answer.as_ref().map(|a| a.status);
    let metadata = match (delivered.answer, delivered.problem) {
        (Some(answer), _) if answer.status == 200 => answer::metadata(&answer.body),
        (Some(answer), _) => Err(format!(
            "the metadata URL answered HTTP {} instead of the metadata document",
            answer.status
        )),
        (None, problem) => Err(problem.unwrap_or_else(|| "no answer".to_owned())),
    };
    let metadata = match metadata {
        Ok(metadata) => metadata,
        Err(problem) => {
            obs.metadata_problem = Some(problem);
            obs.stopped = Some(Stopped::Metadata);
            return Ok(obs);
        }
    };
    let token_url = match HttpsUrl::parse(&metadata.token_endpoint) {
        Some(url) if url.host == metadata_url.host => url,
        _ => {
            obs.metadata_problem = Some(format!(
                "the metadata's token_endpoint {} is not an https URL on {}: egresscheck sends the grant only to the host it fetched the metadata from",
                metadata.token_endpoint, metadata_url.host
            ));
            obs.metadata = Some(metadata);
            obs.stopped = Some(Stopped::Metadata);
            return Ok(obs);
        }
    };
    let audience = metadata.issuer.clone();
    obs.metadata = Some(metadata);

    // (d) the grant: aud from the fetched metadata, a fresh jti, signed.
    let request = GrantRequest {
        client_id: options.client_id.clone(),
        scopes: options.scopes.clone(),
        audience,
        resource: options.resource.clone(),
        consumer_org: options.consumer_org.clone(),
        algorithm: options.algorithm,
    };
    let signed =
        grant::claims(&request, now()).and_then(|c| grant::sign(&key, c, options.algorithm));
    drop(key);
    let signed = match signed {
        Ok(signed) => signed,
        Err(err) => {
            obs.grant_problem = Some(err.to_string());
            obs.stopped = Some(Stopped::Grant);
            return Ok(obs);
        }
    };
    obs.grant = Some(signed.summary.clone());

    // (e) the token request, and (f) the answer.
    let body = form(&signed.jwt);
    drop(signed);
    let delivered = transport.post_form(&token_url, body)?;
    obs.token_path = Some(delivered.observation);
    match delivered.answer {
        Some(answer) => obs.answer = Some(answer::token_answer(answer.status, &answer.body)),
        None => {
            obs.request_problem = Some(delivered.problem.unwrap_or_else(|| "no answer".to_owned()));
            obs.stopped = Some(Stopped::Request);
        }
    }
    Ok(obs)
}

/// The token request's form (RFC 7523 §2.1); the grant is base64url, which needs no escaping.
fn form(jwt: &str) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(jwt.len() + 80));
    body.extend_from_slice(
        b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=",
    );
    body.extend_from_slice(jwt.as_bytes());
    body
}
