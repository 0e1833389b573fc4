//! Peak memory of a child process: the run is wrapped in GNU time (`/usr/bin/time -f %M`),
//! which reads the child's maximum resident set size from `wait4`'s resource usage when it
//! exits, so the peak is exact, however short the spike.
//!
//! ```ignore
//! let measured = rss::run(&mut cmd);            // same Command, run under GNU time
//! measured.assert_peak_below_mib(128, "garbage server");
//! let out: std::process::Output = measured.output;
//! ```
//!
//! Without GNU time (Debian package `time`) the command runs unmeasured, the bound is not
//! checked and a note is printed; with `CI` set that is a failure instead.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A finished run and, when GNU time was there, its peak resident set size.
#[derive(Debug)]
pub struct Measured {
    /// What the command wrote and how it exited.
    pub output: Output,
    /// Peak RSS in KiB.
    pub peak_kib: Option<u64>,
}

impl Measured {
    /// Fails the test when the peak exceeds `mib` MiB (or, under `CI`, when it could not be
    /// measured).
    pub fn assert_peak_below_mib(&self, mib: u64, what: &str) {
        match self.peak_kib {
            Some(kib) => assert!(
                kib <= mib * 1024,
                "{what}: peak RSS {} MiB, bound {mib} MiB",
                kib / 1024
            ),
            None => {
                let _ = super::netns::decide(
                    Some(format!(
                        "{what}: GNU time is not installed (Debian package `time`); peak memory not measured"
                    )),
                    std::env::var_os("CI").is_some(),
                );
            }
        }
    }
}

fn gnu_time() -> Option<PathBuf> {
    super::netns::find_in_path("time")
}

/// Runs `cmd` to completion under GNU time, with the same program, arguments, environment
/// and working directory.
pub fn run(cmd: &mut Command) -> Measured {
    let Some(time) = gnu_time() else {
        let output = cmd.output().expect("run the command");
        return Measured {
            output,
            peak_kib: None,
        };
    };
    let report = tempfile::NamedTempFile::new().expect("temporary file for GNU time");
    let mut wrapped = Command::new(time);
    wrapped
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let output = wrapped.output().expect("run the command under GNU time");
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    // GNU time writes "Command exited with non-zero status N" before the number.
    let peak_kib = text
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .next_back();
    Measured { output, peak_kib }
}
