//! Is a DNS answer documented for the name's environment, and do the rules built from the
//! table let it through? The audit and `rules` must agree: an address counts as documented
//! as `rules` opens it, as of the run's date (legacy entries past their sunset document
//! nothing), and an address the table holds only inside a subnet is said to be opened by
//! `rules --scope subnets` or `all`, not by the default `--scope addresses`. An address that
//! only a marked broad prefix opens is said to open more than the name.

use std::net::IpAddr;

use super::{Code, Context, Finding};
use crate::catalog::{AddressIndex, Catalog, Documented, DocumentedBy};

/// The findings of one DNS answer of the context's name. `current` is the table as of the
/// run's date, `ever` the whole table (to say when an address was documented only by a
/// retired entry).
pub(super) fn check(
    catalog: &Catalog,
    current: &AddressIndex<'_>,
    ever: &AddressIndex<'_>,
    ctx: &Context<'_>,
    addr: IpAddr,
    findings: &mut Vec<Finding>,
) {
    let env = &ctx.planned.environment;
    let documenting = current.documenting(addr);
    let here: Vec<&Documented<'_>> = documenting
        .iter()
        .filter(|d| d.environment == env)
        .collect();
    let name = &ctx.planned.name;
    if here.is_empty() {
        findings.push(outside(ctx, &documenting, ever, addr));
        return;
    }
    let opened: Vec<&&Documented<'_>> = here.iter().filter(|d| d.in_address_scope()).collect();
    if opened.is_empty() {
        let subnets: Vec<String> = here
            .iter()
            .map(|d| match d.by {
                DocumentedBy::Subnet(subnet) => format!("{} ({})", subnet.cidr, subnet.covers),
                _ => d.prefix.to_string(),
            })
            .collect();
        findings.push(ctx.finding(
            Code::SubnetOnlyAddress,
            Some(addr),
            None,
            format!(
                "{name} resolves to {addr}, which the table documents for {env} only as part of the subnet {}: the default `egresscheck rules --scope addresses` does not open it, `--scope subnets` or `--scope all` does (the whole subnet), and hostname rules open only {name}",
                subnets.join(", ")
            ),
        ));
        return;
    }
    // Every rule that opens it by address opens a broad prefix with it.
    let broad: Vec<_> = opened
        .iter()
        .map(|d| catalog.broad_prefixes_opened_by(&d.prefix))
        .collect();
    if broad.iter().all(|b| !b.is_empty())
        && let Some(prefix) = broad.first().and_then(|b| b.first())
    {
        findings.push(ctx.finding(
            Code::BroadPrefix,
            Some(addr),
            None,
            format!(
                "{name} resolves to {addr}, which the table documents for {env} only within the broad prefix {}: a rule opening it by address opens {}; hostname rules open only {name}",
                prefix.cidr, prefix.opens
            ),
        ));
    }
}

/// The finding of an answer the table does not document for the name's environment: in
/// another environment, or nowhere (and then perhaps only by a retired entry).
fn outside(
    ctx: &Context<'_>,
    documenting: &[Documented<'_>],
    ever: &AddressIndex<'_>,
    addr: IpAddr,
) -> Finding {
    let (name, env) = (&ctx.planned.name, &ctx.planned.environment);
    let mut others: Vec<String> = Vec::new();
    for d in documenting {
        if !others.contains(&d.environment.to_string()) {
            others.push(d.environment.to_string());
        }
    }
    if !others.is_empty() {
        return ctx.finding(
            Code::WrongEnvironment,
            Some(addr),
            None,
            format!(
                "{name} ({env}) resolves to {addr}, which the table documents for {}: check the resolver and the data, the environments may be mixed up",
                others.join(", ")
            ),
        );
    }
    let retired = ever
        .documenting(addr)
        .into_iter()
        .find_map(|d| match d.by {
            DocumentedBy::Legacy(legacy) if d.environment == env => Some(format!(
                " (only the legacy entry {} documented it, until its sunset on {})",
                legacy.host, legacy.sunset
            )),
            _ => None,
        })
        .unwrap_or_default();
    ctx.finding(
        Code::UndocumentedAddress,
        Some(addr),
        None,
        format!(
            "{name} resolves to {addr}, which the table does not document for {env}{retired}: rules built from the table's addresses and subnets, in any scope, will not let it through; open it (see `egresscheck check --rules FORMAT`) or use hostname rules, and report it to the provider"
        ),
    )
}
