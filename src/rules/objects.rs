//! Named objects for the firewalls whose rules refer to addresses by name (PAN-OS, FortiGate,
//! Juniper SRX): one policy per (environment, protocol, port) and the members it allows.
//!
//! Object names come from content only (`egc-192.0.2.10_31`, `egc-fqdn-alpha.api.example.no`),
//! never from a position, so an address that moves from one environment to another keeps its
//! object and a regenerated output names the same things the same way. An object is shared by
//! every environment that documents it; its description names each.
//!
//! The same model gives `--diff` its removals: policies, members and objects OLD had that NEW
//! has not.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use super::escape::{self, Charset};
use super::{GroupKey, RuleSet};
use crate::catalog::{DnsName, HostPattern};

/// What a policy lets traffic go to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Member {
    /// An address prefix.
    Prefix(IpNet),
    /// One host name.
    Name(DnsName),
    /// A `*.base` wildcard, for products with wildcard objects.
    Wildcard(DnsName),
}

impl Member {
    /// IPv6 for a prefix (`Some(true)`), IPv4 (`Some(false)`), `None` for a name.
    pub(crate) fn v6(&self) -> Option<bool> {
        match self {
            Member::Prefix(IpNet::V4(_)) => Some(false),
            Member::Prefix(IpNet::V6(_)) => Some(true),
            Member::Name(_) | Member::Wildcard(_) => None,
        }
    }

    /// The object's name, at most `max` bytes: `egc-` and the prefix with `/` and `:` as `_`,
    /// `egc-fqdn-NAME`, or `egc-wild-BASE`.
    pub(crate) fn object_name(&self, max: usize) -> String {
        let name = match self {
            Member::Prefix(prefix) => {
                format!("egc-{}", prefix.to_string().replace(['/', ':'], "_"))
            }
            Member::Name(name) => format!("egc-fqdn-{name}"),
            Member::Wildcard(base) => format!("egc-wild-{base}"),
        };
        escape::fit_name(&name, max, '-')
    }
}

/// One (environment, protocol, port) and its members, prefixes first (by address), then names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Environment, protocol, port.
    pub(crate) key: GroupKey,
    /// What it allows.
    pub(crate) members: BTreeSet<Member>,
}

impl Policy {
    /// The policy's (and its group's) name: `egc-ENV-PROTO-PORT`, at most `max` bytes.
    pub(crate) fn name(&self, max: usize) -> String {
        policy_name(&self.key, max)
    }

    /// Members of one family: prefixes of that family and every name.
    pub(crate) fn members_of(&self, v6: bool) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(move |m| m.v6() != Some(!v6))
    }
}

/// `egc-ENV-PROTO-PORT`, at most `max` bytes.
pub(crate) fn policy_name(key: &GroupKey, max: usize) -> String {
    escape::fit_name(
        &format!("egc-{}-{}-{}", key.environment, key.protocol, key.port),
        max,
        '-',
    )
}

/// Every object and policy of a rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Objects {
    /// Each member with the descriptions of its origins (one per rule it stands for).
    pub(crate) described: BTreeMap<Member, BTreeSet<String>>,
    /// One policy per (environment, protocol, port), in rule-set order.
    pub(crate) policies: Vec<Policy>,
}

impl Objects {
    /// The objects of `rules`. A wildcard becomes the names the data file lists under it, and
    /// with `wildcards` also a wildcard object.
    pub(crate) fn new(rules: &RuleSet, wildcards: bool) -> Objects {
        let mut described: BTreeMap<Member, BTreeSet<String>> = BTreeMap::new();
        let mut policies = Vec::new();
        for key in rules.keys() {
            let mut members = BTreeSet::new();
            for group in rules.addresses.iter().filter(|g| &g.key == key) {
                for rule in &group.rules {
                    let member = Member::Prefix(rule.prefix);
                    let text = rule.origins.describe(&key.environment);
                    described.entry(member.clone()).or_default().insert(text);
                    members.insert(member);
                }
            }
            for group in rules.names.iter().filter(|g| &g.key == key) {
                for rule in &group.rules {
                    let text = rule.origins.describe(&key.environment);
                    let mut own: Vec<Member> =
                        rule.names.iter().cloned().map(Member::Name).collect();
                    if let HostPattern::Wildcard(base) = &rule.pattern
                        && wildcards
                    {
                        own.push(Member::Wildcard(base.clone()));
                    }
                    for member in own {
                        let text = match (&member, &rule.pattern) {
                            (Member::Name(_), HostPattern::Wildcard(_)) => {
                                format!("{text} (a name listed under {})", rule.pattern)
                            }
                            _ => text.clone(),
                        };
                        described.entry(member.clone()).or_default().insert(text);
                        members.insert(member);
                    }
                }
            }
            policies.push(Policy {
                key: key.clone(),
                members,
            });
        }
        Objects {
            described,
            policies,
        }
    }

