//! A plain list of addresses, one IPv4 or IPv6 address or prefix per line: what PAN-OS
//! external dynamic lists (type IP), FortiGate external threat feeds (IP address),
//! pfSense/OPNsense URL-table aliases and `ipset` feeders fetch from a web server.
//!
//! Those readers want entries only, so the header is left out (the fetching firewall would
//! take a `#` line for a bad entry). A list has no port or protocol: the rule that uses it
//! sets them, and a selection of several environments, ports or services is merged into one
//! list (aggregated), so select one with `--env` and `--service` per list. Each fetch replaces
//! the whole list: the firewall's copy is exactly the file.

use super::RuleSet;
use super::aggregate;
use super::render::{Dialect, Out, ln};

/// The address-list dialect.
pub(crate) struct EdlIp;

impl Dialect for EdlIp {
    fn render(&self, rules: &RuleSet) -> String {
        let mut out = Out::default();
        self.body(rules, &mut out);
        out.into_string()
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for v6 in rules.header.family.each() {
            let items = rules
                .addresses_of(v6)
                .flat_map(|g| g.rules.iter().map(|r| (r.prefix, ())))
                .collect();
            for (prefix, ()) in aggregate::aggregate(items, |(), ()| {}) {
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
