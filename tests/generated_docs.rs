//! Shell completions and manual pages, as the binary writes them (`egresscheck completions
//! SHELL`, `egresscheck man --dir DIR`), hold every subcommand and every flag of the command
//! line, each where it belongs, and `--version` names the bundled data. The subcommands and flags come from walking the clap tree
//! itself, so a subcommand or flag added later is checked with no change here.

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use egresscheck::cli::Cli;

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");

/// A visible command of the tree: its path of names below `egresscheck`, its flags as typed
/// (`--format`, `-h`) and its visible subcommands' names.
#[derive(Debug)]
struct Node {
    path: Vec<String>,
    flags: Vec<String>,
    children: Vec<String>,
}

impl Node {
    /// The man page's name: `egresscheck-data-validate`.
    fn page(&self) -> String {
        std::iter::once("egresscheck")
            .chain(self.path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// Every visible command of the tree, the root first. `help` (clap's own subcommand) is left
/// out: it has neither flags nor a page.
fn tree() -> Vec<Node> {
    let mut root = Cli::command();
    root.build();
    let mut nodes = Vec::new();
    walk(&root, Vec::new(), &mut nodes);
    nodes
}

fn walk(command: &clap::Command, path: Vec<String>, nodes: &mut Vec<Node>) {
    let flags = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !arg.is_positional())
        .flat_map(|arg| {
            let long = arg.get_long().map(|l| format!("--{l}"));
            let short = arg.get_short().map(|s| format!("-{s}"));
            long.into_iter().chain(short)
        })
        .collect();
    let subs: Vec<&clap::Command> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
        .collect();
    nodes.push(Node {
        path: path.clone(),
        flags,
        children: subs.iter().map(|s| s.get_name().to_owned()).collect(),
    });
    for sub in subs {
        let mut inner = path.clone();
        inner.push(sub.get_name().to_owned());
        walk(sub, inner, nodes);
    }
}

fn completions(shell: &str) -> String {
    let out = Command::new(BIN)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "completions {shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text from `start` to the first `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = &text[from..];
    Some(&rest[..rest.find(end).unwrap_or(rest.len())])
}

#[test]
fn the_tree_holds_every_command() {
    let pages: Vec<String> = tree().iter().map(Node::page).collect();
    for page in [
        "egresscheck",
        "egresscheck-check",
        "egresscheck-data-validate",
        "egresscheck-rules",
        "egresscheck-probe",
        "egresscheck-completions",
        "egresscheck-man",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} not in {pages:?}");
    }
}

#[test]
fn bash_completions_offer_every_subcommand_and_flag_in_its_place() {
    let script = completions("bash");
    for node in tree() {
        // clap_complete joins the names with `__subcmd__`, and writes a hyphen the same way.
        let function = std::iter::once("egresscheck".to_owned())
            .chain(node.path.clone())
            .collect::<Vec<_>>()
            .join("__subcmd__")
            .replace('-', "__subcmd__");
        let opts = between(&script, &format!("\n        {function})\n"), "\n")
            .unwrap_or_else(|| panic!("bash: no branch for {function}"));
        let words: Vec<&str> = opts
            .trim()
            .trim_start_matches("opts=\"")
            .trim_end_matches('"')
            .split_whitespace()
            .collect();
        for flag in &node.flags {
            assert!(
                words.contains(&flag.as_str()),
                "bash {function}: no {flag} in {opts}"
            );
        }
        for child in &node.children {
            assert!(
                words.contains(&child.as_str()),
                "bash {function}: no {child} in {opts}"
            );
        }
    }
}

#[test]
fn elvish_and_powershell_completions_offer_every_subcommand_and_flag_in_its_place() {
    let elvish = completions("elvish");
    let powershell = completions("powershell");
    for node in tree() {
        let key = std::iter::once("egresscheck".to_owned())
            .chain(node.path.clone())
            .collect::<Vec<_>>()
            .join(";");
        let block = between(&elvish, &format!("&'{key}'= {{"), "\n        }")
            .unwrap_or_else(|| panic!("elvish: no block for {key}"));
        for word in node.flags.iter().chain(&node.children) {
            assert!(
                block.contains(&format!("cand {word} ")),
                "elvish {key}: no {word}:\n{block}"
            );
        }
        let block = between(&powershell, &format!("'{key}' {{"), "\n        }")
            .unwrap_or_else(|| panic!("powershell: no block for {key}"));
        for word in node.flags.iter().chain(&node.children) {
            assert!(
                block.contains(&format!("CompletionResult]::new('{word}'")),
                "powershell {key}: no {word}:\n{block}"
            );
        }
    }
}

#[test]
fn fish_completions_offer_every_subcommand_and_flag_in_its_place() {
    let script = completions("fish");
    for node in tree() {
        let condition = match node.path.as_slice() {
            [] => "__fish_egresscheck_needs_command\"".to_owned(),
            [one] if node.children.is_empty() => format!("using_subcommand {one}\""),
            [one] => format!("using_subcommand {one}; and not __fish_seen_subcommand_from"),
            [one, two] => {
                format!("using_subcommand {one}; and __fish_seen_subcommand_from {two}\"")
            }
            deeper => panic!(
                "fish: no rule for a command {} deep: {deeper:?}",
                deeper.len()
            ),
        };
        let lines: Vec<&str> = script.lines().filter(|l| l.contains(&condition)).collect();
        assert!(!lines.is_empty(), "fish: nothing for {:?}", node.path);
        for flag in &node.flags {
            let option = match flag.strip_prefix("--") {
                Some(long) => format!(" -l {long}"),
                None => format!(" -s {}", flag.trim_start_matches('-')),
            };
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(&format!("{option} ")) || l.ends_with(&option)),
                "fish {:?}: no {flag}",
                node.path
            );
        }
        for child in &node.children {
            assert!(
                lines.iter().any(|l| l.contains(&format!("-a \"{child}\""))),
                "fish {:?}: no subcommand {child}",
                node.path
            );
        }
    }
}

