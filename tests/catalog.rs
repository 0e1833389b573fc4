//! Catalog loading: the bundled data validates, and every rejection class of the data file
//! format is reported with FILE:LINE:COLUMN, what was found and what was expected.

use egresscheck::catalog::{self, LoadError, MAX_FILE_BYTES};

const MINIMAL: &str = include_str!("fixtures/minimal.toml");

fn problems(text: &str) -> Vec<String> {
    match catalog::load_str(text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(err) => err.diagnostics().iter().map(ToString::to_string).collect(),
    }
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).expect("needle in text");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Asserts exactly one problem, at the position of `at` in the modified text, whose
/// message contains every one of `words`.
fn assert_one(from: &str, to: &str, at: &str, words: &[&str]) {
    assert!(MINIMAL.contains(from), "fixture lacks {from:?}");
    let text = MINIMAL.replacen(from, to, 1);
    let found = problems(&text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    let (line, column) = position(&text, at);
    let prefix = format!("t.toml:{line}:{column}: ");
    assert!(
        found[0].starts_with(&prefix),
        "{:?} should start with {prefix:?}",
        found[0]
    );
    for word in words {
        assert!(
            found[0].contains(word),
            "{:?} should mention {word:?}",
            found[0]
        );
    }
}

#[test]
fn minimal_fixture_and_bundled_data_validate() {
    assert_eq!(problems(MINIMAL), Vec::<String>::new());
    let bundled = catalog::bundled().expect("bundled data is valid");
    assert_eq!(bundled.data.provider, "Skatteetaten");
    assert!(bundled.data.prefer_hostname_rules);
    // At least five concrete probe names per environment.
    for env in ["test", "prod"] {
        let names: usize = bundled
            .endpoints
            .iter()
            .filter(|e| e.environment.as_str() == env && e.host.is_wildcard())
            .map(|e| e.probe.len())
            .sum();
        assert!(names >= 5, "{env} has {names} probe names");
    }
    let history = catalog::load_path("data/history/skatteetaten-2024-10.toml".as_ref())
        .expect("history is valid");
    assert_eq!(history.data.version.to_string(), "2024-10-01.2");
}

#[test]
fn bundled_data_holds_the_published_table() {
    let c = catalog::bundled().unwrap();
    let prefixes = |env: &str| -> Vec<String> {
        c.endpoints
            .iter()
            .filter(|e| e.environment.as_str() == env && e.service.as_str() == "skatteetaten-api")
            .flat_map(|e| e.addresses.iter().map(|n| n.to_string()))
            .collect()
    };
    assert_eq!(
        prefixes("test"),
        [
            "51.13.21.170/32",
            "51.13.43.236/32",
            "159.216.17.128/27",
            "2a13:6201::/32"
        ]
    );
    assert_eq!(
        prefixes("prod"),
        [
            "20.100.51.138/32",
            "51.13.39.98/32",
            "159.216.17.160/28",
            "2a13:6200::/32"
        ]
    );
    let legacy: Vec<(String, String, String)> = c
        .legacy
        .iter()
        .filter_map(|l| {
            // ver2.maskinporten.no has no published address.
            Some((
                l.host.to_string(),
                l.addresses.iter().next()?.to_string(),
                l.sunset.to_string(),
            ))
        })
        .collect();
    assert!(legacy.contains(&(
        "api-test.sits.no".into(),
        "159.216.17.148/32".into(),
        "2024-10-17".into()
    )));
    assert!(legacy.contains(&(
        "api.skatteetaten.no".into(),
        "159.216.17.168/32".into(),
        "2024-10-17".into()
    )));
    let maskinporten: Vec<&str> = c
        .endpoints
        .iter()
        .filter(|e| e.service.as_str() == "maskinporten")
        .map(|e| e.source.as_str())
        .collect();
    assert_eq!(
        maskinporten,
        ["digdir-ip", "digdir-ip"],
        "Maskinporten cites Digdir's IP page"
    );
}

/// Issue 12, data fixes: Maskinporten as Digdir publishes it, each fact cited to the Digdir
/// page that states it, and ports said to be inferred where the cited page has no port column.
#[test]
fn bundled_maskinporten_follows_digdirs_pages() {
    let c = catalog::bundled().unwrap();
    let source = |id: &str| {
        c.sources
            .iter()
            .find(|s| s.id.as_str() == id)
            .unwrap_or_else(|| panic!("no source {id}"))
    };
    assert_eq!(
        source("digdir-ip").url.as_str(),
        "https://docs.digdir.no/docs/general/IP"
    );
    assert_eq!(
        source("digdir-eformidling-test").url.as_str(),
        "https://docs.digdir.no/docs/eFormidling/Miljo/test"
    );
    assert!(
        source("digdir-wellknown")
            .url
            .as_str()
            .starts_with("https://docs.digdir.no/docs/Maskinporten/")
    );
    for s in &c.sources {
        let note = s.note.as_deref().unwrap_or_default();
        assert!(
            !note.contains("not archived") && !note.contains("Verify against"),
            "{}: the Digdir pages settle it: {note}",
            s.id.as_str()
        );
    }
    let endpoint = |host: &str| {
        c.endpoints
            .iter()
            .find(|e| e.host.to_string() == host)
            .unwrap_or_else(|| panic!("no endpoint {host}"))
    };
    let test = endpoint("test.maskinporten.no");
    let addresses: Vec<String> = test.addresses.iter().map(|n| n.to_string()).collect();
    assert_eq!(addresses, ["139.105.36.132/32", "2a02:9cc::301/128"]);
    assert_eq!(test.source.as_str(), "digdir-ip");
    let subnet = c
        .subnets
        .iter()
        .find(|s| s.cidr.to_string() == "139.105.36.128/27")
        .unwrap();
    assert_eq!(subnet.source.as_str(), "digdir-eformidling-test");
    let prod = endpoint("maskinporten.no");
    assert!(
        prod.note.as_deref().unwrap().contains("443 by inference"),
        "{:?}",
        prod.note
    );
    for e in c
        .endpoints
        .iter()
        .filter(|e| e.source.as_str() == "sikkerhet-2026-02-09")
    {
        assert!(
            e.note
                .as_deref()
                .unwrap_or_default()
                .contains("443 by inference"),
            "{}: the 2026-02-09 page has no port column",
            e.host
        );
    }
    let ver2 = c
        .legacy
        .iter()
        .find(|l| l.host.as_str() == "ver2.maskinporten.no")
        .expect("ver2.maskinporten.no is a legacy test host");
    assert_eq!(ver2.environment.as_str(), "test");
    assert_eq!(ver2.sunset.to_string(), "2024-06-10");
    assert_eq!(ver2.source.as_str(), "digdir-wellknown");
    assert_eq!(c.data.version.to_string(), "2026-02-09.2");
    let latest = c.changelog.first().unwrap();
    assert_eq!(latest.version.to_string(), "2026-02-09.2");
    assert!(
        latest.changes.iter().any(|c| c.contains("2a02:9cc::301")),
        "{:?}",
        latest.changes
    );
}

#[test]
fn rejects_unknown_keys() {
    assert_one(
        "ports = [443]\nsource = \"page\"\n\n[[subnet]]",
        "ports = [443]\nsource = \"page\"\ncolour = \"red\"\n\n[[subnet]]",
        "colour",
        &["unknown field `colour`", "expected one of"],
    );
}

#[test]
fn rejects_malformed_addresses_and_prefixes() {
    assert_one(
        "\"192.0.2.10/32\"",
        "\"192.0.2.300\"",
        "\"192.0.2.300\"",
        &[
            "found \"192.0.2.300\"",
            "expected an IPv4 address or prefix",
        ],
    );
    assert_one(
        "\"198.51.100.0/28\"",
        "\"198.51.100.0/33\"",
        "\"198.51.100.0/33\"",
        &["found \"198.51.100.0/33\"", "expected an IPv4"],
    );
    assert_one(
        "\"2001:db8:10::/48\"",
        "\"2001:db8:::1\"",
        "\"2001:db8:::1\"",
        &["expected an IPv6 address or prefix"],
    );
    assert_one(
        "cidr = \"203.0.113.0/27\"",
        "cidr = \"203.0.113.0\"",
        "\"203.0.113.0\"",
        &["expected a prefix with its length"],
    );
}

#[test]
fn rejects_prefixes_with_host_bits_set() {
    assert_one(
        "\"198.51.100.0/28\"",
        "\"198.51.100.5/28\"",
        "\"198.51.100.5/28\"",
        &["host bits are set", "198.51.100.0/28"],
    );
    assert_one(
        "cidr = \"203.0.113.0/27\"",
        "cidr = \"203.0.113.1/27\"",
        "\"203.0.113.1/27\"",
        &["host bits are set", "203.0.113.0/27"],
    );
    assert_one(
        "\"2001:db8:10::/48\"",
        "\"2001:db8:10::1/48\"",
        "\"2001:db8:10::1/48\"",
        &["host bits are set", "2001:db8:10::/48"],
    );
}

#[test]
fn rejects_addresses_of_the_wrong_family() {
    assert_one(
        "ipv6 = [\"2001:db8:10::/48\"]",
        "ipv6 = [\"192.0.2.50\"]",
        "\"192.0.2.50\"",
        &["IPv4 value", "in an IPv6 field"],
    );
    assert_one(
        "ipv4 = [\"192.0.2.99\"]",
        "ipv4 = [\"2001:db8::99\"]",
        "\"2001:db8::99\"",
        &["IPv6 value", "in an IPv4 field"],
    );
}

#[test]
fn rejects_ports_outside_the_range() {
    for bad in ["0", "65536", "-1"] {
        let text = MINIMAL.replacen("ports = [443]", &format!("ports = [443, {bad}]"), 1);
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:#?}");
        let (line, column) = position(&text, &format!(", {bad}]"));
        assert!(
            found[0].starts_with(&format!("t.toml:{line}:{}: ", column + 2)),
            "{found:?}"
        );
        assert!(
            found[0].contains(&format!("found {bad}, expected a port from 1 to 65535")),
            "{found:?}"
        );
    }
}

#[test]
fn rejects_invalid_host_names() {
    assert_one(
        "host = \"old.example.test\"",
        "host = \"old_host.example.test\"",
        "\"old_host",
        &["holds '_'", "expected a DNS host name"],
    );
    let long_label = format!("host = \"{}.example.test\"", "a".repeat(64));
    assert_one(
        "host = \"old.example.test\"",
        &long_label,
        "\"aaaa",
        &["longer than 63 characters"],
    );
    let long_name = format!("host = \"{}.test\"", vec!["abcdefghij"; 24].join("."));
    assert_one(
        "host = \"old.example.test\"",
        &long_name,
        "\"abcdefghij",
        &["the limit is 253"],
    );
    assert_one(
        "host = \"old.example.test\"",
        "host = \"old-.example.test\"",
        "\"old-",
        &["starts or ends with a hyphen"],
    );
}

#[test]
fn rejects_a_misplaced_wildcard() {
    assert_one(
        "host = \"*.api.example.test\"",
        "host = \"api.*.example.test\"",
        "\"api.*",
        &["`*` is allowed only as the whole first label"],
    );
    assert_one(
        "host = \"*.api.example.test\"",
        "host = \"*api.example.test\"",
        "\"*api",
        &["`*` is allowed only as the whole first label"],
    );
    assert_one(
        "host = \"old.example.test\"",
        "host = \"*.example.test\"",
        "\"*.example.test\"",
        &["no wildcard"],
    );
}

#[test]
fn rejects_a_wildcard_without_probe_names() {
    assert_one(
        "probe = [\"one.api.example.test\", \"two.api.example.test\"]\n",
        "",
        "\"*.api.example.test\"",
        &["without probe names", "probe = ["],
    );
}

#[test]
fn rejects_a_probe_name_not_under_its_wildcard() {
    assert_one(
        "\"two.api.example.test\"",
        "\"two.other.example.test\"",
        "\"two.other",
        &["found two.other.example.test", "does not cover"],
    );
    assert_one(
        "\"two.api.example.test\"",
        "\"a.two.api.example.test\"",
        "\"a.two",
        &["exactly one label below api.example.test"],
    );
}

#[test]
fn rejects_references_to_undefined_environments_services_and_sources() {
    assert_one(
        "environment = \"prod\"\nservice = \"api\"\nhost = \"*",
        "environment = \"staging\"\nservice = \"api\"\nhost = \"*",
        "\"staging\"",
        &["found \"staging\", which is not defined", "prod, test"],
    );
    assert_one(
        "service = \"api\"\ncidr",
        "service = \"web\"\ncidr",
        "\"web\"",
        &["subnet.service", "not defined", "api"],
    );
    assert_one(
        "primary_source = \"page\"",
        "primary_source = \"wiki\"",
        "\"wiki\"",
        &["data.primary_source", "not defined"],
    );
}

#[test]
fn rejects_duplicate_entries() {
    let dup_env = "[[environment]]\nid = \"test\"\nname = \"Test again\"\n\n[[service]]";
    assert_one(
        "[[service]]",
        dup_env,
        "\"test\"\nname = \"Test again\"",
        &["second environment with the same id", "first on line 16"],
    );
    let dup_subnet = "[[subnet]]\nenvironment = \"test\"\nservice = \"api\"\ncidr = \"203.0.113.0/27\"\nports = [443]\ncovers = \"x\"\nsource = \"page\"\n\n[[legacy]]";
    let text = MINIMAL.replacen("[[legacy]]", dup_subnet, 1);
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("second subnet with the same environment and cidr"),
        "{found:?}"
    );
    assert_one(
        "ports = [443]\nsource = \"page\"\n\n[[subnet]]",
        "ports = [443, 443]\nsource = \"page\"\n\n[[subnet]]",
        "443]\nsource = \"page\"\n\n[[subnet]]",
        &["port 443 twice"],
    );
    assert_one(
        "\"192.0.2.10/32\"",
        "\"198.51.100.0/28\"",
        "\"198.51.100.0/28\"]",
        &["198.51.100.0/28 twice"],
    );
    // Aliases that name two environments make `--env` ambiguous.
    assert_one(
        "aliases = [\"Prod\"]",
        "aliases = [\"Preprod\"]",
        "\"Preprod\"]\n\n[[service]]",
        &["already names environment `test`"],
    );
}

