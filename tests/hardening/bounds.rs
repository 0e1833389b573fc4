//! The bounds on what is read are the ones the README documents (section "Bounds"), and
//! each one holds at its edge: a baseline over the data file's 4 MiB is still read, one over
//! 64 MiB is refused; a page or a data file over 4 MiB is refused with a message naming the
//! bound.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::Output;

use crate::support::tcp::ClosedPort;

use super::{OneEndpoint, egresscheck};

const MIB: usize = 1024 * 1024;

/// A file of `size` bytes: `head`, spaces, `tail`.
fn padded(path: &Path, head: &str, size: usize, tail: &str) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    file.write_all(head.as_bytes()).unwrap();
    let padding = size - head.len() - tail.len();
    let chunk = vec![b' '; 64 * 1024];
    let mut left = padding;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    file.write_all(tail.as_bytes()).unwrap();
    file.flush().unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_baseline_is_read_up_to_64_mib_and_refused_beyond() {
    let ip: IpAddr = "127.0.0.66".parse().unwrap();
    let closed = ClosedPort::on(ip);
    let lab = OneEndpoint::new("api.egress.test", ip, closed.addr().port());
    let check = |baseline: &Path| {
        lab.check()
            .args(["--format", "json", "--baseline"])
            .arg(baseline)
            .output()
            .unwrap()
    };
    let head = r#"{"schema": 1, "tool": {"name": "egresscheck"}, "targets": [], "padding": ""#;
    // Larger than a data file may be (4 MiB), well within a baseline's bound.
    let big = lab.path("big.json");
    padded(&big, head, 5 * MIB, "\"}");
    let out = check(&big);
    assert_eq!(
        out.status.code(),
        Some(1),
        "read, then a refused target: {}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["baseline"]["state"], "read",
        "{}",
        report["baseline"]
    );

    let huge = lab.path("huge.json");
    padded(&huge, head, 64 * MIB + 1, "\"}");
    let out = check(&huge);
    // Refused, as a finding: the run goes on without drift.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let refused = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "baseline-unusable")
        .unwrap_or_else(|| panic!("no baseline-unusable finding: {report}"));
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("larger than 67108864 bytes"),
        "{refused}"
    );
}

#[test]
fn a_page_and_a_data_file_over_4_mib_are_refused_naming_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.md");
    padded(&page, "# Firewall\n", 4 * MIB + 1, "\n192.0.2.1\n");
    let out = egresscheck()
        .args(["data", "check-source"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the page is larger than 4194304 bytes"),
        "{}",
        stderr(&out)
    );
    // Just within the bound: read and compared.
    padded(&page, "# Firewall\n", 4 * MIB, "\n192.0.2.1\n");
    let out = egresscheck()
        .args(["data", "check-source", "--format", "json"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "drift: {}", stderr(&out));

    let data = dir.path().join("data.toml");
    padded(&data, "schema = 1\n", 4 * MIB + 1, "\n");
    let out = egresscheck()
        .arg("--data")
        .arg(&data)
        .args(["data", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 4194304 bytes"),
        "{}",
        stderr(&out)
    );
    let missing = egresscheck()
        .args(["data", "check-source"])
        .arg(dir.path().join("no-such-page.md"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read the page"),
        "{}",
        stderr(&missing)
    );
}

/// The README's table row (a line starting with `| ` and holding `label`).
fn readme_row<'a>(readme: &'a str, label: &str) -> &'a str {
    readme
        .lines()
        .find(|l| l.starts_with("| ") && l.contains(label))
        .unwrap_or_else(|| panic!("README: no table row for {label:?}"))
}

fn size(bytes: usize) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

fn duration(d: std::time::Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms <= 60_000 => format!("{} s", ms / 1000),
        ms if ms < 3_600_000 => format!("{} min", ms / 60_000),
        ms => format!("{} h", ms / 3_600_000),
    }
}

