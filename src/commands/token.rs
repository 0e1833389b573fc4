//! `token`: can this host get a token? The token step over the probe path, audited and
//! rendered; and the client file `check --client` reads.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::audit::{self, AuditOptions, Finding, Severity};
use crate::catalog::{AuthorizationServer, Catalog, HttpsUrl};
use crate::commands::CommandError;
use crate::exit::Status;
use crate::output::target::reports;
use crate::output::token::{TokenReport, render_json, render_table};
use crate::probe::http::{HttpRequest, Method};
use crate::probe::model::{NameObservation, ProbeRequest, TcpState};
use crate::probe::{FetchRequest, ProbeError, ProbeOptions, SendPolicy};
use crate::token::flow::{self, Answer, Delivered, TokenObservation, TokenOptions, Transport};
use crate::token::grant::GrantAlgorithm;
use crate::token::keys::{self, KeySource, Secret};

/// The environment variable a keystore password may come from (never the command line).
pub const PASSWORD_ENV: &str = "EGRESSCHECK_KEYSTORE_PASSWORD";

/// Report formats of `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// The steps and findings for people.
    Table,
    /// The versioned JSON document.
    Json,
}

/// The authorization server of the environment `word` names, and every authorization server
/// of its service (to tell test from production certificates).
pub fn server_for<'a>(
    catalog: &'a Catalog,
    word: &str,
) -> Result<(&'a AuthorizationServer, Vec<&'a AuthorizationServer>), CommandError> {
    let env = super::data::select_environments(catalog, &[word.to_owned()])?
        .into_iter()
        .next()
        .ok_or_else(|| CommandError::Usage(format!("--env {word:?}: no such environment")))?;
    let server = catalog.authorization_server(&env.id).ok_or_else(|| {
        CommandError::Usage(format!(
            "{}: no [[authorization_server]] for environment {}; add one to the data file (see the README's data format)",
            catalog.origin, env.id
        ))
    })?;
    let servers = catalog
        .authorization_servers
        .iter()
        .filter(|a| a.service == server.service)
        .collect();
    Ok((server, servers))
}

/// The report of a token step: the token findings and `check`'s findings for the path of the
/// metadata request.
pub fn report<'a>(
    catalog: &'a Catalog,
    server: &AuthorizationServer,
    observation: &'a TokenObservation,
    now: DateTime<Utc>,
    as_of: NaiveDate,
    options: &AuditOptions,
) -> TokenReport<'a> {
    let mut findings = audit::token::findings(observation, server, now, options);
    let mut path = Vec::new();
    if let Some(name) = &observation.metadata_path
        && let Some(url) = HttpsUrl::parse(&observation.metadata_url)
    {
        let (planned, in_data) = audit::token::planned_host(catalog, server, &url);
        path = reports(
            name,
            &ProbeRequest {
                name: url.host.clone(),
                ports: vec![url.port],
                documented: planned.documented.clone(),
                http: None,
            },
        );
        findings.extend(audit::token::path_findings(
            catalog, planned, in_data, name, as_of, options,
        ));
        audit::sort(&mut findings);
    }
    TokenReport {
        catalog,
        observation,
        path,
        findings,
    }
}

/// Runs the token step for environment `env_word` over `transport` and writes the report.
#[allow(clippy::too_many_arguments)] // one per concern of the command; a struct would only rename them
pub fn token_with<T: Transport>(
    catalog: &Catalog,
    env_word: &str,
    options: &TokenOptions,
    transport: &T,
    audit_options: &AuditOptions,
    strict: bool,
    format: TokenFormat,
    screen: &crate::term::Screen,
    out: &mut dyn Write,
) -> Result<Status, CommandError> {
    let (server, servers) = server_for(catalog, env_word)?;
    let observation = flow::run(options, server, &servers, transport, Utc::now)?;
    let now = Utc::now();
    let report = report(
        catalog,
        server,
        &observation,
        now,
        now.date_naive(),
        audit_options,
    );
    match format {
        TokenFormat::Table => render_table(&report, screen, out)?,
        TokenFormat::Json => render_json(&report, out)?,
    }
    Ok(status(&report.findings, strict))
}

/// The token step's two requests over the probe's own path ([`crate::probe::fetch_blocking`]):
/// the name resolved as `check` resolves it (or handed to the proxy), TCP, TLS with the
/// recording verifier, one bounded HTTP exchange. The metadata `GET` goes over any
/// connection, so that what an intercepting middlebox answers is seen; the token `POST`,
/// which carries the signed grant, only over one that public roots (or `--ca-file`) trust
/// for the name.
#[derive(Debug, Clone)]
pub struct ProbeTransport {
    options: ProbeOptions,
}

impl ProbeTransport {
    /// A transport with these probe options (resolver, proxy, trust anchors, timeouts).
    pub fn new(options: ProbeOptions) -> Self {
        ProbeTransport { options }
    }

