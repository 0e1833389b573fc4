//! The command line as a user meets it (issue 13): `--data` refused where a command does not
//! read it, required options shown in usage, counts in the right number.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn data_is_refused_in_one_line_where_a_command_does_not_read_it() {
    let data = "tests/fixtures/minimal.toml";
    for (args, why) in [
        (
            vec!["probe", "api.example.no"],
            "`egresscheck probe` reads no data file",
        ),
        (
            vec!["data", "diff", data, data],
            "`egresscheck data diff` compares the two files it is given",
        ),
        (
            vec!["data", "validate", data],
            "`egresscheck data validate FILE` checks FILE",
        ),
        (
            vec!["rules", "--list-formats"],
            "`egresscheck rules --list-formats` reads no data file",
        ),
        (
            vec!["rules", "--format", "csv", "--diff", data, data],
            "`egresscheck rules --diff OLD NEW` takes the two data files itself",
        ),
    ] {
        let mut all = vec!["--data", data];
        all.extend(&args);
        let (code, stdout, stderr) = run(&all);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(
            stderr,
            format!("egresscheck: {why}: leave out --data\n"),
            "{args:?}"
        );
        // Without --data each of them runs (or fails for its own reasons, not this one).
        let (_, _, stderr) = run(&args);
        assert!(!stderr.contains("leave out --data"), "{args:?}: {stderr}");
    }
    // Where --data is read, it is taken.
    for args in [
        vec!["data", "validate"],
        vec!["data", "show"],
        vec!["rules", "--format", "csv"],
    ] {
        let mut all = vec!["--data", data];
        all.extend(&args);
        let (code, stdout, stderr) = run(&all);
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    }
}

#[test]
fn required_options_appear_in_usage() {
    let (code, help, _) = run(&["rules", "--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("Usage: egresscheck rules --format <FORMAT> [OPTIONS]"),
        "{help}"
    );
    assert!(help.contains("egresscheck rules --list-formats"), "{help}");
    let (code, _, stderr) = run(&["rules"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--format <FORMAT>"), "{stderr}");
}

#[test]
fn counts_take_the_right_number() {
    // One service, one subnet, one source, one legacy endpoint, one endpoint.
    let (code, line, stderr) = run(&["--data", "tests/fixtures/minimal.toml", "data", "validate"]);
    assert_eq!(code, 0, "{stderr}");
    for one in [
        "1 service,",
        "1 endpoint (",
        "1 subnet,",
        "1 legacy endpoint,",
        "1 source\n",
        "2 environments",
        "2 probe names",
    ] {
        assert!(line.contains(one), "{one:?} in {line}");
    }
    // The rules header counts a left-out subnet and a single rule in the singular too.
    let (code, rules, stderr) = run(&[
        "--data",
        "tests/fixtures/minimal.toml",
        "rules",
        "--format",
        "nftables",
        "--env",
        "test",
        "--scope",
        "addresses",
        "--no-timestamp",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(rules.contains("1 documented subnet left out"), "{rules}");
    assert!(!rules.contains("(s)"), "{rules}");
}

#[test]
fn apostrophes_are_kept_where_a_format_can_carry_them() {
    // The bundled data says "Digdir's test platform" (a subnet's coverage).
    let (code, list, _) = run(&["rules", "--list-formats"]);
    assert_eq!(code, 0);
    let formats: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(formats.len() >= 16, "{list}");
    let mut carried = 0;
    for format in formats {
        let mut args = vec![
            "rules",
            "--format",
            format,
            "--scope",
            "all",
            "--no-timestamp",
        ];
        if format == "iptables" {
            // Each restore tool takes one family.
            args.extend(["--family", "4"]);
        }
        let (code, text, stderr) = run(&args);
        assert_eq!(code, 0, "{format}: {stderr}");
        assert!(
            !text.contains("Digdir_s"),
            "{format}: mangled apostrophe\n{text}"
        );
        // PowerShell reads `’` as a quote: its single-quoted string doubles it.
        if ["Digdir’s", "Digdir's", "Digdir’’s"]
            .iter()
            .any(|kept| text.contains(kept))
        {
            carried += 1;
        } else if text.contains("Digdir") {
            // Only an ASCII-only dialect leaves it out.
            assert!(text.contains("Digdirs"), "{format}:\n{text}");
        }
    }
    assert!(carried > 10, "{carried}");
}
