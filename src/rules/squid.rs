//! squid: ACLs per (environment, port) and an `http_access allow` line for each, as a file of
//! its own for `/etc/squid/conf.d/`.
//!
//! Matching is the data file's: an exact host is a `dstdomain` without a leading dot (the name
//! itself, nothing under it), and a `*.base` wildcard is a `dstdom_regex` of exactly one label
//! before the base. squid's `.base` would also match the base itself and names at any depth
//! (for the provider, the retired `api.skatteetaten.no` under `*.api.skatteetaten.no`).
//! Replacing the file replaces every rule: saved twice it is the same, saved for newer data it
//! holds exactly those ACLs.

use super::escape;
use super::render::{Dialect, Names, Out, ln};
use super::{NameRule, RuleSet};
use crate::catalog::{HostPattern, Protocol};

/// The squid dialect.
pub(crate) struct Squid;

/// A regular expression matching exactly one label below `base` (squid compares the host in
/// lower case with `-i`).
fn one_label_below(base: &str) -> String {
    format!("^[^.]+\\.{}$", base.replace('.', "\\."))
}

impl Dialect for Squid {
    const NAMES: Names = Names::Only;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Save as /etc/squid/conf.d/egresscheck.conf (Debian's squid.conf includes that directory before its http_access deny all; elsewhere include the file before your final deny), replacing the earlier file, then squid -k parse and squid -k reconfigure. Saved again it is the same; saved for newer data it holds exactly its ACLs. Remove: delete the file and reconfigure.".to_owned(),
            "An exact name matches itself only (dstdomain without a leading dot); a *.base wildcard matches exactly one label before the base (dstdom_regex), as in the data: not the base itself, not deeper names.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for group in &rules.names {
            let key = &group.key;
            if key.protocol != Protocol::Tcp {
                let text = format!(
                    "{} {} {}: squid proxies TCP only, left out",
                    key.environment, key.protocol, key.port
                );
                ln!(
                    out,
                    "{}",
                    self.comment_line(&escape::comment(&text, usize::MAX, Self::CHARSET))
                );
                continue;
            }
            let acl = format!(
                "egc_{}_{}",
                escape::ident_part(key.environment.as_str(), '_'),
                key.port
            );
            let (exact, wild): (Vec<&NameRule>, Vec<&NameRule>) = group
                .rules
                .iter()
                .partition(|r| matches!(r.pattern, HostPattern::Exact(_)));
            ln!(out, "acl {acl}_port port {}", key.port);
            for (list, suffix) in [(&exact, "names"), (&wild, "wildcards")] {
                if list.is_empty() {
                    continue;
                }
                for rule in list {
                    ln!(
                        out,
                        "{}",
                        self.comment_line(&self.rule_comment(key, &rule.origins))
                    );
                    match &rule.pattern {
                        HostPattern::Exact(name) => {
                            ln!(out, "acl {acl}_{suffix} dstdomain {name}");
                        }
                        HostPattern::Wildcard(base) => ln!(
                            out,
                            "acl {acl}_{suffix} dstdom_regex -i {}",
                            one_label_below(base.as_str())
                        ),
                    }
                }
                ln!(out, "http_access allow {acl}_{suffix} {acl}_port");
            }
        }
    }
}
