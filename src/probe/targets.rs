//! Which (address, port) pairs to probe for one name. Pure: no I/O.
//!
//! Targets are every address DNS returned and every documented single address, on each
//! port, deduplicated and narrowed by `--family`. Documented prefixes wider than one address
//! are not swept (the plan passes single addresses only). The DNS answers probed are capped
//! per name so a hostile or enormous answer cannot fan a run out; documented addresses come
//! from the data file and are always probed. The cap takes IPv4 and IPv6 answers in turn so
//! a flood of one family does not hide the other.

use std::net::IpAddr;

use crate::catalog::Port;
use crate::probe::model::{AddressOrigin, DnsObservation, Family, ProbeRequest};

/// One (address, port) to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub address: IpAddr,
    /// The port.
    pub port: Port,
    /// Where the address came from.
    pub origin: AddressOrigin,
}

/// The targets of one name, and how many DNS answers the cap left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// Targets, addresses in answer order (IPv4 and IPv6 interleaved when capped) followed
    /// by documented addresses DNS did not return; each address on every port.
    pub targets: Vec<Target>,
    /// Distinct DNS answers not probed because of the cap.
    pub dropped: usize,
}

/// Expands `request` with its DNS results into targets.
pub fn expand(
    request: &ProbeRequest,
    dns: Option<&DnsObservation>,
    family: Family,
    max_dns_addresses: usize,
) -> Expansion {
    let mut v4: Vec<IpAddr> = Vec::new();
    let mut v6: Vec<IpAddr> = Vec::new();
    for address in dns.into_iter().flat_map(DnsObservation::addresses) {
        if !family.admits(&address) {
            continue;
        }
        let list = if address.is_ipv4() { &mut v4 } else { &mut v6 };
        if !list.contains(&address) {
            list.push(address);
        }
    }
    let documented: Vec<IpAddr> = dedup(request.documented.iter().copied())
        .into_iter()
        .filter(|a| family.admits(a))
        .collect();

    // Documented answers are always probed and do not use up the cap.
    let mut chosen: Vec<IpAddr> = Vec::new();
    let mut budget = max_dns_addresses;
    let mut dropped = 0;
    let (mut i4, mut i6) = (v4.iter(), v6.iter());
    loop {
        let (a, b) = (i4.next(), i6.next());
        if a.is_none() && b.is_none() {
            break;
        }
        for address in a.into_iter().chain(b) {
            if documented.contains(address) {
                chosen.push(*address);
            } else if budget > 0 {
                budget -= 1;
                chosen.push(*address);
            } else {
                dropped += 1;
            }
        }
    }
    // Keep answer order within the cap when nothing was cut: A answers, then AAAA.
    if dropped == 0 {
        chosen = v4.iter().chain(v6.iter()).copied().collect();
    }

    let mut addresses: Vec<(IpAddr, AddressOrigin)> = chosen
        .into_iter()
        .map(|a| {
            let origin = if documented.contains(&a) {
                AddressOrigin::DnsAndDocumented
            } else {
                AddressOrigin::Dns
            };
            (a, origin)
        })
        .collect();
    for address in documented {
        if !addresses.iter().any(|(a, _)| *a == address) {
            addresses.push((address, AddressOrigin::Documented));
        }
    }
    let ports = dedup(request.ports.iter().copied());
    let targets = addresses
        .into_iter()
        .flat_map(|(address, origin)| {
            ports.iter().map(move |&port| Target {
                address,
                port,
                origin,
            })
        })
        .collect();
    Expansion { targets, dropped }
}

