//! `egresscheck check …`: arguments of the main job.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::audit::AuditFlags;
use super::probe::{OPEN_FILE_CEILING, ProbeFlags, proxy_env};
use crate::commands::check::{self, CheckFormat, CheckOptions};
use crate::commands::pipeline::Scope;
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::probe::options;
use crate::term::{ColourChoice, Screen};

/// Report format of `check`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormatArg {
    /// Summary, a table per environment, findings, next steps.
    Table,
    /// The versioned JSON report (also what --baseline reads).
    Json,
    /// Prometheus text exposition for node_exporter's textfile collector.
    Prometheus,
    /// JUnit XML, one test case per target.
    Junit,
    /// One Nagios plugin status line with perfdata; exit 0/1/2/3.
    Nagios,
    /// One JSON object per line: each target, each finding, a summary (for Loki,
    /// Elasticsearch, Ansible).
    Jsonl,
    /// GitHub-flavoured Markdown for a change ticket or a wiki: verdict, causes, targets per
    /// environment, findings, the rules needed (with --rules, inside the document).
    Markdown,
    /// One self-contained HTML file (no script, no external style or font; prints well)
    /// with the same sections as markdown.
    Html,
}

impl From<CheckFormatArg> for CheckFormat {
    fn from(arg: CheckFormatArg) -> Self {
        match arg {
            CheckFormatArg::Table => CheckFormat::Table,
            CheckFormatArg::Json => CheckFormat::Json,
            CheckFormatArg::Prometheus => CheckFormat::Prometheus,
            CheckFormatArg::Junit => CheckFormat::Junit,
            CheckFormatArg::Nagios => CheckFormat::Nagios,
            CheckFormatArg::Jsonl => CheckFormat::Jsonl,
            CheckFormatArg::Markdown => CheckFormat::Markdown,
            CheckFormatArg::Html => CheckFormat::Html,
        }
    }
}

/// `egresscheck check`: compare the network with the table.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Environments to check (id, name or alias; repeatable) [default: all].
    #[arg(long = "env", value_name = "ENV")]
    pub environments: Vec<String>,

    /// Services to check (id or name; repeatable) [default: all].
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Only these names (probe names, hosts or legacy hosts; repeatable).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,

    /// How to probe.
    #[command(flatten)]
    pub flags: ProbeFlags,

    /// Judge sunsets, certificates and staleness as of this date (YYYY-MM-DD) [default: today, UTC].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,

    /// Audit thresholds.
    #[command(flatten)]
    pub audit: AuditFlags,

    /// A label for every output (KEY=VALUE, repeatable), e.g. site=oslo or node=$NODE_NAME:
    /// Prometheus labels, JSON `labels`, JUnit properties, the Nagios line.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,

    /// Exit 1 on warnings too.
    #[arg(long)]
    pub strict: bool,

    /// With the table: after the causes and targets, every finding as it stands and each
    /// distinct certificate in full.
    #[arg(short, long)]
    pub verbose: bool,

    /// Report format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: CheckFormatArg,

    /// Write the report to FILE (atomically: temporary file, fsync, rename) instead of
    /// standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// An earlier JSON report (`--format json` or `--save`) to report drift against.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Also write the JSON report to FILE (atomically), for the next run's --baseline.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,

    /// After the report, print the firewall rules that would let through what this run
    /// found blocked, refused, unreachable or undocumented, in this dialect (any of
    /// `egresscheck rules --list-formats`). Markdown and HTML show them inside the document;
    /// with another machine --format, needs --output.
    #[arg(long, value_name = "FORMAT", value_parser = parse_dialect)]
    pub rules: Option<crate::rules::Format>,

    /// Also get a token from the environment's authorization server (Maskinporten) with the
    /// client this TOML file describes (the options of `egresscheck token`; see the README's
    /// "Maskinporten readiness"), and report the step with the rest.
    #[arg(long, value_name = "FILE")]
    pub client: Option<PathBuf>,
}

fn parse_dialect(name: &str) -> Result<crate::rules::Format, String> {
    crate::rules::Format::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = crate::rules::Format::ALL.iter().map(|f| f.name()).collect();
        format!("unknown rules format; one of: {}", names.join(", "))
    })
}

impl CheckArgs {
    /// Runs the command against `data`.
    pub fn run(
        self,
        data: DataSource,
        colour: ColourChoice,
        out: &mut dyn Write,
    ) -> Result<Status, CommandError> {
        let nagios = matches!(self.format, CheckFormatArg::Nagios);
        let result = self.run_inner(data, colour, out);
        match result {
            // A Nagios plugin that cannot run says UNKNOWN (exit 3) on standard output.
            Err(err) if nagios && !err.is_broken_pipe() && err.interrupted().is_none() => {
                writeln!(
                    out,
                    "EGRESSCHECK UNKNOWN - {}",
                    crate::term::sanitize(&err.to_string()).replace('\n', "; ")
                )?;
                Ok(Status::Unknown)
            }
            other => other,
        }
    }

    fn run_inner(
        self,
        data: DataSource,
        colour: ColourChoice,
        out: &mut dyn Write,
    ) -> Result<Status, CommandError> {
        options::prepare_open_files(OPEN_FILE_CEILING);
        let catalog = data.load()?;
        let probe = self.flags.to_options(&proxy_env())?;
        let audit = self.audit.to_options()?;
        // `check` writes files (`--save`, `--output`): from here on Ctrl-C must not leave one
        // half done. (Before, while a data file is read from a pipe, the default action is
        // what a user expects.)
        let client = match &self.client {
            None => None,
            Some(path) => {
                let (env, options) = crate::commands::token::client_file(
                    path,
                    std::env::var(crate::commands::token::PASSWORD_ENV).ok(),
                )?;
                let env = match (env, self.environments.as_slice()) {
                    (Some(env), _) => env,
                    (None, [one]) => one.clone(),
                    (None, _) => {
                        return Err(CommandError::Usage(format!(
                            "--client {}: name the environment in the file (environment = \"prod\") or give check exactly one --env",
                            path.display()
                        )));
                    }
                };
                Some((env, options))
            }
        };
        crate::interrupt::install();
        let screen = Screen::detect(colour, self.output.is_some());
        let options = CheckOptions {
            scope: Scope {
                environments: self.environments,
                services: self.services,
                hosts: self.hosts,
            },
            probe,
            as_of: self
                .as_of
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            audit,
            strict: self.strict,
            labels: crate::labels::Labels::parse(&self.labels)
                .map_err(|err| CommandError::Usage(err.to_string()))?,
            format: self.format.into(),
            output: self.output,
            baseline: self.baseline,
            save: self.save,
            rules: self.rules,
            progress: check::stderr_is_terminal(),
            screen,
            verbose: self.verbose,
            client,
        };
        check::check(&catalog, &options, out, &mut std::io::stderr())
    }
}
