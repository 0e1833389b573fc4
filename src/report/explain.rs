//! A cause in words: one sentence for all its targets at once, and what to do. Every format
//! uses these words (the table, JSON's `causes[]`, Nagios, Markdown, HTML).
//!
//! The codes an admin meets most have sentences of their own, built from what was observed
//! (the issuer, the certificate, the DNS outcome) rather than from one target's message. Any
//! other code, and so any code added later, is said by its first finding's message, with the
//! number of targets it concerns.

use serde::Serialize;

use super::Report;
use super::causes::{Cause, certificates};
use crate::audit::{Code, Finding, days_left};
use crate::probe::model::{DnsOutcome, TargetObservation, TlsObservation};
use crate::term::plural;

/// Names listed in a cause's sentence before "and N more".
const NAMES_LISTED: usize = 6;

/// A certificate's names listed in a cause's sentence before "and N more" (`-v` lists them
/// all, once per certificate).
const SANS_LISTED: usize = 2;

/// A cause in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    /// What is wrong, for every target of the cause.
    pub summary: String,
    /// What to do about it (may be empty when the summary says it).
    pub action: String,
}

/// The words of `cause`.
pub fn explain(report: &Report<'_>, cause: &Cause) -> Explained {
    let finding = cause.findings.first().and_then(|&f| report.findings.get(f));
    // The token step's findings say it all themselves: the certificate they are about is the
    // client's, not the one the target of the authorization server's host served.
    if finding.is_some_and(|f| report.token_findings().contains(f)) {
        return default(report, cause, finding, None);
    }
    let target = cause
        .targets
        .first()
        .and_then(|&r| report.rows().get(r))
        .map(|row| row.target);
    let tls = target.and_then(|t| t.tls.as_ref());
    let on = scope(report, cause);
    let said = |summary: String, action: &str| Explained {
        summary,
        action: action.to_owned(),
    };
    match cause.code {
        Code::DnsFailure => dns(report, cause),
        Code::UndocumentedAddress => said(
            format!(
                "DNS answers outside the table's addresses for their environment ({on}): {}",
                addresses(report, cause)
            ),
            "open them too (`egresscheck check --rules FORMAT` writes the rules) or use hostname rules, and report them to the provider",
        ),
        Code::WrongEnvironment => said(
            format!("DNS answers that the table documents for another environment ({on})"),
            "check the resolver and the data: the environments may be mixed up",
        ),
        Code::Blocked => said(
            format!(
                "no answer to TCP connects to {} on {} ({on}): dropped",
                target_addresses(report, cause),
                ports(report, cause)
            ),
            "open it (`egresscheck check --rules FORMAT` writes the rules)",
        ),
        Code::Refused => said(
            format!(
                "TCP connects to {} on {} refused with a reset ({on})",
                target_addresses(report, cause),
                ports(report, cause)
            ),
            "open it, or ask the provider (nothing may listen there)",
        ),
        Code::Unreachable => said(
            format!(
                "no route ({}) to {on}",
                target
                    .and_then(|t| t.tcp.message.as_deref())
                    .unwrap_or("no route")
            ),
            "check the route (is there an IPv6 route?) or a firewall that rejects with ICMP",
        ),
        // How it failed is the audit's own reading of the handshake (a drop, a reset, an
        // alert, what the control handshakes showed): said whole.
        Code::TlsFailure => said(
            format!(
                "{} ({on})",
                finding.map_or_else(String::new, |f| without_label(f, target))
            ),
            "",
        ),
        Code::TlsOutdated => said(
            format!("servers that offer only TLS below 1.2 ({on})"),
            "the servers must support TLS 1.2 or 1.3",
        ),
        Code::TlsIntercepted => said(
            format!(
                "TLS intercepted by {} ({on}; trusted only through this machine's store)",
                tls.and_then(|t| t.chain.last())
                    .map_or("a middlebox", |root| root.issuer.as_str())
            ),
            "have the provider's hosts excluded from inspection, or, if the inspection is sanctioned, declare its CA with --ca-file",
        ),
        Code::CertificateUntrusted => said(
            format!(
                "certificates trusted by neither store, issued by {} ({}; {on})",
                tls.and_then(|t| t.chain.last())
                    .map_or("an unknown CA", |root| root.issuer.as_str()),
                tls.and_then(|t| t.public_error.as_deref())
                    .unwrap_or("not trusted")
            ),
            "something other than the provider answers, or the chain is incomplete",
        ),
        Code::CertificateNameMismatch => said(
            format!(
                "a certificate not valid for the name ({on}): {}",
                certificate_words(report, cause)
            ),
            if tls.is_some_and(|t| !t.trusted_public) {
                "it is not the provider's certificate"
            } else {
                "the provider serves a certificate without these names: report it to the provider"
            },
        ),
        Code::CertificateExpired => said(
            format!(
                "a certificate that expired on {} ({on}): {}",
                leaf_date(tls, |l| l.not_after),
                certificate_words(report, cause)
            ),
            "renew it",
        ),
        Code::CertificateNotYetValid => said(
            format!(
                "a certificate valid only from {} ({on})",
                leaf_date(tls, |l| l.not_before)
            ),
            "check this machine's clock (NTP)",
        ),
        Code::CertificateExpiring => said(
            format!(
                "a certificate that expires on {}, in {} days ({on}): {}",
                leaf_date(tls, |l| l.not_after),
                tls.and_then(|t| t.chain.first())
                    .map_or(0, |l| days_left(l.not_after, report.as_of)),
                certificate_words(report, cause)
            ),
            "the provider renews it in time; nothing to do yet",
        ),
        Code::SubnetOnlyAddress => said(
            format!(
                "{} the table documents only as part of a subnet or broad prefix ({on}): {}",
                plural(
                    cause.hosts.len(),
                    "name resolves to an address",
                    "names resolve to addresses"
                ),
                names(&cause.hosts)
            ),
            "address rules open it only with the whole prefix; hostname rules open only these names (`-v` says which rules scope opens what)",
        ),
        Code::BroadPrefix => said(
            format!(
                "{} the table documents only within a broad prefix ({on}): {}",
                plural(
                    cause.hosts.len(),
                    "name resolves to an address",
                    "names resolve to addresses"
                ),
                names(&cause.hosts)
            ),
            "a rule by address opens the whole prefix; hostname rules open only these names",
        ),
        Code::DocumentedAddressNotInDns => said(
            format!(
                "documented addresses DNS did not return, probed anyway: {} ({})",
                addresses(report, cause),
                names(&cause.hosts)
            ),
            "the provider may have moved them: compare the data with the provider's page",
        ),
        Code::LegacySunsetPassed => said(
            format!(
                "{} past {} sunset still {}: {}",
                plural(cause.hosts.len(), "retired host", "retired hosts"),
                if cause.hosts.len() == 1 {
                    "its"
                } else {
                    "their"
                },
                if cause.hosts.len() == 1 {
                    "resolves or answers"
                } else {
                    "resolve or answer"
                },
                names(&cause.hosts)
            ),
            "remove their firewall rules and any use of them",
        ),
        _ => default(report, cause, finding, target),
    }
}

