//! One snapshot per dialect of the fixed data file (`--scope all`, a fixed `--as-of`, no
//! timestamp), and one per dialect that expresses diffs. Review changes with `cargo insta`.

use egresscheck::rules::Format;

use super::{rules, rules_diff};

#[test]
fn every_dialect() {
    for format in Format::ALL {
        for mut args in super::format_args(format.name()) {
            args.extend(["--scope", "all"]);
            let text = rules("rules.toml", &args);
            let name = match args.as_slice() {
                [_, _, "--family", "6", ..] => format!("{}-v6", format.name()),
                _ => format.name().to_owned(),
            };
            insta::assert_snapshot!(name, text);
        }
    }
}

#[test]
fn every_diff() {
    for format in Format::ALL.into_iter().filter(|f| f.supports_diff()) {
        for args in super::format_args(format.name()) {
            let text = rules_diff("rules-old.toml", "rules.toml", &args);
            let name = match args.as_slice() {
                [_, _, "--family", "6", ..] => format!("diff-{}-v6", format.name()),
                _ => format!("diff-{}", format.name()),
            };
            insta::assert_snapshot!(name, text);
        }
    }
}

#[test]
fn list_formats() {
    let out = super::egresscheck(&["rules", "--list-formats"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for format in Format::ALL {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{} ", format.name()))
                    && l.contains(format.description())),
            "{format} missing from:\n{text}"
        );
    }
    insta::assert_snapshot!("list-formats", text);
}
