//! iptables: `iptables-restore` / `ip6tables-restore` input for a dedicated `EGRESSCHECK` chain.
//!
//! Each restore tool takes one family, and a file holding both is applied in half (the IPv4
//! table is committed before the IPv6 part fails), so `rules` writes one family per output
//! (`--family 4|6`, or `--output-dir` for both files). Loaded with `--noflush`, the chain
//! declaration empties and refills only this chain: loading it twice, or the output for newer
//! data, leaves exactly its rules and nothing else of the admin's. The jump to the chain is
//! the admin's, with a command that adds it once.
//!
//! Rules that add to the chain (`check --rules`) are a shell script instead: each rule is
//! appended only when the chain lacks it, and nothing is flushed.

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{AddressRule, Family, GroupKey, RuleSet};
use crate::rules::diff::Diff;

/// The iptables dialect.
pub(crate) struct Iptables;

/// The chain the rules go into.
pub(crate) const CHAIN: &str = "EGRESSCHECK";

/// The marker comment that opens the part of one family, when a caller of the library asks
/// for both in one text (the command line refuses that).
pub(crate) fn part_marker(v6: bool) -> &'static str {
    if v6 {
        "# ==== IPv6 part: ip6tables-restore --noflush ===="
    } else {
        "# ==== IPv4 part: iptables-restore --noflush ===="
    }
}

/// `iptables` or `ip6tables`.
fn tool(v6: bool) -> &'static str {
    if v6 { "ip6tables" } else { "iptables" }
}

/// The rule's match, as `iptables -S` prints it (and `-A`, `-D` take it).
fn matches(key: &GroupKey, rule: &AddressRule) -> String {
    format!(
        "-d {} -p {proto} -m {proto} --dport {}",
        rule.prefix,
        key.port,
        proto = key.protocol,
    )
}

impl Iptables {
    fn rule(&self, action: char, key: &GroupKey, rule: &AddressRule) -> String {
        format!(
            "-{action} {CHAIN} {} -m comment --comment {} -j ACCEPT",
            matches(key, rule),
            escape::iptables_quoted(&self.rule_comment(key, &rule.origins)),
        )
    }

    /// One family's restore input: the chain declared (so emptied) and refilled.
    fn restore(&self, rules: &RuleSet, v6: bool, out: &mut Out) {
        ln!(out, "*filter");
        ln!(out, ":{CHAIN} - [0:0]");
        for group in rules.addresses_of(v6) {
            for rule in &group.rules {
                ln!(out, "{}", self.rule('A', &group.key, rule));
            }
        }
        ln!(out, "COMMIT");
    }

    /// Shell commands that append each rule the chain lacks, creating the chain if needed.
    fn additions(&self, rules: &RuleSet, out: &mut Out) {
        for v6 in rules.header.family.each() {
            let tool = tool(v6);
            ln!(out, "{tool} -w -N {CHAIN} 2>/dev/null || true");
            for group in rules.addresses_of(v6) {
                for rule in &group.rules {
                    let found =
                        escape::sh_single(&format!("-A {CHAIN} {} ", matches(&group.key, rule)));
                    ln!(
                        out,
                        "{tool} -w -S {CHAIN} | grep -qF -- {found} || {tool} -w -A {CHAIN} {} -m comment --comment {} -j ACCEPT",
                        matches(&group.key, rule),
                        escape::sh_single(&self.rule_comment(&group.key, &rule.origins))
                    );
                }
            }
        }
    }
}

impl Dialect for Iptables {
    // XT_MAX_COMMENT_LEN is 256 including the terminating NUL.
    const MAX_COMMENT: usize = 255;

    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        let h = &rules.header;
        if h.additive {
            return vec![
                "Run as root: sh FILE. Adds each rule the chain EGRESSCHECK lacks and changes nothing else (run twice, the same); the next full output for the data replaces the chain.".to_owned(),
            ];
        }
        let (restore, jump) = match h.family {
            Family::V4 => ("iptables-restore", "iptables"),
            Family::V6 => ("ip6tables-restore", "ip6tables"),
            Family::Both => (
                "iptables-restore (IPv4 part) or ip6tables-restore (IPv6 part)",
                "iptables (ip6tables)",
            ),
        };
        vec![
            format!(
                "Load: {restore} --noflush FILE. Your other chains and rules stay; the chain EGRESSCHECK is emptied and refilled, so loading it again, or the output for newer data, leaves exactly these rules."
            ),
            format!(
                "Then send traffic through the chain, once (the -C test keeps a second run from adding a second jump): {jump} -C OUTPUT -j EGRESSCHECK 2>/dev/null || {jump} -I OUTPUT -j EGRESSCHECK (FORWARD on a router). It only accepts: your policy decides the rest."
            ),
            format!(
                "Remove: {jump} -D OUTPUT -j EGRESSCHECK; {jump} -F EGRESSCHECK; {jump} -X EGRESSCHECK"
            ),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Apply with iptables-restore --noflush (ip6tables-restore for IPv6). A -D line must match the rule as it was loaded from OLD, comment included.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        if rules.header.additive {
            self.additions(rules, out);
            return;
        }
        match rules.header.family {
            Family::V4 => self.restore(rules, false, out),
            Family::V6 => self.restore(rules, true, out),
            Family::Both => {
                for v6 in [false, true] {
                    ln!(out, "{}", part_marker(v6));
                    self.restore(rules, v6, out);
                }
            }
        }
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        let both = diff.new.header.family == Family::Both;
        for v6 in diff.new.header.family.each() {
            if both {
                ln!(out, "{}", part_marker(v6));
            }
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
