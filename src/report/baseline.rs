//! The baseline: what an earlier run observed, read back from the report it saved.
//!
//! A scheduled `check --baseline X --save X` must never get stuck: a baseline is any report
//! `--save` wrote, whatever the network did, and a file that cannot be used (damaged, cut
//! short, of an unknown schema, unreadable) is a finding of its own (`baseline-unusable`),
//! not the end of the run. So the reader gives one of three states, and the report says which
//! it was. Schema 2 is read through the same types the report is written with
//! ([`super::document`]); schema 1, written before, by [`super::schema1`].

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde::Deserialize;

use super::document::{NameEntry, READABLE_SCHEMAS, REPORT_SCHEMA, TargetEntry};
use super::schema1;
use crate::catalog::{DnsName, Port};
use crate::probe::model::NameObservation;

/// Largest baseline file read. A report of thousands of targets is a few megabytes.
pub const MAX_BASELINE_BYTES: usize = 64 * 1024 * 1024;

/// What `--baseline FILE` gave this run.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The file as named on the command line.
    pub file: String,
    /// What was found there.
    pub state: BaselineState,
}

/// What a baseline file turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineState {
    /// An earlier run's report: what it observed, one entry per name, in its order.
    Read {
        /// The report's schema.
        schema: u32,
        /// The observations, each name once, with its targets.
        observations: Vec<NameObservation>,
    },
    /// No file yet: the first run of a schedule. Drift is reported from the next run on.
    NotYet,
    /// A file that cannot be used; the run goes on without drift.
    Unusable {
        /// Why.
        reason: String,
        /// Where the file is kept before `--save` writes over it, when it does.
        kept_as: Option<String>,
    },
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
    /// Not a JSON report of a schema this version reads.
    #[error("{file}: not a usable baseline: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

impl BaselineError {
    /// What is wrong, without the file name.
    pub fn reason(&self) -> String {
        match self {
            BaselineError::Read { source, .. } => format!("cannot read it: {source}"),
            BaselineError::Invalid { reason, .. } => reason.clone(),
        }
    }
}

/// The envelope every report has: its schema and the tool that wrote it.
#[derive(Deserialize)]
struct Envelope {
    schema: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct Tool {
    pub(super) name: String,
}

/// What a schema-2 baseline needs of a report.
#[derive(Deserialize)]
struct Schema2 {
    tool: Tool,
    names: Vec<NameEntry<'static>>,
    targets: Vec<TargetEntry<'static>>,
}

impl Baseline {
    /// A baseline that was read.
    pub fn read(file: &str, schema: u32, observations: Vec<NameObservation>) -> Baseline {
        Baseline {
            file: file.to_owned(),
            state: BaselineState::Read {
                schema,
                observations,
            },
        }
    }

    /// Reads a baseline from a JSON report's bytes (schema 1 or 2).
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Baseline, BaselineError> {
        let invalid = |reason: String| BaselineError::Invalid {
            file: file.to_owned(),
            reason,
        };
        if bytes.len() > MAX_BASELINE_BYTES {
            return Err(invalid(format!("larger than {MAX_BASELINE_BYTES} bytes")));
        }
        // The schema first, so that a report of another version says so instead of failing
        // on a field it lacks.
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("damaged JSON ({e})")))?;
        let schema = match envelope.schema.as_ref().and_then(serde_json::Value::as_u64) {
            Some(n) if READABLE_SCHEMAS.iter().any(|&s| u64::from(s) == n) => n,
            Some(n) => {
                return Err(invalid(format!(
                    "it is a report of schema {n}; this version reads schemas {} and {REPORT_SCHEMA} (a newer egresscheck wrote it?)",
                    READABLE_SCHEMAS.first().copied().unwrap_or(REPORT_SCHEMA)
                )));
            }
            None => {
                return Err(invalid(
                    "it has no `schema` number; is it an `egresscheck check --format json` report?"
                        .to_owned(),
                ));
            }
        };
        let (tool, observations) = if schema == 1 {
            schema1::read(bytes).map_err(|e| invalid(format!("damaged report ({e})")))?
        } else {
            let doc: Schema2 = serde_json::from_slice(bytes)
                .map_err(|e| invalid(format!("damaged report ({e})")))?;
            let observations = join(doc.names, doc.targets).map_err(invalid)?;
            (doc.tool, observations)
        };
        if tool.name != "egresscheck" {
            return Err(invalid(format!(
                "it was written by {:?}, not egresscheck",
                crate::term::sanitize(&tool.name)
            )));
        }
        // `schema` is 1 or REPORT_SCHEMA here.
        let schema = u32::try_from(schema).unwrap_or(REPORT_SCHEMA);
        Ok(Baseline::read(file, schema, observations))
    }

    /// The earlier run's observations, when there are any.
    pub fn observations(&self) -> Option<&[NameObservation]> {
        match &self.state {
            BaselineState::Read { observations, .. } => Some(observations),
            BaselineState::NotYet | BaselineState::Unusable { .. } => None,
        }
    }
}

/// Puts each target back under its name. A target object appears once per catalog entry
/// that probes its name; the first is kept.
fn join(
    names: Vec<NameEntry<'static>>,
    targets: Vec<TargetEntry<'static>>,
) -> Result<Vec<NameObservation>, String> {
    let mut observations: Vec<NameObservation> = Vec::with_capacity(names.len());
    let mut index: HashMap<DnsName, usize> = HashMap::with_capacity(names.len());
    let mut seen: HashSet<(usize, Option<IpAddr>, Port)> = HashSet::with_capacity(targets.len());
    for entry in names {
        let observation = entry.observation.into_owned();
        if !index.contains_key(&observation.name) {
            index.insert(observation.name.clone(), observations.len());
            observations.push(observation);
        }
    }
    for target in targets {
        let at = DnsName::parse(&target.host)
            .ok()
            .and_then(|name| index.get(&name).copied())
            .ok_or_else(|| {
                format!(
                    "damaged report (a target of {:?}, a name `names` does not list)",
                    crate::term::sanitize(&target.host)
                )
            })?;
        let observed = target.observation.into_owned();
        if seen.insert((at, observed.address, observed.port))
            && let Some(name) = observations.get_mut(at)
        {
            name.targets.push(observed);
        }
    }
    Ok(observations)
}
