//! Cloud FQDN egress (`gcp-ngfw`, `azure-firewall`, `aws-network-firewall`): Terraform parsed
//! by python-hcl2 and applied to a model of `terraform apply`, and each product's own name
//! matching checked against the names the data knows.
//!
//! No validator of these products runs offline: the golden files
//! (`integration__rules__snapshots__{gcp-ngfw,azure-firewall,aws-network-firewall}.snap`) were
//! reviewed against the provider documentation:
//! - `gcp-ngfw`: <https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/compute_network_firewall_policy_rule>
//!   (`match { dest_fqdns, layer4_configs }`, priority unique per policy),
//!   <https://cloud.google.com/firewall/docs/fqdn-objects-overview> (exact names resolved
//!   through Cloud DNS, 32 addresses per family)
//! - `azure-firewall`: <https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/firewall_policy_rule_collection_group>
//!   (`application_rule_collection`, `protocols { type = "Https" port = 443 }`,
//!   `destination_fqdns`), <https://learn.microsoft.com/azure/firewall/firewall-faq#how-do-wildcards-work-in-target-urls-and-target-fqdns-in-application-rules>
//!   (`*.base` matches names under base at any depth, not base)
//! - `aws-network-firewall`: <https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/networkfirewall_rule_group>
//!   (`rules_source_list`), <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-networkfirewall-rulegroup-rulessourcelist.html>
//!   (`abc.example.com` matches only itself; `.example.com` matches example.com and every
//!   name under it)

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::tools;

use super::render;
use super::terraform::{assert_stable, parse, resources};

const PAIRS: &[(&str, &str, &str, &str)] = super::APPLY_PAIRS;

const SELECTIONS: &[&[&str]] = super::terraform::SELECTIONS;

/// A cloud FQDN format: its name, resource type, the fields unique across its resources (and
/// kept by a kept resource: changing them replaces it, or clashes with another), and where
/// its names are listed.
struct Product {
    format: &'static str,
    kind: &'static str,
    unique: &'static [&'static str],
    matches: fn(&str, &str) -> bool,
}

const PRODUCTS: &[Product] = &[
    Product {
        format: "gcp-ngfw",
        kind: "google_compute_network_firewall_policy_rule",
        unique: &["rule_name", "priority"],
        matches: exact,
    },
    Product {
        format: "azure-firewall",
        kind: "azurerm_firewall_policy_rule_collection_group",
        unique: &["name", "priority"],
        matches: azure,
    },
    Product {
        format: "aws-network-firewall",
        kind: "aws_networkfirewall_rule_group",
        unique: &["name"],
        matches: aws,
    },
];

/// Cloud NGFW FQDN objects: the name itself.
fn exact(target: &str, name: &str) -> bool {
    !target.contains('*') && target == name
}

/// Azure Firewall: `*.base` matches every name under base at any depth, not base.
fn azure(target: &str, name: &str) -> bool {
    match target.strip_prefix('*') {
        Some(suffix) => name.ends_with(suffix) && suffix.starts_with('.'),
        None => target == name,
    }
}

/// AWS domain lists: `.base` matches base and every name under it; a name matches itself.
fn aws(target: &str, name: &str) -> bool {
    match target.strip_prefix('.') {
        Some(base) => name == base || name.ends_with(target),
        None => target == name,
    }
}

/// The names each resource of `product` lets traffic go to, by resource label.
fn targets(product: &Product, doc: &Value) -> BTreeMap<String, Vec<String>> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    resources(doc, product.kind)
        .into_iter()
        .map(|(label, r)| {
            let names = match product.format {
                "gcp-ngfw" => strings(&r["match"][0]["dest_fqdns"]),
                "azure-firewall" => r["application_rule_collection"][0]["rule"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|rule| strings(&rule["destination_fqdns"]))
                    .collect(),
                _ => strings(
                    &r["rule_group"][0]["rules_source"][0]["rules_source_list"][0]["targets"],
                ),
            };
            (label, names)
        })
        .collect()
}

