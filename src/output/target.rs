//! The target object of `probe --format json` (report schema 1's shape): one (host,
//! address, port) and what DNS, TCP and TLS showed for it, DNS merged over both lookups and
//! repeated per target. Its field names are public interface (documented in the README's
//! JSON schema). `check --format json` writes schema 2 instead, where each name's DNS comes
//! once ([`crate::report::document`]); `check --baseline` reads schema-1 reports with its own
//! reader (`report::schema1`).
//!
//! ```json
//! {"environment": "prod", "service": "mva",            // set by check only
//!  "host": "api.example.no", "address": "192.0.2.1", "port": 443,
//!  "documented": true, "origin": "dns-and-documented", "proxy": null,
//!  "dns": {"outcome": "answer", "answers": [{"address": "192.0.2.1", "ttl": 300}],
//!          "cname_chain": [], "server": "127.0.0.1:53", "ms": 2.1, "message": null,
//!          "addresses_dropped": 0},
//!  "tcp": {"state": "open", "ms": 0.4, "message": null, "proxy_status": null},
//!  "tls": {"ok": true, "version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
//!          "kx_group": "X25519", "alpn": "h2", "ms": 3.2, "ocsp_stapled": false,
//!          "trusted_public": true, "trusted_system": true, "hostname_match": true,
//!          "error": null, "failure": null, "public_error": null, "system_error": null,
//!          "name_error": null, "timed_out": false,
//!          "chain": [{"subject": "CN=api.example.no", "issuer": "CN=…", "sans": […],
//!                     "serial": "…", "not_before": "…", "not_after": "…", "sha256": "…",
//!                     "key_algorithm": "EC P-256", "signature_algorithm": "ecdsa-with-SHA256"}]}}
//! ```
//!
//! A name that yielded no address (DNS failed and nothing is documented) still appears, once
//! per port, with `address`, `origin`, `tcp` and `tls` null, so a failure is never an
//! absence.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::catalog::Port;
use crate::probe::model::{
    AddressOrigin, ControlHello, DnsAnswer, DnsObservation, DnsOutcome, HttpObservation,
    NameObservation, ProbeRequest, TargetObservation, TcpObservation, TlsObservation,
};

/// One target as the JSON outputs show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// Environment id (set by `check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Service id (set by `check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The probe name.
    pub host: String,
    /// The address connected to; null through a proxy or when no address was found.
    pub address: Option<IpAddr>,
    /// The port.
    pub port: u16,
    /// True when the data file documents this single address for the host.
    pub documented: bool,
    /// Where the address came from; null when nothing was probed.
    pub origin: Option<AddressOrigin>,
    /// The proxy used (`host:port`, no credentials).
    pub proxy: Option<String>,
    /// DNS results for the host; null when a proxy resolved it.
    pub dns: Option<DnsReport>,
    /// The TCP connect (or CONNECT exchange); null when nothing was probed.
    pub tcp: Option<TcpObservation>,
    /// The TLS handshake; null when TCP did not connect.
    pub tls: Option<TlsObservation>,
    /// The HTTP exchange after TLS; present only where the data file asks for an HTTP check
    /// (and the handshake completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpObservation>,
    /// Control handshakes (no SNI, a control name) when the handshake got no ServerHello.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub control: Vec<ControlHello>,
}

/// The DNS results of a host, A and AAAA together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsReport {
    /// `answer` if either lookup answered, else the more telling failure.
    pub outcome: DnsOutcome,
    /// Every address returned, A first, with TTLs.
    pub answers: Vec<DnsAnswer>,
    /// CNAMEs followed from the name to the answer.
    pub cname_chain: Vec<String>,
    /// The server that answered, when known.
    pub server: Option<SocketAddr>,
    /// Time of the slower lookup (they run in parallel), in milliseconds.
    pub ms: f64,
    /// What went wrong, when the outcome is not `answer`.
    pub message: Option<String>,
    /// Answers not probed because of the per-name cap.
    pub addresses_dropped: usize,
}

impl DnsReport {
    /// Merges the A and AAAA lookups of `dns`.
    pub fn from_observation(dns: &DnsObservation) -> Self {
        let lookups: Vec<_> = dns.a.iter().chain(dns.aaaa.iter()).collect();
        let outcome = dns.outcome();
        let message = if outcome == DnsOutcome::Answer {
            None
        } else {
            lookups
                .iter()
                .find(|l| l.outcome == outcome)
                .and_then(|l| l.message.clone())
        };
        DnsReport {
            outcome,
            answers: lookups
                .iter()
                .flat_map(|l| l.answers.iter().copied())
                .collect(),
            cname_chain: lookups
                .iter()
                .map(|l| &l.cname_chain)
                .max_by_key(|c| c.len())
                .cloned()
                .unwrap_or_default(),
            server: lookups.iter().find_map(|l| l.server),
            ms: lookups.iter().map(|l| l.ms).fold(0.0, f64::max),
            message,
            addresses_dropped: dns.addresses_dropped,
        }
    }
}

impl TargetReport {
    /// The report of one probed target of `observation`.
    pub fn probed(
        observation: &NameObservation,
        target: &TargetObservation,
        documented: &[IpAddr],
    ) -> Self {
        TargetReport {
            environment: None,
            service: None,
            host: observation.name.to_string(),
            address: target.address,
            port: target.port.get(),
            documented: target.address.is_some_and(|a| documented.contains(&a)),
            origin: Some(target.origin),
            proxy: target.proxy.clone(),
            dns: observation.dns.as_ref().map(DnsReport::from_observation),
            tcp: Some(target.tcp.clone()),
            tls: target.tls.clone(),
            http: target.http.clone(),
            control: target.control.clone(),
        }
    }

