//! dnsmasq-nftset checked by dnsmasq itself: `dnsmasq --test` accepts every output, and a
//! real dnsmasq, run in a network namespace with the test's own DNS server as its upstream,
//! fills the sets of `--format nftables` with exactly the right names: a sibling of another
//! environment and a retired host never land in a set the chain accepts.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::dns::DnsServer;
use crate::support::netns::Netns;
use crate::support::tools;

/// Where dnsmasq listens inside the namespace (any 127/8 address is local there).
const LISTEN: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 53);

/// A data file for names of the test zone: a wildcard whose base is a retired host, an exact
/// prod host with a test sibling under it.
pub(crate) const DATA: &str = r#"schema = 1
[data]
provider = "DNS Lab"
version = "2025-01-01.1"
primary_source = "lab"
prefer_hostname_rules = true

[[source]]
id = "lab"
publisher = "egresscheck tests"
title = "The lab zone"
url = "https://example.invalid/lab"

[[environment]]
id = "test"
name = "Test"

[[environment]]
id = "prod"
name = "Prod"

[[service]]
id = "api"
name = "API"

[[endpoint]]
environment = "prod"
service = "api"
host = "*.api.egress.test"
probe = ["a.api.egress.test", "b.api.egress.test"]
ports = [443]
source = "lab"

[[endpoint]]
environment = "prod"
service = "api"
host = "token.egress.test"
ports = [443]
source = "lab"

[[endpoint]]
environment = "test"
service = "api"
host = "test.token.egress.test"
ports = [443]
source = "lab"

[[legacy]]
environment = "prod"
service = "api"
host = "api.egress.test"
ipv4 = ["198.51.100.4"]
ports = [443]
sunset = 2024-01-01
sunset_basis = "retired"
source = "lab"
"#;

/// The names the upstream knows, each with its own address.
const NAMES: &[(&str, [u8; 4])] = &[
    ("a.api.egress.test", [198, 51, 100, 1]),
    ("b.api.egress.test", [198, 51, 100, 2]),
    ("new.api.egress.test", [198, 51, 100, 3]),
    ("api.egress.test", [198, 51, 100, 4]),
    ("token.egress.test", [198, 51, 100, 5]),
    ("test.token.egress.test", [198, 51, 100, 6]),
];

fn address(name: &str) -> String {
    let (_, a) = NAMES.iter().find(|(n, _)| *n == name).unwrap();
    Ipv4Addr::from(*a).to_string()
}

/// `egresscheck --data LAB rules --format F ARGS`.
fn lab_rules(data: &std::path::Path, format: &str, args: &[&str]) -> String {
    let mut all = vec![
        "--data",
        data.to_str().unwrap(),
        "rules",
        "--format",
        format,
        "--no-timestamp",
        "--as-of",
        "2025-01-15",
    ];
    all.extend_from_slice(args);
    let out = super::egresscheck(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A dnsmasq started by the test in its namespace, stopped by its process id on drop.
struct Dnsmasq(Child);

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_dnsmasq(ns: &Netns, upstream: SocketAddr, conf: &std::path::Path) -> Dnsmasq {
    let child = ns
        .command("dnsmasq")
        .args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--no-negcache",
            "--cache-size=0",
            "--bind-interfaces",
            "--user=root",
            "--pid-file=",
        ])
        .arg(format!("--listen-address={LISTEN}"))
        .arg(format!("--server={}#{}", upstream.ip(), upstream.port()))
        .arg(format!("--conf-file={}", conf.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dnsmasq");
    Dnsmasq(child)
}

/// A standard query for the A record of `name`.
fn query(name: &str, id: u16) -> Vec<u8> {
    let mut packet = id.to_be_bytes().to_vec();
    packet.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        packet.push(u8::try_from(label.len()).unwrap());
        packet.extend(label.as_bytes());
    }
    packet.extend([0, 0, 1, 0, 1]);
    packet
}

/// Asks dnsmasq inside `ns` for `name`, retrying while it starts; true once it answered.
fn ask(ns: &Netns, name: &'static str) -> bool {
    ns.enter(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 512];
        let mut id = 1u16;
        while Instant::now() < deadline {
            id += 1;
            let _ = socket.send_to(&query(name, id), (LISTEN, 53));
            if let Ok(n) = socket.recv(&mut buf)
                && n > 12
                && buf[..2] == id.to_be_bytes()
            {
                return true;
            }
        }
        false
    })
}

/// The elements of one set of `inet egresscheck` in `ns`.
fn elements(ns: &Netns, set: &str) -> BTreeSet<String> {
    let out = ns.run("nft", &["-j", "list", "set", "inet", "egresscheck", set]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("set"))
        .flat_map(|s| s["elem"].as_array().cloned().unwrap_or_default())
        .map(|e| super::tools::element(&e))
        .collect()
}

/// The DNS sets after one selection: (prod, test, unlisted).
type Sets = (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>);

/// Loads the nftables and dnsmasq outputs of `args`, asks for every name, and returns the
/// DNS sets.
fn filled(args: &[&str]) -> Sets {
    applied(&[(DATA, args)], true)
}

