//! AWS Network Firewall, as Terraform: an `aws_networkfirewall_rule_group` per environment,
//! stateful, whose domain list (`rules_source_list`, ALLOWLIST) holds the host names: the
//! hostname rules the provider recommends, on AWS.
//!
//! A domain list reads the TLS SNI (`TLS_SNI`) and the HTTP Host header (`HTTP_HOST`, listed
//! only when the data has port 80); it has no port, so the TCP ports of one environment share
//! its list, and no UDP (left out with a comment). A target without a leading dot matches that
//! name only; `.base` matches base itself and every name under it, which would let in the
//! retired base host (`api.skatteetaten.no` under `*.api.skatteetaten.no`) and names of other
//! environments: no target here has a leading dot, and a `*.` wildcard is written as the names
//! the data lists under it ([`fqdn`](super::fqdn)). Capacity is fixed when a group is created,
//! so it is set with room (at least 1000) and only grows when a list outgrows it.
//! <https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/networkfirewall_rule_group>,
//! <https://docs.aws.amazon.com/network-firewall/latest/developerguide/stateful-rule-groups-domain-names.html>

use super::fqdn::{self, Targets, Wildcards};
use super::render::{Dialect, Names, Out, ln};
use super::terraform;
use super::{NameGroup, RuleSet, escape};
use crate::catalog::EnvId;
use escape::Charset;

/// The AWS Network Firewall (Terraform) dialect.
pub(crate) struct AwsNetworkFirewall;

/// Capacity steps: a group's capacity is a multiple of this, with room for twice its rules.
const CAPACITY_STEP: usize = 1000;
/// Rule group names: at most 128 characters.
const MAX_NAME: usize = 128;

/// One environment's rule group.
struct Group<'a> {
    environment: &'a EnvId,
    name: String,
    groups: Vec<&'a NameGroup>,
    targets: Targets,
    left_out: Vec<&'a NameGroup>,
}

impl Group<'_> {
    /// `TLS_SNI` for any TCP port but 80, `HTTP_HOST` for port 80.
    fn target_types(&self) -> Vec<String> {
        let http = self.groups.iter().any(|g| g.key.port.get() == 80);
        let tls = self.groups.iter().any(|g| g.key.port.get() != 80);
        let mut types = Vec::new();
        if tls {
            types.push("TLS_SNI".to_owned());
        }
        if http {
            types.push("HTTP_HOST".to_owned());
        }
        types
    }

    /// Room for twice the generated rules (one per target and type), in steps of 1000.
    fn capacity(&self) -> usize {
        let needed = 2 * self.targets.names.len() * self.target_types().len();
        needed.div_ceil(CAPACITY_STEP).max(1) * CAPACITY_STEP
    }
}

impl AwsNetworkFirewall {
    /// One rule group per environment with names, in rule-set order.
    fn groups<'a>(&self, rules: &'a RuleSet) -> Vec<Group<'a>> {
        fqdn::by_environment(rules)
            .into_iter()
            .map(|env| {
                let targets = Targets::of(rules, env.tcp.iter().copied(), Wildcards::None);
                let base = format!("egc-{}", env.environment);
                Group {
                    environment: env.environment,
                    name: escape::fit_name(&fqdn::name(rules, base, &targets), MAX_NAME, '-'),
                    groups: env.tcp,
                    targets,
                    left_out: env.other,
                }
            })
            .collect()
    }
}

