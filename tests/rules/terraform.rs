//! The Terraform dialects (`azure-terraform`, `gcp-terraform`, `aws-prefix-list`; the cloud
//! FQDN ones in `cloud_fqdn.rs`) parsed by
//! python-hcl2 (`hcl2tojson`), for every selection and for hostile data, and read back: what
//! makes `terraform apply` of the output for newer data safe. Terraform applies twice as once
//! and replaces A by B by itself; what it cannot fix is a name or priority that moves (Azure
//! refuses two rules with one priority; GCP names are unique per project), so a rule kept
//! from A to B must keep its label, name and priority, and no two rules may share one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::tools;

use super::render;

const PAIRS: &[(&str, &str, &str, &str)] = super::APPLY_PAIRS;

pub(crate) const SELECTIONS: &[&[&str]] = &[
    &[],
    &["--scope", "all", "--include-expired"],
    &["--family", "6"],
    &["--env", "prod"],
];

/// `hcl2tojson --strip-string-quotes` of `text`; panics with the parser's message.
pub(crate) fn parse(text: &str) -> Value {
    let mut child = Command::new("hcl2tojson")
        .arg("--strip-string-quotes")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hcl2tojson");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hcl2tojson: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The resources of one type: label → attributes.
pub(crate) fn resources(doc: &Value, kind: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for block in doc["resource"].as_array().into_iter().flatten() {
        if let Some(by_label) = block.get(kind).and_then(Value::as_object) {
            for (label, attrs) in by_label {
                assert!(
                    out.insert(label.clone(), attrs.clone()).is_none(),
                    "label {label} twice"
                );
            }
        }
    }
    out
}

/// Every destination of the resources whose label starts with `env`.
fn destinations(rules: &BTreeMap<String, Value>, field: &str, env: &str) -> BTreeSet<String> {
    rules
        .iter()
        .filter(|(label, _)| label.starts_with(&format!("egc_{env}_")))
        .flat_map(|(_, r)| {
            r[field]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
        })
        .collect()
}

/// Each kept label keeps `fields`; no two resources share a value of any of them; and no
/// value passes from one label to another (Terraform creates and destroys unrelated resources
/// in parallel, so a name or priority freed by one and taken by another can clash).
pub(crate) fn assert_stable(
    kind: &str,
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    fields: &[&str],
) {
    assert!(!new.is_empty(), "{kind}: no resources");
    for field in fields {
        let values: BTreeSet<String> = new.values().map(|r| r[*field].to_string()).collect();
        assert_eq!(
            values.len(),
            new.len(),
            "{kind}: two resources share a {field}"
        );
        for (label, rule) in new {
            if let Some(before) = old.get(label) {
                assert_eq!(
                    before[*field], rule[*field],
                    "{kind} {label}: {field} moved"
                );
            }
            for (old_label, before) in old {
                assert!(
                    old_label == label || before[*field] != rule[*field],
                    "{kind}: {field} {} passes from {old_label} to {label}",
                    rule[*field]
                );
            }
        }
    }
}

#[test]
fn azure_terraform_parses_and_keeps_names_and_priorities() {
    tools::require(&["hcl2tojson"]);
    for &(a, a_date, b, b_date) in PAIRS {
        for selection in SELECTIONS {
            let kind = "azurerm_network_security_rule";
            let old = resources(
                &parse(&render("azure-terraform", a, a_date, selection)),
                kind,
            );
            let new = resources(
                &parse(&render("azure-terraform", b, b_date, selection)),
                kind,
            );
            assert_stable(kind, &old, &new, &["name", "priority"]);
            for rule in new.values() {
                let priority = rule["priority"].as_u64().unwrap();
                assert!((1000..4000).contains(&priority), "{priority}");
                assert_eq!(rule["direction"], "Outbound");
                assert_eq!(rule["access"], "Allow");
            }
        }
    }
    let (a, a_date, b, b_date) = PAIRS[2];
    let kind = "azurerm_network_security_rule";
    let new = resources(&parse(&render("azure-terraform", b, b_date, &[])), kind);
    assert!(
        !destinations(&new, "destination_address_prefixes", "test").contains("20.100.51.138/32")
    );
    assert!(
        destinations(&new, "destination_address_prefixes", "prod").contains("20.100.51.138/32")
    );
    let old = resources(&parse(&render("azure-terraform", a, a_date, &[])), kind);
    assert!(
        destinations(&old, "destination_address_prefixes", "test").contains("20.100.51.138/32")
    );
}

#[test]
fn gcp_terraform_parses_and_names_fit_with_the_network() {
    tools::require(&["hcl2tojson"]);
    let network = "n".repeat(30);
    for &(a, a_date, b, b_date) in PAIRS {
        for selection in SELECTIONS {
            let kind = "google_compute_firewall";
            let old = resources(&parse(&render("gcp-terraform", a, a_date, selection)), kind);
            let new = resources(&parse(&render("gcp-terraform", b, b_date, selection)), kind);
            assert_stable(kind, &old, &new, &["name"]);
            for rule in new.values() {
                let name = rule["name"]
                    .as_str()
                    .unwrap()
                    .replace("${var.egresscheck_network}", &network);
                assert!(name.len() <= 63, "{name}");
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{name}"
                );
                assert_eq!(rule["direction"], "EGRESS");
                assert_eq!(rule["network"], "${var.egresscheck_network}");
            }
        }
    }
}

