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
        (
            vec!["probe", "api.example.no", "--timeout", "0"],
            "positive",
        ),
        (
            vec!["probe", "api.example.no", "--timeout", "1ms"],
            "between 10ms and 300s",
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
}
