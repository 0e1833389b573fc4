//! ufw: `ufw allow out` commands, one per prefix, with the rule's comment.
//!
//! ufw adds a rule once (an existing one is skipped) but never removes one by itself, so the
//! script first deletes every rule whose comment marks it as egresscheck's for a selected
//! environment (`egresscheck ENV: …`), highest number first, then adds these: run twice, or
//! over the output for older data, ufw holds exactly these rules, and the admin's own.

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{AddressRule, GroupKey, RuleSet};
use crate::rules::diff::Diff;

/// The ufw dialect.
pub(crate) struct Ufw;

fn spec(key: &GroupKey, rule: &AddressRule) -> String {
    format!(
        "allow out to {} port {} proto {}",
        rule.prefix, key.port, key.protocol
    )
}

impl Dialect for Ufw {
    const MAX_COMMENT: usize = 200;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Run as root. These rules matter once outgoing traffic is denied by default: ufw default deny outgoing (allow DNS and what else the host needs first).".to_owned(),
            "IPv6 rules need IPV6=yes in /etc/default/ufw.".to_owned(),
            "Replaces: first deletes the rules commented egresscheck ENV: of the selected environments, then adds these, so running it twice or the output for newer data leaves exactly these rules (check --rules output only adds). Remove: the first line of this script alone.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Run as root.".to_owned()]
    }

    fn rule_comment(&self, key: &GroupKey, origins: &super::Origins) -> String {
        escape::comment(
            &format!("egresscheck {}", origins.describe(&key.environment)),
            Self::MAX_COMMENT,
            Self::CHARSET,
        )
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        if !rules.header.additive {
            let envs = rules.header.environment_ids();
            ln!(
                out,
                "ufw status numbered | sed -n -E 's/^\\[ *([0-9]+)\\].* # egresscheck ({}): .*/\\1/p' | sort -rn | while read -r n; do ufw --force delete \"$n\" >/dev/null; done",
                envs.join("|")
            );
        }
        for group in &rules.addresses {
            for rule in &group.rules {
                let comment = escape::sh_single(&self.rule_comment(&group.key, &rule.origins));
                ln!(out, "ufw {} comment {comment}", spec(&group.key, rule));
            }
        }
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        for (change, key, _, rule) in diff.all_address_changes() {
            if change.is_remove() {
                ln!(out, "ufw delete {}", spec(key, rule));
            } else {
                let comment = escape::sh_single(&self.rule_comment(key, &rule.origins));
                ln!(out, "ufw {} comment {comment}", spec(key, rule));
            }
        }
        Some(())
    }
}
