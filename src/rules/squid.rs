//! squid: `dstdomain` ACLs per (environment, port) and an `http_access allow` line for each.
//!
//! `.example.no` in squid matches example.no and every name under it, at any depth: wider
//! than the data file's one-label wildcard, and the closest squid has (a `dstdom_regex` would
//! be exact, at a cost on every request). squid refuses an ACL that lists a name together with
//! a domain covering it, so covered names are left out with a comment.

use super::escape;
use super::render::{Dialect, Names, Out, ln};
use super::{NameRule, RuleSet};
use crate::catalog::{DnsName, HostPattern, Protocol};

/// The squid dialect.
pub(crate) struct Squid;

/// The domain a wildcard or name contributes, and whether it covers names under it.
fn domain(pattern: &HostPattern) -> (&DnsName, bool) {
    match pattern {
        HostPattern::Wildcard(base) => (base, true),
        HostPattern::Exact(name) => (name, false),
    }
}

/// The wildcard in `rules` that covers `rule`'s name, if any (not `rule` itself).
fn covered_by<'a>(rule: &NameRule, rules: &'a [NameRule]) -> Option<&'a NameRule> {
    let (name, _) = domain(&rule.pattern);
    rules.iter().find(|other| {
        let (base, other_wide) = domain(&other.pattern);
        other_wide && other.pattern != rule.pattern && name.is_within(base)
    })
}

impl Dialect for Squid {
    const NAMES: Names = Names::Only;

    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Put these lines before your final http_access deny all, then squid -k parse and squid -k reconfigure.".to_owned(),
            ".name matches the name and every name under it, at any depth.".to_owned(),
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
            for rule in &group.rules {
                ln!(
                    out,
                    "{}",
                    self.comment_line(&self.rule_comment(key, &rule.origins))
                );
                if let Some(cover) = covered_by(rule, &group.rules) {
                    let text = format!("{} is covered by {}", rule.pattern, cover.pattern);
                    ln!(out, "{}", self.comment_line(&text));
                    continue;
                }
                let (name, wide) = domain(&rule.pattern);
                ln!(
                    out,
                    "acl {acl} dstdomain {}{name}",
                    if wide { "." } else { "" }
                );
            }
            ln!(out, "acl {acl}_port port {}", key.port);
            ln!(out, "http_access allow {acl} {acl}_port");
        }
    }
}
