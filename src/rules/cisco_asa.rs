//! Cisco ASA: a network object-group per (environment, protocol, port) holding the prefixes
//! and FQDN objects, and one access-list entry per group, at the top of the access-list
//! `EGRESSCHECK`. ASA FQDN objects match exact names only, so a wildcard becomes the concrete
//! names the data file lists under it.
//!
//! ASA configuration mode is imperative: pasting adds. So the output first removes, by their
//! content-derived names, everything egresscheck configures for every group and host name of
//! the data file (the access-list entry and its remark, the object-group, the FQDN objects),
//! then configures the new state: pasted twice, or over the output for older data, it leaves
//! exactly the new rules, and the admin's own entries of the access-list after them. The
//! origins of each group are in its `description` and in `:` comments, so the remark stays a
//! fixed text that can be removed. `--diff` changes groups in place instead. Commands checked
//! against Cisco's command reference (see `tests/rules/golden.rs`).

use ipnet::IpNet;

use super::escape;
use super::render::{Dialect, Names, Out, ln};
use super::{GroupKey, NameRule, RuleSet};
use crate::catalog::HostPattern;
use crate::rules::diff::Diff;

/// The Cisco ASA dialect.
pub(crate) struct CiscoAsa;

const ACL: &str = "EGRESSCHECK";
/// ASA object and object-group names are at most 64 characters.
const MAX_NAME: usize = 64;

fn group_name(key: &GroupKey) -> String {
    escape::fit_name(
        &format!("egc-{}-{}-{}", key.environment, key.protocol, key.port),
        MAX_NAME,
        '-',
    )
}

fn fqdn_object(name: &str, v6: bool) -> String {
    escape::fit_name(
        &format!("fqdn{}-{name}", if v6 { 6 } else { 4 }),
        MAX_NAME,
        '-',
    )
}

fn network_object(prefix: &IpNet) -> String {
    match prefix {
        IpNet::V4(net) if net.prefix_len() == 32 => format!("network-object host {}", net.addr()),
        IpNet::V4(net) => format!("network-object {} {}", net.network(), net.netmask()),
        IpNet::V6(net) if net.prefix_len() == 128 => format!("network-object host {}", net.addr()),
        IpNet::V6(net) => format!("network-object {net}"),
    }
}

/// Object-group descriptions are at most 200 characters.
const MAX_DESCRIPTION: usize = 200;

/// The access-list entry of a group (what `no` removes and `line N` inserts).
fn entry(key: &GroupKey) -> String {
    format!(
        "extended permit {} any object-group {} eq {}",
        key.protocol,
        group_name(key),
        key.port
    )
}

/// The fixed remark before a group's entry (the origins are in the group's description).
fn remark(key: &GroupKey) -> String {
    format!(
        "egresscheck {} {} {}, see object-group {}",
        key.environment,
        key.protocol,
        key.port,
        group_name(key)
    )
}

/// The FQDN objects of `rules`, each once: (object name, its `fqdn` line).
fn fqdn_objects(rules: &RuleSet) -> Vec<(String, String)> {
    let mut objects: Vec<(String, String)> = Vec::new();
    for rule in rules.names.iter().flat_map(|g| &g.rules) {
        for name in &rule.names {
            for v6 in rules.header.family.each() {
                let object = fqdn_object(name.as_str(), v6);
                if !objects.iter().any(|(o, _)| o == &object) {
                    let fqdn = format!("fqdn v{} {name}", if v6 { 6 } else { 4 });
                    objects.push((object, fqdn));
                }
            }
        }
    }
    objects
}