fn dedup<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DnsName;
    use crate::probe::dns::RecordKind;
    use crate::probe::model::DnsLookup;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn port(n: u16) -> Port {
        Port::try_from(n).unwrap()
    }

    fn lookup(kind: RecordKind, addresses: &[&str]) -> DnsLookup {
        let addresses: Vec<IpAddr> = addresses.iter().map(|a| ip(a)).collect();
        crate::probe::testing::answered(kind, &addresses)
    }

    fn dns(a: &[&str], aaaa: &[&str]) -> DnsObservation {
        DnsObservation {
            a: Some(lookup(RecordKind::A, a)),
            aaaa: Some(lookup(RecordKind::Aaaa, aaaa)),
            addresses_dropped: 0,
        }
    }

    fn request(ports: &[u16], documented: &[&str]) -> ProbeRequest {
        ProbeRequest {
            name: DnsName::parse("api.example.no").unwrap(),
            ports: ports.iter().map(|&p| port(p)).collect(),
            documented: documented.iter().map(|a| ip(a)).collect(),
            http: None,
        }
    }

    fn summary(expansion: &Expansion) -> Vec<String> {
        expansion
            .targets
            .iter()
            .map(|t| format!("{} {} {:?}", t.address, t.port, t.origin))
            .collect()
    }

    #[test]
    fn dns_and_documented_addresses_on_every_port_deduplicated() {
        let dns = dns(&["192.0.2.1", "192.0.2.2", "192.0.2.1"], &["2001:db8::1"]);
        let req = request(
            &[443, 8443, 443],
            &["192.0.2.2", "198.51.100.7", "198.51.100.7"],
        );
        let expansion = expand(&req, Some(&dns), Family::Both, 32);
        assert_eq!(
            summary(&expansion),
            vec![
                "192.0.2.1 443 Dns",
                "192.0.2.1 8443 Dns",
                "192.0.2.2 443 DnsAndDocumented",
                "192.0.2.2 8443 DnsAndDocumented",
                "2001:db8::1 443 Dns",
                "2001:db8::1 8443 Dns",
                "198.51.100.7 443 Documented",
                "198.51.100.7 8443 Documented",
            ]
        );
        assert_eq!(expansion.dropped, 0);
    }

    #[test]
    fn family_narrows_dns_and_documented_addresses() {
        let dns = dns(&["192.0.2.1"], &["2001:db8::1"]);
        let req = request(&[443], &["198.51.100.7", "2001:db8::7"]);
        let v4 = expand(&req, Some(&dns), Family::V4, 32);
        assert_eq!(
            summary(&v4),
            vec!["192.0.2.1 443 Dns", "198.51.100.7 443 Documented"]
        );
        let v6 = expand(&req, Some(&dns), Family::V6, 32);
        assert_eq!(
            summary(&v6),
            vec!["2001:db8::1 443 Dns", "2001:db8::7 443 Documented"]
        );
    }

    #[test]
    fn the_cap_interleaves_families_spares_documented_and_counts_the_rest() {
        let many: Vec<String> = (1..=200)
            .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let dns = dns(&many, &["2001:db8::1", "2001:db8::2"]);
        let req = request(&[443], &["10.0.0.150"]);
        let expansion = expand(&req, Some(&dns), Family::Both, 4);
        let addresses: Vec<String> = expansion
            .targets
            .iter()
            .map(|t| t.address.to_string())
            .collect();
        assert_eq!(
            addresses,
            vec![
                "10.0.0.1",
                "2001:db8::1",
                "10.0.0.2",
                "2001:db8::2",
                "10.0.0.150"
            ]
        );
        // 202 distinct answers: 4 probed under the cap, 1 documented, 197 left out.
        assert_eq!(expansion.dropped, 197);
    }

    #[test]
    fn no_dns_means_documented_only_and_nothing_means_no_targets() {
        let req = request(&[443], &["198.51.100.7"]);
        assert_eq!(
            summary(&expand(&req, None, Family::Both, 32)),
            vec!["198.51.100.7 443 Documented"]
        );
        let empty = request(&[443], &[]);
        assert!(
            expand(&empty, Some(&dns(&[], &[])), Family::Both, 32)
                .targets
                .is_empty()
        );
    }
}
