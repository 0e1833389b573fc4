//! `egresscheck data …`: arguments of the data-file commands.

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use crate::commands::data::{self, Format};
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::term::Screen;

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
    /// Compare two data files per environment; exit 0 identical, 1 different, 2 error (as
    /// diff(1) does).
    Diff {
        /// The older data file (`-` for standard input).
        old: PathBuf,
        /// The newer data file (`-` for standard input).
        new: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: FormatArg,
    },
    /// Compare a copy of the provider's page (Markdown, HTML or text; `-` for standard input)
    /// with the entries the data file takes from its primary source; exit 0 consistent,
    /// 1 drift, 2 error.
    CheckSource {
        /// The page file.
        page: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: FormatArg,
        /// Judge legacy sunsets as of this date (YYYY-MM-DD; default: today, UTC).
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
    },
}

impl DataCommand {
    /// Why a data command would ignore `--data` (see [`super::Command`]).
    pub(super) fn ignores_data(&self) -> Option<&'static str> {
        match self {
            DataCommand::Diff { .. } => {
                Some("`egresscheck data diff` compares the two files it is given")
            }
            DataCommand::Validate { file: Some(_) } => {
                Some("`egresscheck data validate FILE` checks FILE")
            }
            DataCommand::Validate { file: None }
            | DataCommand::Show { .. }
            | DataCommand::CheckSource { .. } => None,
        }
    }

    /// Runs the command against `data` (from `--data`), laying tables out for `screen`.
    pub fn run(
        self,
        data: DataSource,
        screen: Screen,
        out: &mut dyn Write,
    ) -> Result<Status, CommandError> {
        match self {
            DataCommand::Validate { file } => {
                let source = match file {
                    Some(path) => DataSource::from_flag(Some(&path)),
                    None => data,
                };
                data::validate(&source, out)
            }
            DataCommand::Show { envs, format } => {
                data::show(&data.load()?, &envs, format.into(), screen, out)
            }
            DataCommand::Diff { old, new, format } => {
                if old.as_os_str() == "-" && new.as_os_str() == "-" {
                    return Err(CommandError::Usage(
                        "data diff: only one of OLD and NEW can be standard input (-)".into(),
                    ));
                }
                let old = DataSource::from_flag(Some(&old)).load()?;
                let new = DataSource::from_flag(Some(&new)).load()?;
                data::diff(&old, &new, format.into(), screen, out)
            }
            DataCommand::CheckSource {
                page,
                format,
                as_of,
            } => {
                let catalog = data.load()?;
                let bytes = DataSource::from_flag(Some(&page))
                    .read_limited(crate::pagecheck::MAX_PAGE_BYTES, "page")?;
                let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
                let name = page.display().to_string();
                data::check_source(&catalog, &name, &bytes, as_of, format.into(), screen, out)
            }
        }
    }
}
