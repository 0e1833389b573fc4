//! Findings grouped by cause: what an admin reads first.
//!
//! A run behind a TLS-inspecting proxy makes one finding per address (seventy and more for
//! the bundled data), each naming its target; the admin needs the two or three facts behind
//! them and who must act. A *cause* is one code with one explanation, whatever the address:
//! the same issuer of an intercepted chain, the same certificate, the same DNS outcome, the
//! same answer of the same proxy. How a cause is explained is decided per code where the
//! code's findings carry the explanation in their observation ([`explanation`]); for every
//! other code, and so for every code added later, it is the finding's message with its own
//! host, address, port and environment taken out: findings that say the same thing about
//! different targets are one cause, findings that say different things are not.
//!
//! Each cause counts the targets it concerns (by the attachment of
//! [`super::targets::Targets`]), the names (for causes about names that gave no address),
//! names who acts ([`Actor`]), and is put in words by [`super::explain`], the same words in
//! every format.

use std::collections::HashMap;

use serde::Serialize;

use super::Report;
use crate::audit::{Code, Finding, Severity};
use crate::probe::model::{CertificateInfo, DnsOutcome, TargetObservation};

/// Who has to act on a cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    /// Whoever runs the firewall: rules to add or remove.
    Firewall,
    /// Whoever runs the proxy or the TLS inspection.
    Proxy,
    /// Whoever runs the DNS resolver this host uses.
    Dns,
    /// The provider (its certificates, servers, DNS).
    Provider,
    /// Whoever maintains the data file (it follows the provider's page).
    Data,
    /// This host's admin (its clock, its options).
    Host,
    /// Whoever owns the integration: a migration to schedule; its Maskinporten client, scopes
    /// and enterprise certificate (what to ask Digdir or the provider for).
    Integration,
    /// No one: for the record.
    Nobody,
}

impl Actor {
    /// Who, in words.
    pub fn label(self) -> &'static str {
        match self {
            Actor::Firewall => "firewall team",
            Actor::Proxy => "proxy team",
            Actor::Dns => "DNS admin",
            Actor::Provider => "the provider",
            Actor::Data => "data maintainer",
            Actor::Host => "this host's admin",
            Actor::Integration => "integration owner",
            Actor::Nobody => "for the record",
        }
    }

    /// Who acts on findings of `code` (refined per finding by [`actor`]). A code this list
    /// does not know (a new one) falls to this host's admin, who reads the report.
    fn of_code(code: Code) -> Actor {
        match code {
            Code::UndocumentedAddress
            | Code::Blocked
            | Code::Refused
            | Code::Unreachable
            | Code::LegacySunsetPassed
            | Code::AddressAdded
            | Code::AddressRemoved
            | Code::ReachabilityChanged
            | Code::SubnetOnlyAddress
            | Code::BroadPrefix => Actor::Firewall,
            Code::ProxyDenied
            | Code::TlsFailure
            | Code::TlsIntercepted
            | Code::CertificateUntrusted
            | Code::HttpUnexpected
            | Code::TlsTrustChanged => Actor::Proxy,
            Code::DnsFailure
            | Code::WrongEnvironment
            | Code::NameStoppedResolving
            | Code::DnsOutcomeChanged => Actor::Dns,
            Code::TlsOutdated
            | Code::CertificateNameMismatch
            | Code::CertificateExpired
            | Code::CertificateExpiring
            | Code::TlsDowngraded => Actor::Provider,
            Code::DataStale | Code::DocumentedAddressNotInDns => Actor::Data,
            Code::LegacySunsetSoon
            | Code::TokenDenied
            | Code::TokenScopeMissing
            | Code::TokenAudienceSet
            | Code::CertificateWrongEnvironment
            | Code::CertificateNotForSigning => Actor::Integration,
            Code::TokenOk
            | Code::CertificateChanged
            | Code::NameResolves
            | Code::TargetAppeared
            | Code::TargetVanished
            | Code::TlsVersionChanged => Actor::Nobody,
            _ => Actor::Host,
        }
    }
}

