//! `rules --diff OLD NEW`: what to remove and what to add when the provider's table changes.
//!
//! Both data files go through the same selection and aggregation, then the rule sets are
//! compared rule by rule: an address rule is its (environment, protocol, port, prefix), a
//! name rule its (environment, protocol, port, host pattern). A prefix that aggregates
//! differently in the new data shows up as one removal and one addition, which is what a
//! firewall needs to be told. A rule whose origins changed (its comment would read
//! differently) is replaced, removed and added again, so the firewall's comments stay true
//! (and iptables' `-D` finds the rule by the comment it was loaded with).
//!
//! OLD is taken as it was generated while it was current: as of its own data version date
//! (or `--as-of` when that is earlier). So a legacy entry that OLD still listed and whose
//! sunset has passed by `--as-of` is removed by the diff, while one that was already gone
//! when OLD was current is not.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{AddressRule, GroupKey, NameRule, Options, Origins, RuleSet};
use crate::catalog::{Catalog, HostPattern};
use ipnet::IpNet;

/// One rule of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An address rule.
    Address {
        /// Environment, protocol, port.
        key: GroupKey,
        /// IPv6 (else IPv4).
        v6: bool,
        /// The rule (with the origins of the side it comes from).
        rule: AddressRule,
    },
    /// A host-name rule.
    Name {
        /// Environment, protocol, port.
        key: GroupKey,
        /// The rule.
        rule: NameRule,
    },
}

/// A rule to remove (present in OLD only) or to add (in NEW only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Remove the rule.
    Remove(Item),
    /// Add the rule.
    Add(Item),
}

impl Change {
    /// The rule concerned.
    pub fn item(&self) -> &Item {
        match self {
            Change::Remove(item) | Change::Add(item) => item,
        }
    }

    /// True for a removal.
    pub fn is_remove(&self) -> bool {
        matches!(self, Change::Remove(_))
    }

    /// `"remove"` or `"add"`.
    pub fn action(&self) -> &'static str {
        if self.is_remove() { "remove" } else { "add" }
    }
}

/// The changes between two rule sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The rules of OLD.
    pub old: RuleSet,
    /// The rules of NEW.
    pub new: RuleSet,
    /// Removals first, then additions; each in rule-set order.
    pub changes: Vec<Change>,
    /// Address groups (environment, protocol, port, family) NEW has and OLD had not: a
    /// dialect with one set or chain per group must create them before adding to them.
    pub new_groups: Vec<(GroupKey, bool)>,
}

impl Diff {
    /// The diff between the rules of `old` and `new` for `options` (see the module docs for
    /// the date OLD is judged at).
    pub fn between(old: &Catalog, new: &Catalog, options: &Options) -> Diff {
        let old_options = Options {
            as_of: old_as_of(old.data.version.date, options.as_of),
            ..options.clone()
        };
        Diff::new(
            RuleSet::from_catalog(old, &old_options),
            RuleSet::from_catalog(new, options),
        )
    }

    /// The diff between two rule sets.
    pub fn new(old: RuleSet, new: RuleSet) -> Diff {
        let mut changes = changes_from(&old, &new, Change::Remove);
        changes.extend(changes_from(&new, &old, Change::Add));
        let new_groups = new
            .addresses
            .iter()
            .filter(|g| !old.addresses.iter().any(|o| o.key == g.key && o.v6 == g.v6))
            .map(|g| (g.key.clone(), g.v6))
            .collect();
        Diff {
            old,
            new,
            changes,
            new_groups,
        }
    }

    /// Address changes of both families, removals first: (change, key, IPv6, rule).
    pub fn all_address_changes(
        &self,
    ) -> impl Iterator<Item = (&Change, &GroupKey, bool, &AddressRule)> {
        self.changes.iter().filter_map(|c| match c.item() {
            Item::Address { key, v6, rule } => Some((c, key, *v6, rule)),
            Item::Name { .. } => None,
        })
    }

    /// Address changes of one family, removals first.
    pub fn address_changes(
        &self,
        v6: bool,
    ) -> impl Iterator<Item = (&Change, &GroupKey, &AddressRule)> {
        self.changes.iter().filter_map(move |c| match c.item() {
            Item::Address {
                key,
                v6: family,
                rule,
            } if *family == v6 => Some((c, key, rule)),
            _ => None,
        })
    }

    /// Host-name changes, removals first.
    pub fn name_changes(&self) -> impl Iterator<Item = (&Change, &GroupKey, &NameRule)> {
        self.changes.iter().filter_map(|c| match c.item() {
            Item::Name { key, rule } => Some((c, key, rule)),
            Item::Address { .. } => None,
        })
    }
}

/// The date OLD is judged at: its own data version date, or `as_of` when earlier.
pub fn old_as_of(old_version_date: NaiveDate, as_of: NaiveDate) -> NaiveDate {
    old_version_date.min(as_of)
}

/// The rules of `from` that `to` lacks, or has with other origins, as `make` changes.
fn changes_from(from: &RuleSet, to: &RuleSet, make: fn(Item) -> Change) -> Vec<Change> {
    let to_addresses = address_keys(to);
    let to_names = name_keys(to);
    let addresses = from.addresses.iter().flat_map(|g| {
        g.rules
            .iter()
            .filter(|r| to_addresses.get(&(&g.key, r.prefix)) != Some(&&r.origins))
            .map(|r| address_item(&g.key, g.v6, r))
    });
    let names = from.names.iter().flat_map(|g| {
        g.rules
            .iter()
            .filter(|r| to_names.get(&(&g.key, &r.pattern)) != Some(&&r.origins))
            .map(|r| name_item(&g.key, r))
    });
    addresses.chain(names).map(make).collect()
}

fn address_keys(rules: &RuleSet) -> HashMap<(&GroupKey, IpNet), &Origins> {
    rules
        .addresses
        .iter()
        .flat_map(|g| {
            g.rules
                .iter()
                .map(move |r| ((&g.key, r.prefix), &r.origins))
        })
        .collect()
}

fn name_keys(rules: &RuleSet) -> HashMap<(&GroupKey, &HostPattern), &Origins> {
    rules
        .names
        .iter()
        .flat_map(|g| {
            g.rules
                .iter()
                .map(move |r| ((&g.key, &r.pattern), &r.origins))
        })
        .collect()
}

fn address_item(key: &GroupKey, v6: bool, rule: &AddressRule) -> Item {
    Item::Address {
        key: key.clone(),
        v6,
        rule: rule.clone(),
    }
}

fn name_item(key: &GroupKey, rule: &NameRule) -> Item {
    Item::Name {
        key: key.clone(),
        rule: rule.clone(),
    }
}
