//! DNS outcomes: answers with TTLs and CNAME chains, and every failure kept apart.

use std::net::Ipv4Addr;

use super::{loopback, probe, run_json, run_json_bounded};
use crate::support::dns::{DnsServer, RecordType, Transport};
use crate::support::netns::{self, NetnsPair};
use crate::support::tcp::ClosedPort;
use crate::support::tools;

#[test]
fn answers_ttls_cname_chain_and_server_are_reported() {
    let closed = ClosedPort::on(loopback(21));
    let dns = DnsServer::zone("egress.test")
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 21), 300)
        .cname("www.egress.test", "edge.egress.test", 60)
        .cname("edge.egress.test", "api.egress.test", 30)
        .start();
    let port = closed.addr().port().to_string();
    let run = run_json(&mut probe(&dns, &[&format!("www.egress.test:{port}")]));
    let target = run.target("www.egress.test");
    let dns_report = &target["dns"];
    assert_eq!(dns_report["outcome"], "answer", "{target}");
    assert_eq!(dns_report["answers"][0]["address"], "127.0.0.21");
    assert_eq!(dns_report["answers"][0]["ttl"], 300);
    assert_eq!(
        dns_report["cname_chain"],
        serde_json::json!(["edge.egress.test", "api.egress.test"])
    );
    assert_eq!(dns_report["server"], dns.resolver_arg());
    assert_eq!(target["address"], "127.0.0.21");
    assert_eq!(target["origin"], "dns");
    assert_eq!(target["tcp"]["state"], "refused");
    assert_eq!(run.code, 1, "a refused target fails the run");
}

#[test]
fn dns_failures_are_told_apart() {
    let dns = DnsServer::zone("egress.test")
        .aaaa("v6only.egress.test", std::net::Ipv6Addr::LOCALHOST, 60)
        .servfail("broken.egress.test")
        .refused("refused.egress.test")
        .silent("silent.egress.test")
        .start();
    let run = run_json_bounded(
        probe(
            &dns,
            &[
                "missing.egress.test",
                "v6only.egress.test",
                "broken.egress.test",
                "refused.egress.test",
                "silent.egress.test",
            ],
        )
        .args(["--family", "4", "--dns-timeout", "1s"]),
        "DNS failures, a silent server among them",
    );
    for (host, outcome) in [
        ("missing.egress.test", "nxdomain"),
        ("v6only.egress.test", "no-records"),
        ("broken.egress.test", "servfail"),
        ("refused.egress.test", "refused"),
        ("silent.egress.test", "timeout"),
    ] {
        let target = run.target(host);
        assert_eq!(target["dns"]["outcome"], outcome, "{host}: {target}");
        assert!(target["dns"]["message"].is_string(), "{host}: {target}");
        // No address: the name is still reported, with nothing probed.
        assert!(
            target["address"].is_null() && target["tcp"].is_null(),
            "{target}"
        );
        assert_eq!(target["port"], 443);
    }
    assert_eq!(run.code, 1);
    // --family 4 never asks for AAAA.
    let asked = dns.queries_for("v6only.egress.test");
    assert!(asked.iter().any(|q| q.qtype == RecordType::A), "{asked:?}");
    assert!(
        asked.iter().all(|q| q.qtype != RecordType::AAAA),
        "{asked:?}"
    );
}

/// A wrong `--resolver`, or a firewall that rejects DNS: the resolver's address answers each
/// query with ICMP port unreachable. Every name ends at once with what that means, instead of
/// waiting out its DNS timeout (a minute here, so a run of 200 names, 64 at a time, would take
/// four and hit its deadline).
#[test]
fn a_resolver_whose_port_is_closed_fails_every_name_at_once_and_says_why() {
    let dead = {
        let socket = std::net::UdpSocket::bind((loopback(24), 0)).unwrap();
        socket.local_addr().unwrap()
    };
    let names: Vec<String> = (0..200).map(|i| format!("n{i}.egress.test")).collect();
    let mut cmd = super::egresscheck();
    cmd.args(["probe", "--format", "json", "--resolver", &dead.to_string()])
        .args(["--dns-timeout", "60s", "--deadline", "10m"])
        .args(&names);
    let run = run_json_bounded(&mut cmd, "a resolver that is not there");
    for name in &names {
        let dns = &run.target(name)["dns"];
        assert_eq!(dns["outcome"], "error", "{name}: {dns}");
        let message = dns["message"].as_str().unwrap();
        assert!(
            message.contains("ICMP port unreachable")
                && message.contains(&format!("udp/{}", dead.port())),
            "{name}: {message}"
        );
        assert!(dns["ms"].as_f64().unwrap() < 30_000.0, "{name}: {dns}");
    }
    assert_eq!(run.code, 1);
}

