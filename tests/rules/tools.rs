//! The real tools accept what we generate: `nft -c -f`, `iptables-restore --test` and
//! `ip6tables-restore --test`, for every selection; and a diff applied for real in a
//! namespace turns the rules of OLD into exactly the rules of NEW.
//!
//! Each check runs inside a network namespace of its own, so it never depends on (or
//! touches) the host's firewall. Without root or the tools these tests fail with the command
//! that installs them (`support::tools`).

use std::collections::{BTreeMap, BTreeSet};

use crate::support::netns::Netns;
use crate::support::tools;

use super::{rules, rules_diff};

const NFT_TOOLS: &[&str] = &["ip", "nft"];
const IPTABLES_TOOLS: &[&str] = &[
    "ip",
    "iptables-restore",
    "ip6tables-restore",
    "iptables-save",
    "ip6tables-save",
];

/// Every combination of scope, family and expiry on the fixture.
fn selections() -> Vec<Vec<&'static str>> {
    let mut all = Vec::new();
    for scope in ["addresses", "subnets", "all"] {
        for family in ["4", "6", "both"] {
            for expired in [false, true] {
                let mut args = vec!["--scope", scope, "--family", family];
                if expired {
                    args.push("--include-expired");
                }
                all.push(args);
            }
        }
    }
    all
}

/// The fixture's rules in `format` for every selection: (selection, output).
fn every_selection(format: &str) -> Vec<(Vec<&'static str>, String)> {
    selections()
        .into_iter()
        // iptables refuses both families in one output (each restore tool takes one).
        .filter(|selection| format != "iptables" || selection[3] != "both")
        .map(|selection| {
            let mut args = vec!["--format", format];
            args.extend(&selection);
            let text = rules("rules.toml", &args);
            (selection, text)
        })
        .collect()
}

/// Checks `text` with the restore tool of its family, inside `ns`.
pub(crate) fn iptables_test(ns: &Netns, text: &str, v6: bool) -> Result<(), String> {
    let tool = if v6 {
        "ip6tables-restore"
    } else {
        "iptables-restore"
    };
    ns.run_with_stdin(tool, &["--test", "--noflush"], text)
}

#[test]
fn nft_accepts_every_selection() {
    tools::require_root_and(NFT_TOOLS);
    let ns = Netns::new();
    for (selection, text) in every_selection("nftables") {
        ns.check_nft(&text)
            .unwrap_or_else(|e| panic!("nft -c rejected {selection:?}: {e}\n{text}"));
    }
    let bundled = super::egresscheck(&["rules", "--format", "nftables", "--include-expired"]);
    ns.check_nft(&String::from_utf8(bundled.stdout).unwrap())
        .unwrap_or_else(|e| panic!("nft -c rejected the bundled data's rules: {e}"));
}

#[test]
fn iptables_restore_accepts_every_selection() {
    tools::require_root_and(IPTABLES_TOOLS);
    let ns = Netns::new();
    for (selection, text) in every_selection("iptables") {
        // With one family the output as a whole is the restore tool's input.
        iptables_test(&ns, &text, selection[3] == "6")
            .unwrap_or_else(|e| panic!("{selection:?}: {e}\n{text}"));
    }
}

/// Set name -> its elements (without comments), and the sets the chain accepts.
pub(crate) fn nft_state(ns: &Netns) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let out = ns.run("nft", &["-j", "list", "ruleset"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut sets = BTreeMap::new();
    for object in json["nftables"].as_array().unwrap() {
        if let Some(set) = object.get("set") {
            let elements = set["elem"]
                .as_array()
                .map(|list| list.iter().map(element).collect())
                .unwrap_or_default();
            sets.insert(set["name"].as_str().unwrap().to_owned(), elements);
        }
    }
    let chain = ns.run("nft", &["list", "chain", "inet", "egresscheck", "output"]);
    let chain = String::from_utf8(chain.stdout).unwrap();
    let accepted = chain
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('@'))
        .map(str::to_owned)
        .collect();
    (sets, accepted)
}

/// One set element of `nft -j` as text: `addr` or `addr/len`.
pub(crate) fn element(value: &serde_json::Value) -> String {
    let value = value.get("elem").map_or(value, |e| &e["val"]);
    if let Some(text) = value.as_str() {
        return text.to_owned();
    }
    if let Some(prefix) = value.get("prefix") {
        return format!("{}/{}", prefix["addr"].as_str().unwrap(), prefix["len"]);
    }
    value.to_string()
}

#[test]
fn an_nftables_diff_turns_old_into_new() {
    tools::require_root_and(NFT_TOOLS);
    for family in ["4", "6", "both"] {
        let args = ["--format", "nftables", "--family", family];
        let new = rules("rules.toml", &args);
        let diff = rules_diff("rules-old.toml", "rules.toml", &args);
        let patched = Netns::new();
        patched.load_nft(&super::old_rules_then(&args)).unwrap();
        patched
            .load_nft(&diff)
            .unwrap_or_else(|e| panic!("nft -f rejected the diff: {e}\n{diff}"));
        let reference = Netns::new();
        reference.load_nft(&new).unwrap();
        assert_eq!(
            nft_state(&patched),
            nft_state(&reference),
            "family {family}\n{diff}"
        );
    }
}

/// The `-A EGRESSCHECK` lines of the current table of `ns`.
fn saved_rules(ns: &Netns, v6: bool) -> BTreeSet<String> {
    let out = ns.run(
        if v6 {
            "ip6tables-save"
        } else {
            "iptables-save"
        },
        &["-t", "filter"],
    );
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("-A EGRESSCHECK "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_iptables_diff_turns_old_into_new() {
    tools::require_root_and(IPTABLES_TOOLS);
    let ns = Netns::new();
    for (v6, family) in [(false, "4"), (true, "6")] {
        let args = ["--format", "iptables", "--family", family];
        let old = super::old_rules_then(&args);
        let new = rules("rules.toml", &args);
        let diff = rules_diff("rules-old.toml", "rules.toml", &args);
        let tool = if v6 {
            "ip6tables-restore"
        } else {
            "iptables-restore"
        };
        ns.run_with_stdin(tool, &["--noflush"], &old).unwrap();
        ns.run_with_stdin(tool, &["--noflush"], &diff)
            .unwrap_or_else(|e| panic!("{tool} rejected the diff: {e}\n{diff}"));
        let expected: BTreeSet<String> = new
            .lines()
            .filter(|l| l.starts_with("-A EGRESSCHECK "))
            .map(str::to_owned)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(saved_rules(&ns, v6), expected, "v6={v6}\n{diff}");
    }
}
