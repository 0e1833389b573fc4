//! `egresscheck token`'s report, and the token section of `check --client`: each step of the
//! token request with what it showed, then the findings.
//!
//! JSON (schema 1, `kind: "token"`; public interface, fields are only added):
//!
//! ```json
//! {"schema": 1, "kind": "token", "tool": {"name", "version"},
//!  "data": {"provider", "version", "source_url", "document_date"},
//!  "verdict": "pass|warn|fail",
//!  "token": {environment, service, client_id, scopes[], consumer_org, resource, key_source,
//!            exposed_files[], key_problem, key_type_problem, certificate{certificate{subject,
//!            issuer, …}, issuer_name, organisation_number, key_usage[], signing_allowed, rsa,
//!            rsa_bits, issued_for}, key_mismatch, metadata_url, metadata_url_given,
//!            metadata_status, metadata{issuer, token_endpoint, jwks_uri}, metadata_problem,
//!            grant{alg, key_reference, claims{aud, iss, scope, iat, exp, jti, resource,
//!            consumer_org}}, grant_problem, request_problem,
//!            answer{outcome: token|error|unexpected, …}, stopped},
//!  "path": [target objects, as check's],
//!  "findings": [{code, severity, environment, service, host, address, port, message}]}
//! ```
//!
//! Neither format holds the key, the password, the signed grant or the token: the
//! observation never has them.

use std::io::{self, Write};

use serde::Serialize;

use super::json::{Data, Tool};
use super::target::TargetReport;
use crate::audit::{Finding, Severity};
use crate::catalog::{Catalog, HttpsUrl};
use crate::probe::model::ProbeRequest;
use crate::term::grid::{Column, Frame, Grid};
use crate::term::{self, Screen, sanitize};
use crate::token::answer::TokenAnswer;
use crate::token::flow::{Stopped, TokenObservation};

/// Version of the `token --format json` document.
pub const TOKEN_JSON_SCHEMA: u32 = 1;

/// A token step with its findings.
#[derive(Debug, Clone)]
pub struct TokenReport<'a> {
    /// The catalog.
    pub catalog: &'a Catalog,
    /// What the step saw.
    pub observation: &'a TokenObservation,
    /// The targets of the metadata request's path.
    pub path: Vec<TargetReport>,
    /// Findings: the path's and the token step's, worst first.
    pub findings: Vec<Finding>,
}

impl TokenReport<'_> {
    /// The worst severity.
    pub fn verdict(&self) -> Severity {
        crate::audit::verdict(&self.findings)
    }
}

#[derive(Serialize)]
struct TokenJson<'a> {
    schema: u32,
    kind: &'static str,
    tool: Tool,
    data: Data<'a>,
    verdict: &'static str,
    token: &'a TokenObservation,
    path: &'a [TargetReport],
    findings: &'a [Finding],
}

fn verdict_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "pass",
        Severity::Warn => "warn",
        Severity::Fail => "fail",
    }
}

