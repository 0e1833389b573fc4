//! `check --client FILE`: the token step in the go-live check and in every report format.

use std::process::{Command, Output};

use serde_json::Value;

use super::lab::{BIN, Lab, PASSWORD, SCOPE, text};
use crate::documents::{assert_self_contained, assert_tables_well_formed, cells};
use crate::support::browser;

/// Every format of `check`.
const FORMATS: [&str; 8] = [
    "table",
    "json",
    "jsonl",
    "prometheus",
    "junit",
    "nagios",
    "markdown",
    "html",
];

/// A client file beside the lab's keystore (relative paths), asking for `scope`.
fn client_file(lab: &Lab, scope: &str) -> std::path::PathBuf {
    client_file_for(lab, "client-1", scope)
}

/// A client file beside the lab's keystore (relative paths) for `client_id`, asking for
/// `scope` (both TOML-escaped here).
pub(crate) fn client_file_for(lab: &Lab, client_id: &str, scope: &str) -> std::path::PathBuf {
    let (p12, pw) = lab.keystore();
    let name = |p: &std::path::Path| p.file_name().unwrap().to_str().unwrap().to_owned();
    let quoted = crate::hardening::toml_string;
    lab.file(
        "client.toml",
        format!(
            "environment = \"test\"\nclient_id = {}\nscopes = [{}]\nkeystore = {}\nkeystore_password_file = {}\n",
            quoted(client_id),
            quoted(scope),
            quoted(&name(&p12)),
            quoted(&name(&pw))
        )
        .as_bytes(),
    )
}

/// `check --env test --client CLIENT --format FORMAT` against the lab.
pub(crate) fn check(lab: &Lab, client: &std::path::Path, format: &str) -> Output {
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
        .env("NO_COLOR", "1")
        // What the reports say, not how they fold to a terminal's width.
        .env("COLUMNS", "1000")
        .output()
        .unwrap()
}

/// The Markdown report's token section: from its heading to the next section's.
pub(crate) fn markdown_token_section(markdown: &str) -> &str {
    let start = markdown
        .find("\n## Token\n")
        .unwrap_or_else(|| panic!("no token section:\n{markdown}"));
    let rest = &markdown[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The rows of the steps table of a token section: step, result, details.
fn step_rows(section: &str) -> Vec<Vec<String>> {
    let mut lines = section.lines().skip_while(|l| !l.starts_with("| step |"));
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("no steps table:\n{section}"));
    assert_eq!(cells(header).len(), 3, "{header}");
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| cells(l).iter().map(|c| c.trim().to_owned()).collect())
        .collect()
}

/// The row of `step` in `rows`.
fn step<'a>(rows: &'a [Vec<String>], step: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == step)
        .unwrap_or_else(|| panic!("no {step} row in {rows:#?}"))
}

/// The section headings of a document, in order (`## X` in Markdown).
fn headings(markdown: &str) -> Vec<&str> {
    markdown.lines().filter(|l| l.starts_with("## ")).collect()
}

