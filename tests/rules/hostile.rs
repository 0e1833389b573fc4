//! Injection: payloads in every free-text field that reaches the rules (provider, environment
//! names, subnet coverage, and any comment given to `RuleSet::from_entries`) must come out
//! inert in every dialect: no line break, no quote, no `$(…)`, backtick, `;`, `#`, `*/` or
//! bidirectional control inside the text, and the real tools still accept the output.

use std::fs;
use std::process::Command;

use egresscheck::catalog;
use egresscheck::rules::{Destination, Entry, Format, Header, Options, RuleSet};

use crate::support::netns::Netns;
use crate::support::tools;

use super::{fixture, rules};

/// Characters a payload segment may hold once escaped (escape.rs's comment set, with its
/// typographic apostrophe).
fn inert(ch: char) -> bool {
    ch.is_alphanumeric()
        || " .,:/_+-*()".contains(ch)
        || ch == egresscheck::rules::escape::APOSTROPHE
}

/// No control character but line ends and tabs, no bidirectional or invisible character.
fn assert_no_hidden_characters(format: Format, text: &str) {
    for ch in text.chars() {
        let hidden = (ch.is_control() && ch != '\n' && ch != '\t')
            || matches!(ch, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
        assert!(!hidden, "{format}: U+{:04X} in output", u32::from(ch));
    }
}

/// Every `PAYLOADSTART … PAYLOADEND` (or up to the line's end, where a dialect cut the
/// comment to its limit) holds only inert characters.
fn assert_payloads_inert(format: Format, text: &str) {
    let mut seen = 0;
    for (index, _) in text.match_indices("PAYLOADSTART") {
        seen += 1;
        let rest = &text[index..];
        let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
        let segment = match line.find("PAYLOADEND") {
            Some(end) => &line[..end],
            // Cut to the dialect's limit: what follows the cut is the dialect's own closing
            // syntax (a quote, a comma, a brace) and the ellipsis.
            None => line
                .trim_end_matches(['"', '\'', ',', '}', ' '])
                .trim_end_matches("..."),
        };
        for ch in segment.chars() {
            assert!(
                inert(ch),
                "{format}: {ch:?} in payload segment {segment:?}\nline: {line}"
            );
        }
        assert!(
            !segment.contains("*/") && !segment.contains("/*"),
            "{format}: {segment:?}"
        );
    }
    assert!(seen > 0, "{format}: the payload does not appear at all");
}

/// RFC 4180 records of a CSV text (after its `#` header lines).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut records = Vec::new();
    let (mut record, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, body.chars().peekable());
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

/// The payload in `hostile` is inert for `format`, and did not change the line structure of
/// the same output for `benign` data.
pub(crate) fn check(format: Format, hostile: &str, benign: &str) {
    assert_no_hidden_characters(format, hostile);
    assert_eq!(
        hostile.lines().count(),
        benign.lines().count(),
        "{format}: the payload changed the output's line structure"
    );
    match format {
        Format::Json => {
            let value: serde_json::Value = serde_json::from_str(hostile).unwrap();
            // Data, not code: kept (cleaned of line breaks) and escaped by the encoder.
            let header = if value.get("new").is_some() {
                &value["new"]
            } else {
                &value
            };
            let provider = header["provider"].as_str().unwrap();
            assert!(provider.contains("$(touch PWNED1)") && !provider.contains('\n'));
        }
        Format::Csv => {
            let records = csv_records(hostile);
            assert!(records.len() > 1);
            for record in &records {
                assert_eq!(record.len(), records[0].len(), "{record:?}");
                for field in record {
                    assert!(!field.starts_with(['=', '+', '-', '@']), "{field:?}");
                }
            }
        }
        _ => assert_payloads_inert(format, hostile),
    }
}

const SELECTION: &[&str] = &["--scope", "all", "--include-expired"];

#[test]
fn hostile_data_is_inert_in_every_dialect() {
    for format in Format::ALL {
        for mut args in super::format_args(format.name()) {
            args.extend(SELECTION);
            args.push("--comments");
            let hostile = rules("rules-hostile.toml", &args);
            let benign = rules("rules.toml", &args);
            check(format, &hostile, &benign);
        }
    }
}

#[test]
fn hostile_diffs_are_inert() {
    for format in Format::ALL.into_iter().filter(|f| f.supports_diff()) {
        for mut args in super::format_args(format.name()) {
            args.push("--comments");
            let hostile = super::rules_diff("rules-old.toml", "rules-hostile.toml", &args);
            let benign = super::rules_diff("rules-old.toml", "rules.toml", &args);
            check(format, &hostile, &benign);
        }
    }
}

#[test]
fn hostile_data_still_passes_the_real_tools() {
    tools::require_root_and(&["ip", "nft", "iptables-restore", "ip6tables-restore"]);
    let ns = Netns::new();
    let mut args = vec!["--format", "nftables"];
    args.extend(SELECTION);
    let nft = rules("rules-hostile.toml", &args);
    ns.check_nft(&nft).unwrap_or_else(|e| panic!("{e}\n{nft}"));
    args[1] = "iptables";
    for (v6, family) in [(false, "4"), (true, "6")] {
        let mut args = args.clone();
        args.extend(["--family", family]);
        let ipt = rules("rules-hostile.toml", &args);
        super::tools::iptables_test(&ns, &ipt, v6).unwrap_or_else(|e| panic!("{e}\n{ipt}"));
    }
}

/// Runs the shell dialects' output with `ufw`, `firewall-cmd`, `az` and `gcloud` replaced by
/// stubs that record their arguments: the script must run, call each command once per line
/// with the payload as one inert argument, and never execute the payload.
#[test]
fn shell_dialects_run_without_executing_the_payload() {
    tools::require(&["sh"]);
    let sh = tools::find("sh").expect("sh is on PATH");
    for format in [Format::Ufw, Format::Firewalld, Format::Azure, Format::Gcp] {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        for stub in ["ufw", "firewall-cmd", "az", "gcloud"] {
            let path = bin.join(stub);
            let body = "#!/bin/sh\nfor a; do printf '[%s]' \"$a\"; done >> calls\necho >> calls\n";
            fs::write(&path, body).unwrap();
            let mut permissions = fs::metadata(&path).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
            fs::set_permissions(&path, permissions).unwrap();
        }
        let mut args = vec!["--format", format.name()];
        args.extend(SELECTION);
        let script = rules("rules-hostile.toml", &args);
        fs::write(dir.path().join("rules.sh"), &script).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new(&sh)
            .arg("rules.sh")
            .current_dir(dir.path())
            .env("PATH", path)
            .env("AZ_RESOURCE_GROUP", "rg")
            .env("AZ_NSG", "nsg")
            .env("GCP_NETWORK", "net")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for entry in fs::read_dir(dir.path()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.contains("PWNED"),
                "{format}: the payload ran and created {name}"
            );
        }
        let calls = fs::read_to_string(dir.path().join("calls")).unwrap();
        // Every line that adds a rule calls its tool once to add it (the replace-safe
        // scripts also list, delete and test before they add).
        let adds = |line: &str| {
            [
                "ufw allow",
                "--add-rich-rule=",
                "nsg rule create",
                "firewall-rules update",
            ]
            .iter()
            .any(|w| line.contains(w))
        };
        let commands = script
            .lines()
            .filter(|l| !l.starts_with(['#', ':']) && adds(l))
            .count();
        let added = calls
            .lines()
            .filter(|c| {
                ["[allow]", "[--add-rich-rule=", "[create]", "[update]"]
                    .iter()
                    .any(|w| c.contains(w))
            })
            .count();
        assert!(commands > 0, "{format}:\n{script}");
        assert_eq!(added, commands, "{format}: {calls}");
        for arg in calls
            .split(['[', ']'])
            .filter(|a| a.contains("PAYLOADSTART"))
        {
            let segment = &arg[arg.find("PAYLOADSTART").unwrap()..];
            let segment = segment
                .split("PAYLOADEND")
                .next()
                .unwrap()
                .trim_end_matches("...");
            assert!(segment.chars().all(inert), "{format}: {arg:?}");
        }
    }
}

