//! dnsmasq: `nftset=` lines that add the addresses in DNS answers for the provider's names to
//! the `*_dns_*` sets of `--format nftables`, whose chain accepts them on the ports of those
//! names: hostname-based rules on a Linux firewall, as the provider recommends.
//!
//! dnsmasq matches a listed domain *and every name under it*, and the longest listed domain
//! wins (a `*.` pattern is not understood by `nftset`). So an exact host is listed as itself,
//! and a wildcard by its base, which then also covers the base itself and names at any
//! depth. Two kinds of line keep other names out of the sets:
//! - every name the data file knows under a listed domain that this output does not open
//!   (a sibling of another environment, a retired host, a name left out by the selection)
//!   gets a line of its own that fills only the `_unlisted_*` sets, which no rule accepts;
//! - a wildcard whose base is itself such a name (`*.api.skatteetaten.no` over the retired
//!   `api.skatteetaten.no`) is listed by its probe names instead, since no line can tell the
//!   base from the names under it.
//!
//! Names the data file does not know still fall under their listed domain: that is dnsmasq's
//! matching, stated in the header.

use std::collections::BTreeMap;

use super::nftables::{SetKind, Target};
use super::render::{Dialect, Names, Out, ln};
use super::{NameRule, RuleSet};
use crate::catalog::{DnsName, HostPattern};

/// The dnsmasq nftset dialect.
pub(crate) struct DnsmasqNftset;

/// One `nftset=` line: its domain, the comments of the rules it serves, the sets it fills,
/// and the rules it serves (to tell which names under it are meant).
struct Line<'a> {
    domain: DnsName,
    comments: Vec<String>,
    sets: Vec<String>,
    rules: Vec<&'a NameRule>,
}

/// Sort key: labels from the top, so a domain sits next to the names under it.
fn key(name: &DnsName) -> Vec<String> {
    name.as_str().rsplit('.').map(str::to_owned).collect()
}

impl DnsmasqNftset {
    /// The domains a rule is listed by: its name, a wildcard's base, or a wildcard's probe
    /// names when the base is a name this output must keep out.
    fn domains(rule: &NameRule, rules: &RuleSet) -> Vec<DnsName> {
        match &rule.pattern {
            HostPattern::Exact(name) => vec![name.clone()],
            HostPattern::Wildcard(base) => {
                let base_known = rules.header.known_names.iter().any(|(_, n)| n == base);
                let base_opened = rules
                    .names
                    .iter()
                    .flat_map(|g| &g.rules)
                    .any(|r| r.pattern == HostPattern::Exact(base.clone()));
                if base_known && !base_opened {
                    rule.names.clone()
                } else {
                    vec![base.clone()]
                }
            }
        }
    }

    /// `flush set inet egresscheck prod_dns_v4` for every set this output fills: what an
    /// earlier file put there goes, and dnsmasq refills the sets from the next answers.
    fn flushes(rules: &RuleSet, target: &Target<'_>) -> Vec<String> {
        let mut sets: Vec<String> = Vec::new();
        for group in &rules.names {
            for v6 in rules.header.family.each() {
                let set = target.set(&group.key.environment, v6, SetKind::Dns);
                if !sets.contains(&set) {
                    sets.push(set);
                }
            }
        }
        sets.extend(rules.header.family.each().map(|v6| target.unlisted(v6)));
        sets.iter()
            .map(|set| format!("flush set {} {} {set}", target.family, target.table))
            .collect()
    }