/// Writes the JSON document.
pub fn render_json(report: &TokenReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    let doc = TokenJson {
        schema: TOKEN_JSON_SCHEMA,
        kind: "token",
        tool: Tool::this(),
        data: Data::of(report.catalog),
        verdict: verdict_word(report.verdict()),
        token: report.observation,
        path: &report.path,
        findings: &report.findings,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// Writes the table report, sized to `screen`.
pub fn render_table(
    report: &TokenReport<'_>,
    screen: &Screen,
    out: &mut dyn Write,
) -> io::Result<()> {
    let obs = report.observation;
    let verdict = report.verdict();
    writeln!(
        out,
        "egresscheck token {}: client {} in {} ({}), scopes {}",
        verdict_word(verdict).to_uppercase(),
        sanitize(&obs.client_id),
        obs.environment,
        obs.service,
        sanitize(&obs.scopes.join(" "))
    )?;
    write_steps(obs, &report.path, screen, out)?;
    write_findings(&report.findings, out)
}

/// The steps table (also the token section of `check --client`), sized to `screen`.
pub fn write_steps(
    obs: &TokenObservation,
    path: &[TargetReport],
    screen: &Screen,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut table = Grid::new(vec![
        Column::atoms("step"),
        Column::words("result"),
        Column::names("details"),
    ]);
    for step in steps(obs, path) {
        table.row([step.step.to_owned(), step.result, step.details.join("\n")]);
    }
    term::write_table(
        out,
        screen.width,
        "",
        &table.render(screen.width, Frame::Boxed, screen.colour),
    )
}

/// The findings list.
pub fn write_findings(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nFindings:")?;
    for f in findings {
        writeln!(
            out,
            "  {:<4}  {}  {}",
            f.severity,
            f.code,
            sanitize(&f.message)
        )?;
    }
    Ok(())
}

/// How a step of the token request went, as every format marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Done as it should be.
    Done,
    /// Done, with something to mend (a key file others can read).
    Warning,
    /// The step failed, or its result stops the token.
    Failed,
}

/// One step of the token request as the table, the Markdown and the HTML show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `key`, `certificate`, `path`, `metadata`, `grant` or `token`.
    pub step: &'static str,
    /// What came of it, in a word or two (`loaded`, `granted`, `refused`, …).
    pub result: String,
    /// How it reads at a glance.
    pub outcome: StepOutcome,
    /// What it showed, one fact a line. Text from the network or a file is sanitised
    /// ([`sanitize`]); escaping for a markup is the format's.
    pub details: Vec<String>,
}

impl Step {
    fn new(step: &'static str, result: &str, outcome: StepOutcome, details: String) -> Step {
        Step {
            step,
            result: result.to_owned(),
            outcome,
            details: details.lines().map(str::to_owned).collect(),
        }
    }
}

/// Whether this host got a token and, when it did not, what stopped it, in words; the same
/// in every format.
pub fn outcome(obs: &TokenObservation) -> (bool, String) {
    let text = match (&obs.answer, obs.stopped) {
        (Some(TokenAnswer::Token(_)), _) => return (true, "this host got a token".to_owned()),
        (Some(TokenAnswer::Error { status, error, .. }), _) => format!(
            "the authorization server refused the token (HTTP {status} {})",
            sanitize(error)
        ),
        (Some(TokenAnswer::Unexpected { status, .. }), _) => {
            format!("the token request got an answer that is not a token (HTTP {status})")
        }
        (None, Some(Stopped::Key)) => "the key could not be used; nothing was sent".to_owned(),
        (None, Some(Stopped::Certificate)) => {
            "the key or certificate cannot sign a grant Maskinporten takes; nothing was sent"
                .to_owned()
        }
        (None, Some(Stopped::Metadata)) => {
            "no usable metadata from the authorization server; no grant was sent".to_owned()
        }
        (None, Some(Stopped::Grant)) => "no grant could be signed; nothing was sent".to_owned(),
        (None, Some(Stopped::Request) | None) => "the token request got no answer".to_owned(),
    };
    (false, text)
}

/// The targets of the metadata request's path as the observation holds them: what
/// `check --client`, which keeps only the observation, shows in its token section.
pub fn path_of(obs: &TokenObservation) -> Vec<TargetReport> {
    let Some(name) = &obs.metadata_path else {
        return Vec::new();
    };
    let ports = HttpsUrl::parse(&obs.metadata_url)
        .map(|url| vec![url.port])
        .unwrap_or_default();
    super::target::reports(
        name,
        &ProbeRequest {
            name: name.name.clone(),
            ports,
            documented: Vec::new(),
            http: None,
        },
    )
}

