//! Drift: what changed between the baseline (the observations an earlier run saved) and this
//! run, per name and per target. Pure, like the audit.
//!
//! Every name this run probes for a current entry, and that the baseline holds too, is
//! compared; each transition is one finding that says what it was and what it is now:
//!
//! | transition | code |
//! |---|---|
//! | the name did not resolve and now does | `name-resolves` |
//! | the name resolved and now does not | `name-stopped-resolving` |
//! | it still does not resolve, with another outcome (NXDOMAIN → timeout) | `dns-outcome-changed` |
//! | it resolves in both runs, to an address it did not before | `address-added` |
//! | it resolves in both runs, no longer to an address it did | `address-removed` |
//! | a target (address and port) is probed that was not, none of the above explaining it | `target-appeared` |
//! | a target is no longer probed, none of the above explaining it | `target-vanished` |
//! | a target's TCP state (open, refused, filtered, unreachable, proxy answers) | `reachability-changed` |
//! | TCP open in both: the TLS state (trusted, intercepted, untrusted, failed and how) | `tls-trust-changed` |
//! | TCP open in both: an older TLS version | `tls-downgraded` |
//! | TCP open in both: another TLS version, not older | `tls-version-changed` |
//! | another leaf certificate (SHA-256), with its issuer and end of validity before and now | `certificate-changed` |
//!
//! A difference is reported once, by the most telling finding: the targets that come and go
//! with a name's addresses are covered by `name-resolves`, `name-stopped-resolving`,
//! `address-added` and `address-removed`; a target whose address DNS returned in both runs
//! but which one run did not probe because of the per-name cap is covered by that run's
//! `addresses-capped`; TLS is not compared when TCP changed. DNS is compared over the address
//! families both runs asked (`--family`), and targets of the other family are left out, so a
//! change of `--family` is not drift. Legacy hosts are judged by their sunset, not by drift.
//! Not compared: timings, TTLs, CNAME chains, the answering server, error texts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::audit::{self, Code, Finding};
use crate::catalog::{DnsName, Port};
use crate::plan::{EntryKind, Plan, PlannedName};
use crate::probe::model::{
    DnsObservation, DnsOutcome, NameObservation, TargetObservation, TcpState, TlsObservation,
};

/// Drift findings between the baseline's observations and this run's, for the names of
/// `plan`.
pub fn drift(
    baseline: &[NameObservation],
    plan: &Plan,
    observations: &[NameObservation],
) -> Vec<Finding> {
    let before = audit::observations_by_name(baseline);
    let now = audit::observations_by_name(observations);
    let mut findings = Vec::new();
    for planned in plan.names.iter().filter(|p| p.kind == EntryKind::Endpoint) {
        if let (Some(b), Some(n)) = (before.get(&planned.name), now.get(&planned.name)) {
            name_drift(planned, b, n, &mut findings);
        }
    }
    findings
}

/// The findings of one planned name.
struct Context<'a> {
    planned: &'a PlannedName,
    findings: &'a mut Vec<Finding>,
}

impl Context<'_> {
    fn push(&mut self, code: Code, address: Option<IpAddr>, port: Option<Port>, message: String) {
        self.findings
            .push(Finding::about(self.planned, code, address, port, message));
    }

    fn host(&self) -> &DnsName {
        &self.planned.name
    }
}

/// The address families both runs asked DNS for.
#[derive(Debug, Clone, Copy)]
struct Families {
    v4: bool,
    v6: bool,
}

impl Families {
    fn common(before: &DnsObservation, now: &DnsObservation) -> Families {
        Families {
            v4: before.a.is_some() && now.a.is_some(),
            v6: before.aaaa.is_some() && now.aaaa.is_some(),
        }
    }

    fn admits(self, address: IpAddr) -> bool {
        if address.is_ipv6() { self.v6 } else { self.v4 }
    }

    /// `dns` as if only these families had been asked.
    fn only(self, dns: &DnsObservation) -> DnsObservation {
        DnsObservation {
            a: dns.a.clone().filter(|_| self.v4),
            aaaa: dns.aaaa.clone().filter(|_| self.v6),
            addresses_dropped: dns.addresses_dropped,
        }
    }
}

/// What the DNS comparison already reported: the addresses whose targets need no finding of
/// their own when they appear (`new`) or vanish (`gone`).
#[derive(Debug, Default)]
struct Explained {
    new: BTreeSet<IpAddr>,
    gone: BTreeSet<IpAddr>,
}

