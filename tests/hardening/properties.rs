//! Property tests, bounded so CI stays fast (a fixed number of cases, no shrinking spree):
//!
//! - the loader never panics, whatever TOML-like text or mutation of the bundled file it is
//!   given: it returns a catalog or errors;
//! - for any valid catalog (generated: environments, services, exact and wildcard hosts,
//!   IPv4 and IPv6 prefixes, ports, both protocols, subnets, legacy entries, and free text
//!   full of characters that mean something to a shell or a firewall), the nftables output
//!   passes `nft -c` and the iptables output `iptables-restore --test` and
//!   `ip6tables-restore --test`, inside a namespace of the test's own.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use egresscheck::rules::{Family, Format, Options, RuleSet, Scope};
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

use crate::support::netns::Netns;
use crate::support::tools;

use super::toml_string;

pub(crate) fn config(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_iters: 256,
        // A failure prints its minimal input; nothing is written into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- The loader never panics --------------------------------------------------------------

/// Keys of the schema, and a few that are not.
const KEYS: &[&str] = &[
    "schema",
    "provider",
    "version",
    "primary_source",
    "prefer_hostname_rules",
    "id",
    "publisher",
    "title",
    "url",
    "commit",
    "document_date",
    "retrieved",
    "note",
    "name",
    "aliases",
    "operator",
    "environment",
    "service",
    "host",
    "probe",
    "ipv4",
    "ipv6",
    "ports",
    "protocol",
    "source",
    "cidr",
    "covers",
    "sunset",
    "sunset_basis",
    "replaced_by",
    "text",
    "changes",
    "unknown",
    "\"quoted key\"",
    "a.b.c",
];

const HEADERS: &[&str] = &[
    "[data]",
    "[[source]]",
    "[[environment]]",
    "[[service]]",
    "[[endpoint]]",
    "[[subnet]]",
    "[[legacy]]",
    "[[note]]",
    "[[changelog]]",
    "[data.extra]",
    "[[data]]",
    "[endpoint]",
    "[x.y.z]",
];

/// Scalars, valid and not, for every field type of the schema.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..70_000).prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("inf".to_owned()),
        Just("nan".to_owned()),
        (1900i32..2100, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        Just("2024-10-17T10:00:00Z".to_owned()),
        any::<String>().prop_map(|s| toml_string(&s)),
        Just(toml_string("*.api.example.no")),
        Just(toml_string("x.api.example.no")),
        Just(toml_string("192.0.2.1/24")),
        Just(toml_string("192.0.2.0/24")),
        Just(toml_string("2001:db8::/32")),
        Just(toml_string("2026-02-09.1")),
        Just(toml_string("https://example.no/a?b=c#d")),
        Just(toml_string("tcp")),
        Just(toml_string("prod")),
        Just("'literal'".to_owned()),
        Just("\"\"\"multi\nline\"\"\"".to_owned()),
    ]
}

/// A value: a scalar, or arrays and inline tables of values a few levels deep.
fn value() -> impl Strategy<Value = String> {
    scalar().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|kv| {
                let fields: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", fields.join(", "))
            }),
        ]
    })
}

/// A line of a TOML-ish document: a header, `key = value`, a comment, or noise.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(HEADERS).prop_map(str::to_owned),
        8 => (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => Just("# a comment".to_owned()),
        1 => "[ -~]{0,20}",
        1 => Just("schema = 1".to_owned()),
    ]
}

#[test]
fn the_loader_never_panics_on_toml_like_documents() {
    let mut runner = TestRunner::new(config(512));
    runner
        .run(&prop::collection::vec(line(), 0..40), |lines| {
            let text = lines.join("\n");
            let _ = egresscheck::catalog::load_str(&text, "generated.toml");
            Ok(())
        })
        .unwrap();
}

/// One change to a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    Replace(Index, u8),
    DuplicateLine(Index),
    Truncate(Index),
}

/// Fragments worth inserting: syntax, deep nesting, controls, invalid UTF-8, big numbers.
const FRAGMENTS: &[&[u8]] = &[
    b"[",
    b"]",
    b"[[endpoint]]\n",
    b"{",
    b"\"",
    b"'''",
    b"\\u202E",
    b"\x1b[31m",
    b"\xff\xfe",
    b"\xe2\x80\xae",
    b"\n",
    b"= ",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"{a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a=1",
    b"99999999999999999999999",
    b"0.0.0.0/0",
    b"::/0",
    b"*.*.example.no",
    b"2024-02-30",
    b"environment = \"nowhere\"\n",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), prop::sample::select(FRAGMENTS))
            .prop_map(|(i, f)| Mutation::Insert(i, f.to_vec())),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::Delete(at, n) => {
            let start = at.index(bytes.len());
            let end = (start + n).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::Insert(at, fragment) => {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, fragment.iter().copied());
        }
        Mutation::Replace(at, b) => {
            let at = at.index(bytes.len());
            bytes[at] = *b;
        }
        Mutation::DuplicateLine(at) => {
            let at = at.index(bytes.len());
            let start = bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let end = bytes[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |p| at + p + 1);
            let line = bytes[start..end].to_vec();
            bytes.splice(end..end, line);
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len())),
    }
}

