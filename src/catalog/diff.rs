//! What changed between two versions of a data file, per environment.
//!
//! This is what an admin needs when the provider republishes its page: which hosts,
//! addresses, prefixes, subnets and ports appeared or went away, which sunset dates moved,
//! and which addresses moved from one environment to another (the 2024-10 page had test and
//! production swapped; a diff against it must say "moved", not only "added" and "removed").
//! Pure: two catalogs in, a [`CatalogDiff`] out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ipnet::IpNet;
use serde::Serialize;

use super::model::{Catalog, EnvId, Port};

/// Items added and removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    /// In the new version only.
    pub added: Vec<T>,
    /// In the old version only.
    pub removed: Vec<T>,
}

impl<T> Default for Change<T> {
    fn default() -> Self {
        Change {
            added: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl<T: Ord + Clone> Change<T> {
    fn between(old: &BTreeSet<T>, new: &BTreeSet<T>) -> Self {
        Change {
            added: new.difference(old).cloned().collect(),
            removed: old.difference(new).cloned().collect(),
        }
    }
}

impl<T> Change<T> {
    /// True when nothing was added or removed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Ports of one host that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortChange {
    /// The host (pattern) in both versions.
    pub host: String,
    /// Ports added and removed.
    #[serde(flatten)]
    pub ports: Change<u16>,
}

/// A legacy host whose sunset date changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SunsetChange {
    /// The legacy host.
    pub host: String,
    /// Sunset in the old version.
    pub old: NaiveDate,
    /// Sunset in the new version.
    pub new: NaiveDate,
}

/// Changes within one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnvironmentDiff {
    /// Environment id.
    pub environment: String,
    /// Whether the environment exists only in the new (`added`) or old (`removed`) version.
    pub presence: Option<&'static str>,
    /// Endpoint hosts (exact names and wildcards).
    pub hosts: Change<String>,
    /// Concrete probe names under wildcards.
    pub probe_names: Change<String>,
    /// Single addresses of endpoints (/32, /128).
    pub addresses: Change<IpNet>,
    /// Wider prefixes of endpoints.
    pub prefixes: Change<IpNet>,
    /// Subnet entries.
    pub subnets: Change<IpNet>,
    /// Ports per host present in both versions.
    pub ports: Vec<PortChange>,
    /// Legacy hosts.
    pub legacy_hosts: Change<String>,
    /// Legacy addresses.
    pub legacy_addresses: Change<IpNet>,
    /// Sunset dates that changed.
    pub sunsets: Vec<SunsetChange>,
}

impl EnvironmentDiff {
    /// True when the environment did not change.
    pub fn is_empty(&self) -> bool {
        self.presence.is_none()
            && self.hosts.is_empty()
            && self.probe_names.is_empty()
            && self.addresses.is_empty()
            && self.prefixes.is_empty()
            && self.subnets.is_empty()
            && self.ports.is_empty()
            && self.legacy_hosts.is_empty()
            && self.legacy_addresses.is_empty()
            && self.sunsets.is_empty()
    }
}

/// An address or prefix that left one environment and is documented in another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// The address or prefix as the old version had it.
    pub prefix: IpNet,
    /// Environment in the old version.
    pub from: String,
    /// Environment in the new version.
    pub to: String,
    /// The new version's entry that holds it, when that is a wider prefix.
    pub covered_by: Option<IpNet>,
}

/// The whole difference between two catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogDiff {
    /// Old data version.
    pub old_version: String,
    /// New data version.
    pub new_version: String,
    /// Per environment, in the new file's order, then environments only the old one has.
    pub environments: Vec<EnvironmentDiff>,
    /// Addresses and prefixes that moved between environments.
    pub moved: Vec<Move>,
}

impl CatalogDiff {
    /// True when the tables are the same (versions and notes aside).
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.environments.iter().all(EnvironmentDiff::is_empty)
    }
}

/// The documented content of one environment, as sets.
#[derive(Default)]
struct EnvContent {
    hosts: BTreeSet<String>,
    probe_names: BTreeSet<String>,
    addresses: BTreeSet<IpNet>,
    prefixes: BTreeSet<IpNet>,
    subnets: BTreeSet<IpNet>,
    ports: BTreeMap<String, BTreeSet<u16>>,
    legacy_hosts: BTreeSet<String>,
    legacy_addresses: BTreeSet<IpNet>,
    sunsets: BTreeMap<String, NaiveDate>,
}