fn name_drift<'a>(
    planned: &PlannedName,
    before: &'a NameObservation,
    now: &'a NameObservation,
    findings: &mut Vec<Finding>,
) {
    let mut ctx = Context { planned, findings };
    // Through a proxy (no DNS of our own) in either run, every target is compared.
    let families = match (&before.dns, &now.dns) {
        (Some(b), Some(n)) => Some(Families::common(b, n)),
        _ => None,
    };
    let explained = match (&before.dns, &now.dns, families) {
        (Some(b), Some(n), Some(f)) if f.v4 || f.v6 => dns_drift(&mut ctx, &f.only(b), &f.only(n)),
        _ => Explained::default(),
    };
    let wanted = |t: &&TargetObservation| {
        planned.ports.contains(&t.port)
            && match (t.address, families) {
                (Some(address), Some(f)) => f.admits(address),
                _ => true,
            }
    };
    let by_key =
        |o: &'a NameObservation| -> BTreeMap<(Option<IpAddr>, Port), &'a TargetObservation> {
            o.targets
                .iter()
                .filter(wanted)
                .map(|t| ((t.address, t.port), t))
                .collect()
        };
    let (then, current) = (by_key(before), by_key(now));
    // A target that only one run probed although DNS returned its address in both: the
    // per-name cap chose it, and `addresses-capped` says so.
    let answered = |o: &NameObservation| -> BTreeSet<IpAddr> {
        o.dns.iter().flat_map(DnsObservation::addresses).collect()
    };
    let in_both: BTreeSet<IpAddr> = answered(before)
        .intersection(&answered(now))
        .copied()
        .collect();
    let was_capped = [before, now]
        .iter()
        .any(|o| o.dns.as_ref().is_some_and(|d| d.addresses_dropped > 0));
    let capped =
        |address: Option<IpAddr>| was_capped && address.is_some_and(|a| in_both.contains(&a));
    for (key, target) in &current {
        match then.get(key) {
            Some(old) => target_drift(&mut ctx, old, target),
            None => {
                let (address, port) = *key;
                if !(address.is_some_and(|a| explained.new.contains(&a)) || capped(address)) {
                    let label = audit::target_label(target, ctx.host());
                    ctx.push(
                        Code::TargetAppeared,
                        address,
                        Some(port),
                        format!(
                            "{label}: probed now ({}, TCP {}), not in the baseline",
                            origin_text(target),
                            tcp_text(target.tcp.state)
                        ),
                    );
                }
            }
        }
    }
    for (key, target) in &then {
        if current.contains_key(key) {
            continue;
        }
        let (address, port) = *key;
        if !(address.is_some_and(|a| explained.gone.contains(&a)) || capped(address)) {
            let label = audit::target_label(target, ctx.host());
            ctx.push(
                Code::TargetVanished,
                address,
                Some(port),
                format!(
                    "{label}: probed in the baseline ({}, TCP {}), not now",
                    origin_text(target),
                    tcp_text(target.tcp.state)
                ),
            );
        }
    }
}

/// Compares the DNS results of one name over the families both runs asked.
fn dns_drift(ctx: &mut Context<'_>, before: &DnsObservation, now: &DnsObservation) -> Explained {
    let answers = |d: &DnsObservation| d.addresses().collect::<BTreeSet<IpAddr>>();
    let (old, new) = (answers(before), answers(now));
    let (was, is) = (before.outcome(), now.outcome());
    let host = ctx.host().clone();
    match (was == DnsOutcome::Answer, is == DnsOutcome::Answer) {
        (false, true) => {
            ctx.push(
                Code::NameResolves,
                None,
                None,
                format!(
                    "{host} resolves now, to {}; in the baseline it did not ({})",
                    list(&new),
                    audit::outcome_text(was)
                ),
            );
            Explained {
                new,
                gone: BTreeSet::new(),
            }
        }
        (true, false) => {
            ctx.push(
                Code::NameStoppedResolving,
                None,
                None,
                format!(
                    "{host} no longer resolves ({} now); in the baseline it resolved to {}",
                    audit::outcome_text(is),
                    list(&old)
                ),
            );
            Explained {
                new: BTreeSet::new(),
                gone: old,
            }
        }
        (false, false) => {
            if was != is {
                ctx.push(
                    Code::DnsOutcomeChanged,
                    None,
                    None,
                    format!(
                        "{host} still does not resolve, but the outcome changed: {} in the baseline, {} now",
                        audit::outcome_text(was),
                        audit::outcome_text(is)
                    ),
                );
            }
            Explained::default()
        }
        (true, true) => {
            let added: BTreeSet<IpAddr> = new.difference(&old).copied().collect();
            let removed: BTreeSet<IpAddr> = old.difference(&new).copied().collect();
            for address in &added {
                ctx.push(
                    Code::AddressAdded,
                    Some(*address),
                    None,
                    format!(
                        "{host} now resolves to {address}, which it did not in the baseline (then {}, now {}): make sure the firewall lets it through",
                        list(&old),
                        list(&new)
                    ),
                );
            }
            for address in &removed {
                ctx.push(
                    Code::AddressRemoved,
                    Some(*address),
                    None,
                    format!(
                        "{host} no longer resolves to {address}, which it did in the baseline (then {}, now {})",
                        list(&old),
                        list(&new)
                    ),
                );
            }
            Explained {
                new: added,
                gone: removed,
            }
        }
    }
}

