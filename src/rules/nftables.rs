//! nftables: named sets and the chain that accepts them, loaded with `nft -f`, in one of two
//! shapes.
//!
//! **Own table** (default): `table inet egresscheck` with, per environment and family, an
//! interval set of `address . protocol . port` elements, a set dnsmasq fills from DNS
//! answers (`--format dnsmasq-nftset`, elements time out) with the ports its names may be
//! reached on, a chain `local` for the admin's own rules and a base chain `output`. Loading
//! the file again, or the file for newer data, gives exactly its rules: the output chain is
//! flushed and refilled, every set of every environment of the data file is emptied and
//! refilled, and the per-port sets of earlier versions are deleted. It never states the
//! output chain's policy and never touches `local`, so the admin's `policy drop` and own
//! rules survive every regeneration. The sets do not depend on the selection (`--env`,
//! `--family` only choose what goes into them), so the chain is the same in every output and
//! `check --rules` (additive: elements only, nothing flushed) can add to it.
//!
//! **Sets only** (`--nft-sets FAMILY NAME`): the same sets, named `egresscheck_…`, in the
//! admin's own table (`add table` leaves it as it is), for the admin's chains to refer to;
//! the file can be loaded on its own at run time or `include`d before the table's own
//! definition in nftables.conf.

use super::escape;
use super::render::{Dialect, Out, ln};
use super::{EnvId, GroupKey, Header, NftTarget, RuleSet};
use crate::catalog::Protocol;
use crate::rules::diff::Diff;

/// The nftables dialect.
pub(crate) struct Nftables;

/// Name of the table of the own-table shape.
pub(crate) const TABLE: &str = "egresscheck";

/// How long an address dnsmasq added to a DNS set stays without being added again.
pub(crate) const DNS_TIMEOUT: &str = "1h";

/// What a set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetKind {
    /// Documented prefixes, as `address . protocol . port`.
    Addresses,
    /// Addresses dnsmasq learned from DNS answers for the host names.
    Dns,
    /// The `protocol . port` pairs the host names may be reached on.
    DnsPorts,
}

/// The table the sets live in, and the prefix of their names there.
pub(crate) struct Target<'a> {
    /// `inet egresscheck`, or the admin's table.
    pub(crate) family: &'a str,
    /// The table's name.
    pub(crate) table: &'a str,
    /// `egresscheck_` in the admin's table, so that names cannot clash with theirs.
    prefix: &'static str,
}

impl Target<'_> {
    /// The target of `header`.
    pub(crate) fn of(header: &Header) -> Target<'_> {
        match &header.nft {
            NftTarget::OwnTable => Target {
                family: "inet",
                table: TABLE,
                prefix: "",
            },
            NftTarget::SetsIn { family, table } => Target {
                family,
                table,
                prefix: "egresscheck_",
            },
        }
    }

    /// True for the own-table shape.
    fn own(&self) -> bool {
        self.prefix.is_empty()
    }

    /// The set of `env` holding `kind` (the family does not apply to [`SetKind::DnsPorts`]).
    ///
    /// The environment id is kept as it is (nft identifiers take hyphens): ids hold no `_`,
    /// so the first `_` ends it and no two sets share a name. An id starting with a digit
    /// gets a leading `_` in the own table, as identifiers cannot start with a digit.
    pub(crate) fn set(&self, env: &EnvId, v6: bool, kind: SetKind) -> String {
        let env = env.as_str();
        let lead = if self.own() && env.starts_with(|c: char| c.is_ascii_digit()) {
            "_"
        } else {
            ""
        };
        let family = if v6 { "v6" } else { "v4" };
        match kind {
            SetKind::Addresses => format!("{}{lead}{env}_{family}", self.prefix),
            SetKind::Dns => format!("{}{lead}{env}_dns_{family}", self.prefix),
            SetKind::DnsPorts => format!("{}{lead}{env}_dns_ports", self.prefix),
        }
    }

    /// The set dnsmasq puts the addresses of names it must keep out of every other set in;
    /// no rule accepts it. Environment ids cannot start with `_`, so no name clashes.
    pub(crate) fn unlisted(&self, v6: bool) -> String {
        format!("{}_unlisted_v{}", self.prefix, if v6 { 6 } else { 4 })
    }

    /// `inet egresscheck NAME`, how commands name a set.
    fn path(&self, set: &str) -> String {
        format!("{} {} {set}", self.family, self.table)
    }
}

