//! The audit is pure: catalog + observations + as-of date → findings. These tests feed it
//! fabricated observations, one outcome at a time, and the report's drift and renderers.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use egresscheck::audit::{self, AuditOptions, Code, Severity};
use egresscheck::catalog::{self, Catalog, Port};
use egresscheck::plan::{Plan, Selection};
use egresscheck::probe::model::{
    AddressOrigin, CertificateInfo, DnsAnswer, DnsLookup, DnsObservation, DnsOutcome,
    NameObservation, TargetObservation, TcpObservation, TcpState, TlsObservation,
};
use egresscheck::report::{Baseline, Report};

const AS_OF: &str = "2026-03-01";

fn as_of() -> NaiveDate {
    AS_OF.parse().unwrap()
}

fn catalog() -> Catalog {
    catalog::load_str(include_str!("fixtures/minimal.toml"), "minimal.toml").unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn port() -> Port {
    Port::try_from(443).unwrap()
}

pub fn lookup(record_type: &'static str, outcome: DnsOutcome, answers: &[&str]) -> DnsLookup {
    DnsLookup {
        record_type,
        outcome,
        answers: answers
            .iter()
            .map(|a| DnsAnswer {
                address: ip(a),
                ttl: 300,
            })
            .collect(),
        cname_chain: Vec::new(),
        server: None,
        ms: 1.0,
        message: (outcome != DnsOutcome::Answer).then(|| "test".to_owned()),
    }
}

pub fn dns(v4: &[&str], v6: &[&str]) -> DnsObservation {
    let outcome = |list: &[&str]| {
        if list.is_empty() {
            DnsOutcome::NoRecords
        } else {
            DnsOutcome::Answer
        }
    };
    DnsObservation {
        a: Some(lookup("A", outcome(v4), v4)),
        aaaa: Some(lookup("AAAA", outcome(v6), v6)),
        addresses_dropped: 0,
    }
}

fn at(date: &str) -> DateTime<Utc> {
    let d: NaiveDate = date.parse().unwrap();
    Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
}

pub fn cert(issuer: &str, not_before: &str, not_after: &str, sha: &str) -> CertificateInfo {
    CertificateInfo {
        subject: "CN=one.api.example.test".into(),
        issuer: issuer.into(),
        sans: vec!["one.api.example.test".into()],
        serial: "01".into(),
        not_before: at(not_before),
        not_after: at(not_after),
        sha256: sha.into(),
        key_algorithm: "EC P-256".into(),
        signature_algorithm: "ecdsa-with-SHA256".into(),
    }
}

pub fn tls_ok() -> TlsObservation {
    TlsObservation {
        ok: true,
        error: None,
        failure: None,
        timed_out: false,
        version: Some("TLSv1.3".into()),
        cipher: Some("TLS13_AES_128_GCM_SHA256".into()),
        kx_group: Some("X25519".into()),
        alpn: Some("h2".into()),
        ms: 5.0,
        ocsp_stapled: false,
        trusted_public: true,
        trusted_system: true,
        public_error: None,
        system_error: None,
        anchored_public: true,
        anchored_system: true,
        hostname_match: true,
        name_error: None,
        chain: vec![cert("CN=Test Root", "2026-01-01", "2026-12-31", "aa11")],
        server_bytes: 1200,
        reset: false,
    }
}

pub fn target(address: &str, state: TcpState, tls: Option<TlsObservation>) -> TargetObservation {
    TargetObservation {
        address: Some(ip(address)),
        port: port(),
        origin: AddressOrigin::DnsAndDocumented,
        proxy: None,
        tcp: TcpObservation {
            state,
            ms: 2.0,
            message: None,
            proxy_status: None,
            proxy_auth: Vec::new(),
        },
        tls,
        http: None,
        control: Vec::new(),
    }
}

fn only(catalog: &Catalog, host: &str) -> Plan {
    let selection = Selection {
        hosts: vec![catalog::DnsName::parse(host).unwrap()],
        ..Selection::default()
    };
    Plan::new(catalog, &selection)
}

/// Findings for `one.api.example.test` (prod) observed as `obs`.
fn findings_for(obs: NameObservation) -> Vec<audit::Finding> {
    let c = catalog();
    let plan = only(&c, obs.name.as_str());
    audit::audit(&c, &plan, &[obs], as_of(), &AuditOptions::default())
}

fn one(
    name: &str,
    dns: Option<DnsObservation>,
    targets: Vec<TargetObservation>,
) -> NameObservation {
    NameObservation {
        name: catalog::DnsName::parse(name).unwrap(),
        dns,
        targets,
    }
}

fn codes(findings: &[audit::Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

#[test]
fn a_healthy_target_has_no_findings() {
    let f = findings_for(one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10"], &[])),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok()))],
    ));
    assert_eq!(f, vec![]);
    assert_eq!(audit::verdict(&f), Severity::Info);
}

#[test]
fn dns_failures_are_failures_with_advice() {
    let failed = DnsObservation {
        a: Some(lookup("A", DnsOutcome::Timeout, &[])),
        aaaa: Some(lookup("AAAA", DnsOutcome::Timeout, &[])),
        addresses_dropped: 0,
    };
    let f = findings_for(one(
        "one.api.example.test",
        Some(failed),
        vec![target("192.0.2.10", TcpState::Filtered, None)],
    ));
    assert_eq!(codes(&f), vec![Code::DnsFailure, Code::Blocked]);
    let dns = f.iter().find(|x| x.code == Code::DnsFailure).unwrap();
    assert_eq!(dns.severity, Severity::Fail);
    assert_eq!(dns.environment.as_deref(), Some("prod"));
    assert_eq!(dns.service.as_deref(), Some("api"));
    assert!(
        dns.message.contains("timeout") && dns.message.contains("--resolver"),
        "{}",
        dns.message
    );
    assert!(
        dns.message
            .contains("documented addresses are probed anyway"),
        "{}",
        dns.message
    );
}

#[test]
fn answers_outside_the_table_or_in_another_environment() {
    let f = findings_for(one(
        "one.api.example.test",
        Some(dns(
            &["192.0.2.10", "203.0.113.5", "198.18.0.1"],
            &["2001:db8:10::7"],
        )),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok()))],
    ));
    let by_code = |code| {
        f.iter()
            .filter(|x| x.code == code)
            .map(|x| x.address.unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // 203.0.113.0/27 is the test subnet; 198.18.0.1 is nowhere; 2001:db8:10::/48 is prod's prefix.
    assert_eq!(by_code(Code::WrongEnvironment), vec!["203.0.113.5"]);
    assert_eq!(by_code(Code::UndocumentedAddress), vec!["198.18.0.1"]);
    assert!(f.iter().all(|x| x.severity == Severity::Fail));
    let undocumented = f
        .iter()
        .find(|x| x.code == Code::UndocumentedAddress)
        .unwrap();
    assert!(
        undocumented.message.contains("--rules"),
        "{}",
        undocumented.message
    );
}

#[test]
fn a_documented_address_missing_from_dns_is_info() {
    let f = findings_for(one(
        "one.api.example.test",
        Some(dns(&["198.51.100.3"], &[])),
        vec![target("198.51.100.3", TcpState::Open, Some(tls_ok()))],
    ));
    assert_eq!(codes(&f), vec![Code::DocumentedAddressNotInDns]);
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].address, Some(ip("192.0.2.10")));
}

