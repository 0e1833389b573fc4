//! A plain list of addresses, one IPv4 or IPv6 address or prefix per line: what PAN-OS
//! external dynamic lists (type IP), FortiGate external threat feeds (IP address),
//! pfSense/OPNsense URL-table aliases and `ipset` feeders fetch from a web server.
//!
//! Entries only by default, as the readers expect; with `--comments` the header and notes
//! come first as `#` lines, as in the public block lists these readers are built for (they
//! skip such lines; PAN-OS logs them as invalid entries and goes on), and the line above a
//! broad prefix names what it opens. Without `--comments` the broad-prefix warning goes to
//! standard error. A
//! list has no port or protocol: the rule that uses it sets them, and a selection of several
//! environments, ports or services is merged into one list (aggregated), so select one with
//! `--env` and `--service` per list. Each fetch replaces the whole list.

use ipnet::IpNet;

use super::RuleSet;
use super::aggregate;
use super::render::{Dialect, Out, ln};

/// The address-list dialect.
pub(crate) struct EdlIp;

impl Dialect for EdlIp {
    const HEADER_BY_DEFAULT: bool = false;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "One address or prefix per line; # lines are comments. Serve the file over HTTPS and point the firewall's external list at it: each fetch replaces the list.".to_owned(),
            "No port or protocol: the rule using the list sets them. The environments, ports and services selected are merged: one list per --env (and --service).".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for v6 in rules.header.family.each() {
            let mut broad: Vec<(IpNet, String)> = Vec::new();
            let mut items = Vec::new();
            for group in rules.addresses_of(v6) {
                for rule in &group.rules {
                    items.push((rule.prefix, ()));
                    if rule.origins.broad.is_some() && self.commented(rules) {
                        let text = self.rule_comment(&group.key, &rule.origins);
                        broad.push((rule.prefix, format!("{} {text}", rule.prefix)));
                    }
                }
            }
            for (prefix, ()) in aggregate::aggregate(items, |(), ()| {}) {
                for (_, text) in broad.iter().filter(|(b, _)| prefix.contains(b)) {
                    ln!(out, "{}", self.comment_line(text));
                }
                let single = prefix.prefix_len() == prefix.max_prefix_len();
                ln!(
                    out,
                    "{}",
                    if single {
                        prefix.addr().to_string()
                    } else {
                        prefix.to_string()
                    }
                );
            }
        }
    }
}
