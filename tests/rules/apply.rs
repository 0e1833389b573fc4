//! Rules applied for real, as an admin applies them: twice, over the output for older data,
//! and over the output of the previous egresscheck version, each time next to the admin's own
//! configuration. The result must equal the new output applied alone, with the admin's own
//! rules and policy untouched. Each check runs in a network namespace of its own.

use crate::support::netns::Netns;
use crate::support::tools;

use super::{fixture, old_rules_then, rules};

/// The bundled data's history file and the bundled data itself (20.100.51.138 moves from test
/// to prod between them).
fn history() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/history/skatteetaten-2024-10.toml"
    )
    .to_owned()
}

/// `egresscheck --data DATA rules --no-timestamp --as-of DATE ARGS` (DATA `None`: bundled).
fn real(data: Option<&str>, as_of: &str, args: &[&str]) -> String {
    let mut all = Vec::new();
    if let Some(data) = data {
        all.extend(["--data", data]);
    }
    all.extend(["rules", "--no-timestamp", "--as-of", as_of]);
    all.extend_from_slice(args);
    let out = super::egresscheck(&all);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---- nftables -----------------------------------------------------------------------------

/// The admin's own configuration: a table of theirs, and in egresscheck's table a rule of
/// their own in `local` and the output chain's policy set to drop.
const ADMIN_TABLE: &str = "table inet admin {\n\tchain keep {\n\t\ttype filter hook output priority 10; policy accept;\n\t\ttcp dport 22 accept comment \"the admin's own\"\n\t}\n}\n";
const ADMIN_IN_OURS: &str = "add rule inet egresscheck local udp dport 53 accept comment \"admin: DNS\"\nadd chain inet egresscheck output { type filter hook output priority filter; policy drop; }\n";

fn load(ns: &Netns, text: &str) {
    ns.load_nft(text)
        .unwrap_or_else(|e| panic!("nft -f rejected: {e}\n{text}"));
}

/// `nft list ruleset` with the sets and chains of each table in name order: the kernel lists
/// them in creation order, which says nothing about what is loaded.
fn normalized(listing: &str) -> String {
    let mut out = String::new();
    let mut blocks: Vec<String> = Vec::new();
    for line in listing.lines() {
        if line.starts_with("table ") {
            out.push_str(line);
            out.push('\n');
        } else if line == "}" {
            blocks.sort();
            out.push_str(&blocks.concat());
            blocks.clear();
            out.push_str("}\n");
        } else if line.starts_with("\tset ") || line.starts_with("\tchain ") {
            blocks.push(format!("{line}\n"));
        } else if !line.is_empty()
            && let Some(block) = blocks.last_mut()
        {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

/// `new` applied alone on the admin's configuration.
fn nft_reference(new: &str) -> String {
    let ns = Netns::new();
    load(&ns, ADMIN_TABLE);
    load(&ns, new);
    load(&ns, ADMIN_IN_OURS);
    normalized(&ns.list_nft())
}

/// `old`, then the admin's configuration, then `new` twice.
fn nft_upgraded(old: &str, new: &str) -> String {
    let ns = Netns::new();
    load(&ns, ADMIN_TABLE);
    load(&ns, old);
    if old.contains("chain local") {
        load(&ns, ADMIN_IN_OURS);
    }
    load(&ns, new);
    load(&ns, new);
    if !old.contains("chain local") {
        // The previous version had no chain local: the admin adds their own after upgrading.
        load(&ns, ADMIN_IN_OURS);
    }
    normalized(&ns.list_nft())
}

#[test]
fn nftables_twice_and_over_older_data_equals_the_new_alone() {
    tools::require_root_and(&["ip", "nft"]);
    for family in ["4", "6", "both"] {
        let args = ["--format", "nftables", "--family", family, "--scope", "all"];
        let new = rules("rules.toml", &args);
        let reference = nft_reference(&new);
        assert!(reference.contains("policy drop;") && reference.contains("admin: DNS"));
        assert!(reference.contains("the admin's own"));
        assert!(reference.contains("timeout 1h"), "DNS sets time out");
        assert_eq!(
            nft_upgraded(&new, &new),
            reference,
            "twice, family {family}"
        );
        let old = old_rules_then(&args);
        assert_eq!(
            nft_upgraded(&old, &new),
            reference,
            "old then new, family {family}"
        );
        // A selection replaces another: prod only, then everything.
        let prod = rules("rules.toml", &["--format", "nftables", "--env", "prod"]);
        assert_eq!(
            nft_upgraded(&prod, &new),
            reference,
            "prod then all, family {family}"
        );
        // And everything, then prod only: test's openings are closed, as prod's header says.
        assert!(
            prod.contains(
                "# Left out of this selection: test. Their sets are declared here and emptied"
            ),
            "{prod}"
        );
        assert!(!new.contains("Left out of this selection"), "{new}");
        assert_eq!(
            nft_upgraded(&new, &prod),
            nft_reference(&prod),
            "all then prod, family {family}"
        );
    }
}

/// The sets-only output's example rule names a set of the selected environment, one the
/// file fills (it named the data's first environment, left out and empty).
#[test]
fn nftables_sets_only_example_names_a_selected_environment() {
    let text = rules(
        "rules.toml",
        &[
            "--format",
            "nftables",
            "--env",
            "prod",
            "--nft-sets",
            "inet filter",
        ],
    );
    let example = text
        .lines()
        .find(|l| l.starts_with("# Refer to them in your own chain"))
        .unwrap_or_else(|| panic!("no example:\n{text}"));
    assert!(example.contains("@egresscheck_prod_v4"), "{example}");
    assert!(!example.contains("_test_"), "{example}");
}

#[test]
fn nftables_of_the_previous_version_then_this_one_equals_this_one_alone() {
    tools::require_root_and(&["ip", "nft"]);
    let previous = std::fs::read_to_string(fixture("previous/nftables.txt")).unwrap();
    let new = rules("rules.toml", &["--format", "nftables", "--scope", "all"]);
    assert_eq!(nft_upgraded(&previous, &new), nft_reference(&new));
}

#[test]
fn nftables_history_then_bundled_moves_the_address_to_prod() {
    tools::require_root_and(&["ip", "nft"]);
    let history = history();
    let old = real(Some(&history), "2024-10-01", &["--format", "nftables"]);
    let new = real(None, "2026-03-01", &["--format", "nftables"]);
    let upgraded = nft_upgraded(&old, &new);
    assert_eq!(upgraded, nft_reference(&new));
    let ns = Netns::new();
    load(&ns, &old);
    load(&ns, &new);
    let set = |name: &str| {
        let out = ns.run("nft", &["list", "set", "inet", "egresscheck", name]);
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(
        !set("test_v4").contains("20.100.51.138"),
        "{}",
        set("test_v4")
    );
    assert!(
        set("prod_v4").contains("20.100.51.138 . tcp . 443"),
        "{}",
        set("prod_v4")
    );
}

#[test]
fn nftables_sets_only_fill_the_admins_own_table() {
    tools::require_root_and(&["ip", "nft"]);
    let args = |data: &str| {
        rules(
            data,
            &[
                "--format",
                "nftables",
                "--nft-sets",
                "inet filter",
                "--scope",
                "all",
            ],
        )
    };
    let (old, new) = (args("rules-old.toml"), args("rules.toml"));
    // The admin's table refers to the sets; the sets file comes first, as an include would.
    let admin = "table inet filter {\n\tchain output {\n\t\ttype filter hook output priority 0; policy drop;\n\t\tct state established,related accept\n\t\tip daddr . meta l4proto . th dport @egresscheck_prod_v4 accept\n\t\tip daddr @egresscheck_prod_dns_v4 meta l4proto . th dport @egresscheck_prod_dns_ports accept\n\t}\n}\n";
    let reference = Netns::new();
    load(&reference, &new);
    load(&reference, admin);
    let ns = Netns::new();
    load(&ns, &old);
    load(&ns, admin);
    load(&ns, &new);
    load(&ns, &new);
    assert_eq!(
        normalized(&ns.list_nft()),
        normalized(&reference.list_nft())
    );
    assert!(ns.list_nft().contains("@egresscheck_prod_v4 accept"));
    assert!(!ns.list_nft().contains("table inet egresscheck"));
}

#[test]
fn check_rules_for_nftables_add_to_the_full_rules() {
    tools::require_root_and(&["ip", "nft"]);
    use egresscheck::catalog;
    use egresscheck::rules::{Destination, Entry, Format, Header, Options, RuleSet};
    let catalog = catalog::load_path(&fixture("rules.toml")).unwrap();
    let mut options = Options::new("2025-01-15".parse().unwrap());
    options.scope = egresscheck::rules::Scope::All;
    let full = Format::Nftables.render(&RuleSet::from_catalog(&catalog, &options));
    let mut header = Header::for_catalog(&catalog, &options);
    header.additive = true;
    let prod = catalog.environments[1].id.clone();
    let found = Entry {
        environment: prod,
        service: catalog.services[0].id.clone(),
        destination: Destination::Prefix("203.0.113.99/32".parse().unwrap()),
        protocol: catalog.endpoints[0].protocol,
        port: catalog.endpoints[0].ports[0],
        host: Some(catalog.endpoints[0].host.clone()),
        comment: Some("DNS answer outside the table on 2025-01-15".to_owned()),
        expires: None,
    };
    let added = Format::Nftables.render(&RuleSet::from_entries(header, [found]));
    let ns = Netns::new();
    load(&ns, &full);
    let (before, accepted) = super::tools::nft_state(&ns);
    load(&ns, &added);
    load(&ns, &added);
    let (after, accepted_after) = super::tools::nft_state(&ns);
    assert_eq!(accepted_after, accepted, "the chain is the same");
    for (set, elements) in &before {
        assert!(elements.is_subset(&after[set]), "{set} lost elements");
    }
    let mut new: Vec<&String> = Vec::new();
    for (set, elements) in &after {
        new.extend(elements.iter().filter(|e| !before[set].contains(*e)));
    }
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(new[0].contains("203.0.113.99"), "{new:?}");
}

// ---- iptables -----------------------------------------------------------------------------

/// The filter table as `iptables-save` prints it, without its date and counters.
fn saved(ns: &Netns, v6: bool) -> String {
    let tool = if v6 {
        "ip6tables-save"
    } else {
        "iptables-save"
    };
    let out = ns.run(tool, &["-t", "filter"]);
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(" [").next().unwrap_or(l).to_owned() + "\n")
        .collect()
}

fn restore(ns: &Netns, text: &str, v6: bool) {
    let tool = if v6 {
        "ip6tables-restore"
    } else {
        "iptables-restore"
    };
    ns.run_with_stdin(tool, &["--noflush"], text)
        .unwrap_or_else(|e| panic!("{tool}: {e}\n{text}"));
}

/// The header's command that sends traffic through the chain, run as written.
fn jump(ns: &Netns, text: &str) {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("# Then send traffic through the chain"))
        .expect("the jump note");
    let command = line
        .split_once(": ")
        .map(|(_, c)| c)
        .and_then(|c| c.split(" (FORWARD").next())
        .unwrap();
    let out = ns.run("sh", &["-c", command]);
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The admin's own rules: one in OUTPUT, a chain of theirs.
fn admin(ns: &Netns, v6: bool) {
    let text = "*filter\n:ADMIN - [0:0]\n-A ADMIN -p tcp --dport 22 -j ACCEPT\n-A OUTPUT -j ADMIN\nCOMMIT\n";
    restore(ns, text, v6);
}

#[test]
fn iptables_twice_and_over_older_data_equals_the_new_alone_per_family() {
    tools::require_root_and(&[
        "ip",
        "iptables-restore",
        "ip6tables-restore",
        "iptables-save",
        "ip6tables-save",
    ]);
    for (v6, family) in [(false, "4"), (true, "6")] {
        let args = ["--format", "iptables", "--family", family, "--scope", "all"];
        let new = rules("rules.toml", &args);
        let old = old_rules_then(&args);
        let previous = std::fs::read_to_string(fixture("previous/iptables.txt")).unwrap();
        let previous = super::iptables_part(&previous, v6);
        let reference = Netns::new();
        admin(&reference, v6);
        restore(&reference, &new, v6);
        jump(&reference, &new);
        let expected = saved(&reference, v6);
        assert!(expected.contains("-A OUTPUT -j EGRESSCHECK") && expected.contains("-A ADMIN"));
        for first in [&new, &old, &previous] {
            let ns = Netns::new();
            admin(&ns, v6);
            restore(&ns, first, v6);
            jump(&ns, &new);
            restore(&ns, &new, v6);
            jump(&ns, &new);
            restore(&ns, &new, v6);
            assert_eq!(saved(&ns, v6), expected, "family {family}, first:\n{first}");
        }
    }
}

#[test]
fn iptables_history_then_bundled_moves_the_address_to_prod() {
    tools::require_root_and(&["ip", "iptables-restore", "iptables-save"]);
    let history = history();
    let old = real(
        Some(&history),
        "2024-10-01",
        &["--format", "iptables", "--family", "4"],
    );
    let new = real(
        None,
        "2026-03-01",
        &["--format", "iptables", "--family", "4"],
    );
    let ns = Netns::new();
    restore(&ns, &old, false);
    restore(&ns, &new, false);
    let state = saved(&ns, false);
    let line = state
        .lines()
        .find(|l| l.contains("20.100.51.138"))
        .expect("the address");
    assert!(line.contains("prod:") && !state.contains("test: skatteetaten-api *.api.skatteetaten-test.no\" -j ACCEPT\n-A EGRESSCHECK -d 20.100"), "{state}");
    assert_eq!(state.matches("20.100.51.138").count(), 1, "{state}");
}

#[test]
fn iptables_both_families_without_output_dir_is_refused_and_output_dir_writes_two_files() {
    let out = super::egresscheck(&[
        "--data",
        fixture("rules.toml").to_str().unwrap(),
        "rules",
        "--format",
        "iptables",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--family 4 or --family 6, or --output-dir DIR"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let listed = rules(
        "rules.toml",
        &[
            "--format",
            "iptables",
            "--output-dir",
            dir.path().to_str().unwrap(),
        ],
    );
    for (v6, family) in [(false, "4"), (true, "6")] {
        let file = dir.path().join(format!("egresscheck.v{family}.rules"));
        assert!(listed.contains(file.to_str().unwrap()), "{listed}");
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            rules("rules.toml", &["--format", "iptables", "--family", family])
        );
        assert_eq!(text.contains("2001:db8"), v6, "{text}");
    }
    let wrong = super::egresscheck(&["rules", "--format", "nftables", "--output-dir", "/tmp"]);
    assert_eq!(wrong.status.code(), Some(2));
}
