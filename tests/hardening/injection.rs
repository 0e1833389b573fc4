//! Injection through every free-text field of a data file, and through what remote peers
//! send, into every output: `check` (table, json, prometheus, junit, nagios, markdown, html —
//! the HTML opened in headless Chromium), `data show`,
//! `data diff`, `data check-source` (table, json) and every rule dialect.
//!
//! Control characters and bidirectional controls are refused by the catalog (asserted per
//! field). Everything else in the payload (quotes, line breaks where the field allows them,
//! `$(…)`, backticks, `*/`, `;`, `#`, markup) must come out inert: JSON that parses and
//! keeps the text, XML that xmllint accepts, metrics that promtool accepts, one Nagios line,
//! and tables without a raw escape sequence or bidi control. Remote strings (a certificate
//! subject and issuer with ANSI escapes and bidi controls, a DNS name with an escape byte, a
//! provider page with both) are sanitised in the tables too. The token step of
//! `check --client` brings its own: a client id and scopes from the client file, and a token
//! endpoint's error code and description.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Output;

use egresscheck::rules::{Format, Options, RuleSet};

use crate::check::{assert_promtool_accepts, assert_xmllint_accepts};
use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;
use crate::support::proxy::{ProxyMode, ProxyServer};
use crate::support::tcp::ClosedPort;
use crate::support::tls::TlsServer;
use crate::support::tools;

use super::{egresscheck, toml_string};

/// What a single-line field carries: every character class that means something to a shell,
/// a firewall, a comment syntax, JSON, XML, Prometheus or Markdown.
const LINE: &str = r#"PAYLOADSTART "dq" 'sq' $(touch PWNED1) `touch PWNED2` ; touch PWNED3 # */ /* ${x} %{y} <b>&amp;</b> ]]> --> </testcase> {a="b"} | \ \" \n end PAYLOADEND"#;

/// A multi-line field carries the same, with line breaks and a tab.
fn free_text() -> String {
    format!("{LINE}\nsecond line $(touch PWNED4) # ;\n\tthird `touch PWNED5` */ PAYLOADEND")
}

/// The values of one data file's free-text fields.
struct Texts {
    line: String,
    free: String,
}

impl Texts {
    fn hostile() -> Texts {
        Texts {
            line: LINE.to_owned(),
            free: free_text(),
        }
    }

    fn benign() -> Texts {
        Texts {
            line: "PAYLOADSTART plain PAYLOADEND".to_owned(),
            free: "PAYLOADSTART plain PAYLOADEND".to_owned(),
        }
    }
}

/// Where the data file's hosts live.
struct Ports {
    good: u16,
    legacy: u16,
}

/// A data file with `texts` in every free-text field: provider, source publisher, title and
/// note, environment name and alias, service name and operator, endpoint note, subnet
/// coverage, legacy sunset basis and note, table notes and changelog entries.
fn data_file(texts: &Texts, ports: &Ports) -> String {
    let (l, f) = (toml_string(&texts.line), toml_string(&texts.free));
    let alias = toml_string(&format!("Alias {}", texts.line));
    format!(
        r#"schema = 1

[data]
provider = {l}
version = "2026-01-01.1"
primary_source = "page"

[[source]]
id = "page"
publisher = {l}
title = {l}
url = "https://provider.egress.test/firewall"
document_date = 2026-01-01
note = {f}

[[environment]]
id = "prod"
name = {l}
aliases = [{alias}]

[[service]]
id = "api"
name = {l}
operator = {l}

[[endpoint]]
environment = "prod"
service = "api"
host = "good.egress.test"
ipv4 = ["127.0.0.64"]
ports = [{good}]
source = "page"
note = {f}

[[subnet]]
environment = "prod"
service = "api"
cidr = "127.0.1.0/24"
ports = [{good}]
covers = {f}
source = "page"

[[legacy]]
environment = "prod"
service = "api"
host = "old.egress.test"
ipv4 = ["127.0.0.65"]
ports = [{legacy}]
sunset = 2025-06-30
sunset_basis = {f}
replaced_by = "good.egress.test"
source = "page"
note = {f}

[[note]]
text = {f}
source = "page"

[[changelog]]
version = "2026-01-01.1"
changes = [{f}]
"#,
        good = ports.good,
        legacy = ports.legacy,
    )
}

