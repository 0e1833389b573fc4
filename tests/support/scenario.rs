//! Constructed observations of the bundled catalog, for reports that do not depend on a
//! network: the situations the go-live report is judged in (issue 13).
//!
//! Each planned name's DNS answer and each target's TCP and TLS outcome are written as the
//! engine would record them (through the probe model's own JSON, so that fields the model
//! gains later take their defaults), and the targets are expanded by the engine's own
//! `probe::targets::expand`. DNS answers a name's documented IPv4 addresses and no AAAA:
//! two targets per wildcard probe name (its two documented addresses), Maskinporten's three,
//! the three `sits.no` names one each where a situation has them resolve (into the test
//! subnet), and the two documented addresses of the retired legacy hosts, which no longer
//! resolve and whose addresses drop every connection, as they should.
//!
//! ```ignore
//! let scenario = Scenario::new(Situation::Intercepted);
//! let report = scenario.report();
//! ```

use chrono::NaiveDate;
use serde_json::{Value, json};

use egresscheck::audit::AuditOptions;
use egresscheck::catalog::Catalog;
use egresscheck::plan::{EntryKind, Plan, Selection};
use egresscheck::probe::model::{DnsObservation, Family, NameObservation, ProbeRequest};
use egresscheck::report::Report;

/// The date every scenario is judged at.
pub const AS_OF: &str = "2026-11-28";

/// A situation of the go-live report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situation {
    /// Every name resolves, every target connects with genuine TLS.
    AllOk,
    /// A TLS-inspecting middlebox re-signs every connection but Maskinporten's with one
    /// certificate of its own CA (11 names, so most hosts also get a wrong name), and the
    /// three `sits.no` names do not exist: the run of the issue.
    Intercepted,
    /// Five names do not exist (NXDOMAIN): the three `sits.no` hosts and two prod APIs.
    NoSuchNames,
    /// Production's first address is dropped by a firewall, test's second refuses, and
    /// Maskinporten's test certificate has expired.
    BlockedRefusedExpired,
}

impl Situation {
    /// Every situation, in the order of the issue.
    pub const ALL: [Situation; 4] = [
        Situation::AllOk,
        Situation::Intercepted,
        Situation::NoSuchNames,
        Situation::BlockedRefusedExpired,
    ];

    /// A short name, for snapshot names.
    pub fn name(self) -> &'static str {
        match self {
            Situation::AllOk => "all_ok",
            Situation::Intercepted => "intercepted",
            Situation::NoSuchNames => "no_such_names",
            Situation::BlockedRefusedExpired => "blocked_refused_expired",
        }
    }
}

/// The bundled catalog, its whole plan and constructed observations.
pub struct Scenario {
    pub catalog: Catalog,
    pub plan: Plan,
    pub observations: Vec<NameObservation>,
}

/// Names that do not exist in [`Situation::NoSuchNames`].
const MISSING: [&str; 5] = [
    "folkeregisteret-api-konsument.sits.no",
    "folkeregisteret-api-ekstern.sits.no",
    "idporten-api-test.sits.no",
    "folkeregisteret.api.skatteetaten.no",
    "idporten.api.skatteetaten.no",
];

/// The 11 names of the middlebox's certificate.
const MIDDLEBOX_SANS: [&str; 11] = [
    "mvamelding.api.skatteetaten.no",
    "skattemelding.api.skatteetaten.no",
    "inntekt.api.skatteetaten.no",
    "aksjebeholdning.api.skatteetaten.no",
    "arbeidsgiveravgift.api.skatteetaten.no",
    "mvamelding.api.skatteetaten-test.no",
    "skattemelding.api.skatteetaten-test.no",
    "inntekt.api.skatteetaten-test.no",
    "proxy.corp.example",
    "gateway.corp.example",
    "login.corp.example",
];

impl Scenario {
    /// The observations of `situation`.
    pub fn new(situation: Situation) -> Scenario {
        let catalog = egresscheck::catalog::bundled().expect("bundled data loads");
        let plan = Plan::new(&catalog, &Selection::default());
        let mut observations = Vec::new();
        for request in plan.requests() {
            let kind = plan
                .names
                .iter()
                .find(|p| p.name == request.name)
                .map(|p| p.kind)
                .unwrap_or(EntryKind::Endpoint);
            observations.push(observe(situation, &request, kind));
        }
        Scenario {
            catalog,
            plan,
            observations,
        }
    }

