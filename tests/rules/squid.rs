//! squid checked by squid itself: `squid -k parse` accepts every output included in a
//! squid.conf, and a real squid, run in a network namespace, lets through exactly the names
//! the data opens: a wildcard's base (a retired host) and deeper names are refused, as is a
//! sibling of another environment; replacing the file with the output for another selection
//! (and reloading it twice) gives exactly that selection.
//!
//! A refused CONNECT is answered 403 before any lookup; an allowed one is looked up in the
//! test's hosts file (an address where nothing listens) and answered 503.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::netns::Netns;
use crate::support::tools;

const NAMES: &[&str] = &[
    "a.api.egress.test",
    "new.api.egress.test",
    "api.egress.test",
    "x.a.api.egress.test",
    "token.egress.test",
    "test.token.egress.test",
];

/// A squid started by the test in its namespace, stopped by its process id on drop.
struct Squid(Child);

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// squid.conf for the test: the output included, then the final deny.
fn squid_conf(dir: &Path, rules: &Path) -> PathBuf {
    let hosts = dir.join("hosts");
    let lines: String = NAMES.iter().map(|n| format!("127.0.0.9 {n}\n")).collect();
    std::fs::write(&hosts, lines).unwrap();
    let conf = dir.join("squid.conf");
    let text = format!(
        "http_port 127.0.0.1:3128\ninclude {}\nhttp_access deny all\npid_filename none\ncache_log {}\naccess_log none\ncache_store_log none\nhosts_file {}\ndns_nameservers 127.0.0.1\nshutdown_lifetime 0 seconds\n",
        rules.display(),
        dir.join("cache.log").display(),
        hosts.display()
    );
    std::fs::write(&conf, text).unwrap();
    conf
}

fn parse(conf: &Path) -> Result<(), String> {
    let out = Command::new("squid")
        .args(["-k", "parse", "-f"])
        .arg(conf)
        .output()
        .map_err(|e| e.to_string())?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && !log.contains("ERROR") && !log.contains("FATAL") {
        Ok(())
    } else {
        Err(log)
    }
}

/// The status code squid answers `CONNECT name:443` with, from inside `ns`.
fn connect(ns: &Netns, name: &'static str) -> u16 {
    ns.enter(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", 3128)) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let request = format!("CONNECT {name}:443 HTTP/1.1\r\nHost: {name}:443\r\n\r\n");
                stream.write_all(request.as_bytes()).unwrap();
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).unwrap();
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                return head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_else(|| panic!("no status from squid: {head:?}"));
            }
            assert!(Instant::now() < deadline, "squid did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// The names squid lets through.
fn allowed(ns: &Netns) -> Vec<&'static str> {
    NAMES
        .iter()
        .copied()
        .filter(|name| {
            let status = connect(ns, name);
            assert!(status == 403 || status == 503, "{name}: {status}");
            status == 503
        })
        .collect()
}

fn lab(dir: &Path) -> PathBuf {
    let data = dir.join("lab.toml");
    std::fs::write(&data, super::dnsmasq::DATA).unwrap();
    data
}

fn squid_rules(data: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "--data",
        data.to_str().unwrap(),
        "rules",
        "--format",
        "squid",
        "--no-timestamp",
        "--as-of",
        "2025-01-15",
    ];
    all.extend_from_slice(args);
    let out = super::egresscheck(&all);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn squid_parses_every_output() {
    tools::require(&["squid"]);
    let dir = tempfile::tempdir().unwrap();
    let bundled = super::egresscheck(&["rules", "--format", "squid", "--include-expired"]);
    let mut outputs = vec![String::from_utf8(bundled.stdout).unwrap()];
    outputs.push(super::rules(
        "rules.toml",
        &["--format", "squid", "--scope", "all"],
    ));
    outputs.push(squid_rules(&lab(dir.path()), &[]));
    for text in outputs {
        let rules = dir.path().join("egresscheck.conf");
        std::fs::write(&rules, &text).unwrap();
        parse(&squid_conf(dir.path(), &rules)).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

#[test]
fn squid_lets_through_exactly_the_names_of_the_data() {
    tools::require_root_and(&["ip", "squid"]);
    let dir = tempfile::tempdir().unwrap();
    // squid drops root for its own user, which must read and write here.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let data = lab(dir.path());
    let rules = dir.path().join("egresscheck.conf");
    std::fs::write(&rules, squid_rules(&data, &[])).unwrap();
    let conf = squid_conf(dir.path(), &rules);
    parse(&conf).unwrap();
    let ns = Netns::new();
    let child = ns
        .command("squid")
        .args(["-N", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start squid");
    let squid = Squid(child);
    assert_eq!(
        allowed(&ns),
        [
            "a.api.egress.test",
            "new.api.egress.test",
            "token.egress.test",
            "test.token.egress.test"
        ]
    );
    // Replaced by the output for prod only, reloaded twice: exactly prod's names.
    std::fs::write(&rules, squid_rules(&data, &["--env", "prod"])).unwrap();
    let pid = squid.0.id().to_string();
    for _ in 0..2 {
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
    }
    // A reload takes effect a moment later: ask until it has, for at most 20 seconds.
    let expected = [
        "a.api.egress.test",
        "new.api.egress.test",
        "token.egress.test",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = allowed(&ns);
        if now == expected || Instant::now() > deadline {
            assert_eq!(now, expected);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
