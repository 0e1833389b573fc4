//! Which entries document an address, answered without scanning the whole table.
//!
//! The audit asks this for every DNS answer and every probed target. Scanning every entry's
//! prefixes each time costs entries × prefixes per question, which is quadratic when a data
//! file lists thousands of endpoints. [`AddressIndex`] groups the prefixes by length, so a
//! question costs one hash lookup per prefix length in use (a few), whatever the table's
//! size.
//!
//! An index built [`AddressIndex::as_of`] a date leaves out legacy entries past their sunset,
//! as `rules` does: an address only such an entry documents is no longer documented.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::NaiveDate;
use ipnet::IpNet;

use super::model::{Catalog, Endpoint, EnvId, Legacy, Subnet};

/// The catalog entry behind a documented prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentedBy<'a> {
    /// An endpoint's address or prefix: opened by `rules --scope addresses` (the default).
    Endpoint(&'a Endpoint),
    /// A subnet: opened only by `rules --scope subnets` or `--scope all`.
    Subnet(&'a Subnet),
    /// A legacy entry's address, until its sunset: opened by `rules --scope addresses`.
    Legacy(&'a Legacy),
}

/// One documented prefix that holds an address, and the entry that documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Documented<'a> {
    /// Position of the entry in catalog order (endpoints, subnets, legacy entries).
    order: usize,
    /// The entry's environment.
    pub environment: &'a EnvId,
    /// The documented prefix.
    pub prefix: IpNet,
    /// The entry.
    pub by: DocumentedBy<'a>,
}

impl Documented<'_> {
    /// True when rules of the default scope (`--scope addresses`) open the prefix: an
    /// endpoint's or a legacy entry's, not a subnet.
    pub fn in_address_scope(&self) -> bool {
        !matches!(self.by, DocumentedBy::Subnet(_))
    }
}

/// The prefixes of one length: network address → the entries documenting it.
type SameLength<'a> = HashMap<IpAddr, Vec<Documented<'a>>>;

/// The documented prefixes of a catalog (endpoints, subnets, legacy entries), by length.
#[derive(Debug, Clone)]
pub struct AddressIndex<'a> {
    /// For each prefix length in use (IPv6 or not, length), its prefixes.
    by_length: Vec<((bool, u8), SameLength<'a>)>,
}

impl<'a> AddressIndex<'a> {
    /// Indexes every prefix of `catalog`, legacy entries whatever their sunset.
    pub fn new(catalog: &'a Catalog) -> Self {
        Self::build(catalog, None)
    }

    /// Indexes the prefixes documented on `as_of`: legacy entries past their sunset are left
    /// out, as `rules` leaves them out.
    pub fn as_of(catalog: &'a Catalog, as_of: NaiveDate) -> Self {
        Self::build(catalog, Some(as_of))
    }