#[test]
fn rejects_unparseable_dates() {
    assert_one(
        "sunset = 2025-06-30",
        "sunset = \"17. oktober\"",
        "\"17. oktober\"",
        &[
            "found \"17. oktober\"",
            "expected a date such as 2024-10-17",
        ],
    );
    assert_one(
        "sunset = 2025-06-30",
        "sunset = 2025-06-30T10:00:00Z",
        "2025-06-30T10",
        &["expected a date"],
    );
    assert_one(
        "version = \"2026-01-01.1\"\nprimary",
        "version = \"2026-13-01.1\"\nprimary",
        "\"2026-13-01.1\"",
        &["expected a data version YYYY-MM-DD.N"],
    );
}

#[test]
fn rejects_an_unsupported_schema_and_says_which_are_supported() {
    assert_one(
        "schema = 1",
        "schema = 2",
        "2",
        &["found schema 2", "supported: 1"],
    );
    let found = problems(&MINIMAL.replacen("schema = 1\n", "", 1));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("t.toml:1:1: found no `schema` key"),
        "{found:?}"
    );
}

#[test]
fn rejects_control_and_bidi_characters_in_text() {
    assert_one(
        "covers = \"all test services\"",
        "covers = \"all \u{202E}secivres\"",
        "\"all \u{202E}",
        &["U+202E"],
    );
    assert_one(
        "name = \"Example API\"",
        "name = \"Example\\nAPI\"",
        "\"Example\\nAPI\"",
        &["U+000A", "single line"],
    );
}

