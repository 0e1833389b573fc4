//! HTTP after TLS (`http-unexpected`) and the server's clock (`clock-skew`): TLS servers that
//! answer one HTTP request with a chosen status, headers, body and `Date`.

use std::net::{IpAddr, Ipv4Addr};

use super::{Lab, Site, assert_every_format, codes, findings, leaf, targets};
use crate::support::pki::TestCa;
use crate::support::tls::{HttpAnswer, HttpDate, TlsServer};

const METADATA: &str = r#"{ path = "/.well-known/oauth-authorization-server", expect_status = [200], expect_json_key = "issuer" }"#;
const ANY: &str = r#"{ path = "/" }"#;
const ISSUER_JSON: &str =
    r#"{"issuer":"https://auth.egress.test/","token_endpoint":"https://auth.egress.test/token"}"#;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 15, last))
}

fn serve(ca: &TestCa, name: &str, last: u8, answer: HttpAnswer) -> TlsServer {
    TlsServer::builder(leaf(ca, name))
        .bind(ip(last))
        .alpn(&["h2", "http/1.1"])
        .http(answer)
        .start()
}

fn site<'a>(host: &'a str, server: &TlsServer, http: &'a str) -> Site<'a> {
    Site {
        host,
        ip: server.addr().ip(),
        port: server.port(),
        http: Some(http),
    }
}

#[test]
fn the_provider_answering_as_the_data_expects_passes_and_is_recorded() {
    let ca = TestCa::new("Egress Public Root CA");
    let server = serve(
        &ca,
        "auth.egress.test",
        1,
        HttpAnswer::json(ISSUER_JSON).header("Server: nginx"),
    );
    let lab = Lab::new(ca, &[site("auth.egress.test", &server, METADATA)]);
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 0, "{report}");
    assert!(codes(&report).is_empty(), "{report}");
    let target = targets(&report, "auth.egress.test")[0];
    let http = &target["http"];
    assert_eq!(http["method"], "GET");
    assert_eq!(http["path"], "/.well-known/oauth-authorization-server");
    assert_eq!(http["status"], 200);
    assert_eq!(http["server"], "nginx");
    assert_eq!(http["content_type"], "application/json");
    assert_eq!(
        http["json_keys"],
        serde_json::json!(["issuer", "token_endpoint"])
    );
    assert!(http["ms"].as_f64().unwrap() > 0.0, "{http}");
    assert_eq!(http["clock"]["skew_min_seconds"], 0.0, "{http}");
    assert!(http["date"].as_str().unwrap().ends_with(" GMT"), "{http}");
    // The server saw one request over a connection that offered HTTP/1.1 only.
    let seen = server.wait_for_connections(1);
    assert_eq!(seen[0].alpn_offered, vec!["http/1.1"]);
    let request = seen[0].http.as_ref().expect("a request");
    assert_eq!(
        request.request_line,
        "GET /.well-known/oauth-authorization-server HTTP/1.1"
    );
    assert_eq!(
        request.header("host").unwrap(),
        format!("auth.egress.test:{}", server.port())
    );
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("egresscheck/")
    );
    // Metrics carry the status and the time.
    let out = lab.command(&["--format", "prometheus"]).output().unwrap();
    let metrics = String::from_utf8_lossy(&out.stdout);
    let labels = format!(
        "{{environment=\"prod\",service=\"api\",host=\"auth.egress.test\",address=\"{}\",port=\"{}\"}}",
        server.addr().ip(),
        server.port()
    );
    assert!(
        metrics.contains(&format!("egresscheck_http_status_code{labels} 200")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("egresscheck_http_request_seconds{labels} ")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("egresscheck_clock_skew_seconds{labels} ")),
        "{metrics}"
    );
    // The table shows the status.
    let out = lab.command(&[]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("HTTP"), "{table}");
    assert!(table.contains("200 "), "{table}");
}

