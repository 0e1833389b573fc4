//! The report of a `check` run: targets with their context, findings, verdict, and the
//! drift since a baseline (an earlier JSON report).
//!
//! Building it is pure (the caller passes the as-of date and the measured duration); the
//! renderers in [`crate::output`] only format it. The baseline reader accepts exactly the
//! current JSON schema: a report from another version, or a damaged file, is a clear error,
//! never a silent "no drift".

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::audit::{self, AuditOptions, Code, Finding, Severity, TargetRow};
use crate::catalog::{Catalog, DnsName};
use crate::plan::{EntryKind, Plan};
use crate::probe::model::{NameObservation, TcpState};

/// Version of the `check --format json` schema (also the baseline format).
pub const REPORT_SCHEMA: u32 = 1;

/// Largest baseline file read. A report of thousands of targets is a few megabytes.
pub const MAX_BASELINE_BYTES: usize = 64 * 1024 * 1024;

/// Everything a renderer needs.
///
/// The target rows, and the findings per environment and host, are worked out once when
/// the report is built, so renderers look them up instead of scanning: a report of
/// thousands of targets renders in time proportional to its size.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// The catalog checked.
    pub catalog: &'a Catalog,
    /// The plan probed.
    pub plan: &'a Plan,
    /// What the probe saw.
    pub observations: &'a [NameObservation],
    /// The date findings are judged at.
    pub as_of: NaiveDate,
    /// Wall time of the probe, seconds.
    pub duration_seconds: f64,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// Worst severity.
    pub verdict: Severity,
    rows: Vec<TargetRow<'a>>,
    /// For each planned name (by index in `plan.names`), its rows.
    row_ranges: Vec<Range<usize>>,
    by_name: HashMap<&'a DnsName, &'a NameObservation>,
    /// Indices into `findings` per environment, then host.
    findings_by_host: HashMap<String, HashMap<String, Vec<usize>>>,
}

impl<'a> Report<'a> {
    /// Audits the observations and adds drift findings against `baseline`.
    pub fn build(
        catalog: &'a Catalog,
        plan: &'a Plan,
        observations: &'a [NameObservation],
        as_of: NaiveDate,
        options: &AuditOptions,
        baseline: Option<&Baseline>,
        duration_seconds: f64,
    ) -> Self {
        let mut findings = audit::audit(catalog, plan, observations, as_of, options);
        let (rows, row_ranges) = audit::grouped_target_rows(plan, observations, catalog);
        if let Some(baseline) = baseline {
            findings.extend(drift(baseline, &rows));
            audit::sort(&mut findings);
        }
        let verdict = audit::verdict(&findings);
        let mut findings_by_host: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        for (i, finding) in findings.iter().enumerate() {
            if let (Some(env), Some(host)) = (&finding.environment, &finding.host) {
                findings_by_host
                    .entry(env.clone())
                    .or_default()
                    .entry(host.clone())
                    .or_default()
                    .push(i);
            }
        }
        Report {
            catalog,
            plan,
            observations,
            as_of,
            duration_seconds,
            findings,
            verdict,
            rows,
            row_ranges,
            by_name: audit::observations_by_name(observations),
            findings_by_host,
        }
    }

    /// The probed targets with their catalog context, in plan order.
    pub fn rows(&self) -> &[TargetRow<'a>] {
        &self.rows
    }

    /// The rows of the planned name at `index` in `plan.names`.
    pub fn rows_of(&self, index: usize) -> &[TargetRow<'a>] {
        self.row_ranges
            .get(index)
            .and_then(|range| self.rows.get(range.clone()))
            .unwrap_or_default()
    }