impl Dialect for AwsNetworkFirewall {
    // Descriptions: at most 512 characters; ASCII keeps every AWS API content.
    const MAX_COMMENT: usize = 255;
    const CHARSET: Charset = Charset::Ascii;
    const NAMES: Names = Names::Only;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            terraform::NOTE.to_owned(),
            "Add each rule group's ARN (output egresscheck_rule_groups) to your firewall policy's stateful_rule_group_reference. Set egresscheck_rule_order to your policy's rule order (DEFAULT_ACTION_ORDER or STRICT_ORDER). An ALLOWLIST group also drops TLS and HTTP to names outside its list. Domain lists inspect traffic from the firewall's VPC unless HOME_NET is widened. Capacity is fixed at creation: it is set with room for twice the rules, and a list that outgrows it gets a larger one, which replaces the group.".to_owned(),
            "A domain list has no port: TLS_SNI matches TLS to the names on any port, HTTP_HOST (only with port 80 in the data) plain HTTP. Targets are exact names: a leading-dot target would also match its base (a retired host) and every name under it, so a *. wildcard is written as the names the data lists under it. Documented addresses belong in security groups (--format aws or aws-prefix-list).".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        terraform::Variable::new(
            "egresscheck_rule_order",
            "The rule order of the firewall policy the groups join",
        )
        .default("\"DEFAULT_ACTION_ORDER\"")
        .validation(
            "contains([\"DEFAULT_ACTION_ORDER\", \"STRICT_ORDER\"], var.egresscheck_rule_order)"
                .to_owned(),
            "DEFAULT_ACTION_ORDER or STRICT_ORDER, as the firewall policy's stateful engine options.",
        )
        .write(out);
        let groups = self.groups(rules);
        let mut outputs = Vec::new();
        for group in &groups {
            for left in &group.left_out {
                fqdn::left_out(
                    self,
                    &left.key,
                    "a domain list reads TLS and HTTP only",
                    out,
                );
            }
            fqdn::origin_lines(self, group.groups.iter().copied(), out);
            group.targets.write_notes(self, out);
            if group.targets.names.is_empty() {
                continue;
            }
            self.rule_group(rules, group, out);
            outputs.push((group.name.clone(), terraform::label(&group.name)));
        }
        terraform::output_map(
            out,
            "egresscheck_rule_groups",
            "The rule groups' ARNs, by name",
            outputs.iter().map(|(name, label)| {
                (
                    name.clone(),
                    format!("aws_networkfirewall_rule_group.{label}.arn"),
                )
            }),
        );
    }
}

impl AwsNetworkFirewall {
    /// One `aws_networkfirewall_rule_group`.
    fn rule_group(&self, rules: &RuleSet, group: &Group<'_>, out: &mut Out) {
        let name = &group.name;
        let ports: Vec<String> = group
            .groups
            .iter()
            .map(|g| g.key.port.to_string())
            .collect();
        let description = escape::comment(
            &format!(
                "egresscheck {} tcp {}, {} data {}",
                group.environment,
                ports.join(" "),
                rules.header.provider,
                rules.header.data_version
            ),
            Self::MAX_COMMENT,
            Self::CHARSET,
        );
        ln!(
            out,
            "resource \"aws_networkfirewall_rule_group\" \"{}\" {{",
            terraform::label(name)
        );
        ln!(out, "  name        = \"{name}\"");
        ln!(out, "  type        = \"STATEFUL\"");
        ln!(out, "  capacity    = {}", group.capacity());
        ln!(out, "  description = {}", escape::hcl_quoted(&description));
        ln!(out, "  rule_group {{");
        ln!(out, "    stateful_rule_options {{");
        ln!(out, "      rule_order = var.egresscheck_rule_order");
        ln!(out, "    }}");
        ln!(out, "    rules_source {{");
        ln!(out, "      rules_source_list {{");
        ln!(out, "        generated_rules_type = \"ALLOWLIST\"");
        ln!(
            out,
            "        target_types         = {}",
            terraform::list(group.target_types())
        );
        ln!(
            out,
            "        targets              = {}",
            terraform::list(group.targets.names.iter().cloned())
        );
        ln!(out, "      }}");
        ln!(out, "    }}");
        ln!(out, "  }}");
        ln!(out, "  tags = {{");
        ln!(out, "    Name        = \"{name}\"");
        ln!(
            out,
            "    egresscheck = {}",
            escape::hcl_quoted(&description)
        );
        ln!(out, "  }}");
        ln!(out, "}}");
    }
}
