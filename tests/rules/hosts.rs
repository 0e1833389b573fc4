//! ufw and firewalld checked by their own tools, applied twice, over the output for older data
//! and over another selection, next to the admin's own rule: the result equals the new
//! output alone.
//!
//! Neither touches this machine's configuration: ufw runs in a network namespace and in a
//! mount namespace of its own where a copy of /etc/ufw is bind-mounted over the real one
//! (ufw's `--rootdir` does not cover every file it writes); firewalld's rules go through
//! `firewall-offline-cmd --system-config DIR` (a temporary configuration root), with a
//! `firewall-cmd` shim that drops `--permanent` and `--reload`, which the offline tool does
//! not take.

use std::path::Path;
use std::process::Command;

use crate::support::netns::Netns;
use crate::support::tools;

use super::{old_rules_then, rules};

/// Runs `script` with sh, `env` set, and returns its standard output; panics on failure.
fn sh(script: &str, env: &[(&str, &str)]) -> String {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---- ufw ----------------------------------------------------------------------------------

/// `ufw status numbered` after the admin's own rule and each of `outputs`, run by sh in a
/// fresh network namespace with a private copy of /etc/ufw.
fn ufw_state(outputs: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("etc-ufw");
    sh(&format!("cp -a /etc/ufw '{}'", copy.display()), &[]);
    let mut steps = vec![
        format!("mount --bind '{}' /etc/ufw", copy.display()),
        "ufw --force enable >/dev/null".to_owned(),
        "ufw allow out 22/tcp comment 'admin ssh' >/dev/null".to_owned(),
    ];
    for (i, output) in outputs.iter().enumerate() {
        let file = dir.path().join(format!("{i}.sh"));
        std::fs::write(&file, output).unwrap();
        if i == 0 {
            // The rule lines go through ufw's own parser first, without changing anything.
            steps.push(format!(
                "sed -n 's/^ufw allow /ufw --dry-run allow /p' '{}' | sh >/dev/null",
                file.display()
            ));
        }
        steps.push(format!("sh -e '{}' >/dev/null", file.display()));
    }
    steps.push("ufw status numbered".to_owned());
    let ns = Netns::new();
    let out = ns.run(
        "unshare",
        &[
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-ec",
            &steps.join("\n"),
        ],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ufw_applied_twice_over_older_data_and_another_selection_equals_the_new_alone() {
    tools::require_root_and(&["ip", "ufw", "unshare", "sh"]);
    let before = sh(
        "cat /etc/ufw/ufw.conf /etc/ufw/user.rules /etc/ufw/user6.rules 2>/dev/null || true",
        &[],
    );
    let args = ["--format", "ufw", "--scope", "all"];
    let new = rules("rules.toml", &args);
    let expected = ufw_state(&[&new]);
    assert!(
        expected.contains("# admin ssh") && expected.contains("# egresscheck prod:"),
        "{expected}"
    );
    // Older data, another selection, then the new output twice (each ufw call reloads the
    // firewall, so one sequence covers the cases).
    let old = old_rules_then(&args);
    let prod = rules("rules.toml", &["--format", "ufw", "--env", "prod"]);
    assert_eq!(ufw_state(&[&old, &prod, &new, &new]), expected);
    let after = sh(
        "cat /etc/ufw/ufw.conf /etc/ufw/user.rules /etc/ufw/user6.rules 2>/dev/null || true",
        &[],
    );
    assert_eq!(before, after, "the machine's own ufw configuration changed");
}

// ---- firewalld ----------------------------------------------------------------------------

/// A `firewall-cmd` that is `firewall-offline-cmd` against `$FW_ROOT`.
const SHIM: &str = r#"#!/bin/sh
args=""
for a; do
  case $a in
    --permanent) ;;
    --reload) exit 0 ;;
    *) args="$args '$(printf %s "$a" | sed "s/'/'\\\\''/g")'" ;;
  esac
done
eval "exec firewall-offline-cmd --system-config \"\$FW_ROOT\" $args"
"#;

/// The policy `egresscheck` (its XML) and the admin's zone file after running each of
/// `outputs` against a fresh configuration root holding the admin's own rule.
fn firewalld_state(outputs: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    if Path::new("/etc/firewalld/firewalld.conf").exists() {
        std::fs::copy("/etc/firewalld/firewalld.conf", root.join("firewalld.conf")).unwrap();
    }
    let shim = bin.join("firewall-cmd");
    std::fs::write(&shim, SHIM).unwrap();
    sh(&format!("chmod +x '{}'", shim.display()), &[]);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("PATH", path.as_str()), ("FW_ROOT", root.to_str().unwrap())];
    sh(
        "firewall-cmd --permanent --zone=public --add-service=ssh >/dev/null",
        &env,
    );
    for output in outputs {
        let file = dir.path().join("rules.sh");
        std::fs::write(&file, output).unwrap();
        sh(&format!("sh -e '{}' >/dev/null", file.display()), &env);
    }
    let rich = sh(
        "firewall-cmd --permanent --policy=egresscheck --list-rich-rules | sort",
        &env,
    );
    let target = sh(
        "firewall-cmd --permanent --policy=egresscheck --get-target",
        &env,
    );
    let zone = std::fs::read_to_string(root.join("zones/public.xml")).unwrap();
    (format!("{target}{rich}"), zone)
}

#[test]
fn firewalld_applied_twice_over_older_data_equals_the_new_alone() {
    tools::require(&["firewall-offline-cmd", "sh"]);
    // The test environment (each firewall-cmd call starts the offline tool: few rules keep
    // this short); its addresses change between the older data and the new.
    let args = ["--format", "firewalld", "--env", "test"];
    let new = rules("rules.toml", &args);
    let (expected, zone) = firewalld_state(&[&new]);
    assert!(expected.contains("rule family=\"ipv4\" destination address=\"203.0.113.10/31\""));
    assert!(zone.contains("ssh"), "the admin's own zone rule: {zone}");
    let old = old_rules_then(&args);
    for first in [&new, &old] {
        assert_eq!(
            firewalld_state(&[first, &new, &new]),
            (expected.clone(), zone.clone())
        );
    }
    // The target the admin set survives a regeneration.
    let keep_target = "firewall-cmd --permanent --policy=egresscheck --set-target=REJECT\n";
    let (state, _) = firewalld_state(&[&new, keep_target, &new]);
    assert!(state.starts_with("REJECT"), "{state}");
}
