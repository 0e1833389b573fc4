//! Verdicts over time (issue 12): runs of `check` one after another, as a schedule makes
//! them, with the world changed in between. The baseline a run saved is what the next one
//! reads, whatever the network did; an unusable one is a finding, never a dead end; drift
//! reports every transition once.

mod baseline;
mod lab;
mod properties;
mod schedule;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

pub use crate::hardening::egresscheck;

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A JSON file.
pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// (code, host) of every finding of a report, sorted.
pub fn findings(report: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {report}"))
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["host"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The findings of `code`.
pub fn of_code<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}