#[test]
fn connection_outcomes_have_their_own_codes() {
    for (state, code) in [
        (TcpState::Filtered, Code::Blocked),
        (TcpState::Refused, Code::Refused),
        (TcpState::Unreachable, Code::Unreachable),
        (TcpState::ProxyDenied, Code::ProxyDenied),
        (TcpState::ProxyAuthRequired, Code::ProxyDenied),
        (TcpState::ProxyTimeout, Code::ProxyDenied),
    ] {
        let f = findings_for(one(
            "one.api.example.test",
            Some(dns(&["192.0.2.10"], &[])),
            vec![target("192.0.2.10", state, None)],
        ));
        assert_eq!(codes(&f), vec![code], "{state:?}");
        assert_eq!(f[0].port, Some(443));
        assert_eq!(f[0].address, Some(ip("192.0.2.10")));
    }
}

#[test]
fn tls_outcomes_have_their_own_codes() {
    let with = |tweak: &dyn Fn(&mut TlsObservation)| {
        let mut tls = tls_ok();
        tweak(&mut tls);
        findings_for(one(
            "one.api.example.test",
            Some(dns(&["192.0.2.10"], &[])),
            vec![target("192.0.2.10", TcpState::Open, Some(tls))],
        ))
    };
    let f = with(&|t| {
        t.trusted_public = false;
        t.anchored_public = false;
    });
    assert_eq!(codes(&f), vec![Code::TlsIntercepted]);
    assert!(
        f[0].message.contains("CN=Test Root"),
        "names the issuer: {}",
        f[0].message
    );
    assert_eq!(
        codes(&with(&|t| {
            t.trusted_public = false;
            t.trusted_system = false;
            t.anchored_public = false;
            t.anchored_system = false;
        })),
        vec![Code::CertificateUntrusted]
    );
    assert_eq!(
        codes(&with(&|t| t.hostname_match = false)),
        vec![Code::CertificateNameMismatch]
    );
    // Expired, from a CA Mozilla's roots hold: only expired (the verifier anchors the chain
    // apart from its dates).
    let expired = with(&|t| {
        t.trusted_public = false;
        t.trusted_system = false;
        t.chain = vec![cert("CN=Test Root", "2025-01-01", "2026-02-01", "aa")];
    });
    assert_eq!(codes(&expired), vec![Code::CertificateExpired]);
    assert!(
        expired[0].message.contains("2026-02-01 (28 days ago)"),
        "{}",
        expired[0].message
    );
    // Expired, from a CA only this machine's store holds (a middlebox's stale certificate),
    // or from a CA neither store holds: every applicable finding, not only "expired".
    let stale_middlebox = with(&|t| {
        t.trusted_public = false;
        t.trusted_system = false;
        t.anchored_public = false;
        t.chain = vec![cert("CN=Inspection CA", "2025-01-01", "2026-02-01", "aa")];
    });
    assert_eq!(
        codes(&stale_middlebox),
        vec![Code::TlsIntercepted, Code::CertificateExpired]
    );
    assert!(
        stale_middlebox[0].message.contains("CN=Inspection CA")
            && stale_middlebox[0].message.contains("out of date"),
        "{}",
        stale_middlebox[0].message
    );
    let stale_unknown = with(&|t| {
        t.trusted_public = false;
        t.trusted_system = false;
        t.anchored_public = false;
        t.anchored_system = false;
        t.chain = vec![cert("CN=Nobody", "2025-01-01", "2026-02-01", "aa")];
    });
    assert_eq!(
        codes(&stale_unknown),
        vec![Code::CertificateUntrusted, Code::CertificateExpired]
    );
    let early = with(&|t| {
        t.trusted_public = false;
        t.trusted_system = false;
        t.chain = vec![cert("CN=Test Root", "2026-04-01", "2027-01-01", "aa")];
    });
    assert_eq!(codes(&early), vec![Code::CertificateNotYetValid]);
    let expiring =
        with(&|t| t.chain = vec![cert("CN=Test Root", "2026-01-01", "2026-03-15", "aa")]);
    assert_eq!(codes(&expiring), vec![Code::CertificateExpiring]);
    assert_eq!(expiring[0].severity, Severity::Warn);
    let outdated = with(&|t| {
        t.ok = false;
        t.error = Some("the server speaks only TLS below 1.2".into());
        t.failure = Some(egresscheck::probe::model::TlsFailure::ProtocolVersion);
        t.chain.clear();
    });
    assert_eq!(codes(&outdated), vec![Code::TlsOutdated]);
    let failed = with(&|t| {
        t.ok = false;
        t.error = Some("connection reset".into());
        t.failure = Some(egresscheck::probe::model::TlsFailure::Closed);
        t.chain.clear();
    });
    assert_eq!(codes(&failed), vec![Code::TlsFailure]);
}

