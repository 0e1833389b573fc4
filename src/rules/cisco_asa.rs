//! Cisco ASA: a network object-group per (environment, protocol, port) holding the prefixes
//! and FQDN objects, and one access-list entry per group. ASA FQDN objects match exact names
//! only, so a wildcard becomes the concrete names the data file lists under it.

use ipnet::IpNet;

use super::escape;
use super::render::{Dialect, Names, Out, ln};
use super::{GroupKey, RuleSet};
use crate::catalog::HostPattern;

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

impl Dialect for CiscoAsa {
    // ASA starts a comment with a colon; `remark` text is at most 100 characters.
    const COMMENT: &'static str = ":";
    const MAX_COMMENT: usize = 100;
    const NAMES: Names = Names::Both;

    fn comment_line(&self, text: &str) -> String {
        // A question mark asks the ASA console for help, even in a comment.
        format!(": {}", text.replace('?', "%3F"))
    }

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Paste in configuration mode. Apply with access-group EGRESSCHECK in interface INSIDE-NAME; the access-list ends in an implicit deny, so it must also permit everything else that interface needs.".to_owned(),
            "FQDN objects need DNS on the ASA: dns domain-lookup and a dns server-group. They match exact names: a wildcard is listed by the names the data file knows under it.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        let families: Vec<bool> = rules.header.family.each().collect();
        let mut objects: Vec<(String, String)> = Vec::new();
        for group in &rules.names {
            for rule in &group.rules {
                for name in &rule.names {
                    for v6 in &families {
                        let object = fqdn_object(name.as_str(), *v6);
                        if !objects.iter().any(|(o, _)| o == &object) {
                            objects.push((
                                object,
                                format!("fqdn v{} {name}", if *v6 { 6 } else { 4 }),
                            ));
                        }
                    }
                }
            }
        }
        for (object, fqdn) in &objects {
            ln!(out, "object network {object}");
            ln!(out, " {fqdn}");
        }
        for key in rules.keys() {
            let group = group_name(key);
            let mut remarks = Vec::new();
            ln!(out, "object-group network {group}");
            for g in rules.addresses.iter().filter(|g| &g.key == key) {
                for rule in &g.rules {
                    ln!(out, " {}", network_object(&rule.prefix));
                    remarks.push(format!(
                        "{} - {}",
                        rule.prefix,
                        rule.origins.describe(&key.environment)
                    ));
                }
            }
            for g in rules.names.iter().filter(|g| &g.key == key) {
                for rule in &g.rules {
                    for name in &rule.names {
                        for v6 in &families {
                            ln!(
                                out,
                                " network-object object {}",
                                fqdn_object(name.as_str(), *v6)
                            );
                        }
                    }
                    let note = match &rule.pattern {
                        HostPattern::Wildcard(_) => " (only the names listed under it)",
                        HostPattern::Exact(_) => "",
                    };
                    remarks.push(format!(
                        "{}{note} - {}",
                        rule.pattern,
                        rule.origins.describe(&key.environment)
                    ));
                }
            }
            for remark in remarks {
                let text = escape::comment(&remark, Self::MAX_COMMENT, Self::CHARSET);
                ln!(out, "access-list {ACL} remark {text}");
            }
            ln!(
                out,
                "access-list {ACL} extended permit {} any object-group {group} eq {}",
                key.protocol,
                key.port
            );
        }
    }
}
