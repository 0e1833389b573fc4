//! The audit: from the catalog, the plan, what the probe observed and an as-of date to
//! findings. Pure: same inputs, same findings; no clock, no I/O.
//!
//! Each finding has a stable code (public interface: scripts, alert rules and dashboards
//! match on it), a severity, the target it concerns and one sentence an admin can act on.
//! The verdict of a run is the worst severity found. What a failed handshake and its control
//! handshakes say is judged in [`handshake`], what the HTTP check and the server's clock say
//! in [`http`], a broken IPv6 path next to a working IPv4 one in [`family`].

mod cut;
mod dns;
mod legacy;
mod membership;

pub use dns::nothing_resolved;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub mod token;

use crate::catalog::{AddressIndex, Catalog, DnsName, Port};
use crate::plan::{EntryKind, Plan, PlannedName};
use crate::probe::model::{
    AddressOrigin, DnsOutcome, NameObservation, TargetObservation, TcpState, TlsObservation,
};

/// How much a finding matters. Ordered: the verdict is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never changes the exit code.
    Info,
    /// Needs attention; exit 0 unless `--strict`.
    Warn,
    /// Broken: exit 1.
    Fail,
}

impl Severity {
    /// Lowercase name, as in JSON and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

mod family;
mod handshake;
mod http;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, $severity:ident; )*) => {
        /// Stable finding codes (public interface; never renamed).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Code {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )*
        }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The kebab-case code.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $text, )* }
            }

            /// The severity findings of this code have (a property of the code, so that
            /// alert rules can rely on it).
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }
        }
    };
}

