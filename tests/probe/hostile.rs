//! Peers that misbehave on purpose: the run ends in bounded time and memory (see
//! `run_json_bounded`) with the right outcome.

use std::io::{Read, Write};
use std::net::TcpListener;

use super::{loopback, probe, run_json_bounded};
use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;
use crate::support::proxy::{ProxyMode, ProxyServer};
use crate::support::tcp::ClosedPort;
use crate::support::tls::TlsServer;

#[test]
fn cname_loops_and_long_chains_end() {
    let closed = ClosedPort::on(loopback(81));
    let dns = DnsServer::zone("egress.test")
        .a(
            "api.egress.test",
            std::net::Ipv4Addr::new(127, 0, 0, 81),
            60,
        )
        .cname("loop-a.egress.test", "loop-b.egress.test", 60)
        .cname("loop-b.egress.test", "loop-a.egress.test", 60)
        .cname_chain("chain.egress.test", 20, "api.egress.test", 60)
        .start();
    let port = closed.addr().port();
    let run = run_json_bounded(
        probe(
            &dns,
            &[
                &format!("loop-a.egress.test:{port}"),
                &format!("chain.egress.test:{port}"),
            ],
        )
        .args(["--family", "4", "--dns-timeout", "2s"]),
        "a CNAME loop and a chain of 20",
    );
    let looped = run.target("loop-a.egress.test");
    assert_eq!(looped["dns"]["outcome"], "error", "{looped}");
    assert!(
        looped["dns"]["message"]
            .as_str()
            .unwrap()
            .contains("CNAME loop"),
        "{looped}"
    );
    assert_eq!(
        looped["dns"]["cname_chain"],
        serde_json::json!(["loop-b.egress.test", "loop-a.egress.test"])
    );
    assert!(looped["address"].is_null());
    let chained = run.target("chain.egress.test");
    assert_eq!(chained["dns"]["outcome"], "answer", "{chained}");
    assert_eq!(chained["address"], "127.0.0.81");
}

#[test]
fn a_chain_of_a_hundred_certificates_is_bounded_and_described() {
    let root = TestCa::new("Egress Test Root CA");
    let mut ca = root.intermediate("Intermediate 1");
    for i in 2..=100 {
        ca = ca.intermediate(&format!("Intermediate {i}"));
    }
    let server = TlsServer::builder(ca.valid(&["deep.egress.test"]))
        .bind(loopback(82))
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("deep.egress.test", loopback(82), 60)
        .start();
    let run = run_json_bounded(
        probe(&dns, &[&format!("deep.egress.test:{}", server.port())])
            .args(["--family", "4", "--timeout", "5s", "--ca-file"])
            .arg(root.pem_file()),
        "a chain of 100 certificates",
    );
    let tls = &run.target("deep.egress.test")["tls"];
    assert_eq!(tls["trusted_public"], false, "{tls}");
    assert!(tls["public_error"].is_string(), "{tls}");
    let chain = tls["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 16, "described up to the cap");
    assert!(
        chain[15]["subject"].as_str().unwrap().contains("85 more"),
        "{}",
        chain[15]
    );
    assert_eq!(run.code, 1);

    // The same chain against the smallest read bound: the handshake stops at the bound.
    let bounded = run_json_bounded(
        probe(&dns, &[&format!("deep.egress.test:{}", server.port())])
            .args([
                "--family",
                "4",
                "--timeout",
                "5s",
                "--max-tls-bytes",
                "16384",
            ])
            .arg("--ca-file")
            .arg(root.pem_file()),
        "a chain of 100 certificates, 16 KiB read bound",
    );
    let tls = &bounded.target("deep.egress.test")["tls"];
    assert_eq!(tls["ok"], false, "{tls}");
    assert_eq!(tls["failure"], "too-large", "{tls}");
    assert!(
        tls["error"].as_str().unwrap().contains("16384"),
        "the message names the bound: {tls}"
    );
}

#[test]
fn a_server_that_speaks_only_old_tls_fails_with_a_telling_message() {
    // What OpenSSL limited to TLS 1.0 answers a ClientHello whose minimum is TLS 1.2: a
    // fatal protocol_version alert.
    let listener = TcpListener::bind((loopback(83), 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut hello = [0u8; 4096];
            let _ = stream.read(&mut hello);
            let _ = stream.write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);
        }
    });
    let dns = DnsServer::zone("egress.test")
        .addr("old.egress.test", loopback(83), 60)
        .start();
    let run = run_json_bounded(
        probe(&dns, &[&format!("old.egress.test:{port}")]).args(["--family", "4"]),
        "a server that speaks only TLS 1.0",
    );
    server.join().unwrap();
    let tls = &run.target("old.egress.test")["tls"];
    assert_eq!(tls["ok"], false);
    assert_eq!(tls["failure"], "protocol-version", "{tls}");
    let error = tls["error"].as_str().unwrap();
    assert!(error.contains("older than TLS 1.2"), "{error}");
    assert_eq!(run.code, 1);
}

#[test]
fn a_proxy_answer_header_that_never_ends_is_cut_at_its_bound() {
    let dns = DnsServer::zone("egress.test").start();
    // A status line, then 8 MiB of one header line that never ends.
    let proxy = ProxyServer::builder(ProxyMode::Raw(
        b"HTTP/1.1 200 Connection established\r\nX-Padding: ".to_vec(),
        8 << 20,
    ))
    .start();
    let run = run_json_bounded(
        probe(&dns, &["api.egress.test"]).args(["--proxy", &proxy.url(), "--timeout", "5s"]),
        "a proxy answer header of 8 MiB",
    );
    let report = run.target("api.egress.test");
    assert_eq!(report["tcp"]["state"], "proxy-error", "{report}");
    let message = report["tcp"]["message"].as_str().unwrap();
    assert!(message.contains("16384"), "names the bound: {message}");
    assert!(report["tls"].is_null(), "{report}");
}