impl CiscoAsa {
    /// Removes what any egresscheck output configures for the data file's groups and names.
    fn remove_all(&self, rules: &RuleSet, out: &mut Out) {
        let h = &rules.header;
        let selected = |env: &super::EnvId| h.environments.iter().any(|e| &e.id == env);
        ln!(out, "{}", self.comment_line("Remove what egresscheck configured for the groups and host names of the selected environments (an error for what does not exist yet is harmless)"));
        for key in h.universe.iter().filter(|k| selected(&k.environment)) {
            ln!(out, "no access-list {ACL} remark {}", remark(key));
            ln!(out, "no access-list {ACL} {}", entry(key));
            ln!(out, "no object-group network {}", group_name(key));
        }
        // A name another environment's group still uses stays (the ASA refuses to delete it).
        let mut names: Vec<&crate::catalog::DnsName> = h
            .known_names
            .iter()
            .filter(|(env, _)| selected(env))
            .map(|(_, name)| name)
            .collect();
        names.dedup();
        for name in names {
            for v6 in [false, true] {
                ln!(out, "no object network {}", fqdn_object(name.as_str(), v6));
            }
        }
    }

    /// The members of one group, with a comment line naming each member's origins.
    fn members(&self, rules: &RuleSet, key: &GroupKey, out: &mut Out) {
        for g in rules.addresses.iter().filter(|g| &g.key == key) {
            for rule in &g.rules {
                self.member_note(&rule.prefix, "", &rule.origins, &key.environment, out);
                ln!(out, " {}", network_object(&rule.prefix));
            }
        }
        for g in rules.names.iter().filter(|g| &g.key == key) {
            for rule in &g.rules {
                let note = match &rule.pattern {
                    HostPattern::Wildcard(_) => " (only the names listed under it)",
                    HostPattern::Exact(_) => "",
                };
                self.member_note(&rule.pattern, note, &rule.origins, &key.environment, out);
                for name in &rule.names {
                    for v6 in rules.header.family.each() {
                        ln!(
                            out,
                            " network-object object {}",
                            fqdn_object(name.as_str(), v6)
                        );
                    }
                }
            }
        }
    }

    /// The `:` comment above a member: what it is and where it comes from.
    fn member_note(
        &self,
        what: &dyn std::fmt::Display,
        note: &str,
        origins: &super::Origins,
        environment: &super::EnvId,
        out: &mut Out,
    ) {
        let text = format!("{what}{note} - {}", origins.describe(environment));
        let text = escape::comment(&text, usize::MAX, Self::CHARSET);
        ln!(out, " {}", self.comment_line(&text));
    }

    /// A group's description: its environment, protocol, port and the services and hosts.
    fn description(&self, rules: &RuleSet, key: &GroupKey) -> String {
        let mut hosts: Vec<String> = Vec::new();
        let origins = rules
            .addresses
            .iter()
            .filter(|g| &g.key == key)
            .flat_map(|g| g.rules.iter().map(|r| &r.origins))
            .chain(
                rules
                    .names
                    .iter()
                    .filter(|g| &g.key == key)
                    .flat_map(|g| g.rules.iter().map(|r| &r.origins)),
            );
        let mut broad = false;
        for o in origins {
            broad |= o.broad.is_some();
            for origin in &o.shown {
                let item = match &origin.host {
                    Some(host) => format!("{} {host}", origin.service),
                    None => origin.service.to_string(),
                };
                if !hosts.contains(&item) {
                    hosts.push(item);
                }
            }
        }
        let lead = if broad { "BROAD prefix inside, " } else { "" };
        escape::comment(
            &format!(
                "egresscheck {}: {lead}{}",
                key.environment,
                hosts.join(", ")
            ),
            MAX_DESCRIPTION,
            Self::CHARSET,
        )
    }
}

/// The FQDN objects `rule` uses in `families`.
fn rule_objects(rule: &NameRule, families: &[bool]) -> Vec<String> {
    let mut list = Vec::new();
    for name in &rule.names {
        for v6 in families {
            list.push(fqdn_object(name.as_str(), *v6));
        }
    }
    list
}

impl Dialect for CiscoAsa {
    // ASA starts a comment with a colon; `remark` text is at most 100 characters.
    const COMMENT: &'static str = ":";
    const MAX_COMMENT: usize = 100;
    const NAMES: Names = Names::Both;

