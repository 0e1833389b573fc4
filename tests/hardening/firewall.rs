//! End to end against a real firewall (issue 6, item 5): two namespaces joined by a veth link;
//! the server side runs a DNS server and two TLS servers; the client side loads the nftables
//! rules `egresscheck rules` generated for a data file that documents only one of the two
//! endpoints, under a default-drop output policy that lets through only loopback and the DNS
//! path. `egresscheck check` on the full data, run inside the client namespace, must report
//! the documented endpoint as passing and the one left out of the rules as `blocked`.
//!
//! Traffic never leaves the namespaces, which are deleted when the test ends, also when it
//! fails.

use std::net::IpAddr;

use serde_json::Value;

use crate::check::{codes_for, name_entry};
use crate::support::dns::DnsServer;
use crate::support::netns::{self, NetnsPair, SERVER_V4};
use crate::support::pki::TestCa;
use crate::support::tls::TlsServer;
use crate::support::tools;

use super::{Endpoint, data_file, egresscheck};

fn target<'a>(report: &'a Value, host: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["host"] == host)
        .unwrap_or_else(|| panic!("no target {host} in {report}"))
}

#[test]
fn check_behind_generated_rules_passes_the_documented_endpoint_and_blocks_the_other() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    let server_ip = IpAddr::V4(SERVER_V4);
    let ca = TestCa::new("Egress Firewall Test CA");
    let documented = TlsServer::builder(ca.valid(&["documented.egress.test"]))
        .bind(server_ip)
        .in_netns(&pair.server)
        .start();
    let left_out = TlsServer::builder(ca.valid(&["left-out.egress.test"]))
        .bind(server_ip)
        .in_netns(&pair.server)
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("documented.egress.test", server_ip, 60)
        .addr("left-out.egress.test", server_ip, 60)
        .bind(server_ip)
        .in_netns(&pair.server)
        .start();

    let documented_endpoint = Endpoint {
        host: "documented.egress.test",
        address: Some(server_ip),
        port: documented.port(),
    };
    let left_out_endpoint = Endpoint {
        host: "left-out.egress.test",
        address: Some(server_ip),
        port: left_out.port(),
    };
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("partial.toml");
    let full = dir.path().join("full.toml");
    std::fs::write(&partial, data_file(&[documented_endpoint])).unwrap();
    std::fs::write(
        &full,
        data_file(&[
            Endpoint {
                host: "documented.egress.test",
                address: Some(server_ip),
                port: documented.port(),
            },
            left_out_endpoint,
        ]),
    )
    .unwrap();

    // The rules for the partial data, exactly as an admin would generate them.
    let out = egresscheck()
        .arg("--data")
        .arg(&partial)
        .args(["rules", "--format", "nftables", "--no-timestamp"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = String::from_utf8(out.stdout).unwrap();
    pair.client
        .load_nft(&rules)
        .unwrap_or_else(|e| panic!("{e}\n{rules}"));
    // The default drop the rules' header asks for, and the DNS path (the generated chain
    // already accepts loopback and established traffic).
    let dns_port = dns.addr().port();
    pair.client
        .load_nft(&format!(
            "chain inet egresscheck output {{ policy drop; }}\n\
             add rule inet egresscheck output ip daddr {SERVER_V4} udp dport {dns_port} accept\n\
             add rule inet egresscheck output ip daddr {SERVER_V4} tcp dport {dns_port} accept\n"
        ))
        .unwrap();
    let ruleset = pair.client.list_nft();
    assert!(ruleset.contains("policy drop"), "{ruleset}");

    let out = pair
        .client
        .command(env!("CARGO_BIN_EXE_egresscheck"))
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .arg("--data")
        .arg(&full)
        .args([
            "check",
            "--no-proxy",
            "--family",
            "4",
            "--resolver",
            &dns.resolver_arg(),
            "--timeout",
            "2s",
            "--format",
            "json",
        ])
        .arg("--ca-file")
        .arg(ca.pem_file())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}\n{ruleset}"));
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{report}");

    assert_eq!(
        codes_for(&report, "documented.egress.test"),
        Vec::<String>::new(),
        "{report}\n{ruleset}"
    );
    let passing = target(&report, "documented.egress.test");
    assert_eq!(passing["tcp"]["state"], "open", "{passing}");
    assert_eq!(passing["tls"]["ok"], true, "{passing}");

    assert_eq!(
        codes_for(&report, "left-out.egress.test"),
        vec!["blocked"],
        "{report}\n{ruleset}"
    );
    let blocked = target(&report, "left-out.egress.test");
    assert_eq!(blocked["tcp"]["state"], "filtered", "{blocked}");
    // DNS worked for both: the firewall, not the resolver, made the difference.
    let name = name_entry(&report, "left-out.egress.test");
    assert_eq!(name["outcome"], "answer", "{name}");
}