/// Compares one target both runs probed.
fn target_drift(ctx: &mut Context<'_>, before: &TargetObservation, now: &TargetObservation) {
    let label = audit::target_label(now, ctx.host());
    let (address, port) = (now.address, Some(now.port));
    if before.cut_by_deadline() || now.cut_by_deadline() {
        // A run's deadline ended one of the two probes: nothing to compare (`cut-short`).
        return;
    }
    if before.tcp.state != now.tcp.state {
        ctx.push(
            Code::ReachabilityChanged,
            address,
            port,
            format!(
                "{label}: TCP was {} in the baseline, now {}",
                tcp_text(before.tcp.state),
                tcp_text(now.tcp.state)
            ),
        );
        // What TLS did follows from TCP: not compared.
        return;
    }
    let (was, is) = (tls_state(before.tls.as_ref()), tls_state(now.tls.as_ref()));
    if was != is {
        ctx.push(
            Code::TlsTrustChanged,
            address,
            port,
            format!(
                "{label}: TLS was {was} in the baseline, now {is}{}",
                issuer_note(now.tls.as_ref())
            ),
        );
    }
    if let (Some(b), Some(n)) = (&before.tls, &now.tls)
        && b.ok
        && n.ok
        && b.version != n.version
    {
        let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_owned());
        let older = match (version_rank(&b.version), version_rank(&n.version)) {
            (Some(then), Some(current)) => current < then,
            _ => false,
        };
        ctx.push(
            if older {
                Code::TlsDowngraded
            } else {
                Code::TlsVersionChanged
            },
            address,
            port,
            format!(
                "{label}: TLS version was {} in the baseline, now {}{}",
                text(&b.version),
                text(&n.version),
                if older {
                    ": the server or a middlebox negotiates an older protocol"
                } else {
                    ""
                }
            ),
        );
    }
    let leaf = |t: &TargetObservation| t.tls.as_ref().and_then(|t| t.chain.first()).cloned();
    if let (Some(b), Some(n)) = (leaf(before), leaf(now))
        && b.sha256 != n.sha256
    {
        let issuer = if b.issuer == n.issuer {
            format!("issuer {} (unchanged)", n.issuer)
        } else {
            format!("issuer {} → {}", b.issuer, n.issuer)
        };
        ctx.push(
            Code::CertificateChanged,
            address,
            port,
            format!(
                "{label}: another certificate than in the baseline: SHA-256 {} → {}; {issuer}; valid until {} → {}",
                short(&b.sha256),
                short(&n.sha256),
                b.not_after.format("%Y-%m-%d"),
                n.not_after.format("%Y-%m-%d")
            ),
        );
    }
}

/// A TLS handshake's outcome in words: not attempted, failed (and how), or completed with
/// its trust (trusted, intercepted, untrusted) and whether it names the host.
fn tls_state(tls: Option<&TlsObservation>) -> String {
    let Some(tls) = tls else {
        return "not attempted".to_owned();
    };
    if !tls.ok {
        return match tls.failure {
            Some(failure) => format!("failed ({})", wire_name(&failure)),
            None => "failed".to_owned(),
        };
    }
    let trust = match (tls.trusted_public, tls.trusted_system) {
        (true, _) => "trusted",
        (false, true) => "intercepted",
        (false, false) => "untrusted",
    };
    if tls.hostname_match {
        trust.to_owned()
    } else {
        format!("{trust}, not valid for the name")
    }
}

/// Who issued the chain now, when TLS is not trusted publicly.
fn issuer_note(tls: Option<&TlsObservation>) -> String {
    match tls {
        Some(tls) if tls.ok && !tls.trusted_public => tls
            .chain
            .last()
            .map(|c| format!(" (issued by {})", c.issuer))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// `TLSv1.3` → (1, 3).
fn version_rank(version: &Option<String>) -> Option<(u8, u8)> {
    let number = version.as_deref()?.strip_prefix("TLSv")?;
    let (major, minor) = number.split_once('.').unwrap_or((number, "0"));
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn origin_text(target: &TargetObservation) -> String {
    format!("address from {}", wire_name(&target.origin))
}

fn tcp_text(state: TcpState) -> String {
    wire_name(&state)
}

/// The name a value has in JSON (its serde name), for enums of kebab-case words.
pub(crate) fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn list(addresses: &BTreeSet<IpAddr>) -> String {
    if addresses.is_empty() {
        return "no address".to_owned();
    }
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn short(sha: &str) -> &str {
    sha.get(..16).unwrap_or(sha)
}