    /// Every line this output needs, by domain.
    fn lines<'a>(
        &self,
        rules: &'a RuleSet,
        target: &Target<'_>,
    ) -> BTreeMap<Vec<String>, Line<'a>> {
        let families: Vec<bool> = rules.header.family.each().collect();
        let mut lines: BTreeMap<Vec<String>, Line<'a>> = BTreeMap::new();
        for group in &rules.names {
            for rule in &group.rules {
                for domain in Self::domains(rule, rules) {
                    let line = lines.entry(key(&domain)).or_insert_with(|| Line {
                        domain: domain.clone(),
                        comments: Vec::new(),
                        sets: Vec::new(),
                        rules: Vec::new(),
                    });
                    line.comments.push(format!(
                        "{} {} - {}",
                        group.key.protocol,
                        group.key.port,
                        self.rule_comment(&group.key, &rule.origins)
                    ));
                    line.rules.push(rule);
                    for v6 in &families {
                        let set = spec(
                            target,
                            *v6,
                            &target.set(&group.key.environment, *v6, SetKind::Dns),
                        );
                        if !line.sets.contains(&set) {
                            line.sets.push(set);
                        }
                    }
                }
            }
        }
        lines
    }
}

/// `4#inet#egresscheck#SET`.
fn spec(target: &Target<'_>, v6: bool, set: &str) -> String {
    format!(
        "{}#{}#{}#{set}",
        if v6 { 6 } else { 4 },
        target.family,
        target.table
    )
}

/// The longest listed domain `name` falls under (itself excluded), if any.
fn covering<'l, 'a>(
    name: &DnsName,
    lines: &'l BTreeMap<Vec<String>, Line<'a>>,
) -> Option<&'l Line<'a>> {
    lines
        .values()
        .filter(|l| l.domain != *name && name.is_within(&l.domain))
        .max_by_key(|l| l.domain.as_str().len())
}

impl Dialect for DnsmasqNftset {
    const NAMES: Names = Names::Only;

    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        let target = Target::of(&rules.header);
        vec![
            format!(
                "Needs dnsmasq 2.87 or later built with nftset, used as this host's resolver, and the sets of egresscheck rules --format nftables (same selection and --nft-sets) loaded first in {} {}.",
                target.family, target.table
            ),
            "Save as /etc/dnsmasq.d/egresscheck.conf, replacing the earlier file, and restart dnsmasq: it then holds exactly these lines (saved again, the same). Remove: delete the file and restart dnsmasq.".to_owned(),
            format!(
                "When the file changed (newer data, another selection), empty the sets it fills before the restart, or addresses the earlier file let in stay open until they time out (1h): nft '{}'",
                Self::flushes(rules, &target).join("; ")
            ),
            "dnsmasq matches a listed domain and every name under it (the longest listed domain wins): a wildcard is listed by its base, which covers the base and names at any depth. Names the data knows but this output does not open (other environments, retired hosts) are listed apart and fill only the _unlisted sets, which no rule accepts.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        let target = Target::of(&rules.header);
        let lines = self.lines(rules, &target);
        let sink: Vec<String> = rules
            .header
            .family
            .each()
            .map(|v6| spec(&target, v6, &target.unlisted(v6)))
            .collect();
        let mut kept_out: BTreeMap<Vec<String>, (&DnsName, &DnsName)> = BTreeMap::new();
        for (_, name) in &rules.header.known_names {
            if lines.contains_key(&key(name)) {
                continue;
            }
            let Some(line) = covering(name, &lines) else {
                continue;
            };
            if !line.rules.iter().any(|r| r.pattern.matches(name)) {
                kept_out.insert(key(name), (name, &line.domain));
            }
        }
        for rule in rules.names.iter().flat_map(|g| &g.rules) {
            if let HostPattern::Wildcard(base) = &rule.pattern
                && !Self::domains(rule, rules).contains(base)
            {
                let text = format!(
                    "{}: listed by its probe names, since its base {base} is a host this output keeps out; other names under it are not covered",
                    rule.pattern
                );
                ln!(out, "{}", self.comment_line(&text));
            }
        }
        for line in lines.values() {
            for comment in &line.comments {
                ln!(out, "{}", self.comment_line(comment));
            }
            ln!(out, "nftset=/{}/{}", line.domain, line.sets.join(","));
        }
        for (name, under) in kept_out.values() {
            let text = format!(
                "{name}: known to the data, not opened here (another environment, retired or not selected): kept out of the sets of {under}"
            );
            ln!(out, "{}", self.comment_line(&text));
            ln!(out, "nftset=/{name}/{}", sink.join(","));
        }
    }
}
