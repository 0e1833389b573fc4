//! The fuzzers' findings, kept: every input under `tests/fuzz_regressions/TARGET/` is fed to
//! the function that fuzz target `TARGET` drives (`fuzz/fuzz_targets/TARGET.rs`), the same
//! way, on every CI run. The fuzzers themselves are not run in CI (see the README,
//! "Fuzzing"). A new crash goes here as a file named after what it found.

use std::path::{Path, PathBuf};

use egresscheck::rules::{Format, Options, RuleSet};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().is_some_and(|n| n != "README.md"))
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
}

fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

/// As `fuzz_targets/catalog_load.rs`: load, and render every dialect when it loads.
#[test]
fn catalog_load_regressions() {
    for (path, bytes) in inputs("catalog_load") {
        let name = path.display().to_string();
        match egresscheck::catalog::load_bytes(&bytes, &name) {
            Ok(catalog) => {
                let rules = RuleSet::from_catalog(&catalog, &Options::new(as_of()));
                for format in Format::ALL {
                    let _ = format.render(&rules);
                }
            }
            // The loader's promise: every problem located in the file, within it.
            Err(err) => {
                let lines = bytes.split(|&b| b == b'\n').count();
                assert!(!err.diagnostics().is_empty(), "{name}: {err}");
                for d in err.diagnostics() {
                    assert!(
                        d.file == name && d.line >= 1 && d.line <= lines,
                        "{name}: {d}"
                    );
                    assert!(d.column >= 1 && !d.message.is_empty(), "{name}: {d}");
                }
            }
        }
    }
}

/// As `fuzz_targets/check_source.rs`: the page against the bundled catalog.
#[test]
fn check_source_regressions() {
    let catalog = egresscheck::catalog::bundled().unwrap();
    for (path, bytes) in inputs("check_source") {
        let text = String::from_utf8_lossy(&bytes);
        let name = path.display().to_string();
        let report = egresscheck::pagecheck::check_source(&catalog, &name, &text, as_of());
        assert_eq!(report.page, name);
        assert!(report.mentions <= egresscheck::pagecheck::extract::MAX_MENTIONS);
    }
}

/// As `fuzz_targets/baseline.rs`: a baseline, or an error naming the file and what is wrong
/// (which `check` turns into its `baseline-unusable` finding, with the way out).
#[test]
fn baseline_regressions() {
    for (path, bytes) in inputs("baseline") {
        let name = path.display().to_string();
        match egresscheck::report::Baseline::from_json(&name, &bytes) {
            Err(err) => {
                let message = err.to_string();
                // `valid-*`: reports `--save` wrote, which must load (issue 12: a baseline is
                // any report `--save` wrote, whatever the network did).
                assert!(
                    !path
                        .file_name()
                        .is_some_and(|f| f.to_string_lossy().starts_with("valid-")),
                    "a saved report does not load: {message}"
                );
                assert!(message.starts_with(&name), "{message}");
                assert!(message.contains("not a usable baseline"), "{message}");
                assert!(!err.reason().is_empty(), "{message}");
            }
            // What was read is what a report of it would hold again.
            Ok(baseline) => {
                let observations = baseline.observations().unwrap();
                let json = serde_json::to_vec(observations).unwrap();
                let back: Vec<egresscheck::probe::model::NameObservation> =
                    serde_json::from_slice(&json).unwrap();
                assert_eq!(back.as_slice(), observations, "{name}");
            }
        }
    }
}
