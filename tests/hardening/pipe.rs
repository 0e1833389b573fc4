//! `egresscheck … | head -1`: a reader that goes away ends the program quietly, with the
//! command's own exit status or 0, and nothing (no panic, no error) on standard error.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::support::tcp::ClosedPort;

use super::{OneEndpoint, egresscheck};

/// A pipe whose reading end is already closed: every write to it fails with EPIPE, the most
/// deterministic form of `| head -0`.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

/// Runs `cmd` with standard output closed for reading; returns (exit code, stderr).
fn run_into_closed_pipe(cmd: &mut Command) -> (i32, String) {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().expect("exited, not killed by a signal"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd | head -n 1`; returns (exit code, stderr, the one line head printed).
fn run_into_head(cmd: &mut Command) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let head = Command::new("head")
        .args(["-n", "1"])
        .stdin(child.stdout.take().unwrap())
        .output()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (
        status.code().expect("exited, not killed by a signal"),
        stderr,
        String::from_utf8_lossy(&head.stdout).into_owned(),
    )
}

/// A data file whose one endpoint refuses connections, and the DNS server for it.
struct Local {
    _closed: ClosedPort,
    lab: OneEndpoint,
    port: u16,
}

impl Local {
    fn new() -> Local {
        let ip = "127.0.0.61".parse().unwrap();
        let closed = ClosedPort::on(ip);
        let port = closed.addr().port();
        Local {
            lab: OneEndpoint::new("api.egress.test", ip, port),
            _closed: closed,
            port,
        }
    }

    fn check(&self, format: &str) -> Command {
        let mut cmd = self.lab.check();
        cmd.args(["--timeout", "2s", "--format", format]);
        cmd
    }

    fn probe(&self) -> Command {
        let mut cmd = egresscheck();
        cmd.args([
            "probe",
            "--no-proxy",
            "--timeout",
            "2s",
            "--resolver",
            &self.lab.dns.resolver_arg(),
            &format!("api.egress.test:{}", self.port),
        ]);
        cmd
    }
}

fn history() -> String {
    format!(
        "{}/data/history/skatteetaten-2024-10.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn bundled() -> String {
    format!("{}/data/skatteetaten.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Every command that prints, with the exit codes it may end with when its reader is gone:
/// 0, or what the command itself concluded (1: findings, drift, a difference).
fn commands(local: &Local) -> Vec<(String, Command, &'static [i32])> {
    let mut all: Vec<(String, Command, &'static [i32])> = Vec::new();
    for args in [
        &["--help"][..],
        &["--version"],
        &["check", "--help"],
        &["rules", "--list-formats"],
        &["data", "validate"],
    ] {
        let mut cmd = egresscheck();
        cmd.args(args);
        all.push((args.join(" "), cmd, &[0]));
    }
    for format in ["table", "json"] {
        let mut show = egresscheck();
        show.args(["data", "show", "--format", format]);
        all.push((format!("data show --format {format}"), show, &[0]));
        let mut diff = egresscheck();
        diff.args(["data", "diff", &history(), &bundled(), "--format", format]);
        all.push((format!("data diff --format {format}"), diff, &[0, 1]));
    }
    for format in ["nftables", "iptables", "json", "csv"] {
        let mut rules = egresscheck();
        rules.args(["rules", "--no-timestamp", "--format", format]);
        if format == "iptables" {
            rules.args(["--family", "4"]);
        }
        all.push((format!("rules --format {format}"), rules, &[0]));
    }
    for format in ["table", "json", "prometheus", "junit", "nagios"] {
        // The endpoint refuses: the check fails (1; CRITICAL is 2 for nagios).
        all.push((
            format!("check --format {format}"),
            local.check(format),
            &[0, 1, 2],
        ));
    }
    let mut with_rules = local.check("table");
    with_rules.args(["--rules", "nftables"]);
    all.push(("check --rules nftables".to_owned(), with_rules, &[0, 1]));
    all.push(("probe".to_owned(), local.probe(), &[0, 1]));
    all
}

fn assert_quiet(what: &str, code: i32, stderr: &str, allowed: &[i32]) {
    assert!(
        allowed.contains(&code),
        "{what}: exit {code}, expected one of {allowed:?}; stderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe") && stderr.is_empty(),
        "{what}: standard error should be empty, got: {stderr}"
    );
}

#[test]
fn a_closed_standard_output_ends_every_command_quietly() {
    let local = Local::new();
    for (what, mut cmd, allowed) in commands(&local) {
        let (code, stderr) = run_into_closed_pipe(&mut cmd);
        assert_quiet(&what, code, &stderr, allowed);
    }
}

#[test]
fn piping_into_head_ends_every_command_quietly() {
    let local = Local::new();
    for (what, mut cmd, allowed) in commands(&local) {
        let (code, stderr, line) = run_into_head(&mut cmd);
        assert_quiet(&what, code, &stderr, allowed);
        assert!(!line.is_empty(), "{what}: head printed nothing");
    }
}
