//! The namespace guard creates, isolates, filters and always cleans up.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::support::netns::{
    self, CLIENT_V4, Netns, NetnsPair, SERVER_V4, UNROUTED_V4, UNROUTED_V6,
};
use crate::support::tools;

fn exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn owner_pid_only_matches_harness_names() {
    assert_eq!(netns::owner_pid("egctest-1234-0"), Some(1234));
    assert_eq!(netns::owner_pid("egctest-1234-x"), None);
    assert_eq!(netns::owner_pid("docker-1234-0"), None);
    assert_eq!(netns::owner_pid("egctest-12"), None);
}

#[test]
fn namespace_has_lo_up_and_is_removed_on_drop() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let ns = Netns::new();
    let name = ns.name().to_string();
    assert!(exists(&name));
    let lo = ns.ip(&["-o", "link", "show", "lo"]);
    assert!(lo.contains("UP"), "lo not up: {lo}");
    // Only lo: nothing connects this namespace to anything.
    let links = ns.ip(&["-o", "link", "show"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    drop(ns);
    assert!(!exists(&name), "{name} still exists after drop");
}

#[test]
fn namespace_is_removed_when_the_test_panics() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let pair = NetnsPair::new();
        tx.send((
            pair.client.name().to_string(),
            pair.server.name().to_string(),
        ))
        .unwrap();
        panic!("test failure inside the namespace's scope");
    });
    assert!(result.is_err());
    let (client, server) = rx.recv().unwrap();
    assert!(
        !exists(&client) && !exists(&server),
        "namespaces leaked after a panic"
    );
}

#[test]
fn veth_pair_carries_tcp_over_v4_and_v6_and_never_touches_the_host() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    for v6 in [false, true] {
        let server_ip = pair.server_addr(v6);
        let listener = pair
            .server
            .enter(move || TcpListener::bind(SocketAddr::new(server_ip, 0)))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = std::thread::spawn(move || {
            let (mut conn, peer) = listener.accept().unwrap();
            conn.write_all(b"hello").unwrap();
            peer.ip()
        });
        let got = pair.client.enter(move || {
            let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
            let mut buf = Vec::new();
            conn.read_to_end(&mut buf).unwrap();
            buf
        });
        assert_eq!(got, b"hello");
        assert_eq!(accept.join().unwrap(), pair.client_addr(v6));
    }
    // The test addresses exist only inside the namespaces.
    let host = std::process::Command::new("ip")
        .args(["-o", "addr"])
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&host.stdout);
    assert!(!host.contains("203.0.113."), "{host}");
    assert!(!host.contains("fd00:eeee:"), "{host}");
}

#[test]
fn nft_drop_filters_reject_is_unreachable_and_unrouted_is_unreachable() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    let server_ip: IpAddr = SERVER_V4.into();
    let open = pair
        .server
        .enter(move || TcpListener::bind(SocketAddr::new(server_ip, 0)))
        .unwrap();
    let open_port = open.local_addr().unwrap().port();
    let ruleset = "table inet harness {
        chain input {
            type filter hook input priority 0; policy accept;
            tcp dport 9 drop
            tcp dport 10 reject with icmpx admin-prohibited
        }
    }";
    pair.server.check_nft(ruleset).unwrap();
    pair.server.load_nft(ruleset).unwrap();
    assert!(pair.server.list_nft().contains("tcp dport 9 drop"));
    assert!(pair.server.load_nft("this is not nft").is_err());

    let kinds = pair.client.enter(move || {
        let connect = |ip: IpAddr, port: u16| {
            TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_millis(300))
                .map(|_| ())
                .map_err(|e| e.kind())
        };
        [
            connect(server_ip, open_port),
            connect(server_ip, 9),
            connect(server_ip, 10),
            connect(server_ip, 11),
            connect(UNROUTED_V4.into(), 443),
            connect(UNROUTED_V6.into(), 443),
        ]
    });
    assert_eq!(kinds[0], Ok(()), "open port");
    assert_eq!(kinds[1], Err(ErrorKind::TimedOut), "dropped port");
    assert_eq!(kinds[2], Err(ErrorKind::HostUnreachable), "rejected port");
    assert_eq!(kinds[3], Err(ErrorKind::ConnectionRefused), "closed port");
    assert_eq!(
        kinds[4],
        Err(ErrorKind::NetworkUnreachable),
        "no IPv4 route"
    );
    assert_eq!(
        kinds[5],
        Err(ErrorKind::NetworkUnreachable),
        "no IPv6 route"
    );
}

#[test]
fn command_runs_inside_the_namespace() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let pair = NetnsPair::new();
    let out = pair.client.run("ip", &["-o", "addr", "show", "dev", "eg0"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&CLIENT_V4.to_string()));
}
