//! Findings of the token step: what the [`TokenObservation`] means, each with a stable code
//! and one sentence that says what to do (and whom to ask: Digdir for clients, keys and
//! certificates; Skatteetaten for scopes and access). Pure, like the rest of the audit.
//!
//! The path to the authorization server (DNS, TCP, proxy, TLS) is judged by the audit of
//! `check` itself ([`path_findings`]), so an intercepted or blocked token endpoint reads the
//! same in `token` as in `check`, and `authorization-server-unreachable` says that it kept
//! the token step from going on.

use chrono::{DateTime, Utc};

use super::{AuditOptions, Code, Finding};
use crate::catalog::{ApiAudience, AuthorizationServer, Catalog};
use crate::plan::{EntryKind, Plan, PlannedName, Selection};
use crate::token::answer::{TokenAnswer, TokenClaims, advice};
use crate::token::certificate::{self, CertificateFacts, MIN_RSA_BITS};
use crate::token::flow::{Stopped, TokenObservation};

/// Findings of a token step against `server`, judged at `now` (certificate validity).
pub fn findings(
    obs: &TokenObservation,
    server: &AuthorizationServer,
    now: DateTime<Utc>,
    options: &AuditOptions,
) -> Vec<Finding> {
    let at = At {
        environment: obs.environment.clone(),
        service: obs.service.clone(),
        host: host_of(&obs.metadata_url),
        port: port_of(&obs.metadata_url),
    };
    let mut out = Vec::new();
    for file in &obs.exposed_files {
        out.push(at.finding(Code::KeyFileReadable, file.clone()));
    }
    if let Some(problem) = &obs.key_problem {
        out.push(at.finding(
            Code::ClientKeyUnusable,
            format!("the client's key cannot be used: {problem}"),
        ));
    }
    key_and_certificate(obs, server, now, options, &at, &mut out);
    match obs.stopped {
        Some(Stopped::Metadata) => out.push(at.finding(
            Code::AuthorizationServerUnreachable,
            format!(
                "no usable metadata from {}: {}; no grant was sent (see the findings about this host for the cause)",
                obs.metadata_url,
                obs.metadata_problem.as_deref().unwrap_or("no answer")
            ),
        )),
        Some(Stopped::Request) => out.push(at.finding(
            Code::AuthorizationServerUnreachable,
            format!(
                "the token request got no answer: {}",
                obs.request_problem.as_deref().unwrap_or("no answer")
            ),
        )),
        Some(Stopped::Grant) => out.push(at.finding(
            Code::CertificateNotForSigning,
            format!(
                "no grant could be signed: {}",
                obs.grant_problem.as_deref().unwrap_or("unknown")
            ),
        )),
        _ => {}
    }
    if let Some(answer) = &obs.answer {
        answer_findings(obs, server, answer, &at, &mut out);
    }
    super::sort(&mut out);
    out
}

/// Where token findings point: the authorization server's host and port.
struct At {
    environment: String,
    service: String,
    host: Option<String>,
    port: Option<u16>,
}

impl At {
    fn finding(&self, code: Code, message: String) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            environment: Some(self.environment.clone()),
            service: Some(self.service.clone()),
            host: self.host.clone(),
            address: None,
            port: self.port,
            message,
        }
    }
}

fn host_of(url: &str) -> Option<String> {
    crate::catalog::HttpsUrl::parse(url).map(|u| u.host.to_string())
}

fn port_of(url: &str) -> Option<u16> {
    crate::catalog::HttpsUrl::parse(url).map(|u| u.port.get())
}

