//! ipset: input for `ipset restore`, one `hash:net,port` set per environment and family
//! (`egc-ENV-v4`, `egc-ENV-v6`) holding `PREFIX,PROTO:PORT` entries, so one iptables rule per
//! set matches exactly the documented (prefix, protocol, port) pairs:
//! `-m set --match-set egc-prod-v4 dst,dst -j ACCEPT`.
//!
//! Each set is filled under a temporary name and swapped in (`swap`), then the temporary set
//! is destroyed: loading twice equals once, a newer output replaces an older set whole (also
//! while iptables rules refer to it, which `destroy` would refuse), and no other set is
//! touched. Every selected environment gets its sets, empty ones too, so an environment whose
//! addresses are all dropped is emptied. Host names cannot go into an ipset: they are listed
//! in comments (dnsmasq's `ipset=` can fill a set from DNS answers).

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{EnvId, RuleSet};

/// The ipset dialect.
pub(crate) struct Ipset;

/// Set names: at most 31 characters (IPSET_MAXNAMELEN 32 with the NUL).
const MAX_NAME: usize = 31;

fn set_name(env: &EnvId, v6: bool, temporary: bool) -> String {
    let suffix = format!(
        "-v{}{}",
        if v6 { 6 } else { 4 },
        if temporary { "-new" } else { "" }
    );
    let env = escape::fit_name(env.as_str(), MAX_NAME - 4 - suffix.len(), '-');
    format!("egc-{env}{suffix}")
}

impl Dialect for Ipset {
    // ipset comments: at most 255 bytes.
    const MAX_COMMENT: usize = 255;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Load: ipset restore < FILE (inside the network namespace it is for). Match: iptables -A OUTPUT -m set --match-set egc-ENV-v4 dst,dst -j ACCEPT (ip6tables with egc-ENV-v6).".to_owned(),
            "Replaces: each set egc-ENV-vF is filled as egc-ENV-vF-new and swapped in, then the temporary set is destroyed; other sets are untouched. Remove: delete the iptables rules that use them, then ipset destroy egc-ENV-v4 and egc-ENV-v6.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for env in &rules.header.environments {
            for v6 in rules.header.family.each() {
                let (set, new) = (set_name(&env.id, v6, false), set_name(&env.id, v6, true));
                let family = if v6 { "inet6" } else { "inet" };
                let create = format!("hash:net,port family {family} comment -exist");
                ln!(out, "create {set} {create}");
                ln!(out, "create {new} {create}");
                ln!(out, "flush {new}");
                for group in rules
                    .addresses_of(v6)
                    .filter(|g| g.key.environment == env.id)
                {
                    let (protocol, port) = (group.key.protocol, group.key.port);
                    for rule in &group.rules {
                        let comment = self.rule_comment(&group.key, &rule.origins);
                        // hash:net takes no /0: its two halves stand for it.
                        let nets = match rule.prefix.prefix_len() {
                            0 => rule
                                .prefix
                                .subnets(1)
                                .map(Iterator::collect)
                                .unwrap_or_default(),
                            _ => vec![rule.prefix],
                        };
                        for net in nets {
                            ln!(
                                out,
                                "add {new} {net},{protocol}:{port} comment \"{comment}\""
                            );
                        }
                    }
                }
                ln!(out, "swap {new} {set}");
                ln!(out, "destroy {new}");
            }
        }
    }
}