/// `N of M targets`, and the names without an address the cause also concerns.
fn scope(report: &Report<'_>, cause: &Cause) -> String {
    let all = report.summary().targets;
    let targets = if cause.targets.len() == all && all > 1 {
        format!("all {all} targets")
    } else {
        format!(
            "{} of {}",
            cause.targets.len(),
            plural(all, "target", "targets")
        )
    };
    match cause.names_not_probed.len() {
        0 => targets,
        n => format!(
            "{targets} and {} without an address",
            plural(n, "name", "names")
        ),
    }
}

/// A list of names: all of them up to [`NAMES_LISTED`], then "and N more".
fn names(hosts: &[String]) -> String {
    let shown: Vec<&str> = hosts
        .iter()
        .take(NAMES_LISTED)
        .map(String::as_str)
        .collect();
    match hosts.len().saturating_sub(NAMES_LISTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The DNS causes: said by outcome, with the names.
fn dns(report: &Report<'_>, cause: &Cause) -> Explained {
    let dns = cause
        .hosts
        .first()
        .and_then(|h| report.observations.iter().find(|o| o.name.as_str() == h))
        .and_then(|o| o.dns.as_ref());
    let n = cause.hosts.len();
    let not = if n == 1 { "does" } else { "do" };
    let list = names(&cause.hosts);
    let count = plural(n, "name", "names");
    let summary = match dns.map(|d| (d.outcome(), d.a.is_some(), d.aaaa.is_some())) {
        Some((DnsOutcome::Nxdomain, _, _)) => {
            format!("{count} {not} not exist (NXDOMAIN): {list}")
        }
        Some((DnsOutcome::NoRecords, true, false)) => {
            format!("{count} without A records (only A was asked, --family 4): {list}")
        }
        Some((DnsOutcome::NoRecords, false, true)) => {
            format!("{count} without AAAA records (only AAAA was asked, --family 6): {list}")
        }
        Some((DnsOutcome::NoRecords, _, _)) => {
            format!("{count} without addresses (the names exist): {list}")
        }
        Some((DnsOutcome::Servfail, _, _)) => {
            format!("the resolver failed (SERVFAIL) on {count}: {list}")
        }
        Some((DnsOutcome::Refused, _, _)) => {
            format!("the resolver refused (REFUSED) {count}: {list}")
        }
        Some((DnsOutcome::Timeout, _, _)) => {
            format!("no answer from the resolver in time for {count}: {list}")
        }
        _ => {
            // The resolver's own words, once for all the names.
            let said = dns
                .and_then(|d| {
                    d.a.iter()
                        .chain(d.aaaa.iter())
                        .find_map(|l| l.message.clone())
                })
                .map_or_else(String::new, |m| format!(" ({m})"));
            format!("{count} could not be resolved{said}: {list}")
        }
    };
    let action = match dns.map(|d| d.outcome()) {
        Some(DnsOutcome::Nxdomain) => {
            "check them against the provider's page and the data, or compare with --resolver"
        }
        Some(DnsOutcome::NoRecords) => {
            "ask both families (--family both), or the provider's DNS lacks them (compare with --resolver)"
        }
        Some(DnsOutcome::Servfail | DnsOutcome::Refused) => {
            "check the resolver, or name another with --resolver"
        }
        _ => "let this host reach its resolver (udp and tcp port 53), or name one with --resolver",
    };
    let documented = if cause.targets.is_empty() {
        String::new()
    } else {
        format!(
            " (their documented addresses were probed anyway: {})",
            plural(cause.targets.len(), "target", "targets")
        )
    };
    Explained {
        summary: format!("{summary}{documented}"),
        action: action.to_owned(),
    }
}

/// The ports of a cause's targets: `tcp/443`, `tcp/443 and tcp/8443`.
fn ports(report: &Report<'_>, cause: &Cause) -> String {
    let mut ports: Vec<u16> = cause
        .targets
        .iter()
        .filter_map(|&r| report.rows().get(r))
        .map(|row| row.target.port.get())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    let words: Vec<String> = ports.iter().map(|p| format!("tcp/{p}")).collect();
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => "their ports".to_owned(),
    }
}

/// The distinct addresses of a cause's targets.
fn target_addresses(report: &Report<'_>, cause: &Cause) -> String {
    let mut seen: Vec<String> = Vec::new();
    for row in cause.targets.iter().filter_map(|&r| report.rows().get(r)) {
        let address = row
            .target
            .address
            .map_or_else(|| "the proxy".to_owned(), |a| a.to_string());
        if !seen.contains(&address) {
            seen.push(address);
        }
    }
    names(&seen)
}

/// The distinct addresses of a cause's findings.
fn addresses(report: &Report<'_>, cause: &Cause) -> String {
    let mut seen: Vec<String> = Vec::new();
    for finding in cause
        .findings
        .iter()
        .filter_map(|&f| report.findings.get(f))
    {
        if let Some(address) = finding.address.map(|a| a.to_string())
            && !seen.contains(&address)
        {
            seen.push(address);
        }
    }
    names(&seen)
}

fn leaf_date(
    tls: Option<&TlsObservation>,
    date: impl Fn(&crate::probe::model::CertificateInfo) -> chrono::DateTime<chrono::Utc>,
) -> String {
    tls.and_then(|t| t.chain.first()).map_or_else(
        || "?".to_owned(),
        |leaf| date(leaf).format("%Y-%m-%d").to_string(),
    )
}

/// The certificates a cause's targets served, each once: subject and names (the names
/// listed up to [`SANS_LISTED`]; `-v` describes each certificate in full).
fn certificate_words(report: &Report<'_>, cause: &Cause) -> String {
    let certs = certificates(report, &cause.targets);
    let words: Vec<String> = certs
        .iter()
        .filter_map(|(chain, _)| chain.first())
        .map(|leaf| {
            let shown: Vec<&str> = leaf
                .sans
                .iter()
                .take(SANS_LISTED)
                .map(String::as_str)
                .collect();
            match leaf.sans.len() {
                0 => leaf.subject.clone(),
                n if n <= SANS_LISTED => format!("{} for {}", leaf.subject, shown.join(", ")),
                n => format!(
                    "{} for {} and {} more",
                    leaf.subject,
                    shown.join(", "),
                    n - SANS_LISTED
                ),
            }
        })
        .collect();
    match words.len() {
        0 => "no certificate".to_owned(),
        1 => words.join(""),
        n => format!("{n} certificates: {}", words.join("; ")),
    }
}

/// Any other code: its first finding's message, without the target's own label, and how many
/// targets the cause concerns.
fn default(
    report: &Report<'_>,
    cause: &Cause,
    finding: Option<&Finding>,
    target: Option<&TargetObservation>,
) -> Explained {
    let Some(finding) = finding else {
        return Explained {
            summary: cause.code.to_string(),
            action: String::new(),
        };
    };
    let message = without_label(finding, target);
    let (what, action) = what_and_action(&message);
    let one = cause.findings.len() == 1 || cause.is_general();
    let summary = if one {
        what.to_owned()
    } else {
        format!("{what} (the same on {})", scope(report, cause))
    };
    Explained {
        summary,
        action: action.to_owned(),
    }
}

/// The message of `finding` without the label of its target (`host (address) port N: `).
fn without_label(finding: &Finding, target: Option<&TargetObservation>) -> String {
    if let (Some(host), Some(target)) = (&finding.host, target) {
        let label = match target.address {
            Some(address) => format!("{host} ({address}) port {}: ", target.port),
            None => format!("{host} port {}: ", target.port),
        };
        if let Some(rest) = finding.message.strip_prefix(&label) {
            return rest.to_owned();
        }
    }
    finding.message.clone()
}

/// A finding's message split into what is wrong and what to do: findings say the one, then
/// the other after a colon. A colon inside parentheses or brackets is part of what they
/// quote (`(HTTP 400: invalid_scope (MP-200: …))`), not that colon.
fn what_and_action(message: &str) -> (&str, &str) {
    let mut depth = 0usize;
    for (i, ch) in message.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 && message.get(i + 1..).is_some_and(|r| r.starts_with(' ')) => {
                return (
                    message.get(..i).unwrap_or(message),
                    message.get(i + 2..).unwrap_or(""),
                );
            }
            _ => {}
        }
    }
    (message, "")
}

#[cfg(test)]
mod tests {
    use super::what_and_action;

    #[test]
    fn the_action_follows_the_first_colon_outside_parentheses() {
        assert_eq!(
            what_and_action(
                "the authorization server refused the token (HTTP 400: invalid_scope (MP-200: Invalid scope)): the scope is not provisioned on the client: ask Skatteetaten"
            ),
            (
                "the authorization server refused the token (HTTP 400: invalid_scope (MP-200: Invalid scope))",
                "the scope is not provisioned on the client: ask Skatteetaten"
            )
        );
        assert_eq!(what_and_action("blocked: open it"), ("blocked", "open it"));
        assert_eq!(what_and_action("no colon here"), ("no colon here", ""));
        assert_eq!(what_and_action("a (b: c"), ("a (b: c", ""));
        assert_eq!(
            what_and_action("ends with a colon:"),
            ("ends with a colon:", "")
        );
    }
}