    /// What the probe saw for `name`.
    pub fn observation(&self, name: &DnsName) -> Option<&'a NameObservation> {
        self.by_name.get(name).copied()
    }

    /// Findings about one environment and host, in report order.
    pub fn findings_for_host(
        &self,
        environment: &str,
        host: &str,
    ) -> impl Iterator<Item = &Finding> {
        self.findings_by_host
            .get(environment)
            .and_then(|hosts| hosts.get(host))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.findings.get(i))
    }

    /// Findings about one target row.
    pub fn findings_for(&self, row: &TargetRow<'_>) -> impl Iterator<Item = &Finding> {
        let address = row.target.address;
        let port = row.target.port.get();
        self.findings_for_host(row.planned.environment.as_str(), row.planned.name.as_str())
            .filter(move |f| {
                (f.address.is_none() || f.address == address)
                    && (f.port.is_none() || f.port == Some(port))
            })
    }

    /// Number of findings per severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Whether the run is a failure for the exit code (`strict`: warnings count too).
    pub fn failed(&self, strict: bool) -> bool {
        match self.verdict {
            Severity::Fail => true,
            Severity::Warn => strict,
            Severity::Info => false,
        }
    }
}

/// (environment, host, address, port) of a target.
pub type TargetKey = (String, String, IpAddr, u16);
/// TCP state and leaf certificate SHA-256 of a target.
pub type TargetState = (TcpState, Option<String>);

/// What a baseline (an earlier JSON report) says, reduced to what drift needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// Addresses DNS returned per (environment, host).
    pub addresses: BTreeMap<(String, String), BTreeSet<IpAddr>>,
    /// Per (environment, host, address, port): TCP state and leaf certificate fingerprint.
    pub targets: BTreeMap<TargetKey, TargetState>,
}

/// Why a baseline cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file could not be read.
    #[error("{file}: cannot read the baseline: {source}")]
    Read {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a JSON report of this schema.
    #[error(
        "{file}: not a usable baseline: {reason}; write a new one with `egresscheck check --save {file}`"
    )]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
struct BaselineJson {
    tool: BaselineTool,
    targets: Vec<BaselineTarget>,
}

#[derive(Deserialize)]
struct BaselineTool {
    name: String,
}

#[derive(Deserialize)]
struct BaselineTarget {
    environment: String,
    host: String,
    address: Option<IpAddr>,
    port: u16,
    #[serde(default)]
    origin: Option<String>,
    tcp: BaselineTcp,
    tls: Option<BaselineTls>,
}

#[derive(Deserialize)]
struct BaselineTcp {
    state: TcpState,
}

#[derive(Deserialize)]
struct BaselineTls {
    #[serde(default)]
    chain: Vec<BaselineCert>,
}

#[derive(Deserialize)]
struct BaselineCert {
    sha256: String,
}

impl Baseline {
    /// Reads a baseline from a JSON report's bytes.
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Baseline, BaselineError> {
        let invalid = |reason: String| BaselineError::Invalid {
            file: file.to_owned(),
            reason,
        };
        if bytes.len() > MAX_BASELINE_BYTES {
            return Err(invalid(format!("larger than {MAX_BASELINE_BYTES} bytes")));
        }
        // Read the schema first, so that a report of another version says so instead of
        // failing on a field it lacks.
        #[derive(Deserialize)]
        struct SchemaOnly {
            schema: Option<serde_json::Value>,
        }
        let probe: SchemaOnly =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("damaged JSON ({e})")))?;
        match probe.schema.as_ref().and_then(serde_json::Value::as_u64) {
            Some(n) if n == u64::from(REPORT_SCHEMA) => {}
            Some(n) => {
                return Err(invalid(format!(
                    "it is a report of schema {n}; this version reads schema {REPORT_SCHEMA}"
                )));
            }
            None => {
                return Err(invalid(
                    "it has no `schema` number; is it an `egresscheck check --format json` report?"
                        .to_owned(),
                ));
            }
        }
        let json: BaselineJson =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("damaged report ({e})")))?;
        if json.tool.name != "egresscheck" {
            return Err(invalid(format!(
                "it was written by {:?}, not egresscheck",
                json.tool.name
            )));
        }
        let mut baseline = Baseline::default();
        for t in json.targets {
            let Some(address) = t.address else { continue };
            if matches!(t.origin.as_deref(), Some("dns" | "dns-and-documented")) {
                baseline
                    .addresses
                    .entry((t.environment.clone(), t.host.clone()))
                    .or_default()
                    .insert(address);
            }
            let sha = t
                .tls
                .and_then(|tls| tls.chain.into_iter().next())
                .map(|c| c.sha256);
            baseline
                .targets
                .insert((t.environment, t.host, address, t.port), (t.tcp.state, sha));
        }
        Ok(baseline)
    }
}

