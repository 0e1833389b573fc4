//! Ctrl-C and SIGTERM during `check`: the run ends at once (not after its timeouts) with
//! 128 + the signal number, and neither `--save` nor `--output` is written or left half
//! done: an existing file keeps its content, and no temporary file stays behind.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::support::tcp::BlackHole;

use super::OneEndpoint;

/// Waits up to `limit` for `child` to exit; kills it and fails the test otherwise.
fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the run did not end within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    }
    std::process::Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: stderr.into_bytes(),
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Starts `check --save --output` against a black hole (TCP connects, TLS never answers,
/// with a 60 s timeout), waits until the handshake hangs, sends `signal`, and checks what is
/// left on disk.
fn interrupt_a_waiting_check(signal: Signal, expected_code: i32) {
    let ip = "127.0.0.62".parse().unwrap();
    let hole = BlackHole::builder().bind(ip).black_hole();
    let lab = OneEndpoint::new("hole.egress.test", ip, hole.addr().port());
    let state = lab.path("state.json");
    let metrics = lab.path("metrics.prom");
    // A baseline from an earlier run: it must survive untouched.
    std::fs::write(&state, b"the previous run's report").unwrap();

    let mut child = lab
        .check()
        .args(["--timeout", "60s", "--format", "prometheus"])
        .arg("--save")
        .arg(&state)
        .arg("--output")
        .arg(&metrics)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The handler is in place before the probe starts; the black hole's accept proves the
    // probe is under way and now waits for a TLS answer that never comes.
    hole.wait_for_accepted(1);
    let sent = Instant::now();
    kill_process(Pid::from_child(&child), signal).unwrap();
    let out = wait_bounded(&mut child, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(expected_code),
        "{:?}: {stderr}",
        out.status
    );
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "ends at once, not after the 60 s timeout"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        names_in(lab.dir.path()),
        ["data.toml", "state.json"],
        "no --output, no temporary file"
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        b"the previous run's report",
        "--save left as it was"
    );
}

#[test]
fn ctrl_c_during_check_writes_nothing_and_exits_130() {
    interrupt_a_waiting_check(Signal::INT, 130);
}

#[test]
fn sigterm_during_check_writes_nothing_and_exits_143() {
    interrupt_a_waiting_check(Signal::TERM, 143);
}

/// Without a signal the same files are written (the test above proves something only if a
/// run that is left alone does write them).
#[test]
fn an_uninterrupted_check_writes_both_files() {
    let ip = "127.0.0.63".parse().unwrap();
    let hole = BlackHole::builder().bind(ip).black_hole();
    let lab = OneEndpoint::new("hole.egress.test", ip, hole.addr().port());
    let out = lab
        .check()
        .args(["--timeout", "200ms", "--format", "prometheus", "--save"])
        .arg(lab.path("state.json"))
        .arg("--output")
        .arg(lab.path("metrics.prom"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        names_in(lab.dir.path()),
        ["data.toml", "metrics.prom", "state.json"]
    );
}
