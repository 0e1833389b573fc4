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
use crate::catalog::Catalog;
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
    for (step, result, details) in steps(obs, path) {
        table.row([step.to_owned(), result, details]);
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

fn steps(obs: &TokenObservation, path: &[TargetReport]) -> Vec<(&'static str, String, String)> {
    let mut rows = Vec::new();
    let stopped_at = |step: Stopped| obs.stopped == Some(step);
    // The key.
    let key = match (&obs.key_problem, &obs.key_type_problem) {
        (Some(problem), _) => ("unusable".to_owned(), sanitize(problem)),
        (None, Some(kind)) => ("not RSA".to_owned(), kind.clone()),
        (None, None) => (
            "loaded".to_owned(),
            match obs.key_source {
                "pkcs12" => "PKCS#12 keystore (x5c)".to_owned(),
                "pem" => "PEM key and chain (x5c)".to_owned(),
                _ => "JWK (kid)".to_owned(),
            },
        ),
    };
    let mut key_details = key.1;
    for file in &obs.exposed_files {
        key_details.push_str(&format!("\nwarning: {file}"));
    }
    rows.push(("key", key.0, key_details));
    // The certificate.
    if let Some(facts) = &obs.certificate {
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
        rows.push((
            "certificate",
            result.to_owned(),
            format!(
                "{}\nissuer {}\norganisation {}\n{}, key usage {}\nvalid {} to {}\n{environment}",
                c.subject,
                facts.issuer_name,
                facts
                    .organisation_number
                    .as_deref()
                    .unwrap_or("(none found)"),
                c.key_algorithm,
                if facts.key_usage.is_empty() {
                    "(any)".to_owned()
                } else {
                    facts.key_usage.join(", ")
                },
                c.not_before.date_naive(),
                c.not_after.date_naive(),
            ),
        ));
    }
    // The path and the metadata.
    if obs.metadata_path.is_some() || stopped_at(Stopped::Metadata) {
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
                format!("{}:{} {address} {tcp}{tls}", t.host, t.port)
            })
            .collect();
        rows.push((
            "path",
            if path
                .iter()
                .any(|t| t.tls.as_ref().is_some_and(|tls| tls.ok))
            {
                "ok"
            } else {
                "failed"
            }
            .to_owned(),
            if targets.is_empty() {
                "nothing probed".to_owned()
            } else {
                targets.join("\n")
            },
        ));
        let (result, details) = match (&obs.metadata, &obs.metadata_problem) {
            (Some(m), None) => (
                "ok".to_owned(),
                format!(
                    "{}\nissuer {}\ntoken endpoint {}",
                    obs.metadata_url, m.issuer, m.token_endpoint
                ),
            ),
            (_, Some(problem)) => (
                "failed".to_owned(),
                format!("{}\n{}", obs.metadata_url, sanitize(problem)),
            ),
            (None, None) => ("-".to_owned(), obs.metadata_url.clone()),
        };
        rows.push(("metadata", result, details));
    }
    // The grant.
    if let Some(grant) = &obs.grant {
        let c = &grant.claims;
        let mut details = format!(
            "{}, {}\naud {}\niss {}\nscope {}\niat {}, exp iat+{} s, jti {}",
            grant.alg,
            grant.key_reference,
            c.aud,
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
        rows.push(("grant", "signed".to_owned(), details));
    } else if let Some(problem) = &obs.grant_problem {
        rows.push(("grant", "failed".to_owned(), sanitize(problem)));
    }
    // The answer.
    match (&obs.answer, &obs.request_problem) {
        (Some(TokenAnswer::Token(claims)), _) => {
            let mut details = format!("scopes {}", claims.scopes.join(" "));
            if let Some(seconds) = claims.expires_in {
                details.push_str(&format!("\nexpires in {seconds} s"));
            }
            details.push_str(&format!(
                "\naudience {}",
                if claims.aud.is_empty() {
                    "none (unspecified)".to_owned()
                } else {
                    claims.aud.join(", ")
                }
            ));
            if let Some(consumer) = &claims.consumer {
                details.push_str(&format!("\nconsumer {}", consumer.id));
            }
            if let Some(supplier) = &claims.supplier {
                details.push_str(&format!("\nsupplier {}", supplier.id));
            }
            rows.push(("token", "granted".to_owned(), details));
        }
        (
            Some(TokenAnswer::Error {
                status,
                error,
                description,
            }),
            _,
        ) => rows.push((
            "token",
            "refused".to_owned(),
            format!(
                "HTTP {status} {error}{}",
                description
                    .as_ref()
                    .map(|d| format!("\n{d}"))
                    .unwrap_or_default()
            ),
        )),
        (Some(TokenAnswer::Unexpected { status, what }), _) => rows.push((
            "token",
            "failed".to_owned(),
            format!("HTTP {status}: {what}"),
        )),
        (None, Some(problem)) => rows.push(("token", "no answer".to_owned(), sanitize(problem))),
        (None, None) => {}
    }
    rows
}
