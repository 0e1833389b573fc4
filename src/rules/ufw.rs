//! ufw: `ufw allow out` commands, one per prefix, with the rule's comment.

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
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Run as root.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
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
