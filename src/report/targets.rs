//! One vocabulary of target states, counted the same way by every output format.
//!
//! A *target* is one address of a planned name on one of its ports that was probed: an
//! entry of the JSON report's `targets[]`, a row of the table, a test case of JUnit, a series
//! of `egresscheck_target_up`. A planned name that gave no address at all (DNS failed and the
//! data documents none) has no target: it is a *name not probed*, counted apart, and never
//! silently missing (JSON `names[]`, a JUnit test case of its own, `egresscheck_name_targets`
//! at 0).
//!
//! Two words describe a target, and never one for both:
//!
//! - **ok**: no `fail` finding concerns it (warnings and notes may);
//! - **reachable**: TCP connected and the TLS handshake completed (what
//!   `egresscheck_target_up` has always meant): an intercepted target is reachable and not
//!   ok.
//!
//! A finding concerns the targets it names: by environment and host, and by address and port
//! where it gives them. One about a host that names no target of it (an address DNS no longer
//! returns, one beyond the per-name cap, or a host-wide fact such as a DNS failure) concerns
//! every target of that host; one about no host concerns the run itself ([`Targets::general`]).

use std::collections::HashMap;

use serde::Serialize;

use crate::audit::{Finding, Severity, TargetRow, target_up};
use crate::plan::Plan;

/// The state of one target, in the words every format uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TargetState {
    /// No `fail` finding concerns the target.
    pub ok: bool,
    /// TCP connected and the TLS handshake completed.
    pub reachable: bool,
    /// The worst severity of the findings that concern it, if any.
    pub worst: Option<Severity>,
}

impl TargetState {
    /// `ok` or `fail`: the one-word state of a target.
    pub fn word(&self) -> &'static str {
        if self.ok { "ok" } else { "fail" }
    }
}

/// The counts every format states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Targets probed.
    pub targets: usize,
    /// Targets with no `fail` finding.
    pub ok: usize,
    /// Targets where TCP and TLS completed.
    pub reachable: usize,
    /// Names planned (each environment's names counted apart).
    pub names: usize,
    /// Planned names that gave no address to probe.
    pub names_not_probed: usize,
}

/// Targets, names not probed and findings about the run, worked out once per report.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Per target (in the order of the report's rows): its state and the indices of the
    /// findings that concern it.
    states: Vec<TargetState>,
    findings: Vec<Vec<usize>>,
    /// Indices (into `plan.names`) of the names not probed, with the findings about them.
    not_probed: Vec<(usize, Vec<usize>)>,
    /// Findings about no host.
    general: Vec<usize>,
    summary: Summary,
}

impl Targets {
    /// Attaches `findings` to `rows` (the report's targets, grouped by planned name as
    /// `ranges` says) and to the names of `plan` that have none.
    pub fn attach(
        plan: &Plan,
        rows: &[TargetRow<'_>],
        ranges: &[std::ops::Range<usize>],
        findings: &[Finding],
    ) -> Targets {
        let mut by_host: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        let mut general = Vec::new();
        for (i, finding) in findings.iter().enumerate() {
            match (&finding.environment, &finding.host) {
                (Some(env), Some(host)) => by_host
                    .entry((env.as_str(), host.as_str()))
                    .or_default()
                    .push(i),
                _ => general.push(i),
            }
        }
        let mut attached: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
        let mut not_probed = Vec::new();
        let mut claimed = vec![false; findings.len()];
        for (index, planned) in plan.names.iter().enumerate() {
            let range = ranges.get(index).cloned().unwrap_or(0..0);
            let host_findings = by_host
                .get(&(planned.environment.as_str(), planned.name.as_str()))
                .map(Vec::as_slice)
                .unwrap_or_default();
            if range.is_empty() {
                not_probed.push((index, host_findings.to_vec()));
                mark(&mut claimed, host_findings);
                continue;
            }
            for &f in host_findings {
                let Some(finding) = findings.get(f) else {
                    continue;
                };
                let named: Vec<usize> = range
                    .clone()
                    .filter(|&r| rows.get(r).is_some_and(|row| names(finding, row)))
                    .collect();
                // A finding that names no target of its host concerns all of them.
                let targets = if named.is_empty() {
                    range.clone().collect()
                } else {
                    named
                };
                for r in targets {
                    if let Some(list) = attached.get_mut(r) {
                        list.push(f);
                    }
                }
                if let Some(c) = claimed.get_mut(f) {
                    *c = true;
                }
            }
        }
        // About a host that is not a planned name (a name a baseline had, gone from the
        // data): about the run.
        general.extend(
            by_host
                .values()
                .flatten()
                .filter(|&&f| !claimed.get(f).copied().unwrap_or(true)),
        );
        general.sort_unstable();
        let states: Vec<TargetState> = rows
            .iter()
            .zip(&attached)
            .map(|(row, mine)| {
                let worst = mine
                    .iter()
                    .filter_map(|&f| findings.get(f))
                    .map(|f| f.severity)
                    .max();
                TargetState {
                    ok: worst != Some(Severity::Fail),
                    reachable: target_up(row.target),
                    worst,
                }
            })
            .collect();
        let summary = Summary {
            targets: states.len(),
            ok: states.iter().filter(|s| s.ok).count(),
            reachable: states.iter().filter(|s| s.reachable).count(),
            names: plan.names.len(),
            names_not_probed: not_probed.len(),
        };
        Targets {
            states,
            findings: attached,
            not_probed,
            general,
            summary,
        }
    }

    /// The state of the target at `index` among the report's rows.
    pub fn state(&self, index: usize) -> Option<TargetState> {
        self.states.get(index).copied()
    }

    /// Indices of the findings that concern the target at `index`.
    pub fn findings_of(&self, index: usize) -> &[usize] {
        self.findings
            .get(index)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The names not probed (by index in `plan.names`), each with the findings about it.
    pub fn not_probed(&self) -> &[(usize, Vec<usize>)] {
        &self.not_probed
    }

    /// Indices of the findings about the run itself (no host, or a host not in the plan).
    pub fn general(&self) -> &[usize] {
        &self.general
    }

    /// The counts.
    pub fn summary(&self) -> Summary {
        self.summary
    }
}

fn mark(claimed: &mut [bool], findings: &[usize]) {
    for &f in findings {
        if let Some(c) = claimed.get_mut(f) {
            *c = true;
        }
    }
}

/// Whether `finding` names `row`: its address (when it gives one) and its port (when it
/// gives one) are the row's.
fn names(finding: &Finding, row: &TargetRow<'_>) -> bool {
    finding
        .address
        .is_none_or(|a| row.target.address == Some(a))
        && finding.port.is_none_or(|p| p == row.target.port.get())
}
