//! The test authorization server validates grants as Digdir specifies, checked with a plain
//! tokio-rustls client and grants built by hand around `egresscheck::token::grant`.

use std::sync::Arc;

use chrono::Utc;
use egresscheck::token::grant::{self, GrantAlgorithm, GrantClaims, GrantRequest};
use egresscheck::token::keys::{self, KeySource};
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::support::authserver::{AuthServer, TestClient};
use crate::support::enterprise::{EnterpriseCa, Pkcs12Kind, Subject};
use crate::support::pki::TestCa;

const HOST: &str = "auth.egress.test";

/// One HTTPS request to the server (the test CA trusted), the status and JSON body back.
async fn call(
    server: &AuthServer,
    ca: &TestCa,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Value) {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(ca.root_store())
    .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(HOST).unwrap(), tcp)
        .await
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {HOST}:{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr().port(),
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

fn form(jwt: &str) -> String {
    format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}")
}

struct Lab {
    ca: TestCa,
    server: AuthServer,
    key: keys::ClientKey,
    _dir: tempfile::TempDir,
}

fn lab(
    tweak: impl FnOnce(
        crate::support::authserver::AuthServerBuilder,
    ) -> crate::support::authserver::AuthServerBuilder,
) -> Lab {
    let ca = TestCa::new("Egress Test Root CA");
    let enterprise_ca = EnterpriseCa::test();
    let cert = enterprise_ca.issue(Subject::org("910753614"));
    let dir = tempfile::tempdir().unwrap();
    let p12 = cert.write_pkcs12(dir.path(), "pw", Pkcs12Kind::OpenSsl3);
    let key = keys::load(&KeySource::Keystore {
        path: p12,
        password: keys::Secret::new("pw".into()),
    })
    .unwrap();
    let server = tweak(
        AuthServer::builder(ca.valid(&[HOST]))
            .client(TestClient::new("client-1", "910753614").scopes(&["skatteetaten:a"]))
            .accept_ca(enterprise_ca.name()),
    )
    .start();
    Lab {
        ca,
        server,
        key,
        _dir: dir,
    }
}

fn claims(lab: &Lab, scope: &str) -> GrantClaims {
    grant::claims(
        &GrantRequest {
            client_id: "client-1".into(),
            scopes: vec![scope.into()],
            audience: lab.server.issuer(HOST),
            resource: None,
            consumer_org: None,
            algorithm: GrantAlgorithm::RS256,
        },
        Utc::now(),
    )
    .unwrap()
}

#[tokio::test]
async fn metadata_names_the_issuer_and_token_endpoint() {
    let lab = lab(|b| b);
    let (status, doc) = call(
        &lab.server,
        &lab.ca,
        "GET",
        "/.well-known/oauth-authorization-server",
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], lab.server.issuer(HOST));
    assert_eq!(
        doc["token_endpoint"],
        format!("{}token", lab.server.issuer(HOST))
    );
    let (status, jwks) = call(&lab.server, &lab.ca, "GET", "/jwks", "").await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kty"], "EC");
}

#[tokio::test]
async fn a_valid_grant_gets_a_token_and_a_replay_does_not() {
    let lab = lab(|b| b);
    let signed = grant::sign(
        &lab.key,
        claims(&lab, "skatteetaten:a"),
        GrantAlgorithm::RS384,
    )
    .unwrap();
    let (status, doc) = call(&lab.server, &lab.ca, "POST", "/token", &form(&signed.jwt)).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["scope"], "skatteetaten:a");
    let seen = &lab.server.grants()[0];
    assert_eq!(seen.header["alg"], "RS384");
    assert_eq!(seen.header["x5c"].as_array().unwrap().len(), 2);
    let (status, doc) = call(&lab.server, &lab.ca, "POST", "/token", &form(&signed.jwt)).await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        doc["error_description"]
            .as_str()
            .unwrap()
            .contains("MP-012")
    );
}

#[tokio::test]
async fn each_rule_of_the_specification_is_enforced() {
    let lab = lab(|b| b);
    let post = |c: GrantClaims| {
        let signed = grant::sign(&lab.key, c, GrantAlgorithm::RS256).unwrap();
        let body = form(&signed.jwt);
        let (server, ca) = (&lab.server, &lab.ca);
        async move { call(server, ca, "POST", "/token", &body).await }
    };
    // exp - iat > 120
    let mut c = claims(&lab, "skatteetaten:a");
    c.exp = c.iat + 121;
    assert_eq!(post(c).await.1["error"], "invalid_grant");
    // iat 30 s in the past
    let mut c = claims(&lab, "skatteetaten:a");
    c.iat -= 30;
    c.exp = c.iat + 60;
    assert!(
        post(c).await.1["error_description"]
            .as_str()
            .unwrap()
            .contains("MP-130")
    );
    // wrong audience
    let mut c = claims(&lab, "skatteetaten:a");
    c.aud = "https://maskinporten.no/".into();
    assert!(
        post(c).await.1["error_description"]
            .as_str()
            .unwrap()
            .contains("MP-110")
    );
    // unknown client
    let mut c = claims(&lab, "skatteetaten:a");
    c.iss = "nobody".into();
    assert_eq!(post(c).await.1["error"], "invalid_client");
    // a scope not on the client
    assert_eq!(
        post(claims(&lab, "skatteetaten:b")).await.1["error"],
        "invalid_scope"
    );
    // a delegation that does not exist
    let mut c = claims(&lab, "skatteetaten:a");
    c.consumer_org = Some("999999999".into());
    assert_eq!(post(c).await.1["error"], "access_denied");
    // a tampered signature
    let signed = grant::sign(
        &lab.key,
        claims(&lab, "skatteetaten:a"),
        GrantAlgorithm::RS256,
    )
    .unwrap();
    // Change one character inside the signature, not its last one: the last base64url
    // character of a 256-byte signature carries padding bits, and setting one of them makes
    // the value undecodable (MP-011) instead of a wrong signature (MP-124).
    let mut jwt = signed.jwt.to_string();
    let at = jwt.rfind('.').unwrap() + 10;
    let replacement = if jwt.as_bytes()[at] == b'A' { "B" } else { "A" };
    jwt.replace_range(at..=at, replacement);
    let (_, doc) = call(&lab.server, &lab.ca, "POST", "/token", &form(&jwt)).await;
    assert!(
        doc["error_description"]
            .as_str()
            .unwrap()
            .contains("MP-124"),
        "{doc}"
    );
}

#[tokio::test]
async fn a_production_certificate_is_refused_in_test() {
    let lab = lab(|b| b);
    let prod = EnterpriseCa::production().issue(Subject::org("910753614"));
    let dir = tempfile::tempdir().unwrap();
    let (key_file, chain_file) = prod.write_pem(dir.path());
    let key = keys::load(&KeySource::Pem {
        key: key_file,
        chain: chain_file,
    })
    .unwrap();
    let signed = grant::sign(&key, claims(&lab, "skatteetaten:a"), GrantAlgorithm::RS256).unwrap();
    let (status, doc) = call(&lab.server, &lab.ca, "POST", "/token", &form(&signed.jwt)).await;
    assert_eq!(status, 400);
    assert!(
        doc["error_description"]
            .as_str()
            .unwrap()
            .contains("MP-120"),
        "{doc}"
    );
}
