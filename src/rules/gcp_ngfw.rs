//! Google Cloud NGFW, as Terraform: `google_compute_network_firewall_policy_rule` resources
//! (EGRESS allow) whose `match` lists the host names as FQDN objects (`dest_fqdns`), one per
//! (environment, protocol, port) and at most [`CHUNK`] names, in a network firewall policy
//! given as a variable: the hostname rules the provider recommends, on Google Cloud.
//!
//! Cloud NGFW resolves each FQDN object through Cloud DNS and programs the addresses it gets
//! (up to 32 per family); FQDN objects are exact names, so a `*.` wildcard is written as the
//! names the data lists under it ([`fqdn`](super::fqdn)). Priorities are unique per policy and
//! a rule is keyed by its priority, so each comes from the rule's name (10000 plus a hash of
//! the name modulo 10000, the next free one on a clash): a kept rule keeps its priority.
//! <https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/compute_network_firewall_policy_rule>,
//! <https://cloud.google.com/firewall/docs/fqdn-objects-overview>

use super::fqdn::{self, Targets, Wildcards};
use super::objects;
use super::render::{Dialect, Names, Out, ln};
use super::terraform;
use super::{NameGroup, RuleSet, escape};

/// The Cloud NGFW (Terraform) dialect.
pub(crate) struct GcpNgfw;

/// FQDN objects per rule.
const CHUNK: usize = 100;
/// Priorities 10000–19999 (lower numbers are evaluated first).
const FIRST_PRIORITY: u32 = 10_000;
const PRIORITY_SPAN: u32 = 10_000;

/// One group's rules: its targets and, per chunk of at most [`CHUNK`] names, a rule name.
struct GroupRules<'a> {
    group: &'a NameGroup,
    targets: Targets,
    chunks: Vec<(String, Vec<String>)>,
}

impl GcpNgfw {
    /// Every group's rules, in rule-set order, with their names.
    fn groups<'a>(&self, rules: &'a RuleSet) -> Vec<GroupRules<'a>> {
        let mut out = Vec::new();
        for group in &rules.names {
            let key = &group.key;
            let targets = Targets::of(rules, [group], Wildcards::None);
            let names: Vec<String> = targets.names.iter().cloned().collect();
            let chunks = names
                .chunks(CHUNK)
                .enumerate()
                .map(|(index, chunk)| {
                    let base = format!(
                        "egc-{}-{}-{}-fqdn-{}",
                        key.environment,
                        key.protocol,
                        key.port,
                        index + 1
                    );
                    let name = escape::fit_name(&fqdn::name(rules, base, &targets), 63, '-');
                    (name, chunk.to_vec())
                })
                .collect();
            out.push(GroupRules {
                group,
                targets,
                chunks,
            });
        }
        out
    }
}

impl Dialect for GcpNgfw {
    const NAMES: Names = Names::Only;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            terraform::NOTE.to_owned(),
            "Set egresscheck_firewall_policy to the global network firewall policy (name or id) associated with the VPC network. Priorities 10000-19999 come from each rule's name (stable when the data changes): keep your own rules outside that range, and your deny-all egress rule at a higher number.".to_owned(),
            "Cloud NGFW resolves each name through the VPC's Cloud DNS and allows the addresses it gets (up to 32 per family), so another name on the same addresses is allowed too. FQDN objects are exact names: a *. wildcard is written as the names the data lists under it, never as its base. Documented addresses belong in the VPC firewall (--format gcp-terraform).".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        terraform::variable(
            out,
            "egresscheck_firewall_policy",
            "The global network firewall policy (name or id) the rules belong to",
            false,
        );
        let groups = self.groups(rules);
        let names: Vec<String> = groups
            .iter()
            .flat_map(|g| g.chunks.iter().map(|(name, _)| name.clone()))
            .collect();
        let priorities = objects::stable_number_map(&names, FIRST_PRIORITY, PRIORITY_SPAN);
        for group in &groups {
            fqdn::origin_lines(self, [group.group], out);
            group.targets.write_notes(self, out);
            for (name, chunk) in &group.chunks {
                let priority = priorities.get(name).copied().unwrap_or(FIRST_PRIORITY);
                self.rule(rules, group.group, (name, priority), chunk, out);
            }
        }
    }
}

impl GcpNgfw {
    /// One `google_compute_network_firewall_policy_rule`.
    fn rule(
        &self,
        rules: &RuleSet,
        group: &NameGroup,
        (name, priority): (&str, u32),
        names: &[String],
        out: &mut Out,
    ) {
        let key = &group.key;
        let description = objects::policy_description(rules, key, Self::MAX_COMMENT, Self::CHARSET);
        ln!(
            out,
            "resource \"google_compute_network_firewall_policy_rule\" \"{}\" {{",
            terraform::label(name)
        );
        ln!(out, "  firewall_policy = var.egresscheck_firewall_policy");
        ln!(out, "  rule_name       = \"{name}\"");
        ln!(out, "  priority        = {priority}");
        ln!(out, "  direction       = \"EGRESS\"");
        ln!(out, "  action          = \"allow\"");
        ln!(
            out,
            "  description     = {}",
            escape::hcl_quoted(&description)
        );
        ln!(out, "  match {{");
        ln!(
            out,
            "    dest_fqdns = {}",
            terraform::list(names.iter().cloned())
        );
        ln!(out, "    layer4_configs {{");
        ln!(out, "      ip_protocol = \"{}\"", key.protocol);
        ln!(out, "      ports       = [\"{}\"]", key.port);
        ln!(out, "    }}");
        ln!(out, "  }}");
        ln!(out, "}}");
    }
}
