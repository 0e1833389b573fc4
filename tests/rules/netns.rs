//! The proof that the nftables rules do what they say (issue 3, item 7): two namespaces
//! joined by a veth link, a data file documenting one address and port of the server side,
//! the generated rules loaded on the client side under a default-drop output policy. The
//! documented address and port connect; an undocumented port or address times out. Traffic
//! never leaves the namespaces, which the harness deletes even when the test fails.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::support::netns::{self, NetnsPair, SERVER_V4, SERVER_V6};
use crate::support::tools;

/// Generous for a link inside one machine; a dropped SYN waits all of it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const DOCUMENTED_PORT: u16 = 8443;
const UNDOCUMENTED_PORT: u16 = 8444;
/// A second server address, on the same link, that the data file does not document.
const UNDOCUMENTED_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 3);

fn data_file() -> String {
    format!(
        r#"schema = 1
[data]
provider = "Namespace Lab"
version = "2025-01-01.1"
primary_source = "lab"
prefer_hostname_rules = true

[[source]]
id = "lab"
publisher = "egresscheck tests"
title = "The server namespace"
url = "https://example.invalid/lab"

[[environment]]
id = "lab"
name = "Lab"

[[service]]
id = "api"
name = "The server"

[[endpoint]]
environment = "lab"
service = "api"
host = "api.lab.example"
ipv4 = ["{SERVER_V4}"]
ipv6 = ["{SERVER_V6}"]
ports = [{DOCUMENTED_PORT}]
source = "lab"
"#
    )
}

fn connect(pair: &NetnsPair, addr: SocketAddr) -> std::io::Result<()> {
    pair.client
        .enter(move || TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map(drop))
}

#[test]
fn documented_endpoint_connects_and_nothing_else_does() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    // A second address on the server's side of the link.
    let links = pair.server.ip(&["-o", "-4", "addr", "show"]);
    let ifname = links
        .lines()
        .find(|l| l.contains(&SERVER_V4.to_string()))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("the server's interface")
        .to_owned();
    pair.server.ip(&[
        "addr",
        "add",
        &format!("{UNDOCUMENTED_V4}/24"),
        "dev",
        &ifname,
    ]);

    let targets: Vec<(SocketAddr, bool)> = vec![
        ((SERVER_V4, DOCUMENTED_PORT).into(), true),
        ((SERVER_V6, DOCUMENTED_PORT).into(), true),
        ((SERVER_V4, UNDOCUMENTED_PORT).into(), false),
        ((SERVER_V6, UNDOCUMENTED_PORT).into(), false),
        ((UNDOCUMENTED_V4, DOCUMENTED_PORT).into(), false),
    ];
    // Listeners on every target, so that only the firewall can make a connect fail. The
    // kernel completes handshakes into the backlog without an accept.
    let _listeners: Vec<TcpListener> = targets
        .iter()
        .map(|(addr, _)| {
            let addr = *addr;
            pair.server.enter(move || TcpListener::bind(addr)).unwrap()
        })
        .collect();
    for (addr, _) in &targets {
        connect(&pair, *addr).unwrap_or_else(|e| panic!("{addr} before the rules: {e}"));
    }

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("lab.toml");
    std::fs::write(&data, data_file()).unwrap();
    let out = super::egresscheck(&[
        "--data",
        data.to_str().unwrap(),
        "rules",
        "--format",
        "nftables",
        "--no-timestamp",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = String::from_utf8(out.stdout).unwrap();
    pair.client
        .load_nft(&rules)
        .unwrap_or_else(|e| panic!("{e}\n{rules}"));
    // The test's own default drop, on the chain the rules accept in.
    pair.client
        .load_nft("chain inet egresscheck output { policy drop; }")
        .unwrap();
    assert!(pair.client.list_nft().contains("policy drop"));

    // All at once: the dropped connects wait out their timeouts side by side.
    let results: Vec<(SocketAddr, bool, std::io::Result<()>)> = std::thread::scope(|scope| {
        let pair = &pair;
        let handles: Vec<_> = targets
            .iter()
            .map(|(addr, documented)| {
                let (addr, documented) = (*addr, *documented);
                scope.spawn(move || (addr, documented, connect(pair, addr)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (addr, documented, result) in results {
        if documented {
            result.unwrap_or_else(|e| panic!("documented {addr} blocked: {e}"));
        } else {
            let err = result
                .err()
                .unwrap_or_else(|| panic!("undocumented {addr} connected"));
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{addr}: {err}");
        }
    }
}