    fn send(
        &self,
        url: &HttpsUrl,
        request: Result<HttpRequest, String>,
        policy: SendPolicy,
    ) -> Result<Delivered, ProbeError> {
        let request = match request {
            Ok(request) => request,
            Err(problem) => {
                return Ok(Delivered {
                    observation: NameObservation {
                        name: url.host.clone(),
                        dns: None,
                        targets: Vec::new(),
                    },
                    answer: None,
                    problem: Some(problem),
                });
            }
        };
        let fetched = crate::probe::fetch_blocking(
            &FetchRequest {
                name: url.host.clone(),
                port: url.port,
                http: request,
                policy,
            },
            &self.options,
        )?;
        let problem = fetched
            .response
            .is_none()
            .then(|| why_no_answer(&fetched.observation));
        Ok(Delivered {
            // The probe's copy of the body wipes itself when `r` drops here.
            answer: fetched.response.map(|r| Answer {
                status: r.status,
                body: zeroize::Zeroizing::new(r.body.to_vec()),
            }),
            observation: fetched.observation,
            problem,
        })
    }
}

impl Transport for ProbeTransport {
    fn get(&self, url: &HttpsUrl) -> Result<Delivered, ProbeError> {
        let request = HttpRequest::new(Method::Get, &url.path)
            .and_then(|r| r.with_header("accept", "application/json"))
            .map_err(|e| e.to_string());
        self.send(url, request, SendPolicy::Always)
    }

    fn post_form(
        &self,
        url: &HttpsUrl,
        mut body: zeroize::Zeroizing<Vec<u8>>,
    ) -> Result<Delivered, ProbeError> {
        // The request owns the body from here and wipes it when sent (hyper's and rustls's
        // own buffers are not reached; the grant in them is single-use and expires within
        // two minutes).
        let request = HttpRequest::post(
            &url.path,
            "application/x-www-form-urlencoded",
            std::mem::take(&mut *body),
        )
        .and_then(|r| r.with_header("accept", "application/json"))
        .map_err(|e| e.to_string());
        self.send(url, request, SendPolicy::Trusted)
    }
}

/// Why no target answered, from the last one tried (or DNS, when none was).
fn why_no_answer(observation: &NameObservation) -> String {
    let Some(target) = observation.targets.last() else {
        return observation
            .dns
            .as_ref()
            .and_then(|d| {
                d.a.iter()
                    .chain(d.aaaa.iter())
                    .find_map(|l| l.message.clone())
            })
            .map_or_else(
                || format!("{} has no address to connect to", observation.name),
                |m| format!("{} did not resolve: {m}", observation.name),
            );
    };
    let at = target
        .address
        .map_or_else(|| "through the proxy".to_owned(), |a| format!("at {a}"));
    if target.tcp.state != TcpState::Open {
        let why = target
            .tcp
            .message
            .clone()
            .unwrap_or_else(|| "no connection".to_owned());
        return format!("{} {at}: {why}", observation.name);
    }
    if let Some(tls) = &target.tls
        && let Some(error) = &tls.error
    {
        return format!("{} {at}: TLS failed: {error}", observation.name);
    }
    if let Some(http) = &target.http
        && let Some(error) = &http.error
    {
        return format!("{} {at}: {error}", observation.name);
    }
    format!("{} {at}: no HTTP answer", observation.name)
}

/// Exit status as `check`: 1 on a `fail` finding, or on a `warn` with `--strict`.
pub fn status(findings: &[Finding], strict: bool) -> Status {
    match audit::verdict(findings) {
        Severity::Fail => Status::Fail,
        Severity::Warn if strict => Status::Fail,
        _ => Status::Pass,
    }
}

/// The keystore password: from `file` when given, else from [`PASSWORD_ENV`] (`env`).
pub fn keystore_password(file: Option<&Path>, env: Option<String>) -> Result<Secret, CommandError> {
    match (file, env) {
        (Some(file), _) => keys::read_password_file(file).map_err(|e| CommandError::Input {
            file: e.file,
            reason: e.reason,
        }),
        (None, Some(value)) => Ok(Secret::new(value)),
        (None, None) => Err(CommandError::Usage(format!(
            "--keystore needs its password: --keystore-password-file FILE or the environment variable {PASSWORD_ENV} (never on the command line)"
        ))),
    }
}

/// A client file for `check --client` (TOML): the options of `egresscheck token`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct ClientFile {
    /// The environment (id, name or alias); may be left out when `check` has one `--env`.
    environment: Option<String>,
    client_id: String,
    scopes: Vec<String>,
    keystore: Option<PathBuf>,
    keystore_password_file: Option<PathBuf>,
    key: Option<PathBuf>,
    cert: Option<PathBuf>,
    jwk: Option<PathBuf>,
    kid: Option<String>,
    consumer_org: Option<String>,
    resource: Option<String>,
    metadata_url: Option<String>,
    algorithm: Option<String>,
}

/// Most bytes of a client file read.
const MAX_CLIENT_FILE_BYTES: usize = 64 * 1024;

