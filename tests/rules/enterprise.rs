//! PAN-OS, FortiGate and Juniper SRX: no validator runs offline, so their output is pinned by
//! golden files (`snapshots.rs`, reviewed against the vendor documentation linked in
//! `models.rs` and in each dialect's module docs) and applied here to a model of the
//! product's configuration semantics that already holds an admin's own objects:
//! A, then B, then B again must equal B alone, with the admin's objects untouched and every
//! reference resolving; `--diff A B` applied over A must equal B exactly.
//!
//! A and B: `rules-old.toml` → `rules.toml` (a port added, addresses changed), the reverse
//! (a port and addresses dropped), and Skatteetaten's 2024-10 table → the current one
//! (20.100.51.138 moves from test to prod).

use super::models::{Fortios, Junos, Model, Panos};

fn junos(texts: &[&str]) -> Junos {
    Junos::load(JUNOS_ADMIN, texts)
}

fn panos(texts: &[&str]) -> Panos {
    Panos::load(PANOS_ADMIN, texts)
}

fn fortios(texts: &[&str]) -> Fortios {
    Fortios::load(FORTIOS_ADMIN, texts)
}
use super::{egresscheck, fixture, render};

const PAIRS: &[(&str, &str, &str, &str)] = super::APPLY_PAIRS;

/// The selections every pair is rendered with.
const SELECTIONS: &[&[&str]] = &[
    &[],
    &["--scope", "all"],
    &["--family", "4"],
    &["--env", "prod", "--include-expired"],
];

/// `rules --diff A B --format FORMAT SELECTION` as of B's date.
pub(crate) fn diff(
    format: &str,
    (old, _, new, as_of): (&str, &str, &str, &str),
    selection: &[&str],
) -> String {
    let (old, new) = (fixture(old), fixture(new));
    let mut args = vec![
        "rules",
        "--diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--no-timestamp",
        "--as-of",
        as_of,
        "--format",
        format,
    ];
    args.extend_from_slice(selection);
    let out = egresscheck(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const JUNOS_ADMIN: &str = "
set system host-name fw1
set security address-book global address admin-dns 10.0.0.53/32
set security address-book global address-set admin-servers address admin-dns
set security policies global policy admin-dns match source-address any
set security policies global policy admin-dns match destination-address admin-servers
set security policies global policy admin-dns match application junos-dns-udp
set security policies global policy admin-dns then permit
set groups admin-ntp system ntp server 10.0.0.123
set apply-groups admin-ntp
";

#[test]
fn srx_applied_twice_and_over_an_older_output_equals_the_new_one_alone() {
    let admin = junos(&[]);
    for &(a, a_date, b, b_date) in PAIRS {
        for selection in SELECTIONS {
            let (old, new) = (
                render("srx", a, a_date, selection),
                render("srx", b, b_date, selection),
            );
            let alone = junos(&[&new]);
            assert_eq!(junos(&[&new, &new]), alone, "{b} {selection:?} twice");
            assert_eq!(
                junos(&[&old, &new, &new]),
                alone,
                "{a} then {b} {selection:?}"
            );
            assert!(
                admin.0.is_subset(&alone.0),
                "the admin's configuration was touched"
            );
            assert!(
                alone
                    .0
                    .iter()
                    .any(|p| p.ends_with(&["apply-groups".into(), "egresscheck".into()]))
            );
        }
    }
}

#[test]
fn srx_moves_an_address_out_of_the_old_environment() {
    let (a, a_date, b, b_date) = PAIRS[2];
    let state = junos(&[
        &render("srx", a, a_date, &[]),
        &render("srx", b, b_date, &[]),
    ]);
    let member = |set: &str| {
        state.0.iter().any(|p| {
            p.windows(4)
                .any(|w| w == ["address-set", set, "address", "egc-20.100.51.138_32"])
        })
    };
    assert!(!member("egc-test-tcp-443"), "20.100.51.138 stayed in test");
    assert!(member("egc-prod-tcp-443"), "20.100.51.138 is not in prod");
}

const PANOS_ADMIN: &str = "
set address admin-dns ip-netmask 10.0.0.53/32
set address-group admin-servers static [ admin-dns ]
set rulebase security rules admin-dns from trust to untrust source any destination admin-servers application dns service application-default action allow
";

#[test]
fn panos_applied_twice_and_over_an_older_output_equals_the_new_one_alone() {
    let admin = panos(&[]);
    for (index, &(a, a_date, b, b_date)) in PAIRS.iter().enumerate() {
        for selection in SELECTIONS {
            let (old, new) = (
                render("panos", a, a_date, selection),
                render("panos", b, b_date, selection),
            );
            let alone = panos(&[&new]);
            assert_eq!(panos(&[&new, &new]), alone, "{b} {selection:?} twice");
            let over = panos(&[&old, &new, &new]);
            assert!(admin.paths.is_subset(&alone.paths) && admin.paths.is_subset(&over.paths));
            if index == 1 {
                // B drops port 8443: the full output cannot know the old rule (its header says
                // so); what stays is exactly that rule, its group and service.
                let left: Vec<&Vec<String>> = over.paths.difference(&alone.paths).collect();
                assert!(!left.is_empty());
                assert!(
                    left.iter().all(|p| p.iter().any(|w| w.contains("8443"))),
                    "{left:?}"
                );
            } else {
                assert_eq!(over, alone, "{a} then {b} {selection:?}");
            }
            // The diff removes what the full output cannot.
            let patched = panos(&[&old, &diff("panos", PAIRS[index], selection)]);
            assert_eq!(patched, alone, "{a} + diff {selection:?}");
        }
    }
}

#[test]
fn panos_keeps_the_admins_rule_order_and_moves_addresses_between_environments() {
    let (a, a_date, b, b_date) = PAIRS[2];
    let state = panos(&[
        &render("panos", a, a_date, &[]),
        &render("panos", b, b_date, &[]),
    ]);
    let destination = |rule: &str| {
        let path: Vec<String> = [
            "rulebase",
            "security",
            "rules",
            rule,
            "destination",
            "20.100.51.138/32",
        ]
        .map(str::to_owned)
        .to_vec();
        state.paths.contains(&path)
    };
    assert!(
        !destination("egc-test-tcp-443"),
        "20.100.51.138 stayed in test"
    );
    assert!(destination("egc-prod-tcp-443"));
    // Rules are changed in place, never deleted by the full output (a deleted rule would come
    // back at the end of the rulebase).
    let text = render("panos", b, b_date, &[]);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("delete rulebase security rules ")
                && l.split_whitespace().count() == 5)
    );
}

