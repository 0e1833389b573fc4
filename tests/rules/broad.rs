//! Broad prefixes (`[[broad_prefix]]`): every dialect that opens addresses warns in its
//! header and in the comment of each rule holding one; name-only dialects open no prefix and
//! say nothing of it.

use egresscheck::rules::Format;

/// The dialects that match host names only.
const NAME_ONLY: &[&str] = &[
    "squid",
    "dnsmasq-nftset",
    "edl-domain",
    "gcp-ngfw",
    "azure-firewall",
    "aws-network-firewall",
];

fn bundled(format: &str) -> String {
    let mut args = vec![
        "rules",
        "--format",
        format,
        "--no-timestamp",
        "--as-of",
        "2026-03-01",
    ];
    if format == "iptables" {
        args.extend(["--family", "4"]);
    }
    if ["csv", "edl-ip", "edl-domain"].contains(&format) {
        args.push("--comments");
    }
    let out = super::egresscheck(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_address_dialect_warns_of_the_skatteetaten_subnets() {
    for format in Format::ALL.map(Format::name) {
        let text = bundled(format);
        for (cidr, env) in [("159.216.17.128/27", "test"), ("159.216.17.160/28", "prod")] {
            let warning = format!(
                "WARNING broad prefix: {cidr} ({env}) opens more than the services named here"
            );
            if NAME_ONLY.contains(&format) {
                assert!(!text.contains("broad prefix"), "{format}:\n{text}");
                continue;
            }
            if format == "json" {
                let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
                let listed = doc["broad_prefixes"].as_array().unwrap();
                assert!(
                    listed
                        .iter()
                        .any(|b| b["cidr"] == cidr && b["environments"][0] == env),
                    "{text}"
                );
                let rule = doc["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["destination"] == cidr)
                    .unwrap();
                assert!(
                    rule["broad"]
                        .as_str()
                        .unwrap()
                        .starts_with("opens every external service")
                );
                assert!(rule["comment"].as_str().unwrap().contains("BROAD"));
                continue;
            }
            assert!(
                text.contains(&warning),
                "{format} header lacks {warning:?}:\n{text}"
            );
            // The rule's own comment says so (on the rule's line, or the comment line the
            // dialect puts above or beside it).
            let marked = text
                .lines()
                .filter(|l| !l.contains("WARNING broad prefix"))
                .any(|l| l.contains(&format!("{env}: BROAD, opens every external service")));
            assert!(marked, "{format}: no rule comment marks {cidr}:\n{text}");
        }
    }
}

#[test]
fn a_rule_of_a_broad_prefix_says_so_and_no_other_does() {
    let text = super::rules("rules.toml", &["--format", "nftables", "--scope", "all"]);
    assert!(
        text.contains("WARNING broad prefix: 192.0.2.128/25 (prod) opens more than the services named here: every external service in production"),
        "{text}"
    );
    assert!(text.contains("192.0.2.128/25 . tcp . 443 comment \"prod: BROAD, opens every external service in production - api - subnet"), "{text}");
    // The endpoints' own addresses are not broad.
    assert!(
        text.contains("198.51.100.7 . tcp . 443 comment \"prod: token token.example.no\""),
        "{text}"
    );
}

#[test]
fn data_show_lists_broad_prefixes() {
    let out = super::egresscheck(&["data", "show"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("159.216.17.160/28 (broad)"), "{text}");
    assert!(
        text.contains(
            "- 159.216.17.128/27 opens every external service Skatteetaten offers in test"
        ),
        "{text}"
    );
    let out = super::egresscheck(&["data", "show", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["broad_prefixes"][1]["cidr"], "159.216.17.160/28");
    assert_eq!(doc["broad_prefixes"][1]["source"], "sikkerhet-2024-10");
}
