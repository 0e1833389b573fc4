//! The report of a `check` run: targets with their context, findings, verdict, and the
//! drift since a baseline (an earlier JSON report).
//!
//! Building it is pure (the caller passes the as-of date, the measured duration and the
//! baseline as read); the renderers in [`crate::output`] only format it. [`baseline`] reads
//! an earlier report back (schema 2 through [`document`], the types the report is written
//! with; schema 1 through [`schema1`]); a file that cannot be used is a finding of this
//! report, never the end of the run. [`drift`] compares the two runs.

pub mod baseline;
pub mod causes;
pub mod document;
pub mod drift;
pub mod explain;
mod schema1;
pub mod targets;

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use chrono::NaiveDate;

pub use baseline::{Baseline, BaselineError, BaselineState, MAX_BASELINE_BYTES};
pub use document::REPORT_SCHEMA;
pub use targets::{Summary, TargetState, Targets};

use crate::audit::{self, AuditOptions, Code, Finding, Severity, TargetRow};
use crate::catalog::{Catalog, DnsName};
use crate::plan::{EntryKind, Plan};
use crate::probe::model::{NameObservation, TcpState};

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
    /// What `--baseline` gave, when it was given.
    pub baseline: Option<BaselineNote>,
    /// The token step of `check --client`, when it ran.
    pub token: Option<crate::token::flow::TokenObservation>,
    /// `--label`s: where the run happened, carried into every output.
    pub labels: crate::labels::Labels,
    /// When the run ended, for the textfile output's `egresscheck_last_success_timestamp_seconds`
    /// (the command reads the clock, never a renderer); `None` leaves the metric out.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    rows: Vec<TargetRow<'a>>,
    /// For each planned name (by index in `plan.names`), its rows.
    row_ranges: Vec<Range<usize>>,
    by_name: HashMap<&'a DnsName, &'a NameObservation>,
    /// Indices into `findings` per environment, then host.
    findings_by_host: HashMap<String, HashMap<String, Vec<usize>>>,
    /// Which findings concern which target, each target's state and the counts.
    targets: Targets,
    /// The findings grouped by cause, worst first.
    causes: Vec<causes::Cause>,
    /// The findings the token step added (copies of some of `findings`).
    token_findings: Vec<Finding>,
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
        let (rows, row_ranges) = audit::grouped_target_rows(plan, observations, catalog, as_of);
        if let Some(baseline) = baseline {
            match &baseline.state {
                BaselineState::Read {
                    observations: before,
                    ..
                } => findings.extend(drift::drift(before, plan, observations)),
                BaselineState::Unusable { reason, kept_as } => {
                    findings.push(unusable(&baseline.file, reason, kept_as.as_deref()));
                }
                BaselineState::NotYet => {}
            }
            audit::sort(&mut findings);
        }
        let verdict = audit::verdict(&findings);
        let findings_by_host = index_by_host(&findings);
        let targets = Targets::attach(plan, &rows, &row_ranges, &findings);
        let mut report = Report {
            catalog,
            plan,
            observations,
            as_of,
            duration_seconds,
            findings,
            verdict,
            baseline: baseline.map(BaselineNote::of),
            token: None,
            labels: crate::labels::Labels::default(),
            finished_at: None,
            rows,
            row_ranges,
            by_name: audit::observations_by_name(observations),
            findings_by_host,
            targets,
            causes: Vec::new(),
            token_findings: Vec::new(),
        };
        report.causes = causes::causes(&report);
        report
    }

    /// The findings grouped by cause, worst first (see [`causes`]).
    pub fn causes(&self) -> &[causes::Cause] {
        &self.causes
    }

    /// The numbers of the causes that concern the row at `index` (of [`Report::rows`]).
    pub fn causes_of(&self, index: usize) -> Vec<usize> {
        self.causes
            .iter()
            .filter(|c| c.targets.binary_search(&index).is_ok())
            .map(|c| c.number)
            .collect()
    }

    /// The numbers of the causes that concern the planned name at `index` (in
    /// `plan.names`) when it gave no address to probe.
    pub fn causes_of_name(&self, index: usize) -> Vec<usize> {
        self.causes
            .iter()
            .filter(|c| c.names_not_probed.contains(&index))
            .map(|c| c.number)
            .collect()
    }

    /// Targets' states, names not probed and findings about the run (see [`targets`]).
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The counts every format states.
    pub fn summary(&self) -> Summary {
        self.targets.summary()
    }

    /// The state of the row at `index` (of [`Report::rows`]).
    pub fn state(&self, index: usize) -> TargetState {
        self.targets.state(index).unwrap_or(TargetState {
            ok: true,
            reachable: false,
            worst: None,
        })
    }

    /// The findings that concern the row at `index` (of [`Report::rows`]), in report order.
    pub fn findings_of(&self, index: usize) -> impl Iterator<Item = &Finding> {
        self.targets
            .findings_of(index)
            .iter()
            .filter_map(|&f| self.findings.get(f))
    }

    /// The range of [`Report::rows`] of the planned name at `index` in `plan.names`.
    pub fn row_range(&self, index: usize) -> Range<usize> {
        self.row_ranges.get(index).cloned().unwrap_or(0..0)
    }

    /// Adds the token step of `check --client` and its findings (the verdict follows).
    pub fn add_token(
        &mut self,
        token: crate::token::flow::TokenObservation,
        findings: Vec<Finding>,
    ) {
        self.token_findings.clone_from(&findings);
        audit::sort(&mut self.token_findings);
        self.findings.extend(findings);
        audit::sort(&mut self.findings);
        self.verdict = audit::verdict(&self.findings);
        self.findings_by_host = index_by_host(&self.findings);
        self.targets = Targets::attach(self.plan, &self.rows, &self.row_ranges, &self.findings);
        self.token = Some(token);
        self.causes = causes::causes(self);
    }

    /// The findings the token step added (`check --client`), worst first.
    pub fn token_findings(&self) -> &[Finding] {
        &self.token_findings
    }

    /// The causes of the token step's findings (`check --client`), in report order: what the
    /// token sections of the documents list with who acts.
    pub fn token_causes(&self) -> Vec<&causes::Cause> {
        self.causes
            .iter()
            .filter(|cause| {
                cause.findings.iter().any(|&f| {
                    self.findings
                        .get(f)
                        .is_some_and(|finding| self.token_findings.contains(finding))
                })
            })
            .collect()
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

/// The JSON name of a TCP state, as in reports.
pub fn tcp_state_name(state: TcpState) -> String {
    drift::wire_name(&state)
}

/// What `--baseline` gave this run, as the report states it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BaselineNote {
    /// The file as named.
    pub file: String,
    /// `read` (drift reported), `not-yet` (no file: the first run of a schedule) or
    /// `unusable` (see the `baseline-unusable` finding).
    pub state: &'static str,
    /// The schema of the report read, when it was read.
    pub schema: Option<u32>,
    /// Where an unusable file is kept before `--save` writes over it.
    pub kept_as: Option<String>,
}

