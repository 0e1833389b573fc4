//! AWS: Terraform `aws_vpc_security_group_egress_rule` resources, one per prefix, for a
//! security group given as a variable. Security groups match addresses only.

use super::RuleSet;
use super::escape::{self, Charset};
use super::render::{Dialect, Out, ln};

/// The AWS (Terraform) dialect.
pub(crate) struct Aws;

impl Dialect for Aws {
    // Security group rule descriptions: at most 255 ASCII characters.
    const MAX_COMMENT: usize = 255;
    const CHARSET: Charset = Charset::Ascii;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "terraform plan / apply with var.security_group_id set. A security group's default egress rule allows everything: remove it for these rules to matter.".to_owned(),
            "Security groups match addresses only; AWS Network Firewall or Route 53 Resolver DNS Firewall can match the host names.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        ln!(out, "variable \"security_group_id\" {{");
        ln!(out, "  type        = string");
        ln!(
            out,
            "  description = \"The security group the egress rules belong to\""
        );
        ln!(out, "}}");
        for group in &rules.addresses {
            let key = &group.key;
            for rule in &group.rules {
                let label = format!(
                    "egc_{}_{}_{}_{}",
                    escape::ident_part(key.environment.as_str(), '_'),
                    key.protocol,
                    key.port,
                    escape::ident_part(&rule.prefix.to_string(), '_')
                );
                ln!(out);
                ln!(
                    out,
                    "resource \"aws_vpc_security_group_egress_rule\" \"{label}\" {{"
                );
                ln!(out, "  security_group_id = var.security_group_id");
                ln!(
                    out,
                    "  description       = {}",
                    escape::hcl_quoted(&self.rule_comment(key, &rule.origins))
                );
                let field = if group.v6 { "cidr_ipv6" } else { "cidr_ipv4" };
                ln!(out, "  {field:<17} = \"{}\"", rule.prefix);
                ln!(out, "  ip_protocol       = \"{}\"", key.protocol);
                ln!(out, "  from_port         = {}", key.port);
                ln!(out, "  to_port           = {}", key.port);
                ln!(out, "}}");
            }
        }
    }
}
