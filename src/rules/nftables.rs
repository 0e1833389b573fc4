//! nftables: a complete `table inet egresscheck`, loaded with `nft -f`.
//!
//! One named set per (environment, protocol, port, family) holds the documented prefixes
//! (interval sets, one comment per element); an empty set per (environment, protocol, port,
//! family) with host names is there for dnsmasq to fill from DNS answers
//! (`--format dnsmasq-nftset`). The output chain accepts both. The file first deletes the
//! table, so loading it again replaces the rules atomically.

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{AddressGroup, GroupKey, RuleSet};
use crate::rules::diff::Diff;

/// The nftables dialect.
pub(crate) struct Nftables;

/// Name of the table every nftables-based output uses.
pub(crate) const TABLE: &str = "egresscheck";

/// The set of a group: `prod_v4_tcp_443`, or `prod_dns_v4_tcp_443` for the set dnsmasq fills.
///
/// The environment id is kept as it is (nft identifiers take hyphens): ids hold no `_`, so the
/// first `_` ends it and no two groups share a name. An id starting with a digit gets a
/// leading `_`, as identifiers cannot start with a digit and ids cannot start with `_`.
pub(crate) fn set_name(key: &GroupKey, v6: bool, dns: bool) -> String {
    let env = key.environment.as_str();
    let lead = if env.starts_with(|c: char| c.is_ascii_digit()) {
        "_"
    } else {
        ""
    };
    format!(
        "{lead}{env}_{}v{}_{}_{}",
        if dns { "dns_" } else { "" },
        if v6 { 6 } else { 4 },
        key.protocol,
        key.port
    )
}

fn set_type(v6: bool) -> &'static str {
    if v6 { "ipv6_addr" } else { "ipv4_addr" }
}

fn chain_rule(key: &GroupKey, v6: bool, dns: bool) -> String {
    let what = if dns {
        "addresses of its host names, from dnsmasq"
    } else {
        "documented addresses"
    };
    format!(
        "{} daddr @{} {} dport {} accept comment {}",
        if v6 { "ip6" } else { "ip" },
        set_name(key, v6, dns),
        key.protocol,
        key.port,
        escape::nft_quoted(&escape::comment(
            &format!("{} {} {}: {what}", key.environment, key.protocol, key.port),
            Nftables::MAX_COMMENT,
            Nftables::CHARSET
        ))
    )
}

/// The (group, family) pairs that get a DNS-filled set: every name group, in each family.
fn dns_sets(rules: &RuleSet) -> Vec<(&GroupKey, bool)> {
    rules
        .names
        .iter()
        .flat_map(|g| rules.header.family.each().map(move |v6| (&g.key, v6)))
        .collect()
}

impl Nftables {
    fn element(&self, group: &AddressGroup, index: usize) -> Option<String> {
        let rule = group.rules.get(index)?;
        Some(format!(
            "{} comment {}",
            rule.host_or_prefix(),
            escape::nft_quoted(&self.rule_comment(&group.key, &rule.origins))
        ))
    }
}

impl Dialect for Nftables {
    // NFTNL_UDATA_COMMENT_MAXLEN: nft rejects longer comments.
    const MAX_COMMENT: usize = 128;

    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        let mut notes = vec![
            "Load: nft -f FILE (replaces table inet egresscheck as a whole). Check first: nft -c -f FILE.".to_owned(),
            "The chain only accepts; to allow nothing else, set its policy to drop once everything else this host needs is accepted in it.".to_owned(),
        ];
        if rules.name_count() > 0 {
            notes.push("The *_dns_* sets are filled by dnsmasq from DNS answers for the host names: egresscheck rules --format dnsmasq-nftset, same selection. Reloading this file empties them until the names are resolved again.".to_owned());
        }
        notes
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Apply: nft -f FILE, after nft -c -f FILE: one delete of an element that is not in its set aborts the whole batch.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        ln!(out, "table inet {TABLE}");
        ln!(out, "delete table inet {TABLE}");
        ln!(out, "table inet {TABLE} {{");
        for group in &rules.addresses {
            ln!(out, "\tset {} {{", set_name(&group.key, group.v6, false));
            ln!(out, "\t\ttype {}", set_type(group.v6));
            ln!(out, "\t\tflags interval");
            ln!(out, "\t\telements = {{");
            for index in 0..group.rules.len() {
                if let Some(element) = self.element(group, index) {
                    ln!(out, "\t\t\t{element},");
                }
            }
            ln!(out, "\t\t}}");
            ln!(out, "\t}}");
        }
        for (key, v6) in dns_sets(rules) {
            ln!(out, "\tset {} {{", set_name(key, v6, true));
            ln!(out, "\t\ttype {}", set_type(v6));
            ln!(out, "\t}}");
        }
        ln!(out, "\tchain output {{");
        ln!(
            out,
            "\t\ttype filter hook output priority filter; policy accept;"
        );
        ln!(
            out,
            "\t\t# Replies and loopback: needed once the policy is drop."
        );
        ln!(out, "\t\tct state established,related accept");
        ln!(out, "\t\toifname \"lo\" accept");
        for group in &rules.addresses {
            ln!(out, "\t\t{}", chain_rule(&group.key, group.v6, false));
        }
        for (key, v6) in dns_sets(rules) {
            ln!(out, "\t\t{}", chain_rule(key, v6, true));
        }
        ln!(out, "\t}}");
        ln!(out, "}}");
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        for v6 in [false, true] {
            for (_, key, rule) in diff.address_changes(v6).filter(|(c, ..)| c.is_remove()) {
                let set = set_name(key, v6, false);
                ln!(
                    out,
                    "delete element inet {TABLE} {set} {{ {} }}",
                    rule.host_or_prefix()
                );
            }
        }
        let old_dns = dns_sets(&diff.old);
        let new_sets = diff
            .new_groups
            .iter()
            .map(|(key, v6)| (key, *v6, false))
            .chain(
                dns_sets(&diff.new)
                    .into_iter()
                    .filter(|set| !old_dns.contains(set))
                    .map(|(key, v6)| (key, v6, true)),
            );
        for (key, v6, dns) in new_sets {
            let flags = if dns { "" } else { " flags interval;" };
            ln!(
                out,
                "add set inet {TABLE} {} {{ type {};{flags} }}",
                set_name(key, v6, dns),
                set_type(v6)
            );
            ln!(
                out,
                "add rule inet {TABLE} output {}",
                chain_rule(key, v6, dns)
            );
        }
        for v6 in [false, true] {
            for (_, key, rule) in diff.address_changes(v6).filter(|(c, ..)| !c.is_remove()) {
                ln!(
                    out,
                    "add element inet {TABLE} {} {{ {} comment {} }}",
                    set_name(key, v6, false),
                    rule.host_or_prefix(),
                    escape::nft_quoted(&self.rule_comment(key, &rule.origins))
                );
            }
        }
        for (change, key, rule) in diff.name_changes() {
            let text = format!(
                "host name to {}: {} ({} {} {}) - regenerate --format dnsmasq-nftset",
                change.action(),
                rule.pattern,
                key.environment,
                key.protocol,
                key.port
            );
            let text = escape::comment(&text, usize::MAX, Self::CHARSET);
            ln!(out, "{}", self.comment_line(&text));
        }
        Some(())
    }
}