    /// The description of `member`'s object: every origin, escaped, at most `max` bytes.
    pub(crate) fn description(&self, member: &Member, max: usize, charset: Charset) -> String {
        let origins: Vec<&str> = self
            .described
            .get(member)
            .map(|set| set.iter().map(String::as_str).collect())
            .unwrap_or_default();
        escape::comment(
            &format!("egresscheck {}", origins.join(" + ")),
            max,
            charset,
        )
    }

    /// The members of one family (`None`: all).
    pub(crate) fn members(&self, v6: Option<bool>) -> impl Iterator<Item = &Member> {
        self.described
            .keys()
            .filter(move |m| v6.is_none() || m.v6().is_none() || m.v6() == v6)
    }
}

impl Objects {
    /// Objects of legacy entries past their sunset (the header's "Removed" lines) that no
    /// policy of this output uses: an older output made them, this one deletes them.
    pub(crate) fn retired(&self, rules: &RuleSet) -> Vec<Member> {
        let mut out: Vec<Member> = Vec::new();
        for removed in &rules.header.removed {
            let members = std::iter::once(Member::Name(removed.host.clone()))
                .chain(removed.prefixes.iter().copied().map(Member::Prefix));
            for member in members {
                if !self.described.contains_key(&member) && !out.contains(&member) {
                    out.push(member);
                }
            }
        }
        out
    }
}

/// The description of a policy: `egresscheck ENV PROTO PORT, PROVIDER data VERSION`, escaped,
/// at most `max` bytes.
pub(crate) fn policy_description(
    rules: &RuleSet,
    key: &GroupKey,
    max: usize,
    charset: Charset,
) -> String {
    escape::comment(
        &format!(
            "egresscheck {} {} {}, {} data {}",
            key.environment,
            key.protocol,
            key.port,
            rules.header.provider,
            rules.header.data_version
        ),
        max,
        charset,
    )
}

/// What OLD had and NEW lacks, for `--diff`: removed first, in the order a firewall needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Stale {
    /// Policies (and their groups) of keys NEW has no rules for.
    pub(crate) policies: Vec<GroupKey>,
    /// Members leaving a policy that NEW keeps.
    pub(crate) members: Vec<(GroupKey, Member)>,
    /// Objects no NEW policy uses.
    pub(crate) objects: Vec<Member>,
}

impl Stale {
    /// The removals from `old` to `new`.
    pub(crate) fn between(old: &Objects, new: &Objects) -> Stale {
        let mut stale = Stale::default();
        for policy in &old.policies {
            match new.policies.iter().find(|p| p.key == policy.key) {
                None => stale.policies.push(policy.key.clone()),
                Some(kept) => stale.members.extend(
                    policy
                        .members
                        .difference(&kept.members)
                        .map(|m| (policy.key.clone(), m.clone())),
                ),
            }
        }
        stale.objects = old
            .described
            .keys()
            .filter(|m| !new.described.contains_key(*m))
            .cloned()
            .collect();
        stale
    }
}

/// Numbers for `names` in `first .. first + span`, each derived from its name (so a name keeps
/// its number when others come and go), the next free one on a clash, names in sorted order
/// deciding who moves. For ids and priorities a product needs to be unique.
pub(crate) fn stable_numbers(names: &[String], first: u32, span: u32) -> Vec<u32> {
    let span = span.max(1);
    let sorted: BTreeSet<&String> = names.iter().collect();
    let mut used = BTreeSet::new();
    let mut assigned = BTreeMap::new();
    for name in sorted {
        let mut offset = escape::fnv1a(name.as_bytes()) % span;
        // More names than numbers cannot be told apart: they share the last one tried.
        for _ in 0..span {
            if used.insert(offset) {
                break;
            }
            offset = (offset + 1) % span;
        }
        assigned.insert(name, first + offset);
    }
    names
        .iter()
        .map(|n| assigned.get(n).copied().unwrap_or(first))
        .collect()
}

/// [`stable_numbers`] as a map from each name to its number.
pub(crate) fn stable_number_map(names: &[String], first: u32, span: u32) -> BTreeMap<String, u32> {
    names
        .iter()
        .cloned()
        .zip(stable_numbers(names, first, span))
        .collect()
}