/// Every free-text field of [`data_file`], as (TOML key line to replace, field name in the
/// catalog's messages).
const FIELDS: &[(&str, &str)] = &[
    ("provider = ", "data.provider"),
    ("publisher = ", "source.publisher"),
    ("title = ", "source.title"),
    ("aliases = ", "environment.aliases"),
    ("operator = ", "service.operator"),
    ("covers = ", "subnet.covers"),
    ("sunset_basis = ", "legacy.sunset_basis"),
    ("text = ", "note.text"),
    ("changes = ", "changelog.changes"),
];

/// Characters the catalog refuses in text: escape sequences, carriage return, NUL, DEL, and
/// bidirectional controls ("Trojan Source").
const FORBIDDEN: &[char] = &[
    '\u{1b}', '\r', '\0', '\u{7f}', '\u{202E}', '\u{2066}', '\u{200F}', '\u{061C}',
];

#[test]
fn control_and_bidi_characters_are_refused_in_every_text_field() {
    let ports = Ports {
        good: 443,
        legacy: 443,
    };
    let valid = data_file(&Texts::hostile(), &ports);
    egresscheck::catalog::load_str(&valid, "hostile.toml")
        .unwrap_or_else(|e| panic!("the payload without controls is valid data: {e}"));
    for (key, field) in FIELDS {
        for ch in FORBIDDEN {
            let bad = format!("Text {ch} here");
            let text = valid
                .lines()
                .map(|line| {
                    if line.starts_with(key) {
                        let value = if key.starts_with("aliases") || key.starts_with("changes") {
                            format!("[{}]", toml_string(&bad))
                        } else {
                            toml_string(&bad)
                        };
                        format!("{key}{value}")
                    } else {
                        line.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            let err = egresscheck::catalog::load_str(&text, "hostile.toml")
                .expect_err(&format!("{field} with U+{:04X}", u32::from(*ch)));
            let message = err.to_string();
            assert!(
                message.contains(field),
                "{field} U+{:04X}: {message}",
                u32::from(*ch)
            );
            // The message itself must not carry the character it complains about.
            assert!(!message.contains(*ch), "{field}: {message:?}");
        }
    }
}

/// No escape sequence, no bidi or invisible control, no control character but line breaks
/// and tabs: what may reach a terminal.
fn assert_terminal_safe(what: &str, text: &str) {
    for ch in text.chars() {
        let bad = (ch.is_control() && ch != '\n' && ch != '\t')
            || egresscheck::term::is_bidi_control(ch)
            || matches!(
                ch,
                '\u{200B}'..='\u{200D}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'
            );
        assert!(!bad, "{what}: U+{:04X} in\n{text}", u32::from(ch));
    }
}

/// A hostile world: the data file above (payload everywhere), a TLS server whose
/// certificate's subject and issuer hold ANSI escapes and bidi controls (untrusted, so the
/// issuer reaches a finding), a legacy host that refuses, and a DNS name whose CNAME target
/// holds an escape byte.
struct Lab {
    _dns: DnsServer,
    _tls: TlsServer,
    _closed: ClosedPort,
    _ca: TestCa,
    dir: tempfile::TempDir,
    resolver: String,
    good_port: u16,
}

/// What a hostile certificate authority calls itself.
const EVIL_CA: &str = "Evil \u{1b}[31mRed\u{1b}[0m \u{202E}AC liveE\u{202C} \u{2066}x\u{2069}";

impl Lab {
    fn new() -> Lab {
        let ca = TestCa::new(EVIL_CA);
        let leaf = ca
            .leaf(&["good.egress.test", "x\u{1b}[2Jy.egress.test"])
            .common_name("good \u{1b}]0;title\u{7} \u{202E}evil\u{202C}")
            .issue();
        let good_ip: IpAddr = "127.0.0.64".parse().unwrap();
        let tls = TlsServer::builder(leaf).bind(good_ip).start();
        let closed = ClosedPort::on("127.0.0.65".parse().unwrap());
        let dns = DnsServer::zone("egress.test")
            .addr("good.egress.test", good_ip, 60)
            .addr("old.egress.test", "127.0.0.65".parse().unwrap(), 60)
            .cname("escape.egress.test", "a\u{1b}[31mb\u{202e}.egress.test", 60)
            .start();
        let ports = Ports {
            good: tls.port(),
            legacy: closed.addr().port(),
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("hostile.toml"),
            data_file(&Texts::hostile(), &ports),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("benign.toml"),
            data_file(&Texts::benign(), &ports),
        )
        .unwrap();
        Lab {
            resolver: dns.resolver_arg(),
            good_port: ports.good,
            _dns: dns,
            _tls: tls,
            _closed: closed,
            _ca: ca,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, data: &str, args: &[&str]) -> Output {
        egresscheck()
            .arg("--data")
            .arg(self.path(data))
            .args(args)
            .output()
            .unwrap()
    }

    fn check(&self, format: &str) -> Output {
        self.run(
            "hostile.toml",
            &[
                "check",
                "--no-proxy",
                "--resolver",
                &self.resolver,
                "--timeout",
                "2s",
                "--format",
                format,
            ],
        )
    }
}

fn stdout(what: &str, out: &Output, codes: &[i32]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| codes.contains(&c)),
        "{what}: {:?}: {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_terminal_safe(&format!("{what} (stderr)"), &stderr);
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The payload survives (as data) in a JSON document: some string equals it exactly.
fn assert_json_keeps_payload(what: &str, text: &str) {
    let value: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{text}"));
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(&value, &mut all);
    assert!(
        all.iter().any(|s| s == LINE),
        "{what}: the payload is not kept as one string:\n{text}"
    );
}

#[test]
fn every_check_format_keeps_hostile_data_and_remote_text_inert() {
    tools::require(&["promtool", "xmllint"]);
    let lab = Lab::new();

    let table = stdout("check table", &lab.check("table"), &[1]);
    assert_terminal_safe("check table", &table);
    assert!(
        table.contains("certificate-untrusted"),
        "the evil CA's certificate is reported:\n{table}"
    );
    assert!(
        table.contains("\\u{1b}[31mRed") || table.contains("\\u{001b}[31mRed"),
        "the issuer is shown, escaped:\n{table}"
    );

    let json = stdout("check json", &lab.check("json"), &[1]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(value["targets"].is_array(), "{json}");

    let metrics = stdout("check prometheus", &lab.check("prometheus"), &[1]);
    assert_terminal_safe("check prometheus", &metrics);
    assert!(
        metrics.contains("egresscheck_data_document_timestamp_seconds{provider=\"PAYLOADSTART"),
        "{metrics}"
    );

    let junit = stdout("check junit", &lab.check("junit"), &[1]);
    assert_terminal_safe("check junit", &junit);
    assert!(!junit.contains("]]> -->"), "raw payload in XML:\n{junit}");

    let nagios = stdout("check nagios", &lab.check("nagios"), &[2]);
    assert_terminal_safe("check nagios", &nagios);
    assert_eq!(nagios.lines().count(), 1, "one status line:\n{nagios}");
    assert_eq!(
        nagios.matches('|').count(),
        1,
        "one perfdata separator:\n{nagios}"
    );

    assert_promtool_accepts(&metrics);
    assert_xmllint_accepts(&junit);

    let markdown = stdout("check markdown", &lab.check("markdown"), &[1]);
    assert_markdown_inert("check markdown", &markdown);
    assert!(markdown.contains("PAYLOADSTART"), "{markdown}");

    let html = stdout("check html", &lab.check("html"), &[1]);
    let page = assert_html_inert("check html", &html, &lab.path("report.html"));
    assert!(
        page.text.contains("<b>&amp;</b> ]]> --> </testcase>"),
        "the payload reads as text: {}",
        page.text
    );
}

/// Markup the payloads carry; none of it may become markup in a document.
const MARKUP: &[&str] = &["<b>", "</testcase>", "&amp;", "<script>", "<i>"];

/// Markdown that keeps hostile text inert: terminal-safe, every table keeps its columns
/// (pipes escaped), no backtick opens code, no tag or entity of [`MARKUP`] is markup.
fn assert_markdown_inert(what: &str, markdown: &str) {
    assert_terminal_safe(what, markdown);
    crate::documents::assert_tables_well_formed(what, markdown);
    for raw in MARKUP {
        let escaped: String = raw
            .chars()
            .flat_map(|c| {
                if matches!(c, '<' | '>' | '&') {
                    vec!['\\', c]
                } else {
                    vec![c]
                }
            })
            .collect();
        assert!(
            !markdown.replace(&escaped, "").contains(raw),
            "{what}: raw {raw} in Markdown:\n{markdown}"
        );
    }
    let unescaped_backtick = markdown.lines().any(|l| {
        l.char_indices()
            .any(|(i, c)| c == '`' && !l[..i].ends_with('\\'))
    });
    assert!(
        !unescaped_backtick,
        "{what}: a backtick opens code:\n{markdown}"
    );
}

/// HTML that keeps hostile text inert, opened in headless Chromium (written to `path`):
/// terminal-safe, self-contained, no console message, and no element built from the payload
/// (our markup has no `<b>`, testcase, script or `<i>`).
fn assert_html_inert(
    what: &str,
    html: &str,
    path: &std::path::Path,
) -> crate::support::browser::Page {
    assert_terminal_safe(what, html);
    crate::documents::assert_self_contained(what, html);
    std::fs::write(path, html).unwrap();
    let page = crate::support::browser::open(path);
    assert!(page.console.is_empty(), "{what}: {:#?}", page.console);
    for element in ["<b>", "<testcase", "</testcase>", "<script", "<i>"] {
        assert!(
            !page.dom.contains(element),
            "{what}: {element} became markup:\n{}",
            page.dom
        );
    }
    page
}

/// What a client file may hold in `client_id` and a scope (visible ASCII but quotes and
/// backslashes, no spaces), chosen to mean something to Markdown, HTML, XML and a shell.
const HOSTILE_CLIENT: &str = "PAYLOADSTART<b>&amp;</b>]]>--></testcase>|`touch`*x*_y_[l](h)<script>alert(1)</script>{a='b'}$(x);#PAYLOADEND";
const HOSTILE_SCOPE: &str = "skatteetaten:<i>scope</i>|`s`*_[x](y)&amp;";

/// The token section of `check --client` (issue 17) with a hostile client id and scope, and a
/// token endpoint whose error code and description carry markup, escape sequences and bidi
/// controls: every format keeps them inert, the documents show them as text.
#[test]
fn the_token_section_keeps_a_hostile_client_scope_and_error_text_inert() {
    use crate::token::check_client::{check, client_file_for, markdown_token_section};

    let description = format!("{LINE} \u{1b}[31mred\u{1b}[0m \u{202E}evil\u{202C} <i>it</i>");
    let body = serde_json::json!({
        "error": "invalid_scope<b>x</b>|`e`",
        "error_description": description,
    })
    .to_string();
    let lab = crate::token::lab::Lab::new("injection-token", |b| b.token_status(400, &body));
    let client = client_file_for(&lab, HOSTILE_CLIENT, HOSTILE_SCOPE);
    let run = |format: &str| {
        stdout(
            &format!("check --client {format}"),
            &check(&lab, &client, format),
            &[1],
        )
    };

    let table = run("table");
    assert_terminal_safe("token table", &table);
    assert!(table.contains(HOSTILE_CLIENT), "{table}");
    assert!(
        table.contains("\\u{001b}[31mred"),
        "the server's escape sequence, made visible:\n{table}"
    );

    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["token"]["client_id"], HOSTILE_CLIENT, "{json}");
    assert_eq!(json["token"]["scopes"][0], HOSTILE_SCOPE, "{json}");
    let jsonl = run("jsonl");
    assert_terminal_safe("token jsonl", &jsonl);
    let token: serde_json::Value = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["type"] == "token")
        .unwrap_or_else(|| panic!("no token line:\n{jsonl}"));
    assert_eq!(token["client_id"], HOSTILE_CLIENT, "{token}");
    assert_eq!(token["granted"], false, "{token}");

    let markdown = run("markdown");
    assert_markdown_inert("token markdown", &markdown);
    let section = markdown_token_section(&markdown);
    for hostile in [
        HOSTILE_CLIENT,
        HOSTILE_SCOPE,
        "invalid_scope<b>x</b>|`e`",
        "<i>it</i>",
    ] {
        let escaped = egresscheck::output::markdown::escape(hostile);
        assert!(
            section.contains(&escaped),
            "{escaped} in the token section:\n{section}"
        );
    }

    let html = run("html");
    let page = assert_html_inert("token html", &html, &lab.dir.path().join("token.html"));
    for hostile in [
        HOSTILE_CLIENT,
        HOSTILE_SCOPE,
        "invalid_scope<b>x</b>|`e`",
        "<b>&amp;</b> ]]> --> </testcase>",
        "\\u{001b}[31mred",
        "<i>it</i>",
    ] {
        assert!(
            page.text.contains(hostile),
            "{hostile} as text in {}",
            page.text
        );
    }
    assert_in_token_section(&page.text, HOSTILE_CLIENT);
}

/// `text` (a page's text) names `what` in its token section, after the targets.
fn assert_in_token_section(text: &str, what: &str) {
    let token = text
        .find(" Token ")
        .unwrap_or_else(|| panic!("no token section: {text}"));
    assert!(
        text[token..].contains(what),
        "{what} after the token heading: {text}"
    );
}

#[test]
fn the_probe_table_sanitises_certificates_and_dns_names() {
    let lab = Lab::new();
    let out = egresscheck()
        .args([
            "probe",
            "--no-proxy",
            "--resolver",
            &lab.resolver,
            "--timeout",
            "2s",
            &format!("good.egress.test:{}", lab.good_port),
            "escape.egress.test",
        ])
        .output()
        .unwrap();
    let table = stdout("probe table", &out, &[1]);
    assert_terminal_safe("probe table", &table);
    assert!(table.contains("Evil \\u{"), "the issuer, escaped:\n{table}");
    assert!(
        table.contains("good \\u{"),
        "the subject, escaped:\n{table}"
    );
}

#[test]
fn the_probe_table_sanitises_what_a_proxy_says() {
    let dns = DnsServer::zone("egress.test").start();
    let proxy = ProxyServer::builder(ProxyMode::Raw(
        "HTTP/1.1 403 \u{1b}[2J\u{1b}]0;owned\u{7}Forbidden \u{202E}yxorp\r\nX-Evil: \u{1b}[31m\r\n\r\n"
            .as_bytes()
            .to_vec(),
        0,
    ))
    .start();
    let out = egresscheck()
        .args([
            "probe",
            "--resolver",
            &dns.resolver_arg(),
            "--proxy",
            &proxy.url(),
        ])
        .arg("api.egress.test")
        .output()
        .unwrap();
    let table = stdout("probe table through a proxy", &out, &[1]);
    assert_terminal_safe("probe table through a proxy", &table);
    assert!(table.contains("Forbidden"), "the reason is shown:\n{table}");
}

#[test]
fn data_commands_keep_hostile_data_inert() {
    let lab = Lab::new();
    for format in ["table", "json"] {
        let show = stdout(
            &format!("data show {format}"),
            &lab.run("hostile.toml", &["data", "show", "--format", format]),
            &[0],
        );
        assert_terminal_safe(&format!("data show {format}"), &show);
        if format == "json" {
            assert_json_keeps_payload("data show json", &show);
        } else {
            assert!(show.contains("PAYLOADSTART"), "{show}");
        }

        let hostile = lab.path("hostile.toml");
        let benign = lab.path("benign.toml");
        for (old, new) in [(&benign, &hostile), (&hostile, &benign)] {
            let out = egresscheck()
                .args(["data", "diff"])
                .arg(old)
                .arg(new)
                .args(["--format", format])
                .output()
                .unwrap();
            let diff = stdout(&format!("data diff {format}"), &out, &[0, 1]);
            assert_terminal_safe(&format!("data diff {format}"), &diff);
            if format == "json" {
                serde_json::from_str::<serde_json::Value>(&diff).unwrap();
            }
        }
    }
}

/// A provider page (downloaded from the internet) with escape sequences and bidi controls in
/// a table row label, next to the payload.
#[test]
fn check_source_keeps_hostile_pages_and_data_inert() {
    let lab = Lab::new();
    let page = lab.path("page.md");
    std::fs::write(
        &page,
        format!(
            "---\nlast_updated: 2026-01-01\n---\n# Firewall \u{1b}[2J\n\n| Miljø | Adresse |\n|---|---|\n| \u{1b}[31mProd\u{202E}uction | 127.0.0.64 |\n| {LINE} | 127.0.0.99 |\n| Test `x` | evil\u{1b}.egress.test |\n\n{}\n",
            free_text()
        ),
    )
    .unwrap();
    for format in ["table", "json"] {
        let out = egresscheck()
            .arg("--data")
            .arg(lab.path("hostile.toml"))
            .args(["data", "check-source"])
            .arg(&page)
            .args(["--format", format, "--as-of", "2026-02-01"])
            .output()
            .unwrap();
        let text = stdout(&format!("check-source {format}"), &out, &[0, 1]);
        assert_terminal_safe(&format!("check-source {format}"), &text);
        if format == "json" {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(value["findings"].is_array(), "{text}");
        } else {
            assert!(text.contains("127.0.0.99"), "{text}");
        }
    }
}

/// Every rule dialect, on the data file with the payload in every field: the checks of
/// `tests/rules/hostile.rs` (inert payload, unchanged line structure, valid JSON and CSV).
#[test]
fn every_rule_dialect_keeps_hostile_data_inert() {
    let ports = Ports {
        good: 443,
        legacy: 8443,
    };
    let load = |texts: &Texts| {
        egresscheck::catalog::load_str(&data_file(texts, &ports), "data.toml").unwrap()
    };
    let (hostile, benign) = (load(&Texts::hostile()), load(&Texts::benign()));
    let as_of = chrono::NaiveDate::from_ymd_opt(2025, 1, 15).unwrap();
    let mut options = Options::new(as_of);
    options.scope = egresscheck::rules::Scope::All;
    options.include_expired = true;
    // csv and the plain lists carry the header and comments with --comments only.
    options.comments = true;
    let hostile = RuleSet::from_catalog(&hostile, &options);
    let benign = RuleSet::from_catalog(&benign, &options);
    for format in Format::ALL {
        let (h, b) = (format.render(&hostile), format.render(&benign));
        assert_terminal_safe(format.name(), &h);
        crate::rules::hostile::check(format, &h, &b);
    }
}
