//! TCP outcomes: open, refused, filtered and unreachable, the last two behind a real
//! firewall (nftables) inside network namespaces the test creates.

use std::net::{IpAddr, Ipv4Addr};

use super::{Run, loopback, probe, run_json};
use crate::support::dns::DnsServer;
use crate::support::netns::{self, NetnsPair, SERVER_V4, SERVER_V6, UNROUTED_V4, UNROUTED_V6};
use crate::support::tcp::{ClosedPort, UnansweredPort};
use crate::support::tools;

#[test]
fn refused_and_unanswered_ports_on_loopback() {
    let closed = ClosedPort::on(loopback(31));
    let unanswered = UnansweredPort::start();
    let dns = DnsServer::zone("egress.test")
        .a("closed.egress.test", Ipv4Addr::new(127, 0, 0, 31), 60)
        .addr("dropped.egress.test", unanswered.addr().ip(), 60)
        .start();
    let run = run_json(
        probe(
            &dns,
            &[
                &format!("closed.egress.test:{}", closed.addr().port()),
                &format!("dropped.egress.test:{}", unanswered.addr().port()),
            ],
        )
        .args(["--family", "4", "--timeout", "1s"]),
    );
    let refused = run.target("closed.egress.test");
    assert_eq!(refused["tcp"]["state"], "refused", "{refused}");
    assert!(
        refused["tcp"]["message"]
            .as_str()
            .unwrap()
            .contains("refused")
    );
    assert!(refused["tls"].is_null());
    let filtered = run.target("dropped.egress.test");
    assert_eq!(filtered["tcp"]["state"], "filtered", "{filtered}");
    assert!(
        filtered["tcp"]["message"]
            .as_str()
            .unwrap()
            .contains("within 1s")
    );
    assert_eq!(run.code, 1);
}

/// Runs the probe inside the client namespace, against a DNS server in the server
/// namespace.
fn probe_in_netns(pair: &NetnsPair, dns: &DnsServer, targets: &[&str]) -> Run {
    let mut cmd = super::egresscheck_in(&pair.client);
    cmd.args(["probe", "--format", "json", "--timeout", "2s", "--resolver"])
        .arg(dns.resolver_arg())
        .args(targets);
    run_json(&mut cmd)
}

#[test]
fn a_firewall_drop_is_filtered_and_a_reject_is_unreachable() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    pair.server
        .load_nft(
            "table inet egress_test {
               chain input {
                 type filter hook input priority 0; policy accept;
                 tcp dport 443 drop
                 tcp dport 8443 reject with icmpx admin-prohibited
               }
             }",
        )
        .unwrap();
    let dns = DnsServer::zone("egress.test")
        .addr("dropped.egress.test", IpAddr::V4(SERVER_V4), 60)
        .addr("rejected.egress.test", IpAddr::V4(SERVER_V4), 60)
        .addr("rejected6.egress.test", IpAddr::V6(SERVER_V6), 60)
        .addr("noroute.egress.test", IpAddr::V4(UNROUTED_V4), 60)
        .addr("noroute6.egress.test", IpAddr::V6(UNROUTED_V6), 60)
        .bind(IpAddr::V4(SERVER_V4))
        .in_netns(&pair.server)
        .start();
    let run = probe_in_netns(
        &pair,
        &dns,
        &[
            "dropped.egress.test:443",
            "rejected.egress.test:8443",
            "rejected6.egress.test:8443",
            "noroute.egress.test:443",
            "noroute6.egress.test:443",
        ],
    );
    let dropped = run.target("dropped.egress.test");
    assert_eq!(dropped["tcp"]["state"], "filtered", "{dropped}");
    for host in [
        "rejected.egress.test",
        "rejected6.egress.test",
        "noroute.egress.test",
        "noroute6.egress.test",
    ] {
        let target = run.target(host);
        assert_eq!(target["tcp"]["state"], "unreachable", "{host}: {target}");
        assert!(target["tcp"]["message"].is_string(), "{target}");
    }
    assert_eq!(run.code, 1, "{}", run.stderr);
}
