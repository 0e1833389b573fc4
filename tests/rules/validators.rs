//! The declarative and script dialects checked by their products' own validators, where one
//! installs from the registries: Kubernetes (`kubernetes-validate --strict`), Cilium (the
//! CiliumNetworkPolicy CRD schema, vendored in tests/fixtures/cilium with its licence),
//! Terraform (`python-hcl2`), PowerShell (`tree-sitter-powershell`), and the shell scripts
//! (`sh -n`); and `kubectl apply` as the k8s and cilium headers state it, on a model of its
//! documented pruning (`validators/kubectl_apply.py`). Azure CLI lines are checked against the documented argument set of
//! `az network nsg rule create` instead of azure-cli itself: its install took 659 s and
//! 733 MB here (pip, 2.91.0), beyond what CI can spend on one tool.
//! <https://learn.microsoft.com/en-us/cli/azure/network/nsg/rule#az-network-nsg-rule-create>

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use crate::support::tools;

use super::{old_rules_then, rules};

/// The validator scripts beside this file.
fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/rules/validators")
        .join(name)
}

/// Runs `program args… FILE` on `text` written to a file named `file`; its standard output, or
/// a panic with its messages.
fn run_on(text: &str, file: &str, program: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(program)
        .args(args)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}\n{text}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The outputs of `format` for the fixture (all scopes, older data, one environment) and the
/// bundled data.
fn outputs(format: &str) -> Vec<String> {
    let bundled = super::egresscheck(&["rules", "--format", format, "--include-expired"]);
    vec![
        rules("rules.toml", &["--format", format, "--scope", "all"]),
        rules("rules.toml", &["--format", format, "--env", "prod"]),
        old_rules_then(&["--format", format]),
        String::from_utf8(bundled.stdout).unwrap(),
    ]
}

/// (kind, name) of every YAML document: what `kubectl apply --prune` keeps by name.
fn policies(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("  name: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn kubernetes_validate_accepts_every_k8s_output_with_its_dns_rule() {
    tools::require(&["kubernetes-validate"]);
    for text in outputs("k8s") {
        run_on(
            &text,
            "policy.yaml",
            "kubernetes-validate",
            &["--strict", "--quiet"],
        );
        // The defect: an egress policy without a DNS rule cut name resolution for every pod.
        let documents = text.matches("kind: NetworkPolicy").count();
        assert_eq!(
            text.matches("k8s-app: kube-dns").count(),
            documents,
            "{text}"
        );
        assert_eq!(
            text.matches("egresscheck.io/part: rules").count(),
            documents
        );
    }
    // Applied by name with --prune: the older data's policies are exactly replaced.
    let old = old_rules_then(&["--format", "k8s"]);
    let new = rules("rules.toml", &["--format", "k8s"]);
    assert_eq!(policies(&old), policies(&new));
}

#[test]
fn every_cilium_output_matches_the_crd_schema() {
    tools::require(&["python3"]);
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cilium/ciliumnetworkpolicy_v2.json");
    let check = script("check_schema.py");
    for text in outputs("cilium") {
        run_on(
            &text,
            "policy.yaml",
            "python3",
            &[check.to_str().unwrap(), schema.to_str().unwrap()],
        );
    }
}

#[test]
fn every_aws_output_parses_as_terraform_with_stable_labels() {
    tools::require(&["python3"]);
    let check = script("check_hcl.py");
    let parse = |text: &str| -> serde_json::Value {
        let json = run_on(
            text,
            "egresscheck.tf",
            "python3",
            &[check.to_str().unwrap()],
        );
        serde_json::from_str(&json).unwrap()
    };
    let labels = |doc: &serde_json::Value| -> BTreeSet<String> {
        doc["resource"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_object().unwrap().values())
            .flat_map(|v| v.as_object().unwrap().keys().cloned())
            .collect()
    };
    for text in outputs("aws") {
        let doc = parse(&text);
        let variable = doc["variable"][0].as_object().unwrap();
        assert!(
            variable.contains_key("\"egresscheck_security_group_id\""),
            "{doc}"
        );
        let count = text
            .matches("resource \"aws_vpc_security_group_egress_rule\"")
            .count();
        assert_eq!(labels(&doc).len(), count, "labels are unique");
        assert!(
            text.contains("Do not mix with inline egress {} blocks"),
            "{text}"
        );
    }
    // Labels come from content: what both data versions have keeps its label, so Terraform
    // changes only what changed.
    let old = labels(&parse(&old_rules_then(&["--format", "aws"])));
    let new = labels(&parse(&rules("rules.toml", &["--format", "aws"])));
    assert!(
        old.contains("\"egc_prod_tcp_443_192_0_2_10_31\""),
        "{old:?}"
    );
    assert!(
        new.contains("\"egc_prod_tcp_443_192_0_2_10_31\""),
        "{new:?}"
    );
    assert!(old.contains("\"egc_prod_tcp_443_198_51_100_6_32\""));
    assert!(
        !new.contains("\"egc_prod_tcp_443_198_51_100_6_32\""),
        "removed by apply"
    );
}

#[test]
fn every_windows_output_parses_as_powershell() {
    tools::require(&["python3"]);
    let check = script("check_powershell.py");
    for text in outputs("windows") {
        let commands = run_on(&text, "rules.ps1", "python3", &[check.to_str().unwrap()]);
        let parsed: Vec<serde_json::Value> = commands
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let news: Vec<&serde_json::Value> = parsed
            .iter()
            .filter(|c| c["command"] == "New-NetFirewallRule")
            .collect();
        assert_eq!(news.len(), text.matches("\nNew-NetFirewallRule ").count());
        // Only parameters New-NetFirewallRule documents.
        let known = [
            "-Name",
            "-DisplayName",
            "-Group",
            "-Direction",
            "-Action",
            "-Protocol",
            "-RemotePort",
            "-RemoteAddress",
            "-Description",
        ];
        for new in news {
            for parameter in new["parameters"].as_array().unwrap() {
                assert!(known.contains(&parameter.as_str().unwrap()), "{parameter}");
            }
        }
        // Each rule is removed by name before it is created (a name is unique).
        let removes = parsed
            .iter()
            .filter(|c| c["command"] == "Remove-NetFirewallRule")
            .count();
        assert!(removes > text.matches("\nNew-NetFirewallRule ").count());
    }
}

/// The arguments `az network nsg rule create` documents (see the module docs).
const AZ_CREATE_ARGS: &[&str] = &[
    "--name",
    "--nsg-name",
    "--priority",
    "--resource-group",
    "--access",
    "--description",
    "--destination-address-prefixes",
    "--destination-asgs",
    "--destination-port-ranges",
    "--direction",
    "--protocol",
    "--source-address-prefixes",
    "--source-asgs",
    "--source-port-ranges",
];

#[test]
fn azure_and_gcp_scripts_are_valid_sh_with_documented_arguments() {
    tools::require(&["sh"]);
    for format in ["azure", "gcp", "ufw", "firewalld"] {
        for text in outputs(format) {
            run_on(&text, "rules.sh", "sh", &["-n"]);
        }
    }
    for text in outputs("azure") {
        for line in text
            .lines()
            .filter(|l| l.starts_with("az network nsg rule create "))
        {
            let words: Vec<&str> = line.split_whitespace().collect();
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                assert!(AZ_CREATE_ARGS.contains(flag), "{flag} in {line}");
            }
            let at = words.iter().position(|w| *w == "--priority").unwrap();
            let priority: u32 = words[at + 1].parse().unwrap();
            assert!((100..=4096).contains(&priority), "{line}");
            let name = words[words.iter().position(|w| *w == "--name").unwrap() + 1];
            assert!(name.len() <= 80, "{name}");
        }
    }
    // gcloud compute firewall-rules create/update take these flags (gcloud reference).
    let gcp_flags = [
        "--network",
        "--direction",
        "--action",
        "--rules",
        "--destination-ranges",
        "--priority",
        "--description",
        "--filter",
        "--format",
        "--quiet",
    ];
    for text in outputs("gcp") {
        for line in text
            .lines()
            .filter(|l| l.contains("gcloud compute firewall-rules"))
        {
            for word in line.split_whitespace().filter(|w| w.starts_with("--")) {
                let flag = word.split('=').next().unwrap();
                assert!(gcp_flags.contains(&flag), "{flag} in {line}");
            }
        }
    }
}