/// One cause: findings of one code with one explanation.
#[derive(Debug, Clone)]
pub struct Cause {
    /// Its number in the report, from 1: the tables refer to it.
    pub number: usize,
    /// The code of its findings.
    pub code: Code,
    /// The worst severity among them (a code may have more than one).
    pub severity: Severity,
    /// Who acts.
    pub actor: Actor,
    /// What the findings share (see [`explanation`]).
    pub key: String,
    /// Its findings (indices into the report's findings), in report order.
    pub findings: Vec<usize>,
    /// The targets it concerns (indices into the report's rows), in report order.
    pub targets: Vec<usize>,
    /// The planned names it concerns that gave no address to probe (indices into
    /// `plan.names`).
    pub names_not_probed: Vec<usize>,
    /// The distinct hosts its findings name, in report order.
    pub hosts: Vec<String>,
}

impl Cause {
    /// True for a cause about the run rather than about targets or names.
    pub fn is_general(&self) -> bool {
        self.targets.is_empty() && self.names_not_probed.is_empty()
    }
}

/// The causes of a report's findings: grouped, ordered (worst first, then the most targets,
/// then by code) and numbered.
pub fn causes(report: &Report<'_>) -> Vec<Cause> {
    let by_finding = targets_by_finding(report);
    let mut order: Vec<(Code, String)> = Vec::new();
    let mut groups: HashMap<(Code, String), Cause> = HashMap::new();
    for (index, finding) in report.findings.iter().enumerate() {
        // The token step's findings are about the client, its key and certificate and the
        // authorization server's answer, not about the target of its host they attach to.
        let token_step = report.token_findings().contains(finding);
        let first = by_finding
            .get(&index)
            .and_then(|t| t.first())
            .and_then(|&r| report.rows().get(r))
            .map(|row| row.target)
            .filter(|_| !token_step);
        let key = (finding.code, explanation(report, finding, first));
        let cause = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Cause {
                number: 0,
                code: finding.code,
                severity: finding.severity,
                actor: actor(finding, first, token_step),
                key: key.1.clone(),
                findings: Vec::new(),
                targets: Vec::new(),
                names_not_probed: Vec::new(),
                hosts: Vec::new(),
            }
        });
        cause.severity = cause.severity.max(finding.severity);
        cause.findings.push(index);
        for &target in by_finding
            .get(&index)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if !cause.targets.contains(&target) {
                cause.targets.push(target);
            }
        }
        if let Some(host) = &finding.host
            && !cause.hosts.contains(host)
        {
            cause.hosts.push(host.clone());
        }
    }
    for (name, findings) in report.targets().not_probed() {
        for &f in findings {
            let Some(finding) = report.findings.get(f) else {
                continue;
            };
            let key = (finding.code, explanation(report, finding, None));
            if let Some(cause) = groups.get_mut(&key)
                && !cause.names_not_probed.contains(name)
            {
                cause.names_not_probed.push(*name);
            }
        }
    }
    let mut causes: Vec<Cause> = order
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .collect();
    for cause in &mut causes {
        cause.targets.sort_unstable();
    }
    causes.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| {
                (b.targets.len() + b.names_not_probed.len())
                    .cmp(&(a.targets.len() + a.names_not_probed.len()))
            })
            .then_with(|| a.code.cmp(&b.code))
    });
    for (i, cause) in causes.iter_mut().enumerate() {
        cause.number = i + 1;
    }
    causes
}

/// For each finding (by index), the targets it concerns.
fn targets_by_finding(report: &Report<'_>) -> HashMap<usize, Vec<usize>> {
    let mut by_finding: HashMap<usize, Vec<usize>> = HashMap::new();
    for row in 0..report.rows().len() {
        for &f in report.targets().findings_of(row) {
            by_finding.entry(f).or_default().push(row);
        }
    }
    by_finding
}

