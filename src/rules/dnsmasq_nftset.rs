//! dnsmasq: `nftset=` lines that add the addresses in DNS answers for the provider's names to
//! the `*_dns_*` sets of `--format nftables`, whose chain accepts them: hostname-based rules
//! on a Linux firewall, as the provider recommends.
//!
//! dnsmasq matches a listed domain and every name under it, and the longest listed domain
//! wins; a wildcard is listed by its base. One line per domain, naming every set it fills.

use std::collections::BTreeMap;

use super::RuleSet;
use super::nftables::{TABLE, set_name};
use super::render::{Dialect, Names, Out, ln};
use crate::catalog::DnsName;

/// The dnsmasq nftset dialect.
pub(crate) struct DnsmasqNftset;

/// One `nftset=` line: its domain, the comments of the rules it serves, the sets it fills.
struct Line<'a> {
    domain: &'a DnsName,
    comments: Vec<String>,
    sets: Vec<String>,
}

impl Dialect for DnsmasqNftset {
    const NAMES: Names = Names::Only;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Needs dnsmasq 2.87 or later built with nftset, used as this host's resolver, and the table of egresscheck rules --format nftables (same selection) loaded first: it declares the sets.".to_owned(),
            "A listed domain matches itself and every name under it; the longest listed domain wins.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        let families: Vec<bool> = rules.header.family.each().collect();
        let mut lines: BTreeMap<Vec<&str>, Line<'_>> = BTreeMap::new();
        for group in &rules.names {
            for rule in &group.rules {
                let name = rule.pattern.base();
                let entry = lines
                    .entry(name.as_str().rsplit('.').collect())
                    .or_insert_with(|| Line {
                        domain: name,
                        comments: Vec::new(),
                        sets: Vec::new(),
                    });
                entry.comments.push(format!(
                    "{} {} - {}",
                    group.key.protocol,
                    group.key.port,
                    self.rule_comment(&group.key, &rule.origins)
                ));
                for v6 in &families {
                    let set = format!(
                        "{}#inet#{TABLE}#{}",
                        if *v6 { 6 } else { 4 },
                        set_name(&group.key, *v6, true)
                    );
                    if !entry.sets.contains(&set) {
                        entry.sets.push(set);
                    }
                }
            }
        }
        for line in lines.values() {
            for comment in &line.comments {
                ln!(out, "{}", self.comment_line(comment));
            }
            ln!(out, "nftset=/{}/{}", line.domain, line.sets.join(","));
        }
    }
}
