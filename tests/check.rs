//! `egresscheck check` end to end on the offline harness: a data file whose endpoints are
//! served by local servers (documented, undocumented, black-holed, expired, intercepted,
//! legacy past its sunset), asserting findings, exit codes and every output format.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::NaiveDate;
use serde_json::Value;

use crate::support::data::{Endpoint, data_file};
use crate::support::dns::DnsServer;
use crate::support::netns;
use crate::support::pki::TestCa;
use crate::support::tcp::UnansweredPort;
use crate::support::tls::TlsServer;
use crate::support::tools;

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");
const AS_OF: &str = "2026-11-28";

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// The local stand-ins for one provider, and a data file describing them.
struct Lab {
    dns: DnsServer,
    _servers: Vec<TlsServer>,
    _hole: UnansweredPort,
    public_ca: TestCa,
    middlebox_ca: TestCa,
    dir: tempfile::TempDir,
    data: PathBuf,
    resolver: String,
    /// Every port in use, for normalising snapshots.
    ports: Vec<u16>,
}

impl Lab {
    fn new() -> Lab {
        let public_ca = TestCa::new("Egress Public Root CA");
        let middlebox_ca = TestCa::new("Corporate Inspection CA");
        let valid_from = date("2026-01-01");
        let valid_to = date("2031-01-01");
        let leaf = |ca: &TestCa, name: &str, serial: u64, from: NaiveDate, to: NaiveDate| {
            ca.leaf(&[name]).validity(from, to).serial(serial).issue()
        };
        let good = TlsServer::builder(leaf(
            &public_ca,
            "good.api.egress.test",
            1,
            valid_from,
            valid_to,
        ))
        .bind(ip(11))
        .start();
        let moved = TlsServer::builder(leaf(
            &public_ca,
            "moved.api.egress.test",
            2,
            valid_from,
            valid_to,
        ))
        .bind(ip(12))
        .start();
        let expired = TlsServer::builder(leaf(
            &public_ca,
            "expired.api.egress.test",
            3,
            date("2024-01-01"),
            date("2025-01-01"),
        ))
        .bind(ip(15))
        .start();
        let intercepted = TlsServer::builder(leaf(
            &middlebox_ca,
            "intercepted.api.egress.test",
            4,
            valid_from,
            valid_to,
        ))
        .bind(ip(16))
        .start();
        let legacy =
            TlsServer::builder(leaf(&public_ca, "old.egress.test", 5, valid_from, valid_to))
                .bind(ip(17))
                .start();
        let hole = UnansweredPort::builder().bind(ip(14)).unanswered();

        let dns = DnsServer::zone("egress.test")
            .addr("good.api.egress.test", ip(11), 300)
            .addr("moved.api.egress.test", ip(12), 300)
            .addr("hole.api.egress.test", ip(14), 300)
            .addr("expired.api.egress.test", ip(15), 300)
            .addr("intercepted.api.egress.test", ip(16), 300)
            .addr("old.egress.test", ip(17), 300)
            .start();

        let ports = vec![
            good.port(),
            moved.port(),
            hole.addr().port(),
            expired.port(),
            intercepted.port(),
            legacy.port(),
            dns.addr().port(),
        ];
        let endpoint = |host, last: Option<u8>, port| Endpoint {
            host,
            address: last.map(ip),
            port,
        };
        let mut text = data_file(&[
            endpoint("good.api.egress.test", Some(11), ports[0]),
            endpoint("moved.api.egress.test", None, ports[1]),
            endpoint("hole.api.egress.test", Some(14), ports[2]),
            endpoint("expired.api.egress.test", Some(15), ports[3]),
            endpoint("intercepted.api.egress.test", Some(16), ports[4]),
        ]);
        text.push_str(&format!(
            r#"
[[legacy]]
environment = "prod"
service = "api"
host = "old.egress.test"
ipv4 = ["127.0.0.17"]
ports = [{}]
sunset = 2025-06-30
sunset_basis = "announced on the page"
replaced_by = "good.api.egress.test"
source = "page"
"#,
            ports[5]
        ));
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("lab.toml");
        std::fs::write(&data, text).unwrap();
        let resolver = dns.resolver_arg();
        Lab {
            dns,
            _servers: vec![good, moved, expired, intercepted, legacy],
            _hole: hole,
            public_ca,
            middlebox_ca,
            dir,
            data,
            resolver,
            ports,
        }
    }