/// The steps of the token request, in order, each with what it showed: the key, the
/// certificate, the path to the authorization server (`path`: its targets), the metadata,
/// the grant and the answer. A step the flow never reached is left out.
pub fn steps(obs: &TokenObservation, path: &[TargetReport]) -> Vec<Step> {
    let mut rows = vec![key_step(obs)];
    rows.extend(certificate_step(obs));
    if obs.metadata_path.is_some() || obs.stopped == Some(Stopped::Metadata) {
        rows.push(path_step(path));
        rows.push(metadata_step(obs));
    }
    rows.extend(grant_step(obs));
    rows.extend(answer_step(obs));
    rows
}

fn key_step(obs: &TokenObservation) -> Step {
    let (result, outcome, mut details) = match (&obs.key_problem, &obs.key_type_problem) {
        (Some(problem), _) => ("unusable", StepOutcome::Failed, sanitize(problem)),
        (None, Some(kind)) => ("not RSA", StepOutcome::Failed, kind.clone()),
        (None, None) => (
            "loaded",
            if obs.exposed_files.is_empty() {
                StepOutcome::Done
            } else {
                StepOutcome::Warning
            },
            match obs.key_source {
                "pkcs12" => "PKCS#12 keystore (x5c)".to_owned(),
                "pem" => "PEM key and chain (x5c)".to_owned(),
                _ => "JWK (kid)".to_owned(),
            },
        ),
    };
    for file in &obs.exposed_files {
        details.push_str(&format!("\nwarning: {}", sanitize(file)));
    }
    Step::new("key", result, outcome, details)
}

fn certificate_step(obs: &TokenObservation) -> Option<Step> {
    let facts = obs.certificate.as_ref()?;
    let c = &facts.certificate;
    let result = if obs.key_mismatch {
        "not the key's"
    } else if !facts.signing_allowed || !facts.rsa {
        "not for signing"
    } else if facts
        .issued_for
        .as_ref()
        .is_some_and(|e| e.as_str() != obs.environment)
    {
        "wrong environment"
    } else {
        "ok"
    };
    let environment = match &facts.issued_for {
        Some(env) => format!("a {env} certificate (by issuer)"),
        None => "issuer not recognised as a test or production CA".to_owned(),
    };
    Some(Step::new(
        "certificate",
        result,
        if result == "ok" {
            StepOutcome::Done
        } else {
            StepOutcome::Failed
        },
        format!(
            "{}\nissuer {}\norganisation {}\n{}, key usage {}\nvalid {} to {}\n{environment}",
            sanitize(&c.subject),
            sanitize(&facts.issuer_name),
            sanitize(
                facts
                    .organisation_number
                    .as_deref()
                    .unwrap_or("(none found)")
            ),
            c.key_algorithm,
            if facts.key_usage.is_empty() {
                "(any)".to_owned()
            } else {
                facts.key_usage.join(", ")
            },
            c.not_before.date_naive(),
            c.not_after.date_naive(),
        ),
    ))
}

/// Each target of the path: `host:port address open, TLSv1.3 trusted`.
fn path_step(path: &[TargetReport]) -> Step {
    let targets: Vec<String> = path
        .iter()
        .map(|t| {
            let address = t
                .address
                .map_or_else(|| "via proxy".to_owned(), |a| a.to_string());
            let tcp = t.tcp.as_ref().map_or("-", |tcp| {
                if tcp.state == crate::probe::model::TcpState::Open {
                    "open"
                } else {
                    "not open"
                }
            });
            let tls = t.tls.as_ref().map_or_else(String::new, |tls| {
                let trust = match (tls.trusted_public, tls.trusted_system) {
                    (true, _) => "trusted",
                    (false, true) => "INTERCEPTED",
                    (false, false) => "untrusted",
                };
                if tls.ok {
                    format!(", {} {trust}", tls.version.as_deref().unwrap_or("TLS"))
                } else {
                    ", TLS failed".to_owned()
                }
            });
            format!("{}:{} {address} {tcp}{tls}", sanitize(&t.host), t.port)
        })
        .collect();
    let ok = path
        .iter()
        .any(|t| t.tls.as_ref().is_some_and(|tls| tls.ok));
    Step::new(
        "path",
        if ok { "ok" } else { "failed" },
        if ok {
            StepOutcome::Done
        } else {
            StepOutcome::Failed
        },
        if targets.is_empty() {
            "nothing probed".to_owned()
        } else {
            targets.join("\n")
        },
    )
}