/// What each product requires of one resource beyond the shared checks.
fn check_resource(product: &Product, label: &str, r: &Value) {
    match product.format {
        "gcp-ngfw" => {
            let name = r["rule_name"].as_str().unwrap();
            assert!(name.len() <= 63, "{name}");
            let priority = r["priority"].as_u64().unwrap();
            assert!((10_000..20_000).contains(&priority), "{priority}");
            assert_eq!(r["direction"], "EGRESS");
            assert_eq!(r["action"], "allow");
            assert_eq!(r["firewall_policy"], "${var.egresscheck_firewall_policy}");
            let names = r["match"][0]["dest_fqdns"].as_array().unwrap();
            assert!((1..=100).contains(&names.len()), "{label}: {names:?}");
            let l4 = &r["match"][0]["layer4_configs"][0];
            assert!(l4["ip_protocol"] == "tcp" || l4["ip_protocol"] == "udp");
        }
        "azure-firewall" => {
            let priority = r["priority"].as_u64().unwrap();
            assert!((10_000..20_000).contains(&priority), "{priority}");
            let collection = &r["application_rule_collection"][0];
            assert_eq!(collection["action"], "Allow");
            let rules = collection["rule"].as_array().unwrap();
            assert!(!rules.is_empty(), "{label}: a collection without rules");
            let names: BTreeSet<&str> = rules.iter().map(|r| r["name"].as_str().unwrap()).collect();
            assert_eq!(names.len(), rules.len(), "{label}: two rules share a name");
            for rule in rules {
                let protocol = &rule["protocols"][0];
                let port = protocol["port"].as_u64().unwrap();
                let kind = if port == 80 { "Http" } else { "Https" };
                assert_eq!(protocol["type"], kind, "{rule}");
                assert!(!rule["destination_fqdns"].as_array().unwrap().is_empty());
            }
        }
        _ => {
            let name = r["name"].as_str().unwrap();
            assert!(
                name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{name}"
            );
            assert_eq!(r["type"], "STATEFUL");
            let list = &r["rule_group"][0]["rules_source"][0]["rules_source_list"][0];
            assert_eq!(list["generated_rules_type"], "ALLOWLIST");
            let types = list["target_types"].as_array().unwrap().len() as u64;
            let targets = list["targets"].as_array().unwrap().len() as u64;
            assert!(targets > 0);
            let capacity = r["capacity"].as_u64().unwrap();
            assert!(
                capacity >= 2 * types * targets && capacity.is_multiple_of(1000),
                "{capacity}"
            );
        }
    }
}

/// `terraform apply` of `config` over the state `state` (label → attributes): what is kept is
/// updated in place (its unique fields unchanged, checked by [`assert_stable`]), what is new
/// is created, what only the state has is destroyed. The result is the configuration's
/// resources, nothing else.
fn apply(
    product: &Product,
    state: &BTreeMap<String, Value>,
    config: &BTreeMap<String, Value>,
) -> BTreeMap<String, Value> {
    assert_stable(product.kind, state, config, product.unique);
    config.clone()
}

#[test]
fn gcp_ngfw_parses_applies_twice_and_replaces_older_data_exactly() {
    applies_twice_and_replaces(&PRODUCTS[0]);
}

#[test]
fn azure_firewall_parses_applies_twice_and_replaces_older_data_exactly() {
    applies_twice_and_replaces(&PRODUCTS[1]);
}

#[test]
fn aws_network_firewall_parses_applies_twice_and_replaces_older_data_exactly() {
    applies_twice_and_replaces(&PRODUCTS[2]);
}

/// Every pair and selection: rendered twice to the same bytes, parsed, applied over nothing,
/// then B over A and B again, ending in exactly B's resources, each as the product requires.
fn applies_twice_and_replaces(product: &Product) {
    tools::require(&["hcl2tojson"]);
    {
        for &(a, a_date, b, b_date) in PAIRS {
            for selection in SELECTIONS {
                let old_text = render(product.format, a, a_date, selection);
                let new_text = render(product.format, b, b_date, selection);
                assert_eq!(
                    new_text,
                    render(product.format, b, b_date, selection),
                    "{} {b} {selection:?}: two renderings differ",
                    product.format
                );
                let old = resources(&parse(&old_text), product.kind);
                let new = resources(&parse(&new_text), product.kind);
                let state = apply(product, &BTreeMap::new(), &old);
                let state = apply(product, &state, &new);
                let state = apply(product, &state, &new);
                assert_eq!(state, new, "{} {a} then {b} {selection:?}", product.format);
                for (label, r) in &new {
                    check_resource(product, label, r);
                }
            }
        }
        // Skatteetaten's 2024-10 table, then the current one: the rules keep their names,
        // each environment's names stay its own.
        let (_, _, b, b_date) = PAIRS[2];
        let doc = parse(&render(product.format, b, b_date, &[]));
        let by_label = targets(product, &doc);
        let all: Vec<&String> = by_label.values().flatten().collect();
        let has = |name: &str| all.iter().any(|t| (product.matches)(t, name));
        for name in [
            "mvamelding.api.skatteetaten.no",
            "maskinporten.no",
            "test.maskinporten.no",
            "mvamelding.api.skatteetaten-test.no",
        ] {
            assert!(has(name), "{}: {name} not opened: {all:?}", product.format);
        }
        // The retired host under the prod wildcard, as of 2026.
        assert!(!has("api.skatteetaten.no"), "{}: {all:?}", product.format);
    }
}

