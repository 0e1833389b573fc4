//! What the cloud FQDN egress dialects (`gcp-ngfw`, `azure-firewall`, `aws-network-firewall`)
//! share: the names one rule lets traffic go to, in the product's own matching, without
//! letting in a name the data knows and this output does not open.
//!
//! An exact name matches that name alone in all three products. A `*.base` wildcard means one
//! label in the data; where a product has wildcards (Azure Firewall application rules) its
//! `*.base` matches every name under base, at any depth, but not base itself. So a wildcard is
//! written as such only when no name the data knows under base (another environment's, a
//! retired host, one the selection leaves out) would fall into it. Otherwise, and in products
//! without a wildcard that keeps base out (Cloud NGFW FQDN objects take exact names; an AWS
//! domain list's `.base` also matches base itself, for the provider the retired
//! `api.skatteetaten.no`), the rule lists the names the data gives under the wildcard, and
//! names under it that the data does not list stay closed: the header says so.

use std::collections::BTreeSet;

use super::render::{Dialect, Out, ln, stable_hash};
use super::{GroupKey, NameGroup, RuleSet, escape};
use crate::catalog::{DnsName, EnvId, HostPattern, Protocol};

/// How a product matches a `*.` wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wildcards {
    /// No wildcard that keeps the base out: a wildcard becomes the names listed under it.
    None,
    /// `*.base` matches every name under base at any depth, not base itself.
    AnyDepth,
}

/// The names (and wildcards) one group of rules opens, sorted, each once, with a comment line
/// for every wildcard written as its names instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Targets {
    /// What the product's rule lists.
    pub(crate) names: BTreeSet<String>,
    /// Why a wildcard was written as names, one sentence each.
    pub(crate) notes: Vec<String>,
}

impl Targets {
    /// The targets of every rule of `groups`, for a product matching wildcards as `wildcards`.
    pub(crate) fn of<'a>(
        rules: &RuleSet,
        groups: impl IntoIterator<Item = &'a NameGroup>,
        wildcards: Wildcards,
    ) -> Targets {
        let opened = opened(rules);
        let mut targets = Targets::default();
        for group in groups {
            for rule in &group.rules {
                match (&rule.pattern, wildcards) {
                    (HostPattern::Exact(name), _) => {
                        targets.names.insert(name.to_string());
                    }
                    (HostPattern::Wildcard(base), Wildcards::AnyDepth) => {
                        match kept_out_under(rules, base, &opened) {
                            None => {
                                targets.names.insert(rule.pattern.to_string());
                            }
                            Some(name) => targets.expand(
                                &rule.pattern,
                                &rule.names,
                                &format!(
                                    "the data knows {name} under it, which this output does not open"
                                ),
                            ),
                        }
                    }
                    (HostPattern::Wildcard(_), Wildcards::None) => targets.expand(
                        &rule.pattern,
                        &rule.names,
                        "this product has no wildcard that keeps the base name out",
                    ),
                }
            }
        }
        targets
    }

    /// A wildcard written as the names the data lists under it.
    fn expand(&mut self, pattern: &HostPattern, names: &[DnsName], why: &str) {
        self.names.extend(names.iter().map(ToString::to_string));
        let note = match names.len() {
            0 => format!(
                "{pattern}: the data lists no name under it, so nothing is opened for it ({why}). Add its names to the data's probe list."
            ),
            n => format!(
                "{pattern}: written as the {} the data lists under it ({why}). Other names under it stay closed.",
                crate::term::plural(n, "name", "names")
            ),
        };
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The notes as comment lines of `dialect`.
    pub(crate) fn write_notes<D: Dialect>(&self, dialect: &D, out: &mut Out) {
        for note in &self.notes {
            let text = escape::comment(note, usize::MAX, D::CHARSET);
            ln!(out, "{}", dialect.comment_line(&text));
        }
    }
}

/// Every exact name this output opens: exact hosts and the names listed under wildcards.
fn opened(rules: &RuleSet) -> BTreeSet<&DnsName> {
    let mut names = BTreeSet::new();
    for rule in rules.names.iter().flat_map(|g| &g.rules) {
        if let HostPattern::Exact(name) = &rule.pattern {
            names.insert(name);
        }
        names.extend(rule.names.iter());
    }
    names
}

/// The first name the data knows under `base` (at any depth) that this output does not open.
fn kept_out_under<'a>(
    rules: &'a RuleSet,
    base: &DnsName,
    opened: &BTreeSet<&DnsName>,
) -> Option<&'a DnsName> {
    let suffix = format!(".{base}");
    rules
        .header
        .known_names
        .iter()
        .map(|(_, name)| name)
        .find(|name| name.as_str().ends_with(&suffix) && !opened.contains(name))
}

/// One comment line per rule of `groups`: its pattern, protocol, port and origins.
pub(crate) fn origin_lines<'a, D: Dialect>(
    dialect: &D,
    groups: impl IntoIterator<Item = &'a NameGroup>,
    out: &mut Out,
) {
    for group in groups {
        for rule in &group.rules {
            let key = &group.key;
            let text = format!(
                "{} {} {}: {}",
                rule.pattern,
                key.protocol,
                key.port,
                dialect.rule_comment(key, &rule.origins)
            );
            let text = escape::comment(&text, usize::MAX, D::CHARSET);
            ln!(out, "{}", dialect.comment_line(&text));
        }
    }
}

/// The name of an object of the output: `base`, and in rules that add to the full rule set
/// (`check --rules`) a suffix from their own content, so that they never take (and a second
/// run replaces only) their own objects, not a full output's.
pub(crate) fn name(rules: &RuleSet, base: String, content: &Targets) -> String {
    if rules.header.additive {
        let joined: Vec<&str> = content.names.iter().map(String::as_str).collect();
        format!(
            "{base}-x{:08x}",
            stable_hash(&joined.join(" ")) & 0xffff_ffff
        )
    } else {
        base
    }
}

/// Comment line for a group the product cannot carry (a UDP port in an HTTP/TLS product).
pub(crate) fn left_out<D: Dialect>(dialect: &D, key: &GroupKey, why: &str, out: &mut Out) {
    let text = format!(
        "{} {} {}: {why}, left out",
        key.environment, key.protocol, key.port
    );
    let text = escape::comment(&text, usize::MAX, D::CHARSET);
    ln!(out, "{}", dialect.comment_line(&text));
}

/// The name groups of each environment, in rule-set order, split into TCP groups (what an
/// HTTP/TLS product carries) and the others.
pub(crate) fn by_environment(rules: &RuleSet) -> Vec<EnvGroups<'_>> {
    let mut out: Vec<EnvGroups<'_>> = Vec::new();
    for group in &rules.names {
        let key = &group.key;
        if !out.iter().any(|e| e.environment == &key.environment) {
            out.push(EnvGroups {
                environment: &key.environment,
                tcp: Vec::new(),
                other: Vec::new(),
            });
        }
        if let Some(entry) = out.iter_mut().find(|e| e.environment == &key.environment) {
            if key.protocol == Protocol::Tcp {
                entry.tcp.push(group);
            } else {
                entry.other.push(group);
            }
        }
    }
    out
}

/// One environment's name groups.
pub(crate) struct EnvGroups<'a> {
    /// The environment.
    pub(crate) environment: &'a EnvId,
    /// Its TCP groups.
    pub(crate) tcp: Vec<&'a NameGroup>,
    /// Its other groups (UDP).
    pub(crate) other: Vec<&'a NameGroup>,
}
