//! AWS: Terraform `aws_vpc_security_group_egress_rule` resources, one per prefix, for a
//! security group given as a variable. Security groups match addresses only.
//!
//! Terraform is declarative: the file replaces itself (a resource it no longer has is
//! destroyed by the next apply), and resource labels come from content, so a new prefix adds
//! one resource and moves none. The variable is `egresscheck_security_group_id`, a name no
//! module of the admin's is likely to use. Mixing these resources with inline `egress {}`
//! blocks of `aws_security_group` makes Terraform fight itself: the header says so.

use super::RuleSet;
use super::escape::{self, Charset};
use super::render::{Dialect, Out, ln};
use super::terraform;

/// The AWS (Terraform) dialect.
pub(crate) struct Aws;

impl Dialect for Aws {
    // Security group rule descriptions: at most 255 ASCII characters.
    const MAX_COMMENT: usize = 255;
    const CHARSET: Charset = Charset::Ascii;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Save as egresscheck.tf in its own module or directory, replacing the earlier file; terraform plan / apply with var.egresscheck_security_group_id set. Applying it again changes nothing; applying the file for newer data destroys the rules it no longer has. Remove: delete the file and apply.".to_owned(),
            "Do not mix with inline egress {} blocks on the same aws_security_group (nor with aws_security_group_rule for it): Terraform then shows a diff on every plan and removes these rules. A security group's default egress rule allows everything: remove it for these rules to matter.".to_owned(),
            "Security groups match addresses only; AWS Network Firewall or Route 53 Resolver DNS Firewall can match the host names.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        if rules.header.additive {
            ln!(
                out,
                "# Uses var.egresscheck_security_group_id of the full output in the same module."
            );
        } else {
            terraform::variable(
                out,
                "egresscheck_security_group_id",
                "The security group the egress rules belong to",
                false,
            );
        }
        for group in &rules.addresses {
            let key = &group.key;
            for rule in &group.rules {
                let label = format!(
                    "egc_{}{}_{}_{}_{}",
                    if rules.header.additive { "check_" } else { "" },
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
                ln!(
                    out,
                    "  security_group_id = var.egresscheck_security_group_id"
                );
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