codes! {
    /// A name did not resolve (NXDOMAIN, no records, SERVFAIL, refused, timeout).
    DnsFailure = "dns-failure", Fail;
    /// A DNS answer outside every documented address, prefix and subnet of the environment.
    UndocumentedAddress = "undocumented-address", Fail;
    /// A DNS answer documented for another environment only.
    WrongEnvironment = "wrong-environment", Fail;
    /// A documented single address that DNS did not return (it is probed anyway).
    DocumentedAddressNotInDns = "documented-address-not-in-dns", Info;
    /// DNS returned more addresses than are probed per name.
    AddressesCapped = "addresses-capped", Warn;
    /// TCP connect timed out: something drops the packets.
    Blocked = "blocked", Fail;
    /// TCP connect was actively refused.
    Refused = "refused", Fail;
    /// No route, or an ICMP prohibition.
    Unreachable = "unreachable", Fail;
    /// The proxy refused, wanted credentials, failed or timed out.
    ProxyDenied = "proxy-denied", Fail;
    /// TCP connected but the TLS handshake failed.
    TlsFailure = "tls-failure", Fail;
    /// The run's deadline (`--deadline`, a scrape's timeout) ended a target's probe or a
    /// name's lookup before the network answered: the path is not verified, and nothing is
    /// concluded about it.
    CutShort = "cut-short", Fail;
    /// The handshake for the name got no ServerHello while the same address answered a
    /// control ClientHello (no SNI, a control name): a device blocks TLS by SNI.
    SniFiltered = "sni-filtered", Fail;
    /// The server only speaks TLS below 1.2.
    TlsOutdated = "tls-outdated", Fail;
    /// The chain is trusted neither by Mozilla's roots nor by the system store.
    CertificateUntrusted = "certificate-untrusted", Fail;
    /// The chain is trusted only through the system store: a middlebox re-signs TLS.
    TlsIntercepted = "tls-intercepted", Fail;
    /// The certificate is not valid for the name.
    CertificateNameMismatch = "certificate-name-mismatch", Fail;
    /// The certificate has expired.
    CertificateExpired = "certificate-expired", Fail;
    /// The certificate is not valid yet.
    CertificateNotYetValid = "certificate-not-yet-valid", Fail;
    /// The certificate expires within `--cert-warn-days`.
    CertificateExpiring = "certificate-expiring", Warn;
    /// The HTTP check got the wrong status, a proxy's block page, an answer without the
    /// expected header or JSON key, or no complete answer.
    HttpUnexpected = "http-unexpected", Fail;
    /// This host's clock differs from the server's (its HTTP `Date`) by more than
    /// `--clock-skew-fail` (fail) or `--clock-skew-warn` (warn): the one code whose severity
    /// depends on the size of what was found.
    ClockSkew = "clock-skew", Fail;
    /// A name with A and AAAA answers whose IPv6 targets all fail while IPv4 works: clients
    /// that prefer IPv6 wait for their fallback or fail.
    Ipv6Broken = "ipv6-broken", Warn;
    /// A legacy host still resolves or answers after its sunset: its rules can go.
    LegacySunsetPassed = "legacy-sunset-passed", Warn;
    /// A legacy host's sunset is within 30 days: migrate.
    LegacySunsetSoon = "legacy-sunset-soon", Warn;
    /// The provider's page the data comes from is older than `--stale-days`.
    DataStale = "data-stale", Info;
    /// Drift since the baseline: a name resolves to an address it did not before.
    AddressAdded = "address-added", Warn;
    /// Drift since the baseline: a name no longer resolves to an address it did before.
    AddressRemoved = "address-removed", Info;
    /// Drift since the baseline: a target presents another certificate.
    CertificateChanged = "certificate-changed", Info;
    /// Drift since the baseline: a target's TCP state changed.
    ReachabilityChanged = "reachability-changed", Warn;
    /// The `--baseline` file cannot be used (damaged, unreadable, of an unknown schema): no
    /// drift this run.
    BaselineUnusable = "baseline-unusable", Fail;
    /// Drift since the baseline: a name that did not resolve resolves now.
    NameResolves = "name-resolves", Info;
    /// Drift since the baseline: a name that resolved no longer does.
    NameStoppedResolving = "name-stopped-resolving", Warn;
    /// Drift since the baseline: a name still does not resolve, with another outcome.
    DnsOutcomeChanged = "dns-outcome-changed", Info;
    /// Drift since the baseline: a target is probed that was not, and no address or
    /// resolution change explains it.
    TargetAppeared = "target-appeared", Info;
    /// Drift since the baseline: a target is no longer probed, and no address or resolution
    /// change explains it.
    TargetVanished = "target-vanished", Info;
    /// Drift since the baseline: a target's TLS state changed (trusted, intercepted,
    /// untrusted, valid for the name, or how the handshake failed).
    TlsTrustChanged = "tls-trust-changed", Warn;
    /// Drift since the baseline: a target negotiates an older TLS version.
    TlsDowngraded = "tls-downgraded", Warn;
    /// Drift since the baseline: a target negotiates another TLS version, not older.
    TlsVersionChanged = "tls-version-changed", Info;
    /// A DNS answer the table documents for the environment only inside a subnet: the
    /// default `rules --scope addresses` does not open it.
    SubnetOnlyAddress = "subnet-only-address", Warn;
    /// A DNS answer that rules open only through a marked broad prefix, which opens more
    /// services than the name's.
    BroadPrefix = "broad-prefix", Info;
    /// The token step got a token with the scopes asked for.
    TokenOk = "token-ok", Info;
    /// The authorization server refused the token request (its error, with advice).
    TokenDenied = "token-denied", Fail;
    /// A scope asked for is not in the token, or the server refused it (`invalid_scope`).
    TokenScopeMissing = "token-scope-missing", Fail;
    /// The token has an audience the provider's APIs do not expect (a `resource` was sent).
    TokenAudienceSet = "token-audience-set", Fail;
    /// The enterprise certificate belongs to another environment (production in test, or
    /// the reverse).
    CertificateWrongEnvironment = "certificate-wrong-environment", Fail;
    /// The key or certificate cannot sign a grant: key usage, a key that is not RSA or too
    /// short, or a key that is not the certificate's.
    CertificateNotForSigning = "certificate-not-for-signing", Fail;
    /// The authorization server's metadata or token endpoint could not be reached or read.
    AuthorizationServerUnreachable = "authorization-server-unreachable", Fail;
    /// The client's key or keystore cannot be read (wrong password, damaged, wrong format).
    ClientKeyUnusable = "client-key-unusable", Fail;
    /// A file holding key material or a password is readable by others on this host.
    KeyFileReadable = "key-file-readable", Warn;
}

