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
//! Without GNU time (Debian package `time`) the test fails at once with the install hint
//! (`tools::require`): a bound that was never checked is not a pass.

use std::process::{Command, Output};

/// A finished run and its peak resident set size.
#[derive(Debug)]
pub struct Measured {
    /// What the command wrote and how it exited.
    pub output: Output,
    /// Peak RSS in KiB, as GNU time reported it (None if it wrote no number).
    pub peak_kib: Option<u64>,
}

impl Measured {
    /// Fails the test when the peak exceeds `mib` MiB, or when GNU time reported none.
    pub fn assert_peak_below_mib(&self, mib: u64, what: &str) {
        let kib = self
            .peak_kib
            .unwrap_or_else(|| panic!("{what}: GNU time reported no peak RSS"));
        assert!(
            kib <= mib * 1024,
            "{what}: peak RSS {} MiB, bound {mib} MiB",
            kib / 1024
        );
    }
}

/// Runs `cmd` to completion under GNU time, with the same program, arguments, environment
/// and working directory.
pub fn run(cmd: &mut Command) -> Measured {
    super::tools::require(&["time"]);
    let time = super::tools::find("time").expect("GNU time is on PATH");
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
