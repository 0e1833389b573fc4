//! Unit tests of the rule set: selection, aggregation, origins, expiry, diff, and every
//! dialect rendering the test data file.

use super::*;
use crate::catalog::{self, Catalog};

const FIXTURE: &str = include_str!("../../tests/fixtures/rules.toml");

fn catalog() -> Catalog {
    catalog::load_str(FIXTURE, "rules.toml").unwrap()
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn build(edit: impl FnOnce(&mut Options)) -> RuleSet {
    let mut options = Options::new(date("2025-01-15"));
    edit(&mut options);
    RuleSet::from_catalog(&catalog(), &options)
}

fn prefixes(rules: &RuleSet, env: &str, port: u16, v6: bool) -> Vec<String> {
    rules
        .addresses
        .iter()
        .filter(|g| g.key.environment.as_str() == env && g.key.port.get() == port && g.v6 == v6)
        .flat_map(|g| g.rules.iter().map(|r| r.prefix.to_string()))
        .collect()
}

fn rule<'a>(rules: &'a RuleSet, env: &str, prefix: &str) -> &'a AddressRule {
    rules
        .addresses
        .iter()
        .filter(|g| g.key.environment.as_str() == env)
        .flat_map(|g| g.rules.iter())
        .find(|r| r.prefix.to_string() == prefix)
        .unwrap_or_else(|| panic!("no rule for {prefix} in {env}"))
}

fn names(rules: &RuleSet, env: &str, port: u16) -> Vec<String> {
    rules
        .names
        .iter()
        .filter(|g| g.key.environment.as_str() == env && g.key.port.get() == port)
        .flat_map(|g| g.rules.iter().map(|r| r.pattern.to_string()))
        .collect()
}

fn env(id: &str) -> EnvId {
    EnvId(id.to_owned())
}

fn service(id: &str) -> ServiceId {
    ServiceId(id.to_owned())
}

#[test]
fn aggregates_within_an_environment_never_across() {
    let rules = build(|_| {});
    assert_eq!(
        prefixes(&rules, "prod", 443, false),
        [
            "192.0.2.10/31",
            "192.0.2.32/28",
            "198.51.100.7/32",
            "198.51.100.200/32"
        ]
    );
    assert_eq!(
        prefixes(&rules, "prod", 443, true),
        ["2001:db8:7::7/128", "2001:db8:10::/47"]
    );
    // 198.51.100.7 is documented in both environments and stays in both.
    assert_eq!(
        prefixes(&rules, "test", 443, false),
        ["198.51.100.7/32", "203.0.113.10/31"]
    );
    assert_eq!(
        rule(&rules, "test", "198.51.100.7/32")
            .origins
            .describe(&env("test")),
        "test: token test.token.example.no"
    );
    assert_eq!(
        prefixes(&rules, "prod", 8443, false),
        ["192.0.2.10/31", "192.0.2.32/28"]
    );
    // UDP is its own group.
    let udp: Vec<&AddressGroup> = rules
        .addresses
        .iter()
        .filter(|g| g.key.protocol == Protocol::Udp)
        .collect();
    assert_eq!(udp.len(), 1);
    assert_eq!(udp[0].key.port.get(), 53);
    // Environments follow catalog order: test first.
    assert_eq!(rules.environments(), [&env("test"), &env("prod")]);
}

#[test]
fn legacy_entries_stay_until_their_sunset_with_its_date() {
    let before = build(|_| {});
    let old = rule(&before, "prod", "198.51.100.200/32");
    assert_eq!(old.origins.expires, Some(date("2025-06-30")));
    assert!(
        old.origins.describe(&env("prod")).contains(
            "old.example.no (remove after 2025-06-30) - legacy, replaced by *.api.example.no"
        ),
        "{:?}",
        old.origins
    );
    assert!(names(&before, "prod", 443).contains(&"old.example.no".to_owned()));
    // older.example.no (sunset 2024-12-31) is past: left out, named in the header.
    assert_eq!(before.header.removed.len(), 1);
    assert_eq!(before.header.removed[0].host.as_str(), "older.example.no");
    assert!(!names(&before, "prod", 443).contains(&"older.example.no".to_owned()));

    let after = build(|o| o.as_of = date("2025-07-01"));
    assert!(!prefixes(&after, "prod", 443, false).contains(&"198.51.100.200/32".to_owned()));
    let removed: Vec<&str> = after
        .header
        .removed
        .iter()
        .map(|r| r.host.as_str())
        .collect();
    assert_eq!(removed, ["old.example.no", "older.example.no"]);

    // The sunset day itself still counts as before the sunset.
    let on_the_day = build(|o| o.as_of = date("2025-06-30"));
    assert!(prefixes(&on_the_day, "prod", 443, false).contains(&"198.51.100.200/32".to_owned()));

    let kept = build(|o| {
        o.as_of = date("2025-07-01");
        o.include_expired = true;
    });
    assert!(kept.header.removed.is_empty());
    assert!(prefixes(&kept, "prod", 443, false).contains(&"198.51.100.200/32".to_owned()));
}

