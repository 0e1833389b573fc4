//! The go-live report (issue 13): the table report of the bundled data's 30-odd targets in the
//! situations an admin meets, read at 80, 100 and 160 columns. Each is a snapshot, and each
//! fits one 100×50 screen.

use egresscheck::output::Renderer;
use egresscheck::output::table::TableRenderer;
use egresscheck::term::Screen;

use crate::support::scenario::{Scenario, Situation};

/// The table report of `situation` at `width` columns.
pub fn table(situation: Situation, width: usize, verbose: bool) -> String {
    let scenario = Scenario::new(situation);
    let report = scenario.report();
    let renderer = TableRenderer {
        screen: Screen {
            width,
            colour: false,
        },
        verbose,
    };
    let mut out = Vec::new();
    renderer.render(&report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_report_reads_at_every_width() {
    for situation in Situation::ALL {
        for width in [80, 100, 160] {
            let text = table(situation, width, false);
            insta::assert_snapshot!(format!("golive_{}_{width}", situation.name()), text);
        }
    }
}

#[test]
fn the_whole_report_fits_one_100_by_50_screen() {
    for situation in Situation::ALL {
        let text = table(situation, 100, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() < 50,
            "{}: {} lines\n{text}",
            situation.name(),
            lines.len()
        );
        for line in &lines {
            assert!(line.chars().count() <= 100, "{}: {line}", situation.name());
        }
    }
}

/// `-v`: after the same report, every finding as it stands (its code, environment and host)
/// and each distinct certificate once, however many targets served it: the intercepting
/// proxy's certificate and its long list of names appear once, not once per target.
#[test]
fn verbose_adds_every_finding_and_each_certificate_once() {
    let scenario = Scenario::new(Situation::Intercepted);
    let report = scenario.report();
    let short = table(Situation::Intercepted, 100, false);
    let text = table(Situation::Intercepted, 160, true);
    assert!(short.contains("egresscheck check -v"), "{short}");
    assert!(!text.contains("egresscheck check -v"), "{text}");
    let findings = text
        .split_once("\nFindings:\n")
        .expect("a findings section")
        .1;
    let lines: Vec<&str> = findings
        .lines()
        .filter(|l| {
            l.starts_with("  fail ") || l.starts_with("  warn ") || l.starts_with("  info ")
        })
        .collect();
    assert_eq!(lines.len(), report.findings.len(), "{text}");
    for (line, finding) in lines.iter().zip(&report.findings) {
        assert!(line.contains(finding.code.as_str()), "{line}");
        if let Some(host) = &finding.host {
            assert!(line.contains(host.as_str()), "{line}");
        }
    }
    let certificates = text
        .split_once("\nCertificates:\n")
        .expect("certificates")
        .1;
    let mut leaves: Vec<&str> = report
        .rows()
        .iter()
        .filter_map(|r| r.target.tls.as_ref())
        .filter_map(|t| t.chain.first())
        .map(|leaf| leaf.sha256.as_str())
        .collect();
    leaves.sort_unstable();
    leaves.dedup();
    assert!(leaves.len() >= 2, "{leaves:?}");
    for sha256 in leaves {
        assert_eq!(
            certificates.matches(sha256).count(),
            1,
            "{sha256} once:\n{certificates}"
        );
    }
    // Without -v, no certificate's fingerprint at all.
    assert!(!short.contains("sha256"), "{short}");
}

/// The README's "check" section shows this report as it is: the intercepted situation at
/// 100 columns, whole, so that the two cannot drift apart.
#[test]
fn the_readme_shows_the_report_as_it_is() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let text = table(Situation::Intercepted, 100, false);
    assert!(
        readme.contains(&format!("```text\n{text}```")),
        "README.md's report excerpt differs from the report; paste this into its check section:\n{text}"
    );
}
