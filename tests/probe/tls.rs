//! TLS outcomes: the negotiated parameters, the chain in full, trust against public roots,
//! the system store and `--ca-file`, interception, certificate faults, versions, IPv6, and
//! servers that misbehave.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use serde_json::Value;

use super::{loopback, probe, probe_table, run_json, run_json_bounded, run_text};
use crate::support::dns::DnsServer;
use crate::support::pki::{Leaf, TestCa};
use crate::support::tcp::BlackHole;
use crate::support::tls::{Hostile, TlsServer};

fn serve(leaf: Leaf, ip: IpAddr) -> TlsServer {
    TlsServer::builder(leaf)
        .bind(ip)
        .alpn(&["h2", "http/1.1"])
        .start()
}

fn name_port(name: &str, server: &TlsServer) -> String {
    format!("{name}:{}", server.port())
}

#[test]
fn a_trusted_certificate_and_everything_negotiated_are_recorded() {
    let ca = TestCa::new("Egress Test Root CA");
    let leaf = ca.valid(&["api.egress.test"]);
    let fingerprint = leaf.sha256_hex();
    let server = TlsServer::builder(leaf)
        .bind(loopback(41))
        .alpn(&["h2", "http/1.1"])
        .ocsp(b"stapled")
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(41), 300)
        .start();
    let run = run_json(
        probe(&dns, &[&name_port("api.egress.test", &server)])
            .args(["--family", "4", "--ca-file"])
            .arg(ca.pem_file()),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let target = run.target("api.egress.test");
    let tls = &target["tls"];
    assert_eq!(target["tcp"]["state"], "open");
    assert_eq!(tls["ok"], true, "{tls}");
    assert_eq!(tls["version"], "TLSv1.3");
    assert!(tls["cipher"].as_str().unwrap().starts_with("TLS_"), "{tls}");
    assert!(tls["kx_group"].is_string(), "{tls}");
    assert_eq!(tls["alpn"], "h2");
    assert_eq!(tls["ocsp_stapled"], true);
    assert_eq!(tls["trusted_public"], true);
    assert_eq!(
        tls["trusted_system"], true,
        "--ca-file anchors count for both stores"
    );
    assert_eq!(tls["hostname_match"], true);
    let leaf = &tls["chain"][0];
    assert_eq!(leaf["sha256"], fingerprint.as_str());
    assert_eq!(leaf["sans"], serde_json::json!(["api.egress.test"]));
    assert!(
        leaf["issuer"]
            .as_str()
            .unwrap()
            .contains("Egress Test Root CA")
    );
    assert_eq!(leaf["key_algorithm"], "EC P-256");
    assert_eq!(leaf["signature_algorithm"], "ecdsa-with-SHA256");
    for field in ["subject", "serial", "not_before", "not_after"] {
        assert!(
            leaf[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {leaf}"
        );
    }
    // The server saw SNI and both ALPN protocols.
    let seen = server.wait_for_connections(1);
    assert_eq!(seen[0].sni.as_deref(), Some("api.egress.test"));
    assert_eq!(seen[0].alpn_offered, vec!["h2", "http/1.1"]);
}

#[test]
fn certificate_faults_are_recorded_in_full_without_aborting() {
    let ca = TestCa::new("Egress Test Root CA");
    let servers = [
        (
            "expired.egress.test",
            serve(ca.expired(&["expired.egress.test"]), loopback(42)),
        ),
        (
            "early.egress.test",
            serve(ca.not_yet_valid(&["early.egress.test"]), loopback(43)),
        ),
        (
            "wrong.egress.test",
            serve(ca.valid(&["other.egress.test"]), loopback(44)),
        ),
        (
            "selfsigned.egress.test",
            serve(Leaf::self_signed(&["selfsigned.egress.test"]), loopback(45)),
        ),
    ];
    let mut zone = DnsServer::zone("egress.test");
    for (name, server) in &servers {
        zone = zone.addr(name, server.addr().ip(), 60);
    }
    let dns = zone.start();
    let targets: Vec<String> = servers.iter().map(|(n, s)| name_port(n, s)).collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let run = run_json(
        probe(&dns, &targets)
            .args(["--family", "4", "--ca-file"])
            .arg(ca.pem_file()),
    );
    assert_eq!(run.code, 1);
    let tls = |host: &str| run.target(host)["tls"].clone();
    let expired = tls("expired.egress.test");
    assert_eq!(expired["ok"], true, "the handshake finishes: {expired}");
    assert_eq!(expired["trusted_public"], false);
    assert!(
        error_of(&expired, "public_error")
            .to_lowercase()
            .contains("expired"),
        "{expired}"
    );
    assert_eq!(expired["hostname_match"], true);
    assert_eq!(
        expired["chain"].as_array().unwrap().len(),
        1,
        "recorded in full"
    );
    let early = tls("early.egress.test");
    assert_eq!(early["trusted_public"], false);
    assert!(
        error_of(&early, "public_error")
            .to_lowercase()
            .contains("not valid yet"),
        "{early}"
    );
    let wrong = tls("wrong.egress.test");
    assert_eq!(wrong["trusted_public"], true, "the chain itself is fine");
    assert_eq!(wrong["hostname_match"], false);
    assert!(wrong["name_error"].is_string(), "{wrong}");
    assert_eq!(
        wrong["chain"][0]["sans"],
        serde_json::json!(["other.egress.test"])
    );
    let selfsigned = tls("selfsigned.egress.test");
    assert_eq!(selfsigned["trusted_public"], false);
    assert_eq!(selfsigned["trusted_system"], false);
    assert_eq!(
        selfsigned["chain"][0]["subject"],
        selfsigned["chain"][0]["issuer"]
    );
}

fn error_of(tls: &Value, field: &str) -> String {
    tls[field].as_str().unwrap_or_default().to_owned()
}

#[test]
fn interception_is_reported_when_only_the_system_store_trusts_the_ca() {
    let middlebox = TestCa::new("Corp TLS Inspection CA");
    let server = serve(middlebox.valid(&["api.egress.test"]), loopback(46));
    let dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(46), 60)
        .start();
    let target = name_port("api.egress.test", &server);
    // The middlebox's CA is installed on this machine: SSL_CERT_FILE is the system store.
    let run = run_json(
        probe(&dns, &[&target])
            .args(["--family", "4"])
            .env("SSL_CERT_FILE", middlebox.pem_file()),
    );
    let tls = &run.target("api.egress.test")["tls"];
    assert_eq!(tls["trusted_public"], false, "{tls}");
    assert_eq!(tls["trusted_system"], true, "{tls}");
    assert_eq!(tls["hostname_match"], true);
    assert!(
        tls["chain"][0]["issuer"]
            .as_str()
            .unwrap()
            .contains("Corp TLS Inspection CA")
    );
    assert_eq!(run.code, 1, "interception fails the probe");
    // The table says so in words and names the issuing CA.
    let (code, table, _) = run_text(
        probe_table(&dns, &[&target])
            .args(["--family", "4"])
            .env("SSL_CERT_FILE", middlebox.pem_file()),
    );
    assert_eq!(code, 1);
    assert!(table.contains("intercepted?"), "{table}");
    assert!(table.contains("interception"), "{table}");
    assert!(table.contains("Corp TLS Inspection CA"), "{table}");
}