#[test]
fn a_legacy_address_inside_a_permanent_prefix_folds_into_it() {
    let rules = build(|o| o.include_expired = true);
    let wide = rule(&rules, "prod", "192.0.2.32/28");
    assert_eq!(wide.origins.expires, None, "the /28 is permanent");
    let hosts: Vec<String> = wide.origins.hosts().map(ToString::to_string).collect();
    assert_eq!(hosts, ["*.api.example.no", "older.example.no"]);
    assert_eq!(
        wide.origins.describe(&env("prod")),
        "prod: api *.api.example.no + api older.example.no (remove after 2024-12-31) - legacy"
    );
}

#[test]
fn scope_selects_endpoints_subnets_or_both() {
    let addresses = build(|_| {});
    assert_eq!(addresses.header.subnets_left_out, 1);
    assert!(!prefixes(&addresses, "prod", 443, false).contains(&"192.0.2.128/25".to_owned()));

    let subnets = build(|o| o.scope = Scope::Subnets);
    assert_eq!(prefixes(&subnets, "prod", 443, false), ["192.0.2.128/25"]);
    assert_eq!(subnets.name_count(), 0);
    assert_eq!(subnets.header.subnets_left_out, 0);
    assert!(subnets.header.removed.is_empty());
    assert_eq!(
        rule(&subnets, "prod", "192.0.2.128/25")
            .origins
            .describe(&env("prod")),
        "prod: BROAD, opens every external service in production - api - subnet: Every external service in production"
    );

    let all = build(|o| o.scope = Scope::All);
    assert_eq!(
        prefixes(&all, "prod", 443, false),
        [
            "192.0.2.10/31",
            "192.0.2.32/28",
            "192.0.2.128/25",
            "198.51.100.7/32",
            "198.51.100.200/32"
        ]
    );
}

#[test]
fn families_environments_and_services_filter() {
    let v4 = build(|o| o.family = Family::V4);
    assert!(v4.addresses.iter().all(|g| !g.v6));
    assert_eq!(v4.name_count(), build(|_| {}).name_count(), "names stay");
    let v6 = build(|o| o.family = Family::V6);
    assert!(v6.addresses.iter().all(|g| g.v6));

    let prod = build(|o| o.environments = vec![env("prod")]);
    assert_eq!(prod.environments(), [&env("prod")]);
    assert_eq!(prod.header.environments.len(), 1);

    let token = build(|o| o.services = vec![service("token")]);
    assert_eq!(prefixes(&token, "prod", 443, false), ["198.51.100.7/32"]);
    assert_eq!(names(&token, "prod", 443), ["token.example.no"]);
    assert!(
        token.header.removed.is_empty(),
        "legacy api entries are not selected"
    );
}

#[test]
fn host_names_keep_wildcards_and_their_probe_names() {
    let rules = build(|_| {});
    assert_eq!(
        names(&rules, "prod", 443),
        [
            "*.api.example.no",
            "files.example.no",
            "old.example.no",
            "token.example.no"
        ]
    );
    let wildcard = rules
        .names
        .iter()
        .flat_map(|g| g.rules.iter())
        .find(|r| r.pattern.is_wildcard() && r.pattern.base().as_str() == "api.example.no")
        .unwrap();
    let probe: Vec<&str> = wildcard.names.iter().map(|n| n.as_str()).collect();
    assert_eq!(probe, ["alpha.api.example.no", "beta.api.example.no"]);
}

fn entry(prefix: &str, service_id: &str, expires: Option<&str>) -> Entry {
    Entry {
        environment: env("prod"),
        service: service(service_id),
        destination: Destination::Prefix(prefix.parse().unwrap()),
        protocol: Protocol::Tcp,
        port: Port(443),
        host: None,
        comment: Some(format!("seen\nby check {service_id}")),
        expires: expires.map(date),
    }
}

fn header() -> Header {
    Header::for_catalog(&catalog(), &Options::new(date("2025-01-15")))
}

