//! The commands, each a function from options to a [`Status`], writing to a given writer.
//!
//! Commands never print to the process's standard output directly (ripgrep's printers take a
//! writer): tests run them in memory, and `main` owns the real streams.

pub mod baseline_file;
pub mod check;
pub mod data;
pub mod pipeline;
pub mod probe;
pub mod rules;
pub mod serve;
pub mod token;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::catalog::{self, Catalog, LoadError};

/// Where a data file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The file compiled into the binary.
    Bundled,
    /// Standard input (`-`).
    Stdin,
    /// A file on disk.
    File(PathBuf),
}

impl DataSource {
    /// `--data` as given: absent is the bundled file, `-` is standard input.
    pub fn from_flag(flag: Option<&Path>) -> Self {
        match flag {
            None => DataSource::Bundled,
            Some(path) if path.as_os_str() == "-" => DataSource::Stdin,
            Some(path) => DataSource::File(path.to_path_buf()),
        }
    }

    /// Loads and validates the catalog.
    pub fn load(&self) -> Result<Catalog, LoadError> {
        match self {
            DataSource::Bundled => catalog::bundled(),
            DataSource::Stdin => catalog::load_reader(io::stdin().lock(), "-"),
            DataSource::File(path) => catalog::load_path(path),
        }
    }

    /// Reads the raw bytes of a file that is not a data file (a page), at most `limit` of
    /// them; `what` names it in errors.
    pub fn read_limited(&self, limit: usize, what: &str) -> Result<Vec<u8>, CommandError> {
        match self {
            DataSource::Bundled => Ok(catalog::BUNDLED_TOML.as_bytes().to_vec()),
            DataSource::Stdin => read_limited(io::stdin().lock(), limit, "-", what),
            DataSource::File(path) => {
                let file = path.display().to_string();
                let reader = std::fs::File::open(path).map_err(|e| CommandError::Input {
                    file: file.clone(),
                    reason: format!("cannot read the {what}: {e}"),
                })?;
                read_limited(reader, limit, &file, what)
            }
        }
    }
}

/// `--env` words (ids, names, aliases) as environment ids; none given is an empty list,
/// which every command reads as "all".
pub fn environment_ids(
    catalog: &crate::catalog::Catalog,
    words: &[String],
) -> Result<Vec<crate::catalog::EnvId>, CommandError> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    Ok(data::select_environments(catalog, words)?
        .into_iter()
        .map(|e| e.id.clone())
        .collect())
}

/// `--service` words (ids or names) as service ids, each once; an unknown word is a usage
/// error that lists the services there are.
pub fn service_ids(
    catalog: &crate::catalog::Catalog,
    words: &[String],
) -> Result<Vec<crate::catalog::ServiceId>, CommandError> {
    let mut services = Vec::new();
    for word in words {
        let service = catalog.find_service(word).ok_or_else(|| {
            let known: Vec<String> = catalog
                .services
                .iter()
                .map(|s| format!("{} ({})", s.id, s.name))
                .collect();
            CommandError::Usage(format!(
                "--service {word:?}: no such service in {}; known: {}",
                catalog.origin,
                known.join("; ")
            ))
        })?;
        if !services.contains(&service.id) {
            services.push(service.id.clone());
        }
    }
    Ok(services)
}

/// Reads at most `limit` bytes from `reader`; more is an error naming the bound.
pub fn read_limited(
    reader: impl Read,
    limit: usize,
    file: &str,
    what: &str,
) -> Result<Vec<u8>, CommandError> {
    let error = |reason: String| CommandError::Input {
        file: file.to_owned(),
        reason,
    };
    let mut bytes = Vec::new();
    reader
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| error(format!("cannot read the {what}: {e}")))?;
    if bytes.len() > limit {
        return Err(error(format!(
            "the {what} is larger than {limit} bytes, the most this command reads"
        )));
    }
    Ok(bytes)
}

/// Why a command could not do its job (as opposed to a finding, which is a result).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The data file is missing or invalid.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// Arguments that parse but make no sense together or name unknown things.
    #[error("{0}")]
    Usage(String),
    /// An input other than the data file (a page) cannot be read or is over its bound.
    #[error("{file}: {reason}")]
    Input {
        /// The file as named (`-` for standard input).
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The probe could not start (a `--ca-file` that cannot be used, no runtime).
    #[error("{0}")]
    Probe(crate::probe::ProbeError),
    /// An unusable `--baseline` could not be kept before `--save` wrote over it.
    #[error("{0}")]
    KeepBaseline(#[from] baseline_file::KeepError),
    /// A file the command writes (`--save`, `--output`) could not be written.
    #[error("{0}")]
    Write(#[from] crate::atomic::WriteError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[source] io::Error),
    /// The exporter could not start.
    #[error("{0}")]
    Serve(#[from] serve::ServeError),
    /// A signal stopped the run before it wrote anything ([`crate::interrupt`]).
    #[error("interrupted by {0}; nothing was written")]
    Interrupted(crate::interrupt::Signal),
}

impl CommandError {
    /// True when the reader of our output went away (`| head -1`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CommandError::Output(err) if err.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The signal that stopped the run, when that is what this error is: a probe cut short,
    /// or a write skipped because a signal had come.
    pub fn interrupted(&self) -> Option<crate::interrupt::Signal> {
        match self {
            CommandError::Interrupted(signal)
            | CommandError::Probe(crate::probe::ProbeError::Interrupted(signal)) => Some(*signal),
            CommandError::Write(err) if err.source.kind() == io::ErrorKind::Interrupted => {
                crate::interrupt::received()
            }
            CommandError::Output(err) if err.kind() == io::ErrorKind::Interrupted => {
                crate::interrupt::received()
            }
            _ => None,
        }
    }
}

impl From<crate::probe::ProbeError> for CommandError {
    fn from(err: crate::probe::ProbeError) -> Self {
        match err {
            crate::probe::ProbeError::Interrupted(signal) => CommandError::Interrupted(signal),
            other => CommandError::Probe(other),
        }
    }
}

impl From<io::Error> for CommandError {
    fn from(err: io::Error) -> Self {
        CommandError::Output(err)
    }
}
