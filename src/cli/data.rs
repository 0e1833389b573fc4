//! `egresscheck data …`: arguments of the data-file commands.

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use crate::commands::data::{self, Format};
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;

/// Output format of the data commands.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Tables for people.
    Table,
    /// JSON for programs (documented in the README).
    Json,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
        }
    }
}

/// The data-file commands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Check a data file and print a one-line summary (exit 0), or every problem with
    /// FILE:LINE:COLUMN (exit 2).
    Validate {
        /// The file to check (`-` for standard input); default: `--data`, else the bundled file.
        file: Option<PathBuf>,
    },
    /// Print the table per environment.
    Show {
        /// Only these environments (id, name or alias; repeatable).
        #[arg(long = "env", value_name = "ENV")]
        envs: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: FormatArg,
    },
}

impl DataCommand {
    /// Runs the command against `data` (from `--data`).
    pub fn run(self, data: DataSource, out: &mut dyn Write) -> Result<Status, CommandError> {
        match self {
            DataCommand::Validate { file } => {
                let source = match file {
                    Some(path) => DataSource::from_flag(Some(&path)),
                    None => data,
                };
                data::validate(&source, out)
            }
            DataCommand::Show { envs, format } => {
                data::show(&data.load()?, &envs, format.into(), out)
            }
        }
    }
}