fn metadata_step(obs: &TokenObservation) -> Step {
    let url = sanitize(&obs.metadata_url);
    match (&obs.metadata, &obs.metadata_problem) {
        (Some(m), None) => Step::new(
            "metadata",
            "ok",
            StepOutcome::Done,
            format!(
                "{url}\nissuer {}\ntoken endpoint {}",
                sanitize(&m.issuer),
                sanitize(&m.token_endpoint)
            ),
        ),
        (_, Some(problem)) => Step::new(
            "metadata",
            "failed",
            StepOutcome::Failed,
            format!("{url}\n{}", sanitize(problem)),
        ),
        (None, None) => Step::new("metadata", "-", StepOutcome::Failed, url),
    }
}

fn grant_step(obs: &TokenObservation) -> Option<Step> {
    if let Some(grant) = &obs.grant {
        let c = &grant.claims;
        let mut details = format!(
            "{}, {}\naud {}\niss {}\nscope {}\niat {}, exp iat+{} s, jti {}",
            grant.alg,
            sanitize(&grant.key_reference),
            sanitize(&c.aud),
            sanitize(&c.iss),
            sanitize(&c.scope),
            c.iat,
            c.exp - c.iat,
            c.jti
        );
        if let Some(org) = &c.consumer_org {
            details.push_str(&format!("\nconsumer_org {}", sanitize(org)));
        }
        if let Some(resource) = &c.resource {
            details.push_str(&format!("\nresource {}", sanitize(&resource.join(" "))));
        }
        return Some(Step::new("grant", "signed", StepOutcome::Done, details));
    }
    obs.grant_problem
        .as_ref()
        .map(|problem| Step::new("grant", "failed", StepOutcome::Failed, sanitize(problem)))
}

fn answer_step(obs: &TokenObservation) -> Option<Step> {
    match (&obs.answer, &obs.request_problem) {
        (Some(TokenAnswer::Token(claims)), _) => {
            let mut details = format!("scopes {}", sanitize(&claims.scopes.join(" ")));
            if let Some(seconds) = claims.expires_in {
                details.push_str(&format!("\nexpires in {seconds} s"));
            }
            details.push_str(&format!(
                "\naudience {}",
                if claims.aud.is_empty() {
                    "none (unspecified)".to_owned()
                } else {
                    sanitize(&claims.aud.join(", "))
                }
            ));
            if let Some(consumer) = &claims.consumer {
                details.push_str(&format!("\nconsumer {}", sanitize(&consumer.id)));
            }
            if let Some(supplier) = &claims.supplier {
                details.push_str(&format!("\nsupplier {}", sanitize(&supplier.id)));
            }
            Some(Step::new("token", "granted", StepOutcome::Done, details))
        }
        (
            Some(TokenAnswer::Error {
                status,
                error,
                description,
            }),
            _,
        ) => Some(Step::new(
            "token",
            "refused",
            StepOutcome::Failed,
            format!(
                "HTTP {status} {}{}",
                sanitize(error),
                description
                    .as_ref()
                    .map(|d| format!("\n{}", sanitize(d)))
                    .unwrap_or_default()
            ),
        )),
        (Some(TokenAnswer::Unexpected { status, what }), _) => Some(Step::new(
            "token",
            "failed",
            StepOutcome::Failed,
            format!("HTTP {status}: {}", sanitize(what)),
        )),
        (None, Some(problem)) => Some(Step::new(
            "token",
            "no answer",
            StepOutcome::Failed,
            sanitize(problem),
        )),
        (None, None) => None,
    }
}
