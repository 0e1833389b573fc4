//! Reports of schema 1 (egresscheck before report schema 2), read as baselines.
//!
//! A schema-1 report lists targets only, each with a copy of its name's DNS results merged
//! over the A and AAAA lookups; a name where nothing could be probed appears once per port
//! with `address`, `origin`, `tcp` and `tls` null. This reader turns that back into the
//! probe model, as far as it can:
//!
//! - the merged DNS results become two lookups: answers split by family, a family without
//!   answers `no-records` when the name resolved (else the merged failure), the CNAME chain,
//!   server, time and message given to both; both families count as asked;
//! - targets without a TCP result (nothing was probed) are left out: their name remains,
//!   with its DNS results.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;

use super::baseline::Tool;
use crate::catalog::{DnsName, Port};
use crate::probe::model::{
    AddressOrigin, DnsAnswer, DnsLookup, DnsObservation, DnsOutcome, NameObservation,
    TargetObservation, TcpObservation, TlsObservation,
};

#[derive(Deserialize)]
struct Report {
    tool: Tool,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    host: DnsName,
    #[serde(default)]
    address: Option<IpAddr>,
    port: Port,
    #[serde(default)]
    origin: Option<AddressOrigin>,
    #[serde(default)]
    proxy: Option<String>,
    #[serde(default)]
    dns: Option<Dns>,
    #[serde(default)]
    tcp: Option<TcpObservation>,
    #[serde(default)]
    tls: Option<TlsObservation>,
}

#[derive(Deserialize)]
struct Dns {
    outcome: DnsOutcome,
    #[serde(default)]
    answers: Vec<DnsAnswer>,
    #[serde(default)]
    cname_chain: Vec<String>,
    #[serde(default)]
    server: Option<SocketAddr>,
    #[serde(default)]
    ms: f64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    addresses_dropped: usize,
}

/// The tool that wrote the report and its observations, one per name in report order.
pub(super) fn read(bytes: &[u8]) -> Result<(Tool, Vec<NameObservation>), serde_json::Error> {
    let report: Report = serde_json::from_slice(bytes)?;
    let mut observations: Vec<NameObservation> = Vec::new();
    let mut index: HashMap<DnsName, usize> = HashMap::new();
    let mut seen: HashSet<(usize, Option<IpAddr>, Port)> = HashSet::new();
    for target in report.targets {
        let at = match index.get(&target.host) {
            Some(&at) => at,
            None => {
                index.insert(target.host.clone(), observations.len());
                observations.push(NameObservation {
                    name: target.host.clone(),
                    dns: target.dns.as_ref().map(lookups),
                    targets: Vec::new(),
                });
                observations.len() - 1
            }
        };
        let Some(tcp) = target.tcp else {
            continue;
        };
        let Some(name) = observations.get_mut(at) else {
            continue;
        };
        if !seen.insert((at, target.address, target.port)) {
            continue;
        }
        name.targets.push(TargetObservation {
            address: target.address,
            port: target.port,
            origin: target.origin.unwrap_or(match target.address {
                Some(_) => AddressOrigin::Dns,
                None => AddressOrigin::Proxy,
            }),
            proxy: target.proxy,
            tcp,
            tls: target.tls,
            http: None,
            control: Vec::new(),
        });
    }
    Ok((report.tool, observations))
}

/// The two lookups a schema-1 report merged.
fn lookups(dns: &Dns) -> DnsObservation {
    let lookup = |record_type: &'static str, v6: bool| {
        let answers: Vec<DnsAnswer> = dns
            .answers
            .iter()
            .filter(|a| a.address.is_ipv6() == v6)
            .copied()
            .collect();
        let outcome = match dns.outcome {
            DnsOutcome::Answer if answers.is_empty() => DnsOutcome::NoRecords,
            other => other,
        };
        DnsLookup {
            record_type,
            outcome,
            answers,
            cname_chain: dns.cname_chain.clone(),
            server: dns.server,
            ms: dns.ms,
            message: dns.message.clone(),
        }
    };
    DnsObservation {
        a: Some(lookup("A", false)),
        aaaa: Some(lookup("AAAA", true)),
        addresses_dropped: dns.addresses_dropped,
    }
}
