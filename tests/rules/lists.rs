//! The plain lists and ipset: `ipset restore` of the `ipset` output inside a network
//! namespace, twice, and over the output for older data, next to an admin's own set and while
//! an iptables rule uses the set; the `edl-ip` list fed line by line to a real ipset (as
//! feeders do); what the lists hold and leave out.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::netns::Netns;
use crate::support::tools;

use super::render;

const IPSET_TOOLS: &[&str] = &["ip", "ipset", "iptables"];

const PAIRS: &[(&str, &str, &str, &str)] = super::APPLY_PAIRS;

/// The namespace's sets: name → (the create line, the sorted add lines).
fn sets(ns: &Netns) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let out = ns.run("ipset", &["save"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sets: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["create", name, ..] => {
                // The hash seed (`initval`) is random per set; everything else must match.
                let create: Vec<&str> = words
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("0x") && *w != "initval")
                    .collect();
                sets.entry((*name).to_owned()).or_default().0 = create.join(" ");
            }
            ["add", name, ..] => {
                sets.entry((*name).to_owned())
                    .or_default()
                    .1
                    .insert(line.to_owned());
            }
            _ => {}
        }
    }
    sets
}

/// A namespace with the admin's own set, then `texts` restored in turn.
fn restored(texts: &[&str]) -> (Netns, BTreeMap<String, (String, BTreeSet<String>)>) {
    let ns = Netns::new();
    ns.run_with_stdin(
        "ipset",
        &["restore"],
        "create admin-keep hash:ip\nadd admin-keep 10.0.0.53\n",
    )
    .unwrap();
    for text in texts {
        ns.run_with_stdin("ipset", &["restore"], text)
            .unwrap_or_else(|e| panic!("ipset restore refused: {e}\n{text}"));
    }
    let state = sets(&ns);
    (ns, state)
}

#[test]
fn ipset_restored_twice_and_over_an_older_output_equals_the_new_one_alone() {
    tools::require_root_and(IPSET_TOOLS);
    for &(a, a_date, b, b_date) in PAIRS {
        for selection in [
            &[][..],
            &["--scope", "all"],
            &["--family", "6"],
            &["--env", "prod"],
        ] {
            let (old, new) = (
                render("ipset", a, a_date, selection),
                render("ipset", b, b_date, selection),
            );
            let (_ns, alone) = restored(&[&new]);
            assert!(alone.contains_key("admin-keep"));
            assert!(
                !alone.keys().any(|k| k.ends_with("-new")),
                "a temporary set stayed: {alone:?}"
            );
            assert_eq!(restored(&[&new, &new]).1, alone, "{b} {selection:?} twice");
            // Over the old output, with an iptables rule using a set (destroy would fail).
            let (ns, _) = restored(&[&old]);
            if old.contains("create egc-prod-v4 ") {
                let rule = [
                    "-A",
                    "OUTPUT",
                    "-m",
                    "set",
                    "--match-set",
                    "egc-prod-v4",
                    "dst,dst",
                    "-j",
                    "ACCEPT",
                ];
                let out = ns.run("iptables", &rule);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            for text in [&new, &new] {
                ns.run_with_stdin("ipset", &["restore"], text)
                    .unwrap_or_else(|e| panic!("ipset restore over {a} refused: {e}\n{text}"));
            }
            assert_eq!(sets(&ns), alone, "{a} then {b} {selection:?}");
        }
    }
}

#[test]
fn ipset_moves_an_address_to_its_new_environment_with_its_port() {
    tools::require_root_and(IPSET_TOOLS);
    let (a, a_date, b, b_date) = PAIRS[2];
    let (_ns, state) = restored(&[
        &render("ipset", a, a_date, &[]),
        &render("ipset", b, b_date, &[]),
    ]);
    let entry = |set: &str| {
        state[set]
            .1
            .iter()
            .any(|l| l.contains(" 20.100.51.138,tcp:443"))
    };
    assert!(
        !entry("egc-test-v4"),
        "20.100.51.138 stayed in test: {state:?}"
    );
    assert!(entry("egc-prod-v4"), "{state:?}");
}

#[test]
fn the_address_list_feeds_a_real_ipset_line_by_line() {
    tools::require_root_and(IPSET_TOOLS);
    let ns = Netns::new();
    for v6 in [false, true] {
        let family = if v6 { "6" } else { "4" };
        let list = render(
            "edl-ip",
            "rules.toml",
            "2025-01-15",
            &["--scope", "all", "--family", family],
        );
        let set = format!("edl-v{family}");
        let inet = if v6 { "inet6" } else { "inet" };
        let mut input = format!("create {set} hash:net family {inet}\n");
        // What the simplest feeder does: every line is an entry (no comment lines unless
        // --comments).
        let entries: Vec<&str> = list.lines().collect();
        for line in &entries {
            input.push_str(&format!("add {set} {line}\n"));
        }
        ns.run_with_stdin("ipset", &["restore"], &input)
            .unwrap_or_else(|e| panic!("{e}\n{list}"));
        assert_eq!(sets(&ns)[&set].1.len(), entries.len());
    }
}

#[test]
fn the_plain_lists_hold_entries_only_and_nothing_of_another_environment() {
    let ip = render(
        "edl-ip",
        "../../data/skatteetaten.toml",
        "2026-03-01",
        &["--env", "test"],
    );
    // Entries only: no comment or empty line unless --comments.
    for line in ip.lines() {
        assert!(
            line.parse::<ipnet::IpNet>().is_ok() || line.parse::<std::net::IpAddr>().is_ok(),
            "{line:?}"
        );
    }
    assert!(
        ip.contains("51.13.21.170\n") && !ip.contains("20.100.51.138"),
        "{ip}"
    );
    let names = render(
        "edl-domain",
        "../../data/skatteetaten.toml",
        "2026-03-01",
        &["--env", "prod"],
    );
    let lines: Vec<&str> = names.lines().collect();
    assert!(
        lines.contains(&"*.api.skatteetaten.no")
            && lines.contains(&"mvamelding.api.skatteetaten.no")
    );
    assert!(lines.contains(&"maskinporten.no"));
    // Neither the retired base host, nor test's names, nor comments.
    for line in &lines {
        assert!(
            *line != "api.skatteetaten.no" && !line.contains("test") && !line.starts_with('#'),
            "{line}"
        );
        let name = line.strip_prefix("*.").unwrap_or(line);
        assert!(!name.is_empty(), "an empty line");
        assert!(egresscheck::catalog::DnsName::parse(name).is_ok(), "{line}");
    }
    // Rendering is a pure function of the data: a fetch replaces the list with the same text.
    assert_eq!(
        names,
        render(
            "edl-domain",
            "../../data/skatteetaten.toml",
            "2026-03-01",
            &["--env", "prod"]
        )
    );
}

#[test]
fn a_broad_prefix_in_the_address_list_is_announced_above_its_line() {
    let ip = render(
        "edl-ip",
        "../../data/skatteetaten.toml",
        "2026-03-01",
        &["--env", "prod", "--comments"],
    );
    let lines: Vec<&str> = ip.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "159.216.17.160/28")
        .expect("the prod subnet");
    assert!(
        lines[at - 1].starts_with("# 159.216.17.160/28 prod: BROAD, opens every external service"),
        "{ip}"
    );
    assert!(
        ip.contains("# WARNING broad prefix: 159.216.17.160/28"),
        "{ip}"
    );
}