impl EnvContent {
    fn of(catalog: &Catalog, env: &EnvId) -> Self {
        let mut content = EnvContent::default();
        let port_set = |ports: &[Port]| ports.iter().map(|p| p.get()).collect::<BTreeSet<u16>>();
        for e in catalog.endpoints.iter().filter(|e| &e.environment == env) {
            let host = e.host.to_string();
            content.hosts.insert(host.clone());
            if e.host.is_wildcard() {
                content
                    .probe_names
                    .extend(e.probe.iter().map(|p| p.to_string()));
            }
            for net in e.addresses.iter() {
                if net.prefix_len() == net.max_prefix_len() {
                    content.addresses.insert(net);
                } else {
                    content.prefixes.insert(net);
                }
            }
            content
                .ports
                .entry(host)
                .or_default()
                .extend(port_set(&e.ports));
        }
        for s in catalog.subnets.iter().filter(|s| &s.environment == env) {
            content.subnets.insert(s.cidr);
            content
                .ports
                .entry(s.cidr.to_string())
                .or_default()
                .extend(port_set(&s.ports));
        }
        for l in catalog.legacy.iter().filter(|l| &l.environment == env) {
            let host = l.host.to_string();
            content.legacy_hosts.insert(host.clone());
            content.legacy_addresses.extend(l.addresses.iter());
            content.sunsets.insert(host.clone(), l.sunset);
            content
                .ports
                .entry(host)
                .or_default()
                .extend(port_set(&l.ports));
        }
        content
    }

    /// Every address and prefix of the environment, of any kind.
    fn all_prefixes(&self) -> impl Iterator<Item = &IpNet> {
        self.addresses
            .iter()
            .chain(&self.prefixes)
            .chain(&self.subnets)
            .chain(&self.legacy_addresses)
    }

    /// The entry that holds `net`: the same prefix, else the narrowest one containing it.
    fn holder_of(&self, net: &IpNet) -> Option<IpNet> {
        if self.all_prefixes().any(|p| p == net) {
            return Some(*net);
        }
        self.all_prefixes()
            .filter(|p| p.contains(net))
            .max_by_key(|p| p.prefix_len())
            .copied()
    }
}

/// Compares two catalogs.
pub fn diff(old: &Catalog, new: &Catalog) -> CatalogDiff {
    let mut env_ids: Vec<&EnvId> = new.environments.iter().map(|e| &e.id).collect();
    for env in &old.environments {
        if !env_ids.contains(&&env.id) {
            env_ids.push(&env.id);
        }
    }
    let contents: Vec<(&EnvId, EnvContent, EnvContent)> = env_ids
        .iter()
        .map(|id| (*id, EnvContent::of(old, id), EnvContent::of(new, id)))
        .collect();

    let mut environments = Vec::new();
    for (id, before, after) in &contents {
        let presence = match (old.environment(id).is_some(), new.environment(id).is_some()) {
            (false, true) => Some("added"),
            (true, false) => Some("removed"),
            _ => None,
        };
        let mut ports = Vec::new();
        for (host, old_ports) in &before.ports {
            if let Some(new_ports) = after.ports.get(host) {
                let change = Change::between(old_ports, new_ports);
                if !change.is_empty() {
                    ports.push(PortChange {
                        host: host.clone(),
                        ports: change,
                    });
                }
            }
        }
        let sunsets = before
            .sunsets
            .iter()
            .filter_map(|(host, old_date)| {
                let new_date = after.sunsets.get(host)?;
                (new_date != old_date).then(|| SunsetChange {
                    host: host.clone(),
                    old: *old_date,
                    new: *new_date,
                })
            })
            .collect();
        environments.push(EnvironmentDiff {
            environment: id.to_string(),
            presence,
            hosts: Change::between(&before.hosts, &after.hosts),
            probe_names: Change::between(&before.probe_names, &after.probe_names),
            addresses: Change::between(&before.addresses, &after.addresses),
            prefixes: Change::between(&before.prefixes, &after.prefixes),
            subnets: Change::between(&before.subnets, &after.subnets),
            ports,
            legacy_hosts: Change::between(&before.legacy_hosts, &after.legacy_hosts),
            legacy_addresses: Change::between(&before.legacy_addresses, &after.legacy_addresses),
            sunsets,
        });
    }

    CatalogDiff {
        old_version: old.data.version.to_string(),
        new_version: new.data.version.to_string(),
        environments,
        moved: moves(&contents),
    }
}

/// A prefix the old version had in environment A that A no longer holds in the new version
/// but another environment B does (exactly or inside a wider prefix) has moved A → B.
fn moves(contents: &[(&EnvId, EnvContent, EnvContent)]) -> Vec<Move> {
    let mut moved = Vec::new();
    for (from, before, after) in contents {
        let mut seen = BTreeSet::new();
        for net in before.all_prefixes() {
            if !seen.insert(*net) || after.holder_of(net).is_some() {
                continue;
            }
            for (to, _, other_after) in contents.iter().filter(|(id, _, _)| id != from) {
                if let Some(holder) = other_after.holder_of(net) {
                    moved.push(Move {
                        prefix: *net,
                        from: from.to_string(),
                        to: to.to_string(),
                        covered_by: (holder != *net).then_some(holder),
                    });
                }
            }
        }
    }
    moved
}
