//! iptables: `iptables-restore` / `ip6tables-restore` input for a dedicated `EGRESSCHECK` chain.
//!
//! With one family the output is input for that family's restore tool as is; with both, it
//! holds an IPv4 part and an IPv6 part, each opened by a marker comment. Loaded with
//! `--noflush`, the chain declaration empties and refills only this chain; the jump to it is
//! left to the admin (OUTPUT on a host, FORWARD on a router).

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{AddressRule, GroupKey, RuleSet};
use crate::rules::diff::Diff;

/// The iptables dialect.
pub(crate) struct Iptables;

/// The chain the rules go into.
pub(crate) const CHAIN: &str = "EGRESSCHECK";

/// The marker comment that opens the part of one family.
pub(crate) fn part_marker(v6: bool) -> &'static str {
    if v6 {
        "# ==== IPv6 part: ip6tables-restore --noflush ===="
    } else {
        "# ==== IPv4 part: iptables-restore --noflush ===="
    }
}

impl Iptables {
    fn rule(&self, action: char, key: &GroupKey, rule: &AddressRule) -> String {
        format!(
            "-{action} {CHAIN} -d {} -p {proto} -m {proto} --dport {} -m comment --comment {} -j ACCEPT",
            rule.prefix,
            key.port,
            escape::iptables_quoted(&self.rule_comment(key, &rule.origins)),
            proto = key.protocol,
        )
    }
}

impl Dialect for Iptables {
    // XT_MAX_COMMENT_LEN is 256 including the terminating NUL.
    const MAX_COMMENT: usize = 255;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Load each part with --noflush (your other rules stay; this chain is emptied and refilled).".to_owned(),
            "Then send traffic through the chain once: iptables -I OUTPUT -j EGRESSCHECK (FORWARD on a router; ip6tables likewise). It only accepts: your policy decides the rest.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Apply each part with iptables-restore --noflush or ip6tables-restore --noflush. A -D line must match the rule as it was loaded from OLD, comment included.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for v6 in rules.header.family.each() {
            ln!(out, "{}", part_marker(v6));
            ln!(out, "*filter");
            ln!(out, ":{CHAIN} - [0:0]");
            for group in rules.addresses_of(v6) {
                for rule in &group.rules {
                    ln!(out, "{}", self.rule('A', &group.key, rule));
                }
            }
            ln!(out, "COMMIT");
        }
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        for v6 in diff.new.header.family.each() {
            ln!(out, "{}", part_marker(v6));
            ln!(out, "*filter");
            for (change, key, rule) in diff.address_changes(v6) {
                let action = if change.is_remove() { 'D' } else { 'A' };
                ln!(out, "{}", self.rule(action, key, rule));
            }
            ln!(out, "COMMIT");
        }
        Some(())
    }
}