#[test]
fn entries_merge_origins_with_a_cap_and_the_latest_expiry() {
    let entries = (0..10).map(|i| {
        let expires = if i % 2 == 0 {
            "2025-03-01"
        } else {
            "2025-04-01"
        };
        entry("192.0.2.1/32", &format!("svc{i}"), Some(expires))
    });
    let rules = RuleSet::from_entries(header(), entries);
    let only = &rules.addresses[0].rules[0];
    assert_eq!(only.origins.shown.len(), MAX_ORIGINS_SHOWN);
    assert_eq!(only.origins.omitted, 10 - MAX_ORIGINS_SHOWN);
    assert_eq!(only.origins.expires, Some(date("2025-04-01")));
    let text = only.origins.describe(&env("prod"));
    assert!(text.ends_with("+ 6 more"), "{text}");
    // Free text is cleaned on the way in: no line break survives.
    assert!(
        !text.contains('\n') && text.contains("seen by check svc0"),
        "{text}"
    );
}

#[test]
fn one_hundred_thousand_prefixes_aggregate_exactly() {
    // 100,000 consecutive IPv4 addresses and 100,000 IPv6 /64s, each its own entry, with
    // interleaved services: the result must cover exactly the same addresses.
    let base4 = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0));
    let base6 = u128::from("2001:db8::".parse::<std::net::Ipv6Addr>().unwrap());
    let mut entries = Vec::with_capacity(200_000);
    for i in 0..100_000u32 {
        let svc = if i % 3 == 0 { "a" } else { "b" };
        let v4 = std::net::Ipv4Addr::from(base4 + i);
        entries.push(entry(&format!("{v4}/32"), svc, None));
        let v6 = std::net::Ipv6Addr::from(base6 + (u128::from(i) << 64));
        entries.push(entry(&format!("{v6}/64"), svc, None));
    }
    let rules = RuleSet::from_entries(header(), entries);
    let v4: Vec<&AddressRule> = rules.addresses_of(false).flat_map(|g| &g.rules).collect();
    let covered: u64 = v4
        .iter()
        .map(|r| 1u64 << (32 - r.prefix.prefix_len()))
        .sum();
    assert_eq!(covered, 100_000);
    // 100,000 = 0b1_1000_0110_1010_0000: one prefix per set bit.
    assert_eq!(v4.len(), 100_000u32.count_ones() as usize);
    let v6: Vec<&AddressRule> = rules.addresses_of(true).flat_map(|g| &g.rules).collect();
    assert_eq!(v6.len(), 100_000u32.count_ones() as usize);
    assert!(
        v4.iter()
            .all(|r| r.origins.shown.len() == 2 && r.origins.omitted == 0)
    );
}

#[test]
fn every_format_renders_the_fixture_with_its_header() {
    let rules = build(|o| {
        o.scope = Scope::All;
        o.include_expired = true;
        o.comments = true;
    });
    for format in Format::ALL {
        let text = format.render(&rules);
        assert!(text.ends_with('\n'), "{format}");
        if format == Format::Json {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["provider"], "Example Tax Office");
            continue;
        }
        let first = text.lines().next().unwrap();
        assert!(
            first.contains("egresscheck rules: outbound allow-list for Example Tax Office"),
            "{format}: {first}"
        );
        assert!(text.contains("version 2025-01-10.2"), "{format}");
        assert!(
            text.contains("https://docs.example.no/security/firewall"),
            "{format}"
        );
        assert!(text.contains("Produksjon"), "{format}");
        // Each format names the prefixes (name-only formats those without a host, in
        // comments) and the hosts (address-only formats in comments).
        assert!(
            text.contains("192.0.2.128/25") || text.contains("192.0.2.128 255.255.255.128"),
            "{format}"
        );
        assert!(text.contains("api.example.no"), "{format}");
    }
}

#[test]
fn format_names_round_trip() {
    let mut seen = std::collections::HashSet::new();
    for format in Format::ALL {
        assert_eq!(Format::from_name(format.name()), Some(format));
        assert!(seen.insert(format.name()));
        assert!(!format.description().is_empty());
    }
    assert_eq!(Format::from_name("nope"), None);
    assert!(Format::K8s.check_diff().is_err());
    assert!(Format::Nftables.check_diff().is_ok());
}