/// The declaration of a set, between the braces.
fn set_type(v6: bool, kind: SetKind) -> String {
    let addr = if v6 { "ipv6_addr" } else { "ipv4_addr" };
    match kind {
        SetKind::Addresses => {
            format!("type {addr} . inet_proto . inet_service; flags interval;")
        }
        SetKind::Dns => format!("type {addr}; timeout {DNS_TIMEOUT};"),
        SetKind::DnsPorts => "type inet_proto . inet_service;".to_owned(),
    }
}

/// Every set the data file's environments have, in a fixed order: (environment, family,
/// kind), the family-less port set once per environment.
fn every_set(header: &Header) -> Vec<(&EnvId, bool, SetKind)> {
    let mut sets = Vec::new();
    for env in environments(header) {
        for v6 in [false, true] {
            sets.push((env, v6, SetKind::Addresses));
            sets.push((env, v6, SetKind::Dns));
        }
        sets.push((env, false, SetKind::DnsPorts));
    }
    sets
}

/// Why a selection's output still names the environments it left out: their sets and rules
/// are declared, empty, so that the output loads over any earlier one for the same data (an
/// opening of theirs that an earlier load made is closed). `None` without such a selection,
/// and for additions, which empty nothing.
fn left_out_note(header: &Header) -> Option<String> {
    if header.additive {
        return None;
    }
    let left_out: Vec<&str> = header
        .all_environments
        .iter()
        .filter(|env| !header.environments.iter().any(|chosen| &chosen.id == *env))
        .map(|env| env.as_str())
        .collect();
    if left_out.is_empty() {
        return None;
    }
    Some(format!(
        "Left out of this selection: {}. Their sets are declared here and emptied (and in egresscheck's own table their rules kept, matching nothing): loading this over a file that allowed them closes them, and every output for this data loads over every other.",
        left_out.join(", ")
    ))
}

/// The environments of the data file (those a selection left out too), in file order.
fn environments(header: &Header) -> Vec<&EnvId> {
    let mut envs: Vec<&EnvId> = header.all_environments.iter().collect();
    for key in &header.universe {
        if !envs.contains(&&key.environment) {
            envs.push(&key.environment);
        }
    }
    envs
}

/// The chain's rules for the sets of `env`: documented addresses of each family, then the
/// addresses of its host names.
fn env_rules(target: &Target<'_>, env: &EnvId) -> Vec<String> {
    let mut rules = Vec::new();
    for (v6, ip) in [(false, "ip"), (true, "ip6")] {
        rules.push(format!(
            "{ip} daddr . meta l4proto . th dport @{} accept comment {}",
            target.set(env, v6, SetKind::Addresses),
            quoted(&format!("{env}: documented addresses"))
        ));
    }
    for (v6, ip) in [(false, "ip"), (true, "ip6")] {
        rules.push(format!(
            "{ip} daddr @{} meta l4proto . th dport @{} accept comment {}",
            target.set(env, v6, SetKind::Dns),
            target.set(env, v6, SetKind::DnsPorts),
            quoted(&format!("{env}: its host names, from dnsmasq"))
        ));
    }
    rules
}

fn quoted(text: &str) -> String {
    escape::nft_quoted(&escape::comment(
        text,
        Nftables::MAX_COMMENT,
        Nftables::CHARSET,
    ))
}

/// One element of an address set: `prefix . proto . port`.
fn element(key: &GroupKey, prefix: &str) -> String {
    format!("{prefix} . {} . {}", key.protocol, key.port)
}

impl Nftables {
    /// The `add element` commands filling the sets of `rules`.
    fn elements(&self, rules: &RuleSet, target: &Target<'_>, out: &mut Out) {
        for env in rules.environments() {
            for v6 in [false, true] {
                let items: Vec<String> = rules
                    .addresses_of(v6)
                    .filter(|g| &g.key.environment == env)
                    .flat_map(|g| {
                        g.rules.iter().map(move |r| {
                            format!(
                                "{} comment {}",
                                element(&g.key, &r.host_or_prefix()),
                                escape::nft_quoted(&self.rule_comment(&g.key, &r.origins))
                            )
                        })
                    })
                    .collect();
                add_elements(
                    out,
                    target,
                    &target.set(env, v6, SetKind::Addresses),
                    &items,
                );
            }
            let mut ports: Vec<String> = rules
                .names
                .iter()
                .filter(|g| &g.key.environment == env)
                .map(|g| format!("{} . {}", g.key.protocol, g.key.port))
                .collect();
            ports.dedup();
            add_elements(
                out,
                target,
                &target.set(env, false, SetKind::DnsPorts),
                &ports,
            );
        }
    }

