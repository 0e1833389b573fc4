//! Command-line interface: clap definitions and their translation into command options.
//!
//! Nothing after this module sees clap types: each subcommand's arguments are turned into a
//! plain options struct of [`crate::commands`], validated on the way (ripgrep's low-level /
//! high-level split).

mod audit;
mod check;
pub mod completions;
mod data;
pub mod man;
pub mod probe;
mod rules;
mod serve;
mod token;
mod values;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::term::{ColourChoice, Screen};

/// `--version`: the crate's version and the bundled data's provider and version, read from
/// the data file by build.rs (`egresscheck 0.1.0 (data Skatteetaten 2026-02-09.2)`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (data ",
    env!("EGRESSCHECK_BUNDLED_DATA"),
    ")"
);

/// Top-level arguments.
#[derive(Debug, Parser)]
#[command(
    name = "egresscheck",
    version = VERSION,
    about = "Checks that this network can reach a provider's API the way the provider documents it, and prints the firewall rules it needs.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Data file to use instead of the bundled one (`-` reads standard input).
    #[arg(long, global = true, value_name = "FILE")]
    pub data: Option<PathBuf>,

    /// Colour in tables: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        value_enum,
        default_value = "auto"
    )]
    pub color: ColorArg,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorArg {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always (also when piped, and whatever NO_COLOR says).
    Always,
    /// Never.
    Never,
}

impl From<ColorArg> for ColourChoice {
    fn from(arg: ColorArg) -> Self {
        match arg {
            ColorArg::Auto => ColourChoice::Auto,
            ColorArg::Always => ColourChoice::Always,
            ColorArg::Never => ColourChoice::Never,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: resolve and probe every documented host from this network, compare
    /// with the table, report (table, json, prometheus, junit, nagios). Exit 0 pass, 1 fail,
    /// 2 bad usage or data.
    Check(Box<check::CheckArgs>),
    /// Validate, show, compare and audit data files.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Probe names without a data file: DNS, TCP and TLS on every address, like
    /// Test-NetConnection or openssl s_client. Exit 0 when every target connected with
    /// trusted TLS, 1 otherwise.
    Probe(Box<probe::ProbeArgs>),
    /// Print firewall rules for the documented endpoints, in a firewall's own dialect.
    // `--format` is required unless `--list-formats` is given, which clap's generated usage
    // (`rules [OPTIONS]`) does not show.
    #[command(
        override_usage = "egresscheck rules --format <FORMAT> [OPTIONS]\n       \
        egresscheck rules --diff <OLD> <NEW> --format <FORMAT> [OPTIONS]\n       \
        egresscheck rules --list-formats"
    )]
    Rules(rules::RulesArgs),
    /// Can this host get a token? The enterprise certificate or key, the authorization
    /// server's metadata over the probe path, a JWT grant, the token request and its answer
    /// (Maskinporten readiness). Exit 0 pass, 1 fail, 2 bad usage or data.
    Token(Box<token::TokenArgs>),
    /// Run as a Prometheus exporter: each GET /probe?env=…&service=…&host=… checks that
    /// selection of the data file (nothing else) and answers in check's metric names. Runs
    /// until SIGTERM; SIGHUP re-reads the data file.
    Serve(Box<serve::ServeArgs>),
    /// Print shell completions for bash, zsh, fish, powershell or elvish.
    Completions(completions::CompletionsArgs),
    /// Write the manual pages (egresscheck(1) and one per subcommand) into a directory.
    Man(man::ManArgs),
}

impl Command {
    /// Why a command would ignore `--data` (it is refused rather than silently unused);
    /// `None` when the command reads the data file.
    fn ignores_data(&self) -> Option<&'static str> {
        match self {
            Command::Probe(_) => Some("`egresscheck probe` reads no data file"),
            Command::Data(command) => command.ignores_data(),
            Command::Rules(args) => args.ignores_data(),
            Command::Check(_) | Command::Token(_) | Command::Serve(_) => None,
            Command::Completions(_) => Some("`egresscheck completions` reads no data file"),
            Command::Man(_) => Some("`egresscheck man` reads no data file"),
        }
    }
}

impl Cli {
    /// Where the catalog comes from: `--data`, or the bundled file.
    fn data_source(&self) -> DataSource {
        DataSource::from_flag(self.data.as_deref())
    }
}

/// Whether `args` (the whole command line) ask for `--format nagios`: a usage error of such a
/// run must be reported the Nagios way (UNKNOWN, exit 3), not as clap's exit 2, which a
/// monitoring system would read as CRITICAL.
pub fn wants_nagios(args: &[OsString]) -> bool {
    args.iter().any(|arg| arg == "--format=nagios")
        || args
            .windows(2)
            .any(|pair| matches!(pair, [flag, value] if flag == "--format" && value == "nagios"))
}

/// The Nagios status line for a command line clap rejected: its first line, without
/// clap's `error: ` prefix.
pub fn nagios_usage_error(err: &clap::Error) -> String {
    let text = err.to_string();
    let first = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    let reason = first.strip_prefix("error: ").unwrap_or(first);
    format!(
        "EGRESSCHECK UNKNOWN - bad usage: {}",
        crate::term::sanitize(reason)
    )
}

/// Parses the command line. The open-file limit is raised first: `--max-connects` is
/// checked against it as it is read.
pub fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    crate::probe::options::raise_open_file_limit(probe::OPEN_FILE_CEILING);
    Cli::try_parse_from(args)
}

/// Runs the parsed command line, writing results to `out`.
///
/// Errors are returned, not printed: `main` decides how to report them and which exit code
/// they map to.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Status, CommandError> {
    let data = cli.data_source();
    if cli.data.is_some()
        && let Some(why) = cli.command.ignores_data()
    {
        return Err(CommandError::Usage(format!("{why}: leave out --data")));
    }
    let colour = ColourChoice::from(cli.color);
    match cli.command {
        Command::Check(args) => args.run(data, colour, out),
        Command::Data(command) => command.run(data, Screen::detect(colour, false), out),
        Command::Probe(args) => args.run(Screen::detect(colour, false), out),
        Command::Token(args) => args.run(data, Screen::detect(colour, false), out),
        Command::Rules(args) => args.run(data, out),
        Command::Serve(args) => args.run(data),
        Command::Completions(args) => args.run(out),
        Command::Man(args) => args.run(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
