//! pf (OpenBSD, FreeBSD, macOS): a persistent table per (environment, protocol, port) and a
//! `pass out` rule for it. Tables can change at run time, which is how `--diff` applies.

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{GroupKey, RuleSet};
use crate::rules::diff::Diff;

/// The pf dialect.
pub(crate) struct Pf;

/// `PF_TABLE_NAME_SIZE` is 32 including the terminating NUL.
const MAX_TABLE_NAME: usize = 31;

fn table(key: &GroupKey) -> String {
    let name = format!(
        "egc_{}_{}{}",
        escape::ident_part(key.environment.as_str(), '_'),
        key.protocol,
        key.port
    );
    escape::fit_name(&name, MAX_TABLE_NAME, '_')
}

impl Dialect for Pf {
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Save as /etc/pf.egresscheck.conf, replacing the earlier file, and include it from pf.conf before your block rules (include \"/etc/pf.egresscheck.conf\"), then: pfctl -nf /etc/pf.conf (check) and pfctl -f /etc/pf.conf. pfctl -f loads the whole ruleset: loaded again it is the same, and with the file for newer data it holds exactly its tables and rules. Remove: delete the include line and the file, then pfctl -f.".to_owned(),
            "pf resolves host names only when the rules are loaded, so this output lists addresses; the names are in the comments.".to_owned(),
        ]
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Changes the running tables; put the full output for NEW in pf.conf too, or the next reload undoes them.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for key in rules.keys() {
            let groups: Vec<_> = rules.addresses.iter().filter(|g| &g.key == key).collect();
            if groups.is_empty() {
                continue;
            }
            ln!(out, "table <{}> persist {{", table(key));
            for group in groups {
                for rule in &group.rules {
                    ln!(
                        out,
                        "\t{}",
                        self.comment_line(&self.rule_comment(key, &rule.origins))
                    );
                    ln!(out, "\t{}", rule.prefix);
                }
            }
            ln!(out, "}}");
            ln!(
                out,
                "pass out quick proto {} to <{}> port {}",
                key.protocol,
                table(key),
                key.port
            );
        }
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        for (key, _) in &diff.new_groups {
            let text = format!(
                "New table <{}>: it also needs its table and pass rule in pf.conf (see the full output)",
                table(key)
            );
            ln!(out, "{}", self.comment_line(&text));
        }
        for (change, key, _, rule) in diff.all_address_changes() {
            ln!(
                out,
                "{}",
                self.comment_line(&self.rule_comment(key, &rule.origins))
            );
            let verb = if change.is_remove() { "delete" } else { "add" };
            ln!(out, "pfctl -t {} -T {verb} {}", table(key), rule.prefix);
        }
        Some(())
    }
}