#[test]
fn legacy_hosts_are_judged_by_their_sunset() {
    // The fixture's legacy host old.example.test has its sunset on 2025-06-30.
    let f = findings_for(one(
        "old.example.test",
        Some(dns(&["192.0.2.99"], &[])),
        vec![target("192.0.2.99", TcpState::Filtered, None)],
    ));
    assert_eq!(
        codes(&f),
        vec![Code::LegacySunsetPassed],
        "blocked is as it should be after the sunset"
    );
    assert!(
        f[0].message.contains("2025-06-30") && f[0].message.contains("remove its firewall rules"),
        "{}",
        f[0].message
    );
    let gone = DnsObservation {
        a: Some(lookup("A", DnsOutcome::Nxdomain, &[])),
        aaaa: Some(lookup("AAAA", DnsOutcome::Nxdomain, &[])),
        addresses_dropped: 0,
    };
    assert_eq!(
        findings_for(one("old.example.test", Some(gone), vec![])),
        vec![]
    );

    let c = catalog();
    let plan = only(&c, "old.example.test");
    let obs = [one(
        "old.example.test",
        Some(dns(&["192.0.2.99"], &[])),
        vec![target("192.0.2.99", TcpState::Open, Some(tls_ok()))],
    )];
    let before: NaiveDate = "2025-06-10".parse().unwrap();
    let soon = audit::audit(&c, &plan, &obs, before, &AuditOptions::default());
    assert!(codes(&soon).contains(&Code::LegacySunsetSoon), "{soon:?}");
    assert!(
        soon.iter()
            .any(|f| f.message.contains("20 days") && f.message.contains("*.api.example.test")),
        "{soon:?}"
    );
}

