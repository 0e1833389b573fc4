//! Output for people at the width of the reader's screen (issue 13): `COLUMNS` when set (also
//! when piped), the terminal's width on a terminal, 100 otherwise; host names and addresses
//! never broken inside a label; colour from `--color`, else a terminal without `NO_COLOR`.

use std::process::{Command, Output};

use crate::support::tools;

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");
const OLD: &str = "data/history/skatteetaten-2024-10.toml";
const NEW: &str = "data/skatteetaten.toml";
const PAGE: &str = "tests/fixtures/pages/skatteetaten-sikkerhet-2024-10.md";

fn run(columns: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("NO_COLOR").env_remove("COLUMNS");
    if let Some(columns) = columns {
        cmd.env("COLUMNS", columns);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn width(line: &str) -> usize {
    line.chars().count()
}

/// The hosts of the bundled data's endpoints and legacy entries: the `host` column of
/// `data show`, which is never left out.
fn bundled_names() -> Vec<String> {
    let catalog = egresscheck::catalog::bundled().unwrap();
    let endpoints = catalog.endpoints.iter().map(|e| e.host.to_string());
    let legacy = catalog.legacy.iter().map(|l| l.host.to_string());
    endpoints.chain(legacy).collect()
}

#[test]
fn piped_tables_follow_columns_and_keep_names_whole() {
    let commands: [&[&str]; 3] = [
        &["data", "show"],
        &["data", "diff", OLD, NEW],
        &["data", "check-source", PAGE, "--as-of", "2026-11-28"],
    ];
    for args in commands {
        for columns in ["80", "100", "160"] {
            let out = run(Some(columns), args);
            let text = text(&out);
            let limit: usize = columns.parse().unwrap();
            for line in text.lines() {
                assert!(
                    width(line) <= limit,
                    "{args:?} at {columns}: {} wide: {line}\n{text}",
                    width(line)
                );
            }
            assert!(!text.contains('\x1b'), "no colour when piped");
        }
    }
    // The table itself: names fold only between labels, at every width.
    let names = bundled_names();
    for columns in ["80", "100", "160"] {
        let show = text(&run(Some(columns), &["data", "show"]));
        for name in &names {
            for label in name.split('.').filter(|l| l.len() > 4) {
                assert!(
                    show.contains(label),
                    "{label} of {name} broken at {columns}\n{show}"
                );
            }
        }
    }
    let wide = text(&run(Some("160"), &["data", "show"]));
    for name in names.iter().filter(|n| n.ends_with(".sits.no")) {
        assert!(wide.contains(name.as_str()), "{name} folded at 160\n{wide}");
    }
    // Without COLUMNS, piped output is laid out for 100 columns.
    let default = text(&run(None, &["data", "show"]));
    assert!(default.lines().all(|l| width(l) <= 100), "{default}");
    assert!(default.lines().any(|l| width(l) > 90), "{default}");
}

#[test]
fn narrow_screens_drop_columns_in_the_stated_order_and_say_so() {
    let narrow = text(&run(Some("80"), &["data", "show"]));
    assert!(
        narrow.contains("(columns left out for the width: service, ports, details;"),
        "{narrow}"
    );
    let wide = text(&run(Some("200"), &["data", "show"]));
    assert!(!wide.contains("columns left out"), "{wide}");
    assert!(wide.contains("┆ details"), "{wide}");
}

#[test]
fn a_terminal_gives_its_width_and_colour_unless_no_color() {
    tools::require(&["script", "stty"]);
    let run_on_tty = |shell: &str| -> String {
        let out = Command::new("script")
            .args(["-qec", shell, "/dev/null"])
            .env_remove("COLUMNS")
            .env_remove("NO_COLOR")
            .env("TERM", "xterm")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    };
    let show = run_on_tty(&format!("stty cols 72; {BIN} data show"));
    for line in show.lines() {
        assert!(
            width(line) <= 72,
            "{} wide on a 72-column terminal: {line}\n{show}",
            width(line)
        );
    }
    assert!(show.contains("columns left out for the width"), "{show}");
    // COLUMNS wins over the terminal.
    let show = run_on_tty(&format!("stty cols 72; COLUMNS=200 {BIN} data show"));
    assert!(show.lines().any(|l| width(l) > 72), "{show}");
}