    /// The own table's skeleton, its output chain refilled, and the sets of earlier versions
    /// deleted.
    fn own_table(&self, header: &Header, target: &Target<'_>, out: &mut Out) {
        ln!(out, "table inet {TABLE} {{");
        for (env, v6, kind) in every_set(header) {
            ln!(
                out,
                "\tset {} {{ {} }}",
                target.set(env, v6, kind),
                set_type(v6, kind)
            );
        }
        for v6 in [false, true] {
            ln!(
                out,
                "\tset {} {{ {} }}",
                target.unlisted(v6),
                set_type(v6, SetKind::Dns)
            );
        }
        ln!(
            out,
            "\tchain local {{ comment \"your own rules: egresscheck never changes this chain\"; }}"
        );
        ln!(out, "\tchain output {{");
        ln!(out, "\t\ttype filter hook output priority filter;");
        ln!(out, "\t}}");
        ln!(out, "}}");
        let chain = format!("inet {TABLE} output");
        ln!(out, "flush chain {chain}");
        ln!(out, "add rule {chain} ct state established,related accept");
        ln!(out, "add rule {chain} oifname \"lo\" accept");
        ln!(out, "add rule {chain} jump local");
        for env in environments(header) {
            for rule in env_rules(target, env) {
                ln!(out, "add rule {chain} {rule}");
            }
        }
        self.retire_per_port_sets(header, out);
    }

    /// Deletes the sets of egresscheck before the per-environment sets (one per environment,
    /// protocol, port and family): the earlier chain was just flushed, so nothing refers to
    /// them. `add` first, so that a set that does not exist is no error.
    fn retire_per_port_sets(&self, header: &Header, out: &mut Out) {
        for key in &header.universe {
            for v6 in [false, true] {
                for dns in [false, true] {
                    let lead = if key
                        .environment
                        .as_str()
                        .starts_with(|c: char| c.is_ascii_digit())
                    {
                        "_"
                    } else {
                        ""
                    };
                    let name = format!(
                        "{lead}{}_{}v{}_{}_{}",
                        key.environment,
                        if dns { "dns_" } else { "" },
                        if v6 { 6 } else { 4 },
                        key.protocol,
                        key.port
                    );
                    let flags = if dns { "" } else { " flags interval;" };
                    let addr = if v6 { "ipv6_addr" } else { "ipv4_addr" };
                    ln!(out, "add set inet {TABLE} {name} {{ type {addr};{flags} }}");
                    ln!(out, "delete set inet {TABLE} {name}");
                }
            }
        }
    }
}

/// `add element TARGET SET { … }`, one element a line; nothing for no elements.
fn add_elements(out: &mut Out, target: &Target<'_>, set: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    ln!(out, "add element {} {{", target.path(set));
    for item in items {
        ln!(out, "\t{item},");
    }
    ln!(out, "}}");
}

