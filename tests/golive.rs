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
