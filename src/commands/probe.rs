//! `egresscheck probe`: probe names without a data file and show everything the engine saw.
//!
//! Exit status: pass when every target connected and its TLS verified (public roots or
//! `--ca-file`, name matching); fail otherwise, including a name with no address at all.

use std::io::Write;

use chrono::Utc;
use serde::Serialize;

use crate::commands::CommandError;
use crate::exit::Status;
use crate::output::probe_table::{self, target_passed};
use crate::output::target::{self, TargetReport};
use crate::probe::{self, NameObservation, ProbeOptions, ProbeRequest};

/// Version of the `probe --format json` document.
pub const PROBE_JSON_SCHEMA: u32 = 1;

/// What to probe and how to show it.
#[derive(Debug, Clone)]
pub struct ProbeCommand {
    /// One request per name.
    pub requests: Vec<ProbeRequest>,
    /// Engine options, validated.
    pub options: ProbeOptions,
    /// Output format.
    pub format: ProbeFormat,
    /// `--label`s, carried by the JSON formats.
    pub labels: crate::labels::Labels,
    /// Width of the table.
    pub screen: crate::term::Screen,
}

/// The JSON document of `probe --format json`.
/// Output formats of `probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFormat {
    /// Tables for people.
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per target per line, each with the labels.
    Jsonl,
}

/// A line of `probe --format jsonl`.
#[derive(Debug, Serialize)]
struct TargetLine<'a> {
    r#type: &'static str,
    labels: &'a crate::labels::Labels,
    #[serde(flatten)]
    target: &'a TargetReport,
}

#[derive(Debug, Serialize)]
struct ProbeDocument<'a> {
    schema: u32,
    tool: Tool,
    labels: &'a crate::labels::Labels,
    targets: &'a [TargetReport],
}

#[derive(Debug, Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

/// Runs the probe and writes the result.
pub fn probe(command: &ProbeCommand, out: &mut dyn Write) -> Result<Status, CommandError> {
    let observations = probe::run_blocking(&command.requests, &command.options, None)?;
    match command.format {
        ProbeFormat::Table => probe_table::render(
            &observations,
            &command.requests,
            Utc::now(),
            command.screen,
            out,
        )?,
        ProbeFormat::Jsonl => {
            for target in &reports(&observations, &command.requests) {
                crate::output::jsonl::line(
                    out,
                    &TargetLine {
                        r#type: "target",
                        labels: &command.labels,
                        target,
                    },
                )?;
            }
        }
        ProbeFormat::Json => {
            let targets = reports(&observations, &command.requests);
            let document = ProbeDocument {
                schema: PROBE_JSON_SCHEMA,
                tool: Tool {
                    name: env!("CARGO_PKG_NAME"),
                    version: env!("CARGO_PKG_VERSION"),
                },
                labels: &command.labels,
                targets: &targets,
            };
            serde_json::to_writer_pretty(&mut *out, &document).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(status(&observations))
}

/// The target objects of every name, in request order.
pub fn reports(observations: &[NameObservation], requests: &[ProbeRequest]) -> Vec<TargetReport> {
    observations
        .iter()
        .zip(requests)
        .flat_map(|(observation, request)| target::reports(observation, request))
        .collect()
}

/// Pass when every name has targets and every target passed.
pub fn status(observations: &[NameObservation]) -> Status {
    let all_passed = observations
        .iter()
        .all(|o| !o.targets.is_empty() && o.targets.iter().all(target_passed));
    if all_passed {
        Status::Pass
    } else {
        Status::Fail
    }
}
