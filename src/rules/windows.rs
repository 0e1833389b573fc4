//! Windows Defender Firewall: PowerShell `New-NetFirewallRule -Direction Outbound`, one rule
//! per prefix with a stable `-Name` derived from content, all in the group `egresscheck`.
//!
//! A name is unique: `New-NetFirewallRule` on an existing one fails. So each rule is first
//! removed by name (silently when absent), then created; and the script first removes the
//! group's rules of the selected environments that this output no longer names. Run twice, or
//! over the output for older data, the firewall holds exactly these rules, and the admin's own.

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
            "Replaces: removes the egresscheck rules of the selected environments that this output does not name, and each rule it names before creating it again, so running it twice, or the output for newer data, leaves exactly these rules (check --rules output removes nothing else). Remove them all: Remove-NetFirewallRule -Group egresscheck".to_owned(),
            "Windows Firewall has no hostname rules of its own (dynamic keywords with AutoResolve need an outside resolver such as Microsoft Defender for Endpoint): the names are in the descriptions.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Run in an elevated PowerShell.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        if !rules.header.additive {
            self.remove_stale(rules, out);
        }
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
    /// Removes the group's rules of the selected environments that `rules` does not name.
    fn remove_stale(&self, rules: &RuleSet, out: &mut Out) {
        let keep: Vec<String> = rules
            .addresses
            .iter()
            .flat_map(|g| {
                g.rules
                    .iter()
                    .map(move |r| escape::ps_single(&name(&g.key, r)))
            })
            .collect();
        let envs: Vec<String> = rules
            .header
            .environment_ids()
            .into_iter()
            .flat_map(|e| {
                ["tcp", "udp"].map(|p| escape::ps_single(&format!("egresscheck-{e}-{p}-*")))
            })
            .collect();
        ln!(out, "$keep = @({})", keep.join(", "));
        ln!(out, "$mine = @({})", envs.join(", "));
        ln!(
            out,
            "Get-NetFirewallRule -Group 'egresscheck' -ErrorAction SilentlyContinue | Where-Object {{ $n = $_.Name; ($mine | Where-Object {{ $n -like $_ }}) -and ($keep -notcontains $n) }} | Remove-NetFirewallRule"
        );
    }

    fn add(&self, key: &GroupKey, rule: &AddressRule, out: &mut Out) {
        ln!(
            out,
            "Remove-NetFirewallRule -Name {} -ErrorAction SilentlyContinue",
            escape::ps_single(&name(key, rule))
        );
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