    /// The report, judged at [`AS_OF`] with the default thresholds and no baseline.
    pub fn report(&self) -> Report<'_> {
        Report::build(
            &self.catalog,
            &self.plan,
            &self.observations,
            as_of(),
            &AuditOptions::default(),
            None,
            2.4,
        )
    }
}

/// [`AS_OF`] as a date.
pub fn as_of() -> NaiveDate {
    AS_OF.parse().expect("a date")
}

fn observe(situation: Situation, request: &ProbeRequest, kind: EntryKind) -> NameObservation {
    let name = request.name.as_str();
    let missing = match situation {
        Situation::NoSuchNames => MISSING.contains(&name),
        Situation::Intercepted => name.ends_with(".sits.no"),
        Situation::AllOk | Situation::BlockedRefusedExpired => false,
    };
    let exists = kind == EntryKind::Endpoint && !missing;
    let documented: Vec<String> = request
        .documented
        .iter()
        .filter(|a| a.is_ipv4())
        .map(ToString::to_string)
        .collect();
    let answers: Vec<String> = if !exists {
        Vec::new()
    } else if !documented.is_empty() {
        documented
    } else if name.ends_with(".sits.no") {
        // Inside the test subnet the data documents.
        vec![format!("159.216.17.{}", 130 + name.len() % 20)]
    } else {
        Vec::new()
    };
    let dns: DnsObservation = serde_json::from_value(json!({
        "a": lookup("A", &answers, exists),
        "aaaa": lookup("AAAA", &[], exists),
        "addresses_dropped": 0,
    }))
    .expect("a DNS observation");
    let expansion = egresscheck::probe::targets::expand(request, Some(&dns), Family::Both, 32);
    let targets: Vec<Value> = expansion
        .targets
        .iter()
        .map(|t| target(situation, name, kind == EntryKind::Legacy, t))
        .collect();
    serde_json::from_value(json!({
        "name": name,
        "dns": dns,
        "targets": targets,
    }))
    .expect("a name observation")
}

fn lookup(kind: &str, answers: &[String], exists: bool) -> Value {
    let (outcome, message) = match (answers.is_empty(), exists) {
        (false, _) => ("answer", Value::Null),
        (true, true) => (
            "no-records",
            Value::from(format!("no {kind} records (the name exists)")),
        ),
        (true, false) => (
            "nxdomain",
            Value::from("the name does not exist (NXDOMAIN)"),
        ),
    };
    let answers: Vec<Value> = answers
        .iter()
        .map(|a| json!({"address": a, "ttl": 300}))
        .collect();
    json!({
        "record_type": kind,
        "outcome": outcome,
        "answers": answers,
        "cname_chain": [],
        "server": "10.0.0.53:53",
        "ms": 4.2,
        "message": message,
    })
}

/// The TCP and TLS of a target of `name` (of a legacy entry when `legacy`).
fn target(
    situation: Situation,
    name: &str,
    legacy: bool,
    target: &egresscheck::probe::targets::Target,
) -> Value {
    let address = target.address.to_string();
    let maskinporten = name.ends_with("maskinporten.no");
    let tcp = |state: &str, message: Option<&str>| {
        json!({"state": state, "ms": if state == "open" { 11.8 } else { 5000.0 },
               "message": message, "proxy_status": null})
    };
    let (tcp, tls) = match situation {
        // The retired hosts' addresses: dropped, as they should be.
        _ if legacy => (tcp("filtered", Some("no answer within 5s")), Value::Null),
        Situation::BlockedRefusedExpired if address == "20.100.51.138" => {
            (tcp("filtered", Some("no answer within 5s")), Value::Null)
        }
        Situation::BlockedRefusedExpired if address == "51.13.43.236" => (
            tcp("refused", Some("Connection refused (os error 111)")),
            Value::Null,
        ),
        Situation::BlockedRefusedExpired if name == "test.maskinporten.no" => (
            tcp("open", None),
            tls(expired_chain(name), false, false, true),
        ),
        Situation::Intercepted if !maskinporten => {
            let matches = MIDDLEBOX_SANS.contains(&name);
            (
                tcp("open", None),
                tls(middlebox_chain(), false, true, matches),
            )
        }
        _ => (
            tcp("open", None),
            tls(genuine_chain(name), true, true, true),
        ),
    };
    json!({
        "address": address,
        "port": target.port.get(),
        "origin": serde_json::to_value(target.origin).expect("an origin"),
        "proxy": null,
        "tcp": tcp,
        "tls": tls,
    })
}

