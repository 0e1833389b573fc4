//! `check --client FILE`: the token step in the go-live check and in every report format.

use std::process::{Command, Output};

use super::lab::{BIN, Lab, PASSWORD, SCOPE, json, text};

/// A client file beside the lab's keystore (relative paths), asking for `scope`.
fn client_file(lab: &Lab, scope: &str) -> std::path::PathBuf {
    let (p12, pw) = lab.keystore();
    let name = |p: &std::path::Path| p.file_name().unwrap().to_str().unwrap().to_owned();
    lab.file(
        "client.toml",
        format!(
            "environment = \"test\"\nclient_id = \"client-1\"\nscopes = [\"{scope}\"]\nkeystore = \"{}\"\nkeystore_password_file = \"{}\"\n",
            name(&p12),
            name(&pw)
        )
        .as_bytes(),
    )
}

fn check(lab: &Lab, client: &std::path::Path, format: &str) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(&lab.data)
        .args(["check", "--env", "test", "--no-proxy", "--timeout", "3s"])
        .args(["--resolver", &lab.dns.resolver_arg(), "--ca-file"])
        .arg(lab.ca.pem_file())
        .arg("--client")
        .arg(client)
        .args(["--format", format])
        .env_remove("EGRESSCHECK_KEYSTORE_PASSWORD")
        .output()
        .unwrap()
}

#[test]
fn check_with_a_client_includes_the_token_step_in_every_format() {
    let lab = Lab::new("check-client", |b| b);
    let client = client_file(&lab, SCOPE);
    let out = check(&lab, &client, "json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["token"]["answer"]["outcome"], "token", "{doc}");
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "token-ok")
    );
    let table = text(&check(&lab, &client, "table"));
    assert!(
        table.contains("Token (test, client client-1") && table.contains("granted"),
        "{table}"
    );
    let metrics = text(&check(&lab, &client, "prometheus"));
    assert!(
        metrics.contains("egresscheck_findings{code=\"token-ok\",severity=\"info\"} 1"),
        "{metrics}"
    );
    let nagios = check(&lab, &client, "nagios");
    assert_eq!(nagios.status.code(), Some(0), "{}", text(&nagios));
    let junit = text(&check(&lab, &client, "junit"));
    assert!(junit.contains("<testsuite"), "{junit}");
}

#[test]
fn a_refused_token_fails_the_check_in_every_format_and_leaks_nothing() {
    let lab = Lab::new("check-refused", |b| b);
    let client = client_file(&lab, "skatteetaten:not-provisioned");
    let mut outputs = Vec::new();
    for format in ["table", "json", "prometheus", "junit", "nagios"] {
        let out = check(&lab, &client, format);
        assert_ne!(out.status.code(), Some(0), "{format}: {}", text(&out));
        let shown = text(&out);
        assert!(shown.contains("token-scope-missing"), "{format}: {shown}");
        outputs.push(shown);
    }
    let seen = lab.auth.grants();
    assert_eq!(seen.len(), 5, "one grant per run");
    for output in &outputs {
        assert!(!output.contains(PASSWORD), "{output}");
        for grant in &seen {
            let assertion = grant.body.split("assertion=").nth(1).unwrap();
            let signature = assertion.rsplit('.').next().unwrap();
            assert!(!output.contains(&signature[..40]), "{output}");
        }
    }
}

#[test]
fn a_client_file_needs_its_environment_and_its_key() {
    let lab = Lab::new("check-client-usage", |b| b);
    let bad = lab.file(
        "bad.toml",
        b"client_id = \"c\"\nscopes = [\"s\"]\nsecret = \"x\"\n",
    );
    let out = check(&lab, &bad, "table");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("secret"),
        "unknown keys are named: {}",
        text(&out)
    );
    let no_key = lab.file(
        "nokey.toml",
        b"environment = \"test\"\nclient_id = \"c\"\nscopes = [\"s\"]\n",
    );
    let out = check(&lab, &no_key, "table");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--keystore"), "{}", text(&out));
}
