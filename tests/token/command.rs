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
    assert!(table.contains("granted") && table.contains("token-ok"), "{table}");
}

