//! The external tools the tests drive, and the one way a test asks for them.
//!
//! A test that needs a tool it cannot find must fail, never skip and pass: a test that cannot
//! fail proves nothing, and a summary saying "260 passed" must mean 260 tests ran. So
//! [`require`] panics, naming each missing tool and the command that installs it, whether or
//! not `CI` is set; [`require_root`] does the same for tests that create network namespaces.
//!
//! ```ignore
//! use crate::support::tools;
//! tools::require(&["promtool"]);                 // first thing in the test
//! tools::require_root_and(&["ip", "nft"]);       // namespace tests
//! ```
//!
//! The hints come from the requirement files themselves (`scripts/requirements/debian.txt`,
//! `python.txt`, `package.json`), compiled in with `include_str!`, the same files
//! `scripts/test` installs from, so the hint cannot drift from the list. A tool missing from
//! every file is itself an error: add its line there, and `scripts/test` installs it.
//!
//! Tools are looked up on `PATH` only, as the tests run them, so taking a tool's directory off
//! `PATH` makes every test needing it fail (`harness_selftest::tools` proves it).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// `scripts/requirements/debian.txt`: `<package> <command>…` per line.
const DEBIAN: &str = include_str!("../../scripts/requirements/debian.txt");
/// `scripts/requirements/python.txt`: pinned pip requirements.
const PYTHON: &str = include_str!("../../scripts/requirements/python.txt");
/// `scripts/requirements/package.json`: npm packages.
const NPM: &str = include_str!("../../scripts/requirements/package.json");

/// Directories where Debian puts administration tools, which a non-login shell's `PATH` may
/// lack; only used to explain a miss, never to find a tool.
const SBIN_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Where a tool comes from, by the requirement file that lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Debian package (`debian.txt`).
    Debian(String),
    /// A pinned Python package (`python.txt`), e.g. `yamllint==1.35.1`.
    Python(String),
    /// An npm package (`package.json`).
    Npm(String),
}

/// Fails the test unless every tool in `tools` is on `PATH`; the message names each missing
/// tool and the command that installs it. Call it first thing, before the test does work.
pub fn require(tools: &[&str]) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(problem) = problem(&path, tools, true) {
        panic!("{problem}");
    }
}

/// Fails the test unless it runs as root (it creates network namespaces or loads firewall
/// rules into them).
pub fn require_root() {
    if let Some(problem) = root_problem(is_root()) {
        panic!("{problem}");
    }
}

/// [`require_root`] and [`require`] in one: what every network-namespace test calls.
pub fn require_root_and(tools: &[&str]) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let problems: Vec<String> = [root_problem(is_root()), problem(&path, tools, true)]
        .into_iter()
        .flatten()
        .collect();
    if !problems.is_empty() {
        panic!("{}", problems.join("\n"));
    }
}

/// Full path of `tool` on `PATH`, if it is there (and only there: see the module doc).
pub fn find(tool: &str) -> Option<PathBuf> {
    find_on(&std::env::var_os("PATH").unwrap_or_default(), tool)
}

/// Full path of `tool` in the directories of `path`.
pub(crate) fn find_on(path: &OsStr, tool: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Why the tests cannot run with `path`, if they cannot: the missing tools, how to install
/// them and, with `explain_sbin`, which of them are installed in an sbin directory `PATH`
/// lacks.
pub(crate) fn problem(path: &OsStr, tools: &[&str], explain_sbin: bool) -> Option<String> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| find_on(path, tool).is_none())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut lines = vec![format!(
        "this test needs {} not on PATH: {} (a missing tool fails the test, it never skips it)",
        if missing.len() == 1 {
            "a tool"
        } else {
            "tools"
        },
        missing.join(", ")
    )];
    if explain_sbin {
        lines.extend(missing.iter().filter_map(|tool| off_path_hint(path, tool)));
    }
    lines.push(install_hint(&missing));
    Some(lines.join("\n"))
}

/// "installed at /usr/sbin/nft, but /usr/sbin is not on PATH", when that is the case.
fn off_path_hint(path: &OsStr, tool: &str) -> Option<String> {
    let on_path: Vec<PathBuf> = std::env::split_paths(path).collect();
    SBIN_DIRS
        .iter()
        .map(Path::new)
        .filter(|dir| !on_path.iter().any(|p| p == dir))
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
        .map(|found| {
            format!(
                "{tool} is installed at {}, but {} is not on PATH: add it (scripts/test does)",
                found.display(),
                found
                    .parent()
                    .map_or_else(String::new, |d| d.display().to_string())
            )
        })
}