    /// The report of a port on which nothing could be probed (no address).
    pub fn unprobed(observation: &NameObservation, port: Port) -> Self {
        TargetReport {
            environment: None,
            service: None,
            host: observation.name.to_string(),
            address: None,
            port: port.get(),
            documented: false,
            origin: None,
            proxy: None,
            dns: observation.dns.as_ref().map(DnsReport::from_observation),
            tcp: None,
            tls: None,
            http: None,
            control: Vec::new(),
        }
    }
}

/// The target objects of one name: one per probed target, or one per port when nothing
/// could be probed.
pub fn reports(observation: &NameObservation, request: &ProbeRequest) -> Vec<TargetReport> {
    if observation.targets.is_empty() {
        let mut ports: Vec<Port> = Vec::new();
        for port in &request.ports {
            if !ports.contains(port) {
                ports.push(*port);
            }
        }
        return ports
            .into_iter()
            .map(|port| TargetReport::unprobed(observation, port))
            .collect();
    }
    observation
        .targets
        .iter()
        .map(|target| TargetReport::probed(observation, target, &request.documented))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DnsName;
    use crate::probe::model::{DnsLookup, TcpState};

    fn lookup(kind: &'static str, outcome: DnsOutcome, answers: &[&str], ms: f64) -> DnsLookup {
        DnsLookup {
            record_type: kind,
            outcome,
            answers: answers
                .iter()
                .map(|a| DnsAnswer {
                    address: a.parse().unwrap(),
                    ttl: 300,
                })
                .collect(),
            cname_chain: if answers.is_empty() {
                vec![]
            } else {
                vec!["edge.example.net".into()]
            },
            server: Some("127.0.0.1:53".parse().unwrap()),
            ms,
            message: (outcome != DnsOutcome::Answer).then(|| format!("{kind} failed")),
        }
    }

    fn request(ports: &[u16], documented: &[&str]) -> ProbeRequest {
        ProbeRequest {
            name: DnsName::parse("api.example.no").unwrap(),
            ports: ports.iter().map(|&p| Port::try_from(p).unwrap()).collect(),
            documented: documented.iter().map(|a| a.parse().unwrap()).collect(),
            http: None,
        }
    }

    #[test]
    fn dns_lookups_merge_into_one_report() {
        let dns = DnsObservation {
            a: Some(lookup("A", DnsOutcome::Answer, &["192.0.2.1"], 3.0)),
            aaaa: Some(lookup("AAAA", DnsOutcome::NoRecords, &[], 5.0)),
            addresses_dropped: 2,
        };
        let report = DnsReport::from_observation(&dns);
        assert_eq!(report.outcome, DnsOutcome::Answer);
        assert_eq!(report.message, None);
        assert_eq!(report.cname_chain, vec!["edge.example.net"]);
        assert!((report.ms - 5.0).abs() < f64::EPSILON);
        assert_eq!(report.addresses_dropped, 2);
        let failed = DnsObservation {
            a: Some(lookup("A", DnsOutcome::Nxdomain, &[], 1.0)),
            aaaa: Some(lookup("AAAA", DnsOutcome::Timeout, &[], 1.0)),
            addresses_dropped: 0,
        };
        let report = DnsReport::from_observation(&failed);
        assert_eq!(report.outcome, DnsOutcome::Nxdomain);
        assert_eq!(report.message.as_deref(), Some("A failed"));
    }

    #[test]
    fn a_name_without_targets_still_reports_each_port_and_round_trips() {
        let observation = NameObservation {
            name: DnsName::parse("api.example.no").unwrap(),
            dns: Some(DnsObservation {
                a: Some(lookup("A", DnsOutcome::Nxdomain, &[], 1.0)),
                aaaa: None,
                addresses_dropped: 0,
            }),
            targets: vec![],
        };
        let reports = reports(&observation, &request(&[443, 8443, 443], &[]));
        assert_eq!(reports.len(), 2);
        assert!(
            reports
                .iter()
                .all(|r| r.tcp.is_none() && r.address.is_none())
        );
        let json = serde_json::to_string(&reports).unwrap();
        let back: Vec<TargetReport> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reports);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value[0]["dns"]["outcome"], "nxdomain");
        assert!(value[0].get("environment").is_none(), "set by check only");
    }

    #[test]
    fn probed_targets_know_whether_they_are_documented() {
        let observation = NameObservation {
            name: DnsName::parse("api.example.no").unwrap(),
            dns: None,
            targets: vec![TargetObservation {
                address: Some("192.0.2.1".parse().unwrap()),
                port: Port::try_from(443).unwrap(),
                origin: AddressOrigin::DnsAndDocumented,
                proxy: None,
                tcp: TcpObservation {
                    state: TcpState::Refused,
                    ms: 0.2,
                    message: Some("refused".into()),
                    proxy_status: None,
                    proxy_auth: Vec::new(),
                },
                tls: None,
                http: None,
                control: Vec::new(),
            }],
        };
        let reports = reports(&observation, &request(&[443], &["192.0.2.1"]));
        assert!(reports[0].documented);
        let value = serde_json::to_value(&reports[0]).unwrap();
        assert_eq!(value["tcp"]["state"], "refused");
        assert_eq!(value["origin"], "dns-and-documented");
    }
}