impl Code {
    /// Every severity findings of this code can have, least first: the code's own, and for
    /// `clock-skew` also `warn` (a skew between the two thresholds).
    pub fn severities(self) -> &'static [Severity] {
        match self {
            Code::ClockSkew => &[Severity::Warn, Severity::Fail],
            other => match other.severity() {
                Severity::Info => &[Severity::Info],
                Severity::Warn => &[Severity::Warn],
                Severity::Fail => &[Severity::Fail],
            },
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// Severity.
    pub severity: Severity,
    /// Environment id, when the finding concerns one.
    pub environment: Option<String>,
    /// Service id, when the finding concerns one.
    pub service: Option<String>,
    /// Host name, when the finding concerns one.
    pub host: Option<String>,
    /// Address, when the finding concerns one.
    pub address: Option<IpAddr>,
    /// Port, when the finding concerns one.
    pub port: Option<u16>,
    /// One sentence an admin can act on.
    pub message: String,
}

/// Thresholds of the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditOptions {
    /// Warn when a certificate expires within this many days (`--cert-warn-days`).
    pub cert_warn_days: i64,
    /// Report the data as stale when its source page is older than this (`--stale-days`).
    pub stale_days: i64,
    /// Warn this many days before a legacy sunset.
    pub sunset_warn_days: i64,
    /// `clock-skew` warns when the server's clock is at least this far from ours
    /// (`--clock-skew-warn`).
    pub clock_skew_warn: Duration,
    /// `clock-skew` fails when the server's clock is at least this far from ours
    /// (`--clock-skew-fail`).
    pub clock_skew_fail: Duration,
}

/// Default of `--cert-warn-days`.
pub const DEFAULT_CERT_WARN_DAYS: i64 = 21;
/// Default of `--stale-days`.
pub const DEFAULT_STALE_DAYS: i64 = 365;
/// Days before a legacy sunset at which `legacy-sunset-soon` starts.
pub const SUNSET_WARN_DAYS: i64 = 30;
/// Default of `--clock-skew-warn`: 5 s.
pub const DEFAULT_CLOCK_SKEW_WARN: Duration = Duration::from_secs(5);
/// Default of `--clock-skew-fail`: 10 s, Maskinporten's limit for a JWT grant's `iat`
/// (Digdir's JWT grant specification).
pub const DEFAULT_CLOCK_SKEW_FAIL: Duration = Duration::from_secs(10);
/// Smallest accepted clock-skew threshold: 1 s (the resolution of HTTP's `Date`).
pub const MIN_CLOCK_SKEW: Duration = Duration::from_secs(1);
/// Largest accepted clock-skew threshold: 1 hour.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(3600);

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            cert_warn_days: DEFAULT_CERT_WARN_DAYS,
            stale_days: DEFAULT_STALE_DAYS,
            sunset_warn_days: SUNSET_WARN_DAYS,
            clock_skew_warn: DEFAULT_CLOCK_SKEW_WARN,
            clock_skew_fail: DEFAULT_CLOCK_SKEW_FAIL,
        }
    }
}

/// A threshold outside its range, or the warning threshold above the failing one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {value}: {reason}")]
pub struct AuditOptionsError {
    /// The flag.
    pub flag: &'static str,
    /// The value given.
    pub value: String,
    /// What is allowed.
    pub reason: String,
}