impl BaselineNote {
    fn of(baseline: &Baseline) -> BaselineNote {
        let (state, schema, kept_as) = match &baseline.state {
            BaselineState::Read { schema, .. } => ("read", Some(*schema), None),
            BaselineState::NotYet => ("not-yet", None, None),
            BaselineState::Unusable { kept_as, .. } => ("unusable", None, kept_as.clone()),
        };
        BaselineNote {
            file: baseline.file.clone(),
            state,
            schema,
            kept_as,
        }
    }
}

/// The finding of a baseline that cannot be used: the run goes on, without drift.
fn unusable(file: &str, reason: &str, kept_as: Option<&str>) -> Finding {
    let next = match kept_as {
        Some(kept) => format!(
            "the file was kept as {kept} and this run's report saved in its place, so drift is reported again from the next run"
        ),
        None => format!(
            "the file is left as it is; start a new baseline with `--save {file}` (a damaged file is then kept beside it)"
        ),
    };
    Finding::general(
        Code::BaselineUnusable,
        format!(
            "{file} is not a usable baseline ({reason}): drift is not reported this run; {next}"
        ),
    )
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

/// Indices of `findings` per environment, then host.
fn index_by_host(findings: &[Finding]) -> HashMap<String, HashMap<String, Vec<usize>>> {
    let mut by_host: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
    for (i, finding) in findings.iter().enumerate() {
        if let (Some(env), Some(host)) = (&finding.environment, &finding.host) {
            by_host
                .entry(env.clone())
                .or_default()
                .entry(host.clone())
                .or_default()
                .push(i);
        }
    }
    by_host
}