#[test]
fn ca_file_anchors_make_a_private_pki_trusted() {
    let private = TestCa::new("Private Test CA");
    let unrelated = TestCa::new("Unrelated CA");
    let server = serve(
        private
            .intermediate("Private Issuing CA")
            .valid(&["api.egress.test"]),
        loopback(47),
    );
    let dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(47), 60)
        .start();
    let target = name_port("api.egress.test", &server);
    let without = run_json(
        probe(&dns, &[&target])
            .args(["--family", "4"])
            .env("SSL_CERT_FILE", unrelated.pem_file()),
    );
    let tls = &without.target("api.egress.test")["tls"];
    assert_eq!(
        (tls["trusted_public"].clone(), tls["trusted_system"].clone()),
        (false.into(), false.into())
    );
    assert_eq!(without.code, 1);
    let with = run_json(
        probe(&dns, &[&target])
            .args(["--family", "4", "--ca-file"])
            .arg(private.pem_file())
            .env("SSL_CERT_FILE", unrelated.pem_file()),
    );
    let tls = &with.target("api.egress.test")["tls"];
    assert_eq!(tls["trusted_public"], true, "{tls}");
    assert_eq!(
        tls["chain"].as_array().unwrap().len(),
        2,
        "leaf and intermediate"
    );
    assert_eq!(with.code, 0, "{}", with.stderr);
}