#[test]
fn reports_every_problem_not_only_the_first() {
    let text = MINIMAL
        .replacen("\"192.0.2.10/32\"", "\"192.0.2.10/33\"", 1)
        .replacen("ports = [443]", "ports = [99999]", 1)
        .replacen("sunset = 2025-06-30", "sunset = \"soon\"", 1);
    assert_eq!(problems(&text).len(), 3, "{:#?}", problems(&text));
}

#[test]
fn hostile_files_are_errors_not_crashes() {
    // Huge.
    let huge = vec![b'#'; MAX_FILE_BYTES + 1];
    assert!(matches!(
        catalog::load_bytes(&huge, "huge.toml"),
        Err(LoadError::TooLarge { .. })
    ));
    // Binary garbage: not UTF-8, located.
    let mut garbage = b"schema = 1\n".to_vec();
    garbage.extend((0..=255u8).cycle().take(10_000));
    let err = catalog::load_bytes(&garbage, "bin.toml").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("bin.toml:3:118: found bytes that are not UTF-8"),
        "{err}"
    );
    // Deeply nested arrays and inline tables.
    for open in ["[", "{a="] {
        let deep = format!("schema = 1\nx = {}", open.repeat(100_000));
        let err = catalog::load_str(&deep, "deep.toml").unwrap_err();
        assert!(err.to_string().contains("nested more than"), "{err}");
    }
    // Deep dotted keys and table headers do not recurse in the parser; they must still end.
    let dotted = format!("schema = 1\n{} = 1\n", vec!["a"; 50_000].join("."));
    assert!(catalog::load_str(&dotted, "dotted.toml").is_err());
    let header = format!("schema = 1\n[{}]\n", vec!["a"; 50_000].join("."));
    assert!(catalog::load_str(&header, "header.toml").is_err());
    // Syntax errors are located too.
    let err = catalog::load_str("schema = 1\n[data\n", "syntax.toml").unwrap_err();
    assert!(err.to_string().starts_with("syntax.toml:2:"), "{err}");
}

