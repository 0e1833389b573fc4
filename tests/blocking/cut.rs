//! `cut-short`: a target the run's deadline ended is reported as cut short, with its exit
//! code, in every format, and not as the `blocked` it would otherwise look like.

use std::net::{IpAddr, Ipv4Addr};

use super::{Lab, Site, assert_every_format, codes, findings, leaf};
use crate::support::pki::TestCa;
use crate::support::tcp::UnansweredPort;
use crate::support::tls::TlsServer;

const GOOD: &str = "good.egress.test";
const HOLE: &str = "hole.egress.test";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 24, last))
}

#[test]
fn a_target_the_deadline_ends_is_cut_short_not_blocked_in_every_format() {
    let ca = TestCa::new("Egress Test Root CA");
    let good = TlsServer::builder(leaf(&ca, GOOD)).bind(ip(1)).start();
    // Connects to it are never answered: its 2 s connect timeout outlasts the deadline.
    let hole = UnansweredPort::builder().bind(ip(2)).unanswered();
    let lab = Lab::new(
        ca,
        &[Site::at(GOOD, good.addr()), Site::at(HOLE, hole.addr())],
    );
    let extra = ["--deadline", "1500ms"];
    let (exit, report) = lab.json(&extra);
    assert_eq!(exit, 1, "{report}");
    // The hole is cut short, nothing else is said of it; the good host is up.
    assert_eq!(codes(&report), vec!["cut-short"], "{report}");
    let cut = findings(&report, "cut-short");
    assert_eq!(cut[0]["host"], HOLE);
    assert_eq!(cut[0]["severity"], "fail");
    let message = cut[0]["message"].as_str().unwrap();
    assert!(message.contains("--deadline"), "{message}");
    assert!(
        message.contains("the TCP connect was still waiting"),
        "{message}"
    );
    assert_every_format(
        &lab,
        &extra,
        "cut-short",
        "fail",
        "cut short by the run's deadline",
    );
    // `probe`'s table says so too.
    let target = format!("{HOLE}:{}", hole.addr().port());
    let (_, table, _) = crate::probe::run_text(
        crate::probe::probe_table(&lab.dns, &[&target])
            .env("COLUMNS", "200")
            .args(["--family", "4", "--timeout", "2s", "--deadline", "1s"]),
    );
    let row = table
        .lines()
        .find(|l| l.contains(&hole.addr().port().to_string()) && l.contains("filtered"))
        .unwrap_or_else(|| panic!("no row for the hole:\n{table}"));
    assert!(row.contains("cut short"), "{table}");
    assert!(
        table.contains("no answer before the run's overall deadline: cut short"),
        "{table}"
    );
    assert!(!table.contains("a firewall drops"), "{table}");
    // With time enough, the same target is what it is: blocked.
    let (exit, report) = lab.json(&[]);
    assert_eq!(exit, 1, "{report}");
    assert_eq!(codes(&report), vec!["blocked"], "{report}");
}
