//! The part of the `check` JSON report that a baseline reads back: what the probe observed,
//! written by [`crate::output::json`] and read by [`super::baseline`] through the same types.
//!
//! Schema 2 carries each name's DNS observation once, in `names[]`, and one object per
//! probed target in `targets[]`, which refers to its name by `host`. Both embed the probe
//! model ([`crate::probe::model`]) as it is: a name entry is a [`NameObservation`] without
//! its targets, a target object is a [`TargetObservation`] flattened next to its context.
//! Whatever the engine can observe (no TCP attempt, a TLS handshake cut short, a proxy's
//! answer, every DNS failure) is therefore written and read back without code of its own,
//! and a field the probe model gains later round-trips by construction.
//!
//! ```json
//! "names": [{"name": "api.example.no", "outcome": "answer",
//!            "entries": [{"environment": "prod", "service": "api", "kind": "endpoint"}],
//!            "dns": {"a": {"record_type": "A", "outcome": "answer", "answers": [{"address": "192.0.2.1", "ttl": 300}],
//!                          "cname_chain": [], "server": "127.0.0.1:53", "ms": 2.1, "message": null},
//!                    "aaaa": {…}, "addresses_dropped": 0}}],
//! "targets": [{"environment": "prod", "service": "api", "host": "api.example.no", "documented": true,
//!              "address": "192.0.2.1", "port": 443, "origin": "dns-and-documented", "proxy": null,
//!              "tcp": {"state": "open", …}, "tls": {…}}]
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::plan::EntryKind;
use crate::probe::model::{DnsOutcome, NameObservation, TargetObservation};

/// Version of the `check --format json` schema (also the format `--save` writes).
pub const REPORT_SCHEMA: u32 = 2;

/// Report schemas `--baseline` reads.
pub const READABLE_SCHEMAS: [u32; 2] = [1, REPORT_SCHEMA];

/// One name of the report: its DNS observation, once, whatever the number of its targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameEntry<'a> {
    /// The name and what DNS said (its targets are in the report's `targets[]`).
    #[serde(flatten)]
    pub observation: Cow<'a, NameObservation>,
    /// The DNS outcome over both lookups (`answer` if either answered), null through a
    /// proxy. Written for readers of the report; recomputed, never read back.
    #[serde(default, skip_deserializing)]
    pub outcome: Option<DnsOutcome>,
    /// The catalog entries the name is probed for (written by `check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<EntryRef>,
    /// False when the name gave no address to probe: it has no entry in `targets[]` (a
    /// *name not probed*, see [`super::targets`]). Written by `check`; never read back.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub probed: Option<bool>,
}

/// A catalog entry that names a probed name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRef {
    /// Environment id.
    pub environment: String,
    /// Service id.
    pub service: String,
    /// `endpoint` or `legacy`.
    pub kind: EntryKind,
}

/// One probed target with its catalog context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetEntry<'a> {
    /// Environment id (set by `check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Service id (set by `check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The probe name: the `name` of an entry of `names[]`.
    pub host: String,
    /// True when the table documents the address for the entry's environment.
    #[serde(default)]
    pub documented: bool,
    /// What was observed: address, port, origin, proxy, TCP, TLS.
    #[serde(flatten)]
    pub observation: Cow<'a, TargetObservation>,
    /// No `fail` finding concerns the target (see [`super::targets`]). Written for readers
    /// of the report; recomputed, never read back.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// TCP connected and the TLS handshake completed. Written for readers; never read back.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
}

impl<'a> NameEntry<'a> {
    /// The entry of `observation`, which must come without targets (see
    /// [`without_targets`]), for the catalog entries `entries`.
    pub fn new(observation: Cow<'a, NameObservation>, entries: Vec<EntryRef>) -> Self {
        let outcome = observation.dns.as_ref().map(|dns| dns.outcome());
        NameEntry {
            observation,
            outcome,
            entries,
            probed: None,
        }
    }
}

/// A copy of `observation` without its targets: what `names[]` holds. Every field is named,
/// so that a field added to [`NameObservation`] does not compile until it is decided here
/// (it belongs to the name entry, and then round-trips, unless it repeats the targets).
pub fn without_targets(observation: &NameObservation) -> NameObservation {
    let NameObservation {
        name,
        dns,
        targets: _,
    } = observation;
    NameObservation {
        name: name.clone(),
        dns: dns.clone(),
        targets: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{DnsName, Port};
    use crate::probe::model::{
        AddressOrigin, DnsAnswer, DnsLookup, DnsObservation, TcpObservation, TcpState,
    };

    #[test]
    fn a_name_and_a_target_round_trip() {
        let observation = NameObservation {
            name: DnsName::parse("api.example.no").unwrap(),
            dns: Some(DnsObservation {
                a: Some(DnsLookup {
                    record_type: "A",
                    outcome: DnsOutcome::Answer,
                    answers: vec![DnsAnswer {
                        address: "192.0.2.1".parse().unwrap(),
                        ttl: 300,
                    }],
                    cname_chain: vec!["edge.example.net".into()],
                    server: Some("127.0.0.1:53".parse().unwrap()),
                    ms: 1.5,
                    message: None,
                }),
                aaaa: None,
                addresses_dropped: 3,
            }),
            targets: Vec::new(),
        };
        let entry = NameEntry::new(
            Cow::Borrowed(&observation),
            vec![EntryRef {
                environment: "prod".into(),
                service: "api".into(),
                kind: EntryKind::Endpoint,
            }],
        );
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["outcome"], "answer");
        assert!(json.get("targets").is_none(), "{json}");
        let back: NameEntry<'static> = serde_json::from_value(json).unwrap();
        assert_eq!(back.observation.as_ref(), &observation);
        assert_eq!(back.entries, entry.entries);

        let target = TargetObservation {
            address: None,
            port: Port::try_from(443).unwrap(),
            origin: AddressOrigin::Proxy,
            proxy: Some("proxy.example.no:3128".into()),
            tcp: TcpObservation {
                state: TcpState::ProxyAuthRequired,
                ms: 3.0,
                message: Some("407".into()),
                proxy_status: Some(407),
                proxy_auth: Vec::new(),
            },
            tls: None,
            http: None,
            control: Vec::new(),
        };
        let row = TargetEntry {
            environment: Some("prod".into()),
            service: Some("api".into()),
            host: "api.example.no".into(),
            documented: false,
            observation: Cow::Borrowed(&target),
            ok: None,
            reachable: None,
        };
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["tcp"]["state"], "proxy-auth-required");
        assert_eq!(json["address"], serde_json::Value::Null);
        let back: TargetEntry<'static> = serde_json::from_value(json).unwrap();
        assert_eq!(back, row);
    }
}
