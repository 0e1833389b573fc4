//! Every file in `contrib/` checked by its own tool: the Kubernetes manifests by
//! `kubernetes-validate --strict`, the Prometheus configurations by `promtool check config`,
//! the alerting rules by `promtool check rules` and their unit tests by `promtool test rules`,
//! the systemd units (the check service and timer, the serve unit) by `systemd-analyze
//! verify`; and every egresscheck flag any of them (the Nomad job and the Ansible play
//! included) passes is one the binary accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::tools;

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");

fn contrib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(path)
}

fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(contrib(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .{extension} in contrib/{dir}");
    files
}

/// Runs `cmd` and fails the test with its output unless it succeeds.
fn run_ok(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Copies the units `names` of contrib/systemd with `from` (how they start egresscheck)
/// replaced by `to` (this build: `systemd-analyze verify` checks that the binary exists),
/// and requires verify to pass them without a warning (an unknown directive, a typo in a
/// section). Returns each unit's text as it is in contrib/. The caller requires
/// `systemd-analyze` itself (harness_selftest::tools finds the tests that need a tool by their
/// own bodies).
fn verify_units(names: &[&str], from: &str, to: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut texts = Vec::new();
    let mut copies = Vec::new();
    for name in names {
        let text = std::fs::read_to_string(contrib(&format!("systemd/{name}"))).unwrap();
        let copy = dir.path().join(name);
        std::fs::write(&copy, text.replace(from, to)).unwrap();
        texts.push(text);
        copies.push(copy);
    }
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(&copies)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for name in names {
        assert!(!stderr.contains(name), "{stderr}");
    }
    texts
}

#[test]
fn kubernetes_manifests_are_valid() {
    tools::require(&["kubernetes-validate"]);
    let manifests = files("kubernetes", "yaml");
    let text = run_ok(
        Command::new("kubernetes-validate")
            .arg("--strict")
            .args(&manifests),
    );
    // Both DaemonSets, the Service and the CronJob were recognised and checked.
    for resource in [
        "daemonset/egresscheck-node",
        "daemonset/egresscheck-pod",
        "service/egresscheck",
        "cronjob/egresscheck",
    ] {
        assert!(
            text.contains(&format!("passed for resource {resource}")),
            "{text}"
        );
    }
    // The node DaemonSet sees the node's network, the other the pod network.
    let daemonsets = std::fs::read_to_string(contrib("kubernetes/serve-daemonsets.yaml")).unwrap();
    assert_eq!(daemonsets.matches("hostNetwork: true").count(), 1);
}

#[test]
fn prometheus_configurations_and_rules_pass_promtool() {
    tools::require(&["promtool"]);
    run_ok(
        Command::new("promtool")
            .args(["check", "config"])
            .arg(contrib("prometheus/prometheus.yml")),
    );
    // The cluster's configuration names the rules file beside it, as it is deployed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        contrib("kubernetes/prometheus-kubernetes.yml"),
        dir.path().join("prometheus-kubernetes.yml"),
    )
    .unwrap();
    std::fs::copy(
        contrib("prometheus/egresscheck-rules.yml"),
        dir.path().join("egresscheck-rules.yml"),
    )
    .unwrap();
    run_ok(
        Command::new("promtool")
            .args(["check", "config"])
            .arg(dir.path().join("prometheus-kubernetes.yml")),
    );
    let text = run_ok(
        Command::new("promtool")
            .args(["check", "rules"])
            .arg(contrib("prometheus/egresscheck-rules.yml")),
    );
    assert!(text.contains("SUCCESS: 7 rules found"), "{text}");
    let text = run_ok(
        Command::new("promtool")
            .args(["test", "rules", "egresscheck-rules.test.yml"])
            .current_dir(contrib("prometheus")),
    );
    assert!(text.contains("SUCCESS"), "{text}");
    // Every alert has a unit test.
    let rules = std::fs::read_to_string(contrib("prometheus/egresscheck-rules.yml")).unwrap();
    let tests = std::fs::read_to_string(contrib("prometheus/egresscheck-rules.test.yml")).unwrap();
    for alert in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!("alertname: {alert}")),
            "{alert} has no unit test"
        );
    }
}

