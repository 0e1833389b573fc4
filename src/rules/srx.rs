//! Juniper SRX (Junos): `set` commands for `load set terminal`, everything inside the
//! configuration group `egresscheck`.
//!
//! The output starts with `delete groups egresscheck`, so loading it twice equals once and a
//! newer output replaces an older one whole (an address that moved to another environment
//! leaves the old address-set), while nothing outside the group is touched. Addresses go into
//! the global address book (`dns-name` entries for host names: exact names, so a wildcard is
//! listed by the names the data file knows under it), one address-set and one global policy
//! per (environment, protocol, port). Reviewed against
//! <https://www.juniper.net/documentation/us/en/software/junos/security-policies/topics/topic-map/security-global-policies.html>
//! and the address-book and configuration-group references linked from the tests.

use std::collections::BTreeSet;

use super::objects::{self, Member, Objects};
use super::render::{Dialect, Names, Out, ln};
use super::{GroupKey, RuleSet};
use crate::catalog::{Family, Protocol};

/// The Juniper SRX dialect.
pub(crate) struct Srx;

const GROUP: &str = "egresscheck";
/// Address, address-set, application and policy names: at most 63 characters.
const MAX_NAME: usize = 63;

/// The application of a key: Junos' predefined one for HTTPS and HTTP, else our own.
fn application(key: &GroupKey) -> (String, bool) {
    match (key.protocol, key.port.get()) {
        (Protocol::Tcp, 443) => ("junos-https".to_owned(), false),
        (Protocol::Tcp, 80) => ("junos-http".to_owned(), false),
        (protocol, port) => (format!("egc-{protocol}-{port}"), true),
    }
}

impl Dialect for Srx {
    const MAX_COMMENT: usize = 255;
    const NAMES: Names = Names::Both;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Load: configure, then load set terminal (paste, Ctrl-D) or load set FILE; show | compare; commit check; commit confirmed 10, then commit.".to_owned(),
            "Replaces: everything lives in the group egresscheck (set apply-groups egresscheck); loading starts with delete groups egresscheck, so a newer output replaces an older one whole and nothing outside the group changes. Remove: delete groups egresscheck and delete apply-groups egresscheck.".to_owned(),
            "Global policies with the global address book: zone-pair policies are evaluated first, so a deny in a zone pair shadows these; inherited policies come after the ones configured directly.".to_owned(),
            "dns-name entries are resolved by the SRX itself (set system name-server) and match exact names: a wildcard is listed by the names the data file knows under it.".to_owned(),
            "No --diff: the output replaces the group whole, and show | compare shows the change before commit.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        let objects = Objects::new(rules, false);
        let set = format!("set groups {GROUP}");
        let book = format!("{set} security address-book global");
        let family = match rules.header.family {
            Family::V4 => " ipv4-only",
            Family::V6 => " ipv6-only",
            Family::Both => "",
        };
        ln!(out, "delete groups {GROUP}");
        for member in objects.members(None) {
            let name = member.object_name(MAX_NAME);
            match member {
                Member::Prefix(prefix) => ln!(out, "{book} address {name} {prefix}"),
                Member::Name(host) | Member::Wildcard(host) => {
                    ln!(out, "{book} address {name} dns-name {host}{family}");
                }
            }
            let text = objects.description(member, Self::MAX_COMMENT, Self::CHARSET);
            ln!(out, "{book} address {name} description \"{text}\"");
        }
        let custom: BTreeSet<(String, &GroupKey)> = objects
            .policies
            .iter()
            .map(|p| (application(&p.key), &p.key))
            .filter(|((_, custom), _)| *custom)
            .map(|((app, _), key)| (app, key))
            .collect();
        let mut seen = BTreeSet::new();
        for (app, key) in custom {
            if seen.insert(app.clone()) {
                let protocol = key.protocol;
                ln!(
                    out,
                    "{set} applications application {app} protocol {protocol}"
                );
                let port = key.port;
                ln!(
                    out,
                    "{set} applications application {app} destination-port {port}"
                );
            }
        }
        for policy in &objects.policies {
            let name = policy.name(MAX_NAME);
            let key = &policy.key;
            for member in &policy.members {
                ln!(
                    out,
                    "{book} address-set {name} address {}",
                    member.object_name(MAX_NAME)
                );
            }
            let (app, _) = application(key);
            let rule = format!("{set} security policies global policy {name}");
            let text = objects::policy_description(rules, key, Self::MAX_COMMENT, Self::CHARSET);
            ln!(out, "{rule} description \"{text}\"");
            ln!(out, "{rule} match source-address any");
            ln!(out, "{rule} match destination-address {name}");
            ln!(out, "{rule} match application {app}");
            ln!(out, "{rule} then permit");
        }
        ln!(out, "set apply-groups {GROUP}");
    }
}
