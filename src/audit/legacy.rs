//! A legacy host past its sunset: what still needs the admin's attention. Its rules can go,
//! but only what is the legacy host's alone: an address a current entry also documents (the
//! bundled `api.skatteetaten.no`'s 159.216.17.168 lies in the current production /28) must
//! stay open. So `legacy-sunset-passed` is for the legacy name itself, when it still resolves,
//! and for an old address that still answers while no current entry documents it.

use std::net::IpAddr;

use chrono::NaiveDate;

use super::{Code, Context, Finding};
use crate::catalog::AddressIndex;
use crate::probe::model::{DnsOutcome, NameObservation, TcpState};

/// The `legacy-sunset-passed` finding of a legacy name retired on `sunset`, if one is due.
/// `current` is the table as of the run's date (without retired entries).
pub(super) fn after_sunset(
    ctx: &Context<'_>,
    name: &NameObservation,
    sunset: NaiveDate,
    current: &AddressIndex<'_>,
) -> Option<Finding> {
    let host = &ctx.planned.name;
    let still_documented = |addr: &IpAddr| {
        current
            .documenting(*addr)
            .first()
            .map(|d| format!("{addr} (in {}, {})", d.prefix, d.environment))
    };
    let resolved: Vec<IpAddr> = name
        .dns
        .iter()
        .filter(|d| d.outcome() == DnsOutcome::Answer)
        .flat_map(|d| d.addresses())
        .collect();
    if !resolved.is_empty() {
        let kept: Vec<String> = resolved.iter().filter_map(still_documented).collect();
        let rules = if kept.is_empty() {
            "remove its firewall rules and any use of it".to_owned()
        } else {
            format!(
                "stop using the name and remove its hostname rules, but keep the openings a current entry documents: {}",
                kept.join(", ")
            )
        };
        let answers = name.targets.iter().any(|t| t.tcp.state == TcpState::Open);
        return Some(ctx.finding(
            Code::LegacySunsetPassed,
            None,
            None,
            format!(
                "{host} still resolves{} although it was retired on {sunset}: {rules}",
                if answers { " and answers" } else { "" }
            ),
        ));
    }
    // The name is gone; an old address that still answers matters only when nothing
    // current needs it open.
    let orphans: Vec<String> = name
        .targets
        .iter()
        .filter(|t| t.tcp.state == TcpState::Open)
        .filter_map(|t| t.address)
        .filter(|a| still_documented(a).is_none())
        .map(|a| a.to_string())
        .collect();
    (!orphans.is_empty()).then(|| {
        ctx.finding(
            Code::LegacySunsetPassed,
            None,
            None,
            format!(
                "{host} no longer resolves, but its old address {} still answers, and no current entry documents it: it was retired on {sunset}, remove the firewall rules for it",
                orphans.join(", ")
            ),
        )
    })
}