fn tls(chain: Value, public: bool, system: bool, name_ok: bool) -> Value {
    let expired = chain[0]["not_after"]
        .as_str()
        .is_some_and(|end| end < super::scenario::AS_OF);
    json!({
        "ok": true,
        "error": null,
        "failure": null,
        "timed_out": false,
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "kx_group": "X25519",
        "alpn": null,
        "ms": 23.5,
        "ocsp_stapled": false,
        "trusted_public": public,
        "trusted_system": system,
        "public_error": if public { Value::Null } else if expired { Value::from("invalid peer certificate: Expired") } else { Value::from("invalid peer certificate: UnknownIssuer") },
        "system_error": if system { Value::Null } else if expired { Value::from("invalid peer certificate: Expired") } else { Value::from("invalid peer certificate: UnknownIssuer") },
        // Anchored apart from the dates: only an expired certificate is anchored and not
        // trusted.
        "anchored_public": public || expired,
        "anchored_system": system || expired,
        "hostname_match": name_ok,
        "name_error": if name_ok { Value::Null } else { Value::from("certificate not valid for name") },
        "chain": chain,
    })
}

fn cert(subject: &str, issuer: &str, sans: &[&str], from: &str, to: &str, sha: char) -> Value {
    json!({
        "subject": subject,
        "issuer": issuer,
        "sans": sans,
        "serial": "0a1b2c3d4e5f",
        "not_before": format!("{from}T00:00:00Z"),
        "not_after": format!("{to}T00:00:00Z"),
        "sha256": sha.to_string().repeat(64),
        "key_algorithm": "RSA 2048",
        "signature_algorithm": "sha256WithRSAEncryption",
    })
}

/// The provider's certificates: one per wildcard or host, from a public CA.
fn genuine_chain(name: &str) -> Value {
    let base = name.split_once('.').map_or(name, |(_, rest)| rest);
    let san = if name.ends_with("maskinporten.no") || name.ends_with(".sits.no") {
        name.to_owned()
    } else {
        format!("*.{base}")
    };
    let sha = match base {
        "api.skatteetaten.no" => 'a',
        "api.skatteetaten-test.no" => 'b',
        _ => 'c',
    };
    json!([
        cert(
            &format!("CN={san}"),
            "CN=Buypass Class 3 CA G2, O=Buypass AS-983163327, C=NO",
            &[&san],
            "2026-03-01",
            "2027-03-01",
            sha
        ),
        buypass_intermediate(),
    ])
}

/// The public CA's intermediate that every genuine chain of the scenario ends with.
fn buypass_intermediate() -> Value {
    cert(
        "CN=Buypass Class 3 CA G2, O=Buypass AS-983163327, C=NO",
        "CN=Buypass Class 3 Root CA G2, O=Buypass AS-983163327, C=NO",
        &[],
        "2020-01-01",
        "2030-01-01",
        'd',
    )
}

/// The middlebox's one certificate, issued by the corporate inspection CA.
fn middlebox_chain() -> Value {
    json!([
        cert(
            "CN=proxy.corp.example",
            "CN=Example Corp Inspection CA, O=Example Corp",
            &MIDDLEBOX_SANS,
            "2026-06-01",
            "2027-06-01",
            'e'
        ),
        cert(
            "CN=Example Corp Inspection CA, O=Example Corp",
            "CN=Example Corp Inspection CA, O=Example Corp",
            &[],
            "2024-01-01",
            "2034-01-01",
            'f'
        ),
    ])
}

/// Maskinporten's test certificate, expired in the spring.
fn expired_chain(name: &str) -> Value {
    json!([
        cert(
            &format!("CN={name}"),
            "CN=Buypass Class 3 CA G2, O=Buypass AS-983163327, C=NO",
            &[name],
            "2025-04-01",
            "2026-04-01",
            '9'
        ),
        buypass_intermediate(),
    ])
}