/// Applies each step's outputs in turn in one namespace, as an admin updates a host: the
/// nftables output loaded, the dnsmasq file saved, then (from the second step on, when
/// `flush`) the header's own `nft '…'` command for a changed file, dnsmasq restarted, and
/// every name asked. Returns the DNS sets after the last step.
fn applied(steps: &[(&str, &[&str])], flush: bool) -> Sets {
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new();
    let mut zone = DnsServer::zone("egress.test");
    for (name, a) in NAMES {
        zone = zone.a(name, Ipv4Addr::from(*a), 300);
    }
    let upstream = zone.in_netns(&ns).start();
    let conf = dir.path().join("egresscheck.conf");
    let mut dnsmasq: Option<Dnsmasq> = None;
    for (i, (text, args)) in steps.iter().enumerate() {
        let data = dir.path().join(format!("lab-{i}.toml"));
        std::fs::write(&data, text).unwrap();
        let nft = lab_rules(&data, "nftables", args);
        ns.load_nft(&nft).unwrap_or_else(|e| panic!("{e}\n{nft}"));
        let lines = lab_rules(&data, "dnsmasq-nftset", args);
        std::fs::write(&conf, &lines).unwrap();
        if i > 0 && flush {
            let command = flush_command(&lines);
            ns.load_nft(&command)
                .unwrap_or_else(|e| panic!("the header's flush: {e}\n{command}"));
        }
        drop(dnsmasq.take());
        dnsmasq = Some(start_dnsmasq(&ns, upstream.addr(), &conf));
        for (name, _) in NAMES {
            assert!(ask(&ns, name), "dnsmasq did not answer for {name}\n{lines}");
        }
    }
    (
        elements(&ns, "prod_dns_v4"),
        elements(&ns, "test_dns_v4"),
        elements(&ns, "_unlisted_v4"),
    )
}

/// The commands of the header line that says what to do when the file changed.
fn flush_command(lines: &str) -> String {
    let line = lines
        .lines()
        .find(|l| l.starts_with("# When the file changed"))
        .unwrap_or_else(|| panic!("no flush instruction in the header:\n{lines}"));
    let quoted = line.split_once("nft '").unwrap().1;
    quoted.strip_suffix('\'').unwrap().replace("; ", "\n")
}

#[test]
fn dnsmasq_accepts_every_output() {
    tools::require(&["dnsmasq"]);
    let bundled = super::egresscheck(&["rules", "--format", "dnsmasq-nftset", "--include-expired"]);
    let mut outputs = vec![String::from_utf8(bundled.stdout).unwrap()];
    for args in [
        vec!["--scope", "all"],
        vec!["--env", "prod"],
        vec!["--nft-sets", "inet filter"],
    ] {
        let mut all = vec!["--format", "dnsmasq-nftset"];
        all.extend(args);
        outputs.push(super::rules("rules.toml", &all));
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in outputs.iter().enumerate() {
        let conf = dir.path().join(format!("{i}.conf"));
        std::fs::write(&conf, text).unwrap();
        let out = std::process::Command::new("dnsmasq")
            .arg("--test")
            .arg(format!("--conf-file={}", conf.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dnsmasq --test: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn dnsmasq_fills_the_right_sets_and_keeps_siblings_and_retired_hosts_out() {
    tools::require_root_and(&["ip", "nft", "dnsmasq"]);
    // Prod only: the test sibling under token.egress.test and the retired base of the
    // wildcard go to the set no rule accepts.
    let (prod, test, unlisted) = filled(&["--env", "prod"]);
    for name in [
        "a.api.egress.test",
        "b.api.egress.test",
        "token.egress.test",
    ] {
        assert!(
            prod.contains(&address(name)),
            "{name} missing from {prod:?}"
        );
    }
    for name in ["test.token.egress.test", "api.egress.test"] {
        assert!(!prod.contains(&address(name)), "{name} in prod: {prod:?}");
    }
    // The sibling falls under a listed domain: it has a line of its own, into the set no
    // rule accepts. The retired base is under no listed domain at all.
    assert_eq!(
        unlisted,
        BTreeSet::from([address("test.token.egress.test")]),
        "{unlisted:?}"
    );
    // The wildcard is listed by its probe names (its base is a retired host): a name the
    // data does not list is not covered, as the header says.
    assert!(!prod.contains(&address("new.api.egress.test")), "{prod:?}");
    assert!(test.is_empty(), "{test:?}");
    assert_eq!(prod.len(), 3, "{prod:?}");

    // Both environments: the sibling fills its own environment's set, and only that.
    let (prod, test, _) = filled(&[]);
    assert!(
        !prod.contains(&address("test.token.egress.test")),
        "{prod:?}"
    );
    assert_eq!(
        test,
        BTreeSet::from([address("test.token.egress.test")]),
        "{test:?}"
    );
}

#[test]
fn dnsmasq_applied_twice_and_over_older_data_equals_the_new_alone() {
    tools::require_root_and(&["ip", "nft", "dnsmasq"]);
    // Older data opened one more name in prod, under the wildcard the newer data lists by
    // its probe names only.
    let older = older_prod();
    assert_ne!(older, DATA);
    for args in [&["--env", "prod"][..], &[][..]] {
        let alone = applied(&[(DATA, args)], true);
        let (prod, _, _) = applied(&[(&older, args)], true);
        assert!(
            prod.contains(&address("new.api.egress.test")),
            "the older data opens it: {prod:?}"
        );
        assert_eq!(
            applied(&[(DATA, args), (DATA, args)], true),
            alone,
            "applied twice, {args:?}"
        );
        assert_eq!(
            applied(&[(&older, args), (DATA, args)], true),
            alone,
            "older data, then the newer, {args:?}"
        );
    }
    // Without the header's flush, what the older file let in stays (until its timeout):
    // the instruction is what makes the update exact.
    let prod_only = &["--env", "prod"][..];
    let (prod, _, _) = applied(&[(&older, prod_only), (DATA, prod_only)], false);
    assert!(prod.contains(&address("new.api.egress.test")), "{prod:?}");
}

/// [`DATA`] with one more prod name: the data before the provider retired it.
fn older_prod() -> String {
    DATA.replace(
        "[[legacy]]",
        "[[endpoint]]\nenvironment = \"prod\"\nservice = \"api\"\nhost = \"new.api.egress.test\"\nports = [443]\nsource = \"lab\"\n\n[[legacy]]",
    )
}
