//! No test skips silently: a missing tool fails every test that needs it, with the command
//! that installs it.
//!
//! The proof runs real tests of this binary again, in a child process, with one tool taken
//! off `PATH` (its directory replaced by a shim directory holding everything else, see
//! `tools::path_without`) and `CI` unset, and requires each of them to fail naming the tool and
//! its install command. Which tests need which tool is read from the test sources: every
//! `#[test]` whose body calls `tools::require(…)` or `tools::require_root_and(…)`, with a
//! literal list or a `const` list. For each tool of `scripts/requirements/` one such test is
//! run, so a tool another engineer adds, with the tests that need it, is covered with no
//! change here.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::tools::{self, Source};

/// The directory of the integration tests' sources.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Every `.rs` file under `dir`, with its module path inside the integration binary
/// (`tests/hardening/injection.rs` is `hardening::injection`, `tests/rules/mod.rs` is `rules`).
fn sources(dir: &Path, module: &[String], out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut inner = module.to_vec();
            inner.push(name);
            sources(&path, &inner, out);
        } else if path.extension() == Some(OsStr::new("rs")) {
            let mut inner = module.to_vec();
            if name != "mod" && !(module.is_empty() && name == "tests") {
                inner.push(name);
            }
            out.push((inner.join("::"), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The string literals between `[` and its `]` at the start of `text`.
fn literals(text: &str) -> Vec<String> {
    let end = text.find(']').unwrap_or(text.len());
    text[..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// `const NAME: &[&str] = &[…];` anywhere in the test sources.
fn const_lists(files: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut lists = BTreeMap::new();
    for (_, text) in files {
        for (i, _) in text.match_indices("const ") {
            let rest = &text[i + "const ".len()..];
            let Some((name, after)) = rest.split_once(": &[&str] = &[") else {
                continue;
            };
            if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                lists.insert(name.to_owned(), literals(after));
            }
        }
    }
    lists
}

/// (test path, tools it requires) for every test that calls `tools::require*`.
fn tests_requiring_tools() -> Vec<(String, Vec<String>)> {
    let mut files = Vec::new();
    sources(&tests_dir(), &[], &mut files);
    let consts = const_lists(&files);
    let mut found = Vec::new();
    for (module, text) in &files {
        // Each piece after a `#[test]` attribute up to the next is one test's function.
        for piece in text.split("#[test]").skip(1) {
            let Some(name) = piece
                .split_once("fn ")
                .and_then(|(_, rest)| rest.split_once('('))
                .map(|(name, _)| name.trim().to_owned())
            else {
                continue;
            };
            let mut needs = Vec::new();
            for call in ["tools::require(", "tools::require_root_and("] {
                for (i, _) in piece.match_indices(call) {
                    let arg = piece[i + call.len()..].trim_start();
                    if let Some(list) = arg.strip_prefix("&[") {
                        needs.extend(literals(list));
                    } else {
                        let ident: String = arg
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                            .collect();
                        let last = ident.rsplit("::").next().unwrap_or_default();
                        needs.extend(consts.get(last).cloned().unwrap_or_default());
                    }
                }
            }
            if !needs.is_empty() {
                let path = if module.is_empty() {
                    name
                } else {
                    format!("{module}::{name}")
                };
                found.push((path, needs));
            }
        }
    }
    found
}

/// What the hint for `tool` must contain.
fn expected_hint(tool: &str) -> String {
    match tools::source(tool) {
        Some(Source::Debian(package)) => {
            format!("apt-get install -y --no-install-recommends {package}")
        }
        Some(Source::Python(requirement)) => format!("pip install '{requirement}'"),
        Some(Source::Npm(_)) => "npm ci".to_owned(),
        None => panic!("{tool} is in no requirement file"),
    }
}

#[test]
fn every_tool_a_test_requires_is_in_a_requirement_file() {
    let listed = tools::all_commands();
    let found = tests_requiring_tools();
    assert!(
        found.len() >= 10,
        "the source scan found too few tests needing tools: {found:?}"
    );
    for (test, needs) in &found {
        for tool in needs {
            assert!(
                listed.contains(tool),
                "{test} requires {tool}, which no file of scripts/requirements/ lists: add it \
                 there so that scripts/test installs it and the failure can say how"
            );
        }
    }
}

#[test]
fn requirement_files_are_well_formed() {
    let commands = tools::all_commands();
    for tool in [
        "nft",
        "iptables-restore",
        "ip",
        "promtool",
        "xmllint",
        "time",
    ] {
        assert!(commands.iter().any(|c| c == tool), "{tool} not listed");
    }
    assert_eq!(
        tools::source("nft"),
        Some(Source::Debian("nftables".to_owned()))
    );
    assert_eq!(
        tools::source("promtool"),
        Some(Source::Debian("prometheus".to_owned()))
    );
    let python = include_str!("../../scripts/requirements/python.txt");
    for line in python.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let requirement = line.split('#').next().unwrap().trim();
        assert!(
            requirement.contains("=="),
            "python.txt: pin {requirement:?} as name==version"
        );
    }
}

#[test]
fn the_failure_names_the_tool_and_its_install_command() {
    let empty = OsStr::new("");
    let message = tools::problem(empty, &["promtool", "nft", "xmllint"], false).unwrap();
    assert!(
        message.contains("promtool, nft, xmllint"),
        "names every missing tool: {message}"
    );
    assert!(
        message.contains(
            "apt-get install -y --no-install-recommends prometheus nftables libxml2-utils"
        ),
        "one install line for them: {message}"
    );
    assert!(message.contains("scripts/test"), "{message}");

    let unlisted = tools::problem(empty, &["no-such-tool-xyz"], false).unwrap();
    assert!(
        unlisted.contains("no-such-tool-xyz listed in no requirement file"),
        "{unlisted}"
    );
    assert!(
        unlisted.contains("scripts/requirements/debian.txt"),
        "{unlisted}"
    );

    let here = std::env::var_os("PATH").unwrap_or_default();
    assert_eq!(tools::problem(&here, &["sh"], true), None);

    let root = tools::root_problem(false).unwrap();
    assert!(root.contains("run the tests as root (CI does)"), "{root}");
    assert_eq!(tools::root_problem(true), None);
}

#[test]
fn path_without_a_tool_keeps_every_other_tool() {
    let shims = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    assert!(
        tools::find_on(&path, "xmllint").is_some(),
        "xmllint on PATH"
    );
    let without = tools::path_without(&path, "xmllint", shims.path());
    assert_eq!(tools::find_on(&without, "xmllint"), None);
    for other in ["sh", "nft", "ip", "promtool"] {
        assert!(
            tools::find_on(&without, other).is_some(),
            "{other} is still found without xmllint"
        );
    }
}

/// For each tool of `scripts/requirements/` that some test requires: every test requiring it,
/// run again with the tool off `PATH` and `CI` unset, fails and says how to install the tool.
#[test]
fn a_tool_missing_from_path_fails_the_tests_that_need_it() {
    tools::require(&["sh"]);
    // This file's own tests are left out: they would only run themselves again.
    let found: Vec<(String, Vec<String>)> = tests_requiring_tools()
        .into_iter()
        .filter(|(test, _)| !test.starts_with("harness_selftest::tools::"))
        .collect();
    let me = std::env::current_exe().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut proved = Vec::new();
    for tool in tools::all_commands() {
        let affected: Vec<&str> = found
            .iter()
            .filter(|(_, needs)| needs.contains(&tool))
            .map(|(test, _)| test.as_str())
            .collect();
        if affected.is_empty() {
            continue;
        }
        let shims = tempfile::tempdir().unwrap();
        let out = Command::new(&me)
            .args(&affected)
            .arg("--exact")
            .env("PATH", tools::path_without(&path, &tool, shims.path()))
            .env_remove("CI")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "with {tool} missing from PATH the tests passed:\n{text}"
        );
        let summary = format!("test result: FAILED. 0 passed; {} failed", affected.len());
        assert!(
            text.contains(&summary),
            "with {tool} missing from PATH, every one of {affected:?} must fail:\n{text}"
        );
        let hint = expected_hint(&tool);
        for test in &affected {
            let section = text
                .split(&format!("---- {test} stdout ----"))
                .nth(1)
                .unwrap_or_else(|| panic!("{test}: no failure output:\n{text}"));
            let section = section.split("\n---- ").next().unwrap_or_default();
            assert!(
                section.contains("not on PATH") && section.contains(&tool),
                "{test} does not name the missing {tool}:\n{section}"
            );
            assert!(
                section.contains(&hint),
                "{test}: no install hint {hint:?} for {tool}:\n{section}"
            );
        }
        eprintln!(
            "without {tool}: {} tests fail, each saying how to install it",
            affected.len()
        );
        proved.push(tool);
    }
    for tool in [
        "nft",
        "ip",
        "iptables-restore",
        "promtool",
        "xmllint",
        "time",
        "script",
        "sh",
    ] {
        assert!(
            proved.iter().any(|t| t == tool),
            "no test requiring {tool} was found to prove it: {found:?}"
        );
    }
}

/// The other half of the proof: no test has a way to pass without running, such as printing
/// "skipped" and returning (what the tests did before `tools::require`).
#[test]
fn no_test_source_has_a_skip_path() {
    let mut files = Vec::new();
    sources(&tests_dir(), &[], &mut files);
    let this_file = "harness_selftest::tools";
    for (module, text) in files.iter().filter(|(m, _)| m != this_file) {
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let prints_skip = (lower.contains("println!(") || lower.contains("print!("))
                && lower.contains("skip");
            assert!(
                !prints_skip,
                "{module}, line {}: a test that skips passes without testing anything; call \
                 tools::require(&[…]) instead:\n{line}",
                n + 1
            );
        }
    }
}

/// Every file of `dir` (recursively) whose name ends with one of `extensions` ("" for files
/// without one, such as `scripts/test`), as (path, text); skips what is not UTF-8.
fn files_under(dir: &Path, extensions: &[&str], out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "node_modules" && !name.starts_with('.') {
                files_under(&path, extensions, out);
            }
            continue;
        }
        let extension = path
            .extension()
            .map_or(String::new(), |e| e.to_string_lossy().into_owned());
        if extensions.contains(&extension.as_str())
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            out.push((path, text));
        }
    }
}

