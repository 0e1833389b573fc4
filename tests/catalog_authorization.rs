//! `[[authorization_server]]`: the bundled Maskinporten entries, and every rule of the entry
//! reported with FILE:LINE:COLUMN, what was found and what was expected.

use egresscheck::catalog::{self, ApiAudience};

const MINIMAL: &str = include_str!("fixtures/minimal.toml");

/// The minimal fixture plus a token host and its authorization server.
fn with_server(entry: &str) -> String {
    format!(
        "{MINIMAL}\n[[endpoint]]\nenvironment = \"prod\"\nservice = \"api\"\nhost = \"auth.example.test\"\nports = [443]\nsource = \"page\"\n\n[[authorization_server]]\n{entry}\n"
    )
}

const GOOD: &str = r#"environment = "prod"
service = "api"
metadata_url = "https://auth.example.test/.well-known/oauth-authorization-server"
issuer = "https://auth.example.test/"
certificate_issuers = ["Example Business CA*"]
api_scope_prefixes = ["example:"]
api_audience = "unspecified"
source = "page""#;

fn problems(text: &str) -> Vec<String> {
    match catalog::load_str(text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(err) => err.diagnostics().iter().map(ToString::to_string).collect(),
    }
}

/// Exactly one problem, on the line of `at`, mentioning every word.
fn assert_one(text: &str, at: &str, words: &[&str]) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    let offset = text.find(at).expect("needle");
    let line = text[..offset].matches('\n').count() + 1;
    assert!(
        found[0].starts_with(&format!("t.toml:{line}:")),
        "{:?} should be on line {line}",
        found[0]
    );
    for word in words {
        assert!(found[0].contains(word), "{:?} lacks {word:?}", found[0]);
    }
}

#[test]
fn a_valid_entry_loads_with_every_field() {
    let c = catalog::load_str(&with_server(GOOD), "t.toml").unwrap();
    let a = &c.authorization_servers[0];
    assert_eq!(a.metadata_url.host.as_str(), "auth.example.test");
    assert_eq!(a.metadata_url.port.get(), 443);
    assert_eq!(
        a.metadata_url.path,
        "/.well-known/oauth-authorization-server"
    );
    assert_eq!(a.issuer, "https://auth.example.test/");
    assert_eq!(a.api_audience, ApiAudience::Unspecified);
    assert_eq!(a.api_scope_prefixes, ["example:"]);
    assert!(a.certificate_issuers[0].matches("example business ca g2"));
    assert!(!a.certificate_issuers[0].matches("Other Example Business CA"));
}

#[test]
fn the_bundled_data_has_maskinporten_for_test_and_prod() {
    let c = catalog::bundled().unwrap();
    let find = |env: &str| {
        c.authorization_servers
            .iter()
            .find(|a| a.environment.as_str() == env)
            .unwrap_or_else(|| panic!("no authorization server for {env}"))
    };
    let test = find("test");
    assert_eq!(
        test.metadata_url.url,
        "https://test.maskinporten.no/.well-known/oauth-authorization-server"
    );
    assert_eq!(test.issuer, "https://test.maskinporten.no/");
    let prod = find("prod");
    assert_eq!(
        prod.metadata_url.url,
        "https://maskinporten.no/.well-known/oauth-authorization-server"
    );
    assert_eq!(prod.issuer, "https://maskinporten.no/");
    for a in [test, prod] {
        assert_eq!(a.service.as_str(), "maskinporten");
        assert_eq!(a.api_audience, ApiAudience::Unspecified);
        assert_eq!(a.api_scope_prefixes, ["skatteetaten:"]);
        let source = c.source(&a.source).unwrap();
        assert!(source.publisher.contains("Digdir"), "{source:?}");
    }
    // Test issuers are told from production ones by the most specific matching pattern.
    let best = |issuer: &str| {
        [test, prod]
            .into_iter()
            .filter_map(|a| {
                a.certificate_issuers
                    .iter()
                    .filter(|p| p.matches(issuer))
                    .map(|p| p.specificity())
                    .max()
                    .map(|s| (s, a.environment.as_str()))
            })
            .max()
            .map(|(_, env)| env)
    };
    assert_eq!(
        best("Buypass Class 3 Test4 CA G2 ST Business"),
        Some("test")
    );
    assert_eq!(best("Buypass Class 3 CA G2 ST Business"), Some("prod"));
    assert_eq!(best("Commfides Legal Person - G3 TEST"), Some("test"));
    assert_eq!(best("Commfides Legal Person - G3"), Some("prod"));
    assert_eq!(best("Let's Encrypt R3"), None);
}

#[test]
fn the_metadata_url_must_be_https_on_a_documented_host() {
    let text = with_server(&GOOD.replace(
        "https://auth.example.test/.well-known",
        "http://auth.example.test/.well-known",
    ));
    assert_one(&text, "metadata_url =", &["metadata_url", "https://"]);
    let text = with_server(&GOOD.replace(
        "https://auth.example.test/.well-known",
        "https://other.example.test/.well-known",
    ));
    assert_one(
        &text,
        "metadata_url =",
        &["other.example.test:443", "[[endpoint]]", "`prod`"],
    );
    let text = with_server(&GOOD.replace(
        "https://auth.example.test/.well-known",
        "https://auth.example.test:8443/.well-known",
    ));
    assert_one(&text, "metadata_url =", &["auth.example.test:8443"]);
    let text = with_server(&GOOD.replace(
        "https://auth.example.test/.well-known",
        "https://user@auth.example.test/.well-known",
    ));
    assert_one(&text, "metadata_url =", &["no user info"]);
}

#[test]
fn the_issuer_audience_patterns_and_prefixes_are_checked() {
    let text = with_server(&GOOD.replace(
        "issuer = \"https://auth.example.test/\"",
        "issuer = \"auth.example.test\"",
    ));
    assert_one(&text, "issuer = ", &["authorization_server.issuer"]);
    let text = with_server(&GOOD.replace("\"unspecified\"", "\"none\""));
    assert_one(&text, "api_audience", &["\"none\"", "\"unspecified\""]);
    let text = with_server(&GOOD.replace("[\"Example Business CA*\"]", "[\"**\"]"));
    assert_one(
        &text,
        "certificate_issuers",
        &["certificate_issuers", "\"**\""],
    );
    let text = with_server(&GOOD.replace("[\"example:\"]", "[\"bad scope\"]"));
    assert_one(&text, "api_scope_prefixes", &["\"bad scope\""]);
}

#[test]
fn references_duplicates_and_unknown_keys_are_reported() {
    let text = with_server(&GOOD.replace("environment = \"prod\"", "environment = \"stage\""));
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.contains("authorization_server.environment") && p.contains("\"stage\"")),
        "{found:#?}"
    );
    let twice = format!(
        "{}\n\n[[authorization_server]]\n{GOOD}\n",
        with_server(GOOD)
    );
    let found = problems(&twice);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("second authorization_server"),
        "{found:#?}"
    );
    let text = with_server(&format!("{GOOD}\ntoken_url = \"https://x\""));
    let found = problems(&text);
    assert!(found.iter().any(|p| p.contains("token_url")), "{found:#?}");
}
