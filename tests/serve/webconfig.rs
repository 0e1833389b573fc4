//! `--web.config.file`: TLS and basic authentication as exporter-toolkit configures them.

use super::{GOOD, Lab, TIMEOUT};
use crate::support::exporter::Exporter;

#[test]
fn tls_and_basic_auth_protect_every_endpoint() {
    let lab = Lab::on(91);
    let server_ca = server_certificate(&lab);
    let hash = bcrypt::hash("s3cret pass", 4).unwrap();
    let config = lab.dir.path().join("web.yml");
    // Relative file names: taken from the configuration's directory, as the toolkit does.
    std::fs::write(
        &config,
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  min_version: TLS12\nbasic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
        ),
    )
    .unwrap();
    let exporter: Exporter = lab.exporter(&["--web.config.file", config.to_str().unwrap()]);
    let listening = exporter.wait_for_log("listening", std::time::Duration::from_secs(5));
    assert_eq!(listening["tls"], true);
    assert_eq!(listening["basic_auth"], true);
    let ca = server_ca.root_pem();
    use base64::Engine as _;
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };

    plain_http_gets_no_answer(&exporter);

    for path in [
        "/-/healthy",
        "/metrics",
        "/",
        &format!("/probe?host={GOOD}"),
    ] {
        let answer = exporter.get_tls(path, &[], ca, None).unwrap();
        assert_eq!(answer.status, 401, "{path}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"egresscheck\"")
        );
        let wrong = basic("prometheus", "guess");
        let answer = exporter
            .get_tls(path, &[("Authorization", &wrong)], ca, None)
            .unwrap();
        assert_eq!(answer.status, 401, "{path}");
        let unknown = basic("someone", "s3cret pass");
        let answer = exporter
            .get_tls(path, &[("Authorization", &unknown)], ca, None)
            .unwrap();
        assert_eq!(answer.status, 401, "{path}");
    }
    // Refused requests probed nothing.
    assert!(lab.dns.queries().is_empty());

    let right = basic("prometheus", "s3cret pass");
    let answer = exporter
        .get_tls(
            &format!("/probe?host={GOOD}"),
            &[("Authorization", &right), (TIMEOUT, "10")],
            ca,
            None,
        )
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.sample("egresscheck_probe_success", &[]), Some(1.0));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    // A client that does not trust the exporter's CA does not get through.
    let other = crate::support::pki::TestCa::new("Someone Else");
    assert!(
        exporter
            .get_tls(
                "/-/healthy",
                &[("Authorization", &right)],
                other.root_pem(),
                None
            )
            .is_err()
    );
}

/// Writes the exporter's server certificate into the lab's directory and returns its CA.
fn server_certificate(lab: &Lab) -> crate::support::pki::TestCa {
    let server_ca = crate::support::pki::TestCa::new("Exporter Server CA");
    let leaf = server_ca.valid(&["exporter.egress.test"]);
    std::fs::write(lab.dir.path().join("server.pem"), leaf.chain_pem()).unwrap();
    std::fs::write(lab.dir.path().join("server-key.pem"), leaf.key_pem()).unwrap();
    server_ca
}

/// Writes `text` as the web configuration and starts the exporter with it.
fn exporter_with(lab: &Lab, text: &str) -> Exporter {
    let config = lab.dir.path().join("web.yml");
    std::fs::write(&config, text).unwrap();
    let exporter: Exporter = lab.exporter(&["--web.config.file", config.to_str().unwrap()]);
    exporter.wait_for_log("listening", std::time::Duration::from_secs(5));
    exporter
}

#[test]
fn tls_alone_serves_every_endpoint_over_tls_only() {
    let lab = Lab::on(146);
    let server_ca = server_certificate(&lab);
    let exporter = exporter_with(
        &lab,
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n",
    );
    let ca = server_ca.root_pem();
    for path in ["/-/healthy", "/metrics", "/"] {
        let answer = exporter.get_tls(path, &[], ca, None).unwrap();
        assert_eq!(answer.status, 200, "{path}");
    }
    let answer = exporter
        .get_tls(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "10")], ca, None)
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.sample("egresscheck_probe_success", &[]), Some(1.0));
    plain_http_gets_no_answer(&exporter);
}

/// Plain HTTP to a TLS port: no answer.
fn plain_http_gets_no_answer(exporter: &Exporter) {
    let mut plain = std::net::TcpStream::connect(exporter.addr).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let answer = crate::support::exporter::exchange(&mut plain, "GET", "/-/healthy", &[]);
    assert_ne!(answer.status, 200);
}

#[test]
fn basic_auth_alone_guards_every_endpoint_over_plain_http() {
    let lab = Lab::on(151);
    let hash = bcrypt::hash("s3cret pass", 4).unwrap();
    let exporter = exporter_with(&lab, &format!("basic_auth_users:\n  prometheus: {hash}\n"));
    use base64::Engine as _;
    let basic = |password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{password}"))
        )
    };
    for path in [
        "/-/healthy",
        "/metrics",
        "/",
        &format!("/probe?host={GOOD}"),
    ] {
        assert_eq!(exporter.get(path, &[]).status, 401, "{path}");
        let wrong = basic("guess");
        assert_eq!(
            exporter.get(path, &[("Authorization", &wrong)]).status,
            401,
            "{path}"
        );
    }
    assert!(lab.dns.queries().is_empty(), "a refused scrape probed");
    let right = basic("s3cret pass");
    let answer = exporter.get(
        &format!("/probe?host={GOOD}"),
        &[("Authorization", &right), (TIMEOUT, "10")],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.sample("egresscheck_probe_success", &[]), Some(1.0));
}

#[test]
fn client_certificates_are_required_and_verified() {
    let lab = Lab::on(156);
    let server_ca = server_certificate(&lab);
    let client_ca = crate::support::pki::TestCa::new("Prometheus Client CA");
    std::fs::write(lab.dir.path().join("clients.pem"), client_ca.root_pem()).unwrap();
    let ours = client_ca
        .leaf(&["prometheus.egress.test"])
        .for_clients()
        .issue();
    let stranger = crate::support::pki::TestCa::new("Someone Else")
        .leaf(&["prometheus.egress.test"])
        .for_clients()
        .issue();
    let (ours_chain, ours_key) = (ours.chain_pem(), ours.key_pem());
    let (other_chain, other_key) = (stranger.chain_pem(), stranger.key_pem());
    let ca = server_ca.root_pem();
    let served = |answer: Result<crate::support::exporter::Answer, String>| matches!(answer, Ok(a) if a.status == 200);
    for (auth, without_ok) in [
        ("RequireAndVerifyClientCert", false),
        ("VerifyClientCertIfGiven", true),
    ] {
        let exporter = exporter_with(
            &lab,
            &format!(
                "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  client_ca_file: clients.pem\n  client_auth_type: {auth}\n"
            ),
        );
        let get = |client: Option<(&str, &str)>| exporter.get_tls("/-/healthy", &[], ca, client);
        assert_eq!(
            served(get(None)),
            without_ok,
            "{auth}: no client certificate"
        );
        assert!(
            served(get(Some((&ours_chain, &ours_key)))),
            "{auth}: a certificate of the client CA"
        );
        assert!(
            !served(get(Some((&other_chain, &other_key)))),
            "{auth}: a certificate of another CA"
        );
        let answer = exporter
            .get_tls(
                &format!("/probe?host={GOOD}"),
                &[(TIMEOUT, "10")],
                ca,
                Some((&ours_chain, &ours_key)),
            )
            .unwrap();
        assert_eq!(answer.sample("egresscheck_probe_success", &[]), Some(1.0));
    }
}