const FORTIOS_ADMIN: &str = "
config firewall address
    edit \"admin-dns\"
        set subnet 10.0.0.53 255.255.255.255
    next
end
config firewall policy
    edit 7
        set name \"admin-dns\"
        set srcintf \"port1\"
        set dstintf \"port2\"
        set srcaddr \"all\"
        set dstaddr \"admin-dns\"
        set action accept
        set schedule \"always\"
        set service \"DNS\"
    next
end
config firewall service custom
    edit \"DNS\"
        set udp-portrange 53
    next
end
";

#[test]
fn fortigate_applied_twice_and_over_an_older_output_equals_the_new_one_alone() {
    let admin = fortios(&[]);
    for (index, &(a, a_date, b, b_date)) in PAIRS.iter().enumerate() {
        for selection in SELECTIONS {
            let (old, new) = (
                render("fortigate", a, a_date, selection),
                render("fortigate", b, b_date, selection),
            );
            let alone = fortios(&[&new]);
            assert_eq!(fortios(&[&new, &new]), alone, "{b} {selection:?} twice");
            let over = fortios(&[&old, &new, &new]);
            for (table, entries) in &admin.tables {
                for (name, fields) in entries {
                    assert_eq!(
                        over.tables[table].get(name),
                        Some(fields),
                        "admin's {table} {name}"
                    );
                }
            }
            // FortiOS policies cannot name an address inline: objects the new output no longer
            // uses stay, unused (the header says so). Everything in use equals B alone.
            let unused = over.unused_egc();
            let policies = |c: &Fortios| c.tables.get("firewall policy").cloned();
            if index == 1 {
                assert_ne!(
                    policies(&over),
                    policies(&alone),
                    "the dropped port's policy stays"
                );
            } else {
                assert_eq!(over.without(&unused), alone, "{a} then {b} {selection:?}");
            }
            let patched = fortios(&[&old, &diff("fortigate", PAIRS[index], selection)]);
            assert_eq!(patched, alone, "{a} + diff {selection:?}");
        }
    }
}

#[test]
fn fortigate_moves_an_address_out_of_the_old_environment() {
    let (a, a_date, b, b_date) = PAIRS[2];
    let state = fortios(&[
        &render("fortigate", a, a_date, &[]),
        &render("fortigate", b, b_date, &[]),
    ]);
    let members = |group: &str| state.tables["firewall addrgrp"][group]["member"].clone();
    assert!(!members("egc-test-tcp-443-v4").contains(&"egc-20.100.51.138_32".to_owned()));
    assert!(members("egc-prod-tcp-443-v4").contains(&"egc-20.100.51.138_32".to_owned()));
    // The one-label wildcard stays a wildcard object; the retired base host is not one.
    let addresses = &state.tables["firewall address"];
    assert_eq!(
        addresses["egc-wild-api.skatteetaten.no"]["wildcard-fqdn"],
        ["*.api.skatteetaten.no"]
    );
    assert!(!addresses.contains_key("egc-fqdn-api.skatteetaten.no"));
}

#[test]
fn fortigate_policy_ids_are_stable_and_distinct() {
    let ids = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("edit "))
            .filter(|id| id.parse::<u32>().is_ok())
            .map(str::to_owned)
            .collect()
    };
    let all = ids(&render("fortigate", "rules.toml", "2025-01-15", &[]));
    let prod = ids(&render(
        "fortigate",
        "rules.toml",
        "2025-01-15",
        &["--env", "prod"],
    ));
    assert_eq!(all.len(), 4);
    let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len());
    // Selecting one environment does not renumber the other's policies.
    assert!(prod.iter().all(|id| all.contains(id)), "{prod:?} {all:?}");
}