impl AuditOptions {
    /// Checks the clock-skew thresholds against their range and each other.
    pub fn validate(&self) -> Result<(), AuditOptionsError> {
        let shown = |d: Duration| crate::probe::options::Millis(d).to_string();
        for (flag, value) in [
            ("--clock-skew-warn", self.clock_skew_warn),
            ("--clock-skew-fail", self.clock_skew_fail),
        ] {
            if value < MIN_CLOCK_SKEW || value > MAX_CLOCK_SKEW {
                return Err(AuditOptionsError {
                    flag,
                    value: shown(value),
                    reason: format!(
                        "must be between {} and {}",
                        shown(MIN_CLOCK_SKEW),
                        shown(MAX_CLOCK_SKEW)
                    ),
                });
            }
        }
        if self.clock_skew_warn > self.clock_skew_fail {
            return Err(AuditOptionsError {
                flag: "--clock-skew-warn",
                value: shown(self.clock_skew_warn),
                reason: format!(
                    "must not exceed --clock-skew-fail ({})",
                    shown(self.clock_skew_fail)
                ),
            });
        }
        Ok(())
    }
}

/// One probed target in the context of the catalog entry it was planned for.
#[derive(Debug, Clone)]
pub struct TargetRow<'a> {
    /// The planned name and its entry.
    pub planned: &'a PlannedName,
    /// The DNS observation of the name.
    pub name: &'a NameObservation,
    /// The target.
    pub target: &'a TargetObservation,
    /// Whether the target's address is documented for the entry's environment.
    pub documented: bool,
}

/// Pairs every planned name with its observation and every target on the entry's ports. A
/// target is documented when the table documents its address for the entry's environment
/// as of `as_of` (legacy entries past their sunset document nothing).
pub fn target_rows<'a>(
    plan: &'a Plan,
    observations: &'a [NameObservation],
    catalog: &Catalog,
    as_of: NaiveDate,
) -> Vec<TargetRow<'a>> {
    grouped_target_rows(plan, observations, catalog, as_of).0
}

/// [`target_rows`], with, for each planned name (by its index in `plan.names`), the range of
/// its rows: the rows of one planned name are contiguous, in plan order.
pub fn grouped_target_rows<'a>(
    plan: &'a Plan,
    observations: &'a [NameObservation],
    catalog: &Catalog,
    as_of: NaiveDate,
) -> (Vec<TargetRow<'a>>, Vec<std::ops::Range<usize>>) {
    let by_name = observations_by_name(observations);
    let addresses = AddressIndex::as_of(catalog, as_of);
    let mut rows = Vec::new();
    let mut ranges = Vec::with_capacity(plan.names.len());
    for planned in &plan.names {
        let start = rows.len();
        if let Some(name) = by_name.get(&planned.name).copied() {
            for target in name
                .targets
                .iter()
                .filter(|t| planned.ports.contains(&t.port))
            {
                let documented = target
                    .address
                    .is_some_and(|a| addresses.environments(a).contains(&&planned.environment));
                rows.push(TargetRow {
                    planned,
                    name,
                    target,
                    documented,
                });
            }
        }
        ranges.push(start..rows.len());
    }
    (rows, ranges)
}

/// The observation of each name (the first, should a name appear twice), for lookups that
/// do not scan every observation.
pub fn observations_by_name(
    observations: &[NameObservation],
) -> HashMap<&DnsName, &NameObservation> {
    let mut by_name = HashMap::with_capacity(observations.len());
    for observation in observations {
        by_name.entry(&observation.name).or_insert(observation);
    }
    by_name
}

/// Audits one run. `observations` are the probe results for `plan.requests()`.
pub fn audit(
    catalog: &Catalog,
    plan: &Plan,
    observations: &[NameObservation],
    as_of: NaiveDate,
    options: &AuditOptions,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    data_staleness(catalog, as_of, options, &mut findings);
    let by_name = observations_by_name(observations);
    let tables = Tables {
        catalog,
        current: AddressIndex::as_of(catalog, as_of),
        ever: AddressIndex::new(catalog),
    };
    for planned in &plan.names {
        let Some(name) = by_name.get(&planned.name).copied() else {
            continue;
        };
        audit_name(&tables, planned, name, as_of, options, &mut findings);
    }
    sort(&mut findings);
    findings
}

