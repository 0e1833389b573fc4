//! Palo Alto PAN-OS: configure-mode `set` commands. Per (environment, protocol, port) an
//! address group of FQDN objects and one security rule whose destination is that group and
//! the documented prefixes (a rule takes prefixes as they are, so no address object is left
//! behind when the provider drops one).
//!
//! PAN-OS `set` on a member list appends, so every list the output owns (the group's
//! members, the rule's zones, source, destination, application and service) is deleted and
//! set again: loading twice equals once, and a newer output replaces the members an older one
//! set. The rule is changed in place, so it keeps the position the admin moved it to. Objects
//! and rules only an older output named (a host name or a port the provider dropped) are
//! removed by `--diff OLD NEW`, which deletes them after the new rules stop using them.
//! Reviewed against
//! <https://docs.paloaltonetworks.com/pan-os/9-1/pan-os-admin/policy/use-address-object-to-represent-ip-addresses/address-objects.html>.

use super::objects::{self, Member, Objects, Stale};
use super::render::{Dialect, Names, Out, ln};
use super::{GroupKey, RuleSet};
use crate::catalog::Protocol;
use crate::rules::diff::Diff;

/// The PAN-OS dialect.
pub(crate) struct Panos;

/// Object, group and rule names: at most 63 characters.
const MAX_NAME: usize = 63;
/// The lists of a rule that the output owns.
const RULE_LISTS: [&str; 6] = [
    "from",
    "to",
    "source",
    "destination",
    "application",
    "service",
];

/// The service of a key: the predefined `service-https` for TCP 443, else our own object.
fn service(key: &GroupKey) -> (String, bool) {
    match (key.protocol, key.port.get()) {
        (Protocol::Tcp, 443) => ("service-https".to_owned(), false),
        (protocol, port) => (format!("egc-{protocol}-{port}"), true),
    }
}

impl Panos {
    fn objects(&self, rules: &RuleSet, objects: &Objects, out: &mut Out) {
        for member in objects.members(None) {
            let (name, text) = (
                member.object_name(MAX_NAME),
                objects.description(member, Self::MAX_COMMENT, Self::CHARSET),
            );
            if let Member::Name(host) | Member::Wildcard(host) = member {
                ln!(out, "set address {name} fqdn {host}");
                ln!(out, "set address {name} description \"{text}\"");
            }
        }
        let mut services: Vec<&GroupKey> = Vec::new();
        for policy in &objects.policies {
            let (name, custom) = service(&policy.key);
            if custom && !services.iter().any(|k| service(k).0 == name) {
                services.push(&policy.key);
                let (protocol, port) = (policy.key.protocol, policy.key.port);
                ln!(out, "set service {name} protocol {protocol} port {port}");
                ln!(out, "set service {name} description \"egresscheck\"");
            }
        }
        for policy in &objects.policies {
            let name = policy.name(MAX_NAME);
            let names: Vec<String> = policy
                .members
                .iter()
                .filter(|m| m.v6().is_none())
                .map(|m| m.object_name(MAX_NAME))
                .collect();
            let mut destination: Vec<String> = policy
                .members
                .iter()
                .filter_map(|m| match m {
                    Member::Prefix(prefix) => Some(prefix.to_string()),
                    Member::Name(_) | Member::Wildcard(_) => None,
                })
                .collect();
            let text =
                objects::policy_description(rules, &policy.key, Self::MAX_COMMENT, Self::CHARSET);
            // The prefixes are the rule's own: their origins go in notes above it.
            for member in &policy.members {
                if let Member::Prefix(prefix) = member {
                    let text = objects.description(member, usize::MAX, Self::CHARSET);
                    ln!(out, "{}", self.comment_line(&format!("{prefix}: {text}")));
                }
            }
            // The rule lets go of the group before the group changes or goes.
            let rule = format!("rulebase security rules {name}");
            for list in RULE_LISTS {
                ln!(out, "delete {rule} {list}");
            }
            if names.is_empty() {
                ln!(out, "delete address-group {name}");
            } else {
                ln!(out, "delete address-group {name} static");
                ln!(
                    out,
                    "set address-group {name} static [ {} ]",
                    names.join(" ")
                );
                ln!(out, "set address-group {name} description \"{text}\"");
                destination.push(name.clone());
            }
            ln!(out, "set {rule} from any");
            ln!(out, "set {rule} to any");
            ln!(out, "set {rule} source any");
            ln!(out, "set {rule} destination [ {} ]", destination.join(" "));
            ln!(out, "set {rule} application any");
            ln!(out, "set {rule} service {}", service(&policy.key).0);
            ln!(out, "set {rule} action allow");
            ln!(out, "set {rule} description \"{text}\"");
        }
        for member in objects.retired(rules) {
            if let Member::Name(_) = member {
                ln!(out, "delete address {}", member.object_name(MAX_NAME));
            }
        }
    }
}

impl Dialect for Panos {
    const MAX_COMMENT: usize = 255;
    const NAMES: Names = Names::Both;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Paste in configure mode (the # lines are notes: the CLI answers them with an error and goes on), then commit: nothing takes effect before the commit; show config diff shows what it will change.".to_owned(),
            "Replaces, in place: each group's members and each rule's zones, source, destination, application and service (a new rule goes to the end of the rulebase: move it above your deny rule once; later loads keep its place). The FQDN objects of legacy hosts past their sunset are deleted; other objects and rules only an older output named stay: rules --diff OLD NEW removes them. Remove: delete each rule egc-*, then the address groups, the address and service objects egc-*.".to_owned(),
            "Zones and source are any: narrow them after the first load if you like, each load sets them back to any. FQDN objects are resolved by the firewall (at most 32 IPv4 and 32 IPv6 addresses each) and match exact names: a wildcard is listed by the names the data file knows under it.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Paste in configure mode, then commit: the new rules and groups first (in place), then the deletes of what only the old output named.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        self.objects(rules, &Objects::new(rules, false), out);
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        let (old, new) = (
            Objects::new(&diff.old, false),
            Objects::new(&diff.new, false),
        );
        self.objects(&diff.new, &new, out);
        let stale = Stale::between(&old, &new);
        let retired = new.retired(&diff.new);
        for key in &stale.policies {
            let name = objects::policy_name(key, MAX_NAME);
            ln!(out, "delete rulebase security rules {name}");
            ln!(out, "delete address-group {name}");
        }
        for member in stale
            .objects
            .iter()
            .filter(|m| m.v6().is_none() && !retired.contains(m))
        {
            ln!(out, "delete address {}", member.object_name(MAX_NAME));
        }
        let used: Vec<String> = new.policies.iter().map(|p| service(&p.key).0).collect();
        let mut gone: Vec<String> = old
            .policies
            .iter()
            .map(|p| service(&p.key))
            .filter(|(name, custom)| *custom && !used.contains(name))
            .map(|(name, _)| name)
            .collect();
        gone.sort();
        gone.dedup();
        for name in gone {
            ln!(out, "delete service {name}");
        }
        Some(())
    }
}
