//! `data diff OLD NEW`: rendering of a [`CatalogDiff`]; exit 0 identical, 1 different.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

use super::Format;
use crate::catalog::Catalog;
use crate::catalog::diff::{CatalogDiff, Change, EnvironmentDiff, diff as catalog_diff};
use crate::commands::CommandError;
use crate::exit::Status;
use crate::term::{self, Screen};

/// Version of the `data diff` JSON format.
pub const DIFF_JSON_SCHEMA: u32 = 1;

/// Compares two catalogs and prints the differences.
pub fn diff(
    old: &Catalog,
    new: &Catalog,
    format: Format,
    screen: Screen,
    out: &mut dyn Write,
) -> Result<Status, CommandError> {
    let result = catalog_diff(old, new);
    match format {
        Format::Table => render_text(old, new, &result, screen.width, out)?,
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
    width: usize,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let old_title = format!("{} (data {})", old.origin, d.old_version);
    let new_title = format!("{} (data {})", new.origin, d.new_version);
    term::write_wrapped(out, width, "--- ", "    ", &old_title)?;
    term::write_wrapped(out, width, "+++ ", "    ", &new_title)?;
    if d.is_empty() {
        writeln!(out, "The tables are identical.")?;
        return Ok(());
    }
    for env in d.environments.iter().filter(|e| !e.is_empty()) {
        writeln!(out)?;
        render_env(env, width, out)?;
    }
    if !d.moved.is_empty() {
        writeln!(out)?;
        writeln!(out, "moved between environments:")?;
        for m in &d.moved {
            let covered = m
                .covered_by
                .map(|c| format!(" (now inside {c})"))
                .unwrap_or_default();
            let text = format!("{}: {} -> {}{covered}", m.prefix, m.from, m.to);
            term::write_wrapped(out, width, "  ~ ", "    ", &text)?;
        }
    }
    Ok(())
}

fn render_env(env: &EnvironmentDiff, width: usize, out: &mut dyn Write) -> std::io::Result<()> {
    match env.presence {
        Some(presence) => writeln!(out, "[{}] (environment {presence})", env.environment)?,
        None => writeln!(out, "[{}]", env.environment)?,
    }
    section(out, width, "hosts", &env.hosts)?;
    section(out, width, "probe names", &env.probe_names)?;
    section(out, width, "addresses", &env.addresses)?;
    section(out, width, "prefixes", &env.prefixes)?;
    section(out, width, "subnets", &env.subnets)?;
    for change in &env.ports {
        section(
            out,
            width,
            &format!("ports of {}", change.host),
            &change.ports,
        )?;
    }
    section(out, width, "legacy hosts", &env.legacy_hosts)?;
    section(out, width, "legacy addresses", &env.legacy_addresses)?;
    for s in &env.sunsets {
        let text = format!("sunset of {}: {} -> {}", s.host, s.old, s.new);
        term::write_wrapped(out, width, "  ", "    ", &text)?;
    }
    Ok(())
}

fn section<T: Display>(
    out: &mut dyn Write,
    width: usize,
    what: &str,
    change: &Change<T>,
) -> std::io::Result<()> {
    for (mark, items) in [("  - ", &change.removed), ("  + ", &change.added)] {
        for item in items {
            term::write_wrapped(out, width, mark, "    ", &format!("{what}: {item}"))?;
        }
    }
    Ok(())
}