/// Orders findings worst first, then by environment, host, address and port, so outputs
/// and snapshots are stable.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.environment.cmp(&b.environment))
            .then_with(|| a.host.cmp(&b.host))
            .then_with(|| a.address.cmp(&b.address))
            .then_with(|| a.port.cmp(&b.port))
            .then_with(|| a.code.cmp(&b.code))
    });
}

/// The verdict: the worst severity, `Info` for no findings.
pub fn verdict(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info)
}

/// The table a run is judged against: the catalog, its addresses as of the run's date, and
/// all of them (retired entries too).
struct Tables<'a> {
    catalog: &'a Catalog,
    current: AddressIndex<'a>,
    ever: AddressIndex<'a>,
}

struct Context<'a> {
    planned: &'a PlannedName,
}

impl Context<'_> {
    fn finding(
        &self,
        code: Code,
        address: Option<IpAddr>,
        port: Option<Port>,
        message: String,
    ) -> Finding {
        Finding::about(self.planned, code, address, port, message)
    }
}

impl Finding {
    /// A finding about a planned name (and an address and port of it, when given), with the
    /// code's severity.
    pub fn about(
        planned: &PlannedName,
        code: Code,
        address: Option<IpAddr>,
        port: Option<Port>,
        message: String,
    ) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            environment: Some(planned.environment.to_string()),
            service: Some(planned.service.to_string()),
            host: Some(planned.name.to_string()),
            address,
            port: port.map(Port::get),
            message,
        }
    }

    /// A finding about the run as a whole (the data, the baseline), with the code's
    /// severity.
    pub fn general(code: Code, message: String) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            environment: None,
            service: None,
            host: None,
            address: None,
            port: None,
            message,
        }
    }
}

fn data_staleness(
    catalog: &Catalog,
    as_of: NaiveDate,
    options: &AuditOptions,
    findings: &mut Vec<Finding>,
) {
    let Some(source) = catalog.primary_source() else {
        return;
    };
    let Some(date) = source.document_date else {
        return;
    };
    let age = (as_of - date).num_days();
    if age > options.stale_days {
        findings.push(Finding::general(
            Code::DataStale,
            format!(
                "the data (version {}) follows {}'s page of {date}, {age} days old: check {} for changes (`egresscheck data check-source`)",
                catalog.data.version, source.publisher, source.url
            ),
        ));
    }
}

fn audit_name(
    tables: &Tables<'_>,
    planned: &PlannedName,
    name: &NameObservation,
    as_of: NaiveDate,
    options: &AuditOptions,
    findings: &mut Vec<Finding>,
) {
    let ctx = Context { planned };
    if planned.kind == EntryKind::Legacy
        && let Some(legacy) = tables
            .catalog
            .legacy
            .iter()
            .find(|l| l.host == planned.name && l.environment == planned.environment)
    {
        if legacy.is_past_sunset(as_of) {
            findings.extend(legacy::after_sunset(
                &ctx,
                name,
                legacy.sunset,
                &tables.current,
            ));
            // A retired host that is blocked or gone is as it should be: no more findings.
            return;
        }
        findings.extend(sunset_soon(&ctx, legacy, as_of, options));
    }
    if let Some(dns) = &name.dns {
        dns_findings(tables, &ctx, dns, findings);
    }
    for target in name
        .targets
        .iter()
        .filter(|t| planned.ports.contains(&t.port))
    {
        if let Some(cut) = cut::target(&ctx, target) {
            findings.push(cut);
            continue;
        }
        connectivity(&ctx, target, findings);
        if let Some(tls) = &target.tls {
            tls_findings(&ctx, target, tls, as_of, options, findings);
        }
        if let (Some(check), Some(http)) = (&planned.http, &target.http) {
            http::exchange_findings(&ctx, target, check, http, findings);
        }
    }
    http::clock_findings(&ctx, name, options, findings);
    family::ipv6_broken(&ctx, name, findings);
}

