//! Azure: `az network nsg rule create` commands, outbound allow, one rule per (environment,
//! protocol, port, family) and at most [`CHUNK`] prefixes. NSG rules take no host names and
//! do not mix IPv4 and IPv6; each prefix's comment is the shell comment above its rule.

use super::RuleSet;
use super::escape;
use super::render::{Dialect, Out, ln, prefix_lists};
use crate::catalog::Protocol;

/// The Azure dialect.
pub(crate) struct Azure;

/// Prefixes per rule: kept well under Azure's per-rule limits.
pub(crate) const CHUNK: usize = 250;
/// First priority used; each rule takes the next one.
const FIRST_PRIORITY: usize = 1000;
/// Rule names are at most 80 characters.
const MAX_NAME: usize = 80;
/// Rule descriptions are at most 140 characters.
const MAX_DESCRIPTION: usize = 140;

impl Dialect for Azure {
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Set AZ_RESOURCE_GROUP and AZ_NSG first. Priorities start at 1000: change them if they collide with your rules, and keep them below your deny rule's.".to_owned(),
            "NSG rules match addresses only; Azure Firewall application rules can match the host names.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        ln!(
            out,
            ": \"${{AZ_RESOURCE_GROUP:?set AZ_RESOURCE_GROUP to the network security group's resource group}}\""
        );
        ln!(
            out,
            ": \"${{AZ_NSG:?set AZ_NSG to the network security group's name}}\""
        );
        let mut priority = FIRST_PRIORITY;
        let limits = (CHUNK, MAX_NAME, MAX_DESCRIPTION);
        prefix_lists(
            self,
            rules,
            limits,
            out,
            |key, name, description, list, out| {
                let prefixes: Vec<String> = list.iter().map(|r| r.prefix.to_string()).collect();
                let protocol = match key.protocol {
                    Protocol::Tcp => "Tcp",
                    Protocol::Udp => "Udp",
                };
                ln!(
                    out,
                    "az network nsg rule create --resource-group \"$AZ_RESOURCE_GROUP\" --nsg-name \"$AZ_NSG\" --name {name} --priority {priority} --direction Outbound --access Allow --protocol {protocol} --source-address-prefixes '*' --source-port-ranges '*' --destination-address-prefixes {} --destination-port-ranges {} --description {}",
                    prefixes.join(" "),
                    key.port,
                    escape::sh_single(description)
                );
                priority += 1;
            },
        );
    }
}
