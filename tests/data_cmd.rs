//! The `data` commands end to end: the binary, its output and its exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");
const PAGE_2026: &str = "tests/fixtures/pages/skatteetaten-sikkerhet-2026-02-09.md";
const PAGE_2024: &str = "tests/fixtures/pages/skatteetaten-sikkerhet-2024-10.md";
const HISTORY_2024: &str = "data/history/skatteetaten-2024-10.toml";
const CURRENT: &str = "data/skatteetaten.toml";

/// These tests read what the tables say, not how they fold: a width that folds nothing.
const WIDE: &str = "240";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("COLUMNS", WIDE)
        .output()
        .expect("run egresscheck")
}

fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("COLUMNS", WIDE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn egresscheck");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn validate_prints_one_summary_line_for_valid_files() {
    for args in [
        vec!["data", "validate"],
        vec!["data", "validate", HISTORY_2024],
        vec!["--data", CURRENT, "data", "validate"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("valid (schema 1)") && text.contains("environments"),
            "{text}"
        );
    }
}

#[test]
fn validate_reports_located_errors_and_exits_2() {
    let bad = std::fs::read_to_string("tests/fixtures/minimal.toml")
        .unwrap()
        .replacen("ports = [443]", "ports = [0]", 1)
        .replacen(
            "host = \"old.example.test\"",
            "host = \"old..example.test\"",
            1,
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, &bad).unwrap();
    let out = run(&["data", "validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let prefix = format!("egresscheck: {}:", path.display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(
        err.contains(":36:10: endpoint.ports: found 0, expected a port from 1 to 65535"),
        "{err}"
    );
    assert!(
        err.contains("legacy.host: found \"old..example.test\": the name has an empty label"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn data_can_come_from_standard_input() {
    let text = std::fs::read("tests/fixtures/minimal.toml").unwrap();
    let out = run_with_stdin(&["--data", "-", "data", "validate"], &text);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("-: valid"), "{}", stdout(&out));
    let out = run_with_stdin(&["data", "validate", "-"], b"schema = 9\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("-:1:10: found schema 9"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn show_accepts_aliases_and_prints_json_with_a_stable_shape() {
    let out = run(&["data", "show", "--env", "Produksjon"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("20.100.51.138/32") && text.contains("api.skatteetaten.no"),
        "{text}"
    );
    assert!(
        !text.contains("51.13.21.170"),
        "test addresses must not show for prod: {text}"
    );

    let out = run(&["data", "show", "--env", "Test++", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["data"]["provider"], "Skatteetaten");
    assert_eq!(doc["data"]["version"], "2026-02-09.2");
    assert_eq!(doc["data"]["prefer_hostname_rules"], true);
    let envs = doc["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0]["id"], "test");
    let wildcard = &envs[0]["endpoints"][0];
    assert_eq!(wildcard["host"], "*.api.skatteetaten-test.no");
    assert_eq!(wildcard["wildcard"], true);
    assert_eq!(wildcard["ipv6"][0], "2a13:6201::/32");
    assert_eq!(wildcard["ports"][0], 443);
    assert_eq!(envs[0]["legacy"][0]["sunset"], "2024-10-17");
    let token = &envs[0]["authorization_servers"][0];
    assert_eq!(
        token["metadata_url"],
        "https://test.maskinporten.no/.well-known/oauth-authorization-server"
    );
    assert_eq!(token["issuer"], "https://test.maskinporten.no/");
    assert_eq!(token["api_audience"], "unspecified");
    assert_eq!(token["host"], "test.maskinporten.no");
    assert!(
        doc["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "digdir-ip")
    );

    let out = run(&["data", "show", "--env", "staging"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no such environment")
            && stderr(&out).contains("test (Test, Preprod"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn diff_from_the_2024_page_shows_the_swap_as_moves() {
    let out = run(&["data", "diff", HISTORY_2024, CURRENT]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("~ 20.100.51.138/32: test -> prod"), "{text}");
    assert!(text.contains("~ 51.13.21.170/32: prod -> test"), "{text}");
    assert!(text.contains("- subnets: 159.216.17.128/27"), "{text}");
    assert!(text.contains("+ addresses: 51.13.43.236/32"), "{text}");

    let out = run(&["data", "diff", HISTORY_2024, CURRENT, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["identical"], false);
    let moved = doc["moved"].as_array().unwrap();
    assert!(
        moved
            .iter()
            .any(|m| m["prefix"] == "20.100.51.138/32" && m["from"] == "test" && m["to"] == "prod"),
        "{moved:?}"
    );
    assert!(
        moved
            .iter()
            .any(|m| m["covered_by"] == "2a13:6200::/32" && m["from"] == "test"),
        "{moved:?}"
    );
}

#[test]
fn diff_of_identical_tables_exits_0_and_errors_exit_2() {
    let out = run(&["data", "diff", CURRENT, CURRENT]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("identical"));
    let out = run(&["data", "diff", CURRENT, "does-not-exist.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does-not-exist.toml: cannot read the data file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_source_on_the_current_page_is_consistent() {
    let out = run(&["data", "check-source", PAGE_2026, "--as-of", "2026-11-28"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains(": consistent with Skatteetaten data 2026-02-09.2"),
        "{text}"
    );
    // Legacy entries past their sunset are info, and hyperlinks are references.
    assert!(
        text.contains("info  legacy api.skatteetaten.no")
            || text.contains("info  legacy api-test.sits.no"),
        "{text}"
    );
    assert!(
        text.contains("hyperlinks, not compared: samarbeid.digdir.no, docs.digdir.no"),
        "{text}"
    );
    // The bare base domain of a wildcard is covered, and says so.
    assert!(text.contains("api.skatteetaten-test.no is not documented as such but is covered by the base of the documented wildcard"), "{text}");
}

#[test]
fn check_source_on_the_2024_page_reports_drift() {
    let out = run(&[
        "data",
        "check-source",
        PAGE_2024,
        "--as-of",
        "2026-11-28",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["consistent"], false);
    assert_eq!(doc["page_date"], "2022-11-24");
    let findings = doc["findings"].as_array().unwrap();
    let has = |kind: &str, value: &str| {
        findings
            .iter()
            .any(|f| f["kind"] == kind && f["value"] == value && f["severity"] == "drift")
    };
    assert!(
        has("environment-mismatch", "20.100.51.138"),
        "{findings:#?}"
    );
    assert!(has("environment-mismatch", "51.13.21.170"), "{findings:#?}");
    assert!(has("not-on-page", "51.13.43.236/32"), "{findings:#?}");
    let mismatch = findings
        .iter()
        .find(|f| f["value"] == "20.100.51.138")
        .unwrap();
    assert_eq!(mismatch["page_environment"], "test");
    assert_eq!(mismatch["data_environments"][0], "prod");
    assert_eq!(mismatch["line"], 55);
}

#[test]
fn check_source_reads_html_and_standard_input() {
    let html = "<!doctype html><html><body><table>\n<tr><th>Miljø</th><th>Host</th><th>IPv4</th><th>IPv6</th></tr>\n\
        <tr><td>Test</td><td>*.api.skatteetaten-test.no</td><td>51.13.21.170/32<br/>51.13.43.236/32<br/>159.216.17.128/27</td><td>2a13:6201::/32</td></tr>\n\
        <tr>\n<td>Prod</td>\n<td>*.api.skatteetaten.no</td>\n<td>51.13.39.98/32<br/>159.216.17.160/28</td>\n<td>2a13:6200::/32</td>\n</tr>\n\
        <tr><td>Test</td><td>extra.example.no</td><td>20.100.51.138</td><td></td></tr>\n\
        </table><p>Last updated on Feb 9, 2026</p><a href=\"https://docs.digdir.no/\">Digdir</a></body></html>\n";
    let out = run_with_stdin(
        &[
            "data",
            "check-source",
            "-",
            "--as-of",
            "2026-11-28",
            "--format",
            "json",
        ],
        html.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let findings = doc["findings"].as_array().unwrap();
    let kinds: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f["severity"] == "drift")
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("not-in-data".to_owned(), "extra.example.no".to_owned()),
            (
                "environment-mismatch".to_owned(),
                "20.100.51.138".to_owned()
            ),
        ],
        "{findings:#?}"
    );
    assert_eq!(doc["page_date"], "2026-02-09");
    assert_eq!(doc["references"][0], "docs.digdir.no");
}