#[test]
fn tls12_only_and_tls13_only_servers_negotiate_their_version() {
    let ca = TestCa::new("Egress Test Root CA");
    let v12 = TlsServer::builder(ca.valid(&["v12.egress.test"]))
        .bind(loopback(48))
        .tls12_only()
        .start();
    let v13 = TlsServer::builder(ca.valid(&["v13.egress.test"]))
        .bind(loopback(49))
        .tls13_only()
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("v12.egress.test", loopback(48), 60)
        .addr("v13.egress.test", loopback(49), 60)
        .start();
    let run = run_json(
        probe(
            &dns,
            &[
                &name_port("v12.egress.test", &v12),
                &name_port("v13.egress.test", &v13),
            ],
        )
        .args(["--family", "4", "--ca-file"])
        .arg(ca.pem_file()),
    );
    assert_eq!(run.target("v12.egress.test")["tls"]["version"], "TLSv1.2");
    assert!(
        run.target("v12.egress.test")["tls"]["cipher"]
            .as_str()
            .unwrap()
            .starts_with("TLS_ECDHE_")
    );
    assert_eq!(run.target("v13.egress.test")["tls"]["version"], "TLSv1.3");
    assert_eq!(run.code, 0, "{}", run.json);
}

#[test]
fn ipv6_on_loopback_is_probed_and_family_narrows_it() {
    let ca = TestCa::new("Egress Test Root CA");
    let server = serve(
        ca.valid(&["v6.egress.test"]),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    );
    let dns = DnsServer::zone("egress.test")
        .aaaa("v6.egress.test", Ipv6Addr::LOCALHOST, 60)
        .start();
    let target = name_port("v6.egress.test", &server);
    let run = run_json(probe(&dns, &[&target]).arg("--ca-file").arg(ca.pem_file()));
    let report = run.target("v6.egress.test");
    assert_eq!(report["address"], "::1");
    assert_eq!(report["dns"]["answers"][0]["address"], "::1");
    assert_eq!(report["tls"]["trusted_public"], true, "{report}");
    assert_eq!(run.code, 0, "{}", run.json);
    let v4_only = run_json(
        probe(&dns, &[&target])
            .args(["--family", "4"])
            .arg("--ca-file")
            .arg(ca.pem_file()),
    );
    let report = v4_only.target("v6.egress.test");
    assert!(report["address"].is_null(), "{report}");
    assert_eq!(report["dns"]["outcome"], "no-records");
    assert_eq!(v4_only.code, 1);
}

#[test]
fn misbehaving_servers_end_in_bounded_time_with_the_right_outcome() {
    let hole = BlackHole::builder().bind(loopback(50)).black_hole();
    let garbage = TlsServer::hostile(Hostile::Garbage(10 << 20))
        .bind(loopback(51))
        .start();
    let rude = TlsServer::hostile(Hostile::CloseAfterHello)
        .bind(loopback(52))
        .start();
    let slow = TlsServer::hostile(Hostile::Slow(Duration::from_millis(200)))
        .bind(loopback(53))
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("hole.egress.test", loopback(50), 60)
        .addr("garbage.egress.test", loopback(51), 60)
        .addr("rude.egress.test", loopback(52), 60)
        .addr("slow.egress.test", loopback(53), 60)
        .start();
    let run = run_json_bounded(
        probe(
            &dns,
            &[
                &format!("hole.egress.test:{}", hole.addr().port()),
                &name_port("garbage.egress.test", &garbage),
                &name_port("rude.egress.test", &rude),
                &name_port("slow.egress.test", &slow),
            ],
        )
        .args(["--family", "4", "--timeout", "1s"]),
        "black hole, 10 MB of garbage, close after hello, slowloris",
    );
    assert_eq!(run.code, 1);
    for (host, failure) in [
        ("hole.egress.test", "timeout"),
        ("garbage.egress.test", "not-tls"),
        ("rude.egress.test", "closed"),
        ("slow.egress.test", "timeout"),
    ] {
        let target = run.target(host);
        assert_eq!(target["tcp"]["state"], "open", "{host}: {target}");
        assert_eq!(target["tls"]["ok"], false, "{host}: {target}");
        assert_eq!(target["tls"]["failure"], failure, "{host}: {target}");
        assert!(target["tls"]["error"].is_string(), "{host}: {target}");
    }
    assert_eq!(run.target("hole.egress.test")["tls"]["timed_out"], true);
}