    /// `egresscheck --data lab.toml check …` with the lab's resolver, CA and middlebox.
    fn check(&self, extra: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data")
            .arg(&self.data)
            .args([
                "check",
                "--resolver",
                &self.resolver,
                "--timeout",
                "1s",
                "--as-of",
                AS_OF,
                "--no-proxy",
            ])
            .arg("--ca-file")
            .arg(self.public_ca.pem_file())
            // The middlebox's CA is in the "system" store only: the mark of interception.
            .env("SSL_CERT_FILE", self.middlebox_ca.pem_file())
            .env_remove("SSL_CERT_DIR")
            .env("NO_COLOR", "1")
            // What the report says, not how it folds: a width that folds nothing (the
            // layout at a terminal's width has tests of its own).
            .env("COLUMNS", "200")
            .args(extra);
        cmd.output().unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Replaces what changes from run to run (ports, timings, fingerprints) with
    /// placeholders, so that snapshots compare what matters.
    fn normalise(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (i, port) in self.ports.iter().enumerate() {
            text = replace_word(&text, &port.to_string(), &format!("<port{i}>"));
        }
        text = replace_word(&text, &self.data.display().to_string(), "<data>");
        scrub_numbers(&text)
    }
}

/// Replaces `word` where it is not part of a longer number.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().last();
        let after = rest[at + word.len()..].chars().next();
        let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        out.push_str(&rest[..at]);
        out.push_str(if digit(before) || digit(after) {
            word
        } else {
            with
        });
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Timings and hex fingerprints: `0.123` after `ms`-like keys and 64-hex-digit runs.
fn scrub_numbers(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_owned();
        for key in [
            "\"ms\": ",
            "\"server_bytes\": ",
            "\"duration_seconds\": ",
            // The JSON lines of --format jsonl.
            "\"tcp_ms\":",
            "\"tls_ms\":",
            "\"duration_seconds\":",
            "time=\"",
            "duration=",
            "_seconds{",
            "_seconds ",
            "verification time ",
        ] {
            line = scrub_after(&line, key);
        }
        line = scrub_hex(&line);
        for unit in [" ms", " s)", " seconds ago"] {
            line = scrub_before(&line, unit);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn scrub_after(line: &str, key: &str) -> String {
    let Some(at) = line.find(key) else {
        return line.to_owned();
    };
    let start = at + key.len();
    // For labelled samples, the value follows the closing brace.
    let start = if key.ends_with('{') {
        line[start..].find("} ").map_or(start, |i| start + i + 2)
    } else {
        start
    };
    let end = line[start..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
        .map_or(line.len(), |i| start + i);
    if end == start {
        return line.to_owned();
    }
    format!("{}<n>{}", &line[..start], &line[end..])
}

fn scrub_before(line: &str, unit: &str) -> String {
    let mut out = line.to_owned();
    let mut from = 0;
    while let Some(found) = out[from..].find(unit) {
        let at = from + found;
        // Just after the last character that is not part of the number (which may be a
        // table's multi-byte rule character).
        let start = out[..at]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        if start < at {
            out = format!("{}<n>{}", &out[..start], &out[at..]);
            from = start + 3 + unit.len();
        } else {
            from = at + unit.len();
        }
    }
    out
}

fn scrub_hex(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if run >= 32 {
            out.push_str("<sha256>");
            i += run;
        } else {
            out.extend(&chars[i..i + run.max(1)]);
            i += run.max(1);
        }
    }
    out
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The entry of `name` in a JSON report's `names[]`: its DNS observation, once.
pub(crate) fn name_entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["names"]
        .as_array()
        .unwrap_or_else(|| panic!("no names array in {report}"))
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no name {name} in {report}"))
}

/// The finding codes of `host` in a JSON report, sorted.
pub(crate) fn codes_for(report: &Value, host: &str) -> Vec<String> {
    let mut codes: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["host"] == host)
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

#[test]
fn check_reports_each_kind_of_target_with_its_finding() {
    let lab = Lab::new();
    let out = lab.check(&["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["schema"], 2);
    assert_eq!(report["tool"]["name"], "egresscheck");
    assert_eq!(report["data"]["provider"], "Egress Test Provider");
    assert_eq!(report["as_of"], AS_OF);
    assert_eq!(report["verdict"], "fail");

    assert_eq!(
        codes_for(&report, "good.api.egress.test"),
        Vec::<String>::new()
    );
    assert_eq!(
        codes_for(&report, "moved.api.egress.test"),
        vec!["undocumented-address"]
    );
    assert_eq!(codes_for(&report, "hole.api.egress.test"), vec!["blocked"]);
    assert_eq!(
        codes_for(&report, "expired.api.egress.test"),
        vec!["certificate-expired"]
    );
    assert_eq!(
        codes_for(&report, "intercepted.api.egress.test"),
        vec!["tls-intercepted"]
    );
    assert_eq!(
        codes_for(&report, "old.egress.test"),
        vec!["legacy-sunset-passed"]
    );
    // The target states: intercepted is reachable (TCP and TLS completed) and not ok.
    let state = |host: &str| {
        let t = report["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["host"] == host)
            .unwrap();
        (
            t["reachable"].as_bool().unwrap(),
            t["ok"].as_bool().unwrap(),
        )
    };
    assert_eq!(state("good.api.egress.test"), (true, true));
    assert_eq!(state("intercepted.api.egress.test"), (true, false));
    assert_eq!(state("hole.api.egress.test"), (false, false));
    assert_eq!(
        state("old.egress.test"),
        (true, true),
        "a warning leaves a target ok"
    );
    assert_eq!(report["summary"]["targets"], 6);
    assert_eq!(report["summary"]["ok"], 2);
    assert_eq!(report["summary"]["reachable"], 5);
    let intercepted = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "tls-intercepted")
        .unwrap();
    assert!(
        intercepted["message"]
            .as_str()
            .unwrap()
            .contains("Corporate Inspection CA"),
        "{intercepted}"
    );

    let good = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["host"] == "good.api.egress.test")
        .unwrap();
    assert_eq!(good["environment"], "prod");
    assert_eq!(good["service"], "api");
    assert_eq!(good["address"], "127.0.0.11");
    assert_eq!(good["documented"], true);
    assert_eq!(good["tcp"]["state"], "open");
    assert_eq!(good["tls"]["trusted_public"], true);
    assert_eq!(good["tls"]["hostname_match"], true);
    assert!(good["tls"]["chain"][0]["sha256"].as_str().unwrap().len() == 64);
    let moved = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["host"] == "moved.api.egress.test")
        .unwrap();
    assert_eq!(moved["documented"], false);
    assert!(
        moved.get("dns").is_none(),
        "DNS is in names[], once: {moved}"
    );
    // Each name once, with its DNS lookups and the entries that name it.
    let names: Vec<&str> = report["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    let good = name_entry(&report, "good.api.egress.test");
    assert_eq!(good["outcome"], "answer");
    assert_eq!(good["dns"]["a"]["answers"][0]["address"], "127.0.0.11");
    assert_eq!(good["entries"][0]["environment"], "prod");
    assert_eq!(good["entries"][0]["kind"], "endpoint");
    assert_eq!(
        name_entry(&report, "old.egress.test")["entries"][0]["kind"],
        "legacy"
    );
}

#[test]
fn check_passes_when_only_healthy_targets_are_selected() {
    let lab = Lab::new();
    let out = lab.check(&["--host", "good.api.egress.test"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("egresscheck PASS: Egress Test Provider data 2026-01-01.1, as of 2026-11-28: 1 target: 1 ok, 1 reachable"), "{text}");
    let json_out = lab.check(&["--host", "good.api.egress.test", "--format", "json"]);
    assert_eq!(json(&json_out)["verdict"], "pass");
    // Nagios: OK.
    let out = lab.check(&["--host", "good.api.egress.test", "--format", "nagios"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("EGRESSCHECK OK - 1/1 target ok, 1 reachable")
    );
}

#[test]
fn exit_codes_follow_the_verdict_and_strict() {
    let lab = Lab::new();
    // Only the legacy host: a warning, exit 0; with --strict, exit 1.
    assert_eq!(
        lab.check(&["--host", "old.egress.test"]).status.code(),
        Some(0)
    );
    assert_eq!(
        lab.check(&["--host", "old.egress.test", "--strict"])
            .status
            .code(),
        Some(1)
    );
    let nagios = lab.check(&["--host", "old.egress.test", "--format", "nagios"]);
    assert_eq!(nagios.status.code(), Some(1), "WARNING");
    let nagios = lab.check(&["--format", "nagios"]);
    assert_eq!(nagios.status.code(), Some(2), "CRITICAL");
    // Bad usage: exit 2; Nagios says UNKNOWN (3).
    let bad = lab.check(&["--env", "staging"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such environment"));
    let bad = lab.check(&["--env", "staging", "--format", "nagios"]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stdout).starts_with("EGRESSCHECK UNKNOWN - "));
    // A command line clap itself rejects: still UNKNOWN for Nagios, still 2 otherwise.
    for nagios in [&["--format", "nagios"][..], &["--format=nagios"][..]] {
        let mut args = nagios.to_vec();
        args.extend(["--concurrency", "lots"]);
        let bad = lab.check(&args);
        let stdout = String::from_utf8_lossy(&bad.stdout);
        assert_eq!(bad.status.code(), Some(3), "{stdout}");
        assert!(
            stdout.starts_with("EGRESSCHECK UNKNOWN - bad usage: ") && stdout.contains("lots"),
            "{stdout}"
        );
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
    }
    let bad = lab.check(&["--concurrency", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
}

#[test]
fn every_output_format_matches_its_snapshot() {
    let lab = Lab::new();
    for format in [
        "table",
        "json",
        "prometheus",
        "junit",
        "nagios",
        "jsonl",
        "markdown",
        "html",
    ] {
        let out = lab.check(&["--format", format]);
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut text = lab.normalise(&String::from_utf8_lossy(&out.stdout));
        if format == "table" {
            // Column widths follow the timings; compare content, not padding.
            text = collapse_padding(&text);
        }
        insta::assert_snapshot!(format!("check_{format}"), text);
    }
}

/// The document for a change ticket: the labels of the run, the causes, and with `--rules`
/// the rules themselves inside it (not after it on standard output), in Markdown and HTML;
/// the HTML opens in a real browser without a console message.
#[test]
fn markdown_and_html_hold_the_labels_causes_and_rules_for_the_ticket() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    for format in ["markdown", "html"] {
        let out = lab.check(&[
            "--format",
            format,
            "--rules",
            "nftables",
            "--label",
            "site=oslo",
            "--label",
            "ticket=CHG-1234",
        ]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        for expected in [
            "site",
            "oslo",
            "CHG-1234",
            "Causes",
            "tls-intercepted",
            "blocked",
        ] {
            assert!(text.contains(expected), "{format}: {expected}:\n{text}");
        }
        // The rules are in the document, once: the nftables of what was found closed.
        assert_eq!(
            text.matches("table inet").count().min(1),
            1,
            "{format}:\n{text}"
        );
        assert!(
            text.contains("127.0.0.14"),
            "{format}: the blocked address:\n{text}"
        );
        match format {
            "markdown" => {
                crate::documents::assert_tables_well_formed(format, &text);
                assert!(text.contains("```\n"), "a fenced block:\n{text}");
            }
            _ => {
                crate::documents::assert_self_contained(format, &text);
                let path = dir.path().join("report.html");
                std::fs::write(&path, &text).unwrap();
                let page = crate::support::browser::open(&path);
                assert!(page.console.is_empty(), "{:#?}", page.console);
                for expected in ["FAIL", "oslo", "CHG-1234", "TLS intercepted by"] {
                    assert!(page.text.contains(expected), "{expected}: {}", page.text);
                }
            }
        }
    }
}

#[test]
fn prometheus_output_passes_promtool() {
    tools::require(&["promtool"]);
    let lab = Lab::new();
    let out = lab.check(&["--format", "prometheus"]);
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    for name in [
        "egresscheck_check_success 0",
        "egresscheck_check_duration_seconds ",
        "egresscheck_target_up{environment=\"prod\",service=\"api\",host=\"good.api.egress.test\",address=\"127.0.0.11\"",
        "egresscheck_tcp_connect_seconds{",
        "egresscheck_tls_handshake_seconds{",
        "egresscheck_tls_cert_not_after_timestamp_seconds{",
        "egresscheck_findings{code=\"blocked\",severity=\"fail\"} 1",
        "egresscheck_findings{code=\"refused\",severity=\"fail\"} 0",
        "egresscheck_legacy_sunset_timestamp_seconds{environment=\"prod\",service=\"api\",host=\"old.egress.test\"} 1751241600",
        "egresscheck_data_document_timestamp_seconds{provider=\"Egress Test Provider\",data_version=\"2026-01-01.1\"} 1767225600",
    ] {
        assert!(metrics.contains(name), "missing {name:?} in\n{metrics}");
    }
    // Up keeps its meaning (TCP and TLS completed); ok says whether the target works.
    let sample = |metric: &str, host: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!("{metric}{{")) && l.contains(&format!("host=\"{host}\""))
            })
            .unwrap_or_else(|| panic!("no {metric} for {host}\n{metrics}"))
            .rsplit_once(' ')
            .unwrap()
            .1
            .to_owned()
    };
    for (host, up, ok) in [
        ("good.api.egress.test", "1", "1"),
        ("intercepted.api.egress.test", "1", "0"),
        ("expired.api.egress.test", "1", "0"),
        ("hole.api.egress.test", "0", "0"),
        ("old.egress.test", "1", "1"),
    ] {
        assert_eq!(sample("egresscheck_target_up", host), up, "{host}");
        assert_eq!(sample("egresscheck_target_ok", host), ok, "{host}");
    }
    assert_eq!(
        sample("egresscheck_name_targets", "good.api.egress.test"),
        "1"
    );
    assert_promtool_accepts(&metrics);
}

/// `promtool check metrics` accepts `metrics`.
pub(crate) fn assert_promtool_accepts(metrics: &str) {
    let checked = run_with_stdin("promtool", &["check", "metrics"], metrics.as_bytes());
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn junit_output_is_well_formed_xml() {
    tools::require(&["xmllint"]);
    let lab = Lab::new();
    let out = lab.check(&["--format", "junit"]);
    let xml = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        xml.contains("<testsuite name=\"prod\" tests=\"6\" failures=\"4\""),
        "{xml}"
    );
    assert!(xml.contains("<failure type=\"blocked\""), "{xml}");
    assert_xmllint_accepts(&xml);
}

/// `xmllint --noout` finds `xml` well-formed.
pub(crate) fn assert_xmllint_accepts(xml: &str) {
    let checked = run_with_stdin("xmllint", &["--noout", "-"], xml.as_bytes());
    assert!(
        checked.status.success(),
        "xmllint: {}\n{xml}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn output_and_save_are_atomic_and_baselines_report_drift() {
    let lab = Lab::new();
    let state = lab.path("state.json");
    let metrics = lab.path("egresscheck.prom");
    let state_arg = state.to_str().unwrap();
    // First run of a schedule: no baseline yet, --save writes it.
    let first = lab.check(&[
        "--baseline",
        state_arg,
        "--save",
        state_arg,
        "--format",
        "prometheus",
        "--output",
        metrics.to_str().unwrap(),
    ]);
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(first.stdout.is_empty(), "--output takes the report");
    assert!(String::from_utf8_lossy(&first.stderr).contains("no baseline at"));
    assert!(
        std::fs::read_to_string(&metrics)
            .unwrap()
            .contains("egresscheck_check_success 0")
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["schema"], 2);
    assert_no_temporaries(lab.dir.path());

    // Doctor the baseline: another certificate for good.api, another state for hole.api, and
    // moved.api resolved to 127.0.0.99 then (to 127.0.0.12 now).
    let mut doctored = saved.clone();
    for target in doctored["targets"].as_array_mut().unwrap() {
        if target["host"] == "good.api.egress.test" {
            target["tls"]["chain"][0]["sha256"] = Value::from("0".repeat(64));
        }
        if target["host"] == "hole.api.egress.test" {
            target["tcp"]["state"] = Value::from("open");
        }
        if target["host"] == "moved.api.egress.test" {
            target["address"] = Value::from("127.0.0.99");
        }
    }
    for name in doctored["names"].as_array_mut().unwrap() {
        if name["name"] == "moved.api.egress.test" {
            name["dns"]["a"]["answers"][0]["address"] = Value::from("127.0.0.99");
        }
    }
    let baseline = lab.path("baseline.json");
    std::fs::write(&baseline, serde_json::to_vec(&doctored).unwrap()).unwrap();
    let second = json(&lab.check(&["--baseline", baseline.to_str().unwrap(), "--format", "json"]));
    assert_eq!(
        second["baseline"]["state"], "read",
        "{}",
        second["baseline"]
    );
    assert_eq!(second["baseline"]["schema"], 2);
    let drift: Vec<(String, String)> = second["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            [
                "address-added",
                "address-removed",
                "certificate-changed",
                "reachability-changed",
                "target-appeared",
                "target-vanished",
            ]
            .contains(&f["code"].as_str().unwrap())
        })
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["host"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = [
        ("certificate-changed", "good.api.egress.test"),
        ("reachability-changed", "hole.api.egress.test"),
        ("address-removed", "moved.api.egress.test"),
        ("address-added", "moved.api.egress.test"),
    ]
    .iter()
    .map(|(c, h)| ((*c).to_owned(), (*h).to_owned()))
    .collect();
    let mut found = drift.clone();
    expected.sort();
    found.sort();
    assert_eq!(found, expected, "each change once: {drift:?}");

    // A damaged baseline, or one of another schema, is a finding: the run goes on.
    std::fs::write(&baseline, b"{\"schema\": 2, \"tool\"").unwrap();
    let damaged = lab.check(&["--baseline", baseline.to_str().unwrap(), "--format", "json"]);
    assert_eq!(damaged.status.code(), Some(1));
    let report = json(&damaged);
    assert_eq!(messages_of(&report, "baseline-unusable").len(), 1);
    assert!(
        messages_of(&report, "baseline-unusable")[0].contains("damaged JSON"),
        "{report}"
    );
    std::fs::write(&baseline, b"{\"schema\": 7}").unwrap();
    let other = json(&lab.check(&["--baseline", baseline.to_str().unwrap(), "--format", "json"]));
    assert!(
        messages_of(&other, "baseline-unusable")[0].contains("schema 7"),
        "{other}"
    );
    // A missing baseline is the first run: said once, not an error.
    let missing = lab.check(&["--baseline", lab.path("nothing.json").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1), "the lab's findings");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.matches("no baseline at").count(), 1, "{stderr}");
}

/// The messages of the findings of `code` in a JSON report.
pub(crate) fn messages_of(report: &Value, code: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_no_temporaries(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

/// Runs `tool args` with `stdin` on its standard input.
fn run_with_stdin(tool: &str, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn with_no_network_check_ends_quickly_with_dns_failures_and_advice() {
    // A namespace with only loopback is a machine with no network: nothing can leave it, so
    // the bundled data's real hosts are never contacted.
    tools::require_root_and(netns::NETNS_TOOLS);
    let ns = netns::Netns::new();
    let started = std::time::Instant::now();
    let out = ns
        .command(BIN)
        .args([
            "check",
            "--timeout",
            "2s",
            "--dns-timeout",
            "2s",
            "--no-proxy",
            // Every finding: one per name.
            "-v",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Ends within about twice the timeout (generously bounded: this proves "no hang").
    assert!(
        elapsed < std::time::Duration::from_secs(20),
        "took {elapsed:?}"
    );
    let catalog = egresscheck::catalog::bundled().unwrap();
    let plan = egresscheck::plan::Plan::new(&catalog, &egresscheck::plan::Selection::default());
    for planned in plan
        .names
        .iter()
        .filter(|p| p.kind == egresscheck::plan::EntryKind::Endpoint)
    {
        let line = format!(
            "dns-failure                  {} {}:",
            planned.environment, planned.name
        );
        assert!(
            text.contains(&line),
            "no dns-failure for {}:\n{text}",
            planned.name
        );
    }
    assert!(!text.contains("panicked"), "{text}");
    // The causes say it once for every name.
    assert!(text.contains("names could not be resolved ("), "{text}");
    assert!(text.contains("Nothing resolved"), "{text}");
    assert!(
        text.contains("egresscheck rules --format nftables"),
        "{text}"
    );
}

#[test]
fn rules_needed_cover_what_was_closed_and_undocumented() {
    tools::require_root_and(&["ip", "nft"]);
    let lab = Lab::new();
    let report = json(&lab.check(&["--format", "json"]));
    let needed: Vec<(String, String, Vec<String>, bool)> = report["rules_needed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let reasons = r["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect();
            (
                r["host"].as_str().unwrap().to_owned(),
                r["address"].as_str().unwrap().to_owned(),
                reasons,
                r["undocumented"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        needed,
        vec![
            (
                "moved.api.egress.test".to_owned(),
                "127.0.0.12".to_owned(),
                vec!["undocumented".to_owned()],
                true
            ),
            (
                "hole.api.egress.test".to_owned(),
                "127.0.0.14".to_owned(),
                vec!["blocked".to_owned()],
                false
            ),
        ]
    );

    let out = lab.check(&["--rules", "nftables"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rules = &text[text
        .find("table inet egresscheck")
        .expect("nft rules after the report")..];
    assert!(
        rules.contains("127.0.0.12") && rules.contains("127.0.0.14"),
        "{rules}"
    );
    assert!(
        !rules.contains("127.0.0.11"),
        "only what was closed: {rules}"
    );
    assert!(
        text.contains("only what egresscheck check found closed on 2026-11-28"),
        "{text}"
    );
    let ns = netns::Netns::new();
    let start = text
        .find("#!/usr/sbin/nft")
        .or_else(|| text.find("# egresscheck"))
        .unwrap_or(0);
    let nft_text = &text[text[..text.find("table inet egresscheck").unwrap()]
        .rfind("\n\n")
        .map_or(start, |i| i + 2)..];
    ns.check_nft(nft_text)
        .unwrap_or_else(|e| panic!("nft -c rejects the rules needed: {e}\n{nft_text}"));

    // With a machine format the report needs a file of its own.
    let bad = lab.check(&["--rules", "nftables", "--format", "json"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--output"));
    let unknown = lab.check(&["--rules", "bogus"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("one of: nftables"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

/// Runs of spaces and of table rule characters become one, so that a column that is wider
/// in one run (a slower connect) does not change the snapshot.
fn collapse_padding(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = None;
    for ch in text.chars() {
        let squeezable = matches!(ch, ' ' | '─' | '═');
        if !(squeezable && last == Some(ch)) {
            out.push(ch);
        }
        last = Some(ch);
    }
    out
}

#[test]
fn progress_bar_only_on_a_terminal() {
    tools::require(&["script"]);
    let lab = Lab::new();
    // Piped stderr: not a byte of progress.
    let out = lab.check(&["--host", "good.api.egress.test"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // On a terminal (script(1) gives the child a pseudo-terminal), the bar is drawn on stderr
    // and cleared; the report still arrives whole. The slow black hole keeps the bar up.
    let command = format!(
        "{BIN} --data {} check --resolver {} --timeout 1s --as-of {AS_OF} --no-proxy --ca-file {} --host hole.api.egress.test",
        lab.data.display(),
        lab.resolver,
        lab.public_ca.pem_file().display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DNS lookups 1/1, connections 0/1"),
        "no progress bar drawn: {text}"
    );
    assert!(text.contains("egresscheck FAIL"), "{text}");
}

#[test]
fn output_and_save_paths_are_checked_before_anything_is_probed() {
    let lab = Lab::new();
    let file = lab.path("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("report.json");
    let dir = lab.dir.path().to_str().unwrap().to_owned();
    for (flag, path, reason) in [
        (
            "--output",
            "/nonexistent/dir/x",
            "the directory /nonexistent/dir does not exist",
        ),
        ("--save", "/nonexistent/dir/state.json", "does not exist"),
        ("--output", dir.as_str(), "is a directory"),
        ("--save", under_file.to_str().unwrap(), "is not a directory"),
    ] {
        let out = lab.check(&[flag, path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {path}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("egresscheck: {flag} {path}: ")) && stderr.contains(reason),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
        // Refused before the run: not one DNS question went out.
        assert!(lab.dns.queries().is_empty(), "{flag} {path}: probed first");
    }
}

#[test]
fn labels_reach_every_format_escaped_for_it() {
    let lab = Lab::new();
    // A value with every character a format must escape: quotes, backslash, markup, pipe.
    let value = r#"os"lo\<b>&|"#;
    let site = format!("site={value}");
    let args = ["--label", &site, "--label", "node=node-1"];
    let run = |format: &str| {
        let mut extra = vec!["--format", format];
        extra.extend(args);
        let out = lab.check(&extra);
        assert!(matches!(out.status.code(), Some(1 | 2)), "{format}");
        String::from_utf8(out.stdout).unwrap()
    };

    let prometheus = run("prometheus");
    let samples: Vec<&str> = prometheus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(!samples.is_empty());
    for sample in &samples {
        assert!(
            sample.contains(r#"site="os\"lo\\<b>&|",node="node-1""#),
            "{sample}"
        );
    }
    crate::support::tools::require(&["promtool", "xmllint"]);
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(promtool.stdin.as_mut().unwrap(), prometheus.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let json: Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["labels"]["site"], value);
    assert_eq!(json["labels"]["node"], "node-1");

    let jsonl = run("jsonl");
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["type"] == "target"));
    assert!(lines.iter().any(|l| l["type"] == "finding"));
    assert_eq!(lines.last().unwrap()["type"], "summary");
    for line in &lines {
        assert_eq!(line["labels"]["site"], value, "{line}");
    }
    let hole = lines
        .iter()
        .find(|l| l["type"] == "target" && l["host"] == "hole.api.egress.test")
        .unwrap();
    assert_eq!(hole["reachable"], false);
    assert_eq!(hole["ok"], false);
    assert_eq!(hole["findings"][0], "blocked");
    let good = lines
        .iter()
        .find(|l| l["type"] == "target" && l["host"] == "good.api.egress.test")
        .unwrap();
    assert_eq!(
        (good["reachable"].as_bool(), good["ok"].as_bool()),
        (Some(true), Some(true))
    );

    let junit = run("junit");
    assert!(
        junit.contains(r#"<property name="label.site" value="os&quot;lo\&lt;b&gt;&amp;|"/>"#),
        "{junit}"
    );
    assert!(junit.contains(r#"<property name="label.node" value="node-1"/>"#));
    crate::support::tools::require(&["xmllint"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, &junit).unwrap();
    let ok = std::process::Command::new("xmllint")
        .args(["--noout"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(ok.success());

    let nagios = run("nagios");
    assert_eq!(nagios.lines().count(), 1, "{nagios}");
    let (status, perfdata) = nagios.split_once(" | ").unwrap();
    assert!(
        status.contains(r#"[site=os"lo\<b>&/ node=node-1]"#),
        "{nagios}"
    );
    assert!(!perfdata.contains("site"));

    let table = run("table");
    assert!(!table.is_empty());

    for bad in ["site", "1x=a", "host=a", "__x=a", "site=a\u{7}"] {
        let out = lab.check(&["--label", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--label"));
    }
}

#[test]
fn colour_follows_the_flag_then_no_color_then_the_terminal() {
    let lab = Lab::new();
    let has_colour = |out: &Output| String::from_utf8_lossy(&out.stdout).contains("\x1b[31m");
    // Lab runs set NO_COLOR=1; the flag overrides it; piped output is plain otherwise.
    assert!(has_colour(&lab.check(&["--color", "always"])));
    assert!(!has_colour(&lab.check(&["--color", "auto"])));
    assert!(!has_colour(&lab.check(&["--color", "never"])));
    assert!(!has_colour(&lab.check(&[])));

    // On a terminal: colour, unless NO_COLOR says otherwise.
    crate::support::tools::require(&["script"]);
    let command = format!(
        "{BIN} --data {} check --resolver {} --timeout 1s --as-of {AS_OF} --no-proxy --ca-file {}",
        lab.data.display(),
        lab.resolver,
        lab.public_ca.pem_file().display()
    );
    let on_tty = |no_color: Option<&str>| {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &command, "/dev/null"])
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("COLUMNS");
        if let Some(value) = no_color {
            cmd.env("NO_COLOR", value);
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let coloured = on_tty(None);
    assert!(coloured.contains("\x1b[31m"), "{coloured}");
    let plain = on_tty(Some("1"));
    assert!(
        plain.contains("egresscheck FAIL") && !plain.contains("\x1b[31m"),
        "{plain}"
    );
}