#[test]
fn stale_data_is_info() {
    let c = catalog();
    let plan = Plan::default();
    let late: NaiveDate = "2027-06-01".parse().unwrap();
    let f = audit::audit(&c, &plan, &[], late, &AuditOptions::default());
    assert_eq!(codes(&f), vec![Code::DataStale]);
    assert_eq!(f[0].severity, Severity::Info);
    let options = AuditOptions {
        stale_days: 1000,
        ..AuditOptions::default()
    };
    assert!(audit::audit(&c, &plan, &[], late, &options).is_empty());
}

#[test]
fn capped_answers_are_reported() {
    let mut d = dns(&["192.0.2.10"], &[]);
    d.addresses_dropped = 936;
    let f = findings_for(one(
        "one.api.example.test",
        Some(d),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok()))],
    ));
    assert_eq!(codes(&f), vec![Code::AddressesCapped]);
    assert!(f[0].message.contains("936 more addresses"));
}

#[test]
fn every_code_is_kebab_case_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for code in Code::ALL {
        let text = code.as_str();
        // Lowercase words (digits allowed, as in `ipv6-broken`) joined by single hyphens.
        assert!(
            text.split('-').all(|word| {
                word.starts_with(|c: char| c.is_ascii_lowercase())
                    && word
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            }),
            "{text}"
        );
        assert!(seen.insert(text), "{text} twice");
        assert_eq!(serde_json::to_value(code).unwrap(), text);
    }
}

#[test]
fn drift_against_a_baseline() {
    let c = catalog();
    let plan = only(&c, "one.api.example.test");
    let mut changed_tls = tls_ok();
    changed_tls.chain[0].sha256 = "bb22".into();
    let mut new_address = target("192.0.2.10", TcpState::Open, Some(changed_tls));
    new_address.origin = AddressOrigin::DnsAndDocumented;
    let mut other = target("198.51.100.4", TcpState::Filtered, None);
    other.origin = AddressOrigin::Dns;
    let obs = [one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10", "198.51.100.4"], &[])),
        vec![new_address, other],
    )];
    let mut gone = target("198.51.100.9", TcpState::Open, None);
    gone.origin = AddressOrigin::Dns;
    let before = [one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10", "198.51.100.9"], &[])),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok())), gone],
    )];
    let baseline = Baseline::read("base.json", 2, before.to_vec());
    let report = Report::build(
        &c,
        &plan,
        &obs,
        as_of(),
        &AuditOptions::default(),
        Some(&baseline),
        1.0,
    );
    let drift: Vec<(Code, String)> = report
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.code,
                Code::AddressAdded
                    | Code::AddressRemoved
                    | Code::CertificateChanged
                    | Code::ReachabilityChanged
                    | Code::TargetAppeared
                    | Code::TargetVanished
            )
        })
        .map(|f| (f.code, f.address.unwrap().to_string()))
        .collect();
    assert!(
        drift.contains(&(Code::AddressAdded, "198.51.100.4".into())),
        "{drift:?}"
    );
    assert!(
        drift.contains(&(Code::AddressRemoved, "198.51.100.9".into())),
        "{drift:?}"
    );
    assert!(
        drift.contains(&(Code::CertificateChanged, "192.0.2.10".into())),
        "{drift:?}"
    );
    assert_eq!(
        drift.len(),
        3,
        "the targets come and go with their addresses: {drift:?}"
    );
}