#[test]
fn aws_prefix_lists_parse_and_each_rule_uses_a_declared_list() {
    tools::require(&["hcl2tojson"]);
    for &(a, a_date, b, b_date) in PAIRS {
        for selection in SELECTIONS {
            let (old_doc, new_doc) = (
                parse(&render("aws-prefix-list", a, a_date, selection)),
                parse(&render("aws-prefix-list", b, b_date, selection)),
            );
            let kind = "aws_ec2_managed_prefix_list";
            let (old, new) = (resources(&old_doc, kind), resources(&new_doc, kind));
            assert_stable(kind, &old, &new, &["name"]);
            for list in new.values() {
                let entries = list["entry"].as_array().unwrap();
                assert_eq!(
                    list["max_entries"].as_u64().unwrap() as usize,
                    entries.len()
                );
                let v6 = list["address_family"] == "IPv6";
                for entry in entries {
                    let cidr: ipnet::IpNet = entry["cidr"].as_str().unwrap().parse().unwrap();
                    assert_eq!(matches!(cidr, ipnet::IpNet::V6(_)), v6, "{list}");
                    assert!(entry["description"].as_str().unwrap().is_ascii());
                }
            }
            let rules = resources(&new_doc, "aws_vpc_security_group_egress_rule");
            assert_eq!(rules.len(), new.len());
            for (label, rule) in &rules {
                assert_eq!(
                    rule["prefix_list_id"],
                    format!("${{aws_ec2_managed_prefix_list.{label}.id}}")
                );
                assert!(new.contains_key(label));
            }
        }
    }
}

#[test]
fn hostile_data_cannot_break_out_of_an_hcl_string() {
    tools::require(&["hcl2tojson"]);
    for format in [
        "azure-terraform",
        "gcp-terraform",
        "aws-prefix-list",
        "gcp-ngfw",
        "azure-firewall",
        "aws-network-firewall",
    ] {
        let text = render(
            format,
            "rules-hostile.toml",
            "2025-01-15",
            &["--scope", "all", "--include-expired"],
        );
        let doc = parse(&text);
        // Nothing but the resources, variables and outputs the benign data gives.
        let benign = parse(&render(
            format,
            "rules.toml",
            "2025-01-15",
            &["--scope", "all", "--include-expired"],
        ));
        let keys = |d: &Value| d.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&doc), keys(&benign), "{format}");
        for kind in [
            "azurerm_network_security_rule",
            "google_compute_firewall",
            "aws_ec2_managed_prefix_list",
            "google_compute_network_firewall_policy_rule",
            "azurerm_firewall_policy_rule_collection_group",
            "aws_networkfirewall_rule_group",
        ] {
            assert_eq!(
                resources(&doc, kind).keys().collect::<Vec<_>>(),
                resources(&benign, kind).keys().collect::<Vec<_>>()
            );
        }
        assert!(
            !text.contains("${x}") && !text.contains("%{y}"),
            "{format}: an interpolation survived"
        );
    }
}