fn key_and_certificate(
    obs: &TokenObservation,
    server: &AuthorizationServer,
    now: DateTime<Utc>,
    options: &AuditOptions,
    at: &At,
    out: &mut Vec<Finding>,
) {
    if let Some(kind) = &obs.key_type_problem {
        out.push(at.finding(
            Code::CertificateNotForSigning,
            format!("the key is {kind}; Maskinporten takes grants signed RS256, RS384 or RS512, so the enterprise certificate's RSA key is needed"),
        ));
    }
    if obs.key_mismatch {
        out.push(at.finding(
            Code::CertificateNotForSigning,
            "the private key does not belong to the certificate (--key and --cert are not a pair): give the key the enterprise certificate was issued for".to_owned(),
        ));
    }
    let Some(facts) = &obs.certificate else {
        return;
    };
    let name = describe(facts);
    let days = certificate::days_left(facts, now);
    if facts.certificate.not_before > now {
        out.push(at.finding(
            Code::CertificateNotYetValid,
            format!(
                "{name} is valid only from {} (check this host's clock)",
                facts.certificate.not_before.date_naive()
            ),
        ));
    } else if days < 0 || facts.certificate.not_after < now {
        out.push(at.finding(
            Code::CertificateExpired,
            format!("{name} expired on {}: order a new one from the issuer (Buypass or Commfides) and register it", facts.certificate.not_after.date_naive()),
        ));
    } else if days <= options.cert_warn_days {
        out.push(at.finding(
            Code::CertificateExpiring,
            format!(
                "{name} expires on {} ({days} days): renew it before then",
                facts.certificate.not_after.date_naive()
            ),
        ));
    }
    if !facts.signing_allowed {
        out.push(at.finding(
            Code::CertificateNotForSigning,
            format!("{name} is not for signing (key usage {}): use the enterprise certificate of type \"signering\" (Skatteetaten asks for one in test too)", facts.key_usage.join(", ")),
        ));
    }
    if let Some(bits) = facts.rsa_bits
        && bits < MIN_RSA_BITS
    {
        out.push(at.finding(
            Code::CertificateNotForSigning,
            format!("{name} has an RSA key of {bits} bits; at least {MIN_RSA_BITS} are needed"),
        ));
    }
    if !facts.rsa && obs.key_type_problem.is_none() {
        out.push(at.finding(
            Code::CertificateNotForSigning,
            format!(
                "{name} has a {} key; the grant is signed RS256/384/512, which needs an RSA key",
                facts.certificate.key_algorithm
            ),
        ));
    }
    if let Some(env) = &facts.issued_for
        && env != &server.environment
    {
        out.push(at.finding(
            Code::CertificateWrongEnvironment,
            format!(
                "{name} is issued by {}, a CA of the {env} environment, and {} refuses it: {} needs a {} enterprise certificate (order one from Buypass or Commfides)",
                facts.issuer_name,
                obs.environment,
                obs.environment,
                if obs.environment.contains("prod") { "production" } else { "test" }
            ),
        ));
    }
}

fn describe(facts: &CertificateFacts) -> String {
    match &facts.organisation_number {
        Some(org) => format!("the enterprise certificate of organisation {org}"),
        None => "the enterprise certificate".to_owned(),
    }
}

fn answer_findings(
    obs: &TokenObservation,
    server: &AuthorizationServer,
    answer: &TokenAnswer,
    at: &At,
    out: &mut Vec<Finding>,
) {
    let env = &obs.environment;
    match answer {
        TokenAnswer::Token(claims) => token_findings(obs, server, claims, at, out),
        TokenAnswer::Error {
            status,
            error,
            description,
        } => {
            let said = match description {
                Some(d) => format!("{error} ({d})"),
                None => error.clone(),
            };
            let code = if error == "invalid_scope" {
                Code::TokenScopeMissing
            } else {
                Code::TokenDenied
            };
            out.push(at.finding(
                code,
                format!(
                    "the authorization server refused the token (HTTP {status}: {said}): {}",
                    advice(error, description.as_deref(), env)
                ),
            ));
        }
        TokenAnswer::Unexpected { status, what } => out.push(at.finding(
            Code::TokenDenied,
            format!(
                "the token endpoint answered HTTP {status} with {what}: if it persists, check Digdir's status page and tell Digdir"
            ),
        )),
    }
}