/// The lines of a JSON-lines output, parsed.
fn jsonl(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The token line of a JSON-lines output, which comes after the targets and before the
/// findings.
fn token_line(lines: &[Value]) -> &Value {
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    let at = types
        .iter()
        .position(|t| *t == "token")
        .unwrap_or_else(|| panic!("no token line: {types:?}"));
    assert_eq!(
        types.iter().filter(|t| **t == "token").count(),
        1,
        "{types:?}"
    );
    assert!(types[..at].iter().all(|t| *t == "target"), "{types:?}");
    assert!(types[at + 1..].iter().all(|t| *t != "target"), "{types:?}");
    &lines[at]
}

/// The HTML report opened in headless Chromium: self-contained, no console message, and
/// its text.
fn html_text(lab: &Lab, name: &str, html: &str) -> String {
    assert_self_contained(name, html);
    let path = lab.dir.path().join(format!("{name}.html"));
    std::fs::write(&path, html).unwrap();
    let page = browser::open(&path);
    assert!(page.console.is_empty(), "{name}: {:#?}", page.console);
    assert!(page.dom.contains("<h2>Token</h2>"), "{name}: {}", page.dom);
    page.text
}

/// `text` has `parts` in this order.
fn assert_in_order(what: &str, text: &str, parts: &[&str]) {
    let mut from = 0;
    for part in parts {
        let at = text[from..]
            .find(part)
            .unwrap_or_else(|| panic!("{what}: {part:?} not after byte {from} of\n{text}"));
        from += at + part.len();
    }
}

/// The (step, result) rows of the table's token section, in order.
fn table_steps(table: &str) -> Vec<(String, String)> {
    table
        .lines()
        .skip_while(|l| !l.starts_with("Token ("))
        .filter(|l| l.starts_with('│'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('│').split('┆').map(str::trim).collect();
            match cells.as_slice() {
                [step, result, _] if !step.is_empty() && *step != "step" => {
                    Some(((*step).to_owned(), (*result).to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

/// The Markdown token section says what the table says: the same steps with the same
/// results, in the same order; and the HTML shows them too, in that order, between the
/// targets and the findings.
fn assert_documents_match_the_table(
    lab: &Lab,
    name: &str,
    table: &str,
    markdown: &str,
    html: &str,
) -> (Vec<Vec<String>>, String) {
    let from_table = table_steps(table);
    assert!(!from_table.is_empty(), "{name}: no steps in\n{table}");
    assert_tables_well_formed(name, markdown);
    assert_eq!(
        headings(markdown),
        [
            "## Causes",
            "## Targets",
            "## Token",
            "## Findings",
            "## Firewall rules needed"
        ],
        "{name}: the token section sits where the table puts it, after the targets"
    );
    let rows = step_rows(markdown_token_section(markdown));
    let from_markdown: Vec<(String, String)> =
        rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(from_markdown, from_table, "{name}:\n{markdown}\n{table}");
    let page = html_text(lab, name, html);
    let mut order = vec!["Targets".to_owned(), "Token".to_owned()];
    order.extend(from_table.iter().map(|(s, r)| format!("{s} {r}")));
    order.push("Findings".to_owned());
    let order: Vec<&str> = order.iter().map(String::as_str).collect();
    assert_in_order(name, &page, &order);
    (rows, page)
}

#[test]
fn check_with_a_client_includes_the_token_step_in_every_format() {
    let lab = Lab::new("check-client", |b| b);
    let client = client_file(&lab, SCOPE);
    let runs: Vec<(&str, Output)> = FORMATS
        .iter()
        .map(|&format| (format, check(&lab, &client, format)))
        .collect();
    let shown = |format: &str| {
        let (_, out) = runs.iter().find(|(f, _)| *f == format).unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {}", text(out));
        String::from_utf8(out.stdout.clone()).unwrap()
    };

    let doc: Value = serde_json::from_str(&shown("json")).unwrap();
    assert_eq!(doc["token"]["answer"]["outcome"], "token", "{doc}");
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "token-ok")
    );

    // The table, with the metadata request's path as the step saw it.
    let table = shown("table");
    assert!(
        table.contains("Token (test, client client-1") && table.contains("granted"),
        "{table}"
    );
    let address = lab.auth.addr();
    let path = table
        .lines()
        .find(|l| l.contains("│ path "))
        .unwrap_or_else(|| panic!("no path row:\n{table}"));
    assert!(
        path.contains(" ok ")
            && path.contains(&format!(
                "{}:{} {} open, TLS",
                super::lab::HOST,
                address.port(),
                address.ip()
            ))
            && path.contains("trusted"),
        "the path row names the target the metadata came over: {path}"
    );
    assert!(!table.contains("nothing probed"), "{table}");

    let metrics = shown("prometheus");
    assert!(
        metrics.contains("egresscheck_findings{code=\"token-ok\",severity=\"info\"} 1"),
        "{metrics}"
    );
    shown("nagios");
    let junit = shown("junit");
    assert!(junit.contains("<testsuite"), "{junit}");

    // Markdown and HTML: the table's steps, and that this host got a token.
    let markdown = shown("markdown");
    let (rows, page) =
        assert_documents_match_the_table(&lab, "granted", &table, &markdown, &shown("html"));
    let section = markdown_token_section(&markdown);
    let said = "this host got a token. Client client-1 in environment test (service maskinporten), scopes skatteetaten:mva.";
    assert!(
        section.contains(&format!("**Token granted**: {said}")),
        "{section}"
    );
    assert!(page.contains(said), "{page}");
    let details = |name: &str| {
        step(&rows, name)[2]
            .split("<br>")
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(details("key"), ["PKCS#12 keystore (x5c)"]);
    assert!(
        details("certificate").contains(&format!("organisation {}", super::lab::ORG))
            && details("certificate").contains(&"a test certificate (by issuer)".to_owned()),
        "{section}"
    );
    assert!(
        details("grant").contains(&"iss client-1".to_owned())
            && details("grant").contains(&format!("scope {SCOPE}")),
        "{section}"
    );
    assert!(
        details("token").contains(&format!("scopes {SCOPE}"))
            && details("token").contains(&"audience none (unspecified)".to_owned()),
        "{section}"
    );
    let cause = section
        .lines()
        .find(|l| l.contains("| token-ok |"))
        .unwrap_or_else(|| panic!("the token step's cause:\n{section}"));
    assert_eq!(cells(cause).len(), 6, "{cause}");
    assert!(page.contains("token-ok"), "{page}");

    // JSON lines: a token line between the targets and the findings, with the JSON
    // report's token object.
    let lines = jsonl(&shown("jsonl"));
    let token = token_line(&lines);
    assert_eq!(token["granted"], true, "{token}");
    assert_eq!(token["outcome"], "this host got a token", "{token}");
    assert_eq!(
        token["findings"],
        serde_json::json!(["token-ok"]),
        "{token}"
    );
    assert_eq!(token["client_id"], "client-1", "{token}");
    assert_eq!(token["scopes"], serde_json::json!([SCOPE]), "{token}");
    assert_eq!(token["answer"]["outcome"], "token", "{token}");
    assert_eq!(token["labels"], serde_json::json!({}), "{token}");
    for key in doc["token"].as_object().unwrap().keys() {
        assert!(token.get(key).is_some(), "{key} missing from {token}");
    }

    // Nothing secret in any format: the password, the key, the grants, the tokens.
    let outputs: Vec<String> = runs.iter().map(|(_, out)| text(out)).collect();
    assert_eq!(lab.auth.grants().len(), FORMATS.len(), "one grant per run");
    super::secrets::assert_clean(&lab, &outputs);
}

#[test]
fn a_refused_token_fails_the_check_in_every_format_and_leaks_nothing() {
    let lab = Lab::new("check-refused", |b| b);
    let client = client_file(&lab, "skatteetaten:not-provisioned");
    let mut outputs = Vec::new();
    let mut stdouts = Vec::new();
    for format in FORMATS {
        let out = check(&lab, &client, format);
        assert_ne!(out.status.code(), Some(0), "{format}: {}", text(&out));
        let shown = text(&out);
        assert!(shown.contains("token-scope-missing"), "{format}: {shown}");
        outputs.push(shown);
        stdouts.push(String::from_utf8(out.stdout).unwrap());
    }
    let output = |format: &str| {
        let at = FORMATS.iter().position(|f| *f == format).unwrap();
        stdouts[at].as_str()
    };

    // The table says who acts and what to do, the whole refusal quoted before it.
    let table = output("table");
    assert!(
        table.contains("token-scope-missing: the authorization server refused the token (HTTP 400: invalid_scope (MP-200: Invalid scope - Token request contains invalid scopes for client))")
            && table.contains("→ integration owner: the scope is not provisioned on the client"),
        "{table}"
    );

    // Markdown and HTML: no token, why, the server's words, who acts and what to do.
    let markdown = output("markdown");
    let (rows, page) =
        assert_documents_match_the_table(&lab, "refused", table, markdown, output("html"));
    let section = markdown_token_section(markdown);
    let said = "the authorization server refused the token (HTTP 400 invalid_scope). Client client-1 in environment test (service maskinporten), scopes skatteetaten:not-provisioned.";
    assert!(
        section.contains(&format!("**No token**: {}", said.replace('_', "\\_"))),
        "{section}"
    );
    assert!(page.contains(said), "{page}");
    assert_eq!(step(&rows, "token")[1], "refused");
    assert_eq!(
        step(&rows, "token")[2],
        "HTTP 400 invalid\\_scope<br>MP-200: Invalid scope - Token request contains invalid scopes for client"
    );
    let cause = section
        .lines()
        .find(|l| l.contains("| token-scope-missing |"))
        .unwrap_or_else(|| panic!("the token step's cause:\n{section}"));
    let cause: Vec<String> = cells(cause).iter().map(|c| c.trim().to_owned()).collect();
    assert_eq!(cause[1], "fail", "{cause:?}");
    assert!(
        cause[3].starts_with(
            "the authorization server refused the token (HTTP 400: invalid\\_scope (MP-200"
        ),
        "{cause:?}"
    );
    assert_eq!(cause[4], "integration owner", "{cause:?}");
    assert!(
        cause[5]
            .contains("ask Skatteetaten whether your organisation number has the scope in test"),
        "{cause:?}"
    );
    assert_in_order(
        "refused html",
        &page,
        &[
            "token refused HTTP 400 invalid_scope MP-200: Invalid scope",
            "token-scope-missing",
            "integration owner",
            "ask Skatteetaten",
            "Findings",
        ],
    );

    // JSON lines.
    let lines = jsonl(output("jsonl"));
    let token = token_line(&lines);
    assert_eq!(token["granted"], false, "{token}");
    assert_eq!(
        token["outcome"], "the authorization server refused the token (HTTP 400 invalid_scope)",
        "{token}"
    );
    assert_eq!(
        token["findings"],
        serde_json::json!(["token-scope-missing"]),
        "{token}"
    );
    assert_eq!(token["answer"]["error"], "invalid_scope", "{token}");

    // Nothing secret in any format.
    let seen = lab.auth.grants();
    assert_eq!(seen.len(), FORMATS.len(), "one grant per run");
    for output in &outputs {
        assert!(!output.contains(PASSWORD), "{output}");
        for grant in &seen {
            let assertion = grant.body.split("assertion=").nth(1).unwrap();
            let signature = assertion.rsplit('.').next().unwrap();
            assert!(!output.contains(&signature[..40]), "{output}");
        }
    }
    super::secrets::assert_clean(&lab, &outputs);
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

/// A token that came with an enterprise certificate about to expire: the JSON's cause and
/// the documents' token section give the renewal to the integration owner (not the provider,
/// whose server certificates the same code is about elsewhere), and still say the token came.
#[test]
fn an_expiring_client_certificate_is_the_integration_owners_in_every_format() {
    let lab = Lab::with_cert(
        "check-expiring",
        crate::support::enterprise::Subject::org(super::lab::ORG).days(-700, 10),
        |b| b,
    );
    let client = client_file(&lab, SCOPE);
    let out = check(&lab, &client, "json");
    assert_eq!(out.status.code(), Some(0), "a warning: {}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cause = doc["causes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "certificate-expiring")
        .unwrap_or_else(|| panic!("no certificate-expiring cause: {doc}"));
    assert_eq!(cause["actor"], "integration", "{cause}");
    // The words are the enterprise certificate's, not the authorization server's (whose
    // certificate the token step's findings are not about).
    let summary = cause["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "the enterprise certificate of organisation {} expires on",
            super::lab::ORG
        )),
        "{cause}"
    );
    assert_eq!(cause["action"], "renew it before then", "{cause}");

    let out = check(&lab, &client, "markdown");
    let markdown = String::from_utf8(out.stdout).unwrap();
    let section = markdown_token_section(&markdown);
    assert!(section.contains("**Token granted**"), "{section}");
    let row = section
        .lines()
        .find(|l| l.contains("| certificate-expiring |"))
        .unwrap_or_else(|| panic!("the certificate's cause in the token section:\n{section}"));
    let row: Vec<String> = cells(row).iter().map(|c| c.trim().to_owned()).collect();
    assert_eq!(
        (row[1].as_str(), row[4].as_str()),
        ("warn", "integration owner"),
        "{row:?}"
    );
    assert!(row[3].starts_with("the enterprise certificate"), "{row:?}");

    let out = check(&lab, &client, "html");
    let page = html_text(&lab, "expiring", &String::from_utf8(out.stdout).unwrap());
    assert_in_order(
        "expiring html",
        &page,
        &[
            "Token",
            "Token granted",
            "certificate-expiring",
            "integration owner",
            "Findings",
        ],
    );
}

/// A token step that stops says where in every document: a keystore password that is wrong
/// (nothing sent), then an authorization server nothing listens at (no metadata, no grant).
#[test]
fn a_token_step_that_stops_says_where_in_every_document() {
    let lab = Lab::new("check-stops", |b| b);
    let (p12, _) = lab.keystore();
    lab.file("wrong.txt", b"not-the-password\n");
    let client = lab.file(
        "client-wrong.toml",
        format!(
            "environment = \"test\"\nclient_id = \"client-1\"\nscopes = [\"{SCOPE}\"]\nkeystore = {}\nkeystore_password_file = \"wrong.txt\"\n",
            crate::hardening::toml_string(p12.file_name().unwrap().to_str().unwrap())
        )
        .as_bytes(),
    );
    let run = |client: &std::path::Path, format: &str| {
        let out = check(&lab, client, format);
        assert_eq!(out.status.code(), Some(1), "{format}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let stops = |name: &str,
                 client: &std::path::Path,
                 said: &str,
                 steps: &[(&str, &str)],
                 code: &str,
                 stopped: &str| {
        let table = run(client, "table");
        let markdown = run(client, "markdown");
        let (rows, page) =
            assert_documents_match_the_table(&lab, name, &table, &markdown, &run(client, "html"));
        let section = markdown_token_section(&markdown);
        assert!(
            section.contains(&format!("**No token**: {said}.")),
            "{name}:\n{section}"
        );
        let shown: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();
        assert_eq!(shown, steps, "{name}:\n{section}");
        assert!(
            section.contains(&format!("| {code} |")),
            "{name}: {code} in\n{section}"
        );
        assert_in_order(name, &page, &["Token", "No token", said, code, "Findings"]);
        let lines = jsonl(&run(client, "jsonl"));
        let token = token_line(&lines);
        assert_eq!(
            (&token["granted"], &token["stopped"], &token["outcome"]),
            (
                &Value::from(false),
                &Value::from(stopped),
                &Value::from(said)
            ),
            "{name}: {token}"
        );
        assert!(
            token["findings"]
                .as_array()
                .unwrap()
                .contains(&Value::from(code)),
            "{name}: {token}"
        );
        rows
    };

    let rows = stops(
        "wrong password",
        &client,
        "the key could not be used; nothing was sent",
        &[("key", "unusable")],
        "client-key-unusable",
        "key",
    );
    assert!(rows[0][2].contains("password"), "{rows:?}");
    assert!(lab.auth.grants().is_empty(), "nothing was sent");

    // Nothing listens where the data file says the authorization server is.
    let closed = crate::support::tcp::ClosedPort::on(lab.auth.addr().ip());
    let std::net::IpAddr::V4(ip) = lab.auth.addr().ip() else {
        panic!("the lab listens on IPv4");
    };
    std::fs::write(&lab.data, super::lab::data_file(ip, closed.addr().port())).unwrap();
    let client = client_file(&lab, SCOPE);
    let rows = stops(
        "closed",
        &client,
        "no usable metadata from the authorization server; no grant was sent",
        &[
            ("key", "loaded"),
            ("certificate", "ok"),
            ("path", "failed"),
            ("metadata", "failed"),
        ],
        "authorization-server-unreachable",
        "metadata",
    );
    assert!(
        rows[2][2].contains(&format!("{ip} not open")),
        "the path says where it stopped: {rows:?}"
    );
    assert!(lab.auth.grants().is_empty(), "nothing was sent");
}
