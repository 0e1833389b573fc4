//! Property tests of drift and of the saved report, bounded (a fixed number of cases):
//!
//! - for random pairs of observation sets (any DNS outcome per lookup, families asked or not,
//!   the per-name cap, proxies, any TCP state, TLS not tried, failed or completed with any
//!   trust, version and certificate), drift reports exactly the differences, each once, as
//!   the README's drift rules state them (written out here on their own, as a second
//!   reading of the rules), and nothing between a run and itself;
//! - every report `--save` writes for such observations loads as a baseline holding the same
//!   observations, and drift against it is drift against them.

use std::collections::BTreeSet;
use std::net::IpAddr;

use chrono::{DateTime, TimeZone, Utc};
use egresscheck::audit::AuditOptions;
use egresscheck::catalog::{self, Catalog, DnsName, Port};
use egresscheck::output::Renderer;
use egresscheck::output::json::JsonRenderer;
use egresscheck::plan::{Plan, Selection};
use egresscheck::probe::model::{
    AddressOrigin, CertificateInfo, ControlHello, DnsAnswer, DnsLookup, DnsObservation, DnsOutcome,
    HttpFailure, HttpObservation, NameObservation, TargetObservation, TcpObservation, TcpState,
    TlsFailure, TlsObservation,
};
use egresscheck::report::{Baseline, Report, drift::drift};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use crate::hardening::properties::config;

const NAMES: [&str; 2] = ["one.api.example.test", "two.api.example.test"];
/// Addresses a name may resolve to or be probed at (both families).
const POOL: [&str; 4] = [
    "192.0.2.10",
    "198.51.100.1",
    "198.51.100.2",
    "2001:db8:10::1",
];
/// The port the fixture documents, and one it does not (its targets are not the entry's).
const PORTS: [u16; 2] = [443, 8443];

fn catalog() -> Catalog {
    catalog::load_str(include_str!("../fixtures/minimal.toml"), "minimal.toml").unwrap()
}

fn plan(c: &Catalog) -> Plan {
    let selection = Selection {
        hosts: NAMES.iter().map(|n| DnsName::parse(n).unwrap()).collect(),
        ..Selection::default()
    };
    Plan::new(c, &selection)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

const OUTCOMES: [DnsOutcome; 7] = [
    DnsOutcome::Answer,
    DnsOutcome::Nxdomain,
    DnsOutcome::NoRecords,
    DnsOutcome::Servfail,
    DnsOutcome::Refused,
    DnsOutcome::Timeout,
    DnsOutcome::Error,
];

const TCP: [TcpState; 11] = [
    TcpState::Open,
    TcpState::Refused,
    TcpState::Filtered,
    TcpState::Unreachable,
    TcpState::ProxyDenied,
    TcpState::ProxyAuthRequired,
    TcpState::ProxyBadGateway,
    TcpState::ProxyUnavailable,
    TcpState::ProxyTimeout,
    TcpState::ProxyError,
    TcpState::Other,
];

const FAILURES: [TlsFailure; 8] = [
    TlsFailure::Timeout,
    TlsFailure::Closed,
    TlsFailure::ProtocolVersion,
    TlsFailure::Alert,
    TlsFailure::NotTls,
    TlsFailure::TooLarge,
    TlsFailure::Io,
    TlsFailure::Other,
];

fn at(year: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, 6, 1, 0, 0, 0).unwrap()
}