#[test]
fn unusable_baselines_are_clear_errors() {
    let other_schema = serde_json::to_vec(
        &serde_json::json!({"schema": 99, "tool": {"name": "egresscheck"}, "targets": []}),
    )
    .unwrap();
    let err = Baseline::from_json("old.json", &other_schema)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("schema 99") && err.contains("reads schemas 1 and 2"),
        "{err}"
    );
    let err = Baseline::from_json("cut.json", b"{\"schema\": 2, \"tool\": {\"name\": \"egress")
        .unwrap_err()
        .to_string();
    assert!(err.contains("damaged JSON"), "{err}");
    let err = Baseline::from_json("x.json", b"[1,2]")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cut") || err.contains("damaged") || err.contains("schema"),
        "{err}"
    );
    let err = Baseline::from_json(
        "y.json",
        &serde_json::to_vec(&serde_json::json!({"schema": 2, "tool": {"name": "egresscheck"}, "names": [], "targets": [{"environment": "prod"}]})).unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("damaged report"), "{err}");
}

/// The minimal fixture with more entries appended.
fn catalog_with(extra: &str) -> Catalog {
    let text = format!("{}\n{extra}", include_str!("fixtures/minimal.toml"));
    catalog::load_str(&text, "minimal+.toml").unwrap()
}

fn audit_of(c: &Catalog, obs: NameObservation, date: &str) -> Vec<audit::Finding> {
    let plan = only(c, obs.name.as_str());
    audit::audit(
        c,
        &plan,
        &[obs],
        date.parse().unwrap(),
        &AuditOptions::default(),
    )
}

/// Issue 12: an address only a legacy entry documents stops being documented after the
/// sunset, as `rules` stops opening it.
#[test]
fn an_address_only_a_retired_legacy_entry_documented_is_undocumented() {
    let c = catalog();
    // one.api resolves to old.example.test's address (sunset 2025-06-30).
    let resolves_to_legacy = || {
        one(
            "one.api.example.test",
            Some(dns(&["192.0.2.10", "192.0.2.99"], &[])),
            vec![target("192.0.2.10", TcpState::Open, None)],
        )
    };
    let before = audit_of(&c, resolves_to_legacy(), "2025-06-30");
    assert_eq!(codes(&before), Vec::<Code>::new(), "{before:?}");
    let after = audit_of(&c, resolves_to_legacy(), "2025-07-01");
    assert_eq!(codes(&after), vec![Code::UndocumentedAddress], "{after:?}");
    assert_eq!(after[0].address, Some(ip("192.0.2.99")));
    assert!(
        after[0].message.contains("old.example.test") && after[0].message.contains("2025-06-30"),
        "{}",
        after[0].message
    );
    // And rules, as of the same date, do not open it.
    let rules = egresscheck::rules::RuleSet::from_catalog(
        &c,
        &egresscheck::rules::Options::new("2025-07-01".parse().unwrap()),
    );
    assert!(!opens(&rules, "192.0.2.99"));
}

/// Whether any address rule of `rules` holds `address`.
fn opens(rules: &egresscheck::rules::RuleSet, address: &str) -> bool {
    rules
        .addresses
        .iter()
        .flat_map(|g| g.rules.iter())
        .any(|r| r.prefix.contains(&ip(address)))
}

/// Issue 12: `legacy-sunset-passed` is for the legacy name itself, or for an old address
/// that answers while no current entry documents it, never for an address the current
/// table needs open.
#[test]
fn legacy_sunset_passed_spares_addresses_the_current_table_documents() {
    // old2's address lies inside the current prod prefix 198.51.100.0/28.
    let c = catalog_with(
        r#"
[[legacy]]
environment = "prod"
service = "api"
host = "old2.example.test"
ipv4 = ["198.51.100.5"]
ports = [443]
sunset = 2025-06-30
sunset_basis = "announced on the page"
source = "page"
"#,
    );
    let gone = || DnsObservation {
        a: Some(lookup("A", DnsOutcome::Nxdomain, &[])),
        aaaa: Some(lookup("AAAA", DnsOutcome::Nxdomain, &[])),
        addresses_dropped: 0,
    };
    let documented_only = |address: &str| {
        let mut t = target(address, TcpState::Open, Some(tls_ok()));
        t.origin = AddressOrigin::Documented;
        t
    };
    // The name is gone; its address answers because the current /28 holds it: as it should.
    let f = audit_of(
        &c,
        one(
            "old2.example.test",
            Some(gone()),
            vec![documented_only("198.51.100.5")],
        ),
        AS_OF,
    );
    assert_eq!(codes(&f), Vec::<Code>::new(), "{f:?}");
    // The name is gone, but an address nothing current documents still answers.
    let f = audit_of(
        &c,
        one(
            "old.example.test",
            Some(gone()),
            vec![documented_only("192.0.2.99")],
        ),
        AS_OF,
    );
    assert_eq!(codes(&f), vec![Code::LegacySunsetPassed]);
    assert!(
        f[0].message.contains("no longer resolves") && f[0].message.contains("192.0.2.99"),
        "{}",
        f[0].message
    );
    // The name still resolves: a finding, which keeps the opening the current table needs.
    let f = audit_of(
        &c,
        one(
            "old2.example.test",
            Some(dns(&["198.51.100.5"], &[])),
            vec![documented_only("198.51.100.5")],
        ),
        AS_OF,
    );
    assert_eq!(codes(&f), vec![Code::LegacySunsetPassed]);
    assert!(
        f[0].message.contains("still resolves")
            && f[0].message.contains("keep the openings")
            && f[0]
                .message
                .contains("198.51.100.5 (in 198.51.100.0/28, prod)")
            && !f[0].message.contains("remove its firewall rules"),
        "{}",
        f[0].message
    );
}

