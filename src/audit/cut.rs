//! Cut short: what the run's deadline ended before the network answered.
//!
//! `check --deadline` and, above all, a scrape's timeout in `serve` bound the whole run. A
//! lookup, connect or handshake the deadline stopped says nothing about the path: reporting it
//! as `blocked`, `unreachable`, `tls-failure` or `dns-failure` would send the admin to the
//! firewall team for a limit of the tool's own. So such a step gets its own code,
//! `cut-short` (fail: the path was not verified), in every format alike, and nothing else is
//! concluded from it: no drift, no `ipv6-broken`.

use super::{Code, Context, Finding, target_label};
use crate::probe::model::{DEADLINE_MARK, DnsObservation, DnsOutcome, TargetObservation};

/// What to do about a step the deadline ended.
const ADVICE: &str = "nothing is known about this path yet, so it is no finding about the network: give the run more time (check: --deadline; serve: Prometheus's scrape_timeout, less --timeout-offset), lower --timeout so that a silent path ends sooner, or check fewer names at once";

/// `cut-short` for a target whose probe the run's deadline ended (not probed at all, or its
/// connect or handshake stopped unfinished), if it did.
pub(super) fn target(ctx: &Context<'_>, target: &TargetObservation) -> Option<Finding> {
    if !target.cut_by_deadline() {
        return None;
    }
    let step = if target
        .tcp
        .message
        .as_deref()
        .is_some_and(|m| m.contains(DEADLINE_MARK))
    {
        if target.tcp.ms > 0.0 {
            "the TCP connect was still waiting"
        } else {
            "it was not probed"
        }
    } else {
        "the TLS handshake was still under way"
    };
    Some(ctx.finding(
        Code::CutShort,
        target.address,
        Some(target.port),
        format!(
            "{}: cut short by the run's deadline ({step}); {ADVICE}",
            target_label(target, &ctx.planned.name)
        ),
    ))
}

/// True when the name did not resolve only because the run's deadline ended its lookups.
pub(super) fn lookup_cut(dns: &DnsObservation) -> bool {
    let outcome = dns.outcome();
    outcome != DnsOutcome::Answer
        && dns
            .a
            .iter()
            .chain(dns.aaaa.iter())
            .filter(|l| l.outcome == outcome)
            .all(|l| {
                l.message
                    .as_deref()
                    .is_some_and(|m| m.contains(DEADLINE_MARK))
            })
}

/// `cut-short` for a name whose lookups the run's deadline ended.
pub(super) fn lookup(ctx: &Context<'_>) -> Finding {
    ctx.finding(
        Code::CutShort,
        None,
        None,
        format!(
            "{}: its DNS lookup was cut short by the run's deadline; {ADVICE}",
            ctx.planned.name
        ),
    )
}
