//! `egresscheck rules`: snapshots per dialect, the real tools, hostile data, usage errors and
//! the network-namespace proof.

mod apply;
mod broad;
mod cli;
mod cloud_fqdn;
pub(crate) mod dnsmasq;
mod enterprise;
pub(crate) mod hostile;
mod hosts;
mod imperative;
mod lists;
pub(crate) mod models;
mod netns;
mod pf;
mod snapshots;
mod squid;
mod terraform;
pub(crate) mod tools;
mod validators;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The fixed data file of these tests.
pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The fixed as-of date of these tests: old.example.no is before its sunset, older.example.no
/// past it.
pub(crate) const AS_OF: &str = "2025-01-15";

/// `egresscheck ARGS`, run to completion.
pub(crate) fn egresscheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egresscheck"))
        .args(args)
        .env("NO_COLOR", "1")
        // What the tables say, not how they fold (`data show` is a table).
        .env("COLUMNS", "240")
        .output()
        .expect("run egresscheck")
}

/// `egresscheck ARGS`: standard output, after asserting success.
fn run_ok(args: &[&str]) -> String {
    let out = egresscheck(args);
    assert!(
        out.status.success(),
        "egresscheck {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `egresscheck --data FIXTURE rules --no-timestamp --as-of AS_OF ARGS`, which must succeed.
pub(crate) fn rules(data: &str, args: &[&str]) -> String {
    rules_as_of(data, AS_OF, args)
}

/// [`rules`] as of another date.
pub(crate) fn rules_as_of(data: &str, as_of: &str, args: &[&str]) -> String {
    let data = fixture(data);
    let data = data.to_str().expect("utf-8 path");
    let mut all = vec!["--data", data, "rules", "--no-timestamp", "--as-of", as_of];
    all.extend_from_slice(args);
    run_ok(&all)
}

/// The rules of `rules-old.toml` as they were while it was current (as of its version date,
/// which is how `--diff` takes OLD).
pub(crate) fn old_rules_then(args: &[&str]) -> String {
    rules_as_of("rules-old.toml", "2024-11-01", args)
}

/// `egresscheck rules --diff OLD NEW --no-timestamp --as-of AS_OF ARGS`, which must succeed.
pub(crate) fn rules_diff(old: &str, new: &str, args: &[&str]) -> String {
    let (old, new) = (fixture(old), fixture(new));
    let (old, new) = (
        old.to_str().expect("utf-8 path"),
        new.to_str().expect("utf-8 path"),
    );
    let mut all = vec![
        "rules",
        "--diff",
        old,
        new,
        "--no-timestamp",
        "--as-of",
        AS_OF,
    ];
    all.extend_from_slice(args);
    run_ok(&all)
}

/// The part of an iptables output for one family (the text after its marker line, up to the
/// next marker).
pub(crate) fn iptables_part(text: &str, v6: bool) -> String {
    let marker = if v6 {
        "# ==== IPv6 part"
    } else {
        "# ==== IPv4 part"
    };
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in:\n{text}"));
    let rest = &text[start..];
    let end = rest[marker.len()..]
        .find("# ==== ")
        .map_or(rest.len(), |i| i + marker.len());
    rest[..end].to_owned()
}

/// The ways to ask for `format` that each give one tool's whole input: iptables once per
/// family (each restore tool takes one), every other format once.
pub(crate) fn format_args(format: &'static str) -> Vec<Vec<&'static str>> {
    if format == "iptables" {
        vec![
            vec!["--format", format, "--family", "4"],
            vec!["--format", format, "--family", "6"],
        ]
    } else {
        vec![vec!["--format", format]]
    }
}

/// Older and newer data for the apply tests of the dialects without a `--diff` tool:
/// (A's data, A's as-of date, B's data, B's as-of date), paths relative to tests/fixtures.
/// A port and addresses added, the reverse (dropped), and Skatteetaten's 2024-10 table → the
/// current one (20.100.51.138 moves from test to prod).
pub(crate) const APPLY_PAIRS: &[(&str, &str, &str, &str)] = &[
    ("rules-old.toml", "2024-11-01", "rules.toml", "2025-01-15"),
    ("rules.toml", "2025-01-15", "rules-old.toml", "2025-01-15"),
    (
        "../../data/history/skatteetaten-2024-10.toml",
        "2024-10-01",
        "../../data/skatteetaten.toml",
        "2026-03-01",
    ),
];

/// `rules --format FORMAT SELECTION` of `data` as of `as_of`.
pub(crate) fn render(format: &str, data: &str, as_of: &str, selection: &[&str]) -> String {
    let mut args = vec!["--format", format];
    args.extend_from_slice(selection);
    rules_as_of(data, as_of, &args)
}
