//! Atomic file replacement for `--save`: a crash, a full disk or an interrupted run never
//! leaves a truncated baseline behind, because the new content is written to a temporary
//! file beside the target, flushed to disk, and only then renamed over it.
//!
//! Temporary files that exist are registered, so that the forced exit of a second Ctrl-C
//! ([`crate::interrupt`]) can remove them too; after the first one, a write stops before its
//! rename and removes its temporary file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Temporary files this process created and has not renamed or removed yet.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while the list was held leaves it usable: it is only ever pushed to and
    // filtered.
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every temporary file still registered (the forced exit of a second signal).
pub fn remove_temporaries() {
    for path in live().drain(..) {
        let _ = fs::remove_file(path);
    }
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    /// The file we tried to write.
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

/// A temporary file that is removed unless it was renamed into place.
struct Temporary {
    path: PathBuf,
    keep: bool,
}

impl Temporary {
    fn new(path: PathBuf) -> Temporary {
        live().push(path.clone());
        Temporary { path, keep: false }
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
        live().retain(|p| p != &self.path);
    }
}

/// Replaces `path` with `contents` atomically (temporary file, fsync, rename, fsync of the
/// directory). On error the old file, if any, is untouched and no temporary file is left.
/// After a signal ([`crate::interrupt::received`]) nothing is replaced: the error is
/// [`io::ErrorKind::Interrupted`].
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    write_atomically_with(path, |file| file.write_all(contents))
}

/// [`write_atomically`] for content that `write` produces into the temporary file as it
/// goes, so that a large report is never held whole in memory. An error of `write` leaves
/// the old file untouched, as any other does.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let mut temporary = None;
    for attempt in 0..100u32 {
        let candidate = dir.join(format!(
            ".{}.{}.{attempt}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => {
                temporary = Some((file, Temporary::new(candidate)));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(err(e)),
        }
    }
    let (mut file, mut guard) = temporary.ok_or_else(|| {
        err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary name",
        ))
    })?;
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, &mut file);
    write(&mut buffered).map_err(err)?;
    buffered.flush().map_err(err)?;
    drop(buffered);
    file.sync_all().map_err(err)?;
    drop(file);
    // The last moment to honour Ctrl-C: after the rename the new file is in place.
    crate::interrupt::check().map_err(err)?;
    fs::rename(&guard.path, path).map_err(err)?;
    guard.keep = true;
    // The rename is durable only once the directory entry is on disk. Some filesystems
    // cannot open a directory for syncing; the data itself is already synced then.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Checks, before any work is done, that [`write_atomically`] can put a file at `path`: it
/// is not a directory, its directory exists, and a file can be created there (tried with a
/// temporary file, removed at once). The reason says what to do about it.
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("is a directory: name a file".to_owned());
    }
    if path.file_name().is_none() {
        return Err("not a file name: name a file".to_owned());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(format!("{} is not a directory", dir.display()));
        }
        Err(_) => {
            return Err(format!(
                "the directory {} does not exist: create it, or name a file in an existing one",
                dir.display()
            ));
        }
    }
    let probe = dir.join(format!(
        ".egresscheck-write-test.{}.tmp",
        std::process::id()
    ));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(file) => {
            drop(file);
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        // Left over from a process of the same id that was killed: the directory is writable.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!(
            "cannot create a file in {} ({e}): choose a directory this user can write to",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    /// Content written as it is produced lands whole; a writer that fails part way leaves
    /// the old file and no temporary.
    #[test]
    fn streamed_content_replaces_the_file_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        fs::write(&path, b"old").unwrap();
        let failed = write_atomically_with(&path, |out| {
            out.write_all(&[b'x'; 200_000])?;
            Err(io::Error::other("renderer failed"))
        });
        assert!(failed.unwrap_err().to_string().contains("renderer failed"));
        assert_eq!(fs::read(&path).unwrap(), b"old");
        write_atomically_with(&path, |out| {
            for _ in 0..1000 {
                out.write_all(&[b'y'; 1000])?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), vec![b'y'; 1_000_000]);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.json")]);
    }

    #[test]
    fn writability_is_checked_before_the_work_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        check_writable(&dir.path().join("report.json")).unwrap();
        let missing = dir.path().join("no-such-dir").join("x");
        let reason = check_writable(&missing).unwrap_err();
        assert!(reason.contains("does not exist"), "{reason}");
        assert!(
            check_writable(dir.path())
                .unwrap_err()
                .contains("is a directory")
        );
        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let reason = check_writable(&file.join("x")).unwrap_err();
        assert!(reason.contains("is not a directory"), "{reason}");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("plain")]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("state.json");
        assert!(write_atomically(&missing, b"x").is_err());
        // A directory in place of the target: the rename fails, the temporary goes away.
        let target = dir.path().join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"keep").unwrap();
        assert!(write_atomically(&target, b"x").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("taken")]);
    }
}
