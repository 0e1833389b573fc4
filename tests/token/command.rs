//! `egresscheck token` against the test authorization server: a token with each kind of key,
//! and each failure with its finding and advice, in table and JSON.

use super::lab::{CLIENT, HOST, Lab, ORG, SCOPE, codes, json, strs, text};

#[test]
fn a_pkcs12_keystore_gets_a_token() {
    let lab = Lab::new("pkcs12", |b| b);
    let args = lab.keystore_args();
    let out = lab.token(&strs(&args), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["kind"], "token");
    assert_eq!(doc["verdict"], "pass");
    assert_eq!(codes(&doc), ["token-ok"]);
    let t = &doc["token"];
    assert_eq!(t["certificate"]["organisation_number"], ORG);
    assert_eq!(t["certificate"]["issued_for"], "test");
    assert_eq!(t["grant"]["alg"], "RS256");
    assert_eq!(t["grant"]["claims"]["aud"], lab.auth.issuer(HOST));
    assert_eq!(t["grant"]["claims"]["iss"], CLIENT);
    assert_eq!(t["answer"]["outcome"], "token");
    assert_eq!(t["answer"]["scopes"][0], SCOPE);
    assert_eq!(t["answer"]["consumer"]["ID"], format!("0192:{ORG}"));
    assert!(doc["path"][0]["tls"]["trusted_public"].as_bool().unwrap());
    // What the server received: x5c with the chain, exp - iat <= 120.
    let seen = lab.auth.wait_for_grants(1);
    assert_eq!(seen[0].header["x5c"].as_array().unwrap().len(), 2);
    let c = &seen[0].claims;
    assert!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() <= 120);
    assert!(seen[0].error.is_none());
    // The table says the same.
    let out = lab.token(&strs(&args), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = text(&out);
    assert!(table.contains("egresscheck token PASS"), "{table}");
    assert!(
        table.contains("granted") && table.contains("token-ok"),
        "{table}"
    );
}