#[test]
fn the_serve_unit_passes_systemd_analyze_verify() {
    tools::require(&["systemd-analyze"]);
    let texts = verify_units(
        &["egresscheck-serve.service"],
        "ExecStart=egresscheck ",
        &format!("ExecStart={BIN} "),
    );
    let text = &texts[0];
    assert!(text.contains("ExecStart=egresscheck serve"), "{text}");
    for directive in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(text.contains(directive), "{directive}");
    }
}

#[test]
fn the_check_service_and_timer_pass_systemd_analyze_verify() {
    tools::require(&["systemd-analyze"]);
    // As a manual install has them (/usr/local/bin); scripts/package-test verifies them
    // installed by the Debian package (/usr/bin), with the package's user.
    let texts = verify_units(
        &["egresscheck.service", "egresscheck.timer"],
        "/usr/local/bin/egresscheck",
        BIN,
    );
    let service = &texts[0];
    for directive in [
        "User=egresscheck\n",
        "Group=egresscheck\n",
        "ExecStart=/usr/local/bin/egresscheck check --env prod ",
        "--baseline /var/lib/egresscheck/report.json --save /var/lib/egresscheck/report.json",
        "SuccessExitStatus=1\n",
        "StateDirectory=egresscheck egresscheck/textfile\n",
        "NoNewPrivileges=yes",
    ] {
        assert!(service.contains(directive), "{directive}");
    }
    assert!(texts[1].contains("OnUnitActiveSec=15min"), "{}", texts[1]);
}

#[test]
fn every_egresscheck_flag_in_contrib_exists() {
    let mut help = String::new();
    for command in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["serve", "--help"],
        vec!["probe", "--help"],
        vec!["rules", "--help"],
    ] {
        help.push_str(&run_ok(Command::new(BIN).args(&command)));
    }
    // Comments are for people (and mention other programs' flags); what runs is checked.
    let mut checked = 0;
    let all = [
        "cron/egresscheck",
        "systemd/egresscheck.service",
        "systemd/egresscheck-serve.service",
        "kubernetes/cronjob.yaml",
        "kubernetes/serve-daemonsets.yaml",
        "nomad/egresscheck.nomad.hcl",
        "ansible/egresscheck.yml",
    ];
    for file in all {
        let text = std::fs::read_to_string(contrib(file)).unwrap();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        for flag in flags(&code) {
            checked += 1;
            assert!(
                help.contains(&format!("{flag} "))
                    || help.contains(&format!("{flag}="))
                    || help.contains(&format!("{flag}\n"))
                    || help.contains(&format!("{flag},")),
                "contrib/{file}: {flag} is not an egresscheck flag"
            );
        }
    }
    assert!(checked > 20, "only {checked} flags found");
}

/// `--flag` words of a text (a `--flag=value` counts as `--flag`).
fn flags(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '[' | ']' | '='))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned()
        })
        .collect()
}

#[test]
fn the_ansible_play_is_a_list_of_plays_driving_jsonl() {
    let text = std::fs::read_to_string(contrib("ansible/egresscheck.yml")).unwrap();
    let plays: serde_json::Value = yaml_serde::from_str(&text).unwrap();
    let plays = plays.as_array().expect("a list of plays");
    assert_eq!(plays.len(), 1);
    let tasks = plays[0]["tasks"].as_array().unwrap();
    assert!(tasks.len() >= 2);
    let argv = tasks[0]["ansible.builtin.command"]["argv"]
        .as_array()
        .unwrap();
    let args: Vec<&str> = argv.iter().map(|a| a.as_str().unwrap()).collect();
    assert!(
        args.windows(2).any(|w| w == ["--format", "jsonl"]),
        "{args:?}"
    );
}
