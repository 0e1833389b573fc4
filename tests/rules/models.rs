//! Test-only models of three products' configuration semantics, for the dialects no tool can
//! check offline: Junos and PAN-OS `set`/`delete` as sets of statement paths, FortiOS
//! `config/edit/set/unset/next/end/delete` as nested maps. Each model applies a text the way
//! the product's CLI does (as far as our outputs use it), refuses what the product refuses
//! (deleting an object still in use), and checks that every reference resolves, as a commit
//! would.
//!
//! Sources of the semantics modelled:
//! - Junos: `set` adds a statement, `delete` removes a statement and everything under it;
//!   an address holds one value (a prefix or a dns-name); `description`, `protocol`,
//!   `destination-port` hold one value; lists (`address-set … address`, `apply-groups`,
//!   `match …`) collect. <https://www.juniper.net/documentation/us/en/software/junos/cli/topics/topic-map/junos-config-files-loading.html>,
//!   <https://www.juniper.net/documentation/us/en/software/junos/cli/topics/topic-map/configuration-groups-usage.html>,
//!   <https://www.juniper.net/documentation/us/en/software/junos/security-policies/topics/topic-map/security-address-books-sets.html>.
//! - PAN-OS: `set` on a member list appends (so a replace is delete + set), `set` on a value
//!   replaces, an address has one type (`fqdn` or `ip-netmask`), a referenced object cannot
//!   be deleted. <https://docs.paloaltonetworks.com/pan-os/10-1/pan-os-panorama-api/pan-os-xml-api-request-types/configuration-api/set-configuration>,
//!   <https://docs.paloaltonetworks.com/pan-os/9-1/pan-os-admin/policy/use-address-object-to-represent-ip-addresses/address-objects.html>.
//! - FortiOS: `edit` opens or creates an entry, `set` replaces a field's whole value list,
//!   `unset` clears it, `delete` in a table removes an entry unless something uses it.
//!   <https://docs.fortinet.com/document/fortigate/7.0.5/administration-guide/508024>,
//!   <https://docs.fortinet.com/document/fortigate/6.0.0/cli-reference/969597/firewall-address-address6>.

use std::collections::{BTreeMap, BTreeSet};

/// What the tests do with every model.
pub(crate) trait Model: Default + Clone + PartialEq + std::fmt::Debug {
    /// Applies a text as the product's CLI would.
    fn apply(&mut self, text: &str);
    /// Every reference resolves, as a commit requires.
    fn check_references(&self) -> Result<(), String>;
    /// Commands the product refused so far.
    fn refused(&self) -> &[String] {
        &[]
    }

    /// `admin`, then each of `texts`; panics at a refused command or a dangling reference.
    fn load(admin: &str, texts: &[&str]) -> Self {
        let mut config = Self::default();
        config.apply(admin);
        for text in texts {
            config.apply(text);
            assert!(
                config.refused().is_empty(),
                "refused: {:?}\n{text}",
                config.refused()
            );
            config
                .check_references()
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
        config
    }
}

/// Splits a command line into words; `"…"` is one word without its quotes, `[ a b ]` stays as
/// the words `[`, `a`, `b`, `]`.
pub(crate) fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&ch) = chars.peek() {
        if ch.is_whitespace() {
            chars.next();
        } else if ch == '"' {
            chars.next();
            let mut word = String::new();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
            out.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(word);
        }
    }
    out
}

/// The command lines of an output: neither empty nor a `#` note.
fn commands(text: &str) -> impl Iterator<Item = Vec<String>> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(words)
}

/// A Junos configuration: the set of statement paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Junos(pub(crate) BTreeSet<Vec<String>>);

/// Junos statements holding one value: a new `set` replaces the old value.
const JUNOS_SINGLE: &[&str] = &["description", "protocol", "destination-port"];

impl Junos {
    /// Applies a `load set` text: `set` and `delete` lines.
    pub(crate) fn apply(&mut self, text: &str) {
        for words in commands(text) {
            let (verb, path) = words.split_first().expect("a command");
            let path = path.to_vec();
            match verb.as_str() {
                "set" => self.set(path),
                "delete" => self.0.retain(|p| !p.starts_with(&path)),
                other => panic!("Junos: unexpected command {other:?}"),
            }
        }
    }

