//! `egresscheck rules`: the catalog's allow-list in a firewall dialect, or the changes
//! between two data files.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};

use crate::catalog::Catalog;
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::rules::{Diff, Family, Format, Options, RuleSet, Scope};

/// What `egresscheck rules` was asked for (clap-free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesOptions {
    /// The dialect.
    pub format: Format,
    /// `--env` words (ids, names or aliases); empty: all.
    pub envs: Vec<String>,
    /// `--service` words (ids or names); empty: all.
    pub services: Vec<String>,
    /// `--scope`.
    pub scope: Scope,
    /// `--family`.
    pub family: Family,
    /// `--as-of`, or today.
    pub as_of: NaiveDate,
    /// `--include-expired`.
    pub include_expired: bool,
    /// Generation time for the header; `None` with `--no-timestamp`.
    pub generated: Option<DateTime<Utc>>,
}

/// `rules --list-formats`: every format with its description.
pub fn list_formats(out: &mut dyn Write) -> Result<Status, CommandError> {
    let width = Format::ALL
        .iter()
        .map(|f| f.name().len())
        .max()
        .unwrap_or(0);
    for format in Format::ALL {
        let diff = if format.supports_diff() {
            " [--diff]"
        } else {
            ""
        };
        writeln!(
            out,
            "{:width$}  {}{diff}",
            format.name(),
            format.description()
        )?;
    }
    Ok(Status::Pass)
}

/// `rules --format F`: the rule set of the catalog from `data`.
pub fn rules(
    data: &DataSource,
    options: &RulesOptions,
    out: &mut dyn Write,
) -> Result<Status, CommandError> {
    let catalog = data.load()?;
    let core = core_options(&catalog, options)?;
    let rules = RuleSet::from_catalog(&catalog, &core);
    out.write_all(options.format.render(&rules).as_bytes())?;
    Ok(Status::Pass)
}

/// `rules --diff OLD NEW --format F`.
pub fn diff(
    old: &DataSource,
    new: &DataSource,
    options: &RulesOptions,
    out: &mut dyn Write,
) -> Result<Status, CommandError> {
    // Said before loading anything, so the message is about the format, not the files.
    options
        .format
        .check_diff()
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    let old = old.load()?;
    let new = new.load()?;
    let core = core_options(&new, options)?;
    let diff = Diff::between(&old, &new, &core);
    let text = options
        .format
        .render_diff(&diff)
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    out.write_all(text.as_bytes())?;
    Ok(Status::Pass)
}

/// The rules core's options: `--env` and `--service` words resolved against `catalog`.
fn core_options(catalog: &Catalog, options: &RulesOptions) -> Result<Options, CommandError> {
    let environments = super::environment_ids(catalog, &options.envs)?;
    let services = super::service_ids(catalog, &options.services)?;
    Ok(Options {
        environments,
        services,
        scope: options.scope,
        family: options.family,
        as_of: options.as_of,
        include_expired: options.include_expired,
        generated: options.generated,
    })
}