    fn comment_line(&self, text: &str) -> String {
        // A question mark asks the ASA console for help, even in a comment.
        format!(": {}", text.replace('?', "%3F"))
    }

    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        let mut notes = vec![
            "Paste in configuration mode. Apply once with access-group EGRESSCHECK in interface INSIDE-NAME; the access-list ends in an implicit deny, so add entries for everything else that interface needs after these (this output keeps its entries at the top, lines 1 to N).".to_owned(),
            "FQDN objects need DNS on the ASA: dns domain-lookup and a dns server-group. They match exact names: a wildcard is listed by the names the data file knows under it.".to_owned(),
        ];
        notes.push(if rules.header.additive {
            "Adds to the output of egresscheck rules --format cisco-asa: members and entries that exist already are reported as such by the ASA and left as they are.".to_owned()
        } else {
            "Replaces: first removes the entries, remarks, object-groups and FQDN objects egresscheck configures for the groups and hosts of the selected environments, then configures these, so pasting it again or the output for newer data leaves exactly these rules. Remove it all: the lines up to Configure. Changes only: rules --diff OLD NEW --format cisco-asa.".to_owned()
        });
        notes
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Paste in configuration mode over the output for OLD: changes the object-groups in place, adds and removes entries and FQDN objects.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        if !rules.header.additive {
            self.remove_all(rules, out);
            ln!(out, "{}", self.comment_line("Configure"));
        }
        for (object, fqdn) in fqdn_objects(rules) {
            ln!(out, "object network {object}");
            ln!(out, " {fqdn}");
        }
        for (index, key) in rules.keys().into_iter().enumerate() {
            let group = group_name(key);
            ln!(out, "object-group network {group}");
            ln!(out, " description {}", self.description(rules, key));
            self.members(rules, key, out);
            if rules.header.additive {
                ln!(out, "access-list {ACL} remark {}", remark(key));
                ln!(out, "access-list {ACL} {}", entry(key));
            } else {
                // Remark and entry at the top, in order, before the admin's own entries.
                ln!(
                    out,
                    "access-list {ACL} line {} remark {}",
                    2 * index + 1,
                    remark(key)
                );
                ln!(
                    out,
                    "access-list {ACL} line {} {}",
                    2 * index + 2,
                    entry(key)
                );
            }
        }
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        let families: Vec<bool> = diff.new.header.family.each().collect();
        let old_keys = diff.old.keys();
        let new_keys = diff.new.keys();
        // New FQDN objects first: groups refer to them.
        let old_objects = fqdn_objects(&diff.old);
        let new_objects = fqdn_objects(&diff.new);
        for (object, fqdn) in new_objects.iter().filter(|o| !old_objects.contains(o)) {
            ln!(out, "object network {object}");
            ln!(out, " {fqdn}");
        }
        for key in &new_keys {
            if old_keys.contains(key) {
                continue;
            }
            ln!(out, "object-group network {}", group_name(key));
            ln!(out, " description {}", self.description(&diff.new, key));
            self.members(&diff.new, key, out);
            ln!(out, "access-list {ACL} line 1 remark {}", remark(key));
            ln!(out, "access-list {ACL} line 2 {}", entry(key));
        }
        for key in &old_keys {
            if !new_keys.contains(key) {
                ln!(out, "no access-list {ACL} remark {}", remark(key));
                ln!(out, "no access-list {ACL} {}", entry(key));
                ln!(out, "no object-group network {}", group_name(key));
            }
        }
        for key in new_keys.iter().filter(|k| old_keys.contains(k)) {
            let mut lines = Vec::new();
            for (change, k, _, rule) in diff.all_address_changes() {
                if k == *key {
                    let no = if change.is_remove() { "no " } else { "" };
                    lines.push(format!(" {no}{}", network_object(&rule.prefix)));
                }
            }
            for (change, k, rule) in diff.name_changes() {
                if k == *key {
                    let no = if change.is_remove() { "no " } else { "" };
                    for object in rule_objects(rule, &families) {
                        lines.push(format!(" {no}network-object object {object}"));
                    }
                }
            }
            if lines.is_empty() {
                continue;
            }
            ln!(out, "object-group network {}", group_name(key));
            ln!(out, " description {}", self.description(&diff.new, key));
            for line in lines {
                ln!(out, "{line}");
            }
        }
        for (object, _) in old_objects.iter().filter(|o| !new_objects.contains(o)) {
            ln!(out, "no object network {object}");
        }
        Some(())
    }
}
