//! What a failed lookup tells the admin, and what to do about it. The advice follows what was
//! observed, because each outcome has another cause: no answer at all (timeout, an I/O error)
//! is a path to the resolver that is closed; NXDOMAIN is a resolver that answered that the
//! name does not exist (a wrong name, or a filtering or split-horizon resolver); no records
//! (NODATA) is a name without addresses of the families asked; SERVFAIL a resolver that
//! could not resolve the name itself; REFUSED one that will not serve this host.

use std::collections::BTreeMap;

use super::{Code, Context, Finding, outcome_text};
use crate::probe::model::{DnsObservation, DnsOutcome, NameObservation};

/// The `dns-failure` finding of a name that did not resolve, if it did not.
pub(super) fn failure(ctx: &Context<'_>, dns: &DnsObservation) -> Option<Finding> {
    let outcome = dns.outcome();
    if outcome == DnsOutcome::Answer {
        return None;
    }
    let said = failure_text(dns, outcome);
    // The resolver's own words where they add to the outcome (an I/O error, a timeout's
    // server); a message that only restates it ("the name does not exist (NXDOMAIN)") is
    // left out, so that the finding says each thing once.
    let detail = dns
        .a
        .iter()
        .chain(dns.aaaa.iter())
        .filter(|l| l.outcome == outcome)
        .find_map(|l| l.message.clone())
        .filter(|m| !m.contains(said))
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let documented = if ctx.planned.documented.is_empty() {
        String::new()
    } else {
        " The documented addresses are probed anyway.".to_owned()
    };
    Some(ctx.finding(
        Code::DnsFailure,
        None,
        None,
        format!(
            "{} did not resolve: {}{detail}; {}.{documented}",
            ctx.planned.name,
            said,
            advice(dns, outcome)
        ),
    ))
}

/// The outcome in words, saying which record types were asked when none came back.
fn failure_text(dns: &DnsObservation, outcome: DnsOutcome) -> &'static str {
    match (outcome, dns.a.is_some(), dns.aaaa.is_some()) {
        (DnsOutcome::NoRecords, true, false) => "no A records",
        (DnsOutcome::NoRecords, false, true) => "no AAAA records",
        _ => outcome_text(outcome),
    }
}

/// What to do, from what was observed.
fn advice(dns: &DnsObservation, outcome: DnsOutcome) -> &'static str {
    match outcome {
        DnsOutcome::Answer => "",
        DnsOutcome::Nxdomain => {
            "the resolver answered that the name does not exist: check the name against the provider's page and the data file; a filtering or split-horizon resolver also answers so for names it hides (compare with --resolver)"
        }
        DnsOutcome::NoRecords => match (dns.a.is_some(), dns.aaaa.is_some()) {
            (true, false) => {
                "the resolver answered, the name exists but has no IPv4 address, and this run asked only for A records (--family 4): if it has only IPv6 addresses, this host needs IPv6 to reach it (see them with --family both)"
            }
            (false, true) => {
                "the resolver answered, the name exists but has no IPv6 address, and this run asked only for AAAA records (--family 6): see its IPv4 addresses with --family both"
            }
            _ => {
                "the resolver answered, the name exists but has no addresses: the provider's DNS lacks them, or the resolver strips them (compare with --resolver)"
            }
        },
        DnsOutcome::Servfail => {
            "the resolver answered SERVFAIL, it could not resolve the name itself (its upstream is unreachable, or DNSSEC validation failed): check the resolver, or name another with --resolver"
        }
        DnsOutcome::Refused => {
            "the resolver refused to answer: it does not serve this host or this name; use the resolver this host is meant to use, or name one with --resolver"
        }
        DnsOutcome::Timeout => {
            "no answer from the resolver in time: let this host reach its DNS resolver (udp and tcp port 53), or name one with --resolver"
        }
        DnsOutcome::Error => {
            "the resolver could not be asked, or its answer was unusable (see the message): let this host reach its DNS resolver (udp and tcp port 53), or name one with --resolver"
        }
    }
}

/// The closing advice of a run where no name resolved (through a proxy, DNS is the proxy's
/// and not judged here), following what the resolver did; `None` when something resolved.
pub fn nothing_resolved(observations: &[NameObservation]) -> Option<String> {
    let outcomes: Vec<DnsOutcome> = observations
        .iter()
        .filter_map(|o| o.dns.as_ref().map(DnsObservation::outcome))
        .collect();
    if outcomes.is_empty()
        || outcomes.len() != observations.len()
        || outcomes.contains(&DnsOutcome::Answer)
    {
        return None;
    }
    let silent = |o: &DnsOutcome| matches!(o, DnsOutcome::Timeout | DnsOutcome::Error);
    const THEN: &str = "then tcp/443 to the provider's hosts; if egress goes through a proxy, give it with --proxy or HTTPS_PROXY.";
    if outcomes.iter().all(silent) {
        return Some(format!(
            "Nothing resolved, and no resolver answered at all (timeouts, errors): this host cannot reach a DNS resolver, or egress is closed. Open udp/tcp 53 to the resolver (or name one with --resolver), {THEN}"
        ));
    }
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for outcome in &outcomes {
        let word = if silent(outcome) {
            "no answer"
        } else {
            outcome_text(*outcome)
        };
        *counts.entry(word).or_default() += 1;
    }
    let first = outcomes.first().copied().unwrap_or(DnsOutcome::Error);
    if outcomes.iter().all(|o| *o == first) {
        let why = match first {
            DnsOutcome::Nxdomain => {
                "the resolver answered, but says none of the names exist (NXDOMAIN): it filters them, or it is not the resolver this host should use (compare with --resolver); check the data file against the provider's page"
            }
            DnsOutcome::NoRecords => {
                "the resolver answered, the names exist but have no addresses of the families asked (see --family)"
            }
            DnsOutcome::Servfail => {
                "the resolver answered SERVFAIL for every name: it cannot resolve them itself (its upstream is unreachable, or DNSSEC validation fails); check it, or name another with --resolver"
            }
            _ => {
                "the resolver refused every question: it does not serve this host; use the resolver this host is meant to use, or name one with --resolver"
            }
        };
        return Some(format!("Nothing resolved: {why}."));
    }
    let tally: Vec<String> = counts
        .iter()
        .map(|(word, n)| format!("{word} for {n} name{}", if *n == 1 { "" } else { "s" }))
        .collect();
    let reach = if counts.contains_key("no answer") {
        format!(
            " Where no answer came, let this host reach its resolver (udp/tcp 53, or name one with --resolver), {THEN}"
        )
    } else {
        " The resolver answered each time: check it (or name another with --resolver) and the data file.".to_owned()
    };
    Some(format!(
        "Nothing resolved: {}; see each name's dns-failure.{reach}",
        tally.join(", ")
    ))
}