    fn build(catalog: &'a Catalog, as_of: Option<NaiveDate>) -> Self {
        let mut by_length: HashMap<(bool, u8), SameLength<'a>> = HashMap::new();
        let mut add = |documented: Documented<'a>| {
            let net = documented.prefix;
            let key = (matches!(net, IpNet::V6(_)), net.prefix_len());
            by_length
                .entry(key)
                .or_default()
                .entry(net.network())
                .or_default()
                .push(documented);
        };
        // Catalog order: endpoints, then subnets, then legacy entries, each in file order.
        let mut order = 0;
        for endpoint in &catalog.endpoints {
            for prefix in endpoint.addresses.iter() {
                add(Documented {
                    order,
                    environment: &endpoint.environment,
                    prefix,
                    by: DocumentedBy::Endpoint(endpoint),
                });
            }
            order += 1;
        }
        for subnet in &catalog.subnets {
            add(Documented {
                order,
                environment: &subnet.environment,
                prefix: subnet.cidr,
                by: DocumentedBy::Subnet(subnet),
            });
            order += 1;
        }
        for legacy in &catalog.legacy {
            if as_of.is_none_or(|date| !legacy.is_past_sunset(date)) {
                for prefix in legacy.addresses.iter() {
                    add(Documented {
                        order,
                        environment: &legacy.environment,
                        prefix,
                        by: DocumentedBy::Legacy(legacy),
                    });
                }
            }
            order += 1;
        }
        AddressIndex {
            by_length: by_length.into_iter().collect(),
        }
    }

    /// Every documented prefix that holds `addr`, in catalog order.
    pub fn documenting(&self, addr: IpAddr) -> Vec<Documented<'a>> {
        let mut hits: Vec<Documented<'a>> = Vec::new();
        for ((v6, len), nets) in &self.by_length {
            if *v6 != addr.is_ipv6() {
                continue;
            }
            let Ok(net) = IpNet::new(addr, *len) else {
                continue;
            };
            if let Some(entries) = nets.get(&net.network()) {
                hits.extend(entries.iter().copied());
            }
        }
        hits.sort_unstable_by_key(|d| (d.order, d.prefix));
        hits
    }

    /// Environments whose documented addresses, prefixes or subnets contain `addr`, each
    /// once, in the order of the first entry that documents it (endpoints, subnets, legacy).
    pub fn environments(&self, addr: IpAddr) -> Vec<&'a EnvId> {
        let mut envs: Vec<&'a EnvId> = Vec::new();
        for documented in self.documenting(addr) {
            if !envs.contains(&documented.environment) {
                envs.push(documented.environment);
            }
        }
        envs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward scan the index replaces.
    fn scan(catalog: &Catalog, addr: IpAddr) -> Vec<&EnvId> {
        let mut envs: Vec<&EnvId> = Vec::new();
        let from_endpoints = catalog
            .endpoints
            .iter()
            .filter(|e| e.addresses.contains(addr))
            .map(|e| &e.environment);
        let from_subnets = catalog
            .subnets
            .iter()
            .filter(|s| s.cidr.contains(&addr))
            .map(|s| &s.environment);
        let from_legacy = catalog
            .legacy
            .iter()
            .filter(|l| l.addresses.contains(addr))
            .map(|l| &l.environment);
        for env in from_endpoints.chain(from_subnets).chain(from_legacy) {
            if !envs.contains(&env) {
                envs.push(env);
            }
        }
        envs
    }

    #[test]
    fn agrees_with_a_scan_of_every_entry() {
        let catalog = crate::catalog::bundled().unwrap();
        let index = AddressIndex::new(&catalog);
        let mut probes: Vec<IpAddr> = Vec::new();
        for net in catalog
            .endpoints
            .iter()
            .flat_map(|e| e.addresses.iter())
            .chain(catalog.subnets.iter().map(|s| s.cidr))
            .chain(catalog.legacy.iter().flat_map(|l| l.addresses.iter()))
        {
            // First, last and just outside each prefix.
            probes.push(net.network());
            probes.push(net.broadcast());
            if let IpNet::V4(v4) = net {
                probes.push(IpAddr::from(
                    u32::from(v4.broadcast()).wrapping_add(1).to_be_bytes(),
                ));
            }
        }
        probes.extend([
            "192.0.2.1".parse::<IpAddr>().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ]);
        let mut documented = 0;
        for addr in probes {
            let found = index.environments(addr);
            assert_eq!(found, scan(&catalog, addr), "{addr}");
            documented += usize::from(!found.is_empty());
        }
        assert!(documented > 10, "the bundled table documents addresses");
    }

    #[test]
    fn as_of_a_date_legacy_entries_past_their_sunset_document_nothing() {
        let catalog = crate::catalog::bundled().unwrap();
        // api.skatteetaten.no's 159.216.17.168, retired 2024-10-17, also lies in the prod /28.
        let legacy: IpAddr = "159.216.17.168".parse().unwrap();
        let before = AddressIndex::as_of(&catalog, "2024-10-17".parse().unwrap());
        let after = AddressIndex::as_of(&catalog, "2024-10-18".parse().unwrap());
        let kinds = |index: &AddressIndex<'_>| -> Vec<&'static str> {
            index
                .documenting(legacy)
                .iter()
                .map(|d| match d.by {
                    DocumentedBy::Endpoint(_) => "endpoint",
                    DocumentedBy::Subnet(_) => "subnet",
                    DocumentedBy::Legacy(_) => "legacy",
                })
                .collect()
        };
        assert_eq!(kinds(&before), vec!["endpoint", "legacy"]);
        assert_eq!(kinds(&after), vec!["endpoint"]);
        assert!(after.documenting(legacy)[0].in_address_scope());
        // Digdir's test /27 is a subnet: outside the default rules scope.
        let in_subnet: IpAddr = "139.105.36.140".parse().unwrap();
        let found = after.documenting(in_subnet);
        assert_eq!(found.len(), 1);
        assert!(!found[0].in_address_scope());
    }
}