/// Drift findings between a baseline and this run's rows.
pub fn drift(baseline: &Baseline, rows: &[TargetRow<'_>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut now: BTreeMap<(String, String), BTreeSet<IpAddr>> = BTreeMap::new();
    let mut context: BTreeMap<(String, String), String> = BTreeMap::new();
    for row in rows {
        let key = (
            row.planned.environment.to_string(),
            row.planned.name.to_string(),
        );
        context.insert(key.clone(), row.planned.service.to_string());
        if let Some(addr) = row.target.address.filter(|_| audit::from_dns(row.target)) {
            now.entry(key).or_default().insert(addr);
        }
    }
    let finding = |code: Code, key: &(String, String), address, port, message| Finding {
        code,
        severity: code.severity(),
        environment: Some(key.0.clone()),
        service: context.get(key).cloned(),
        host: Some(key.1.clone()),
        address,
        port,
        message,
    };
    for (key, current) in &now {
        let Some(before) = baseline.addresses.get(key) else {
            continue;
        };
        for added in current.difference(before) {
            findings.push(finding(Code::AddressAdded, key, Some(*added), None, format!(
                "{} now resolves to {added}, which it did not in the baseline: make sure the firewall lets it through", key.1
            )));
        }
        for removed in before.difference(current) {
            findings.push(finding(
                Code::AddressRemoved,
                key,
                Some(*removed),
                None,
                format!(
                    "{} no longer resolves to {removed} (it did in the baseline)",
                    key.1
                ),
            ));
        }
    }
    for row in rows {
        let Some(address) = row.target.address else {
            continue;
        };
        let key = (
            row.planned.environment.to_string(),
            row.planned.name.to_string(),
        );
        let Some((state, sha)) =
            baseline
                .targets
                .get(&(key.0.clone(), key.1.clone(), address, row.target.port.get()))
        else {
            continue;
        };
        if *state != row.target.tcp.state {
            findings.push(finding(
                Code::ReachabilityChanged,
                &key,
                Some(address),
                Some(row.target.port.get()),
                format!(
                    "{} ({address}) port {}: TCP was {} in the baseline, now {}",
                    key.1,
                    row.target.port,
                    tcp_state_name(*state),
                    tcp_state_name(row.target.tcp.state)
                ),
            ));
        }
        let now_sha = row
            .target
            .tls
            .as_ref()
            .and_then(|t| t.chain.first())
            .map(|c| c.sha256.as_str());
        if let (Some(before), Some(now_sha)) = (sha.as_deref(), now_sha)
            && before != now_sha
        {
            {
                findings.push(finding(Code::CertificateChanged, &key, Some(address), Some(row.target.port.get()), format!(
                    "{} ({address}) port {}: the certificate changed since the baseline (SHA-256 {} → {})",
                    key.1, row.target.port, short(before), short(now_sha)
                )));
            }
        }
    }
    // Legacy entries are judged by their sunset, not by drift.
    let legacy: HashSet<&str> = rows
        .iter()
        .filter(|r| r.planned.kind == EntryKind::Legacy)
        .map(|r| r.planned.name.as_str())
        .collect();
    findings.retain(|f| !f.host.as_deref().is_some_and(|host| legacy.contains(host)));
    findings
}

fn short(sha: &str) -> &str {
    sha.get(..16).unwrap_or(sha)
}

/// The JSON name of a TCP state, as in reports.
pub fn tcp_state_name(state: TcpState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{state:?}"))
}

/// Why a rule is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeedReason {
    /// The connect timed out.
    Blocked,
    /// The connect was refused.
    Refused,
    /// No route, or an ICMP prohibition.
    Unreachable,
    /// DNS returned an address the table does not document for the environment.
    Undocumented,
}