/// Issue 12: an address the table holds only inside a subnet is opened by
/// `rules --scope subnets` (or `all`), not by the default `--scope addresses`: the audit says
/// so, as the rules do.
#[test]
fn a_subnet_only_address_is_said_to_need_the_subnets_scope() {
    let c = catalog_with(
        r#"
[[endpoint]]
environment = "test"
service = "api"
host = "one.test.example.test"
ports = [443]
source = "page"
"#,
    );
    let f = audit_of(
        &c,
        one(
            "one.test.example.test",
            Some(dns(&["203.0.113.5"], &[])),
            vec![target("203.0.113.5", TcpState::Open, Some(tls_ok()))],
        ),
        AS_OF,
    );
    assert_eq!(codes(&f), vec![Code::SubnetOnlyAddress], "{f:?}");
    assert_eq!(f[0].severity, Severity::Warn);
    assert!(
        f[0].message.contains("203.0.113.0/27")
            && f[0].message.contains("--scope subnets")
            && f[0].message.contains("--scope addresses"),
        "{}",
        f[0].message
    );
    let mut options = egresscheck::rules::Options::new(as_of());
    let default = egresscheck::rules::RuleSet::from_catalog(&c, &options);
    assert!(
        !opens(&default, "203.0.113.5"),
        "the default scope does not"
    );
    options.scope = egresscheck::rules::Scope::Subnets;
    let subnets = egresscheck::rules::RuleSet::from_catalog(&c, &options);
    assert!(opens(&subnets, "203.0.113.5"), "--scope subnets does");
}

/// Where a broad prefix is the only opening for an answer, `check` says what else it opens
/// (the bundled data marks Skatteetaten's /27 and /28).
#[test]
fn an_answer_inside_a_broad_prefix_says_what_else_it_opens() {
    let c = catalog::bundled().unwrap();
    let name = "mvamelding.api.skatteetaten.no";
    let observe = |address: &str| {
        one(
            name,
            Some(dns(&[address], &[])),
            vec![target(address, TcpState::Open, Some(tls_ok()))],
        )
    };
    let f = audit_of(&c, observe("159.216.17.170"), AS_OF);
    let broad: Vec<&audit::Finding> = f.iter().filter(|x| x.code == Code::BroadPrefix).collect();
    assert_eq!(broad.len(), 1, "{f:?}");
    assert_eq!(broad[0].severity, Severity::Info);
    assert!(
        broad[0].message.contains("159.216.17.160/28")
            && broad[0].message.contains("every external service"),
        "{}",
        broad[0].message
    );
    let f = audit_of(&c, observe("20.100.51.138"), AS_OF);
    assert!(f.iter().all(|x| x.code != Code::BroadPrefix), "{f:?}");
}

