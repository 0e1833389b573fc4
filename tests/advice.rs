//! Advice that follows what was observed (issue 12), end to end against the test DNS server:
//! a resolver that answered is never said to be unreachable.

use std::net::Ipv6Addr;

use crate::support::data::{Endpoint, data_file};
use crate::support::dns::DnsServer;

fn check(dns: &DnsServer, hosts: &[&str], extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.toml");
    let endpoints: Vec<Endpoint<'_>> = hosts
        .iter()
        .map(|host| Endpoint {
            host,
            address: None,
            port: 443,
        })
        .collect();
    std::fs::write(&data, data_file(&endpoints)).unwrap();
    let out = crate::hardening::egresscheck()
        .arg("--data")
        .arg(&data)
        .args([
            "check",
            "--no-proxy",
            "--resolver",
            &dns.resolver_arg(),
            "--dns-timeout",
            "2s",
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_name_with_only_ipv6_under_family_4_is_not_a_resolver_out_of_reach() {
    let dns = DnsServer::zone("egress.test")
        .aaaa("six.egress.test", Ipv6Addr::LOCALHOST, 60)
        .start();
    let (code, text) = check(&dns, &["six.egress.test"], &["--family", "4", "-v"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("1 name without A records (only A was asked, --family 4)"),
        "the cause says why: {text}"
    );
    assert!(
        text.contains("six.egress.test did not resolve: no A records")
            && text.contains("asked only for A records (--family 4)"),
        "{text}"
    );
    for wrong in [
        "could not be reached",
        "cannot reach",
        "Nothing resolved, and no resolver",
    ] {
        assert!(!text.contains(wrong), "{wrong:?} in\n{text}");
    }
    assert!(
        text.contains("Nothing resolved: the resolver answered, the names exist but have no addresses of the families asked"),
        "{text}"
    );
    // Both families asked: it resolves.
    let (_, text) = check(&dns, &["six.egress.test"], &[]);
    assert!(!text.contains("did not resolve"), "{text}");
}

#[test]
fn names_that_do_not_exist_are_not_a_resolver_out_of_reach() {
    let dns = DnsServer::zone("egress.test")
        .servfail("broken.egress.test")
        .start();
    let (code, text) = check(&dns, &["gone.egress.test", "missing.egress.test"], &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "Nothing resolved: the resolver answered, but says none of the names exist (NXDOMAIN)"
        ),
        "{text}"
    );
    assert!(!text.contains("cannot reach a DNS resolver"), "{text}");
    // NXDOMAIN and SERVFAIL: each named, the resolver not said to be out of reach.
    let (_, text) = check(&dns, &["gone.egress.test", "broken.egress.test"], &[]);
    assert!(
        text.contains("NXDOMAIN for 1 name") && text.contains("SERVFAIL for 1 name"),
        "{text}"
    );
    assert!(!text.contains("cannot reach a DNS resolver"), "{text}");
}