/// The lab data of the dnsmasq tests (a prod wildcard whose base is a retired host, a prod
/// host with a test sibling under it), with a retired host two labels under the wildcard.
fn lab(deep_retired: bool) -> String {
    let mut data = super::dnsmasq::DATA.to_owned();
    if deep_retired {
        data.push_str(
            r#"
[[legacy]]
environment = "prod"
service = "api"
host = "old.v1.api.egress.test"
ipv4 = ["198.51.100.7"]
ports = [443]
sunset = 2024-01-01
sunset_basis = "retired"
source = "lab"
"#,
        );
    }
    data
}

/// Every name of the lab zone: its environment, and whether it is retired (as of 2025-01-15).
const LAB_NAMES: &[(&str, &str, bool)] = &[
    ("a.api.egress.test", "prod", false),
    ("b.api.egress.test", "prod", false),
    ("token.egress.test", "prod", false),
    ("test.token.egress.test", "test", false),
    ("api.egress.test", "prod", true),
    ("old.v1.api.egress.test", "prod", true),
];

/// The names one output opens, over every resource.
fn lab_targets(product: &Product, data: &str, selection: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.toml");
    std::fs::write(&path, data).unwrap();
    let mut args = vec![
        "--data",
        path.to_str().unwrap(),
        "rules",
        "--no-timestamp",
        "--as-of",
        "2025-01-15",
        "--format",
        product.format,
    ];
    args.extend_from_slice(selection);
    let out = super::egresscheck(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    targets(product, &parse(&text))
        .into_values()
        .flatten()
        .collect()
}

#[test]
fn cloud_fqdn_targets_keep_other_environments_and_retired_hosts_out() {
    tools::require(&["hcl2tojson"]);
    for product in PRODUCTS {
        for deep_retired in [false, true] {
            let data = lab(deep_retired);
            for (selection, envs) in [
                (&[][..], &["prod", "test"][..]),
                (&["--env", "prod"][..], &["prod"][..]),
                (&["--env", "test"][..], &["test"][..]),
            ] {
                let targets = lab_targets(product, &data, selection);
                let opens = |name: &str| targets.iter().any(|t| (product.matches)(t, name));
                let context = format!(
                    "{} {selection:?} deep_retired={deep_retired}: {targets:?}",
                    product.format
                );
                for (name, env, retired) in LAB_NAMES {
                    if *name == "old.v1.api.egress.test" && !deep_retired {
                        continue;
                    }
                    let wanted = !retired && envs.contains(env);
                    assert_eq!(opens(name), wanted, "{name}: {context}");
                }
                assert!(
                    targets.iter().all(|t| !t.starts_with('.')),
                    "a leading dot: {context}"
                );
                // A name the data does not list under the wildcard: opened only where the
                // product has a wildcard and no name the data knows under it is kept out.
                let wildcard = product.format == "azure-firewall" && !deep_retired;
                assert_eq!(
                    opens("new.api.egress.test"),
                    wildcard && envs.contains(&"prod"),
                    "{context}"
                );
            }
        }
    }
}

#[test]
fn cloud_fqdn_header_states_the_products_matching() {
    for (format, says) in [
        ("gcp-ngfw", "FQDN objects are exact names"),
        (
            "azure-firewall",
            "*.base matches every name under base at any depth, not base itself",
        ),
        (
            "aws-network-firewall",
            "a leading-dot target would also match its base",
        ),
    ] {
        let text = render(format, "rules.toml", "2025-01-15", &["--scope", "all"]);
        assert!(text.contains(says), "{format}:\n{text}");
        // Name-only: the subnet, which has no host name, is named in a comment with its
        // broad-prefix warning, never opened.
        assert!(
            text.lines()
                .any(|l| l.starts_with("# 192.0.2.128/25 tcp 443: prod: BROAD")),
            "{format}:\n{text}"
        );
        assert!(
            !text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .any(|l| l.contains("192.0.2.")),
            "{format}:\n{text}"
        );
    }
}