/// `legacy-sunset-soon` for a legacy host whose sunset is near.
fn sunset_soon(
    ctx: &Context<'_>,
    legacy: &crate::catalog::Legacy,
    as_of: NaiveDate,
    options: &AuditOptions,
) -> Option<Finding> {
    let days = (legacy.sunset - as_of).num_days();
    (days <= options.sunset_warn_days).then(|| {
        let instead = legacy
            .replaced_by
            .as_ref()
            .map(|r| format!(" to {r}"))
            .unwrap_or_default();
        ctx.finding(
            Code::LegacySunsetSoon,
            None,
            None,
            format!(
                "{} is retired on {} ({days} days): migrate{instead} before then",
                ctx.planned.name, legacy.sunset
            ),
        )
    })
}

/// What DNS said about a name: a failure, answers outside the table, documented addresses it
/// did not return, answers cut by the per-name cap.
fn dns_findings(
    tables: &Tables<'_>,
    ctx: &Context<'_>,
    dns: &crate::probe::model::DnsObservation,
    findings: &mut Vec<Finding>,
) {
    let planned = ctx.planned;
    if cut::lookup_cut(dns) {
        findings.push(cut::lookup(ctx));
    } else {
        findings.extend(dns::failure(ctx, dns));
    }
    let answered: Vec<IpAddr> = dns.addresses().collect();
    for addr in &answered {
        membership::check(
            tables.catalog,
            &tables.current,
            &tables.ever,
            ctx,
            *addr,
            findings,
        );
    }
    if dns.outcome() == DnsOutcome::Answer {
        for documented in planned.documented.iter().filter(|d| !answered.contains(d)) {
            if family_answered(dns, documented) {
                findings.push(ctx.finding(
                    Code::DocumentedAddressNotInDns,
                    Some(*documented),
                    None,
                    format!("{documented} is documented for {} but DNS did not return it; probed anyway", planned.name),
                ));
            }
        }
    }
    if dns.addresses_dropped > 0 {
        findings.push(ctx.finding(
            Code::AddressesCapped,
            None,
            None,
            format!(
                "DNS returned {} more addresses for {} than are probed per name; the rest were not checked",
                dns.addresses_dropped, planned.name
            ),
        ));
    }
}

fn family_answered(dns: &crate::probe::model::DnsObservation, addr: &IpAddr) -> bool {
    let lookup = if addr.is_ipv4() {
        dns.a.as_ref()
    } else {
        dns.aaaa.as_ref()
    };
    lookup.is_some()
}

pub(crate) fn outcome_text(outcome: DnsOutcome) -> &'static str {
    match outcome {
        DnsOutcome::Answer => "answer",
        DnsOutcome::Nxdomain => "NXDOMAIN",
        DnsOutcome::NoRecords => "no A or AAAA records",
        DnsOutcome::Servfail => "SERVFAIL",
        DnsOutcome::Refused => "REFUSED",
        DnsOutcome::Timeout => "timeout",
        DnsOutcome::Error => "error",
    }
}

pub(crate) fn target_label(target: &TargetObservation, host: &DnsName) -> String {
    match target.address {
        Some(addr) => format!("{host} ({addr}) port {}", target.port),
        None => format!("{host} port {}", target.port),
    }
}

