//! One snapshot per dialect of the fixed data file (`--scope all`, a fixed `--as-of`, no
//! timestamp), and one per dialect that expresses diffs. Review changes with `cargo insta`.
//!
//! The golden files of the dialects no tool checks offline were reviewed against the vendor's
//! documentation (their semantics are also modelled in `models.rs` and applied in
//! `enterprise.rs`):
//! - `panos`: <https://docs.paloaltonetworks.com/pan-os/9-1/pan-os-admin/policy/use-address-object-to-represent-ip-addresses/address-objects.html>,
//!   <https://docs.paloaltonetworks.com/pan-os/10-1/pan-os-panorama-api/pan-os-xml-api-request-types/configuration-api/set-configuration>
//! - `fortigate`: <https://docs.fortinet.com/document/fortigate/7.6.1/cli-reference/333889629>
//!   (policy), <https://docs.fortinet.com/document/fortiproxy/2.0.13/cli-reference/80620/config-firewall-address>
//!   (address types `fqdn`, `wildcard-fqdn`), <https://docs.fortinet.com/document/fortigate/7.0.5/administration-guide/508024>
//!   (`set` replaces a whole list)
//! - `srx`: <https://www.juniper.net/documentation/us/en/software/junos/security-policies/topics/topic-map/security-global-policies.html>,
//!   <https://juniper.net/documentation/software/junos-es/junos-es93/junos-es-swcmdref/address-book.html>
//!   (`address NAME dns-name`)
//! - `gcp-ngfw`: <https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/compute_network_firewall_policy_rule>,
//!   <https://cloud.google.com/firewall/docs/fqdn-objects-overview>
//! - `azure-firewall`: <https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/firewall_policy_rule_collection_group>,
//!   <https://learn.microsoft.com/azure/firewall/firewall-faq#how-do-wildcards-work-in-target-urls-and-target-fqdns-in-application-rules>
//! - `aws-network-firewall`: <https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/networkfirewall_rule_group>,
//!   <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-networkfirewall-rulegroup-rulessourcelist.html>
//!
//! (the three cloud FQDN dialects are also parsed and applied to a model of Terraform, with
//! each product's name matching, in `cloud_fqdn.rs`)

use egresscheck::rules::Format;

use super::{rules, rules_diff};

#[test]
fn every_dialect() {
    for format in Format::ALL {
        for mut args in super::format_args(format.name()) {
            args.extend(["--scope", "all"]);
            let text = rules("rules.toml", &args);
            let name = match args.as_slice() {
                [_, _, "--family", "6", ..] => format!("{}-v6", format.name()),
                _ => format.name().to_owned(),
            };
            insta::assert_snapshot!(name, text);
        }
    }
}

/// The formats whose header and comments come only with `--comments`, with them.
#[test]
fn every_list_with_comments() {
    for format in ["csv", "edl-ip", "edl-domain"] {
        let text = rules(
            "rules.toml",
            &["--format", format, "--scope", "all", "--comments"],
        );
        insta::assert_snapshot!(format!("{format}-comments"), text);
    }
}

#[test]
fn every_diff() {
    for format in Format::ALL.into_iter().filter(|f| f.supports_diff()) {
        for args in super::format_args(format.name()) {
            let text = rules_diff("rules-old.toml", "rules.toml", &args);
            let name = match args.as_slice() {
                [_, _, "--family", "6", ..] => format!("diff-{}-v6", format.name()),
                _ => format!("diff-{}", format.name()),
            };
            insta::assert_snapshot!(name, text);
        }
    }
}

#[test]
fn list_formats() {
    let out = super::egresscheck(&["rules", "--list-formats"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for format in Format::ALL {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{} ", format.name()))
                    && l.contains(format.description())),
            "{format} missing from:\n{text}"
        );
    }
    insta::assert_snapshot!("list-formats", text);
}

/// pf has no validator offline: its golden file (`integration__rules__snapshots__pf.snap`) is
/// reviewed against pf.conf(5), <https://man.openbsd.org/pf.conf> (tables: `table <name>
/// persist { … }`, rules: `pass out quick proto tcp to <name> port N`), and the loading rule
/// there: `pfctl -f` replaces the whole ruleset and its tables, so loading pf.conf again, or
/// with the output for newer data, leaves exactly the new tables.
#[test]
fn pf_output_has_the_documented_shape() {
    let text = rules("rules.toml", &["--format", "pf", "--scope", "all"]);
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    for line in &body {
        let line = line.trim();
        assert!(
            line.is_empty()
                || line.starts_with("table <egc_")
                || line.starts_with("pass out quick proto ")
                || line == "}"
                || line.parse::<ipnet::IpNet>().is_ok(),
            "{line}"
        );
    }
    assert!(
        body.iter()
            .any(|l| l.starts_with("table <egc_prod_tcp443> persist {"))
    );
    assert!(body.contains(&"pass out quick proto tcp to <egc_prod_tcp443> port 443"));
}
