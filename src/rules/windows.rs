//! Windows Defender Firewall: PowerShell `New-NetFirewallRule -Direction Outbound`, one rule
//! per prefix with a stable `-Name`, all in the group `egresscheck`.

use super::escape::{self, Charset};
use super::render::{Dialect, Out, ln};
use super::{AddressRule, GroupKey, RuleSet};
use crate::rules::diff::Diff;

/// The Windows dialect.
pub(crate) struct Windows;

fn name(key: &GroupKey, rule: &AddressRule) -> String {
    format!(
        "egresscheck-{}-{}-{}-{}",
        key.environment,
        key.protocol,
        key.port,
        escape::ident_part(&rule.prefix.to_string(), '-')
    )
}

impl Dialect for Windows {
    const MAX_COMMENT: usize = 400;
    const CHARSET: Charset = Charset::Unicode;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Run in an elevated PowerShell. Outbound traffic is allowed by default: these rules matter once a profile blocks it (Set-NetFirewallProfile -DefaultOutboundAction Block).".to_owned(),
            "Remove them all with: Remove-NetFirewallRule -Group egresscheck".to_owned(),
            "Windows Firewall has no hostname rules of its own (dynamic keywords with AutoResolve need an outside resolver such as Microsoft Defender for Endpoint): the names are in the descriptions.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Run in an elevated PowerShell.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for group in &rules.addresses {
            for rule in &group.rules {
                self.add(&group.key, rule, out);
            }
        }
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        for (change, key, _, rule) in diff.all_address_changes() {
            if change.is_remove() {
                ln!(
                    out,
                    "Remove-NetFirewallRule -Name {}",
                    escape::ps_single(&name(key, rule))
                );
            } else {
                self.add(key, rule, out);
            }
        }
        Some(())
    }
}

impl Windows {
    fn add(&self, key: &GroupKey, rule: &AddressRule, out: &mut Out) {
        ln!(
            out,
            "New-NetFirewallRule -Name {} -DisplayName {} -Group 'egresscheck' -Direction Outbound -Action Allow -Protocol {} -RemotePort {} -RemoteAddress {} -Description {}",
            escape::ps_single(&name(key, rule)),
            escape::ps_single(&format!(
                "egresscheck {} {} {} {}",
                key.environment, key.protocol, key.port, rule.prefix
            )),
            key.protocol.as_str().to_uppercase(),
            key.port,
            escape::ps_single(&rule.prefix.to_string()),
            escape::ps_single(&self.rule_comment(key, &rule.origins)),
        );
    }
}
