//! Which environments document an address, answered without scanning the whole table.
//!
//! The audit asks this for every DNS answer and every probed target. Scanning every entry's
//! prefixes each time costs entries × prefixes per question, which is quadratic when a data
//! file lists thousands of endpoints. [`AddressIndex`] groups the prefixes by length, so a
//! question costs one hash lookup per prefix length in use (a few), whatever the table's
//! size.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{Catalog, EnvId};

/// The prefixes of one length: network address → the entries documenting it, each as its
/// position in catalog order and its environment.
type SameLength<'a> = HashMap<IpAddr, Vec<(usize, &'a EnvId)>>;

/// The documented prefixes of a catalog (endpoints, subnets, legacy entries), by length.
#[derive(Debug, Clone)]
pub struct AddressIndex<'a> {
    /// For each prefix length in use (IPv6 or not, length), its prefixes.
    by_length: Vec<((bool, u8), SameLength<'a>)>,
}

impl<'a> AddressIndex<'a> {
    /// Indexes every prefix of `catalog`.
    pub fn new(catalog: &'a Catalog) -> Self {
        let mut by_length: HashMap<(bool, u8), SameLength<'a>> = HashMap::new();
        let mut add = |order: usize, net: IpNet, env: &'a EnvId| {
            let key = (matches!(net, IpNet::V6(_)), net.prefix_len());
            by_length
                .entry(key)
                .or_default()
                .entry(net.network())
                .or_default()
                .push((order, env));
        };
        // Catalog order: endpoints, then subnets, then legacy entries, each in file order.
        let mut order = 0;
        for endpoint in &catalog.endpoints {
            for net in endpoint.addresses.iter() {
                add(order, net, &endpoint.environment);
            }
            order += 1;
        }
        for subnet in &catalog.subnets {
            add(order, subnet.cidr, &subnet.environment);
            order += 1;
        }
        for legacy in &catalog.legacy {
            for net in legacy.addresses.iter() {
                add(order, net, &legacy.environment);
            }
            order += 1;
        }
        AddressIndex {
            by_length: by_length.into_iter().collect(),
        }
    }

    /// Environments whose documented addresses, prefixes or subnets contain `addr`, each
    /// once, in the order of the first entry that documents it (endpoints, subnets, legacy).
    pub fn environments(&self, addr: IpAddr) -> Vec<&'a EnvId> {
        let mut hits: Vec<(usize, &'a EnvId)> = Vec::new();
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
        hits.sort_unstable_by_key(|(order, _)| *order);
        let mut envs: Vec<&'a EnvId> = Vec::new();
        for (_, env) in hits {
            if !envs.contains(&env) {
                envs.push(env);
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
}
