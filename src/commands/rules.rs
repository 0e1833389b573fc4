//! `egresscheck rules`: the catalog's allow-list in a firewall dialect, or the changes
//! between two data files.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

use crate::atomic::write_atomically;
use crate::catalog::Catalog;
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::rules::{Diff, Family, Format, NftTarget, Options, RuleSet, Scope};

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
    /// `--nft-sets`: where the nftables family puts its sets.
    pub nft: NftTarget,
    /// `--output-dir`: one file per family (iptables).
    pub output_dir: Option<PathBuf>,
    /// `--comments`: the header and comment lines where a format leaves them out (csv,
    /// edl-ip, edl-domain).
    pub comments: bool,
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
///
/// A list without comments (edl-ip without `--comments`) has its broad-prefix warnings said
/// on `err` instead, so that no list opens every service of the provider silently.
pub fn rules(
    data: &DataSource,
    options: &RulesOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, CommandError> {
    check_outputs(options)?;
    let catalog = data.load()?;
    let core = core_options(&catalog, options)?;
    let mut warnings = Vec::new();
    write_per_family(options, &core, "egresscheck", out, |core| {
        let rules = RuleSet::from_catalog(&catalog, core);
        if options.format.hides_broad_warnings(options.comments) {
            warnings.extend(rules.broad_warnings());
        }
        Ok(options.format.render(&rules))
    })?;
    for warning in warnings {
        writeln!(
            err,
            "egresscheck: {warning} (--comments puts this note in the output)"
        )?;
    }
    Ok(Status::Pass)
}

/// Refuses output a tool would apply only in part: iptables input holding both families
/// (iptables-restore commits the IPv4 table, then stops at the first IPv6 address).
fn check_outputs(options: &RulesOptions) -> Result<(), CommandError> {
    match (options.format, &options.output_dir, options.family) {
        (Format::Iptables, None, Family::Both) => Err(CommandError::Usage(
            "--format iptables: iptables-restore and ip6tables-restore each take one family (given both, iptables-restore commits the IPv4 table and then fails on the first IPv6 address): add --family 4 or --family 6, or --output-dir DIR to write one file per family".to_owned(),
        )),
        (format, Some(_), _) if format != Format::Iptables => Err(CommandError::Usage(format!(
            "--output-dir writes one file per family for --format iptables only; redirect the standard output of --format {format} instead"
        ))),
        _ => Ok(()),
    }
}

/// Writes `render(core)` to `out`, or with `--output-dir` one file per selected family
/// (`DIR/STEM.v4.rules`, `DIR/STEM.v6.rules`, each written atomically) and their paths to
/// `out`.
fn write_per_family(
    options: &RulesOptions,
    core: &Options,
    stem: &str,
    out: &mut dyn Write,
    mut render: impl FnMut(&Options) -> Result<String, CommandError>,
) -> Result<(), CommandError> {
    let Some(dir) = &options.output_dir else {
        out.write_all(render(core)?.as_bytes())?;
        return Ok(());
    };
    for v6 in core.family.each() {
        let mut one = core.clone();
        one.family = if v6 { Family::V6 } else { Family::V4 };
        let path = dir.join(format!("{stem}.v{}.rules", if v6 { 6 } else { 4 }));
        write_atomically(&path, render(&one)?.as_bytes())
            .map_err(|e| CommandError::Usage(format!("--output-dir: {e}")))?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(())
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
    check_outputs(options)?;
    let old = old.load()?;
    let new = new.load()?;
    let core = core_options(&new, options)?;
    write_per_family(options, &core, "egresscheck-diff", out, |core| {
        options
            .format
            .render_diff(&Diff::between(&old, &new, core))
            .map_err(|e| CommandError::Usage(e.to_string()))
    })?;
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
        nft: options.nft.clone(),
        comments: options.comments,
    })
}
