//! `data diff OLD NEW`: rendering of a [`CatalogDiff`]; exit 0 identical, 1 different.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

use super::Format;
use crate::catalog::Catalog;
use crate::catalog::diff::{CatalogDiff, Change, EnvironmentDiff, diff as catalog_diff};
use crate::commands::CommandError;
use crate::exit::Status;

/// Version of the `data diff` JSON format.
pub const DIFF_JSON_SCHEMA: u32 = 1;

/// Compares two catalogs and prints the differences.
pub fn diff(
    old: &Catalog,
    new: &Catalog,
    format: Format,
    out: &mut dyn Write,
) -> Result<Status, CommandError> {
    let result = catalog_diff(old, new);
    match format {
        Format::Table => render_text(old, new, &result, out)?,
        Format::Json => {
            #[derive(Serialize)]
            struct DiffJson<'a> {
                schema: u32,
                old: String,
                new: String,
                identical: bool,
                #[serde(flatten)]
                diff: &'a CatalogDiff,
            }
            let doc = DiffJson {
                schema: DIFF_JSON_SCHEMA,
                old: old.origin.clone(),
                new: new.origin.clone(),
                identical: result.is_empty(),
                diff: &result,
            };
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(if result.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    })
}

fn render_text(
    old: &Catalog,
    new: &Catalog,
    d: &CatalogDiff,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "--- {} (data {})", old.origin, d.old_version)?;
    writeln!(out, "+++ {} (data {})", new.origin, d.new_version)?;
    if d.is_empty() {
        writeln!(out, "The tables are identical.")?;
        return Ok(());
    }
    for env in d.environments.iter().filter(|e| !e.is_empty()) {
        writeln!(out)?;
        render_env(env, out)?;
    }
    if !d.moved.is_empty() {
        writeln!(out)?;
        writeln!(out, "moved between environments:")?;
        for m in &d.moved {
            let covered = m
                .covered_by
                .map(|c| format!(" (now inside {c})"))
                .unwrap_or_default();
            writeln!(out, "  ~ {}: {} -> {}{covered}", m.prefix, m.from, m.to)?;
        }
    }
    Ok(())
}

fn render_env(env: &EnvironmentDiff, out: &mut dyn Write) -> std::io::Result<()> {
    match env.presence {
        Some(presence) => writeln!(out, "[{}] (environment {presence})", env.environment)?,
        None => writeln!(out, "[{}]", env.environment)?,
    }
    section(out, "hosts", &env.hosts)?;
    section(out, "probe names", &env.probe_names)?;
    section(out, "addresses", &env.addresses)?;
    section(out, "prefixes", &env.prefixes)?;
    section(out, "subnets", &env.subnets)?;
    for change in &env.ports {
        section(out, &format!("ports of {}", change.host), &change.ports)?;
    }
    section(out, "legacy hosts", &env.legacy_hosts)?;
    section(out, "legacy addresses", &env.legacy_addresses)?;
    for s in &env.sunsets {
        writeln!(out, "  sunset of {}: {} -> {}", s.host, s.old, s.new)?;
    }
    Ok(())
}

fn section<T: Display>(out: &mut dyn Write, what: &str, change: &Change<T>) -> std::io::Result<()> {
    for item in &change.removed {
        writeln!(out, "  - {what}: {item}")?;
    }
    for item in &change.added {
        writeln!(out, "  + {what}: {item}")?;
    }
    Ok(())
}
