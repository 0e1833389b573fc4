//! Issue 15, "say which device blocks and why", end to end through `check`: local servers
//! that answer HTTP after TLS (with a chosen status, body and `Date`), and each new finding
//! with its exit code and its output in every `check` format.

mod cut;
mod fetch;
mod http;
mod ipv6;
mod proxy_auth;
mod sni;
mod stall;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::data::{Endpoint, data_file, with_http};
use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");
/// Inside the validity of [`leaf`] certificates (2026 to 2031).
pub const AS_OF: &str = "2026-11-28";

/// One endpoint of a lab: its name, the address it is served on, its port, and the data
/// file's `http` check for it (an inline table), if any.
pub struct Site<'a> {
    pub host: &'a str,
    pub ip: IpAddr,
    pub port: u16,
    pub http: Option<&'a str>,
}

impl<'a> Site<'a> {
    /// `host` served at `addr`, without an HTTP check.
    pub fn at(host: &'a str, addr: std::net::SocketAddr) -> Site<'a> {
        Site {
            host,
            ip: addr.ip(),
            port: addr.port(),
            http: None,
        }
    }
}

/// A data file and a DNS zone for some sites, and how to run `check` against them.
pub struct Lab {
    pub dns: DnsServer,
    pub ca: TestCa,
    /// The "system" store: a middlebox CA, installed on this host only.
    pub system_ca: TestCa,
    pub _dir: tempfile::TempDir,
    pub data: PathBuf,
    /// The proxy `check` goes through (`--proxy`), when any; else `--no-proxy`.
    pub proxy: Option<String>,
}

impl Lab {
    /// A lab for `sites` under `ca` (the public CA: given with --ca-file).
    pub fn new(ca: TestCa, sites: &[Site<'_>]) -> Lab {
        Lab::with_system_ca(ca, TestCa::new("Corporate Inspection CA"), sites)
    }

    /// A lab whose host trusts `system_ca` in its own store only (`SSL_CERT_FILE`): what a
    /// TLS-inspecting middlebox's CA looks like.
    pub fn with_system_ca(ca: TestCa, system_ca: TestCa, sites: &[Site<'_>]) -> Lab {
        Lab::build(ca, system_ca, sites, &[])
    }

    /// A lab whose DNS also answers `more` (name, address) records, each documented for its
    /// name in the data file too (a second family, say).
    pub fn with_more_addresses(ca: TestCa, sites: &[Site<'_>], more: &[(&str, IpAddr)]) -> Lab {
        Lab::build(ca, TestCa::new("Corporate Inspection CA"), sites, more)
    }

    fn build(ca: TestCa, system_ca: TestCa, sites: &[Site<'_>], more: &[(&str, IpAddr)]) -> Lab {
        let mut zone = DnsServer::zone("egress.test");
        for site in sites {
            zone = zone.addr(site.host, site.ip, 300);
        }
        for (host, ip) in more {
            zone = zone.addr(host, *ip, 300);
        }
        let endpoints: Vec<Endpoint<'_>> = sites
            .iter()
            .map(|s| Endpoint {
                host: s.host,
                address: Some(s.ip),
                port: s.port,
            })
            .collect();
        let mut text = data_file(&endpoints);
        for site in sites {
            if let Some(check) = site.http {
                text = with_http(&text, site.host, check);
            }
        }
        for (host, ip) in more {
            let line = format!("host = \"{host}\"\n");
            let family = if ip.is_ipv6() { "ipv6" } else { "ipv4" };
            text = text.replacen(&line, &format!("{line}{family} = [\"{ip}\"]\n"), 1);
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("lab.toml");
        std::fs::write(&data, text).unwrap();
        Lab {
            dns: zone.start(),
            ca,
            system_ca,
            _dir: dir,
            data,
            proxy: None,
        }
    }

    /// `egresscheck --data lab.toml check …` with the lab's resolver and CA, no proxy.
    pub fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        crate::probe::clean_env(&mut cmd);
        cmd.arg("--data").arg(&self.data).args([
            "check",
            "--resolver",
            &self.dns.resolver_arg(),
            "--timeout",
            "2s",
            "--as-of",
            AS_OF,
        ]);
        match &self.proxy {
            Some(url) => cmd.args(["--proxy", url]),
            None => cmd.arg("--no-proxy"),
        };
        cmd.arg("--ca-file")
            .arg(self.ca.pem_file())
            .env("SSL_CERT_FILE", self.system_ca.pem_file())
            .env("NO_COLOR", "1")
            // What the report says, not how it folds to a terminal's width.
            .env("COLUMNS", "240")
            .args(extra);
        cmd
    }

    /// Runs `check --format json` with `extra`: exit code and report.
    pub fn json(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let out = self.command(&args).output().unwrap();
        (out.status.code().unwrap(), parse(&out))
    }
}

pub fn parse(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The findings of `code` in a JSON report.
pub fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

/// Every finding code of a JSON report, sorted.
pub fn codes(report: &Value) -> Vec<String> {
    let mut codes: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

/// The target objects of `host`.
pub fn targets<'a>(report: &'a Value, host: &str) -> Vec<&'a Value> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["host"] == host)
        .collect()
}

/// Runs `check` in every format (json, jsonl, markdown, html, table, prometheus, junit,
/// nagios) with `extra` and asserts that `code` is reported with `severity` in each, and
/// that each exits as that severity says (fail: 1, Nagios 2; warn: 0, Nagios 1), the JSON
/// report holding the finding's `message_part`.
pub fn assert_every_format(
    lab: &Lab,
    extra: &[&str],
    code: &str,
    severity: &str,
    message_part: &str,
) {
    let verdict = match severity {
        "fail" => "fail",
        "warn" => "warn",
        other => panic!("severity {other}"),
    };
    assert_every_format_with_verdict(lab, extra, code, severity, message_part, verdict);
}

/// [`assert_every_format`] for a run whose verdict (`fail` or `warn`) is set by other
/// findings too: the exit codes follow the verdict, the finding keeps its own severity.
pub fn assert_every_format_with_verdict(
    lab: &Lab,
    extra: &[&str],
    code: &str,
    severity: &str,
    message_part: &str,
    verdict: &str,
) {
    crate::support::tools::require(&["promtool", "xmllint"]);
    let (exit, nagios_exit, nagios_word) = match verdict {
        "fail" => (1, 2, "CRITICAL"),
        "warn" => (0, 1, "WARNING"),
        other => panic!("verdict {other}"),
    };
    let run = |format: &str| {
        let mut args = vec!["--format", format];
        args.extend_from_slice(extra);
        let out = lab.command(&args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code().unwrap(), text, out)
    };
    let (code_json, _, out) = run("json");
    let report = parse(&out);
    assert_eq!(code_json, exit, "json exit: {report}");
    let found = findings(&report, code);
    assert!(
        found
            .iter()
            .any(|f| f["severity"] == severity
                && f["message"].as_str().unwrap().contains(message_part)),
        "no {severity} {code} saying {message_part:?} in {report}"
    );
    let (code_jsonl, lines, _) = run("jsonl");
    assert_eq!(code_jsonl, exit, "jsonl exit: {lines}");
    let objects: Vec<Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        objects.iter().any(|o| o["type"] == "finding"
            && o["code"] == code
            && o["severity"] == severity
            && o["message"]
                .as_str()
                .is_some_and(|m| m.contains(message_part))),
        "jsonl lacks a {severity} {code} saying {message_part:?}:\n{lines}"
    );
    // The documents for a change ticket: the code, and the run's exit code.
    for format in ["markdown", "html"] {
        let (exit_doc, doc, _) = run(format);
        assert_eq!(exit_doc, exit, "{format} exit");
        assert!(doc.contains(code), "{format} lacks {code}:\n{doc}");
    }
    let (code_table, table, _) = run("table");
    assert_eq!(code_table, exit, "table exit: {table}");
    assert!(
        table.contains(&format!("{severity} {code}")) || table.contains(code),
        "table lacks {code}:\n{table}"
    );
    assert!(
        table.contains(message_part),
        "table lacks {message_part:?}:\n{table}"
    );
    let (code_prom, metrics, _) = run("prometheus");
    assert_eq!(code_prom, exit, "prometheus exit");
    let series = format!("egresscheck_findings{{code=\"{code}\",severity=\"{severity}\"}} ");
    let count: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
        .parse()
        .unwrap();
    assert!(count >= 1.0, "{series}{count}");
    crate::check::assert_promtool_accepts(&metrics);
    let (code_junit, xml, _) = run("junit");
    assert_eq!(code_junit, exit, "junit exit");
    assert!(xml.contains(code), "junit lacks {code}:\n{xml}");
    if severity == "fail" {
        assert!(
            xml.contains(&format!("<failure type=\"{code}\""))
                || xml.contains(&format!("{code}: ")),
            "{xml}"
        );
    }
    crate::check::assert_xmllint_accepts(&xml);
    let (code_nagios, line, _) = run("nagios");
    assert_eq!(code_nagios, nagios_exit, "nagios: {line}");
    assert!(
        line.starts_with(&format!("EGRESSCHECK {nagios_word} - ")),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");
}

/// A leaf for `name` under `ca`, valid 2026-01-01 to 2031-01-01 (so [`AS_OF`] and today
/// both fall inside it).
pub fn leaf(ca: &TestCa, name: &str) -> crate::support::pki::Leaf {
    let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
    ca.leaf(&[name])
        .validity(day("2026-01-01"), day("2031-01-01"))
        .issue()
}