#[test]
fn a_token_through_a_proxy() {
    // The proxy resolves and tunnels; the metadata and the token request both go through it.
    let lab = Lab::new("proxy", |b| b);
    let proxy = crate::support::proxy::ProxyServer::allow()
        .resolve_with(&lab.dns)
        .start();
    let args = lab.keystore_args();
    let url = proxy.url();
    let out = lab.token_via(&["--proxy", &url], &strs(&args), &["--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(codes(&doc), ["token-ok"]);
    let path = &doc["path"][0];
    assert_eq!(path["origin"], "proxy", "{path}");
    assert_eq!(path["tcp"]["proxy_status"], 200, "{path}");
    assert!(path["tls"]["trusted_public"].as_bool().unwrap(), "{path}");
    let authority = format!("{HOST}:{}", lab.auth.addr().port());
    let connects = proxy.wait_for_requests(2);
    assert!(
        connects
            .iter()
            .all(|c| c.method == "CONNECT" && c.authority == authority),
        "{connects:?}"
    );
    assert_eq!(lab.auth.wait_for_grants(1).len(), 1);
    // A proxy that refuses: the path's finding, and the token step cannot start.
    let refusing =
        crate::support::proxy::ProxyServer::builder(crate::support::proxy::ProxyMode::Deny).start();
    let url = refusing.url();
    let out = lab.token_via(&["--proxy", &url], &strs(&args), &["--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let found = codes(&json(&out));
    assert!(
        found.contains(&"proxy-denied".to_owned())
            && found.contains(&"authorization-server-unreachable".to_owned()),
        "{found:?}"
    );
}

/// Runs the lab's token command in JSON and in table form; asserts the exit code, that
/// `code` is among the JSON findings, and that both forms carry every word of `advice`.
fn expect(
    lab: &Lab,
    key: &[&str],
    more: &[&str],
    exit: i32,
    code: &str,
    advice: &[&str],
) -> serde_json::Value {
    let mut json_args = more.to_vec();
    json_args.extend(["--format", "json"]);
    let out = lab.token(key, &json_args);
    assert_eq!(out.status.code(), Some(exit), "{}", text(&out));
    let doc = json(&out);
    assert!(
        codes(&doc).iter().any(|c| c == code),
        "{code} not in {:?}",
        codes(&doc)
    );
    let messages: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    let table = text(&lab.token(key, more));
    for word in advice {
        assert!(
            messages.iter().any(|m| m.contains(word)),
            "{code}: {word:?} not in {messages:?}"
        );
        assert!(
            table.contains(word),
            "{code}: {word:?} not in the table:\n{table}"
        );
    }
    assert!(table.contains(code), "{table}");
    doc
}

/// As [`expect`] for a failure found before anything is sent: exit 1, and the server saw no
/// grant.
fn refused_before_sending(
    lab: &Lab,
    key: &[&str],
    code: &str,
    advice: &[&str],
) -> serde_json::Value {
    let doc = expect(lab, key, &[], 1, code, advice);
    assert!(lab.auth.grants().is_empty(), "nothing is sent");
    doc
}

#[test]
fn a_pem_key_with_its_chain_gets_a_token() {
    let lab = Lab::new("pem", |b| b);
    let doc = expect(
        &lab,
        &strs(&lab.pem_args()),
        &[],
        0,
        "token-ok",
        &["got a token"],
    );
    assert_eq!(doc["token"]["key_source"], "pem");
    assert_eq!(
        lab.auth.grants()[0].header["x5c"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn a_jwk_and_its_kid_get_a_token() {
    let lab = Lab::new("jwk", |b| b);
    let jwk = lab
        .cert
        .write_jwk(lab.dir.path(), "kid-1")
        .display()
        .to_string();
    let doc = expect(
        &lab,
        &["--jwk", &jwk, "--kid", "kid-1"],
        &["--algorithm", "RS512"],
        0,
        "token-ok",
        &["got a token"],
    );
    assert!(doc["token"]["certificate"].is_null());
    let seen = lab.auth.grants();
    assert_eq!(seen[0].header["kid"], "kid-1");
    assert_eq!(seen[0].header["alg"], "RS512");
    assert!(seen[0].header.get("x5c").is_none());
    // A kid the client does not have.
    let other = lab
        .cert
        .write_jwk(lab.dir.path(), "kid-9")
        .display()
        .to_string();
    expect(
        &lab,
        &["--jwk", &other, "--kid", "kid-9"],
        &[],
        1,
        "token-denied",
        &["invalid_client", "--client-id"],
    );
}

#[test]
fn a_legacy_keystore_with_the_password_from_the_environment() {
    let lab = Lab::new("legacy", |b| b);
    let p12 = lab.cert.write_pkcs12(
        lab.dir.path(),
        "env-secret-7",
        crate::support::enterprise::Pkcs12Kind::Legacy,
    );
    let p12 = p12.display().to_string();
    let out = lab.token_env(
        &["--keystore", &p12],
        &["--format", "json"],
        &[("EGRESSCHECK_KEYSTORE_PASSWORD", "env-secret-7")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(codes(&json(&out)), ["token-ok"]);
    // Without either source of the password: usage error, and no flag takes it.
    let out = lab.token(&["--keystore", &p12], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("EGRESSCHECK_KEYSTORE_PASSWORD"),
        "{}",
        text(&out)
    );
    let out = lab.token(&["--keystore", &p12, "--keystore-password", "x"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_wrong_password_is_client_key_unusable() {
    let lab = Lab::new("wrongpw", |b| b);
    let (p12, _) = lab.keystore();
    let wrong = lab.file("wrong.txt", b"not-the-password\n");
    let (p12, wrong) = (p12.display().to_string(), wrong.display().to_string());
    refused_before_sending(
        &lab,
        &["--keystore", &p12, "--keystore-password-file", &wrong],
        "client-key-unusable",
        &["password is wrong"],
    );
}

#[test]
fn a_scope_the_client_lacks_is_token_scope_missing() {
    let lab = Lab::new("scope", |b| b);
    let args = lab.keystore_args();
    let mut key = strs(&args);
    key.extend(["--scope", "skatteetaten:other"]);
    expect(
        &lab,
        &key,
        &[],
        1,
        "token-scope-missing",
        &["invalid_scope", "ask Skatteetaten"],
    );
    // A token narrower than asked, without an error, is the same finding.
    let lab = Lab::new("scope-dropped", |b| b.drop_scopes(&[SCOPE]));
    let args = lab.keystore_args();
    expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "token-scope-missing",
        &["the token lacks skatteetaten:mva"],
    );
}

#[test]
fn an_unknown_client_is_token_denied_with_advice() {
    let mut lab = Lab::new("client", |b| b);
    lab.client_id = "nobody".into();
    let args = lab.keystore_args();
    expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "token-denied",
        &["invalid_client", "--client-id", "Digdir's self-service"],
    );
    // A server that fails is token-denied too, with what it said.
    let lab = Lab::new("broken", |b| {
        b.token_status(503, "<html>Service Unavailable</html>")
    });
    let args = lab.keystore_args();
    expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "token-denied",
        &["HTTP 503", "Service Unavailable"],
    );
}

#[test]
fn a_resource_for_skatteetaten_scopes_is_token_audience_set() {
    let lab = Lab::new("resource", |b| b);
    let args = lab.keystore_args();
    let doc = expect(
        &lab,
        &strs(&args),
        &["--resource", "https://api.egress.test/"],
        1,
        "token-audience-set",
        &["do not send `resource`"],
    );
    assert_eq!(
        lab.auth.grants()[0].claims["resource"][0],
        "https://api.egress.test/"
    );
    assert_eq!(doc["token"]["answer"]["aud"][0], "https://api.egress.test/");
}

#[test]
fn a_production_certificate_in_test_is_the_wrong_environment() {
    let lab = Lab::new("prodcert", |b| b);
    let prod = crate::support::enterprise::EnterpriseCa::production()
        .issue(crate::support::enterprise::Subject::org(ORG));
    let (key, chain) = prod.write_pem(lab.dir.path());
    let (key, chain) = (key.display().to_string(), chain.display().to_string());
    let doc = expect(
        &lab,
        &["--key", &key, "--cert", &chain],
        &[],
        1,
        "certificate-wrong-environment",
        &[
            "a CA of the prod environment",
            "test enterprise certificate",
        ],
    );
    assert_eq!(doc["token"]["certificate"]["issued_for"], "prod");
    // The server refuses it as Maskinporten does (MP-120), and says so too.
    let codes = codes(&doc);
    assert!(codes.contains(&"token-denied".to_owned()), "{codes:?}");
}

#[test]
fn a_certificate_not_for_signing_stops_before_sending() {
    let subject = crate::support::enterprise::Subject::org(ORG).usages(vec![
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::DataEncipherment,
    ]);
    let lab = Lab::with_cert("notsigning", subject, |b| b);
    let args = lab.keystore_args();
    expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "certificate-not-for-signing",
        &["not for signing", "signering"],
    );
    // A key that is not the certificate's.
    let lab = Lab::new("mismatch", |b| b);
    let other = lab
        .enterprise_ca
        .issue(crate::support::enterprise::Subject::org(ORG));
    let (key, _) = other.write_pem(&lab.subdir("other"));
    let (_, chain) = lab.cert.write_pem(lab.dir.path());
    let (key, chain) = (key.display().to_string(), chain.display().to_string());
    refused_before_sending(
        &lab,
        &["--key", &key, "--cert", &chain],
        "certificate-not-for-signing",
        &["does not belong to the certificate"],
    );
}

/// A lab whose certificate is valid from `from` to `to` days from today, and its keystore
/// arguments.
fn valid_between(seed: &str, from: i64, to: i64) -> (Lab, Vec<String>) {
    let lab = Lab::with_cert(
        seed,
        crate::support::enterprise::Subject::org(ORG).days(from, to),
        |b| b,
    );
    let args = lab.keystore_args();
    (lab, args)
}

#[test]
fn an_expired_certificate_is_reported() {
    let (lab, args) = valid_between("expired", -400, -2);
    expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "certificate-expired",
        &["expired on"],
    );
}

#[test]
fn a_certificate_expiring_soon_warns_and_still_gets_a_token() {
    // Ten days left: inside the default 21-day warning, and the token still comes.
    let (lab, args) = valid_between("expiring", -700, 10);
    let doc = expect(
        &lab,
        &strs(&args),
        &[],
        0,
        "certificate-expiring",
        &["expires on", "renew it"],
    );
    assert_eq!(doc["verdict"], "warn");
    let expiring = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "certificate-expiring")
        .unwrap();
    assert_eq!(expiring["severity"], "warn");
    assert!(codes(&doc).contains(&"token-ok".to_owned()), "{doc}");
    // A warning fails only with --strict; a shorter warning period keeps it quiet.
    let out = lab.token(&strs(&args), &["--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = lab.token(&strs(&args), &["--cert-warn-days", "5", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(codes(&json(&out)), ["token-ok"]);
}

#[test]
fn a_certificate_not_yet_valid_is_reported() {
    // Valid only from the day after tomorrow: a certificate just issued, or a clock behind.
    let (lab, args) = valid_between("notyetvalid", 2, 700);
    let doc = expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "certificate-not-yet-valid",
        &["is valid only from", "check this host's clock"],
    );
    assert_eq!(doc["verdict"], "fail");
    assert!(
        !codes(&doc).contains(&"certificate-expired".to_owned()),
        "{:?}",
        codes(&doc)
    );
}

#[test]
fn an_rsa_key_under_2048_bits_is_not_for_signing() {
    let lab = Lab::with_cert(
        "rsa1024",
        crate::support::enterprise::Subject::org(ORG).rsa_bits(1024),
        |b| b,
    );
    let doc = refused_before_sending(
        &lab,
        &strs(&lab.keystore_args()),
        "certificate-not-for-signing",
        &["RSA key of 1024 bits", "at least 2048"],
    );
    assert_eq!(doc["token"]["certificate"]["rsa_bits"], 1024);
    assert!(
        !codes(&doc).contains(&"token-ok".to_owned()),
        "{:?}",
        codes(&doc)
    );
    // The same key as PEM: the same finding.
    refused_before_sending(
        &lab,
        &strs(&lab.pem_args()),
        "certificate-not-for-signing",
        &["RSA key of 1024 bits"],
    );
}

#[test]
fn a_delegation_gets_a_token_for_the_consumer_and_a_missing_one_is_denied() {
    let lab = Lab::new("delegation", |b| b.delegation("974761076", ORG, SCOPE));
    let args = lab.keystore_args();
    let doc = expect(
        &lab,
        &strs(&args),
        &["--consumer-org", "974761076"],
        0,
        "token-ok",
        &["consumer 0192:974761076", "supplier 0192:910753614"],
    );
    assert_eq!(doc["token"]["grant"]["claims"]["consumer_org"], "974761076");
    expect(
        &lab,
        &strs(&args),
        &["--consumer-org", "999999999"],
        1,
        "token-denied",
        &["Altinn"],
    );
}

#[test]
fn a_clock_off_by_thirty_seconds_is_clock_skew_and_a_refused_grant() {
    let lab = Lab::new("clock", |b| b.clock_offset(30));
    let args = lab.keystore_args();
    let doc = expect(&lab, &strs(&args), &[], 1, "clock-skew", &[]);
    let denied = expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "token-denied",
        &["synchronise this host's clock"],
    );
    assert!(
        codes(&doc).contains(&"token-denied".to_owned())
            && codes(&denied).contains(&"clock-skew".to_owned())
    );
}

#[test]
fn an_unreachable_or_untrusted_server_is_authorization_server_unreachable() {
    // Nothing listens: refused, and the token step cannot start.
    let lab = Lab::new("closed", |b| b);
    let closed = crate::support::tcp::ClosedPort::on(lab.auth.addr().ip());
    let data = super::lab::data_file(
        match lab.auth.addr().ip() {
            std::net::IpAddr::V4(v4) => v4,
            _ => unreachable!(),
        },
        closed.addr().port(),
    );
    std::fs::write(&lab.data, data).unwrap();
    let args = lab.keystore_args();
    let doc = expect(
        &lab,
        &strs(&args),
        &[],
        1,
        "authorization-server-unreachable",
        &["no usable metadata"],
    );
    assert!(
        codes(&doc).contains(&"refused".to_owned()),
        "{:?}",
        codes(&doc)
    );
    // A server this host does not trust: the metadata is read, the grant is never sent.
    let lab = Lab::new("untrusted", |b| b);
    let args = lab.keystore_args();
    let mut cmd = std::process::Command::new(super::lab::BIN);
    cmd.arg("--data")
        .arg(&lab.data)
        .args([
            "token",
            "--env",
            "test",
            "--client-id",
            CLIENT,
            "--scope",
            SCOPE,
            "--resolver",
            &lab.dns.resolver_arg(),
            "--no-proxy",
            "--format",
            "json",
        ])
        .args(strs(&args));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = json(&out);
    let found = codes(&doc);
    assert!(
        found.contains(&"certificate-untrusted".to_owned())
            && found.contains(&"authorization-server-unreachable".to_owned()),
        "{found:?}"
    );
    assert!(
        lab.auth.grants().is_empty(),
        "no grant over an untrusted connection"
    );
    let _ = HOST;
}

#[test]
fn readable_key_files_warn() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::new("perms", |b| b);
    let (p12, pw) = lab.keystore();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (p12, pw) = (p12.display().to_string(), pw.display().to_string());
    let key = [
        "--keystore",
        p12.as_str(),
        "--keystore-password-file",
        pw.as_str(),
    ];
    expect(
        &lab,
        &key,
        &[],
        0,
        "key-file-readable",
        &["every user on this machine", "chmod 600"],
    );
    let out = lab.token(&key, &["--strict"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--strict fails on the warning: {}",
        text(&out)
    );
}
