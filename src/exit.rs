//! Exit codes, one place for the whole program.
//!
//! Scripts and monitoring depend on them: `0` pass, `1` fail (findings, drift or a
//! difference, depending on the command), `2` bad usage or a bad data file. Nagios output has
//! its own mapping to 0/1/2/3 in its renderer.

use std::process::ExitCode;

/// What a command concluded, as a process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Everything as expected (exit 0).
    Pass,
    /// The command ran and found a problem or a difference (exit 1).
    Fail,
    /// Bad usage, bad input or an internal error (exit 2).
    Error,
    /// Unknown: the check could not be run (exit 3, used by the Nagios output).
    Unknown,
}

impl Status {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Pass => 0,
            Status::Fail => 1,
            Status::Error => 2,
            Status::Unknown => 3,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status.code())
    }
}
