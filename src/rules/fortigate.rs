//! FortiGate (FortiOS): `config firewall …` blocks for the CLI or a configuration script.
//!
//! Addresses (`ipmask`, `fqdn`, and `wildcard-fqdn` for a `*.` host), one IPv4 and one IPv6
//! address group, one service and one policy per (environment, protocol, port). FortiOS `set`
//! replaces a whole list (`set member`, `set dstaddr`), and `edit` of an existing entry
//! changes it in place, so loading twice equals once and a newer output replaces the members
//! an older one set. A family a policy no longer has is `unset`. Policy ids are derived from
//! the policy's name (`edit` needs a number; a position would shift). Objects only an older
//! output named stay, unused: `--diff OLD NEW` deletes them. Reviewed against
//! <https://docs.fortinet.com/document/fortigate/7.6.1/cli-reference/333889629> and
//! <https://docs.fortinet.com/document/fortigate/7.0.5/administration-guide/508024>.
//! (`config firewall wildcard-fqdn custom` is the other wildcard table: it serves SSL
//! inspection exemptions and proxy policies, not firewall policies.)

use std::collections::BTreeSet;

use super::escape;
use super::objects::{self, Member, Objects, Policy, Stale};
use super::render::{Dialect, Names, Out, ln};
use super::{GroupKey, RuleSet};
use crate::catalog::Protocol;
use crate::rules::diff::Diff;

/// The FortiGate dialect.
pub(crate) struct Fortigate;

/// Address and group names: at most 79 characters (63 before FortiOS 6.4).
const MAX_NAME: usize = 63;
/// Policy names: at most 35 characters.
const MAX_POLICY_NAME: usize = 35;
/// Policy ids are `FIRST_ID + hash(name) % ID_SPAN`, far above the ids FortiOS hands out.
const FIRST_ID: u32 = 100_000_000;
const ID_SPAN: u32 = 900_000_000;

/// The object of `member` in one family's table (`address` or `address6`).
fn object(member: &Member, v6: bool) -> String {
    match (member, v6) {
        (Member::Name(name), true) => escape::fit_name(&format!("egc-fqdn6-{name}"), MAX_NAME, '-'),
        _ => member.object_name(MAX_NAME),
    }
}

fn group(key: &GroupKey, v6: bool) -> String {
    format!(
        "{}-v{}",
        objects::policy_name(key, MAX_NAME - 3),
        if v6 { 6 } else { 4 }
    )
}

fn service(key: &GroupKey) -> String {
    format!("egc-{}-{}", key.protocol, key.port)
}

/// Policy ids of `policies`, in their order: derived from each name.
fn policy_ids(policies: &[Policy]) -> Vec<u32> {
    let names: Vec<String> = policies.iter().map(|p| p.name(MAX_POLICY_NAME)).collect();
    objects::stable_numbers(&names, FIRST_ID, ID_SPAN)
}

impl Fortigate {
    fn body_of(&self, rules: &RuleSet, objects: &Objects, out: &mut Out) {
        let families: Vec<bool> = rules.header.family.each().collect();
        for v6 in &families {
            ln!(
                out,
                "config firewall {}",
                if *v6 { "address6" } else { "address" }
            );
            for member in objects.members(Some(*v6)) {
                if matches!(member, Member::Wildcard(_)) && *v6 {
                    continue; // wildcard-fqdn addresses are IPv4 only
                }
                ln!(out, "    edit \"{}\"", object(member, *v6));
                match member {
                    Member::Prefix(net) if *v6 => ln!(out, "        set ip6 {net}"),
                    Member::Prefix(net) => ln!(
                        out,
                        "        set subnet {} {}",
                        net.network(),
                        net.netmask()
                    ),
                    Member::Name(name) => {
                        ln!(out, "        set type fqdn");
                        ln!(out, "        set fqdn \"{name}\"");
                    }
                    Member::Wildcard(base) => {
                        ln!(out, "        set type wildcard-fqdn");
                        ln!(out, "        set wildcard-fqdn \"*.{base}\"");
                    }
                }
                let text = objects.description(member, Self::MAX_COMMENT, Self::CHARSET);
                ln!(out, "        set comment \"{text}\"");
                ln!(out, "    next");
            }
            ln!(out, "end");
        }
        self.groups_services_policies(rules, objects, &families, out);
        // Objects of legacy entries past their sunset go once nothing uses them.
        let retired = objects.retired(rules);
        for v6 in &families {
            let mine: Vec<&Member> = retired.iter().filter(|m| m.v6() != Some(!*v6)).collect();
            if !mine.is_empty() {
                ln!(
                    out,
                    "config firewall {}",
                    if *v6 { "address6" } else { "address" }
                );
                for member in mine {
                    ln!(out, "    delete \"{}\"", object(member, *v6));
                }
                ln!(out, "end");
            }
        }
    }