/// Issue 11: no script ends a process by name (`pkill`, `killall`, `pgrep` feeding `kill`),
/// which ends any process of that name on the machine, an admin's or another test's. Every
/// script, CI step, deployment file and test source is read; comments are for people.
#[test]
fn no_script_ends_a_process_by_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for (dir, extensions) in [
        ("scripts", &["", "sh", "py"][..]),
        (".ci", &["", "sh"]),
        (
            "contrib",
            &["", "sh", "service", "timer", "yaml", "yml", "hcl"],
        ),
        ("tests", &["rs", "sh", "py"]),
        ("benches", &["rs", "sh"]),
    ] {
        files_under(&root.join(dir), extensions, &mut files);
    }
    assert!(
        files.iter().any(|(p, _)| p.ends_with("scripts/test"))
            && files.iter().any(|(p, _)| p.ends_with(".ci/run")),
        "the scripts were not read"
    );
    let by_name = ["pkill", "killall", "pgrep", "pidof"];
    for (path, text) in &files {
        if path.ends_with("harness_selftest/tools.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with('#') || code.starts_with("//") {
                continue;
            }
            let words: Vec<&str> = code
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .collect();
            for name in by_name {
                assert!(
                    !words.contains(&name),
                    "{}, line {}: `{name}` ends processes by name; end only what you started, \
                     by its process id:\n{line}",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}