/// Reads a client file: the environment it names (if any) and the token options. Paths in
/// it are relative to the file's directory; the password comes from its
/// `keystore_password_file` or [`PASSWORD_ENV`] (`env`), never from the file itself.
pub fn client_file(
    path: &Path,
    env: Option<String>,
) -> Result<(Option<String>, TokenOptions), CommandError> {
    let shown = path.display().to_string();
    let input = |reason: String| CommandError::Input {
        file: shown.clone(),
        reason,
    };
    let file = std::fs::File::open(path)
        .map_err(|e| input(format!("cannot read the client file: {e}")))?;
    let bytes = super::read_limited(file, MAX_CLIENT_FILE_BYTES, &shown, "client file")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| input("the client file is not UTF-8".to_owned()))?;
    let raw: ClientFile =
        toml::from_str(text).map_err(|e| input(format!("not a client file: {}", e.message())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let at = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
    let key = key_source(
        at(&raw.keystore),
        at(&raw.keystore_password_file).as_deref(),
        env,
        at(&raw.key),
        at(&raw.cert),
        at(&raw.jwk),
        raw.kid.clone(),
    )?;
    let metadata_url = raw
        .metadata_url
        .as_deref()
        .map(parse_metadata_url)
        .transpose()?;
    let algorithm = raw
        .algorithm
        .as_deref()
        .map(parse_algorithm)
        .transpose()?
        .unwrap_or_default();
    let options = TokenOptions {
        client_id: raw.client_id,
        scopes: raw.scopes,
        key,
        password_file: at(&raw.keystore_password_file),
        consumer_org: raw.consumer_org,
        resource: raw.resource,
        metadata_url,
        algorithm,
    };
    validate(&options)?;
    Ok((raw.environment, options))
}

/// The key source the key options name: exactly one of a keystore, a PEM key with its chain,
/// or a JWK with its kid.
pub fn key_source(
    keystore: Option<PathBuf>,
    password_file: Option<&Path>,
    password_env: Option<String>,
    key: Option<PathBuf>,
    cert: Option<PathBuf>,
    jwk: Option<PathBuf>,
    kid: Option<String>,
) -> Result<KeySource, CommandError> {
    match (keystore, key, cert, jwk, kid) {
        (Some(path), None, None, None, None) => Ok(KeySource::Keystore {
            password: keystore_password(password_file, password_env)?,
            path,
        }),
        (None, Some(key), Some(chain), None, None) => Ok(KeySource::Pem { key, chain }),
        (None, None, None, Some(path), Some(kid)) => Ok(KeySource::Jwk { path, kid }),
        _ => Err(CommandError::Usage(
            "give the client's key one way: --keystore FILE.p12, or --key KEY.pem with --cert CHAIN.pem, or --jwk FILE.json with --kid KID".to_owned(),
        )),
    }
}

/// `--metadata-url`: an https URL on a DNS name.
pub fn parse_metadata_url(text: &str) -> Result<HttpsUrl, CommandError> {
    HttpsUrl::parse(text).ok_or_else(|| {
        CommandError::Usage(format!(
            "--metadata-url {:?}: expected https://HOST[:PORT]/PATH with a DNS host name",
            crate::term::sanitize(text)
        ))
    })
}

/// `--algorithm`: RS256, RS384 or RS512.
pub fn parse_algorithm(text: &str) -> Result<GrantAlgorithm, CommandError> {
    match text {
        "RS256" => Ok(GrantAlgorithm::RS256),
        "RS384" => Ok(GrantAlgorithm::RS384),
        "RS512" => Ok(GrantAlgorithm::RS512),
        other => Err(CommandError::Usage(format!(
            "algorithm {:?}: Maskinporten takes RS256, RS384 or RS512",
            crate::term::sanitize(other)
        ))),
    }
}

/// Checks what the grant would carry: a client id, scopes, an organisation number.
pub fn validate(options: &TokenOptions) -> Result<(), CommandError> {
    let visible = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    };
    if !visible(&options.client_id) {
        return Err(CommandError::Usage(
            "--client-id: expected the client id from Digdir's self-service (visible ASCII, no spaces)".to_owned(),
        ));
    }
    if options.scopes.is_empty() || !options.scopes.iter().all(|s| visible(s)) {
        return Err(CommandError::Usage(
            "--scope: give at least one scope, each without spaces or quotes (repeat --scope for more)".to_owned(),
        ));
    }
    if let Some(org) = &options.consumer_org
        && !(org.len() == 9 && org.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(CommandError::Usage(format!(
            "--consumer-org {:?}: expected a Norwegian organisation number (nine digits)",
            crate::term::sanitize(org)
        )));
    }
    if let Some(resource) = &options.resource
        && !visible(resource)
    {
        return Err(CommandError::Usage(
            "--resource: expected a URI without spaces or quotes".to_owned(),
        ));
    }
    Ok(())
}
