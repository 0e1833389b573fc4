//! Usage errors exit 2 with a message that says what to do; good usage exits 0.

use super::{AS_OF, egresscheck, fixture};

fn fails_with(args: &[&str], expected: &str) {
    let out = egresscheck(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} wrote to standard output");
}

#[test]
fn bad_usage_exits_2() {
    let data = fixture("rules.toml");
    let data = data.to_str().unwrap();
    // (arguments after `--data FIXTURE rules`, what the message must say)
    let with_data: &[(&[&str], &str)] = &[
        (&["--format", "nft"], "invalid value 'nft'"),
        (&[], "--format"),
        (
            &["--format", "json", "--env", "staging"],
            "--env \"staging\": no such environment",
        ),
        (
            &["--format", "json", "--service", "mail"],
            "--service \"mail\": no such service",
        ),
        (&["--format", "json", "--as-of", "15.01.2025"], "YYYY-MM-DD"),
        (&["--format", "json", "--family", "5"], "invalid value '5'"),
        (
            &["--format", "csv", "--diff", data, data],
            "leave out --data",
        ),
    ];
    for (args, expected) in with_data {
        let mut all = vec!["--data", data, "rules"];
        all.extend_from_slice(args);
        fails_with(&all, expected);
    }
    fails_with(
        &["rules", "--format", "k8s", "--diff", data, data],
        "--format k8s cannot express a diff",
    );
    fails_with(&["rules", "--format", "csv", "--diff", data], "OLD");
    let missing = "/nonexistent/egresscheck.toml";
    fails_with(&["--data", missing, "rules", "--format", "csv"], missing);
}

#[test]
fn environments_and_services_by_name_or_alias() {
    let prod = super::rules(
        "rules.toml",
        &[
            "--format",
            "csv",
            "--comments",
            "--env",
            "Prod",
            "--service",
            "The APIs",
        ],
    );
    let rows: Vec<&str> = prod
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.starts_with("prod,") && r.contains(",api,")),
        "{prod}"
    );
    assert!(prod.contains("# Services: api"));
}

#[test]
fn the_timestamp_is_there_unless_asked_not_to() {
    let data = fixture("rules.toml");
    let out = egresscheck(&[
        "--data",
        data.to_str().unwrap(),
        "rules",
        "--format",
        "pf",
        "--as-of",
        AS_OF,
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("# Generated: "))
        .expect("a Generated line");
    assert!(
        chrono::DateTime::parse_from_rfc3339(line.trim_start_matches("# Generated: ")).is_ok(),
        "{line}"
    );
    let quiet = super::rules("rules.toml", &["--format", "pf"]);
    assert!(!quiet.contains("Generated"));
}

#[test]
fn the_bundled_data_renders_in_every_dialect() {
    for format in egresscheck::rules::Format::ALL {
        for mut args in super::format_args(format.name()) {
            args.extend(["rules", "--no-timestamp", "--comments"]);
            args.rotate_right(3);
            let out = egresscheck(&args);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8(out.stdout)
                    .unwrap()
                    .contains("Skatteetaten"),
                "{args:?}"
            );
        }
    }
}