#[test]
fn a_proxy_block_page_behind_interception_is_http_unexpected_in_every_format() {
    // A TLS-inspecting proxy: its CA is in this host's store only, and it answers with its
    // own page.
    let public = TestCa::new("Egress Public Root CA");
    let middlebox = TestCa::new("Corporate Inspection CA");
    let page = "<!DOCTYPE html>\n<html><head><title>Access Denied by Corporate Policy</title></head><body>URL category: Uncategorized</body></html>";
    let server = TlsServer::builder(leaf(&middlebox, "blocked.egress.test"))
        .bind(ip(2))
        .http(
            HttpAnswer::new(403, page)
                .header("Content-Type: text/html")
                .header("Via: 1.1 gateway.corp.example (squid/6.1)"),
        )
        .start();
    let lab = Lab::with_system_ca(
        public,
        middlebox,
        &[site("blocked.egress.test", &server, METADATA)],
    );
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "{report}");
    assert_eq!(codes(&report), vec!["http-unexpected", "tls-intercepted"]);
    let message = findings(&report, "http-unexpected")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    for part in [
        "answered 403",
        "status 403, expected 200",
        "an HTML page where JSON with `issuer` was expected",
        "Access Denied by Corporate Policy",
        "a proxy or gateway answered instead of the provider",
        "Via: 1.1 gateway.corp.example (squid/6.1)",
        "exclude it from TLS inspection",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    let http = &targets(&report, "blocked.egress.test")[0]["http"];
    assert_eq!(
        http["proxy_headers"],
        serde_json::json!(["Via: 1.1 gateway.corp.example (squid/6.1)"])
    );
    assert_eq!(http["html_title"], "Access Denied by Corporate Policy");
    assert_eq!(http["body_first_line"], "<!DOCTYPE html>");
    assert_eq!(http["json_keys"], serde_json::Value::Null);
    assert_every_format(
        &lab,
        &[],
        "http-unexpected",
        "fail",
        "Access Denied by Corporate Policy",
    );
}

#[test]
fn each_way_an_answer_can_be_wrong_is_said() {
    let ca = TestCa::new("Egress Public Root CA");
    let unavailable = serve(
        &ca,
        "unavailable.egress.test",
        11,
        HttpAnswer::new(503, ISSUER_JSON).header("Content-Type: application/json"),
    );
    let login = serve(
        &ca,
        "login.egress.test",
        12,
        HttpAnswer::new(200, "<html><title>Sign in</title></html>")
            .header("Content-Type: text/html; charset=utf-8"),
    );
    let keyless = serve(
        &ca,
        "keyless.egress.test",
        13,
        HttpAnswer::json(r#"{"error":"not here"}"#),
    );
    let anything = serve(
        &ca,
        "api.egress.test",
        14,
        HttpAnswer::new(404, "Not Found\n").header("Server: Kestrel"),
    );
    let headerless = serve(
        &ca,
        "headerless.egress.test",
        15,
        HttpAnswer::new(200, "ok"),
    );
    let squid = serve(
        &ca,
        "squid.egress.test",
        16,
        HttpAnswer::new(403, "ERR_ACCESS_DENIED\n").header("X-Squid-Error: ERR_ACCESS_DENIED 0"),
    );
    let header_check = r#"{ path = "/health", expect_header = "X-Request-Id" }"#;
    let lab = Lab::new(
        ca,
        &[
            site("unavailable.egress.test", &unavailable, METADATA),
            site("login.egress.test", &login, METADATA),
            site("keyless.egress.test", &keyless, METADATA),
            site("api.egress.test", &anything, ANY),
            site("headerless.egress.test", &headerless, header_check),
            site("squid.egress.test", &squid, ANY),
        ],
    );
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "{report}");
    let said = |host: &str| -> String {
        let found: Vec<String> = findings(&report, "http-unexpected")
            .iter()
            .filter(|f| f["host"] == host)
            .map(|f| f["message"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(found.len(), 1, "{host}: {found:?}");
        found[0].clone()
    };
    assert!(said("unavailable.egress.test").contains("status 503, expected 200"));
    let login = said("login.egress.test");
    assert!(
        login.contains("an HTML page where JSON with `issuer` was expected"),
        "{login}"
    );
    assert!(login.contains("(\"Sign in\")"), "{login}");
    assert!(said("keyless.egress.test").contains("a JSON object without `issuer`"));
    assert!(said("headerless.egress.test").contains("no `x-request-id` header"));
    let squid = said("squid.egress.test");
    assert!(
        squid.contains("X-Squid-Error: ERR_ACCESS_DENIED 0"),
        "a proxy's error header marks a block page even behind a trusted certificate: {squid}"
    );
    // Any HTTP answer is what the data asks of api.egress.test: recorded, no finding.
    assert!(
        findings(&report, "http-unexpected")
            .iter()
            .all(|f| f["host"] != "api.egress.test")
    );
    let http = &targets(&report, "api.egress.test")[0]["http"];
    assert_eq!(http["status"], 404);
    assert_eq!(http["server"], "Kestrel");
    assert_eq!(http["body_first_line"], "Not Found");
    let request = headerless.wait_for_connections(1)[0].http.clone().unwrap();
    assert_eq!(request.request_line, "GET /health HTTP/1.1");
}

#[test]
fn no_complete_answer_after_tls_is_http_unexpected() {
    let ca = TestCa::new("Egress Public Root CA");
    let server = serve(&ca, "cut.egress.test", 21, HttpAnswer::hang_up());
    let lab = Lab::new(ca, &[site("cut.egress.test", &server, ANY)]);
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "{report}");
    let message = findings(&report, "http-unexpected")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("got no complete HTTP answer"), "{message}");
    let http = &targets(&report, "cut.egress.test")[0]["http"];
    assert_eq!(http["failure"], "closed", "{http}");
    assert_eq!(http["status"], serde_json::Value::Null);
}