/// Issue 12: the advice of a failed lookup follows what was observed.
#[test]
fn dns_advice_follows_the_observed_outcome() {
    let failed = |a: Option<DnsOutcome>, aaaa: Option<DnsOutcome>| {
        let f = findings_for(one(
            "one.api.example.test",
            Some(DnsObservation {
                a: a.map(|o| lookup("A", o, &[])),
                aaaa: aaaa.map(|o| lookup("AAAA", o, &[])),
                addresses_dropped: 0,
            }),
            vec![],
        ));
        let dns = f.iter().find(|x| x.code == Code::DnsFailure).unwrap();
        dns.message.clone()
    };
    let unreachable = ["could not be reached", "cannot reach"];
    let never = |message: &str, words: &[&str]| {
        for word in words {
            assert!(!message.contains(word), "{word:?} in {message}");
        }
    };
    // --family 4, a name with only AAAA: the resolver answered.
    let m = failed(Some(DnsOutcome::NoRecords), None);
    assert!(
        m.contains("no A records") && m.contains("--family 4") && m.contains("--family both"),
        "{m}"
    );
    never(&m, &unreachable);
    let m = failed(Some(DnsOutcome::NoRecords), Some(DnsOutcome::NoRecords));
    assert!(m.contains("has no addresses"), "{m}");
    never(&m, &unreachable);
    let m = failed(Some(DnsOutcome::Nxdomain), Some(DnsOutcome::Nxdomain));
    assert!(
        m.contains("NXDOMAIN") && m.contains("does not exist"),
        "{m}"
    );
    never(&m, &unreachable);
    let m = failed(Some(DnsOutcome::Servfail), Some(DnsOutcome::Servfail));
    assert!(
        m.contains("SERVFAIL") && m.contains("could not resolve the name itself"),
        "{m}"
    );
    let m = failed(Some(DnsOutcome::Refused), Some(DnsOutcome::Refused));
    assert!(m.contains("refused to answer"), "{m}");
    let m = failed(Some(DnsOutcome::Timeout), Some(DnsOutcome::Timeout));
    assert!(
        m.contains("no answer from the resolver") && m.contains("port 53"),
        "{m}"
    );
    let m = failed(Some(DnsOutcome::Error), Some(DnsOutcome::Error));
    assert!(
        m.contains("could not be asked") && m.contains("port 53"),
        "{m}"
    );

    // The closing advice of a run where nothing resolved.
    let run = |outcomes: &[DnsOutcome]| {
        let observations: Vec<NameObservation> = outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| {
                one(
                    &format!("n{i}.api.example.test"),
                    Some(DnsObservation {
                        a: Some(lookup("A", *o, &[])),
                        aaaa: Some(lookup("AAAA", *o, &[])),
                        addresses_dropped: 0,
                    }),
                    vec![],
                )
            })
            .collect();
        audit::nothing_resolved(&observations)
    };
    let all_nx = run(&[DnsOutcome::Nxdomain, DnsOutcome::Nxdomain]).unwrap();
    assert!(
        all_nx.contains("the resolver answered") && all_nx.contains("NXDOMAIN"),
        "{all_nx}"
    );
    never(&all_nx, &unreachable);
    let silent = run(&[DnsOutcome::Timeout, DnsOutcome::Error]).unwrap();
    assert!(silent.contains("cannot reach a DNS resolver"), "{silent}");
    let mixed = run(&[
        DnsOutcome::Nxdomain,
        DnsOutcome::Servfail,
        DnsOutcome::Timeout,
    ])
    .unwrap();
    assert!(
        mixed.contains("NXDOMAIN for 1 name")
            && mixed.contains("SERVFAIL for 1 name")
            && mixed.contains("no answer for 1 name"),
        "{mixed}"
    );
    assert_eq!(run(&[]), None);
}

/// A target whose connect the run's deadline stopped, as the engine records it.
fn cut_target(address: &str) -> TargetObservation {
    let mut cut = target(address, TcpState::Filtered, None);
    cut.tcp.message = Some("no answer to the TCP connect before the run's overall deadline".into());
    cut
}