    fn groups_services_policies(
        &self,
        rules: &RuleSet,
        objects: &Objects,
        families: &[bool],
        out: &mut Out,
    ) {
        for v6 in families {
            ln!(
                out,
                "config firewall {}",
                if *v6 { "addrgrp6" } else { "addrgrp" }
            );
            for policy in &objects.policies {
                let members = self.members(policy, *v6);
                if members.is_empty() {
                    continue;
                }
                ln!(out, "    edit \"{}\"", group(&policy.key, *v6));
                ln!(out, "        set member {}", members.join(" "));
                let text = objects::policy_description(
                    rules,
                    &policy.key,
                    Self::MAX_COMMENT,
                    Self::CHARSET,
                );
                ln!(out, "        set comment \"{text}\"");
                ln!(out, "    next");
            }
            ln!(out, "end");
        }
        ln!(out, "config firewall service custom");
        let services: BTreeSet<(String, Protocol, u16)> = objects
            .policies
            .iter()
            .map(|p| (service(&p.key), p.key.protocol, p.key.port.get()))
            .collect();
        for (name, protocol, port) in services {
            ln!(out, "    edit \"{name}\"");
            ln!(out, "        set protocol TCP/UDP/SCTP");
            ln!(out, "        set {protocol}-portrange {port}");
            ln!(out, "        set comment \"egresscheck\"");
            ln!(out, "    next");
        }
        ln!(out, "end");
        ln!(out, "config firewall policy");
        for (policy, id) in objects.policies.iter().zip(policy_ids(&objects.policies)) {
            ln!(out, "    edit {id}");
            ln!(out, "        set name \"{}\"", policy.name(MAX_POLICY_NAME));
            ln!(out, "        set srcintf \"any\"");
            ln!(out, "        set dstintf \"any\"");
            for v6 in [false, true] {
                let six = if v6 { "6" } else { "" };
                if families.contains(&v6) && !self.members(policy, v6).is_empty() {
                    ln!(out, "        set srcaddr{six} \"all\"");
                    ln!(
                        out,
                        "        set dstaddr{six} \"{}\"",
                        group(&policy.key, v6)
                    );
                } else {
                    ln!(out, "        unset srcaddr{six}");
                    ln!(out, "        unset dstaddr{six}");
                }
            }
            ln!(out, "        set action accept");
            ln!(out, "        set schedule \"always\"");
            ln!(out, "        set service \"{}\"", service(&policy.key));
            let text =
                objects::policy_description(rules, &policy.key, Self::MAX_COMMENT, Self::CHARSET);
            ln!(out, "        set comments \"{text}\"");
            ln!(out, "    next");
        }
        ln!(out, "end");
    }

    /// The quoted object names of `policy`'s members in one family.
    fn members(&self, policy: &Policy, v6: bool) -> Vec<String> {
        policy
            .members_of(v6)
            .filter(|m| !(v6 && matches!(m, Member::Wildcard(_))))
            .map(|m| format!("\"{}\"", object(m, v6)))
            .collect()
    }
}

impl Dialect for Fortigate {
    const MAX_COMMENT: usize = 255;
    const NAMES: Names = Names::Both;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Paste into the CLI or run as a configuration script (System > Settings > Configuration scripts).".to_owned(),
            "Replaces, in place: each group's members and each policy's addresses and service (policy ids 100000000-999999999 come from the policy's name; check that none is one of yours). New policies go to the end of the list: move them above your deny policy once (move ID before ID). Addresses of legacy entries past their sunset are deleted; other objects and policies only an older output named stay, unused: rules --diff OLD NEW deletes them.".to_owned(),
            "Interfaces are any: set srcintf and dstintf to yours. fqdn addresses are resolved by the FortiGate; a wildcard-fqdn address (IPv4 only) learns addresses from the DNS answers the FortiGate sees, and its * may match more than one label, never the base name itself.".to_owned(),
            "Remove: delete the policies named egc-*, then the address groups, addresses and services egc-*.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["The full new configuration first (it replaces in place), then the deletes of what only the old output named.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        self.body_of(rules, &Objects::new(rules, true), out);
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        let (old, new) = (Objects::new(&diff.old, true), Objects::new(&diff.new, true));
        self.body_of(&diff.new, &new, out);
        let stale = Stale::between(&old, &new);
        let retired = new.retired(&diff.new);
        let old_ids = policy_ids(&old.policies);
        ln!(out, "config firewall policy");
        for (policy, id) in old.policies.iter().zip(old_ids) {
            if stale.policies.contains(&policy.key) {
                ln!(out, "    delete {id}");
            }
        }
        ln!(out, "end");
        let family = diff.new.header.family;
        for v6 in family.each() {
            ln!(
                out,
                "config firewall {}",
                if v6 { "addrgrp6" } else { "addrgrp" }
            );
            for policy in &old.policies {
                let kept = new.policies.iter().find(|p| p.key == policy.key);
                if !self.members(policy, v6).is_empty()
                    && kept.is_none_or(|p| self.members(p, v6).is_empty())
                {
                    ln!(out, "    delete \"{}\"", group(&policy.key, v6));
                }
            }
            ln!(out, "end");
            ln!(
                out,
                "config firewall {}",
                if v6 { "address6" } else { "address" }
            );
            for member in stale
                .objects
                .iter()
                .filter(|m| m.v6() != Some(!v6) && !retired.contains(m))
            {
                if !(v6 && matches!(member, Member::Wildcard(_))) {
                    ln!(out, "    delete \"{}\"", object(member, v6));
                }
            }
            ln!(out, "end");
        }
        let used: BTreeSet<String> = new.policies.iter().map(|p| service(&p.key)).collect();
        let gone: BTreeSet<String> = old
            .policies
            .iter()
            .map(|p| service(&p.key))
            .filter(|s| !used.contains(s))
            .collect();
        ln!(out, "config firewall service custom");
        for name in gone {
            ln!(out, "    delete \"{name}\"");
        }
        ln!(out, "end");
        Some(())
    }
}
