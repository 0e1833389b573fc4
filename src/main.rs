//! The `egresscheck` binary: parses arguments, runs the command, maps the outcome to an
//! exit code. Everything else lives in the library.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use egresscheck::cli;
use egresscheck::exit::Status;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        // Help and version go to standard output with exit 0; usage errors exit 2, except
        // for a Nagios check, whose bad usage is UNKNOWN (exit 3) on standard output.
        Err(err) if err.use_stderr() && cli::wants_nagios(&args) => {
            let _ = writeln!(io::stdout(), "{}", cli::nagios_usage_error(&err));
            return Status::Unknown.into();
        }
        Err(err) => err.exit(),
    };
    let mut stdout = io::stdout().lock();
    let result = cli::run(cli, &mut stdout).and_then(|status| {
        stdout
            .flush()
            .map_err(egresscheck::commands::CommandError::Output)?;
        Ok(status)
    });
    match result {
        Ok(status) => status.into(),
        // A reader that went away (`egresscheck … | head -1`) is not an error worth a word.
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => match err.interrupted() {
            // Ctrl-C or SIGTERM: the shell's 128 + signal number.
            Some(signal) => {
                let _ = writeln!(io::stderr(), "egresscheck: {err}");
                ExitCode::from(signal.exit_code())
            }
            None => {
                let _ = writeln!(io::stderr(), "egresscheck: {err}");
                Status::Error.into()
            }
        },
    }
}
