//! Azure, as Terraform: `azurerm_network_security_rule` resources, outbound allow, one per
//! (environment, protocol, port, family) and at most [`CHUNK`] prefixes, for a network
//! security group given as variables. NSG rules take no host names (Azure Firewall
//! application rules can).
//!
//! Priorities must be unique per direction in a group and a rule keeps its priority when the
//! data changes (Azure refuses an update that gives one priority to two rules), so each rule's
//! priority comes from its name: 1000 plus a hash of the name modulo 3000, the next free one
//! on a clash (in name order). <https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/network_security_rule>

use std::collections::BTreeMap;

use super::escape;
use super::objects;
use super::render::{Dialect, Out, ln, prefix_lists};
use super::terraform;
use super::{GroupKey, RuleSet};
use crate::catalog::Protocol;

/// The Azure (Terraform) dialect.
pub(crate) struct AzureTerraform;

/// Prefixes per rule, as the `azure` dialect.
const CHUNK: usize = super::azure::CHUNK;
/// Rule names: at most 80 characters.
const MAX_NAME: usize = 80;
/// Descriptions: at most 140 characters.
const MAX_DESCRIPTION: usize = 140;
/// Priorities 1000–3999: room below for the admin's own allow rules, above for a deny.
const FIRST_PRIORITY: u32 = 1000;
const PRIORITY_SPAN: u32 = 3000;

impl AzureTerraform {
    /// The rule names the output will have, with their priorities.
    fn priorities(&self, rules: &RuleSet) -> BTreeMap<String, u32> {
        let mut names = Vec::new();
        let limits = (CHUNK, MAX_NAME, MAX_DESCRIPTION);
        prefix_lists(
            self,
            rules,
            limits,
            &mut Out::default(),
            |_, name, _, _, _| {
                names.push(name.to_owned());
            },
        );
        objects::stable_number_map(&names, FIRST_PRIORITY, PRIORITY_SPAN)
    }
}

fn protocol(key: &GroupKey) -> &'static str {
    match key.protocol {
        Protocol::Tcp => "Tcp",
        Protocol::Udp => "Udp",
    }
}

impl Dialect for AzureTerraform {
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            terraform::NOTE.to_owned(),
            "Set egresscheck_resource_group_name and egresscheck_network_security_group_name. Priorities 1000-3999 come from each rule's name (stable when the data changes): keep your own deny rule above 4000. NSG rules match addresses only; Azure Firewall application rules can match the host names.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        terraform::variable(
            out,
            "egresscheck_resource_group_name",
            "The network security group's resource group",
            false,
        );
        terraform::variable(
            out,
            "egresscheck_network_security_group_name",
            "The network security group the rules belong to",
            false,
        );
        let priorities = self.priorities(rules);
        let limits = (CHUNK, MAX_NAME, MAX_DESCRIPTION);
        prefix_lists(
            self,
            rules,
            limits,
            out,
            |key, name, description, list, out| {
                let priority = priorities.get(name).copied().unwrap_or(FIRST_PRIORITY);
                ln!(
                    out,
                    "resource \"azurerm_network_security_rule\" \"{}\" {{",
                    terraform::label(name)
                );
                ln!(out, "  name                         = \"{name}\"");
                ln!(
                    out,
                    "  resource_group_name          = var.egresscheck_resource_group_name"
                );
                ln!(
                    out,
                    "  network_security_group_name  = var.egresscheck_network_security_group_name"
                );
                ln!(out, "  priority                     = {priority}");
                ln!(out, "  direction                    = \"Outbound\"");
                ln!(out, "  access                       = \"Allow\"");
                ln!(
                    out,
                    "  protocol                     = \"{}\"",
                    protocol(key)
                );
                ln!(out, "  source_address_prefix        = \"*\"");
                ln!(out, "  source_port_range            = \"*\"");
                let prefixes = terraform::list(list.iter().map(|r| r.prefix.to_string()));
                ln!(out, "  destination_address_prefixes = {prefixes}");
                ln!(out, "  destination_port_range       = \"{}\"", key.port);
                ln!(
                    out,
                    "  description                  = {}",
                    escape::hcl_quoted(description)
                );
                ln!(out, "}}");
            },
        );
    }
}