/// `rules --format FORMAT ARGS` of the bundled data: (standard output, standard error).
fn bundled(format: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["rules", "--no-timestamp", "--format", format];
    all.extend_from_slice(args);
    let out = super::egresscheck(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_plain_lists_and_csv_have_comment_lines_only_with_comments() {
    for format in ["edl-ip", "edl-domain", "csv"] {
        let (plain, _) = bundled(format, &[]);
        assert!(!plain.contains('#'), "{format}:\n{plain}");
        assert!(
            plain.lines().all(|l| !l.is_empty()),
            "{format}: an empty line"
        );
        let (commented, err) = bundled(format, &["--comments"]);
        assert!(
            commented.starts_with("# egresscheck rules: outbound allow-list for Skatteetaten"),
            "{format}:\n{commented}"
        );
        assert!(err.is_empty(), "{format}: {err}");
        // The same entries, in the same order, with or without the comments.
        let data: Vec<&str> = commented
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert_eq!(data, plain.lines().collect::<Vec<_>>(), "{format}");
    }
    // A broad prefix in a list without comments is said on standard error, never silently.
    let (list, err) = bundled("edl-ip", &["--env", "prod"]);
    assert!(list.lines().any(|l| l == "159.216.17.160/28"), "{list}");
    assert!(
        err.contains(
            "WARNING broad prefix: 159.216.17.160/28 (prod) opens more than the services named here"
        ) && err.contains("--comments"),
        "{err}"
    );
    // csv says it in each row's comment column; a name list opens no prefix.
    for format in ["csv", "edl-domain"] {
        let (_, err) = bundled(format, &[]);
        assert!(err.is_empty(), "{format}: {err}");
    }
    let (csv, _) = bundled("csv", &[]);
    assert!(
        csv.contains("prod: BROAD, opens every external service"),
        "{csv}"
    );
}