fn token_findings(
    obs: &TokenObservation,
    server: &AuthorizationServer,
    claims: &TokenClaims,
    at: &At,
    out: &mut Vec<Finding>,
) {
    let missing: Vec<&String> = obs
        .scopes
        .iter()
        .filter(|s| !claims.scopes.contains(s))
        .collect();
    if !missing.is_empty() {
        out.push(at.finding(
            Code::TokenScopeMissing,
            format!(
                "the token lacks {}: ask Skatteetaten whether your organisation has the scope in {}, and add it to the client in Digdir's self-service",
                join(&missing),
                obs.environment
            ),
        ));
    }
    let provider_scope = obs.scopes.iter().any(|s| {
        server
            .api_scope_prefixes
            .iter()
            .any(|p| s.starts_with(p.as_str()))
    });
    if server.api_audience == ApiAudience::Unspecified && provider_scope && !claims.aud.is_empty() {
        out.push(at.finding(
            Code::TokenAudienceSet,
            format!(
                "the token's audience is {}, but the API expects tokens without an audience (\"unspecified\"): do not send `resource` (--resource) for these scopes",
                claims.aud.join(", ")
            ),
        ));
    }
    if missing.is_empty() && !out.iter().any(|f| f.code == Code::TokenAudienceSet) {
        let mut parts = vec![format!("scopes {}", claims.scopes.join(" "))];
        if let Some(seconds) = claims.expires_in {
            parts.push(format!("valid {seconds} s"));
        }
        if let Some(consumer) = &claims.consumer {
            parts.push(format!("consumer {}", consumer.id));
        }
        if let Some(supplier) = &claims.supplier {
            parts.push(format!("supplier {}", supplier.id));
        }
        if claims.aud.is_empty() {
            parts.push("no audience".to_owned());
        } else {
            parts.push(format!("audience {}", claims.aud.join(", ")));
        }
        out.push(at.finding(
            Code::TokenOk,
            format!("client {} got a token: {}", obs.client_id, parts.join(", ")),
        ));
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan entry of the authorization server's host: the data file's (with its documented
/// addresses) when the data lists the host, else one made for it (a `--metadata-url`
/// elsewhere), whose addresses the data cannot document.
pub fn planned_host(
    catalog: &Catalog,
    server: &AuthorizationServer,
    url: &crate::catalog::HttpsUrl,
) -> (PlannedName, bool) {
    let plan = Plan::new(
        catalog,
        &Selection {
            environments: vec![server.environment.clone()],
            services: vec![server.service.clone()],
            hosts: vec![url.host.clone()],
        },
    );
    match plan.names.into_iter().find(|p| p.ports.contains(&url.port)) {
        Some(planned) => (planned, true),
        None => (
            PlannedName {
                environment: server.environment.clone(),
                service: server.service.clone(),
                pattern: crate::catalog::HostPattern::Exact(url.host.clone()),
                kind: EntryKind::Endpoint,
                name: url.host.clone(),
                ports: vec![url.port],
                documented: Vec::new(),
                http: None,
            },
            false,
        ),
    }
}

/// The findings `check` would give for the path the metadata request took (DNS, TCP, the
/// proxy, TLS, HTTP). For a host the data does not list, findings about documented
/// addresses are left out: there is nothing to compare with.
pub fn path_findings(
    catalog: &Catalog,
    planned: PlannedName,
    in_data: bool,
    observation: &crate::probe::model::NameObservation,
    as_of: chrono::NaiveDate,
    options: &AuditOptions,
) -> Vec<Finding> {
    let plan = Plan {
        names: vec![planned],
    };
    super::audit(
        catalog,
        &plan,
        std::slice::from_ref(observation),
        as_of,
        options,
    )
    .into_iter()
    .filter(|f| f.code != Code::DataStale)
    .filter(|f| {
        in_data
            || !matches!(
                f.code,
                Code::UndocumentedAddress
                    | Code::WrongEnvironment
                    | Code::DocumentedAddressNotInDns
            )
    })
    .collect()
}