#[test]
fn zsh_completions_offer_every_subcommand_and_flag() {
    let script = completions("zsh");
    for node in tree() {
        for flag in &node.flags {
            assert!(
                script.contains(&format!("{flag}=[")) || script.contains(&format!("{flag}[")),
                "zsh: no {flag} (of {:?})",
                node.path
            );
        }
        for child in &node.children {
            assert!(
                script.contains(&format!("'{child}:")),
                "zsh: no subcommand {child}"
            );
        }
    }
    assert!(script.starts_with("#compdef egresscheck"), "{script}");
}

/// `egresscheck man --dir DIR` into a new directory, which must succeed.
fn man_pages() -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, out)
}

#[test]
fn every_subcommand_has_a_man_page_with_every_flag() {
    let (dir, out) = man_pages();
    let listed = String::from_utf8(out.stdout).unwrap();
    let nodes = tree();
    assert_eq!(
        listed.lines().count(),
        nodes.len(),
        "one page per command:\n{listed}"
    );
    let written = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(written, nodes.len(), "no temporary or extra file left");
    for node in &nodes {
        let page = node.page();
        let path = dir.path().join(format!("{page}.1"));
        assert!(
            listed.contains(&path.display().to_string()),
            "{page} not listed"
        );
        let roff =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = plain(&roff);
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!(".TH {page} 1 "))),
            "{page}: no title line (.TH {page} 1):\n{text}"
        );
        assert!(text.contains(&format!("{page} - ")), "{page}: NAME section");
        for flag in &node.flags {
            assert!(text.contains(flag.as_str()), "{page}: no {flag}");
        }
        let see_also = between(&text, "SEE ALSO", "\n.SH").unwrap_or("");
        for child in &node.children {
            let child_page = format!("{page}-{child}(1)");
            assert!(
                see_also.contains(&child_page),
                "{page}: SEE ALSO lacks {child_page}"
            );
        }
    }
}

/// A page with roff's escapes taken out (`\-` is a hyphen, `\fB` a font change), which
/// `man` does when it renders it.
fn plain(roff: &str) -> String {
    roff.replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\fP", "")
}

/// What an admin sees: `man` renders every page without a warning.
#[test]
fn man_renders_every_page_cleanly() {
    crate::support::tools::require(&["man", "groff"]);
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(BIN)
        .args(["man", "--dir"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    for node in tree() {
        let path = dir.path().join(format!("{}.1", node.page()));
        let out = Command::new("man")
            .args(["--warnings=w", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "{}: {} {stderr}",
            path.display(),
            out.status
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("SYNOPSIS"), "{}:\n{text}", path.display());
    }
    assert!(Path::new(dir.path()).join("egresscheck.1").exists());
}

/// `--version` names the bundled data as the loader reads it: no copy kept by hand can drift.
#[test]
fn version_carries_the_bundled_data_version() {
    let catalog = egresscheck::catalog::bundled().unwrap();
    let expected = format!(
        "egresscheck {} (data {} {})",
        env!("CARGO_PKG_VERSION"),
        catalog.data.provider,
        catalog.data.version
    );
    for args in [&["--version"][..], &["-V"], &["check", "--version"]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let expected = if args.len() == 2 {
            expected.replacen("egresscheck", "egresscheck-check", 1)
        } else {
            expected.clone()
        };
        assert_eq!(text.trim_end(), expected, "{args:?}");
    }
    // The man pages carry it in their footer.
    assert!(egresscheck::cli::man::pages().iter().all(|(_, page)| {
        String::from_utf8_lossy(page)
            .contains(&format!("\"egresscheck {}", egresscheck::cli::VERSION))
    }));
}

/// Every value a flag accepts (`rules --format`'s dialects, `--scope`'s scopes, …), taken
/// from the clap tree: what the completions offer and the manual pages list.
fn possible_values() -> Vec<(String, String, Vec<String>)> {
    fn walk(command: &clap::Command, page: String, out: &mut Vec<(String, String, Vec<String>)>) {
        for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_owned())
                .collect();
            if let (Some(long), false) = (arg.get_long(), values.is_empty()) {
                out.push((page.clone(), format!("--{long}"), values));
            }
        }
        for sub in command
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            walk(sub, format!("{page}-{}", sub.get_name()), out);
        }
    }
    let mut root = Cli::command();
    root.build();
    let mut out = Vec::new();
    walk(&root, "egresscheck".to_owned(), &mut out);
    out
}

#[test]
fn completions_and_manual_pages_offer_every_value_of_a_flag() {
    let values = possible_values();
    let formats = values
        .iter()
        .find(|(page, flag, _)| page == "egresscheck-rules" && flag == "--format")
        .expect("rules --format has possible values");
    for format in egresscheck::rules::Format::ALL {
        assert!(formats.2.iter().any(|v| v == format.name()), "{format}");
    }
    let (dir, _) = man_pages();
    // clap_complete's elvish and PowerShell scripts complete flags, not their values.
    let scripts: Vec<(&str, String)> = ["bash", "zsh", "fish"]
        .into_iter()
        .map(|shell| (shell, completions(shell)))
        .collect();
    for (page, flag, names) in &values {
        let roff = std::fs::read_to_string(dir.path().join(format!("{page}.1"))).unwrap();
        let text = plain(&roff);
        for name in names {
            assert!(text.contains(name.as_str()), "{page}.1: {flag} {name}");
            for (shell, script) in &scripts {
                assert!(script.contains(name.as_str()), "{shell}: {flag} {name}");
            }
        }
    }
}