/// The admin's own objects in the namespace: a policy of their own, a `check --rules` policy
/// (part `check`) and a ConfigMap carrying the rules label.
const K8S_ADMIN: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: admin-allow-proxy
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.8/32}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: egresscheck-prod-check
  labels: {egresscheck.io/part: check}
spec:
  podSelector: {}
  policyTypes: [Egress]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: admin-notes
  labels: {egresscheck.io/part: rules}
data: {note: mine}
"#;

/// The objects left after `kubectl apply` of the admin's objects, then of each output with
/// the command its header states (tests/rules/validators/kubectl_apply.py).
fn kubectl_state(outputs: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![script("kubectl_apply.py").display().to_string()];
    for (i, text) in std::iter::once(&K8S_ADMIN).chain(outputs).enumerate() {
        let path = dir.path().join(format!("{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        args.push(path.display().to_string());
    }
    let out = Command::new("python3").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "kubectl_apply.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn k8s_and_cilium_applied_twice_and_over_older_data_equal_the_new_alone() {
    tools::require(&["python3"]);
    let selections: &[(&[&str], &[&str])] = &[
        (&[], &[]),
        (&["--scope", "all"], &["--env", "prod"]),
        (&["--env", "test"], &[]),
    ];
    for format in ["k8s", "cilium"] {
        for &(a, a_date, b, b_date) in super::APPLY_PAIRS {
            for (old_selection, new_selection) in selections {
                let old = super::render(format, a, a_date, old_selection);
                let new = super::render(format, b, b_date, new_selection);
                let alone = kubectl_state(&[&new]);
                let context = format!("{format} {a} {old_selection:?} then {b} {new_selection:?}");
                assert_eq!(kubectl_state(&[&new, &new]), alone, "{context}: twice");
                assert_eq!(kubectl_state(&[&old, &new]), alone, "{context}");
                let names: BTreeSet<&String> = alone.as_object().unwrap().keys().collect();
                for admin in [
                    "NetworkPolicy/admin-allow-proxy",
                    "NetworkPolicy/egresscheck-prod-check",
                    "ConfigMap/admin-notes",
                ] {
                    assert!(names.contains(&admin.to_owned()), "{context}: {admin} gone");
                }
            }
        }
    }
}
