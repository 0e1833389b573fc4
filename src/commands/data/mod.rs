//! The `data` commands: validate, show, diff and check-source.

mod check_source;
mod diff;
mod show;

use std::io::Write;

use crate::catalog::Catalog;
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::term::plural;

pub use check_source::check_source;
pub use diff::diff;
pub use show::show;

/// Output format of the data commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables for people.
    Table,
    /// JSON for programs.
    Json,
}

/// `data validate`: a one-line summary of a valid file (exit 0); an invalid one is returned
/// as an error with every problem (exit 2).
pub fn validate(source: &DataSource, out: &mut dyn Write) -> Result<Status, CommandError> {
    let catalog = source.load()?;
    writeln!(out, "{}", summary(&catalog))?;
    Ok(Status::Pass)
}

/// One line with what a catalog holds.
pub fn summary(catalog: &Catalog) -> String {
    let probe_names: usize = catalog.endpoints.iter().map(|e| e.probe.len()).sum();
    let prefixes: usize = catalog
        .endpoints
        .iter()
        .map(|e| e.addresses.iter().count())
        .sum();
    format!(
        "{origin}: valid (schema {schema}): {provider} data {version}: {envs}, {services}, {endpoints} ({probe_names}, {prefixes}), {subnets}, {legacy}, {authorization}, {sources}",
        origin = catalog.origin,
        schema = catalog.schema,
        provider = catalog.data.provider,
        version = catalog.data.version,
        envs = plural(catalog.environments.len(), "environment", "environments"),
        services = plural(catalog.services.len(), "service", "services"),
        endpoints = plural(catalog.endpoints.len(), "endpoint", "endpoints"),
        probe_names = plural(probe_names, "probe name", "probe names"),
        prefixes = plural(prefixes, "address or prefix", "addresses and prefixes"),
        subnets = plural(catalog.subnets.len(), "subnet", "subnets"),
        legacy = plural(catalog.legacy.len(), "legacy endpoint", "legacy endpoints"),
        authorization = plural(
            catalog.authorization_servers.len(),
            "authorization server",
            "authorization servers",
        ),
        sources = plural(catalog.sources.len(), "source", "sources"),
    )
}

/// Resolves `--env` words (ids, names or aliases) to environments, in catalog order.
pub fn select_environments<'a>(
    catalog: &'a Catalog,
    words: &[String],
) -> Result<Vec<&'a crate::catalog::Environment>, CommandError> {
    if words.is_empty() {
        return Ok(catalog.environments.iter().collect());
    }
    let mut chosen = Vec::new();
    for word in words {
        let env = catalog.find_environment(word).ok_or_else(|| {
            let known: Vec<String> = catalog
                .environments
                .iter()
                .map(|e| {
                    let mut names = vec![e.name.clone()];
                    names.extend(e.aliases.iter().cloned());
                    format!("{} ({})", e.id, names.join(", "))
                })
                .collect();
            CommandError::Usage(format!(
                "--env {word:?}: no such environment in {}; known: {}",
                catalog.origin,
                known.join("; ")
            ))
        })?;
        if !chosen
            .iter()
            .any(|c: &&crate::catalog::Environment| c.id == env.id)
        {
            chosen.push(env);
        }
    }
    chosen.sort_by_key(|e| catalog.environments.iter().position(|c| c.id == e.id));
    Ok(chosen)
}