/// Who acts on `finding`: by its code, refined where what was observed says more (a name
/// that does not exist is the data's or the provider's business, a resolver that does not
/// answer the DNS admin's; a wrong certificate from a middlebox is the proxy team's; the
/// enterprise certificate of the token step (`token_step`) is the integration's to renew).
fn actor(finding: &Finding, target: Option<&TargetObservation>, token_step: bool) -> Actor {
    match finding.code {
        Code::CertificateExpired | Code::CertificateExpiring if token_step => Actor::Integration,
        Code::DnsFailure if finding.message.contains("NXDOMAIN") => Actor::Data,
        Code::CertificateNameMismatch | Code::CertificateExpired
            if target
                .and_then(|t| t.tls.as_ref())
                .is_some_and(|tls| !tls.trusted_public && !tls.anchored_public) =>
        {
            Actor::Proxy
        }
        Code::CertificateNotYetValid => Actor::Host,
        code => Actor::of_code(code),
    }
}

/// What findings of one code must share to be one cause.
///
/// Where the observation carries the explanation, it is taken from there: the DNS outcome of
/// a name, the issuing CA of an intercepted or untrusted chain, the certificate (by its
/// fingerprint) of a name mismatch or a date. Otherwise it is the message with the
/// finding's own host, address, port and environment replaced by placeholders.
pub fn explanation(
    report: &Report<'_>,
    finding: &Finding,
    target: Option<&TargetObservation>,
) -> String {
    let tls = target.and_then(|t| t.tls.as_ref());
    match finding.code {
        Code::DnsFailure => {
            let outcome = finding
                .host
                .as_deref()
                .and_then(|h| report.observations.iter().find(|o| o.name.as_str() == h))
                .and_then(|o| o.dns.as_ref())
                .map(|dns| {
                    let asked = match (dns.a.is_some(), dns.aaaa.is_some()) {
                        (true, false) => " A",
                        (false, true) => " AAAA",
                        _ => "",
                    };
                    format!("{}{asked}", outcome_key(dns.outcome()))
                });
            outcome.unwrap_or_else(|| template(finding))
        }
        Code::TlsIntercepted => tls
            .and_then(|t| t.chain.last())
            .map(|root| root.issuer.clone())
            .unwrap_or_else(|| template(finding)),
        Code::CertificateUntrusted => tls
            .map(|t| {
                format!(
                    "{} / {}",
                    t.chain
                        .last()
                        .map(|c| c.issuer.as_str())
                        .unwrap_or_default(),
                    t.public_error.as_deref().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| template(finding)),
        Code::CertificateNameMismatch
        | Code::CertificateExpired
        | Code::CertificateNotYetValid
        | Code::CertificateExpiring => tls
            .and_then(|t| t.chain.first())
            .map(|leaf| leaf.sha256.clone())
            .unwrap_or_else(|| template(finding)),
        _ => template(finding),
    }
}

fn outcome_key(outcome: DnsOutcome) -> &'static str {
    match outcome {
        DnsOutcome::Answer => "answer",
        DnsOutcome::Nxdomain => "nxdomain",
        DnsOutcome::NoRecords => "no-records",
        DnsOutcome::Servfail => "servfail",
        DnsOutcome::Refused => "refused",
        DnsOutcome::Timeout => "timeout",
        DnsOutcome::Error => "error",
    }
}

/// The message of `finding` with what is its own (host, address, port, environment) taken
/// out: what findings of the same code about different targets have in common.
pub fn template(finding: &Finding) -> String {
    let mut text = finding.message.clone();
    if let Some(host) = &finding.host {
        text = text.replace(host.as_str(), "{host}");
    }
    if let Some(address) = finding.address {
        text = text.replace(&address.to_string(), "{address}");
    }
    if let Some(port) = finding.port {
        text = replace_word(&text, &port.to_string(), "{port}");
    }
    if let Some(environment) = &finding.environment {
        text = replace_word(&text, environment, "{environment}");
    }
    text
}

/// `text` with each occurrence of `word` that is not part of a longer word or number
/// replaced by `with`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    if word.is_empty() {
        return text.to_owned();
    }
    let inside = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest.get(..at).and_then(|b| b.chars().next_back());
        let after = rest.get(at + word.len()..).and_then(|a| a.chars().next());
        out.push_str(rest.get(..at).unwrap_or_default());
        if inside(before) || inside(after) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = rest.get(at + word.len()..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// The distinct leaf certificates among `targets` (indices into the report's rows), each
/// once, in order of first appearance, with how many of the targets served it.
pub fn certificates<'a>(
    report: &Report<'a>,
    targets: &[usize],
) -> Vec<(&'a [CertificateInfo], usize)> {
    let mut seen: Vec<(&'a [CertificateInfo], usize)> = Vec::new();
    for row in targets.iter().filter_map(|&r| report.rows().get(r)) {
        let Some(chain) = row.target.tls.as_ref().map(|t| t.chain.as_slice()) else {
            continue;
        };
        let Some(leaf) = chain.first() else { continue };
        match seen
            .iter_mut()
            .find(|(c, _)| c.first().is_some_and(|l| l.sha256 == leaf.sha256))
        {
            Some((_, count)) => *count += 1,
            None => seen.push((chain, 1)),
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused token is not this host's to mend: the client, its scopes and its certificate
    /// are the integration's, registered with Digdir and the provider.
    #[test]
    fn the_token_step_names_who_acts() {
        for code in [
            Code::TokenDenied,
            Code::TokenScopeMissing,
            Code::TokenAudienceSet,
            Code::CertificateWrongEnvironment,
            Code::CertificateNotForSigning,
        ] {
            assert_eq!(Actor::of_code(code), Actor::Integration, "{code}");
        }
        assert_eq!(Actor::of_code(Code::TokenOk), Actor::Nobody);
        for code in [
            Code::ClientKeyUnusable,
            Code::KeyFileReadable,
            Code::ClockSkew,
            Code::AuthorizationServerUnreachable,
        ] {
            assert_eq!(Actor::of_code(code), Actor::Host, "{code}");
        }
    }

    fn finding(code: Code, host: &str, address: &str, port: u16, message: &str) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            environment: Some("prod".into()),
            service: Some("api".into()),
            host: Some(host.into()),
            address: address.parse().ok(),
            port: Some(port),
            message: message.into(),
        }
    }

    #[test]
    fn the_same_message_about_other_targets_is_one_template() {
        let a = finding(
            Code::Blocked,
            "a.example.no",
            "192.0.2.1",
            443,
            "a.example.no (192.0.2.1) port 443: no answer; open tcp/443 to 192.0.2.1 in prod",
        );
        let b = finding(
            Code::Blocked,
            "b.example.no",
            "2001:db8::1",
            443,
            "b.example.no (2001:db8::1) port 443: no answer; open tcp/443 to 2001:db8::1 in prod",
        );
        assert_eq!(template(&a), template(&b));
        assert_eq!(
            template(&a),
            "{host} ({address}) port {port}: no answer; open tcp/{port} to {address} in {environment}"
        );
        // Another explanation stays apart; a number that merely contains the port is kept.
        let c = finding(
            Code::Blocked,
            "c.example.no",
            "192.0.2.3",
            443,
            "c.example.no (192.0.2.3) port 443: refused by 14431 rules",
        );
        assert_ne!(template(&a), template(&c));
        assert!(template(&c).contains("14431"));
    }

    #[test]
    fn a_code_no_list_knows_falls_to_this_hosts_admin() {
        // Every code has an actor; the ones the list names keep theirs.
        for code in Code::ALL {
            let _ = Actor::of_code(*code).label();
        }
        assert_eq!(Actor::of_code(Code::Blocked), Actor::Firewall);
        assert_eq!(Actor::of_code(Code::TlsIntercepted), Actor::Proxy);
    }
}
