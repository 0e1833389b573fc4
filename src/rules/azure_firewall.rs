//! Azure Firewall, as Terraform: an `azurerm_firewall_policy_rule_collection_group` per
//! environment holding one application rule collection (action Allow) with a rule per TCP
//! port whose `destination_fqdns` are the host names: the hostname rules the provider
//! recommends, on Azure.
//!
//! Application rules read the name in the TLS SNI (`Https`) or the HTTP Host header (`Http`,
//! port 80): ports other than 80 are written as `Https`. They carry no UDP; a UDP port is left
//! out with a comment. An exact name matches itself only; `*.base` matches every name under
//! base at any depth but not base itself, so the retired base host stays out, and a wildcard
//! is written as the names the data lists under it when a name the data knows under base is
//! not opened here ([`fqdn`](super::fqdn)). Group priorities come from the group's name
//! (10000 plus a hash modulo 10000), so a kept group keeps its priority.
//! <https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/firewall_policy_rule_collection_group>,
//! <https://learn.microsoft.com/azure/firewall/firewall-faq#how-do-wildcards-work-in-target-urls-and-target-fqdns-in-application-rules>

use super::fqdn::{self, Targets, Wildcards};
use super::objects;
use super::render::{Dialect, Names, Out, ln};
use super::terraform;
use super::{NameGroup, RuleSet, escape};

/// The Azure Firewall (Terraform) dialect.
pub(crate) struct AzureFirewall;

/// Names of groups, collections and rules: at most 80 characters.
const MAX_NAME: usize = 80;
/// Priorities 10000–19999 (lower numbers are processed first; Azure accepts 100–65000).
const FIRST_PRIORITY: u32 = 10_000;
const PRIORITY_SPAN: u32 = 10_000;

/// One environment's rule collection group: its name and its rules (name, group, targets).
struct Collection<'a> {
    name: String,
    rules: Vec<(String, &'a NameGroup, Targets)>,
    left_out: Vec<&'a NameGroup>,
}

impl AzureFirewall {
    /// One collection group per environment with names, in rule-set order.
    fn collections<'a>(&self, rules: &'a RuleSet) -> Vec<Collection<'a>> {
        let mut out = Vec::new();
        for env in fqdn::by_environment(rules) {
            let mut all = Targets::default();
            let mut named = Vec::new();
            for group in env.tcp {
                let key = &group.key;
                let targets = Targets::of(rules, [group], Wildcards::AnyDepth);
                all.names.extend(targets.names.iter().cloned());
                let name = format!("egc-{}-{}-{}", key.environment, key.protocol, key.port);
                let name = escape::fit_name(&fqdn::name(rules, name, &targets), MAX_NAME, '-');
                named.push((name, group, targets));
            }
            let base = format!("egc-{}", env.environment);
            out.push(Collection {
                name: escape::fit_name(&fqdn::name(rules, base, &all), MAX_NAME, '-'),
                rules: named,
                left_out: env.other,
            });
        }
        out
    }
}

impl Dialect for AzureFirewall {
    const NAMES: Names = Names::Only;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            terraform::NOTE.to_owned(),
            "Set egresscheck_firewall_policy_id to the Azure Firewall policy, and egresscheck_source_addresses to your networks (default: any). One rule collection group per environment; priorities 10000-19999 come from each group's name (stable when the data changes): keep your own deny collections at a higher number.".to_owned(),
            "Application rules match the TLS SNI (Https) or the HTTP Host header (Http, port 80) and carry TCP only. An exact name matches itself only; *.base matches every name under base at any depth, not base itself: where the data knows a name under base that this output does not open, the wildcard is written as the names the data lists under it. Documented addresses belong in network rules or the NSG (--format azure-terraform).".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        terraform::variable(
            out,
            "egresscheck_firewall_policy_id",
            "The Azure Firewall policy the rule collection groups belong to",
            false,
        );
        terraform::Variable::new(
            "egresscheck_source_addresses",
            "The addresses the rules allow traffic from (default: any)",
        )
        .kind("list(string)")
        .default("[\"*\"]")
        .write(out);
        let collections = self.collections(rules);
        let names: Vec<String> = collections.iter().map(|c| c.name.clone()).collect();
        let priorities = objects::stable_number_map(&names, FIRST_PRIORITY, PRIORITY_SPAN);
        for collection in &collections {
            for group in &collection.left_out {
                fqdn::left_out(
                    self,
                    &group.key,
                    "Azure Firewall application rules carry TCP only",
                    out,
                );
            }
            for (_, group, targets) in &collection.rules {
                fqdn::origin_lines(self, [*group], out);
                targets.write_notes(self, out);
            }
            if collection.rules.iter().all(|(_, _, t)| t.names.is_empty()) {
                // A collection needs a rule and a rule a name: the notes say why there is none.
                continue;
            }
            let priority = priorities
                .get(&collection.name)
                .copied()
                .unwrap_or(FIRST_PRIORITY);
            self.collection_group(rules, collection, priority, out);
        }
    }
}

impl AzureFirewall {
    /// One `azurerm_firewall_policy_rule_collection_group` with its application rules.
    fn collection_group(
        &self,
        rules: &RuleSet,
        collection: &Collection<'_>,
        priority: u32,
        out: &mut Out,
    ) {
        let name = &collection.name;
        ln!(
            out,
            "resource \"azurerm_firewall_policy_rule_collection_group\" \"{}\" {{",
            terraform::label(name)
        );
        ln!(out, "  name               = \"{name}\"");
        ln!(
            out,
            "  firewall_policy_id = var.egresscheck_firewall_policy_id"
        );
        ln!(out, "  priority           = {priority}");
        ln!(out, "  application_rule_collection {{");
        ln!(out, "    name     = \"{name}\"");
        ln!(out, "    priority = {priority}");
        ln!(out, "    action   = \"Allow\"");
        for (rule_name, group, targets) in &collection.rules {
            let key = &group.key;
            if targets.names.is_empty() {
                continue;
            }
            let description =
                objects::policy_description(rules, key, Self::MAX_COMMENT, Self::CHARSET);
            let kind = if key.port.get() == 80 {
                "Http"
            } else {
                "Https"
            };
            ln!(out, "    rule {{");
            ln!(out, "      name              = \"{rule_name}\"");
            ln!(
                out,
                "      description       = {}",
                escape::hcl_quoted(&description)
            );
            ln!(out, "      protocols {{");
            ln!(out, "        type = \"{kind}\"");
            ln!(out, "        port = {}", key.port);
            ln!(out, "      }}");
            ln!(
                out,
                "      source_addresses  = var.egresscheck_source_addresses"
            );
            ln!(
                out,
                "      destination_fqdns = {}",
                terraform::list(targets.names.iter().cloned())
            );
            ln!(out, "    }}");
        }
        ln!(out, "  }}");
        ln!(out, "}}");
    }
}