#[test]
fn broad_prefixes_are_validated_and_loaded() {
    let marked = format!(
        "{MINIMAL}\n[[broad_prefix]]\ncidr = \"203.0.113.0/27\"\nopens = \"every service in prod\"\nsource = \"page\"\n"
    );
    let catalog = catalog::load_str(&marked, "t.toml").unwrap();
    assert_eq!(catalog.broad_prefixes.len(), 1);
    assert_eq!(catalog.broad_prefixes[0].opens, "every service in prod");
    let opened = catalog.broad_prefixes_opened_by(&"203.0.112.0/23".parse().unwrap());
    assert_eq!(opened.len(), 1, "a wider prefix opens the marked one");
    assert!(
        catalog
            .broad_prefixes_opened_by(&"203.0.113.1/32".parse().unwrap())
            .is_empty(),
        "one address inside it does not"
    );

    // Only a prefix the file documents can be marked.
    let stray = marked.replace(
        "cidr = \"203.0.113.0/27\"\nopens",
        "cidr = \"203.0.113.0/26\"\nopens",
    );
    let found = problems(&stray);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("broad_prefix.cidr")
            && found[0].contains("no endpoint, legacy entry or subnet"),
        "{found:?}"
    );
    // Once each, with a known source, and no unknown keys.
    let twice = format!(
        "{marked}\n[[broad_prefix]]\ncidr = \"203.0.113.0/27\"\nopens = \"again\"\nsource = \"page\"\n"
    );
    assert!(
        problems(&twice)
            .iter()
            .any(|p| p.contains("second broad_prefix")),
        "{:?}",
        problems(&twice)
    );
    let unsourced = marked.replace(
        "opens = \"every service in prod\"\nsource = \"page\"",
        "opens = \"x\"\nsource = \"nowhere\"",
    );
    assert!(
        problems(&unsourced)
            .iter()
            .any(|p| p.contains("broad_prefix.source")),
        "{:?}",
        problems(&unsourced)
    );
    let unknown = marked.replace("opens = \"every", "environment = \"prod\"\nopens = \"every");
    assert!(!problems(&unknown).is_empty());
}

#[test]
fn bundled_data_marks_the_skatteetaten_subnets_as_broad() {
    for path in [
        "data/skatteetaten.toml",
        "data/history/skatteetaten-2024-10.toml",
    ] {
        let catalog =
            catalog::load_path(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
                .unwrap();
        let marked: Vec<String> = catalog
            .broad_prefixes
            .iter()
            .map(|b| b.cidr.to_string())
            .collect();
        assert_eq!(marked, ["159.216.17.128/27", "159.216.17.160/28"], "{path}");
    }
}
