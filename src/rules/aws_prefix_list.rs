//! AWS, as Terraform: an `aws_ec2_managed_prefix_list` per (environment, protocol, port,
//! family) with one entry per prefix, and, when a security group is given, an
//! `aws_vpc_security_group_egress_rule` referring to each list. One prefix-list reference
//! stands for all its entries in a security group (it counts as `max_entries` rules), and the
//! list can be shared with route tables and other accounts.
//! <https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/ec2_managed_prefix_list>

use super::RuleSet;
use super::escape::{self, Charset};
use super::objects;
use super::render::{Dialect, Out, ln};
use super::terraform;

/// The AWS managed prefix list (Terraform) dialect.
pub(crate) struct AwsPrefixList;

/// Entries per list: the default quota of a managed prefix list.
const CHUNK: usize = 1000;

impl Dialect for AwsPrefixList {
    // Entry and rule descriptions: at most 255 ASCII characters.
    const MAX_COMMENT: usize = 255;
    const CHARSET: Charset = Charset::Ascii;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            terraform::NOTE.to_owned(),
            "Set egresscheck_security_group_id to add one egress rule per list to that security group (left null, only the prefix lists are made). Do not mix these rule resources with inline egress blocks of the same group (perpetual diffs), and remove the group's default allow-all egress rule for them to matter. max_entries is the number of entries: a reference counts as that many rules against the group's quota.".to_owned(),
            "Prefix lists and security groups match addresses only; AWS Network Firewall domain lists can match the host names.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        terraform::variable(
            out,
            "egresscheck_security_group_id",
            "The security group that gets one egress rule per prefix list (null: none)",
            true,
        );
        let mut outputs = Vec::new();
        for group in &rules.addresses {
            let key = &group.key;
            let family = if group.v6 { 6 } else { 4 };
            let description =
                objects::policy_description(rules, key, Self::MAX_COMMENT, Self::CHARSET);
            let chunks: Vec<_> = group.rules.chunks(CHUNK).collect();
            for (index, list) in chunks.iter().enumerate() {
                let part = if chunks.len() > 1 {
                    format!("-{}", index + 1)
                } else {
                    String::new()
                };
                let name = format!(
                    "egc-{}-{}-{}-v{family}{part}",
                    key.environment, key.protocol, key.port
                );
                let label = terraform::label(&name);
                ln!(out);
                ln!(
                    out,
                    "resource \"aws_ec2_managed_prefix_list\" \"{label}\" {{"
                );
                ln!(out, "  name           = \"{name}\"");
                ln!(out, "  address_family = \"IPv{family}\"");
                ln!(out, "  max_entries    = {}", list.len());
                for rule in *list {
                    ln!(out, "  entry {{");
                    ln!(out, "    cidr        = \"{}\"", rule.prefix);
                    let text = self.rule_comment(key, &rule.origins);
                    ln!(out, "    description = {}", escape::hcl_quoted(&text));
                    ln!(out, "  }}");
                }
                ln!(out, "  tags = {{");
                ln!(out, "    Name        = \"{name}\"");
                ln!(
                    out,
                    "    egresscheck = {}",
                    escape::hcl_quoted(&description)
                );
                ln!(out, "  }}");
                ln!(out, "}}");
                ln!(out);
                ln!(
                    out,
                    "resource \"aws_vpc_security_group_egress_rule\" \"{label}\" {{"
                );
                ln!(
                    out,
                    "  count             = var.egresscheck_security_group_id == null ? 0 : 1"
                );
                ln!(
                    out,
                    "  security_group_id = var.egresscheck_security_group_id"
                );
                ln!(
                    out,
                    "  prefix_list_id    = aws_ec2_managed_prefix_list.{label}.id"
                );
                ln!(out, "  ip_protocol       = \"{}\"", key.protocol);
                ln!(out, "  from_port         = {}", key.port);
                ln!(out, "  to_port           = {}", key.port);
                ln!(
                    out,
                    "  description       = {}",
                    escape::hcl_quoted(&description)
                );
                ln!(out, "}}");
                outputs.push((name, label));
            }
        }
        terraform::output_map(
            out,
            "egresscheck_prefix_lists",
            "The prefix lists' ids, by name",
            outputs.iter().map(|(name, label)| {
                (
                    name.clone(),
                    format!("aws_ec2_managed_prefix_list.{label}.id"),
                )
            }),
        );
    }
}