/// Every bound the code enforces appears, with its value, in the README's "Bounds" tables:
/// changing one without the other fails here.
#[test]
fn the_readme_states_every_bound_with_its_value() {
    use egresscheck::probe::options as o;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let bounds = &readme[readme.find("## Bounds").expect("a Bounds section")..];
    let rows: Vec<(&str, String)> = vec![
        ("a data file", size(egresscheck::catalog::MAX_FILE_BYTES)),
        (
            "a data file",
            format!("nested {} deep", egresscheck::catalog::MAX_NESTING),
        ),
        ("a page for", size(egresscheck::pagecheck::MAX_PAGE_BYTES)),
        (
            "a page for",
            format!(
                "{},{:03}",
                egresscheck::pagecheck::extract::MAX_MENTIONS / 1000,
                egresscheck::pagecheck::extract::MAX_MENTIONS % 1000
            ),
        ),
        (
            "a `--baseline`",
            size(egresscheck::report::MAX_BASELINE_BYTES),
        ),
        (
            "a `--ca-file`",
            size(usize::try_from(egresscheck::probe::verify::MAX_CA_FILE_BYTES).unwrap()),
        ),
        (
            "a proxy's answer header",
            size(egresscheck::probe::proxy::MAX_PROXY_HEADER_BYTES),
        ),
        (
            "bytes read from a TLS server",
            size(o::DEFAULT_MAX_TLS_BYTES),
        ),
        (
            "bytes read from a TLS server",
            format!("{} – {}", size(o::MIN_TLS_BYTES), size(o::MAX_TLS_BYTES)),
        ),
        (
            "DNS answers probed per name",
            format!(
                "| {} | 1 – {} |",
                o::DEFAULT_MAX_ADDRESSES_PER_NAME,
                o::MAX_ADDRESSES_PER_NAME
            ),
        ),
        (
            "HTTP exchange after TLS",
            format!(
                "| {} | {} – {} |",
                duration(o::DEFAULT_HTTP_TIMEOUT),
                duration(o::MIN_TIMEOUT),
                duration(o::MAX_TIMEOUT)
            ),
        ),
        (
            "an HTTP answer's header",
            format!(
                "| {}, {} fields |",
                size(egresscheck::probe::http::MAX_HTTP_HEADER_BYTES),
                egresscheck::probe::http::MAX_HTTP_HEADERS
            ),
        ),
        (
            "an HTTP answer's body",
            format!(
                "| {} | {} – {} |",
                size(o::DEFAULT_MAX_HTTP_BYTES),
                size(o::MIN_HTTP_BYTES),
                size(o::MAX_HTTP_BYTES)
            ),
        ),
        ("TCP connect", duration(o::DEFAULT_CONNECT_TIMEOUT)),
        ("TLS handshake", duration(o::DEFAULT_HANDSHAKE_TIMEOUT)),
        ("DNS lookups of one name", duration(o::DEFAULT_DNS_TIMEOUT)),
        (
            "TCP connect",
            format!(
                "{} – {}",
                duration(o::MIN_TIMEOUT),
                duration(o::MAX_TIMEOUT)
            ),
        ),
        ("the whole run", duration(o::DEFAULT_DEADLINE)),
        (
            "the whole run",
            format!(
                "{} – {}",
                duration(o::MIN_TIMEOUT),
                duration(o::MAX_DEADLINE)
            ),
        ),
        (
            "TLS handshakes in flight",
            format!(
                "| {} | 1 – {} |",
                o::DEFAULT_HANDSHAKE_CONCURRENCY,
                o::MAX_HANDSHAKE_CONCURRENCY
            ),
        ),
        (
            "connections open and waiting for a handshake slot",
            format!(
                "as many as handshakes in flight; a connect unanswered for {} no longer counts, \
                 and none waits for a place longer than 1/{} of its connect timeout",
                duration(o::CONNECT_AHEAD_STALL),
                o::CONNECT_AHEAD_PATIENCE_DIVISOR
            ),
        ),
        (
            "control handshakes per target",
            format!(
                "started after 1/{} of the handshake timeout of silence",
                o::CONTROL_AFTER_SILENCE_DIVISOR
            ),
        ),
        (
            "names resolved at once",
            format!("| {} |", o::DEFAULT_DNS_CONCURRENCY),
        ),
        (
            "certificates described per chain",
            format!(
                "| {}, {} |",
                egresscheck::probe::verify::MAX_CHAIN_DESCRIBED,
                egresscheck::probe::cert::MAX_SANS
            ),
        ),
    ];
    for (label, value) in rows {
        let row = readme_row(bounds, label);
        assert!(
            row.contains(&value),
            "README row {label:?} should state {value:?}: {row}"
        );
    }
}