impl Dialect for Nftables {
    // NFTNL_UDATA_COMMENT_MAXLEN: nft rejects longer comments.
    const MAX_COMMENT: usize = 128;

    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        let h = &rules.header;
        let target = Target::of(h);
        let mut notes = Vec::new();
        if let Some(note) = left_out_note(h) {
            notes.push(note);
        }
        match (&h.nft, h.additive) {
            (NftTarget::OwnTable, false) => notes.extend([
                "Load: nft -f FILE (check first: nft -c -f FILE). Loading it again, or the output for newer data, leaves exactly these rules: the output chain is refilled and every egresscheck set emptied and refilled.".to_owned(),
                "Kept on every load: the output chain's policy and the chain local. To allow nothing else: nft 'add chain inet egresscheck output { type filter hook output priority filter; policy drop; }' once DNS and everything else this host needs is allowed in chain local (nft add rule inet egresscheck local ...).".to_owned(),
                "Remove it all: nft delete table inet egresscheck".to_owned(),
            ]),
            (NftTarget::OwnTable, true) => notes.push(
                "Adds to the table of egresscheck rules --format nftables: nft -f FILE adds these elements and replaces nothing (loaded twice, the same). The next full output for the data empties the sets again.".to_owned(),
            ),
            (NftTarget::SetsIn { .. }, additive) => {
                notes.push(format!(
                    "Sets only, for your table {} {}: nft -f FILE at run time, or include it before that table's definition in nftables.conf. {}",
                    target.family,
                    target.table,
                    if additive {
                        "It adds elements and empties nothing."
                    } else {
                        "Each set is emptied and refilled: loading it again, or the output for newer data, leaves exactly these elements."
                    }
                ));
                notes.push(format!(
                    "Refer to them in your own chain (hook output, or forward on a router) before its final drop, e.g.: ip daddr . meta l4proto . th dport @{} accept; ip daddr @{} meta l4proto . th dport @{} accept",
                    target.set(&first_env(h), false, SetKind::Addresses),
                    target.set(&first_env(h), false, SetKind::Dns),
                    target.set(&first_env(h), false, SetKind::DnsPorts),
                ));
                notes.push("Remove them: nft delete set FAMILY TABLE NAME for each set, after removing the rules that refer to them.".to_owned());
            }
        }
        if rules.name_count() > 0 {
            notes.push(format!("The *_dns_* sets are filled by dnsmasq from DNS answers for the host names (egresscheck rules --format dnsmasq-nftset, same --nft-sets); an address stays {DNS_TIMEOUT} after dnsmasq adds it."));
        }
        notes
    }

    fn diff_notes(&self) -> Vec<String> {
        vec!["Apply: nft -f FILE, after nft -c -f FILE: one delete of an element that is not in its set aborts the whole batch.".to_owned()]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        let h = &rules.header;
        let target = Target::of(h);
        if target.own() {
            self.own_table(h, &target, out);
        } else {
            ln!(out, "add table {} {}", target.family, target.table);
            for (env, v6, kind) in every_set(h) {
                ln!(
                    out,
                    "add set {} {{ {} }}",
                    target.path(&target.set(env, v6, kind)),
                    set_type(v6, kind)
                );
            }
            for v6 in [false, true] {
                ln!(
                    out,
                    "add set {} {{ {} }}",
                    target.path(&target.unlisted(v6)),
                    set_type(v6, SetKind::Dns)
                );
            }
        }
        if !h.additive {
            for (env, v6, kind) in every_set(h) {
                if kind != SetKind::Dns {
                    ln!(out, "flush set {}", target.path(&target.set(env, v6, kind)));
                }
            }
        }
        self.elements(rules, &target, out);
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        let target = Target::of(&diff.new.header);
        let old_envs = environments(&diff.old.header);
        for env in environments(&diff.new.header) {
            if old_envs.contains(&env) {
                continue;
            }
            for (e, v6, kind) in every_set(&diff.new.header)
                .into_iter()
                .filter(|(e, ..)| *e == env)
            {
                ln!(
                    out,
                    "add set {} {{ {} }}",
                    target.path(&target.set(e, v6, kind)),
                    set_type(v6, kind)
                );
            }
            if target.own() {
                for rule in env_rules(&target, env) {
                    ln!(out, "add rule inet {TABLE} output {rule}");
                }
            }
        }
        for remove in [true, false] {
            for (change, key, v6, rule) in diff.all_address_changes() {
                if change.is_remove() != remove {
                    continue;
                }
                let set = target.path(&target.set(&key.environment, v6, SetKind::Addresses));
                let item = element(key, &rule.host_or_prefix());
                if remove {
                    ln!(out, "delete element {set} {{ {item} }}");
                } else {
                    let comment = escape::nft_quoted(&self.rule_comment(key, &rule.origins));
                    ln!(out, "add element {set} {{ {item} comment {comment} }}");
                }
            }
        }
        self.diff_name_ports(diff, &target, out);
        for (change, key, rule) in diff.name_changes() {
            let text = format!(
                "host name to {}: {} ({} {} {}) - regenerate --format dnsmasq-nftset",
                change.action(),
                rule.pattern,
                key.environment,
                key.protocol,
                key.port
            );
            let text = escape::comment(&text, usize::MAX, Self::CHARSET);
            ln!(out, "{}", self.comment_line(&text));
        }
        Some(())
    }
}

impl Nftables {
    /// The ports of the host names that a diff adds to or removes from an environment.
    fn diff_name_ports(&self, diff: &Diff, target: &Target<'_>, out: &mut Out) {
        let ports = |rules: &RuleSet| -> Vec<(EnvId, Protocol, u16)> {
            rules
                .names
                .iter()
                .map(|g| (g.key.environment.clone(), g.key.protocol, g.key.port.get()))
                .collect()
        };
        let (old, new) = (ports(&diff.old), ports(&diff.new));
        for (gone, verb) in [(true, "delete"), (false, "add")] {
            let (from, to) = if gone { (&old, &new) } else { (&new, &old) };
            for (env, protocol, port) in from.iter().filter(|p| !to.contains(p)) {
                let set = target.path(&target.set(env, false, SetKind::DnsPorts));
                ln!(out, "{verb} element {set} {{ {protocol} . {port} }}");
            }
        }
    }
}

/// The first environment of the data file, for examples.
fn first_env(header: &Header) -> EnvId {
    // A selected environment: the example names a set this output fills.
    header
        .environments
        .first()
        .map(|e| e.id.clone())
        .or_else(|| environments(header).first().map(|e| (*e).clone()))
        .unwrap_or_else(|| EnvId(String::from("prod")))
}