fn connectivity(ctx: &Context<'_>, target: &TargetObservation, findings: &mut Vec<Finding>) {
    let label = target_label(target, &ctx.planned.name);
    let via = target
        .proxy
        .as_deref()
        .map(|p| format!(" via proxy {p}"))
        .unwrap_or_default();
    let (code, message) = match target.tcp.state {
        TcpState::Open => return,
        TcpState::Filtered => (
            Code::Blocked,
            format!(
                "{label}: no answer to the TCP connect before the timeout{via}; a firewall drops it: open tcp/{} to {}",
                target.port,
                target
                    .address
                    .map_or_else(|| ctx.planned.name.to_string(), |a| a.to_string())
            ),
        ),
        TcpState::Refused => (
            Code::Refused,
            format!(
                "{label}: connection refused{via}; nothing listens there, or a firewall rejects it with a TCP reset"
            ),
        ),
        TcpState::Unreachable => (
            Code::Unreachable,
            format!(
                "{label}: unreachable{via} ({}); check the route (is there an IPv6 route?) or a firewall that rejects with ICMP",
                target.tcp.message.as_deref().unwrap_or("no route")
            ),
        ),
        TcpState::ProxyDenied
        | TcpState::ProxyAuthRequired
        | TcpState::ProxyBadGateway
        | TcpState::ProxyUnavailable
        | TcpState::ProxyTimeout
        | TcpState::ProxyError => (
            Code::ProxyDenied,
            format!("{label}: {}", proxy_advice(target)),
        ),
        TcpState::Other => (
            Code::Unreachable,
            format!(
                "{label}: connect failed{via}: {}",
                target.tcp.message.as_deref().unwrap_or("unknown error")
            ),
        ),
    };
    findings.push(ctx.finding(code, target.address, Some(target.port), message));
}

fn proxy_advice(target: &TargetObservation) -> String {
    let proxy = target.proxy.as_deref().unwrap_or("the proxy");
    match target.tcp.state {
        TcpState::ProxyDenied => format!(
            "{proxy} denied the CONNECT (403): ask for this host and port to be allowed on the proxy"
        ),
        TcpState::ProxyAuthRequired => proxy_auth_advice(proxy, &target.tcp.proxy_auth),
        TcpState::ProxyBadGateway => format!(
            "{proxy} could not reach the target (502): the proxy's own egress is blocked or the name does not resolve there"
        ),
        TcpState::ProxyUnavailable => format!("{proxy} is unavailable (503)"),
        TcpState::ProxyTimeout => format!("{proxy} did not answer the CONNECT in time"),
        _ => format!(
            "{proxy} failed: {}",
            target.tcp.message.as_deref().unwrap_or("unexpected answer")
        ),
    }
}

/// What to do about a 407, by the schemes it offers: `Basic` is spoken (credentials in the
/// proxy URL); `Negotiate` and `NTLM` are detected, not spoken.
fn proxy_auth_advice(proxy: &str, schemes: &[String]) -> String {
    let offered = if schemes.is_empty() {
        "names no scheme".to_owned()
    } else {
        format!("asks for {}", schemes.join(", "))
    };
    let basic = schemes.iter().any(|s| crate::probe::proxy::auth::spoken(s));
    let other: Vec<&str> = schemes
        .iter()
        .filter(|s| !crate::probe::proxy::auth::spoken(s))
        .map(String::as_str)
        .collect();
    let what = if basic || schemes.is_empty() {
        "give Basic credentials in --proxy http://user:pass@host:port or HTTPS_PROXY (the integration needs them too)".to_owned()
    } else {
        format!(
            "egresscheck detects {} but does not speak it, nor do most server integrations: ask the proxy team to let this host through to the provider without authentication (an exception by source address), or put a local authenticating proxy in front (cntlm, px) and give that with --proxy",
            other.join(" and ")
        )
    };
    format!("{proxy} wants credentials (407) and {offered}: {what}")
}

