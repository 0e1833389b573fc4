//! firewalld: `firewall-cmd` commands for an `egresscheck` policy from the host to any zone,
//! one rich rule per prefix. Rich rules have no comment field: each rule's comment is the
//! shell comment line above it.
//!
//! A rich rule is added once, but never removed by adding others, so the script deletes the
//! policy and creates it again, keeping the target the admin set: run twice, or over the
//! output for older data, the policy holds exactly these rules; the admin's zones and other
//! policies are not touched. `check --rules` output only adds.

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{AddressRule, GroupKey, RuleSet};
use crate::rules::diff::Diff;

/// The firewalld dialect.
pub(crate) struct Firewalld;

const POLICY: &str = "egresscheck";

fn rich_rule(key: &GroupKey, v6: bool, rule: &AddressRule) -> String {
    escape::sh_single(&format!(
        "rule family=\"{}\" destination address=\"{}\" port port=\"{}\" protocol=\"{}\" accept",
        if v6 { "ipv6" } else { "ipv4" },
        rule.prefix,
        key.port,
        key.protocol
    ))
}

impl Dialect for Firewalld {
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Needs firewalld 0.9 or later (policies). Run as root with sh.".to_owned(),
            "Replaces: deletes the policy egresscheck and creates it again with these rules and the target it had, so running it twice or the output for newer data leaves exactly these rules. Remove: firewall-cmd --permanent --delete-policy=egresscheck; firewall-cmd --reload".to_owned(),
            "The policy's target stays CONTINUE: these rules accept and the rest goes on to your zones. To allow only these, add firewall-cmd --permanent --policy=egresscheck --set-target=REJECT once DNS and everything else the host needs is allowed.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Run as root; the policy egresscheck must exist (see the full output).".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        if rules.header.additive {
            ln!(
                out,
                "firewall-cmd --permanent --info-policy={POLICY} >/dev/null 2>&1 || firewall-cmd --permanent --new-policy={POLICY}"
            );
        } else {
            ln!(
                out,
                "target=$(firewall-cmd --permanent --policy={POLICY} --get-target 2>/dev/null) && [ -n \"$target\" ] || target=CONTINUE"
            );
            ln!(
                out,
                "firewall-cmd --permanent --info-policy={POLICY} >/dev/null 2>&1 && firewall-cmd --permanent --delete-policy={POLICY}"
            );
            ln!(out, "firewall-cmd --permanent --new-policy={POLICY}");
            ln!(
                out,
                "firewall-cmd --permanent --policy={POLICY} --set-target=\"$target\""
            );
        }
        ln!(
            out,
            "firewall-cmd --permanent --policy={POLICY} --add-ingress-zone=HOST"
        );
        ln!(
            out,
            "firewall-cmd --permanent --policy={POLICY} --add-egress-zone=ANY"
        );
        for group in &rules.addresses {
            for rule in &group.rules {
                ln!(
                    out,
                    "{}",
                    self.comment_line(&self.rule_comment(&group.key, &rule.origins))
                );
                ln!(
                    out,
                    "firewall-cmd --permanent --policy={POLICY} --add-rich-rule={}",
                    rich_rule(&group.key, group.v6, rule)
                );
            }
        }
        ln!(out, "firewall-cmd --reload");
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        for (change, key, v6, rule) in diff.all_address_changes() {
            ln!(
                out,
                "{}",
                self.comment_line(&self.rule_comment(key, &rule.origins))
            );
            let verb = if change.is_remove() { "remove" } else { "add" };
            ln!(
                out,
                "firewall-cmd --permanent --policy={POLICY} --{verb}-rich-rule={}",
                rich_rule(key, v6, rule)
            );
        }
        ln!(out, "firewall-cmd --reload");
        Some(())
    }
}
