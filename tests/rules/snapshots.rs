//! One snapshot per dialect of the fixed data file (`--scope all`, a fixed `--as-of`, no
//! timestamp), and one per dialect that expresses diffs. Review changes with `cargo insta`.

use egresscheck::rules::Format;

use super::{rules, rules_diff};

#[test]
fn every_dialect() {
    for format in Format::ALL {
        let text = rules("rules.toml", &["--format", format.name(), "--scope", "all"]);
        insta::assert_snapshot!(format.name(), text);
    }
}

#[test]
fn every_diff() {
    for format in Format::ALL.into_iter().filter(|f| f.supports_diff()) {
        let text = rules_diff("rules-old.toml", "rules.toml", &["--format", format.name()]);
        insta::assert_snapshot!(format!("diff-{}", format.name()), text);
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
