//! pf has no validator offline (pfctl runs on the BSDs and macOS only): the output is loaded
//! into a model of its documented semantics, next to an admin's own pf.conf, as the header
//! says to use it: saved as /etc/pf.egresscheck.conf and included from pf.conf.
//! - pf.conf(5), <https://man.openbsd.org/pf.conf>: `include "file"` reads the file in place;
//!   `table <name> persist { … }` declares a table with its addresses; `pfctl -f` replaces
//!   the whole ruleset and its tables, so loading again, or with the file for newer data,
//!   leaves exactly what the files say.
//! - pfctl(8), <https://man.openbsd.org/pfctl>: `-t T -T add ADDR` adds to a table (creating
//!   it), `-T delete ADDR` removes; an address already there, or absent, changes nothing.
//!
//! The `--diff A B` commands run over the tables of A give exactly B's tables; a table B has
//! and A had not also needs its rule, which the diff says in a comment.

use std::collections::{BTreeMap, BTreeSet};

use super::enterprise::diff;
use super::render;

const PAIRS: &[(&str, &str, &str, &str)] = super::APPLY_PAIRS;

/// The admin's own pf.conf around the include line.
const ADMIN_HEAD: &str = "set skip on lo\ntable <admin_dns> persist { 10.0.0.53 }\npass out quick proto udp to <admin_dns> port 53\n";
const ADMIN_TAIL: &str = "block out all\n";

/// The ruleset pf holds: tables by name, and the rules in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Ruleset {
    tables: BTreeMap<String, BTreeSet<String>>,
    rules: Vec<String>,
}

impl Ruleset {
    /// `pfctl -f /etc/pf.conf` with `file` included between the admin's lines: the whole
    /// ruleset replaced by what the configuration says.
    fn load(file: &str) -> Ruleset {
        let conf = format!("{ADMIN_HEAD}{file}{ADMIN_TAIL}");
        let mut state = Ruleset::default();
        let mut open: Option<String> = None;
        for line in conf.lines() {
            let line = line.split('#').next().unwrap().trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = &open {
                if line == "}" {
                    open = None;
                } else {
                    assert!(line.parse::<ipnet::IpNet>().is_ok(), "{line}");
                    state.tables.get_mut(name).unwrap().insert(line.to_owned());
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("table <") {
                let (name, rest) = rest.split_once('>').unwrap();
                assert!(name.len() <= 31, "PF_TABLE_NAME_SIZE: {name}");
                assert!(
                    state
                        .tables
                        .insert(name.to_owned(), BTreeSet::new())
                        .is_none(),
                    "table <{name}> declared twice"
                );
                let rest = rest.trim().strip_prefix("persist").unwrap().trim();
                match rest.strip_prefix('{').map(str::trim) {
                    Some("") => open = Some(name.to_owned()),
                    Some(inline) => {
                        let inline = inline.strip_suffix('}').unwrap();
                        for a in inline.split([',', ' ']).filter(|a| !a.is_empty()) {
                            state.tables.get_mut(name).unwrap().insert(a.to_owned());
                        }
                    }
                    None => panic!("{line}"),
                }
                continue;
            }
            assert!(
                line.starts_with("pass out quick proto ")
                    || line.starts_with("block ")
                    || line.starts_with("set "),
                "{line}"
            );
            if let Some(at) = line.find('<') {
                let name = &line[at + 1..line.find('>').unwrap()];
                assert!(state.tables.contains_key(name), "{line}: no table <{name}>");
            }
            state.rules.push(line.to_owned());
        }
        assert!(open.is_none(), "a table left open");
        state
    }

    /// The `pfctl -t T -T add|delete ADDR` lines of a diff, run in order.
    fn run(&mut self, diff: &str) {
        for line in diff
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["pfctl", "-t", table, "-T", "add", address] => {
                    self.tables
                        .entry((*table).to_owned())
                        .or_default()
                        .insert((*address).to_owned());
                }
                ["pfctl", "-t", table, "-T", "delete", address] => {
                    if let Some(t) = self.tables.get_mut(*table) {
                        t.remove(*address);
                    }
                }
                _ => panic!("not a pfctl table command: {line}"),
            }
        }
    }
}

const SELECTIONS: &[&[&str]] = &[&[], &["--scope", "all"], &["--env", "prod"]];

#[test]
fn pf_loaded_twice_and_over_older_data_equals_the_new_file_alone() {
    let admin = Ruleset::load("");
    for &(a, a_date, b, b_date) in PAIRS {
        for selection in SELECTIONS {
            let (old, new) = (
                render("pf", a, a_date, selection),
                render("pf", b, b_date, selection),
            );
            assert!(new.contains("include \"/etc/pf.egresscheck.conf\""));
            let before = Ruleset::load(&old);
            let after = Ruleset::load(&new);
            assert_eq!(after, Ruleset::load(&new), "{b} {selection:?} twice");
            // The admin's own table and rules are kept, in place around the output.
            assert_eq!(after.tables.get("admin_dns"), admin.tables.get("admin_dns"));
            assert_eq!(after.rules.first(), admin.rules.first());
            assert_eq!(after.rules.last(), admin.rules.last());
            // pfctl -f replaces the whole ruleset: over A's, B's file leaves B's tables alone.
            assert!(before.tables.contains_key("admin_dns"));
            let ours = |r: &Ruleset| r.tables.keys().filter(|n| n.starts_with("egc_")).count();
            assert_eq!(ours(&after), new.matches("table <egc_").count());
        }
    }
}

#[test]
fn pf_diff_run_over_the_older_tables_gives_exactly_the_new_ones() {
    for &(a, a_date, b, b_date) in PAIRS {
        for selection in SELECTIONS {
            let old = render("pf", a, a_date, selection);
            let new = Ruleset::load(&render("pf", b, b_date, selection));
            let changes = diff("pf", (a, a_date, b, b_date), selection);
            let mut state = Ruleset::load(&old);
            state.run(&changes);
            let once = state.clone();
            state.run(&changes);
            assert_eq!(
                state, once,
                "{a} then {b} {selection:?}: the diff run twice"
            );
            let nonempty = |r: &Ruleset| -> BTreeMap<String, BTreeSet<String>> {
                r.tables
                    .iter()
                    .filter(|(_, t)| !t.is_empty())
                    .map(|(n, t)| (n.clone(), t.clone()))
                    .collect()
            };
            assert_eq!(
                nonempty(&state),
                nonempty(&new),
                "{a} then {b} {selection:?}"
            );
            // A rule the new tables need and the old file lacked: the diff names its table.
            for rule in new.rules.iter().filter(|r| !state.rules.contains(r)) {
                let table = &rule[rule.find('<').unwrap()..=rule.find('>').unwrap()];
                assert!(
                    changes
                        .lines()
                        .any(|l| l.starts_with("# New table") && l.contains(table)),
                    "{rule}: not announced in\n{changes}"
                );
            }
        }
    }
}
