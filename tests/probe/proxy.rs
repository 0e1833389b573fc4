//! Through an HTTP CONNECT proxy: the proxy resolves and connects, its answers are outcomes
//! of their own, credentials and NO_PROXY work, the flag beats the environment.

use super::{loopback, probe, run_json, run_json_bounded};
use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;
use crate::support::proxy::{ProxyMode, ProxyServer};
use crate::support::tcp::ClosedPort;
use crate::support::tls::TlsServer;

#[test]
fn an_allowing_proxy_tunnels_and_resolves_for_us() {
    let ca = TestCa::new("Egress Test Root CA");
    let server = TlsServer::builder(ca.valid(&["api.egress.test"]))
        .bind(loopback(61))
        .start();
    // The proxy's DNS knows the name; ours does not, and must not be asked.
    let proxy_dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(61), 60)
        .start();
    let our_dns = DnsServer::zone("egress.test").start();
    let proxy = ProxyServer::allow().resolve_with(&proxy_dns).start();
    let target = format!("api.egress.test:{}", server.port());
    let run = run_json(
        probe(&our_dns, &[&target])
            .args(["--proxy", &proxy.url(), "--ca-file"])
            .arg(ca.pem_file()),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let report = run.target("api.egress.test");
    assert!(report["address"].is_null());
    assert!(report["dns"].is_null(), "DNS is the proxy's");
    assert_eq!(report["origin"], "proxy");
    assert_eq!(report["proxy"], proxy.addr().to_string());
    assert_eq!(report["tcp"]["state"], "open");
    assert_eq!(report["tcp"]["proxy_status"], 200);
    assert_eq!(report["tls"]["trusted_public"], true);
    assert!(our_dns.queries_for("api.egress.test").is_empty());
    let requests = proxy.wait_for_requests(1);
    assert_eq!(requests[0].method, "CONNECT");
    assert_eq!(requests[0].authority, target);
}

#[test]
fn proxy_answers_are_outcomes_of_their_own() {
    let dns = DnsServer::zone("egress.test").start();
    for (mode, state, status) in [
        (ProxyMode::Deny, "proxy-denied", Some(403)),
        (ProxyMode::Status(502), "proxy-bad-gateway", Some(502)),
        (ProxyMode::Status(503), "proxy-unavailable", Some(503)),
        (ProxyMode::Silent, "proxy-timeout", None),
    ] {
        let proxy = ProxyServer::builder(mode.clone()).start();
        let run = run_json(probe(&dns, &["api.egress.test"]).args([
            "--proxy",
            &proxy.url(),
            "--timeout",
            "1s",
        ]));
        let report = run.target("api.egress.test");
        assert_eq!(report["tcp"]["state"], state, "{mode:?}: {report}");
        assert_eq!(
            report["tcp"]["proxy_status"],
            serde_json::json!(status),
            "{mode:?}"
        );
        assert!(report["tcp"]["message"].is_string(), "{report}");
        assert!(report["tls"].is_null());
        assert_eq!(run.code, 1);
    }
}

#[test]
fn credentials_come_from_the_url_and_the_environment_is_honoured() {
    let ca = TestCa::new("Egress Test Root CA");
    let server = TlsServer::builder(ca.valid(&["api.egress.test"]))
        .bind(loopback(62))
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(62), 60)
        .start();
    let proxy = ProxyServer::require_auth("egress", "s3cret")
        .resolve_with(&dns)
        .start();
    let target = format!("api.egress.test:{}", server.port());
    // No credentials: 407.
    let run = run_json(probe(&dns, &[&target]).args(["--proxy", &proxy.url()]));
    assert_eq!(
        run.target("api.egress.test")["tcp"]["state"],
        "proxy-auth-required"
    );
    // Credentials in HTTPS_PROXY.
    let run = run_json(
        probe(&dns, &[&target])
            .env("HTTPS_PROXY", proxy.url_with("egress", "s3cret"))
            .arg("--ca-file")
            .arg(ca.pem_file()),
    );
    assert_eq!(run.code, 0, "{}", run.json);
    assert!(
        !run.json.to_string().contains("s3cret"),
        "credentials never shown"
    );
    let requests = proxy.wait_for_requests(2);
    assert!(
        requests
            .iter()
            .any(|r| r.auth_present() && r.status == Some(200))
    );
}

#[test]
fn no_proxy_and_the_no_proxy_flag_bypass_the_proxy_and_the_flag_beats_the_environment() {
    let closed = ClosedPort::on(loopback(63));
    let dns = DnsServer::zone("egress.test")
        .addr("api.egress.test", loopback(63), 60)
        .start();
    let denying = ProxyServer::builder(ProxyMode::Deny).start();
    let target = format!("api.egress.test:{}", closed.addr().port());
    let direct_state = |run: &super::Run| run.target("api.egress.test")["tcp"]["state"].clone();
    // NO_PROXY lists the domain: direct (and refused, since nothing listens).
    let run = run_json(
        probe(&dns, &[&target])
            .args(["--family", "4"])
            .env("HTTPS_PROXY", denying.url())
            .env("NO_PROXY", ".egress.test"),
    );
    assert_eq!(direct_state(&run), "refused");
    // --no-proxy ignores HTTPS_PROXY.
    let run = run_json(
        probe(&dns, &[&target])
            .args(["--family", "4", "--no-proxy"])
            .env("HTTPS_PROXY", denying.url()),
    );
    assert_eq!(direct_state(&run), "refused");
    // The environment alone: the proxy is used.
    let run = run_json(probe(&dns, &[&target]).env("HTTPS_PROXY", denying.url()));
    assert_eq!(direct_state(&run), "proxy-denied");
    // --proxy beats HTTPS_PROXY.
    let other = ProxyServer::builder(ProxyMode::Status(503)).start();
    let run = run_json(
        probe(&dns, &[&target])
            .args(["--proxy", &other.url()])
            .env("HTTPS_PROXY", denying.url()),
    );
    assert_eq!(direct_state(&run), "proxy-unavailable");
}

#[test]
fn a_proxy_that_answers_200_then_garbage_fails_tls_not_the_run() {
    let dns = DnsServer::zone("egress.test").start();
    let proxy = ProxyServer::builder(ProxyMode::OkThenGarbage(1 << 20)).start();
    let run = run_json_bounded(
        probe(&dns, &["api.egress.test"]).args(["--proxy", &proxy.url(), "--timeout", "2s"]),
        "a proxy that answers 200, then garbage",
    );
    let report = run.target("api.egress.test");
    assert_eq!(report["tcp"]["state"], "open");
    assert_eq!(report["tls"]["ok"], false);
    assert_eq!(report["tls"]["failure"], "not-tls", "{report}");
}