/// The commands that install `tools`, grouped by requirement file, for a failure message.
pub(crate) fn install_hint(tools: &[&str]) -> String {
    let mut debian: Vec<String> = Vec::new();
    let mut python: Vec<String> = Vec::new();
    let mut npm: Vec<String> = Vec::new();
    let mut unlisted: Vec<&str> = Vec::new();
    for tool in tools {
        let (list, name) = match source(tool) {
            Some(Source::Debian(package)) => (&mut debian, package),
            Some(Source::Python(requirement)) => (&mut python, requirement),
            Some(Source::Npm(package)) => (&mut npm, package),
            None => {
                unlisted.push(tool);
                continue;
            }
        };
        if !list.contains(&name) {
            list.push(name);
        }
    }
    let mut lines = vec![
        "install what the tests need with `scripts/test` (it runs them after), or:".to_owned(),
    ];
    if !debian.is_empty() {
        lines.push(format!(
            "    apt-get install -y --no-install-recommends {}",
            debian.join(" ")
        ));
    }
    if !python.is_empty() {
        lines.push(format!(
            "    python3 -m venv .test-tools/venv && .test-tools/venv/bin/pip install {} \
             && export PATH=\"$PWD/.test-tools/venv/bin:$PATH\"",
            python
                .iter()
                .map(|r| format!("'{r}'"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if !npm.is_empty() {
        lines.push(
            "    (cd scripts/requirements && npm ci) \
             && export PATH=\"$PWD/scripts/requirements/node_modules/.bin:$PATH\""
                .to_owned(),
        );
    }
    if !unlisted.is_empty() {
        lines.push(format!(
            "{} listed in no requirement file: add a line to scripts/requirements/debian.txt \
             (`<package> <command>…`), python.txt or package.json, so that scripts/test installs it",
            unlisted.join(", ")
        ));
    }
    lines.join("\n")
}

/// The requirement file entry that provides `tool`, if any.
pub fn source(tool: &str) -> Option<Source> {
    debian_commands()
        .into_iter()
        .find(|(command, _)| command == tool)
        .map(|(_, package)| Source::Debian(package))
        .or_else(|| {
            python_commands()
                .into_iter()
                .find(|(command, _)| command == tool)
                .map(|(_, requirement)| Source::Python(requirement))
        })
        .or_else(|| {
            npm_commands()
                .into_iter()
                .find(|(command, _)| command == tool)
                .map(|(_, package)| Source::Npm(package))
        })
}

/// Every command the requirement files provide, in file order.
pub fn all_commands() -> Vec<String> {
    debian_commands()
        .into_iter()
        .chain(python_commands())
        .chain(npm_commands())
        .map(|(command, _)| command)
        .collect()
}

/// (command, package) for every command of `debian.txt`.
fn debian_commands() -> Vec<(String, String)> {
    content_lines(DEBIAN)
        .flat_map(|line| {
            let mut words = line.split_whitespace();
            let package = words.next().unwrap_or_default().to_owned();
            words
                .map(move |command| (command.to_owned(), package.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// (command, requirement) for every line of `python.txt`: the commands of its
/// `# commands: …` comment, else the package's own name.
fn python_commands() -> Vec<(String, String)> {
    PYTHON
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .flat_map(|line| {
            let (requirement, comment) = line.split_once('#').unwrap_or((line, ""));
            let requirement = requirement.trim().to_owned();
            let name = requirement
                .split(['=', '<', '>', '~', '!', '[', ';', ' '])
                .next()
                .unwrap_or_default()
                .to_owned();
            let commands: Vec<String> = match comment.trim().strip_prefix("commands:") {
                Some(list) => list.split_whitespace().map(str::to_owned).collect(),
                None => vec![name],
            };
            commands
                .into_iter()
                .map(move |command| (command, requirement.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// (command, package) for `package.json`: its `commands` map, else each dependency's name.
fn npm_commands() -> Vec<(String, String)> {
    let json: serde_json::Value =
        serde_json::from_str(NPM).expect("scripts/requirements/package.json is valid JSON");
    let mut pairs: Vec<(String, String)> = json["commands"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(command, package)| (command.clone(), package.as_str().unwrap_or("").to_owned()))
        .collect();
    for package in json["dependencies"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(p, _)| p)
    {
        if !pairs.iter().any(|(_, p)| p == package) {
            pairs.push((package.clone(), package.clone()));
        }
    }
    pairs
}

/// The lines of a requirement file without comments and blank lines.
fn content_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|line| {
            line.split_once('#')
                .map_or(line, |(before, _)| before)
                .trim()
        })
        .filter(|line| !line.is_empty())
}

/// Why a root-only test cannot run, if it cannot.
pub(crate) fn root_problem(root: bool) -> Option<String> {
    (!root).then(|| {
        "this test needs root (it creates network namespaces and loads firewall rules into \
         them): run the tests as root (CI does), e.g. `sudo scripts/test`"
            .to_owned()
    })
}

/// Effective uid 0, read from `/proc/self/status` (no libc call needed).
pub fn is_root() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

/// `path` with `tool` taken out of it: each directory that holds `tool` is replaced by a
/// directory under `shims` of symbolic links to everything else in it, so every other tool
/// stays where the tests look for it. For proving that the tests needing `tool` fail.
pub fn path_without(path: &OsStr, tool: &str, shims: &Path) -> OsString {
    let dirs: Vec<PathBuf> = std::env::split_paths(path)
        .enumerate()
        .map(|(n, dir)| {
            if !is_executable(&dir.join(tool)) {
                return dir;
            }
            let shim = shims.join(n.to_string());
            std::fs::create_dir_all(&shim).expect("create a PATH shim directory");
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_name() != tool {
                    std::os::unix::fs::symlink(entry.path(), shim.join(entry.file_name()))
                        .expect("link into the PATH shim directory");
                }
            }
            shim
        })
        .collect();
    std::env::join_paths(dirs).expect("PATH entries hold no ':'")
}