/// Comments given to `RuleSet::from_entries` (what `check` does with names and notes it
/// observed) are arbitrary text: line breaks, bidi controls and the rest must come out inert.
#[test]
fn any_entry_comment_is_inert_in_every_dialect() {
    let catalog = catalog::load_path(&fixture("rules.toml")).unwrap();
    let as_of = chrono::NaiveDate::from_ymd_opt(2025, 1, 15).unwrap();
    let mut header = Header::for_catalog(&catalog, &Options::new(as_of));
    // The comment must be seen: csv and the plain lists carry comments with --comments only.
    header.comments = true;
    let endpoint = &catalog.endpoints[0];
    let payload = "PAYLOADSTART a\nb\r\nc\u{2028}d\te \u{202E}evil\u{202C} \u{2066}x\u{2069} zero\u{200B}width \u{1b}[31m nul\u{0} \"q\" 'q' `id` $(id) ${x} %{y} ; # */ /* <x> & | ! ? \\ PAYLOADEND";
    let entries = |comment: &str| {
        let comment = comment.to_owned();
        endpoint
            .addresses
            .iter()
            .map(Destination::Prefix)
            .chain([Destination::Host {
                pattern: endpoint.host.clone(),
                names: endpoint.probe.clone(),
            }])
            .map(move |destination| Entry {
                environment: endpoint.environment.clone(),
                service: endpoint.service.clone(),
                destination,
                protocol: endpoint.protocol,
                port: endpoint.ports[0],
                host: Some(endpoint.host.clone()),
                comment: Some(comment.clone()),
                expires: None,
            })
            .collect::<Vec<_>>()
    };
    let hostile = RuleSet::from_entries(header.clone(), entries(payload));
    let benign = RuleSet::from_entries(header, entries("PAYLOADSTART plain PAYLOADEND"));
    for format in Format::ALL {
        let (h, b) = (format.render(&hostile), format.render(&benign));
        assert_no_hidden_characters(format, &h);
        assert_eq!(h.lines().count(), b.lines().count(), "{format}:\n{h}");
        match format {
            Format::Json => {
                let value: serde_json::Value = serde_json::from_str(&h).unwrap();
                let comment = value["rules"][0]["origins"][0]["comment"].as_str().unwrap();
                assert!(comment.contains("$(id)") && !comment.contains(['\n', '\u{202E}', '\0']));
            }
            Format::Csv => assert!(csv_records(&h).iter().all(|r| r.len() == 10), "{h}"),
            _ => assert_payloads_inert(format, &h),
        }
    }
}
