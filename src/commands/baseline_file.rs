//! `--baseline FILE` on disk: reading it, and keeping an unusable one before `--save` writes
//! over it.
//!
//! A scheduled `check --baseline X --save X` must not get stuck on its own state file. So
//! reading never fails the run: a missing file is the first run of a schedule (said once, on
//! standard error), and a file that cannot be used (unreadable, damaged, of an unknown
//! schema) becomes the report's `baseline-unusable` finding. When `--save` then names the
//! same file, the unusable one is first kept beside it as `FILE.damaged-<UTC time>` (a hard
//! link, or a copy where links are not possible), so it is never silently overwritten.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::report::{Baseline, BaselineError, BaselineState, MAX_BASELINE_BYTES};

/// Why an unusable baseline could not be kept (the save is then not made).
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot keep the unusable baseline {file} as {kept}: {source}; it was not overwritten (move it away, then run again)"
)]
pub struct KeepError {
    /// The baseline.
    pub file: PathBuf,
    /// Where it was to be kept.
    pub kept: PathBuf,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

/// Reads `path` as a baseline, as of `now` (which names a kept copy). `save` is the
/// `--save` file, if any. Notes for the user go to `err`.
pub fn read(
    path: &Path,
    save: Option<&Path>,
    now: DateTime<Utc>,
    err: &mut dyn Write,
) -> io::Result<Baseline> {
    let shown = path.display().to_string();
    let saved_here = save == Some(path);
    let state = match load(path, &shown) {
        Ok(Some(baseline)) => return Ok(baseline),
        Ok(None) => {
            let next = if saved_here {
                "this run writes it, and drift is reported from the next run on".to_owned()
            } else {
                format!("drift is reported once a run has saved one there (--save {shown})")
            };
            writeln!(err, "egresscheck: no baseline at {shown} yet; {next}")?;
            BaselineState::NotYet
        }
        Err(error) => BaselineState::Unusable {
            reason: error.reason(),
            kept_as: saved_here.then(|| kept_name(path, now).display().to_string()),
        },
    };
    Ok(Baseline { file: shown, state })
}

/// The baseline in `path`; `None` when there is no such file.
fn load(path: &Path, shown: &str) -> Result<Option<Baseline>, BaselineError> {
    let read_error = |source| BaselineError::Read {
        file: shown.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    // One byte over the bound is enough for `from_json` to say it is too large.
    let limit = u64::try_from(MAX_BASELINE_BYTES).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    Baseline::from_json(shown, &bytes).map(Some)
}

/// Attempts at a free name for a kept baseline, should one of the same second exist.
const KEPT_NAME_TRIES: u32 = 100;

/// `FILE.damaged-20261130T221300Z`, or with `-2`, `-3`… when a file of that name exists (two
/// unusable baselines in one second).
fn kept_name(path: &Path, now: DateTime<Utc>) -> PathBuf {
    let mut base = path.as_os_str().to_owned();
    base.push(format!(".damaged-{}", now.format("%Y%m%dT%H%M%SZ")));
    let first = PathBuf::from(&base);
    if !first.exists() {
        return first;
    }
    for n in 2..=KEPT_NAME_TRIES {
        let mut name = base.clone();
        name.push(format!("-{n}"));
        let candidate = PathBuf::from(name);
        if !candidate.exists() {
            return candidate;
        }
    }
    // All taken: keeping refuses to write over one, and the save is not made.
    first
}

/// Before `--save` writes over an unusable baseline: keeps it where the report said it
/// would be. Nothing to do for a baseline that was read or did not exist.
pub fn keep_unusable(baseline: &Baseline) -> Result<(), KeepError> {
    let BaselineState::Unusable {
        kept_as: Some(kept),
        ..
    } = &baseline.state
    else {
        return Ok(());
    };
    let (file, kept) = (PathBuf::from(&baseline.file), PathBuf::from(kept));
    let fail = |source| KeepError {
        file: file.clone(),
        kept: kept.clone(),
        source,
    };
    match std::fs::hard_link(&file, &kept) {
        Ok(()) => Ok(()),
        // Nothing there to keep (it went away since it was read).
        Err(e) if e.kind() == io::ErrorKind::NotFound && !file.exists() => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(fail(e)),
        Err(_) => copy_new(&file, &kept).map_err(fail),
    }
}

/// Copies `from` to a new file `to` (never over an existing one).
fn copy_new(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = std::fs::File::open(from)?;
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    io::copy(&mut source, &mut target)?;
    target.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_kept_name_carries_the_utc_time_and_is_never_taken() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 22, 13, 5).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        let first = dir.path().join("report.json.damaged-20261130T221305Z");
        assert_eq!(kept_name(&report, now), first);
        std::fs::write(&first, b"x").unwrap();
        assert_eq!(
            kept_name(&report, now),
            dir.path().join("report.json.damaged-20261130T221305Z-2")
        );
    }
}
