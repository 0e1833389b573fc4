//! Models of the products whose rules are commands with no offline validator: Cisco ASA
//! configuration mode, Azure NSG rules (`az network nsg rule`), Google Cloud VPC firewall
//! rules (`gcloud compute firewall-rules`) and Windows Defender Firewall (PowerShell). Each
//! model applies an output line by line as the product would (as far as the outputs use it)
//! and refuses what the product refuses; the tests apply the outputs twice, over the output for
//! older data and over another selection, next to the admin's own rules, and expect the new
//! output's state alone.
//!
//! Semantics modelled, from the vendors' references:
//! - ASA: <https://www.cisco.com/c/en/us/td/docs/security/asa/asa-cli-reference/A-H/asa-command-ref-A-H/aa-ac-commands.html>
//!   (`access-list extended`, `line N` inserts, `no access-list` removes one entry; a remark is
//!   an entry), <https://www.cisco.com/c/en/us/td/docs/security/asa/asa-cli-reference/I-R/asa-command-ref-I-R/m_o.html>
//!   (`object-group network`, `network-object`, `description`; an object-group or object in
//!   use cannot be removed), <https://www.cisco.com/c/en/us/td/docs/security/asa/asa-cli-reference/S/asa-command-ref-S/fa-fz-commands.html>
//!   (`fqdn v4|v6`).
//! - Azure: <https://learn.microsoft.com/en-us/cli/azure/network/nsg/rule> (`create` on an
//!   existing name updates it; two rules of one direction cannot share a priority:
//!   `SecurityRuleConflict`).
//! - Google Cloud: <https://cloud.google.com/sdk/gcloud/reference/compute/firewall-rules/create>
//!   (names unique per project: `create` of an existing name fails), `update`, `list`, `delete`.
//! - Windows: <https://learn.microsoft.com/en-us/powershell/module/netsecurity/new-netfirewallrule>
//!   (`-Name` is unique: `New-NetFirewallRule` of an existing name fails), `Remove-NetFirewallRule`,
//!   `Get-NetFirewallRule -Group`.

use std::collections::{BTreeMap, BTreeSet};

use super::models::Model;
use super::{old_rules_then, rules};

/// Splits a command line into words: `'…'` and `"…"` are one word without their quotes
/// (PowerShell's doubled `''` inside single quotes is one quote).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&ch) = chars.peek() {
        if ch.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '\'' || c == '"' {
                while let Some(q) = chars.next() {
                    if q == c {
                        if c == '\'' && chars.peek() == Some(&'\'') {
                            chars.next();
                            word.push('\'');
                            continue;
                        }
                        break;
                    }
                    word.push(q);
                }
            } else {
                word.push(c);
            }
        }
        out.push(word);
    }
    out
}

/// The value after `flag` in `words`.
fn value<'a>(words: &'a [String], flag: &str) -> Option<&'a str> {
    let at = words.iter().position(|w| w == flag)?;
    words.get(at + 1).map(String::as_str)
}