#[test]
fn the_loader_never_panics_on_mutations_of_the_bundled_file() {
    let original = egresscheck::catalog::BUNDLED_TOML.as_bytes();
    let mut runner = TestRunner::new(config(512));
    runner
        .run(&prop::collection::vec(mutation(), 1..6), |mutations| {
            let mut bytes = original.to_vec();
            for m in &mutations {
                apply(&mut bytes, m);
            }
            let _ = egresscheck::catalog::load_bytes(&bytes, "mutated.toml");
            Ok(())
        })
        .unwrap();
}

// ---- Any valid catalog gives rules the real tools accept ----------------------------------

/// Text the catalog accepts on one line: no control or bidi character, not blank, but every
/// character a shell, a firewall comment or a quoting rule cares about.
fn line_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 æøåÆØÅ€\"'$`;#*/(){}<>&|!?\\\\.,:_+=%@~^\\[\\]-]{0,40}"
        .prop_map(|s| format!("x{s}"))
}

/// Text of a multi-line field: the same, with line breaks and tabs.
fn free_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 æøå\"'$`;#*/(){}<>&|\\\\\n\t-]{0,60}".prop_map(|s| format!("x{s}"))
}

fn v4_prefix() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 8u8..=32).prop_map(|(a, len)| {
        Ipv4Net::new(Ipv4Addr::from(a), len)
            .expect("length in range")
            .trunc()
    })
}

fn v6_prefix() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 16u8..=128).prop_map(|(a, len)| {
        Ipv6Net::new(Ipv6Addr::from(a), len)
            .expect("length in range")
            .trunc()
    })
}

fn ports() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::btree_set(
        prop_oneof![Just(443u16), Just(8443), Just(53), 1u16..=65535],
        1..4,
    )
    .prop_map(|s| s.into_iter().collect())
}