/// This host's own firewall drops DNS (an output rule): sending fails with EPERM. Every
/// name says so at once (hickory said "no connections available"); the other resolver,
/// whose address a firewall on the way refuses as administratively prohibited, is told
/// apart.
#[test]
fn dns_refused_by_a_firewall_says_whose_at_once() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    pair.client
        .load_nft(
            "table inet egress_test {
               chain output {
                 type filter hook output priority 0; policy accept;
                 udp dport 53 drop
               }
             }",
        )
        .unwrap();
    pair.server
        .load_nft(
            "table inet egress_test {
               chain input {
                 type filter hook input priority 0; policy accept;
                 udp dport 5353 reject with icmpx admin-prohibited
               }
             }",
        )
        .unwrap();
    let server = pair.server_addr(false);
    for (port, says) in [
        (53, "this host's own firewall refuses DNS"),
        (5353, "ICMP host unreachable for the DNS server"),
    ] {
        let resolver = std::net::SocketAddr::new(server, port);
        let mut cmd = super::egresscheck_in(&pair.client);
        cmd.args(["probe", "--format", "json", "--dns-timeout", "60s"])
            .args(["--resolver", &resolver.to_string(), "a.egress.test"]);
        let run = run_json_bounded(&mut cmd, "DNS refused by a firewall");
        let dns = &run.target("a.egress.test")["dns"];
        assert_eq!(dns["outcome"], "error", "{port}: {dns}");
        let message = dns["message"].as_str().unwrap();
        assert!(message.contains(says), "{port}: {message}");
        assert!(dns["ms"].as_f64().unwrap() < 30_000.0, "{port}: {dns}");
    }
}

#[test]
fn a_truncated_udp_answer_is_retried_over_tcp() {
    let closed = ClosedPort::on(loopback(22));
    let dns = DnsServer::zone("egress.test")
        .a("tc.egress.test", Ipv4Addr::new(127, 0, 0, 22), 60)
        .truncate_udp("tc.egress.test")
        .start();
    let target = format!("tc.egress.test:{}", closed.addr().port());
    let run = run_json_bounded(
        probe(&dns, &[&target]).args(["--family", "4"]),
        "a truncated UDP answer",
    );
    assert_eq!(run.target("tc.egress.test")["dns"]["outcome"], "answer");
    let transports: Vec<Transport> = dns
        .queries_for("tc.egress.test")
        .iter()
        .map(|q| q.transport)
        .collect();
    assert!(transports.contains(&Transport::Udp), "{transports:?}");
    assert!(transports.contains(&Transport::Tcp), "{transports:?}");
}

#[test]
fn a_thousand_addresses_are_recorded_but_probing_is_capped() {
    let closed = ClosedPort::on(loopback(23));
    let addresses =
        (0..1000u32).map(|i| Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8));
    let dns = DnsServer::zone("egress.test")
        .a_many("many.egress.test", addresses, 60)
        .start();
    let target = format!("many.egress.test:{}", closed.addr().port());
    let run = run_json_bounded(
        probe(&dns, &[&target]).args(["--family", "4", "--max-addresses", "8"]),
        "a thousand A records",
    );
    let targets = run.targets("many.egress.test");
    assert_eq!(targets.len(), 8, "{}", run.json);
    let dns_report = &targets[0]["dns"];
    assert_eq!(dns_report["answers"].as_array().unwrap().len(), 1000);
    assert_eq!(dns_report["addresses_dropped"], 992);
}