#[test]
fn answers_are_read_within_their_bounds() {
    let ca = TestCa::new("Egress Public Root CA");
    let huge_header = format!("X-Padding: {}", "a".repeat(100 * 1024));
    let header = serve(
        &ca,
        "header.egress.test",
        31,
        HttpAnswer::new(200, "ok").header(&huge_header),
    );
    let body = "b".repeat(1 << 20);
    let big = serve(&ca, "body.egress.test", 32, HttpAnswer::new(200, &body));
    let lab = Lab::new(
        ca,
        &[
            site("header.egress.test", &header, ANY),
            site("body.egress.test", &big, ANY),
        ],
    );
    let (_, report) = lab.json(&[]);
    let http = &targets(&report, "header.egress.test")[0]["http"];
    assert_eq!(http["failure"], "too-large", "{http}");
    assert!(
        findings(&report, "http-unexpected")
            .iter()
            .any(|f| f["host"] == "header.egress.test"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("larger than 65536 bytes")),
        "{report}"
    );
    let http = &targets(&report, "body.egress.test")[0]["http"];
    assert_eq!(http["status"], 200);
    assert_eq!(http["body_bytes"], 65536, "the default bound");
    assert_eq!(http["body_truncated"], true);
    let (_, report) = lab.json(&["--max-http-bytes", "2048", "--host", "body.egress.test"]);
    let http = &targets(&report, "body.egress.test")[0]["http"];
    assert_eq!(http["body_bytes"], 2048);
    let out = lab.command(&["--max-http-bytes", "10"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "invalid value '10' for '--max-http-bytes <BYTES>': must be between 1024 and 16777216"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_http_sends_no_request() {
    let ca = TestCa::new("Egress Public Root CA");
    let server = serve(&ca, "quiet.egress.test", 41, HttpAnswer::json(ISSUER_JSON));
    let lab = Lab::new(ca, &[site("quiet.egress.test", &server, METADATA)]);
    let (exit, report) = lab.json(&["--no-http"]);
    assert_eq!(exit, 0, "{report}");
    let target = targets(&report, "quiet.egress.test")[0];
    assert!(target.get("http").is_none(), "{target}");
    let seen = server.wait_for_connections(1);
    assert_eq!(seen[0].http, None, "no request reached the server");
    assert_eq!(seen[0].alpn_offered, vec!["h2", "http/1.1"]);
}

#[test]
fn clock_skew_fails_beyond_ten_seconds_and_warns_beyond_five() {
    let ca = TestCa::new("Egress Public Root CA");
    let ahead = serve(
        &ca,
        "ahead.egress.test",
        51,
        HttpAnswer::json(ISSUER_JSON).date(HttpDate::Offset(25)),
    );
    let behind = serve(
        &ca,
        "behind.egress.test",
        52,
        HttpAnswer::json(ISSUER_JSON).date(HttpDate::Offset(-8)),
    );
    let on_time = serve(&ca, "ontime.egress.test", 53, HttpAnswer::json(ISSUER_JSON));
    let dateless = serve(
        &ca,
        "dateless.egress.test",
        54,
        HttpAnswer::json(ISSUER_JSON).date(HttpDate::Omitted),
    );
    let obsolete = serve(
        &ca,
        "obsolete.egress.test",
        55,
        HttpAnswer::json(ISSUER_JSON).date(HttpDate::Raw("Sun Nov  6 08:49:37 1994".into())),
    );
    let lab = Lab::new(
        ca,
        &[
            site("ahead.egress.test", &ahead, METADATA),
            site("behind.egress.test", &behind, METADATA),
            site("ontime.egress.test", &on_time, METADATA),
            site("dateless.egress.test", &dateless, METADATA),
            site("obsolete.egress.test", &obsolete, METADATA),
        ],
    );
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "{report}");
    let skew: Vec<(String, String)> = findings(&report, "clock-skew")
        .iter()
        .map(|f| {
            (
                f["host"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        skew.contains(&("ahead.egress.test".into(), "fail".into())),
        "{skew:?}"
    );
    assert!(
        skew.contains(&("behind.egress.test".into(), "warn".into())),
        "{skew:?}"
    );
    // A server 31 years behind (an asctime Date, which HTTP allows) is as skewed as it gets.
    assert!(
        skew.contains(&("obsolete.egress.test".into(), "fail".into())),
        "{skew:?}"
    );
    assert_eq!(skew.len(), 3, "{skew:?}");
    let ahead_message = findings(&report, "clock-skew")
        .iter()
        .find(|f| f["host"] == "ahead.egress.test")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        ahead_message.contains("s behind ahead.egress.test's"),
        "{ahead_message}"
    );
    assert!(ahead_message.contains("Maskinporten"), "{ahead_message}");
    let clock = &targets(&report, "ahead.egress.test")[0]["http"]["clock"];
    let at_least = clock["skew_min_seconds"].as_f64().unwrap();
    assert!((23.0..=25.0).contains(&at_least), "{clock}");
    assert!(
        targets(&report, "dateless.egress.test")[0]["http"]["clock"].is_null(),
        "no Date, no reading"
    );
    // Each severity in every format, on its own.
    assert_every_format(
        &lab,
        &["--host", "ahead.egress.test"],
        "clock-skew",
        "fail",
        "synchronise it with NTP",
    );
    assert_every_format(
        &lab,
        &["--host", "behind.egress.test"],
        "clock-skew",
        "warn",
        "s ahead of behind.egress.test's",
    );
    // --strict makes the warning fail; the thresholds move with their flags.
    let strict = lab
        .command(&["--host", "behind.egress.test", "--strict"])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
    let (exit, report) = lab.json(&["--host", "ahead.egress.test", "--clock-skew-fail", "60s"]);
    assert_eq!(exit, 0, "{report}");
    assert_eq!(findings(&report, "clock-skew")[0]["severity"], "warn");
    let (_, report) = lab.json(&["--host", "behind.egress.test", "--clock-skew-warn", "9s"]);
    assert!(findings(&report, "clock-skew").is_empty(), "{report}");
    let bad = lab
        .command(&["--clock-skew-warn", "20s", "--clock-skew-fail", "10s"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--clock-skew-warn 20s: must not exceed --clock-skew-fail (10s)"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn http_checks_are_validated_where_they_are_written() {
    let base = crate::support::data::data_file(&[crate::support::data::Endpoint {
        host: "api.egress.test",
        address: None,
        port: 443,
    }]);
    let cases = [
        (
            r#"{ method = "POST", path = "/" }"#,
            "expected \"GET\" or \"HEAD\"",
        ),
        (r#"{ path = "relative" }"#, "a path starts with /"),
        (r#"{ path = "/a b" }"#, "percent-encode it"),
        (
            r#"{ path = "/", expect_status = [200, 99] }"#,
            "found 99, expected an HTTP status from 100 to 599",
        ),
        (
            r#"{ path = "/", expect_status = [200, 200] }"#,
            "found 200 twice",
        ),
        (
            r#"{ path = "/", expect_header = "bad header" }"#,
            "expected a header name",
        ),
        (
            r#"{ method = "HEAD", path = "/", expect_json_key = "issuer" }"#,
            "HEAD request, whose answer has no body",
        ),
        (
            r#"{ path = "/", expect_json_key = "" }"#,
            "expect_json_key: found an empty text",
        ),
        (
            r#"{ path = "/", expected_status = [200] }"#,
            "unknown field",
        ),
    ];
    for (check, expected) in cases {
        let text = crate::support::data::with_http(&base, "api.egress.test", check);
        let err = egresscheck::catalog::load_str(&text, "lab.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{check}: {err}");
        assert!(err.contains("lab.toml:"), "{check}: a place: {err}");
    }
    let good = crate::support::data::with_http(
        &base,
        "api.egress.test",
        r#"{ method = "HEAD", path = "/ping?x=1", expect_status = [204], expect_header = "X-Request-Id" }"#,
    );
    let catalog = egresscheck::catalog::load_str(&good, "lab.toml").unwrap();
    let check = catalog.endpoints[0].http.as_ref().unwrap();
    assert_eq!(check.method.as_str(), "HEAD");
    assert_eq!(check.expect_header.as_deref(), Some("x-request-id"));
}