/// One endpoint, subnet or legacy entry; environment and service are indexes, reduced
/// modulo the counts.
#[derive(Debug, Clone)]
struct Entry {
    environment: usize,
    service: usize,
    wildcard: bool,
    probes: usize,
    ipv4: BTreeSet<Ipv4Net>,
    ipv6: BTreeSet<Ipv6Net>,
    ports: Vec<u16>,
    udp: bool,
    text: String,
    sunset: (i32, u32, u32),
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        (0usize..3, 0usize..2, any::<bool>(), 1usize..3),
        prop::collection::btree_set(v4_prefix(), 0..4),
        prop::collection::btree_set(v6_prefix(), 0..3),
        ports(),
        any::<bool>(),
        free_text(),
        (2020i32..2031, 1u32..13, 1u32..29),
    )
        .prop_map(
            |((environment, service, wildcard, probes), ipv4, ipv6, ports, udp, text, sunset)| {
                Entry {
                    environment,
                    service,
                    wildcard,
                    probes,
                    ipv4,
                    ipv6,
                    ports,
                    udp,
                    text,
                    sunset,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct Generated {
    environments: usize,
    services: usize,
    provider: String,
    names: Vec<String>,
    endpoints: Vec<Entry>,
    subnets: Vec<Entry>,
    legacy: Vec<Entry>,
    prefer_hostname_rules: bool,
}

fn catalog() -> impl Strategy<Value = Generated> {
    (
        1usize..=3,
        1usize..=2,
        line_text(),
        prop::collection::vec(line_text(), 5),
        prop::collection::vec(entry(), 1..6),
        prop::collection::vec(entry(), 0..3),
        prop::collection::vec(entry(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(environments, services, provider, names, endpoints, subnets, legacy, prefer)| {
                Generated {
                    environments,
                    services,
                    provider,
                    names,
                    endpoints,
                    subnets,
                    legacy,
                    prefer_hostname_rules: prefer,
                }
            },
        )
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|i| toml_string(&i.to_string()))
        .collect();
    format!("[{}]", items.join(", "))
}

fn ports_list(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!("[{}]", ports.join(", "))
}

impl Generated {
    /// The data file. Hosts, subnets and legacy hosts are numbered, so they are unique per
    /// environment by construction; everything else is as generated.
    fn toml(&self) -> String {
        let mut t = String::new();
        let _ = write!(
            t,
            "schema = 1\n\n[data]\nprovider = {}\nversion = \"2026-01-01.1\"\nprimary_source = \"page\"\nprefer_hostname_rules = {}\n\n[[source]]\nid = \"page\"\npublisher = {}\ntitle = {}\nurl = \"https://provider.example/firewall\"\ndocument_date = 2026-01-01\n",
            toml_string(&self.provider),
            self.prefer_hostname_rules,
            toml_string(&self.names[0]),
            toml_string(&self.names[1]),
        );
        for e in 0..self.environments {
            let _ = write!(
                t,
                "\n[[environment]]\nid = \"e{e}\"\nname = {}\n",
                toml_string(&format!("Env {e} {}", self.names[2]))
            );
        }
        for s in 0..self.services {
            let _ = write!(
                t,
                "\n[[service]]\nid = \"s{s}\"\nname = {}\noperator = {}\n",
                toml_string(&format!("Service {s} {}", self.names[3])),
                toml_string(&self.names[4]),
            );
        }
        let placement = |entry: &Entry| {
            format!(
                "environment = \"e{}\"\nservice = \"s{}\"\n",
                entry.environment % self.environments,
                entry.service % self.services
            )
        };
        let addresses = |entry: &Entry| {
            format!(
                "ipv4 = {}\nipv6 = {}\nports = {}\nprotocol = \"{}\"\n",
                list(&entry.ipv4),
                list(&entry.ipv6),
                ports_list(&entry.ports),
                if entry.udp { "udp" } else { "tcp" },
            )
        };
        for (i, entry) in self.endpoints.iter().enumerate() {
            let host = if entry.wildcard {
                let probes = (0..entry.probes).map(|p| format!("p{p}.w{i}.example.test"));
                format!("host = \"*.w{i}.example.test\"\nprobe = {}\n", list(probes))
            } else {
                format!("host = \"h{i}.example.test\"\n")
            };
            let _ = write!(
                t,
                "\n[[endpoint]]\n{}{host}{}source = \"page\"\nnote = {}\n",
                placement(entry),
                addresses(entry),
                toml_string(&entry.text)
            );
        }
        for (i, entry) in self.subnets.iter().enumerate() {
            // One subnet per entry: its first prefix, or a fixed one made unique by `i`.
            let cidr = entry.ipv4.iter().next().map_or_else(
                || format!("198.18.{i}.0/24"),
                std::string::ToString::to_string,
            );
            let _ = write!(
                t,
                "\n[[subnet]]\n{}cidr = \"{cidr}\"\nports = {}\ncovers = {}\nsource = \"page\"\n",
                placement(entry),
                ports_list(&entry.ports),
                toml_string(&entry.text)
            );
        }
        for (i, entry) in self.legacy.iter().enumerate() {
            let (y, m, d) = entry.sunset;
            let _ = write!(
                t,
                "\n[[legacy]]\n{}host = \"old{i}.example.test\"\n{}sunset = {y:04}-{m:02}-{d:02}\nsunset_basis = {}\nsource = \"page\"\n",
                placement(entry),
                addresses(entry),
                toml_string(&entry.text)
            );
        }
        t
    }
}

/// Subnets of one environment must differ: keep the first of each (environment, cidr).
fn dedupe_subnets(generated: &mut Generated) {
    let mut seen = BTreeSet::new();
    let environments = generated.environments;
    generated.subnets.retain(|s| {
        let cidr = s.ipv4.iter().next().copied();
        seen.insert((s.environment % environments, cidr))
    });
}

#[test]
fn any_valid_catalog_gives_rules_that_nft_and_iptables_restore_accept() {
    tools::require_root_and(&["ip", "nft", "iptables-restore", "ip6tables-restore"]);
    let ns = Netns::new();
    let mut runner = TestRunner::new(config(32));
    let strategy = (
        catalog(),
        any::<bool>(),
        prop_oneof![
            Just(Scope::Addresses),
            Just(Scope::Subnets),
            Just(Scope::All)
        ],
    );
    runner
        .run(&strategy, |(mut generated, include_expired, scope)| {
            dedupe_subnets(&mut generated);
            let text = generated.toml();
            let catalog = egresscheck::catalog::load_str(&text, "generated.toml")
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let as_of = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
            let options = |family| {
                let mut o = Options::new(as_of);
                o.scope = scope;
                o.family = family;
                o.include_expired = include_expired;
                o
            };
            let nft =
                Format::Nftables.render(&RuleSet::from_catalog(&catalog, &options(Family::Both)));
            ns.check_nft(&nft)
                .map_err(|e| TestCaseError::fail(format!("nft -c: {e}\n{nft}\n{text}")))?;
            for (family, v6) in [(Family::V4, false), (Family::V6, true)] {
                let ipt =
                    Format::Iptables.render(&RuleSet::from_catalog(&catalog, &options(family)));
                crate::rules::tools::iptables_test(&ns, &ipt, v6).map_err(|e| {
                    TestCaseError::fail(format!("restore --test (v6: {v6}): {e}\n{ipt}\n{text}"))
                })?;
            }
            Ok(())
        })
        .unwrap();
}