/// One lookup of a family: an outcome, and when it answered, some of the pool's addresses.
fn lookup(v6: bool) -> impl Strategy<Value = DnsLookup> {
    let family: Vec<&'static str> = POOL
        .iter()
        .copied()
        .filter(|a| ip(a).is_ipv6() == v6)
        .collect();
    (
        prop::sample::select(OUTCOMES.to_vec()),
        prop::sample::subsequence(family.clone(), 1..=family.len()),
    )
        .prop_map(move |(outcome, answers)| DnsLookup {
            record_type: if v6 { "AAAA" } else { "A" },
            outcome,
            answers: if outcome == DnsOutcome::Answer {
                answers
                    .iter()
                    .map(|a| DnsAnswer {
                        address: ip(a),
                        ttl: 60,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            cname_chain: Vec::new(),
            server: None,
            ms: 1.0,
            message: (outcome != DnsOutcome::Answer).then(|| "failed".to_owned()),
        })
}

fn dns() -> impl Strategy<Value = Option<DnsObservation>> {
    prop_oneof![
        1 => Just(None),
        6 => (
            prop::option::weighted(0.85, lookup(false)),
            prop::option::weighted(0.85, lookup(true)),
            prop::sample::select(vec![0usize, 0, 0, 3]),
        )
            .prop_map(|(a, aaaa, addresses_dropped)| Some(DnsObservation {
                a,
                aaaa,
                addresses_dropped,
            })),
    ]
}

fn tls() -> impl Strategy<Value = TlsObservation> {
    (
        any::<bool>(),
        prop::sample::select(FAILURES.to_vec()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        prop::sample::select(vec!["TLSv1.2", "TLSv1.3"]),
        (
            prop::sample::select(vec!["aa", "bb"]),
            prop::sample::select(vec!["CN=X", "CN=Y"]),
            prop::sample::select(vec![2027, 2028]),
        ),
        (any::<bool>(), prop::sample::select(vec![0usize, 7, 1200])),
    )
        .prop_map(
            |(
                ok,
                failure,
                (public, system, name),
                version,
                (sha, issuer, until),
                (reset, server_bytes),
            )| TlsObservation {
                reset: !ok && reset,
                server_bytes,
                ok,
                error: (!ok).then(|| "failed".to_owned()),
                failure: (!ok).then_some(failure),
                timed_out: !ok && failure == TlsFailure::Timeout,
                version: ok.then(|| version.to_owned()),
                cipher: None,
                kx_group: None,
                alpn: None,
                ms: 2.0,
                ocsp_stapled: false,
                trusted_public: ok && public,
                trusted_system: ok && system,
                public_error: None,
                system_error: None,
                anchored_public: ok && public,
                anchored_system: ok && system,
                hostname_match: ok && name,
                name_error: None,
                chain: if ok {
                    vec![CertificateInfo {
                        subject: "CN=api".into(),
                        issuer: issuer.into(),
                        sans: vec![],
                        serial: "01".into(),
                        not_before: at(2025),
                        not_after: at(until),
                        sha256: sha.repeat(32),
                        key_algorithm: "EC P-256".into(),
                        signature_algorithm: "ecdsa-with-SHA256".into(),
                    }]
                } else {
                    vec![]
                },
            },
        )
}

/// An HTTP exchange after the handshake: an answer or a failure, with and without a clock.
fn http() -> impl Strategy<Value = HttpObservation> {
    (
        prop::option::of(prop::sample::select(vec![200u16, 403, 407, 502])),
        prop::option::of(prop::sample::select(vec![-30i64, 0, 12])),
        any::<bool>(),
    )
        .prop_map(|(status, skew, json)| HttpObservation {
            method: "GET".into(),
            path: "/.well-known/oauth-authorization-server".into(),
            status,
            ms: 3.0,
            server: status.map(|_| "nginx".into()),
            content_type: status.map(|_| {
                if json {
                    "application/json"
                } else {
                    "text/html"
                }
                .into()
            }),
            location: None,
            date: None,
            clock: skew.filter(|_| status.is_some()).map(|s| {
                let sent = at(2026);
                egresscheck::probe::model::ClockReading::new(
                    sent + chrono::Duration::seconds(s),
                    sent,
                    sent + chrono::Duration::milliseconds(40),
                )
            }),
            proxy_headers: if json {
                vec![]
            } else {
                vec!["Via: 1.1 squid".into()]
            },
            headers: vec!["server".into()],
            body_bytes: 42,
            body_truncated: false,
            body_first_line: status.map(|_| "{\"issuer\": \"x\"}".into()),
            html_title: None,
            json_keys: (json && status.is_some()).then(|| vec!["issuer".into()]),
            error: status.is_none().then(|| "timed out".into()),
            failure: status.is_none().then_some(HttpFailure::Timeout),
        })
}

/// A control handshake after a failed one: answered (SNI filtering) or failed the same way.
fn control() -> impl Strategy<Value = ControlHello> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(sni, server_hello, reset)| {
        ControlHello {
            sni: sni.then(|| "example.com".into()),
            tcp: TcpState::Open,
            server_hello,
            failure: (!server_hello).then_some(TlsFailure::Timeout),
            reset: !server_hello && reset,
            server_bytes: if server_hello { 1400 } else { 0 },
            error: (!server_hello).then(|| "timed out".into()),
            ms: 5.0,
        }
    })
}

fn target() -> impl Strategy<Value = TargetObservation> {
    (
        prop::option::weighted(0.9, prop::sample::select(POOL.to_vec())),
        prop::sample::select(PORTS.to_vec()),
        prop::sample::select(vec![
            AddressOrigin::Dns,
            AddressOrigin::Documented,
            AddressOrigin::DnsAndDocumented,
        ]),
        prop::sample::select(TCP.to_vec()),
        prop::option::weighted(0.8, tls()),
        (
            prop::option::weighted(0.3, http()),
            prop::collection::vec(control(), 0..3),
            prop::sample::select(vec![
                vec![],
                vec!["Basic".to_owned()],
                vec!["NTLM".to_owned(), "Negotiate".to_owned()],
            ]),
        ),
    )
        .prop_map(
            |(address, port, origin, state, tls, (http, control, proxy_auth))| TargetObservation {
                address: address.map(ip),
                port: Port::try_from(port).unwrap(),
                origin: if address.is_some() {
                    origin
                } else {
                    AddressOrigin::Proxy
                },
                proxy: address
                    .is_none()
                    .then(|| "proxy.egress.test:3128".to_owned()),
                tcp: TcpObservation {
                    state,
                    ms: 1.0,
                    message: None,
                    proxy_status: (!proxy_auth.is_empty()).then_some(407),
                    proxy_auth,
                },
                http: http
                    .filter(|_| tls.as_ref().is_some_and(|t| t.ok) && state == TcpState::Open),
                control: if state == TcpState::Open && tls.as_ref().is_some_and(|t| !t.ok) {
                    control
                } else {
                    Vec::new()
                },
                tls: if state == TcpState::Open { tls } else { None },
            },
        )
}

fn name(host: &'static str) -> impl Strategy<Value = NameObservation> {
    (dns(), prop::collection::vec(target(), 0..6)).prop_map(move |(dns, targets)| {
        let mut seen = BTreeSet::new();
        NameObservation {
            name: DnsName::parse(host).unwrap(),
            dns,
            // One target per (address, port), as the engine probes them.
            targets: targets
                .into_iter()
                .filter(|t| seen.insert((t.address, t.port)))
                .collect(),
        }
    })
}

fn run() -> impl Strategy<Value = Vec<NameObservation>> {
    (name(NAMES[0]), name(NAMES[1])).prop_map(|(a, b)| vec![a, b])
}

/// (code, host, address, port) of a finding.
type Key = (String, String, Option<IpAddr>, Option<u16>);

fn keys(findings: &[egresscheck::audit::Finding]) -> Vec<Key> {
    findings
        .iter()
        .map(|f| {
            (
                f.code.as_str().to_owned(),
                f.host.clone().unwrap_or_default(),
                f.address,
                f.port,
            )
        })
        .collect()
}

// ---- The drift rules, written out on their own --------------------------------------------

fn resolved(dns: &DnsObservation, v4: bool, v6: bool) -> (bool, BTreeSet<IpAddr>, DnsOutcome) {
    let lookups: Vec<&DnsLookup> = [
        dns.a.as_ref().filter(|_| v4),
        dns.aaaa.as_ref().filter(|_| v6),
    ]
    .into_iter()
    .flatten()
    .collect();
    let answers: BTreeSet<IpAddr> = lookups
        .iter()
        .flat_map(|l| l.answers.iter().map(|a| a.address))
        .collect();
    let only = DnsObservation {
        a: dns.a.clone().filter(|_| v4),
        aaaa: dns.aaaa.clone().filter(|_| v6),
        addresses_dropped: 0,
    };
    let outcome = only.outcome();
    (outcome == DnsOutcome::Answer, answers, outcome)
}

fn tls_word(tls: Option<&TlsObservation>) -> String {
    match tls {
        None => "none".into(),
        Some(t) if !t.ok => format!("failed {:?}", t.failure),
        Some(t) => format!(
            "{} {} {}",
            t.trusted_public,
            t.trusted_system && !t.trusted_public,
            t.hostname_match
        ),
    }
}

fn expected(before: &NameObservation, now: &NameObservation) -> BTreeSet<Key> {
    let host = now.name.to_string();
    let mut out = BTreeSet::new();
    let mut add = |code: &str, address: Option<IpAddr>, port: Option<u16>| {
        assert!(
            out.insert((code.to_owned(), host.clone(), address, port)),
            "twice: {code} {address:?} {port:?}"
        );
    };
    let families = match (&before.dns, &now.dns) {
        (Some(b), Some(n)) => Some((
            b.a.is_some() && n.a.is_some(),
            b.aaaa.is_some() && n.aaaa.is_some(),
        )),
        _ => None,
    };
    let mut new_ok: BTreeSet<IpAddr> = BTreeSet::new();
    let mut gone_ok: BTreeSet<IpAddr> = BTreeSet::new();
    if let (Some(b), Some(n), Some((v4, v6))) = (&before.dns, &now.dns, families)
        && (v4 || v6)
    {
        let (was, old, was_outcome) = resolved(b, v4, v6);
        let (is, new, is_outcome) = resolved(n, v4, v6);
        if !was && is {
            add("name-resolves", None, None);
            new_ok = new;
        } else if was && !is {
            add("name-stopped-resolving", None, None);
            gone_ok = old;
        } else if !was && !is {
            if was_outcome != is_outcome {
                add("dns-outcome-changed", None, None);
            }
        } else {
            for a in new.difference(&old) {
                add("address-added", Some(*a), None);
                new_ok.insert(*a);
            }
            for a in old.difference(&new) {
                add("address-removed", Some(*a), None);
                gone_ok.insert(*a);
            }
        }
    }
    // The cap: answered in both runs, probed in one.
    let answered = |o: &NameObservation| -> BTreeSet<IpAddr> {
        o.dns.iter().flat_map(|d| d.addresses()).collect()
    };
    let capped = [before, now]
        .iter()
        .any(|o| o.dns.as_ref().is_some_and(|d| d.addresses_dropped > 0));
    let both: BTreeSet<IpAddr> = answered(before)
        .intersection(&answered(now))
        .copied()
        .collect();
    let considered = |t: &&TargetObservation| {
        t.port.get() == 443
            && match (t.address, families) {
                (Some(a), Some((v4, v6))) => {
                    if a.is_ipv6() {
                        v6
                    } else {
                        v4
                    }
                }
                _ => true,
            }
    };
    let find = |o: &NameObservation, t: &TargetObservation| {
        o.targets
            .iter()
            .filter(considered)
            .find(|x| x.address == t.address && x.port == t.port)
            .cloned()
    };
    for t in now.targets.iter().filter(considered) {
        let port = Some(t.port.get());
        match find(before, t) {
            None => {
                let explained = t
                    .address
                    .is_some_and(|a| new_ok.contains(&a) || (capped && both.contains(&a)));
                if !explained {
                    add("target-appeared", t.address, port);
                }
            }
            Some(old) => {
                if old.tcp.state != t.tcp.state {
                    add("reachability-changed", t.address, port);
                    continue;
                }
                if tls_word(old.tls.as_ref()) != tls_word(t.tls.as_ref()) {
                    add("tls-trust-changed", t.address, port);
                }
                if let (Some(o), Some(n)) = (&old.tls, &t.tls)
                    && o.ok
                    && n.ok
                    && o.version != n.version
                {
                    let older = o.version.as_deref() == Some("TLSv1.3")
                        && n.version.as_deref() == Some("TLSv1.2");
                    add(
                        if older {
                            "tls-downgraded"
                        } else {
                            "tls-version-changed"
                        },
                        t.address,
                        port,
                    );
                }
                let sha = |x: &TargetObservation| {
                    x.tls
                        .as_ref()
                        .and_then(|t| t.chain.first())
                        .map(|c| c.sha256.clone())
                };
                if let (Some(a), Some(b)) = (sha(&old), sha(t))
                    && a != b
                {
                    add("certificate-changed", t.address, port);
                }
            }
        }
    }
    for t in before.targets.iter().filter(considered) {
        if find(now, t).is_none() {
            let explained = t
                .address
                .is_some_and(|a| gone_ok.contains(&a) || (capped && both.contains(&a)));
            if !explained {
                add("target-vanished", t.address, Some(t.port.get()));
            }
        }
    }
    out
}

#[test]
fn drift_reports_exactly_the_differences_of_two_runs() {
    let c = catalog();
    let plan = plan(&c);
    let mut runner = TestRunner::new(config(1024));
    runner
        .run(&(run(), run()), |(before, now)| {
            let found = keys(&drift(&before, &plan, &now));
            let unique: BTreeSet<Key> = found.iter().cloned().collect();
            prop_assert_eq!(
                unique.len(),
                found.len(),
                "each difference once: {:?}",
                found
            );
            let mut want = BTreeSet::new();
            for (b, n) in before.iter().zip(&now) {
                want.extend(expected(b, n));
            }
            prop_assert_eq!(&unique, &want);
            prop_assert!(drift(&now, &plan, &now).is_empty(), "a run against itself");
            Ok(())
        })
        .unwrap();
}

#[test]
fn every_saved_report_loads_as_the_baseline_it_was() {
    let c = catalog();
    let plan = plan(&c);
    let as_of = "2026-03-01".parse().unwrap();
    let mut runner = TestRunner::new(config(256));
    runner
        .run(&(run(), run()), |(before, now)| {
            let report = Report::build(
                &c,
                &plan,
                &before,
                as_of,
                &AuditOptions::default(),
                None,
                1.0,
            );
            let mut saved = Vec::new();
            JsonRenderer.render(&report, &mut saved).unwrap();
            let baseline = Baseline::from_json("saved.json", &saved)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let loaded = baseline.observations().unwrap();
            // The report holds the targets of the entries' ports.
            let kept: Vec<NameObservation> = before
                .iter()
                .map(|o| NameObservation {
                    targets: o
                        .targets
                        .iter()
                        .filter(|t| t.port.get() == 443)
                        .cloned()
                        .collect(),
                    ..o.clone()
                })
                .collect();
            prop_assert_eq!(loaded, kept.as_slice());
            prop_assert_eq!(
                keys(&drift(loaded, &plan, &now)),
                keys(&drift(&before, &plan, &now))
            );
            Ok(())
        })
        .unwrap();
}