    fn set(&mut self, path: Vec<String>) {
        // An address holds one value: `address NAME PREFIX` or `address NAME dns-name …`.
        if let Some(i) = path.iter().position(|w| w == "address-book")
            && path.get(i + 2).map(String::as_str) == Some("address")
            && path.get(i + 4).is_some_and(|w| w != "description")
        {
            let slot = path[..i + 4].to_vec();
            self.0.retain(|p| {
                !(p.starts_with(&slot) && p.get(i + 4).is_some_and(|w| w != "description"))
            });
        }
        if let Some(i) = path.iter().position(|w| JUNOS_SINGLE.contains(&w.as_str())) {
            let slot = path[..=i].to_vec();
            self.0.retain(|p| !p.starts_with(&slot));
        }
        self.0.insert(path);
    }

    /// Every address-set member, policy destination and application resolves, in the
    /// configuration as Junos sees it after inheriting the applied groups.
    pub(crate) fn check_references(&self) -> Result<(), String> {
        let applied: BTreeSet<&str> = self
            .0
            .iter()
            .filter(|p| p.len() == 2 && p[0] == "apply-groups")
            .map(|p| p[1].as_str())
            .collect();
        let effective: Vec<&[String]> = self
            .0
            .iter()
            .filter_map(|p| match p.first().map(String::as_str) {
                Some("groups") if applied.contains(p[1].as_str()) => Some(&p[2..]),
                Some("groups") => None,
                _ => Some(&p[..]),
            })
            .collect();
        let defined = |kind: &str, name: &str| {
            effective.iter().any(|p| {
                p.len() > 4
                    && p[..2] == ["security", "address-book"]
                    && p[3] == kind
                    && p[4] == name
            })
        };
        for p in &effective {
            if p.len() > 6
                && p[..2] == ["security", "address-book"]
                && p[3] == "address-set"
                && p[5] == "address"
                && !defined("address", &p[6])
            {
                return Err(format!("address-set member {} is not defined", p[6]));
            }
            if p.len() > 6 && p[..3] == ["security", "policies", "global"] && p[5] == "match" {
                let (what, value) = (p[6].as_str(), p.get(7).map(String::as_str).unwrap_or(""));
                let ok = match what {
                    "destination-address" => {
                        value == "any" || defined("address-set", value) || defined("address", value)
                    }
                    "application" => {
                        value.starts_with("junos-")
                            || effective
                                .iter()
                                .any(|q| q.len() > 2 && q[0] == "applications" && q[2] == value)
                    }
                    _ => true,
                };
                if !ok {
                    return Err(format!(
                        "policy {} refers to undefined {what} {value}",
                        p[4]
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A PAN-OS candidate configuration: statement paths, a list member being the last word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Panos {
    pub(crate) paths: BTreeSet<Vec<String>>,
    /// Commands the CLI refused (a referenced object deleted).
    pub(crate) refused: Vec<String>,
}

/// Member lists: `set` appends to them.
const PANOS_LISTS: &[&str] = &[
    "from",
    "to",
    "source",
    "destination",
    "application",
    "service",
    "static",
    "tag",
];
/// An address's type: setting one replaces the other.
const PANOS_TYPES: &[&str] = &["fqdn", "ip-netmask", "ip-range"];
/// Containers followed by an entry name.
const PANOS_NAMED: &[&str] = &["address", "address-group", "service", "rules"];

impl Panos {
    /// Applies configure-mode `set` / `delete` lines.
    pub(crate) fn apply(&mut self, text: &str) {
        for words in commands(text) {
            let (verb, rest) = words.split_first().expect("a command");
            match verb.as_str() {
                "set" => self.set(rest),
                "delete" => self.delete(rest),
                other => panic!("PAN-OS: unexpected command {other:?}"),
            }
        }
    }

    /// The node path and the rest (a field and its values) of a statement.
    fn split(words: &[String]) -> (Vec<String>, &[String]) {
        let mut node = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            // `address NAME`, `address-group NAME`, `service NAME` at the top; `rules NAME`.
            let named = (node.is_empty() && PANOS_NAMED.contains(&w.as_str())) || w == "rules";
            if named && i + 1 < words.len() {
                node.push(w.clone());
                node.push(words[i + 1].clone());
                i += 2;
            } else if ["rulebase", "security", "protocol", "tcp", "udp"].contains(&w.as_str()) {
                node.push(w.clone());
                i += 1;
            } else {
                break;
            }
        }
        (node, &words[i..])
    }

    fn set(&mut self, words: &[String]) {
        let (node, rest) = Panos::split(words);
        let Some((field, values)) = rest.split_first() else {
            self.paths.insert(node);
            return;
        };
        let values: Vec<&String> = values.iter().filter(|v| *v != "[" && *v != "]").collect();
        let mut slot = node.clone();
        slot.push(field.clone());
        if PANOS_LISTS.contains(&field.as_str()) {
            for value in values {
                let mut path = slot.clone();
                path.push(value.clone());
                self.paths.insert(path);
            }
            return;
        }
        if PANOS_TYPES.contains(&field.as_str()) {
            for t in PANOS_TYPES {
                let mut other = node.clone();
                other.push((*t).to_owned());
                self.paths.retain(|p| !p.starts_with(&other));
            }
        }
        self.paths.retain(|p| !p.starts_with(&slot));
        let mut path = slot;
        path.extend(values.into_iter().cloned());
        self.paths.insert(path);
    }

    fn delete(&mut self, words: &[String]) {
        let target = words.to_vec();
        if let [kind, name] = &target[..]
            && ["address", "address-group", "service"].contains(&kind.as_str())
            && self.paths.iter().any(|p| {
                !p.starts_with(&target)
                    && p.len() >= 2
                    && PANOS_LISTS.contains(&p[p.len() - 2].as_str())
                    && &p[p.len() - 1] == name
            })
        {
            self.refused
                .push(format!("delete {kind} {name}: still referenced"));
            return;
        }
        self.paths.retain(|p| !p.starts_with(&target));
    }

    /// Every group member and rule destination and service resolves, as a commit requires.
    pub(crate) fn check_references(&self) -> Result<(), String> {
        let defined = |kind: &str, name: &str| {
            self.paths
                .iter()
                .any(|p| p.len() >= 2 && p[0] == kind && p[1] == name)
        };
        for p in &self.paths {
            let n = p.len();
            if n < 2 {
                continue;
            }
            let (field, value) = (p[n - 2].as_str(), p[n - 1].as_str());
            let ok = match field {
                "static" => defined("address", value) || defined("address-group", value),
                "destination" => {
                    value == "any"
                        || value.parse::<ipnet::IpNet>().is_ok()
                        || defined("address", value)
                        || defined("address-group", value)
                }
                "service" if p[0] == "rulebase" => {
                    [
                        "any",
                        "application-default",
                        "service-https",
                        "service-http",
                    ]
                    .contains(&value)
                        || defined("service", value)
                }
                _ => true,
            };
            if !ok {
                return Err(format!("{p:?}: {value} is not defined"));
            }
        }
        Ok(())
    }
}

/// A FortiOS configuration: table → entry → field → values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fortios {
    pub(crate) tables: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>>,
    /// Commands the CLI refused (an entry deleted while in use).
    pub(crate) refused: Vec<String>,
}

/// Fields that name entries of other tables.
const FORTI_REFERENCES: &[&str] = &[
    "member", "srcaddr", "dstaddr", "srcaddr6", "dstaddr6", "service",
];

impl Fortios {
    /// Applies `config … / edit / set / unset / next / end / delete` lines.
    pub(crate) fn apply(&mut self, text: &str) {
        let mut table: Option<String> = None;
        let mut entry: Option<String> = None;
        for words in commands(text) {
            let (verb, rest) = words.split_first().expect("a command");
            match (verb.as_str(), &table, &entry) {
                ("config", None, None) => {
                    let name = rest.join(" ");
                    self.tables.entry(name.clone()).or_default();
                    table = Some(name);
                }
                ("edit", Some(t), None) => {
                    let name = rest.first().expect("edit NAME").clone();
                    self.tables
                        .get_mut(t)
                        .unwrap()
                        .entry(name.clone())
                        .or_default();
                    entry = Some(name);
                }
                ("set", Some(t), Some(e)) => {
                    let (field, values) = rest.split_first().expect("set FIELD");
                    self.tables
                        .get_mut(t)
                        .unwrap()
                        .get_mut(e)
                        .unwrap()
                        .insert(field.clone(), values.to_vec());
                }
                ("unset", Some(t), Some(e)) => {
                    self.tables
                        .get_mut(t)
                        .unwrap()
                        .get_mut(e)
                        .unwrap()
                        .remove(&rest[0]);
                }
                ("next", Some(_), Some(_)) => entry = None,
                ("end", Some(_), None) => table = None,
                ("delete", Some(t), None) => {
                    let name = &rest[0];
                    let used = self
                        .tables
                        .values()
                        .flat_map(|entries| entries.values())
                        .any(|fields| {
                            FORTI_REFERENCES
                                .iter()
                                .any(|f| fields.get(*f).is_some_and(|v| v.contains(name)))
                        });
                    if used {
                        self.refused.push(format!("delete {name} in {t}: in use"));
                    } else {
                        self.tables.get_mut(t).unwrap().remove(name);
                    }
                }
                (verb, t, e) => {
                    panic!("FortiOS: {verb:?} not expected in table {t:?}, entry {e:?}")
                }
            }
        }
        assert!(
            table.is_none() && entry.is_none(),
            "FortiOS: unterminated config block"
        );
    }

    /// Every group member, policy address and service resolves.
    pub(crate) fn check_references(&self) -> Result<(), String> {
        let has =
            |table: &str, name: &str| self.tables.get(table).is_some_and(|t| t.contains_key(name));
        for (table, entries) in &self.tables {
            for (entry, fields) in entries {
                for (field, values) in fields {
                    let targets: &[&str] = match (table.as_str(), field.as_str()) {
                        ("firewall addrgrp", "member") => &["firewall address"],
                        ("firewall addrgrp6", "member") => &["firewall address6"],
                        ("firewall policy", "dstaddr") => &["firewall addrgrp", "firewall address"],
                        ("firewall policy", "dstaddr6") => {
                            &["firewall addrgrp6", "firewall address6"]
                        }
                        ("firewall policy", "service") => &["firewall service custom"],
                        _ => continue,
                    };
                    for v in values {
                        if !targets.iter().any(|t| has(t, v)) {
                            return Err(format!("{table} {entry} {field}: {v} is not defined"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The entries named `egc-*` that nothing uses (objects an older output left behind).
    pub(crate) fn unused_egc(&self) -> BTreeSet<(String, String)> {
        let used: BTreeSet<&String> = self
            .tables
            .values()
            .flat_map(|e| e.values())
            .flat_map(|fields| {
                FORTI_REFERENCES
                    .iter()
                    .filter_map(|f| fields.get(*f))
                    .flatten()
            })
            .collect();
        self.tables
            .iter()
            .filter(|(t, _)| t.as_str() != "firewall policy")
            .flat_map(|(t, entries)| entries.keys().map(move |e| (t, e)))
            .filter(|(_, e)| e.starts_with("egc-") && !used.contains(e))
            .map(|(t, e)| (t.clone(), e.clone()))
            .collect()
    }

    /// The configuration without `unused` entries.
    pub(crate) fn without(&self, unused: &BTreeSet<(String, String)>) -> Fortios {
        let mut out = self.clone();
        for (t, e) in unused {
            out.tables.get_mut(t).unwrap().remove(e);
        }
        out
    }
}

impl Model for Junos {
    fn apply(&mut self, text: &str) {
        Junos::apply(self, text);
    }
    fn check_references(&self) -> Result<(), String> {
        Junos::check_references(self)
    }
}

impl Model for Panos {
    fn apply(&mut self, text: &str) {
        Panos::apply(self, text);
    }
    fn check_references(&self) -> Result<(), String> {
        Panos::check_references(self)
    }
    fn refused(&self) -> &[String] {
        &self.refused
    }
}

impl Model for Fortios {
    fn apply(&mut self, text: &str) {
        Fortios::apply(self, text);
    }
    fn check_references(&self) -> Result<(), String> {
        Fortios::check_references(self)
    }
    fn refused(&self) -> &[String] {
        &self.refused
    }
}
