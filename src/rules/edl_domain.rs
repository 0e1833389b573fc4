//! A plain list of host names, one per line: the names and `*.` wildcards of the data, for
//! PAN-OS external dynamic lists (type Domain, or URL for a security rule's URL category),
//! FortiGate external threat feeds (Domain name) and DNS-based allow lists.
//!
//! A wildcard is written as the data has it (`*.api.example.no`: one label in the data; the
//! reader's own semantics decide, and most let `*` stand for more than one label), followed
//! by the concrete names the data lists under it for readers without wildcards. The base name
//! of a wildcard is never written for it, so a retired host that is the base
//! (`api.skatteetaten.no`) is not let in. Like the address list: names only by default, the
//! header and comments as `#` lines with `--comments`, one list per selection, and each fetch
//! replaces the whole list.

use std::collections::BTreeSet;

use super::RuleSet;
use super::render::{Dialect, Names, Out, ln};

/// The domain-list dialect.
pub(crate) struct EdlDomain;

impl Dialect for EdlDomain {
    const NAMES: Names = Names::Only;
    const HEADER_BY_DEFAULT: bool = false;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "One name per line; # lines are comments. A *. line is the data's one-label wildcard: most readers let * stand for any number of labels; the names listed under it follow for readers without wildcards. Each fetch replaces the list.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        let mut seen = BTreeSet::new();
        for group in &rules.names {
            for rule in &group.rules {
                if self.commented(rules) {
                    ln!(
                        out,
                        "{}",
                        self.comment_line(&self.rule_comment(&group.key, &rule.origins))
                    );
                }
                let pattern = rule.pattern.to_string();
                let names = rule.names.iter().map(ToString::to_string);
                for entry in std::iter::once(pattern).chain(names) {
                    if seen.insert(entry.clone()) {
                        ln!(out, "{entry}");
                    }
                }
            }
        }
    }
}
