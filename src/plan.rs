//! The plan: which names to resolve and which ports to probe, from the catalog and the
//! user's selection. Pure: no I/O, no clock.
//!
//! Each catalog entry contributes its concrete names (the host itself, or the probe names
//! under a wildcard) with the entry's ports and its single documented addresses. Documented
//! prefixes wider than one address are not swept: DNS answers inside them are probed
//! instead. A name that appears in several entries is resolved and probed once
//! ([`Plan::requests`]); the audit maps results back to every entry.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::catalog::{Catalog, DnsName, EnvId, HostPattern, HttpCheck, Port, ServiceId};
use crate::probe::http::HttpRequest;
use crate::probe::model::ProbeRequest;

/// What the user asked to check; empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Environments (ids) to include.
    pub environments: Vec<EnvId>,
    /// Services (ids) to include.
    pub services: Vec<ServiceId>,
    /// Only these names (probe names, exact hosts, legacy hosts).
    pub hosts: Vec<DnsName>,
}

/// Whether a planned name comes from a current or a legacy entry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A current endpoint.
    Endpoint,
    /// A legacy endpoint with a sunset date.
    Legacy,
}

/// One name to probe, in the context of the catalog entry it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedName {
    /// Environment of the entry.
    pub environment: EnvId,
    /// Service of the entry.
    pub service: ServiceId,
    /// The entry's host pattern (a wildcard for probe names).
    pub pattern: HostPattern,
    /// Current or legacy.
    pub kind: EntryKind,
    /// The concrete name.
    pub name: DnsName,
    /// The entry's ports.
    pub ports: Vec<Port>,
    /// The entry's single documented addresses.
    pub documented: Vec<IpAddr>,
    /// The entry's HTTP check, when it has one (legacy entries have none).
    pub http: Option<HttpCheck>,
}

/// The names to probe, in catalog order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// One item per (entry, name).
    pub names: Vec<PlannedName>,
}

impl Plan {
    /// Builds the plan for `selection`.
    pub fn new(catalog: &Catalog, selection: &Selection) -> Plan {
        let wanted_env =
            |e: &EnvId| selection.environments.is_empty() || selection.environments.contains(e);
        let wanted_service =
            |s: &ServiceId| selection.services.is_empty() || selection.services.contains(s);
        let wanted_name = |n: &DnsName| selection.hosts.is_empty() || selection.hosts.contains(n);
        let mut names = Vec::new();
        for endpoint in &catalog.endpoints {
            if !wanted_env(&endpoint.environment) || !wanted_service(&endpoint.service) {
                continue;
            }
            let documented: Vec<IpAddr> = endpoint.addresses.single_addresses().collect();
            for name in endpoint.probe.iter().filter(|n| wanted_name(n)) {
                names.push(PlannedName {
                    environment: endpoint.environment.clone(),
                    service: endpoint.service.clone(),
                    pattern: endpoint.host.clone(),
                    kind: EntryKind::Endpoint,
                    name: name.clone(),
                    ports: endpoint.ports.clone(),
                    documented: documented.clone(),
                    http: endpoint.http.clone(),
                });
            }
        }
        for legacy in &catalog.legacy {
            if !wanted_env(&legacy.environment)
                || !wanted_service(&legacy.service)
                || !wanted_name(&legacy.host)
            {
                continue;
            }
            names.push(PlannedName {
                environment: legacy.environment.clone(),
                service: legacy.service.clone(),
                pattern: HostPattern::Exact(legacy.host.clone()),
                kind: EntryKind::Legacy,
                name: legacy.host.clone(),
                ports: legacy.ports.clone(),
                documented: legacy.addresses.single_addresses().collect(),
                http: None,
            });
        }
        Plan { names }
    }

    /// One probe request per distinct name, with the union of ports and documented addresses
    /// of every entry that names it, in first-seen order, and the HTTP check of the first
    /// entry that has one (the loader allows one check per name).
    pub fn requests(&self) -> Vec<ProbeRequest> {
        let mut requests: Vec<ProbeRequest> = Vec::new();
        let mut index: HashMap<&DnsName, usize> = HashMap::with_capacity(self.names.len());
        for planned in &self.names {
            match index.get(&planned.name).and_then(|&i| requests.get_mut(i)) {
                Some(request) => {
                    for port in &planned.ports {
                        if !request.ports.contains(port) {
                            request.ports.push(*port);
                        }
                    }
                    for addr in &planned.documented {
                        if !request.documented.contains(addr) {
                            request.documented.push(*addr);
                        }
                    }
                    if request.http.is_none() {
                        request.http = http_request(planned);
                    }
                }
                None => {
                    index.insert(&planned.name, requests.len());
                    requests.push(ProbeRequest {
                        name: planned.name.clone(),
                        ports: planned.ports.clone(),
                        documented: planned.documented.clone(),
                        http: http_request(planned),
                    });
                }
            }
        }
        requests
    }

    /// True when nothing was selected.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The request of a planned name's HTTP check. The loader checked the path with the same
/// grammar, so a check without a request cannot come from a loaded catalog.
fn http_request(planned: &PlannedName) -> Option<HttpRequest> {
    planned
        .http
        .as_ref()
        .and_then(|check| HttpRequest::for_check(check).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_plan_covers_probe_names_and_legacy_hosts_once_each() {
        let catalog = crate::catalog::bundled().unwrap();
        let plan = Plan::new(&catalog, &Selection::default());
        let requests = plan.requests();
        let names: Vec<&str> = requests.iter().map(|r| r.name.as_str()).collect();
        assert!(names.contains(&"mvamelding.api.skatteetaten.no"));
        assert!(names.contains(&"api-test.sits.no"));
        assert!(names.contains(&"maskinporten.no"));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "each name once");
        // Prefixes wider than one address are not swept; /32s are probed.
        let prod = requests
            .iter()
            .find(|r| r.name.as_str() == "mvamelding.api.skatteetaten.no")
            .unwrap();
        assert_eq!(
            prod.documented,
            vec![
                "20.100.51.138".parse::<IpAddr>().unwrap(),
                "51.13.39.98".parse().unwrap()
            ]
        );
    }

    #[test]
    fn selection_narrows_by_environment_service_and_host() {
        let catalog = crate::catalog::bundled().unwrap();
        let selection = Selection {
            environments: vec![EnvId("prod".into())],
            services: vec![ServiceId("maskinporten".into())],
            hosts: vec![],
        };
        let plan = Plan::new(&catalog, &selection);
        let names: Vec<&str> = plan.names.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, vec!["maskinporten.no"]);
        let only = Selection {
            hosts: vec![DnsName::parse("api.skatteetaten.no").unwrap()],
            ..Selection::default()
        };
        let plan = Plan::new(&catalog, &only);
        assert_eq!(plan.names.len(), 1);
        assert_eq!(plan.names[0].kind, EntryKind::Legacy);
    }
}