/// One opening this run found missing: a rule the firewall needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct NeededRule {
    /// Environment.
    pub environment: String,
    /// Service.
    pub service: String,
    /// The name probed.
    pub host: String,
    /// The address (a /32 or /128), absent for a host-name rule.
    pub address: Option<std::net::IpAddr>,
    /// The host pattern of the catalog entry, for FQDN-capable firewalls.
    pub pattern: String,
    /// `tcp`.
    pub protocol: &'static str,
    /// Port.
    pub port: u16,
    /// Why.
    pub reasons: Vec<NeedReason>,
    /// True when the address is outside the table (the provider moved it without notice).
    pub undocumented: bool,
}

/// The openings this run found missing, in plan order: every target that was blocked,
/// refused or unreachable, and every DNS answer outside the table (which rules built from the
/// table would block, whatever this run saw). Legacy hosts past their sunset need none.
pub fn rules_needed(report: &Report<'_>) -> Vec<NeededRule> {
    let mut needed: Vec<NeededRule> = Vec::new();
    let mut seen: HashSet<NeededRule> = HashSet::new();
    for row in report.rows() {
        if row.planned.kind == EntryKind::Legacy
            && report
                .catalog
                .legacy
                .iter()
                .any(|l| l.host == row.planned.name && l.is_past_sunset(report.as_of))
        {
            continue;
        }
        let Some(address) = row.target.address else {
            continue;
        };
        let mut reasons = Vec::new();
        match row.target.tcp.state {
            TcpState::Filtered => reasons.push(NeedReason::Blocked),
            TcpState::Refused => reasons.push(NeedReason::Refused),
            TcpState::Unreachable => reasons.push(NeedReason::Unreachable),
            _ => {}
        }
        let undocumented = !row.documented && audit::from_dns(row.target);
        if undocumented {
            reasons.push(NeedReason::Undocumented);
        }
        if reasons.is_empty() {
            continue;
        }
        let rule = NeededRule {
            environment: row.planned.environment.to_string(),
            service: row.planned.service.to_string(),
            host: row.planned.name.to_string(),
            address: Some(address),
            pattern: row.planned.pattern.to_string(),
            protocol: "tcp",
            port: row.target.port.get(),
            reasons,
            undocumented,
        };
        if seen.insert(rule.clone()) {
            needed.push(rule);
        }
    }
    needed
}

/// The needed rules as entries of a rule set, for any firewall dialect: each address, and
/// the host pattern of its entry for FQDN-capable dialects.
pub fn needed_entries(report: &Report<'_>, needed: &[NeededRule]) -> Vec<crate::rules::Entry> {
    use crate::rules::{Destination, Entry};
    let mut entries = Vec::new();
    let mut planned_by_host: HashMap<(&str, &str), &crate::plan::PlannedName> = HashMap::new();
    for planned in &report.plan.names {
        planned_by_host
            .entry((planned.environment.as_str(), planned.name.as_str()))
            .or_insert(planned);
    }
    for rule in needed {
        let Some(planned) = planned_by_host
            .get(&(rule.environment.as_str(), rule.host.as_str()))
            .copied()
        else {
            continue;
        };
        let Ok(port) = crate::catalog::Port::try_from(rule.port) else {
            continue;
        };
        let why: Vec<&str> = rule
            .reasons
            .iter()
            .map(|r| match r {
                NeedReason::Blocked => "blocked",
                NeedReason::Refused => "refused",
                NeedReason::Unreachable => "unreachable",
                NeedReason::Undocumented => "DNS answer outside the table",
            })
            .collect();
        let comment = format!("{} on {}", why.join(", "), report.as_of);
        let base = |destination| Entry {
            environment: planned.environment.clone(),
            service: planned.service.clone(),
            destination,
            protocol: crate::catalog::Protocol::Tcp,
            port,
            host: Some(planned.pattern.clone()),
            comment: Some(comment.clone()),
            expires: None,
        };
        if let Some(address) = rule.address {
            entries.push(base(Destination::Prefix(ipnet::IpNet::from(address))));
        }
        let names = match &planned.pattern {
            crate::catalog::HostPattern::Wildcard(_) => vec![planned.name.clone()],
            crate::catalog::HostPattern::Exact(name) => vec![name.clone()],
        };
        entries.push(base(Destination::Host {
            pattern: planned.pattern.clone(),
            names,
        }));
    }
    entries
}
