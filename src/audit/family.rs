//! IPv6 broken but preferred: `ipv6-broken`.
//!
//! A name with A and AAAA answers is reached over IPv6 first by most clients (RFC 6724's
//! default preference), which fall back to IPv4 only after a delay (Happy Eyeballs, RFC
//! 8305: a quarter of a second) or, in older stacks and libraries, after a whole connect
//! timeout, or not at all. So when every IPv6 address DNS gives fails while IPv4 works, the
//! integration is slow or broken although a check over IPv4 passes. The per-target findings
//! say what failed; this one, once per name, says what it costs.

use std::net::IpAddr;

use super::{Code, Context, Finding, from_dns, target_up};
use crate::probe::model::{NameObservation, TargetObservation};

/// `ipv6-broken` for a name whose IPv6 targets from DNS all fail while one from IPv4 is up.
pub(super) fn ipv6_broken(ctx: &Context<'_>, name: &NameObservation, findings: &mut Vec<Finding>) {
    let Some(dns) = &name.dns else {
        return;
    };
    if dns.a.is_none() || dns.aaaa.is_none() {
        // Only one family was asked (--family): nothing to compare.
        return;
    }
    let targets: Vec<&TargetObservation> = name
        .targets
        .iter()
        .filter(|t| ctx.planned.ports.contains(&t.port) && from_dns(t))
        .collect();
    let (v6, v4): (Vec<&TargetObservation>, Vec<&TargetObservation>) = targets
        .into_iter()
        .partition(|t| t.address.is_some_and(|a| a.is_ipv6()));
    // A target the deadline cut short proves nothing either way.
    if v6.is_empty()
        || v6.iter().any(|t| target_up(t) || t.cut_by_deadline())
        || !v4.iter().any(|t| target_up(t))
    {
        return;
    }
    let mut addresses: Vec<IpAddr> = v6.iter().filter_map(|t| t.address).collect();
    addresses.dedup();
    let shown: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    let host = &ctx.planned.name;
    findings.push(ctx.finding(
        Code::Ipv6Broken,
        None,
        None,
        format!(
            "{host} has IPv6 addresses in DNS ({}) and none of them works from here, while IPv4 does: clients that prefer IPv6, as most do, wait for their fallback to IPv4 (a quarter of a second with Happy Eyeballs, a whole connect timeout in older clients) or fail; open IPv6 egress to them (route and firewall, see the findings on each address), or make this host prefer IPv4 (/etc/gai.conf) if IPv6 is not meant to be used",
            shown.join(", ")
        ),
    ));
}