#[test]
fn nft_set_names_are_identifiers() {
    use nftables::{SetKind, Target};
    let header = header();
    let own = Target::of(&header);
    assert_eq!(
        own.set(&env("2024-test"), true, SetKind::Dns),
        "_2024-test_dns_v6"
    );
    // Ids hold no `_`: the environment "x-dns" and the DNS set of "x" stay apart, and no
    // environment can be called like the set of names kept out.
    assert_ne!(
        own.set(&env("x-dns"), false, SetKind::Addresses),
        own.set(&env("x"), false, SetKind::Dns)
    );
    assert_eq!(own.unlisted(false), "_unlisted_v4");
    let mut theirs = header.clone();
    theirs.nft = NftTarget::SetsIn {
        family: "inet".to_owned(),
        table: "filter".to_owned(),
    };
    assert_eq!(
        Target::of(&theirs).set(&env("prod"), false, SetKind::DnsPorts),
        "egresscheck_prod_dns_ports"
    );
}

#[test]
fn diff_lists_removals_then_additions_and_new_groups() {
    let old = catalog();
    let new_text = FIXTURE
        .replace(
            "ipv4 = [\"198.51.100.7\"]\nipv6",
            "ipv4 = [\"198.51.100.8\"]\nipv6",
        )
        .replace("ports = [443, 8443]", "ports = [443, 9443]");
    let new = catalog::load_str(&new_text, "new.toml").unwrap();
    let diff = Diff::between(&old, &new, &Options::new(date("2025-01-15")));
    let summary: Vec<String> = diff
        .changes
        .iter()
        .filter_map(|c| match c.item() {
            diff::Item::Address { key, rule, .. } if key.environment.as_str() == "prod" => {
                Some(format!("{} {} {}", c.action(), key.port, rule.prefix))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        summary,
        [
            "remove 443 198.51.100.7/32",
            "remove 8443 192.0.2.10/31",
            "remove 8443 192.0.2.32/28",
            "remove 8443 2001:db8:10::/47",
            "add 443 198.51.100.8/32",
            "add 9443 192.0.2.10/31",
            "add 9443 192.0.2.32/28",
            "add 9443 2001:db8:10::/47",
        ]
    );
    let new_groups: Vec<String> = diff
        .new_groups
        .iter()
        .map(|(k, v6)| format!("{} {} {v6}", k.environment, k.port))
        .collect();
    assert_eq!(new_groups, ["prod 9443 false", "prod 9443 true"]);
    // The test environment's 198.51.100.7 did not change.
    assert!(diff.changes.iter().all(|c| match c.item() {
        diff::Item::Address { key, .. } | diff::Item::Name { key, .. } =>
            key.environment.as_str() == "prod",
    }));
}

#[test]
fn diff_takes_old_as_it_was_while_current() {
    // OLD's version date is 2025-01-10: old.example.no (sunset 2025-06-30) was in its rules.
    // As of 2025-07-01 NEW (the same data) no longer has it, so the diff removes it.
    let old = catalog();
    let diff = Diff::between(&old, &old, &Options::new(date("2025-07-01")));
    let removed: Vec<String> = diff
        .changes
        .iter()
        .filter(|c| c.is_remove())
        .map(|c| match c.item() {
            diff::Item::Address { rule, .. } => rule.prefix.to_string(),
            diff::Item::Name { rule, .. } => rule.pattern.to_string(),
        })
        .collect();
    assert_eq!(removed, ["198.51.100.200/32", "old.example.no"]);
    assert!(diff.changes.iter().all(Change::is_remove));
    assert_eq!(
        diff::old_as_of(date("2025-01-10"), date("2024-01-01")),
        date("2024-01-01")
    );
}

use diff::Change;

#[test]
fn an_aggregate_holding_a_broad_prefix_names_it() {
    let mut header = header();
    header.broad_prefixes = vec![crate::catalog::BroadPrefix {
        cidr: "192.0.2.128/26".parse().unwrap(),
        opens: "everything".to_owned(),
        source: catalog().data.primary_source.clone(),
        note: None,
    }];
    let entries = [
        entry("192.0.2.128/26", "api", None),
        entry("192.0.2.192/26", "api", None),
        entry("198.51.100.1/32", "api", None),
    ];
    let rules = RuleSet::from_entries(header, entries);
    let wide = rule(&rules, "prod", "192.0.2.128/25");
    assert_eq!(
        wide.origins.broad.as_deref(),
        Some("holds 192.0.2.128/26 which opens everything")
    );
    assert!(
        wide.origins
            .describe(&env("prod"))
            .starts_with("prod: BROAD, holds 192.0.2.128/26 which opens everything - api"),
        "{}",
        wide.origins.describe(&env("prod"))
    );
    assert_eq!(rule(&rules, "prod", "198.51.100.1/32").origins.broad, None);
    let in_use = rules.broad_in_use();
    assert_eq!(in_use.len(), 1);
    assert_eq!(in_use[0].1, [&env("prod")]);
}
