//! One run of the check: selection → plan → probe under a deadline → audit → report.
//!
//! `check` makes one run and exits; `serve` makes one per scrape. Both go through this
//! module, so a scrape sees exactly what `check` would have seen with the same selection and
//! options, and no second code path decides what is probed or how it is judged. The steps are
//! apart on purpose: [`PlannedRun::new`] is pure and refuses an unknown environment, service
//! or name before anything touches the network (what `serve` answers with a 400); the probe
//! runs either on a runtime of its own ([`PlannedRun::probe_blocking`], for `check`, with
//! Ctrl-C and a progress bar) or on the caller's ([`PlannedRun::probe`], for `serve`); and
//! [`Run::report`] audits what was seen.

use std::time::Instant;

use chrono::NaiveDate;

use crate::audit::AuditOptions;
use crate::catalog::{Catalog, DnsName};
use crate::commands::CommandError;
use crate::plan::{Plan, Selection};
use crate::probe::Limits;
use crate::probe::options::ProbeOptions;
use crate::probe::tls::TlsClient;
use crate::probe::{NameObservation, ProbeError, ProgressFn};
use crate::report::{Baseline, Report};

/// What a run covers, as the user wrote it: `--env`, `--service` and `--host` words (or a
/// scrape's `env`, `service` and `host` parameters). Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Environments (ids, names, aliases).
    pub environments: Vec<String>,
    /// Services (ids, names).
    pub services: Vec<String>,
    /// Names (probe names, hosts, legacy hosts).
    pub hosts: Vec<String>,
}

/// How a run's observations are judged.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The date findings are judged at.
    pub as_of: NaiveDate,
    /// Audit thresholds.
    pub audit: AuditOptions,
}

/// A run whose selection and plan are settled, before anything touched the network.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// What was selected.
    pub selection: Selection,
    /// The names and ports to probe; never empty.
    pub plan: Plan,
}

/// A run that probed: its plan, what was seen and how long it took.
#[derive(Debug, Clone)]
pub struct Run {
    /// What was selected.
    pub selection: Selection,
    /// The names and ports probed.
    pub plan: Plan,
    /// What the probe saw, one entry per distinct name.
    pub observations: Vec<NameObservation>,
    /// Wall time of the probe, seconds.
    pub duration_seconds: f64,
}

impl PlannedRun {
    /// Resolves `scope` against `catalog` and plans the run. Unknown words and a selection
    /// that names no host are usage errors; nothing is probed.
    pub fn new(catalog: &Catalog, scope: &Scope) -> Result<PlannedRun, CommandError> {
        let selection = selection(catalog, scope)?;
        let plan = Plan::new(catalog, &selection);
        if plan.is_empty() {
            return Err(CommandError::Usage(
                "nothing to check: the selection names no host".to_owned(),
            ));
        }
        Ok(PlannedRun { selection, plan })
    }

    /// Probes on a runtime of its own (for a command, which is synchronous); a signal caught
    /// by [`crate::interrupt`] ends it at once.
    pub fn probe_blocking(
        self,
        options: &ProbeOptions,
        progress: Option<&ProgressFn<'_>>,
    ) -> Result<Run, ProbeError> {
        let started = Instant::now();
        let observations = crate::probe::run_blocking(&self.plan.requests(), options, progress)?;
        Ok(self.finished(observations, started))
    }

    /// Probes on the caller's runtime with a TLS client built earlier, under `limits` that
    /// other runs share (every scrape of `serve` draws from the exporter's). `options.deadline`
    /// bounds the run: whatever has not ended by then is reported as cut short.
    pub async fn probe(
        self,
        options: &ProbeOptions,
        tls: &TlsClient,
        limits: &Limits,
    ) -> Result<Run, ProbeError> {
        let started = Instant::now();
        options.validate()?;
        let requests = self.plan.requests();
        let observations =
            crate::probe::run_with_tls(&requests, options, tls.clone(), Some(limits), None).await?;
        Ok(self.finished(observations, started))
    }

    fn finished(self, observations: Vec<NameObservation>, started: Instant) -> Run {
        Run {
            selection: self.selection,
            plan: self.plan,
            observations,
            duration_seconds: started.elapsed().as_secs_f64(),
        }
    }
}

impl Run {
    /// Audits the observations (with drift against `baseline`) into a report.
    pub fn report<'a>(
        &'a self,
        catalog: &'a Catalog,
        judgement: &Judgement,
        baseline: Option<&Baseline>,
    ) -> Report<'a> {
        Report::build(
            catalog,
            &self.plan,
            &self.observations,
            judgement.as_of,
            &judgement.audit,
            baseline,
            self.duration_seconds,
        )
    }
}

/// Turns the scope's words into a selection, rejecting unknown words and names that are not
/// probed in the selected environments.
pub fn selection(catalog: &Catalog, scope: &Scope) -> Result<Selection, CommandError> {
    let environments = super::environment_ids(catalog, &scope.environments)?;
    let services = super::service_ids(catalog, &scope.services)?;
    let mut hosts = Vec::new();
    for word in &scope.hosts {
        let name = DnsName::parse(word).map_err(|err| {
            CommandError::Usage(format!("--host {:?}: {err}", crate::term::sanitize(word)))
        })?;
        if !hosts.contains(&name) {
            hosts.push(name);
        }
    }
    let selection = Selection {
        environments,
        services,
        hosts,
    };
    if !selection.hosts.is_empty() {
        let everything = Plan::new(
            catalog,
            &Selection {
                hosts: Vec::new(),
                ..selection.clone()
            },
        );
        for host in &selection.hosts {
            if !everything.names.iter().any(|p| &p.name == host) {
                let known: Vec<&str> = everything.names.iter().map(|p| p.name.as_str()).collect();
                return Err(CommandError::Usage(format!(
                    "--host {host}: not a name to probe in the selected environments; known: {}",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(selection)
}