#[test]
fn what_the_deadline_ended_is_cut_short_and_nothing_else() {
    // A connect stopped by the deadline: not `blocked`.
    let f = findings_for(one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10"], &[])),
        vec![cut_target("192.0.2.10")],
    ));
    assert_eq!(codes(&f), vec![Code::CutShort], "{f:?}");
    assert_eq!(f[0].severity, Severity::Fail);
    assert!(
        f[0].message.contains("the TCP connect was still waiting"),
        "{f:?}"
    );
    // A handshake stopped by it: not `tls-failure`.
    let mut tls = tls_ok();
    tls.ok = false;
    tls.version = None;
    tls.error = Some("no ServerHello before the run's overall deadline".into());
    let f = findings_for(one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10"], &[])),
        vec![target("192.0.2.10", TcpState::Open, Some(tls))],
    ));
    assert_eq!(codes(&f), vec![Code::CutShort], "{f:?}");
    assert!(
        f[0].message.contains("TLS handshake was still under way"),
        "{f:?}"
    );
    // Lookups stopped by it: not `dns-failure`.
    let cut_lookup = |kind| {
        let mut l = lookup(kind, DnsOutcome::Timeout, &[]);
        l.message = Some("no DNS answer before the run's overall deadline".into());
        l
    };
    let f = findings_for(one(
        "one.api.example.test",
        Some(DnsObservation {
            a: Some(cut_lookup("A")),
            aaaa: Some(cut_lookup("AAAA")),
            addresses_dropped: 0,
        }),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok()))],
    ));
    assert_eq!(codes(&f), vec![Code::CutShort], "{f:?}");
    assert!(f[0].message.contains("DNS lookup was cut short"), "{f:?}");
    // A lookup that timed out on its own is still a DNS failure.
    let f = findings_for(one(
        "one.api.example.test",
        Some(DnsObservation {
            a: Some(lookup("A", DnsOutcome::Timeout, &[])),
            aaaa: Some(lookup("AAAA", DnsOutcome::Timeout, &[])),
            addresses_dropped: 0,
        }),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok()))],
    ));
    assert_eq!(codes(&f), vec![Code::DnsFailure], "{f:?}");
}

#[test]
fn an_ipv6_target_cut_short_is_no_proof_that_ipv6_is_broken() {
    let mut v6 = cut_target("2001:db8:10::1");
    v6.origin = AddressOrigin::DnsAndDocumented;
    let f = findings_for(one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10"], &["2001:db8:10::1"])),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok())), v6],
    ));
    assert_eq!(codes(&f), vec![Code::CutShort], "{f:?}");
    // Filtered on its own: IPv6 is broken.
    let mut v6 = target("2001:db8:10::1", TcpState::Filtered, None);
    v6.origin = AddressOrigin::DnsAndDocumented;
    let f = findings_for(one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10"], &["2001:db8:10::1"])),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok())), v6],
    ));
    assert!(codes(&f).contains(&Code::Ipv6Broken), "{f:?}");
}

#[test]
fn a_target_cut_short_is_no_drift() {
    let c = catalog();
    let plan = only(&c, "one.api.example.test");
    let now = [one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10"], &[])),
        vec![cut_target("192.0.2.10")],
    )];
    let before = [one(
        "one.api.example.test",
        Some(dns(&["192.0.2.10"], &[])),
        vec![target("192.0.2.10", TcpState::Open, Some(tls_ok()))],
    )];
    for (then, this) in [(&before, &now), (&now, &before)] {
        let baseline = Baseline::read("base.json", 2, then.to_vec());
        let report = Report::build(
            &c,
            &plan,
            this,
            as_of(),
            &AuditOptions::default(),
            Some(&baseline),
            1.0,
        );
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.code != Code::ReachabilityChanged && f.code != Code::TlsTrustChanged),
            "{:?}",
            report.findings
        );
    }
}

/// Issue 13: a name that does not exist said "NXDOMAIN" three times ("did not resolve:
/// NXDOMAIN (the name does not exist (NXDOMAIN)); the name does not exist …"). The resolver's
/// words appear only where they add to the outcome.
#[test]
fn a_dns_failure_says_each_thing_once() {
    let failed = |outcome: DnsOutcome, message: &str| {
        let with = |record_type| DnsLookup {
            message: Some(message.to_owned()),
            ..lookup(record_type, outcome, &[])
        };
        let f = findings_for(one(
            "one.api.example.test",
            Some(DnsObservation {
                a: Some(with("A")),
                aaaa: Some(with("AAAA")),
                addresses_dropped: 0,
            }),
            vec![],
        ));
        f.iter()
            .find(|x| x.code == Code::DnsFailure)
            .unwrap()
            .message
            .clone()
    };
    // The probe's own words for NXDOMAIN.
    let m = failed(DnsOutcome::Nxdomain, "the name does not exist (NXDOMAIN)");
    assert_eq!(m.matches("NXDOMAIN").count(), 1, "{m}");
    assert_eq!(m.matches("does not exist").count(), 1, "{m}");
    let m = failed(
        DnsOutcome::NoRecords,
        "no A or AAAA records (the name exists)",
    );
    assert_eq!(m.matches("no A or AAAA records").count(), 1, "{m}");
    // A resolver's error says something the outcome does not: kept.
    let m = failed(DnsOutcome::Error, "no connections available");
    assert!(m.contains("(no connections available)"), "{m}");
}
