//! The `probe` command itself: usage errors exit 2 with a clear message, the table reads
//! like an admin's tool.

use super::{egresscheck, loopback, probe_table, run_text};
use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;
use crate::support::tls::TlsServer;

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    for (args, needle) in [
        (vec!["probe", "127.0.0.1"], "not addresses"),
        (vec!["probe", "bad_name.example.no"], "holds"),
        (vec!["probe", "api.example.no:0"], "1-65535"),
        // Zero and too short: one rule, one message (issue 13).
        (
            vec!["probe", "api.example.no", "--timeout", "0"],
            "invalid value '0' for '--timeout <DURATION>': must be between 10ms and 5m",
        ),
        (
            vec!["probe", "api.example.no", "--timeout", "0s"],
            "invalid value '0s' for '--timeout <DURATION>': must be between 10ms and 5m",
        ),
        (
            vec!["probe", "api.example.no", "--timeout", "1ms"],
            "invalid value '1ms' for '--timeout <DURATION>': must be between 10ms and 5m",
        ),
        (
            vec!["probe", "api.example.no", "--concurrency", "0"],
            "invalid value '0' for '--concurrency <N>': must be between 1 and 4096",
        ),
        (
            vec![
                "probe",
                "api.example.no",
                "--connect-to",
                "api.example.no:443:backend:443",
            ],
            "not an address",
        ),
        (
            vec![
                "--data",
                "data/skatteetaten.toml",
                "probe",
                "api.example.no",
            ],
            "`egresscheck probe` reads no data file: leave out --data",
        ),
        (
            vec!["probe", "api.example.no", "--proxy", "ftp://proxy:21"],
            "not supported",
        ),
        (
            vec!["probe", "api.example.no", "--resolver", "dns.example.no"],
            "IP:PORT",
        ),
        (
            vec![
                "probe",
                "api.example.no",
                "--ca-file",
                "/nonexistent/ca.pem",
            ],
            "--ca-file",
        ),
        (
            vec!["probe", "api.example.no", "--family", "5"],
            "invalid value",
        ),
        (vec!["probe"], "required"),
    ] {
        let (code, stdout, stderr) = run_text(egresscheck().args(&args));
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn the_table_shows_dns_targets_certificate_and_a_summary() {
    let ca = TestCa::new("Egress Test Root CA");
    let server = TlsServer::builder(ca.valid(&["api.egress.test"]))
        .bind(loopback(71))
        .alpn(&["h2"])
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(71), 300)
        .start();
    let target = format!("api.egress.test:{}", server.port());
    let (code, table, stderr) = run_text(
        probe_table(&dns, &[&target])
            .args(["--family", "4", "--ca-file"])
            .arg(ca.pem_file()),
    );
    assert_eq!(code, 0, "{table}{stderr}");
    for needle in [
        "api.egress.test",
        "127.0.0.71 (TTL 300)",
        "open",
        "TLSv1.3",
        "ALPN h2",
        "public yes, system yes",
        "certificate served by 127.0.0.71",
        "subject   CN=api.egress.test",
        "issuer",
        "Egress Test Root CA",
        "sha256",
        "1 target: 1 passed, 0 failed",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
    assert!(!table.contains('\x1b'), "no colour when not a terminal");

    // At the width of a narrow terminal: every line fits, names and addresses whole.
    let (code, narrow, stderr) = run_text(
        probe_table(&dns, &[&target])
            .args(["--family", "4", "--ca-file"])
            .arg(ca.pem_file())
            .env("COLUMNS", "72"),
    );
    assert_eq!(code, 0, "{narrow}{stderr}");
    // (A SHA-256 fingerprint is one word: never broken, it may run past the edge.)
    for line in narrow.lines().filter(|l| !l.contains("sha256")) {
        assert!(line.chars().count() <= 72, "{line}\n{narrow}");
    }
    assert!(narrow.contains("public yes, system yes"), "{narrow}");
    for whole in [
        "api.egress.test",
        "127.0.0.71",
        "(columns left out for the width: origin, TLS;",
    ] {
        assert!(narrow.contains(whole), "{whole}\n{narrow}");
    }
}

#[test]
fn connect_to_tests_a_name_at_a_given_address_without_asking_dns() {
    let ca = TestCa::new("Egress Test Root CA");
    let server = TlsServer::builder(ca.valid(&["api.egress.test"]))
        .bind(loopback(72))
        .start();
    // DNS points the name somewhere else entirely: it must not be asked.
    let dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(73), 300)
        .start();
    let rule = format!("api.egress.test:443:127.0.0.72:{}", server.port());
    let run = super::run_json(
        super::probe(&dns, &["api.egress.test"])
            .args(["--connect-to", &rule, "--ca-file"])
            .arg(ca.pem_file()),
    );
    assert_eq!(run.code, 0, "{}{}", run.json, run.stderr);
    let target = run.target("api.egress.test");
    assert_eq!(target["address"], "127.0.0.72");
    assert_eq!(target["port"], server.port());
    assert_eq!(target["origin"], "connect-to");
    assert_eq!(target["tls"]["hostname_match"], true);
    assert!(target["dns"].is_null(), "{target}");
    assert!(dns.queries().is_empty(), "{:?}", dns.queries());
    let connections = server.wait_for_connections(1);
    assert_eq!(connections[0].sni.as_deref(), Some("api.egress.test"));

    // The table says where the address came from, and mentions no documentation.
    let bare = "127.0.0.72";
    let (code, table, stderr) = run_text(
        probe_table(&dns, &[&format!("api.egress.test:{}", server.port())])
            .args(["--connect-to", bare, "--ca-file"])
            .arg(ca.pem_file()),
    );
    assert_eq!(code, 0, "{table}{stderr}");
    for needle in [
        "DNS     not asked: --connect-to gives the address",
        "connect-to",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
    assert!(!table.contains("document"), "{table}");

    // Without a rule for its port, a name that does not resolve says how to give one.
    let (code, table, _) = run_text(&mut probe_table(&dns, &["missing.egress.test"]));
    assert_eq!(code, 1);
    assert!(
        table.contains("--connect-to missing.egress.test:443:ADDRESS:"),
        "{table}"
    );
    assert!(!table.contains("document"), "{table}");
}