/// The words after `flag` up to the next `--flag`.
fn values(words: &[String], flag: &str) -> Vec<String> {
    let Some(at) = words.iter().position(|w| w == flag) else {
        return Vec::new();
    };
    words[at + 1..]
        .iter()
        .take_while(|w| !w.starts_with("--"))
        .cloned()
        .collect()
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(line: &'a str, open: &str, close: &str) -> &'a str {
    let start = line.find(open).map_or(0, |i| i + open.len());
    let rest = &line[start..];
    &rest[..rest.find(close).unwrap_or(rest.len())]
}

// ---- Cisco ASA ----------------------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq)]
struct Asa {
    /// FQDN objects: name -> `fqdn` line.
    objects: BTreeMap<String, String>,
    /// Object-groups: name -> (description, members).
    groups: BTreeMap<String, (String, BTreeSet<String>)>,
    /// The access-list EGRESSCHECK, in order.
    acl: Vec<String>,
    refused: Vec<String>,
}

impl Model for Asa {
    fn apply(&mut self, text: &str) {
        let mut group: Option<String> = None;
        let mut object: Option<String> = None;
        for line in text.lines() {
            if line.trim_start().starts_with(':') || line.trim().is_empty() {
                continue;
            }
            if let Some(member) = line.strip_prefix(' ') {
                let member = member.trim();
                if let Some(name) = &group {
                    let Some((description, members)) = self.groups.get_mut(name) else {
                        continue;
                    };
                    if let Some(text) = member.strip_prefix("description ") {
                        *description = text.to_owned();
                    } else if let Some(gone) = member.strip_prefix("no ") {
                        members.remove(gone);
                    } else {
                        if let Some(o) = member.strip_prefix("network-object object ")
                            && !self.objects.contains_key(o)
                        {
                            self.refused.push(format!("{line}: no such object"));
                        }
                        members.insert(member.to_owned());
                    }
                } else if let Some(name) = &object {
                    self.objects.insert(name.clone(), member.to_owned());
                }
                continue;
            }
            group = None;
            object = None;
            if let Some(name) = line.strip_prefix("object-group network ") {
                self.groups.entry(name.to_owned()).or_default();
                group = Some(name.to_owned());
            } else if let Some(name) = line.strip_prefix("object network ") {
                self.objects.entry(name.to_owned()).or_default();
                object = Some(name.to_owned());
            } else if let Some(name) = line.strip_prefix("no object-group network ") {
                if self
                    .acl
                    .iter()
                    .any(|e| e.contains(&format!("object-group {name} ")))
                {
                    self.refused.push(format!("{line}: in use"));
                }
                self.groups.remove(name);
            } else if let Some(name) = line.strip_prefix("no object network ") {
                let used = self
                    .groups
                    .values()
                    .any(|(_, m)| m.contains(&format!("network-object object {name}")));
                if !used {
                    // In use, the ASA refuses and keeps it: that is what the output expects
                    // for a name another environment still uses.
                    self.objects.remove(name);
                }
            } else if let Some(entry) = line.strip_prefix("no access-list EGRESSCHECK ") {
                self.acl.retain(|e| e != entry);
            } else if let Some(rest) = line.strip_prefix("access-list EGRESSCHECK line ") {
                let (number, entry) = rest.split_once(' ').unwrap();
                let at: usize = number.parse().unwrap();
                if let Some(g) = entry
                    .split("object-group ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    && !self.groups.contains_key(g)
                {
                    self.refused.push(format!("{line}: no such group"));
                }
                if !self.acl.iter().any(|e| e == entry) {
                    self.acl
                        .insert((at - 1).min(self.acl.len()), entry.to_owned());
                }
            } else if let Some(entry) = line.strip_prefix("access-list EGRESSCHECK ") {
                if !self.acl.iter().any(|e| e == entry) {
                    self.acl.push(entry.to_owned());
                }
            } else {
                self.refused.push(format!("unknown command: {line}"));
            }
        }
    }

    fn check_references(&self) -> Result<(), String> {
        for entry in &self.acl {
            if let Some(g) = entry
                .split("object-group ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                && !self.groups.contains_key(g)
            {
                return Err(format!("{entry}: no group {g}"));
            }
        }
        Ok(())
    }

    fn refused(&self) -> &[String] {
        &self.refused
    }
}

const ASA_ADMIN: &str = "access-list EGRESSCHECK extended permit udp any any eq 53\naccess-list EGRESSCHECK extended deny ip any any\n";

#[test]
fn cisco_asa_pasted_twice_over_older_data_and_another_selection_equals_the_new_alone() {
    let args = ["--format", "cisco-asa", "--scope", "all"];
    let new = rules("rules.toml", &args);
    let expected = Asa::load(ASA_ADMIN, &[&new]);
    // Ours at the top, in order, the admin's own after them.
    assert_eq!(expected.acl.last().unwrap(), "extended deny ip any any");
    assert!(
        expected.acl[0].starts_with("remark egresscheck"),
        "{:?}",
        expected.acl
    );
    let old = old_rules_then(&args);
    let test_only = rules("rules.toml", &["--format", "cisco-asa", "--env", "test"]);
    for first in [&new, &old, &test_only] {
        assert_eq!(
            Asa::load(ASA_ADMIN, &[first, &new, &new]),
            expected,
            "after:\n{first}"
        );
    }
    // The diff, pasted over OLD, gives NEW too.
    let diff = super::rules_diff("rules-old.toml", "rules.toml", &["--format", "cisco-asa"]);
    let old_default = old_rules_then(&["--format", "cisco-asa"]);
    let new_default = rules("rules.toml", &["--format", "cisco-asa"]);
    assert_eq!(
        Asa::load(ASA_ADMIN, &[&old_default, &diff]).groups,
        Asa::load(ASA_ADMIN, &[&new_default]).groups,
        "{diff}"
    );
}

#[test]
fn cisco_asa_history_then_bundled_moves_the_address_out_of_the_test_group() {
    let history = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/history/skatteetaten-2024-10.toml"
    );
    let run = |data: Option<&str>, as_of: &str| {
        let mut args = Vec::new();
        if let Some(data) = data {
            args.extend(["--data", data]);
        }
        args.extend([
            "rules",
            "--format",
            "cisco-asa",
            "--no-timestamp",
            "--as-of",
            as_of,
        ]);
        String::from_utf8(super::egresscheck(&args).stdout).unwrap()
    };
    let old = run(Some(history), "2024-10-01");
    let new = run(None, "2026-03-01");
    let config = Asa::load(ASA_ADMIN, &[&old, &new]);
    let test = &config.groups["egc-test-tcp-443"].1;
    assert!(
        !test.contains("network-object host 20.100.51.138"),
        "{test:?}"
    );
    assert!(
        config.groups["egc-prod-tcp-443"]
            .1
            .contains("network-object host 20.100.51.138")
    );
    assert_eq!(config, Asa::load(ASA_ADMIN, &[&new]));
}

// ---- Azure NSG ----------------------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq)]
struct Nsg {
    /// name -> (priority, destination prefixes, port)
    rules: BTreeMap<String, (u32, Vec<String>, String)>,
    keep: String,
    refused: Vec<String>,
}

impl Model for Nsg {
    fn apply(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(keep) = line.strip_prefix("keep=") {
                self.keep = keep.trim_matches(['\'', '"']).to_owned();
            } else if line.starts_with("az network nsg rule list ") {
                let query = between(line, "[?", "].name");
                let prefixes: Vec<&str> = query
                    .split("starts_with(name, '")
                    .skip(1)
                    .filter_map(|p| p.split('\'').next())
                    .collect();
                let keep: BTreeSet<&str> = self.keep.split_whitespace().collect();
                self.rules.retain(|name, _| {
                    !prefixes.iter().any(|p| name.starts_with(p)) || keep.contains(name.as_str())
                });
            } else if line.starts_with("az network nsg rule create ") {
                let w = words(line);
                let name = value(&w, "--name").unwrap().to_owned();
                let priority: u32 = value(&w, "--priority").unwrap().parse().unwrap();
                if let Some((other, _)) = self
                    .rules
                    .iter()
                    .find(|(n, (p, ..))| **n != name && *p == priority)
                {
                    self.refused.push(format!(
                        "SecurityRuleConflict: {name} and {other} at {priority}"
                    ));
                }
                let prefixes = values(&w, "--destination-address-prefixes");
                let port = value(&w, "--destination-port-ranges").unwrap().to_owned();
                self.rules.insert(name, (priority, prefixes, port));
            }
        }
    }

    fn check_references(&self) -> Result<(), String> {
        Ok(())
    }

    fn refused(&self) -> &[String] {
        &self.refused
    }
}

/// The admin's own rule, at a priority outside egresscheck's range.
const NSG_ADMIN: &str = "az network nsg rule create --name admin-deny --priority 4000 --destination-address-prefixes '*' --destination-port-ranges '*'\n";

#[test]
fn azure_run_twice_over_older_data_and_another_selection_equals_the_new_alone() {
    let args = ["--format", "azure", "--scope", "all"];
    let new = rules("rules.toml", &args);
    let expected = Nsg::load(NSG_ADMIN, &[&new]);
    assert!(expected.rules.contains_key("admin-deny"));
    let old = old_rules_then(&args);
    // The defect: the --env prod run reused the default run's priorities (refused by Azure).
    let prod = rules(
        "rules.toml",
        &["--format", "azure", "--scope", "all", "--env", "prod"],
    );
    for first in [&new, &old, &prod] {
        let got = Nsg::load(NSG_ADMIN, &[first, &new, &prod, &new, &new]);
        assert_eq!(got.rules, expected.rules, "after:\n{first}");
    }
    // A new prefix moves no priority.
    let priorities = |n: &Nsg| -> BTreeMap<String, u32> {
        n.rules.iter().map(|(k, (p, ..))| (k.clone(), *p)).collect()
    };
    let old_state = Nsg::load(NSG_ADMIN, &[&old]);
    for (name, priority) in priorities(&old_state) {
        if let Some(now) = priorities(&expected).get(&name) {
            assert_eq!(*now, priority, "{name}");
        }
    }
}

// ---- Google Cloud VPC firewall ------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq)]
struct Vpc {
    /// name -> (network, destination ranges)
    rules: BTreeMap<String, (String, String)>,
    keep: String,
    refused: Vec<String>,
}

const NETWORK: &str = "prodnet";

impl Model for Vpc {
    fn apply(&mut self, text: &str) {
        let text = text.replace("$GCP_NETWORK", NETWORK);
        for line in text.lines() {
            let w = words(line);
            let ranges = |w: &[String]| {
                w.iter()
                    .find_map(|x| x.strip_prefix("--destination-ranges="))
                    .unwrap_or_default()
                    .to_owned()
            };
            if let Some(keep) = line.strip_prefix("keep=") {
                self.keep = keep.trim_matches(['\'', '"']).to_owned();
            } else if line.starts_with("if gcloud compute firewall-rules describe ") {
                let name = w[5].clone();
                self.rules.insert(name, (NETWORK.to_owned(), ranges(&w)));
            } else if line.starts_with("gcloud compute firewall-rules create ") {
                let name = w[4].clone();
                if self.rules.contains_key(&name) {
                    self.refused.push(format!("{name} already exists"));
                }
                self.rules.insert(name, (NETWORK.to_owned(), ranges(&w)));
            } else if line.starts_with("gcloud compute firewall-rules list ") {
                let filter = between(line, "name~", "\"");
                let prefix = filter.trim_start_matches('^');
                let (head, rest) = prefix.split_once('(').unwrap();
                let envs: Vec<&str> = rest.split(')').next().unwrap().split('|').collect();
                let keep: BTreeSet<&str> = self.keep.split_whitespace().collect();
                self.rules.retain(|name, _| {
                    let mine = envs.iter().any(|e| {
                        ["tcp", "udp"]
                            .iter()
                            .any(|p| name.starts_with(&format!("{head}{e}-{p}-")))
                    });
                    !mine || keep.contains(name.as_str())
                });
            }
        }
    }

    fn check_references(&self) -> Result<(), String> {
        Ok(())
    }

    fn refused(&self) -> &[String] {
        &self.refused
    }
}

const VPC_ADMIN: &str =
    "gcloud compute firewall-rules create admin-deny-egress --destination-ranges=0.0.0.0/0\n";

#[test]
fn gcp_run_twice_over_older_data_and_another_selection_equals_the_new_alone() {
    let args = ["--format", "gcp", "--scope", "all"];
    let new = rules("rules.toml", &args);
    let expected = Vpc::load(VPC_ADMIN, &[&new]);
    assert!(
        expected
            .rules
            .keys()
            .all(|n| n == "admin-deny-egress" || n.starts_with("egc-prodnet-"))
    );
    let old = old_rules_then(&args);
    let test = rules("rules.toml", &["--format", "gcp", "--env", "test"]);
    for first in [&new, &old, &test] {
        assert_eq!(
            Vpc::load(VPC_ADMIN, &[first, &new, &new]),
            expected,
            "after:\n{first}"
        );
    }
}

// ---- Windows Defender Firewall ------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq)]
struct Wf {
    /// name -> (group, remote address)
    rules: BTreeMap<String, (String, String)>,
    keep: Vec<String>,
    mine: Vec<String>,
    refused: Vec<String>,
}

/// PowerShell's `-like` with `*` only.
fn like(text: &str, pattern: &str) -> bool {
    match pattern.split_once('*') {
        None => text == pattern,
        Some((head, tail)) => text.starts_with(head) && text[head.len()..].ends_with(tail),
    }
}

/// The quoted items of `@('a', 'b')`.
fn array(line: &str) -> Vec<String> {
    words(&between(line, "@(", ")").replace(',', " "))
}

impl Model for Wf {
    fn apply(&mut self, text: &str) {
        for line in text.lines() {
            let w = words(line);
            if line.starts_with("$keep = ") {
                self.keep = array(line);
            } else if line.starts_with("$mine = ") {
                self.mine = array(line);
            } else if line.starts_with("Get-NetFirewallRule -Group 'egresscheck'") {
                let (keep, mine) = (&self.keep, &self.mine);
                self.rules.retain(|name, (group, _)| {
                    group != "egresscheck"
                        || !mine.iter().any(|p| like(name, p))
                        || keep.contains(name)
                });
            } else if line.starts_with("Remove-NetFirewallRule -Name ") {
                let name = value(&w, "-Name").unwrap();
                if self.rules.remove(name).is_none() && !line.contains("SilentlyContinue") {
                    self.refused.push(format!("{name}: no such rule"));
                }
            } else if line.starts_with("New-NetFirewallRule ") {
                let name = value(&w, "-Name").unwrap().to_owned();
                if self.rules.contains_key(&name) {
                    self.refused
                        .push(format!("{name}: a rule with this name exists"));
                }
                let group = value(&w, "-Group").unwrap_or_default().to_owned();
                let address = value(&w, "-RemoteAddress").unwrap().to_owned();
                self.rules.insert(name, (group, address));
            }
        }
    }

    fn check_references(&self) -> Result<(), String> {
        Ok(())
    }

    fn refused(&self) -> &[String] {
        &self.refused
    }
}

const WF_ADMIN: &str =
    "New-NetFirewallRule -Name 'admin-dns' -Group 'admin' -RemoteAddress '192.0.2.53'\n";

#[test]
fn windows_run_twice_over_older_data_and_another_selection_equals_the_new_alone() {
    let args = ["--format", "windows", "--scope", "all"];
    let new = rules("rules.toml", &args);
    let expected = Wf::load(WF_ADMIN, &[&new]);
    assert!(expected.rules.contains_key("admin-dns"));
    let old = old_rules_then(&args);
    let prod = rules("rules.toml", &["--format", "windows", "--env", "prod"]);
    for first in [&new, &old, &prod] {
        assert_eq!(
            Wf::load(WF_ADMIN, &[first, &new, &new]).rules,
            expected.rules,
            "after:\n{first}"
        );
    }
}

/// The models catch the defects of the previous outputs (`tests/fixtures/previous/`): run twice,
/// Windows and Google Cloud refuse the second `New-NetFirewallRule`/`create` of a name, and a
/// second Azure selection collides on a priority; ASA pasting over an older output keeps what
/// the older output had.
#[test]
fn the_models_refuse_the_previous_outputs() {
    let previous = |name: &str| {
        std::fs::read_to_string(super::fixture(&format!("previous/{name}.txt"))).unwrap()
    };
    let twice = |text: &str, mut model: Box<dyn FnMut(&str) -> usize>| {
        model(text);
        model(text)
    };
    let mut wf = Wf::default();
    assert!(
        twice(
            &previous("windows"),
            Box::new(move |t| {
                wf.apply(t);
                wf.refused.len()
            })
        ) > 0
    );
    let mut vpc = Vpc::default();
    assert!(
        twice(
            &previous("gcp"),
            Box::new(move |t| {
                vpc.apply(t);
                vpc.refused.len()
            })
        ) > 0
    );
    let mut nsg = Nsg::default();
    nsg.apply(&previous("azure"));
    // The same run for one environment numbers its rules from 1000 again.
    let prod_only: String = previous("azure")
        .lines()
        .filter(|l| !l.contains("--name egc-test-"))
        .map(|l| l.replace("--priority 1003", "--priority 1000") + "\n")
        .collect();
    nsg.apply(&prod_only);
    assert!(!nsg.refused.is_empty(), "{:?}", nsg.rules);
    let mut asa = Asa::default();
    asa.apply(&previous("cisco-asa").replace("198.51.100.7", "198.51.100.77"));
    asa.apply(&previous("cisco-asa"));
    assert!(
        asa.groups
            .values()
            .any(|(_, m)| m.contains("network-object host 198.51.100.77"))
    );
}