fn tls_findings(
    ctx: &Context<'_>,
    target: &TargetObservation,
    tls: &TlsObservation,
    as_of: NaiveDate,
    options: &AuditOptions,
    findings: &mut Vec<Finding>,
) {
    let label = target_label(target, &ctx.planned.name);
    let port = Some(target.port);
    let push = |findings: &mut Vec<Finding>, code, message| {
        findings.push(ctx.finding(code, target.address, port, message));
    };
    if !tls.ok {
        let error =
            tls.error
                .as_deref()
                .unwrap_or(if tls.timed_out { "timed out" } else { "failed" });
        if tls.failure == Some(crate::probe::model::TlsFailure::ProtocolVersion) {
            push(
                findings,
                Code::TlsOutdated,
                format!(
                    "{label}: the server offers only TLS below 1.2 ({error}); it must support TLS 1.2 or 1.3"
                ),
            );
        } else {
            let (code, message) = handshake::failed_handshake(ctx, target, tls, &label);
            push(findings, code, message);
        }
        return;
    }
    let leaf = tls.chain.first();
    // Trust apart from the dates (which are judged below, as of the run's date): an expired
    // certificate of a public CA is only expired; one of a CA installed here only, or of no
    // known CA, is intercepted or untrusted as well.
    let public = tls.trusted_public || tls.anchored_public;
    let system = tls.trusted_system || tls.anchored_system;
    let stale =
        leaf.is_some_and(|c| c.not_after.date_naive() < as_of || c.not_before.date_naive() > as_of);
    if !public && system {
        let issuer = tls
            .chain
            .last()
            .map(|c| c.issuer.clone())
            .unwrap_or_else(|| "an unknown issuer".to_owned());
        let stale = if stale {
            " (and its certificate is out of date: a middlebox with a stale certificate)"
        } else {
            ""
        };
        push(
            findings,
            Code::TlsIntercepted,
            format!(
                "{label}: the certificate is trusted only through this machine's store, issued by {issuer}: TLS is intercepted by a middlebox{stale}. If that is sanctioned, declare its CA with --ca-file; else have the provider's hosts excluded from inspection"
            ),
        );
    } else if !public && !system {
        let reason = if stale {
            "no path to a root of either store, its dates aside"
        } else {
            tls.public_error.as_deref().unwrap_or("not trusted")
        };
        let issuer = leaf.map(|c| c.issuer.as_str()).unwrap_or("unknown");
        push(
            findings,
            Code::CertificateUntrusted,
            format!(
                "{label}: the certificate chain is not trusted ({reason}; issuer {issuer}): something other than the provider answers, or the chain is incomplete"
            ),
        );
    }
    if !tls.hostname_match {
        let sans = leaf.map(|c| c.sans.join(", ")).unwrap_or_default();
        push(
            findings,
            Code::CertificateNameMismatch,
            format!(
                "{label}: the certificate is not valid for {} (it names {sans})",
                ctx.planned.name
            ),
        );
    }
    if let Some(cert) = leaf {
        let days_left = (cert.not_after.date_naive() - as_of).num_days();
        if cert.not_after.date_naive() < as_of {
            push(
                findings,
                Code::CertificateExpired,
                format!(
                    "{label}: the certificate expired on {} ({} days ago)",
                    cert.not_after.format("%Y-%m-%d"),
                    -days_left
                ),
            );
        } else if cert.not_before.date_naive() > as_of {
            push(
                findings,
                Code::CertificateNotYetValid,
                format!(
                    "{label}: the certificate is valid only from {}; check this machine's clock",
                    cert.not_before.format("%Y-%m-%d")
                ),
            );
        } else if days_left <= options.cert_warn_days {
            push(
                findings,
                Code::CertificateExpiring,
                format!(
                    "{label}: the certificate expires on {} (in {days_left} days)",
                    cert.not_after.format("%Y-%m-%d")
                ),
            );
        }
    }
}

/// Days between `as_of` and a certificate's end, for tables and metrics.
pub fn days_left(not_after: chrono::DateTime<Utc>, as_of: NaiveDate) -> i64 {
    (not_after.date_naive() - as_of).num_days()
}

/// Whether a target counts as up: TCP open and, when TLS was tried, a completed handshake.
pub fn target_up(target: &TargetObservation) -> bool {
    target.tcp.state == TcpState::Open && target.tls.as_ref().is_none_or(|t| t.ok)
}

/// Whether the target's address came from DNS (as opposed to documented only).
pub fn from_dns(target: &TargetObservation) -> bool {
    matches!(
        target.origin,
        AddressOrigin::Dns | AddressOrigin::DnsAndDocumented
    )
}
