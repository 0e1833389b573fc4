//! `cargo bench --bench perf`: how fast egresscheck is, next to what is physically possible
//! and next to the tools an admin would otherwise use (issue 7). Prints one table.
//!
//! Everything runs on loopback and is made at run time: a lab process serves N TLS targets
//! on distinct `127.1.x.y` addresses, N/2 black holes on `127.2.x.y`, and a DNS zone for
//! their names (see `lab`); data files are generated (see `data`). Each measurement is a
//! child process of this binary, so its wall time includes start-up, and its peak RSS
//! (`VmHWM` from `/proc/self/status`) and CPU time (`/proc/self/stat`), read by the child
//! as it ends, are its own:
//!
//! - **floor**: a bare tokio-rustls handshake loop at `--concurrency` (see `floor`);
//! - **check**: `egresscheck check --format json --output FILE` against the lab, run through
//!   `egresscheck::cli::run`, exactly what the `egresscheck` binary's `main` calls;
//! - **black holes**: the same with half the targets black-holed and `--timeout 2s`;
//! - **stalled TLS**: the same with half the targets accepting TCP and never answering the
//!   ClientHello, `--timeout 2s`: the wall time against the timeout, and the healthy half's
//!   rate (up to the lab's last completed handshake) against the floor's;
//! - **rules**: `egresscheck rules --format nftables|iptables` over 100,000 prefixes, standard
//!   output to a file as `main` writes it;
//! - **peers**: `sslscan` and `nmap --script ssl-cert` when installed (see `peers`); their
//!   peak RSS and CPU time are sampled every 10 ms from `/proc/PID/status` and `stat`.
//!
//! Floor and check alternate for `--rounds` rounds; the table shows the median of each and
//! the ratio of the medians, and the ratio of their CPU times, which holds up on a loaded
//! machine better than any wall time.
//! Nothing here asserts a time: the table marks each target as met or missed.

mod data;
mod dns;
mod floor;
mod lab;
mod peers;
mod serve;

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

/// Errors of the benchmark binary: reported and the run ends.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The lab's DNS zone.
pub const ZONE: &str = "bench.test";
/// Most targets (one listener each in the lab, one address each in 127.1.0.0/16).
pub const MAX_TARGETS: usize = 20_000;
/// Most synthetic prefixes (see `data::prefixes`).
pub const MAX_PREFIXES: usize = 120_000;
/// The line prefix a child reports with on standard error.
const REPORT_PREFIX: &str = "perf-report: ";

/// Name of the `i`-th target when `per_name` consecutive targets share a name (its A
/// records are their addresses).
pub fn target_name(i: usize, per_name: usize) -> String {
    format!("t{:05}.{ZONE}", i / per_name.max(1))
}

/// Address of the `i`-th target: 127.1.x.y, y in 1..=250.
pub fn target_addr(i: usize) -> Ipv4Addr {
    spread(1, i)
}

/// Name of the `i`-th black hole.
pub fn hole_name(i: usize) -> String {
    format!("h{i:05}.{ZONE}")
}

/// Address of the `i`-th black hole: 127.2.x.y.
pub fn hole_addr(i: usize) -> Ipv4Addr {
    spread(2, i)
}

/// Name of the `i`-th stalling server.
pub fn stall_name(i: usize) -> String {
    format!("s{i:05}.{ZONE}")
}

/// Address of the `i`-th stalling server: 127.3.x.y.
pub fn stall_addr(i: usize) -> Ipv4Addr {
    spread(3, i)
}

fn spread(second: u8, i: usize) -> Ipv4Addr {
    let third = u8::try_from(i / 250).unwrap_or(u8::MAX);
    let fourth = u8::try_from(i % 250 + 1).unwrap_or(1);
    Ipv4Addr::new(127, second, third, fourth)
}

#[derive(Debug, Parser)]
#[command(
    name = "perf",
    about = "egresscheck benchmarks: probe throughput against a bare rustls floor, black-holed targets, rule generation, peers. Loopback only."
)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,

    /// TLS targets served by the lab (distinct 127.1.x.y addresses).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=MAX_TARGETS as u64))]
    targets: u64,

    /// Rounds of floor and check, alternated; the table shows medians.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=50))]
    rounds: u64,

    /// Handshakes in flight, for the floor and for egresscheck's `--concurrency`.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    concurrency: u64,

    /// `--timeout` of the black-hole run, in seconds.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=60))]
    hole_timeout: u64,

    /// Synthetic prefixes for the rules measurement.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(2..=MAX_PREFIXES as u64))]
    prefixes: u64,

    /// Measurements to run (comma-separated): throughput, holes, stalls, rules, peers, serve.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput,holes,stalls,rules,peers,serve"
    )]
    only: Vec<Section>,

    /// Targets per name: each name's A records are this many target addresses (1: every
    /// target has a name of its own, two DNS queries per target; the most DNS work).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=32))]
    addresses_per_name: u64,

    /// Certificates of the lab's targets: one shared wildcard (as a provider's addresses
    /// usually present), or one per target name (no verification can be shared).
    #[arg(long, value_enum, default_value = "shared")]
    certs: lab::Certs,

    /// Keep the working directory (data files, reports, peer outputs) and print its path.
    #[arg(long)]
    keep: bool,

    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    Throughput,
    Holes,
    Stalls,
    Rules,
    Peers,
    Serve,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// (internal) Serve the lab until standard input closes.
    #[command(hide = true)]
    Lab {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        targets: usize,
        #[arg(long)]
        holes: usize,
        #[arg(long)]
        stalls: usize,
        #[arg(long, value_enum)]
        certs: lab::Certs,
        #[arg(long)]
        per_name: usize,
    },
    /// (internal) Run the floor loop.
    #[command(hide = true)]
    Floor {
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        port: u16,
        #[arg(long)]
        targets: usize,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        per_name: usize,
        /// Stalling targets interleaved with the healthy ones (the stalled-TLS mix).
        #[arg(long, default_value_t = 0)]
        stalls: usize,
        /// Bound on each connect and handshake, in milliseconds.
        #[arg(long, default_value_t = floor::STEP_TIMEOUT.as_millis() as u64)]
        step_ms: u64,
    },
    /// (internal) Run egresscheck's command line as its `main` does.
    #[command(hide = true)]
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// What a child process reports about itself on its last line of standard error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChildReport {
    /// Targets that completed (floor only).
    pub ok: usize,
    /// Targets attempted (floor only).
    pub total: usize,
    /// Median time per target, connect plus handshake, in milliseconds (floor only).
    pub p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub p99_ms: Option<f64>,
    /// Peak resident set size (VmHWM) in KiB.
    pub peak_rss_kib: Option<u64>,
    /// CPU time (user and system, every thread) in seconds.
    pub cpu_s: Option<f64>,
    /// egresscheck's exit code (run mode only).
    pub exit: Option<u8>,
}

impl ChildReport {
    /// A report of `ok` completed out of `total`, with the completed ones' times.
    pub fn new(ok: usize, total: usize, mut times: Vec<f64>) -> ChildReport {
        times.sort_by(f64::total_cmp);
        ChildReport {
            ok,
            total,
            p50_ms: percentile(&times, 50.0),
            p99_ms: percentile(&times, 99.0),
            ..ChildReport::default()
        }
    }

    fn emit(mut self) -> Result<(), BoxError> {
        self.peak_rss_kib = peak_rss_kib("self");
        self.cpu_s = cpu_seconds("self");
        let mut err = std::io::stderr().lock();
        writeln!(err, "{REPORT_PREFIX}{}", serde_json::to_string(&self)?)?;
        Ok(())
    }
}

/// Nearest-rank percentile of sorted `values`.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

/// `VmHWM` of `/proc/PID/status` in KiB (`self` for this process); None once the process
/// has exited, or off Linux.
/// User and system CPU time of `/proc/PID/stat` (fields 14 and 15, in the 1/100 s ticks
/// Linux reports there whatever the kernel's own tick), in seconds; None once the process
/// has exited.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its `)`.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    // `rest` starts at field 3, so fields 14 and 15 are at 11 and 12.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.mode {
        Some(Mode::Lab {
            ref dir,
            targets,
            holes,
            stalls,
            certs,
            per_name,
        }) => lab::serve(dir, targets, holes, stalls, certs, per_name),
        Some(Mode::Floor {
            ref ca,
            port,
            targets,
            concurrency,
            per_name,
            stalls,
            step_ms,
        }) => floor::run(
            ca,
            port,
            (targets, stalls),
            concurrency,
            per_name,
            Duration::from_millis(step_ms),
        )
        .and_then(ChildReport::emit),
        Some(Mode::Run { ref args }) => run_cli(args),
        None => orchestrate(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("perf: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The `egresscheck` binary's `main`, plus the report line.
fn run_cli(args: &[String]) -> Result<(), BoxError> {
    let cli = egresscheck::cli::Cli::try_parse_from(
        std::iter::once("egresscheck".to_owned()).chain(args.iter().cloned()),
    )?;
    let mut stdout = std::io::stdout().lock();
    let result = egresscheck::cli::run(cli, &mut stdout).and_then(|status| {
        stdout
            .flush()
            .map_err(egresscheck::commands::CommandError::Output)?;
        Ok(status)
    });
    drop(stdout);
    let exit = match result {
        Ok(status) => status.code(),
        Err(err) => {
            eprintln!("egresscheck: {err}");
            egresscheck::exit::Status::Error.code()
        }
    };
    ChildReport {
        exit: Some(exit),
        ..ChildReport::default()
    }
    .emit()
}

/// A finished child: wall time from spawn to exit, its own report, and the peak RSS seen by
/// sampling (for tools that do not report it themselves).
#[derive(Debug, Clone)]
struct Measured {
    wall: Duration,
    exit: Option<i32>,
    report: Option<ChildReport>,
    sampled_rss_kib: Option<u64>,
    sampled_cpu_s: Option<f64>,
    stderr: String,
}

impl Measured {
    fn rss_kib(&self) -> Option<u64> {
        self.report
            .as_ref()
            .and_then(|r| r.peak_rss_kib)
            .or(self.sampled_rss_kib)
    }

    fn cpu_s(&self) -> Option<f64> {
        self.report
            .as_ref()
            .and_then(|r| r.cpu_s)
            .or(self.sampled_cpu_s)
    }

    fn failure(&self) -> Option<String> {
        match self.exit {
            None => Some("killed: it ran past its time limit".to_owned()),
            Some(_) if self.report.is_none() && self.sampled_rss_kib.is_none() => Some(format!(
                "no report: {}",
                self.stderr.lines().last().unwrap_or("")
            )),
            _ => None,
        }
    }
}

/// Runs `command` with standard output to `stdout`, bounded by `limit` (then killed).
fn measure(mut command: Command, stdout: &Path, limit: Duration) -> Result<Measured, BoxError> {
    let stderr_path = stdout.with_extension("stderr");
    command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout)?)
        .stderr(std::fs::File::create(&stderr_path)?);
    let start = Instant::now();
    let mut child = command.spawn()?;
    let pid = child.id().to_string();
    let mut sampled: Option<u64> = None;
    let mut sampled_cpu: Option<f64> = None;
    let mut polls: u64 = 0;
    let exit = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status.code().unwrap_or(-1));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if polls.is_multiple_of(10) {
            sampled = sampled.max(peak_rss_kib(&pid));
            sampled_cpu = cpu_seconds(&pid).or(sampled_cpu);
        }
        polls += 1;
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall = start.elapsed();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let report = stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(REPORT_PREFIX))
        .and_then(|json| serde_json::from_str(json).ok());
    Ok(Measured {
        wall,
        exit,
        report,
        sampled_rss_kib: sampled,
        sampled_cpu_s: sampled_cpu,
        stderr,
    })
}

/// The lab process; closing its standard input stops it.
struct Lab {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    /// The lab's standard output, line by line.
    lines: std::sync::mpsc::Receiver<String>,
    tls_port: u16,
    dns_port: u16,
}

/// The numbers of a lab line `PREFIX N N…` (none when the line has another prefix).
fn numbers<T: std::str::FromStr>(line: &str, prefix: &str) -> Vec<T> {
    line.strip_prefix(prefix)
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// What the lab's TLS servers completed since the last reset.
struct LabStats {
    handshakes: usize,
    /// When the last one completed.
    last: Option<std::time::SystemTime>,
}

impl Lab {
    fn start(
        dir: &Path,
        targets: usize,
        holes: usize,
        certs: lab::Certs,
        per_name: usize,
    ) -> Result<Lab, BoxError> {
        let certs = match certs {
            lab::Certs::Shared => "shared",
            lab::Certs::PerTarget => "per-target",
        };
        let mut child = Command::new(std::env::current_exe()?)
            .args(["lab", "--dir"])
            .arg(dir)
            .args(["--targets", &targets.to_string()])
            .args(["--holes", &holes.to_string()])
            .args(["--stalls", &holes.to_string()])
            .args(["--certs", certs])
            .args(["--per-name", &per_name.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("lab.stderr"))?)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("lab: no standard output")?;
        let stdin = child.stdin.take().ok_or("lab: no standard input")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else {
                    return;
                };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let line = match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the lab did not start within 120 s".into());
            }
        };
        let ports: Vec<u16> = numbers(&line, "ready ");
        let [tls_port, dns_port] = ports.as_slice() else {
            let _ = child.kill();
            let _ = child.wait();
            let why = std::fs::read_to_string(dir.join("lab.stderr")).unwrap_or_default();
            return Err(format!("the lab failed to start: {}", why.trim()).into());
        };
        Ok(Lab {
            tls_port: *tls_port,
            dns_port: *dns_port,
            child,
            stdin,
            lines,
        })
    }

    /// Sends `command` and returns the lab's one-line answer.
    fn ask(&mut self, command: &str) -> Result<String, BoxError> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        Ok(self.lines.recv_timeout(Duration::from_secs(10))?)
    }

    /// Zeroes the lab's count of completed handshakes.
    fn reset(&mut self) -> Result<(), BoxError> {
        match self.ask("reset")?.as_str() {
            "ok" => Ok(()),
            other => Err(format!("lab: {other:?} to reset").into()),
        }
    }

    /// Handshakes completed since the last reset, and when the last one did.
    fn stats(&mut self) -> Result<LabStats, BoxError> {
        let answer = self.ask("stats")?;
        let fields: Vec<u64> = numbers(&answer, "stats ");
        let [handshakes, last_ns] = fields.as_slice() else {
            return Err(format!("lab: {answer:?} to stats").into());
        };
        Ok(LabStats {
            handshakes: usize::try_from(*handshakes)?,
            last: (*last_ns > 0).then(|| std::time::UNIX_EPOCH + Duration::from_nanos(*last_ns)),
        })
    }

    fn stop(mut self) {
        drop(self.stdin);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One row of the table.
struct Row {
    what: String,
    targets: String,
    wall: Option<Duration>,
    rate: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    rss_kib: Option<u64>,
    cpu_s: Option<f64>,
    ratio: String,
    target: String,
    met: Option<bool>,
    note: String,
}

impl Row {
    fn new(what: impl Into<String>) -> Row {
        Row {
            what: what.into(),
            targets: String::new(),
            wall: None,
            rate: None,
            p50: None,
            p99: None,
            rss_kib: None,
            cpu_s: None,
            ratio: String::new(),
            target: String::new(),
            met: None,
            note: String::new(),
        }
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).copied(),
        _ => Some((values.get(n / 2 - 1)? + values.get(n / 2)?) / 2.0),
    }
}

/// Per-target figures of a `check --format json` report: targets up (TCP open, TLS
/// completed, trusted, name valid), how many were filtered, and the sorted per-target times
/// (TCP connect plus TLS handshake) of the targets up.
struct CheckOutcome {
    up: usize,
    filtered: usize,
    /// Targets whose TCP connect succeeded and whose TLS handshake timed out.
    tls_timeouts: usize,
    total: usize,
    times: Vec<f64>,
}

fn check_outcome(path: &Path) -> Result<CheckOutcome, BoxError> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let targets = report
        .get("targets")
        .and_then(|t| t.as_array())
        .ok_or("the report has no targets")?;
    let mut outcome = CheckOutcome {
        up: 0,
        filtered: 0,
        tls_timeouts: 0,
        total: targets.len(),
        times: Vec::new(),
    };
    for target in targets {
        let tcp = &target["tcp"];
        let tls = &target["tls"];
        if tcp["state"] == "filtered" {
            outcome.filtered += 1;
        }
        if tcp["state"] == "open" && tls["failure"] == "timeout" {
            outcome.tls_timeouts += 1;
        }
        let up = tcp["state"] == "open"
            && tls["ok"] == true
            && tls["trusted_public"] == true
            && tls["hostname_match"] == true;
        if up {
            outcome.up += 1;
            let ms = tcp["ms"].as_f64().unwrap_or(0.0) + tls["ms"].as_f64().unwrap_or(0.0);
            outcome.times.push(ms);
        }
    }
    outcome.times.sort_by(f64::total_cmp);
    Ok(outcome)
}

/// Runs `egresscheck check --format json` on `data` against the lab with `extra` flags,
/// the report to `stem.json`; the measurement and what the report says.
fn run_check(
    exe: &Path,
    data: &Path,
    lab: &Lab,
    ca: &Path,
    extra: &[&str],
    stem: &Path,
) -> Result<(Measured, CheckOutcome), BoxError> {
    let report = stem.with_extension("json");
    let mut command = Command::new(exe);
    command
        .args(["run", "--data"])
        .arg(data)
        .args(["check", "--resolver"])
        .arg(lab::dns_addr(lab.dns_port).to_string())
        .arg("--ca-file")
        .arg(ca)
        .args(extra)
        .args(["--format", "json", "--output"])
        .arg(&report);
    let measured = measure(
        command,
        &stem.with_extension("out"),
        Duration::from_secs(300),
    )?;
    if let Some(why) = measured.failure() {
        return Err(format!("{}: {why}", stem.display()).into());
    }
    let outcome = check_outcome(&report)?;
    Ok((measured, outcome))
}

/// 50 concurrent scrapes of `serve`, each over a selection the size of the bundled data's.
fn serve_row(
    exe: &Path,
    dir: &Path,
    lab: &Lab,
    ca: &Path,
    targets: usize,
    per_name: usize,
) -> Result<Row, BoxError> {
    let names = serve::bundled_names()?.min(targets);
    note(format!(
        "serve: {} concurrent scrapes of {names} names each",
        serve::SCRAPES
    ));
    let data = dir.join("serve.toml");
    std::fs::write(&data, data::targets(names, 0, 0, lab.tls_port, per_name))?;
    let outcome = serve::measure(exe, &data, lab::dns_addr(lab.dns_port), ca, names)?;
    let mut row = Row::new(format!(
        "egresscheck serve: {} scrapes at once, {} names each (the bundled data's size), defaults",
        serve::SCRAPES,
        outcome.names
    ));
    row.targets = format!(
        "{}/{} scrapes ok, {} errors",
        outcome.latencies.len(),
        serve::SCRAPES,
        outcome.errors
    );
    row.wall = Some(outcome.wall);
    row.p50 = percentile(&outcome.latencies, 50.0).map(|s| s * 1000.0);
    row.p99 = percentile(&outcome.latencies, 99.0).map(|s| s * 1000.0);
    row.rss_kib = outcome.rss_kib;
    row.cpu_s = outcome.cpu_s;
    row.target = format!(
        "no error, p99 < {} s, ≤ 64 MiB",
        serve::SCRAPE_TIMEOUT.as_secs()
    );
    row.met = Some(
        outcome.errors == 0
            && row
                .p99
                .is_some_and(|p99| p99 < serve::SCRAPE_TIMEOUT.as_secs_f64() * 1000.0)
            && outcome.rss_kib.is_some_and(|kib| kib <= 64 * 1024),
    );
    row.note = "p50/p99: per scrape, request to answer".to_owned();
    Ok(row)
}

fn note(text: impl AsRef<str>) {
    eprintln!("perf: {}", text.as_ref());
}

/// Runs every measurement asked for and prints the table.
fn orchestrate(args: &Args) -> Result<(), BoxError> {
    let targets = usize::try_from(args.targets)?;
    let holes = targets / 2;
    let concurrency = usize::try_from(args.concurrency)?;
    let rounds = usize::try_from(args.rounds)?;
    let prefixes = usize::try_from(args.prefixes)?;
    let per_name = usize::try_from(args.addresses_per_name)?;
    let wants = |s: Section| args.only.contains(&s);
    let load_before = load_average();

    let work = tempfile::Builder::new()
        .prefix("egresscheck-perf-")
        .tempdir()?;
    let dir = work.path().to_path_buf();
    let exe = std::env::current_exe()?;
    let run = |extra: &[&str]| {
        let mut command = Command::new(&exe);
        command.arg("run").args(extra);
        command
    };

    let mut rows: Vec<Row> = Vec::new();
    let needs_lab = wants(Section::Throughput)
        || wants(Section::Holes)
        || wants(Section::Stalls)
        || wants(Section::Peers)
        || wants(Section::Serve);
    let mut lab = if needs_lab {
        note(format!(
            "starting the lab: {targets} TLS targets, {holes} black holes, {holes} stalling servers"
        ));
        Some(Lab::start(&dir, targets, holes, args.certs, per_name)?)
    } else {
        None
    };
    let ca = dir.join("ca.pem");
    let ca_text = ca.display().to_string();

    let mut check_rate: Option<f64> = None;
    let mut floor_rate: Option<f64> = None;
    if let (Some(lab), true) = (&lab, wants(Section::Throughput)) {
        let data = dir.join("targets.toml");
        std::fs::write(&data, data::targets(targets, 0, 0, lab.tls_port, per_name))?;
        let (mut floor_runs, mut check_runs) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            note(format!("round {round}/{rounds}: floor"));
            let floor = Floor {
                targets,
                concurrency,
                per_name,
                stalls: None,
            };
            floor_runs.push(floor.run(&exe, &dir, lab, &ca_text)?);

            note(format!("round {round}/{rounds}: egresscheck check"));
            let concurrency_text = concurrency.to_string();
            check_runs.push(run_check(
                &exe,
                &data,
                lab,
                &ca,
                &["--concurrency", &concurrency_text],
                &dir.join("check"),
            )?);
        }

        let mut floor_walls: Vec<f64> = floor_runs.iter().map(|m| m.wall.as_secs_f64()).collect();
        let floor_wall = median(&mut floor_walls).unwrap_or(f64::NAN);
        let mut row = Row::new(format!("floor: bare tokio-rustls, {concurrency} in flight"));
        let ok_min = floor_runs
            .iter()
            .filter_map(|m| m.report.as_ref().map(|r| r.ok))
            .min()
            .unwrap_or(0);
        row.targets = format!("{ok_min}/{targets} ok");
        row.wall = Some(Duration::from_secs_f64(floor_wall));
        row.rate = Some(targets as f64 / floor_wall);
        floor_rate = row.rate;
        row.p50 = median(
            &mut floor_runs
                .iter()
                .filter_map(|m| m.report.as_ref().and_then(|r| r.p50_ms))
                .collect::<Vec<_>>(),
        );
        row.p99 = median(
            &mut floor_runs
                .iter()
                .filter_map(|m| m.report.as_ref().and_then(|r| r.p99_ms))
                .collect::<Vec<_>>(),
        );
        row.rss_kib = floor_runs.iter().filter_map(Measured::rss_kib).max();
        row.cpu_s = median(
            &mut floor_runs
                .iter()
                .filter_map(Measured::cpu_s)
                .collect::<Vec<_>>(),
        );
        let floor_cpu = row.cpu_s;
        row.ratio = "1.00".to_owned();
        rows.push(row);

        let mut check_walls: Vec<f64> = check_runs
            .iter()
            .map(|(m, _)| m.wall.as_secs_f64())
            .collect();
        let check_wall = median(&mut check_walls).unwrap_or(f64::NAN);
        let rate = targets as f64 / check_wall;
        check_rate = Some(rate);
        let rss = check_runs.iter().filter_map(|(m, _)| m.rss_kib()).max();
        let ratio = floor_wall / check_wall;
        let up_min = check_runs.iter().map(|(_, o)| o.up).min().unwrap_or(0);
        let mut row = Row::new("egresscheck check --format json");
        row.targets = format!("{up_min}/{targets} up");
        row.wall = Some(Duration::from_secs_f64(check_wall));
        row.rate = Some(rate);
        row.p50 = median(
            &mut check_runs
                .iter()
                .filter_map(|(_, o)| percentile(&o.times, 50.0))
                .collect::<Vec<_>>(),
        );
        row.p99 = median(
            &mut check_runs
                .iter()
                .filter_map(|(_, o)| percentile(&o.times, 99.0))
                .collect::<Vec<_>>(),
        );
        row.rss_kib = rss;
        row.cpu_s = median(
            &mut check_runs
                .iter()
                .filter_map(|(m, _)| m.cpu_s())
                .collect::<Vec<_>>(),
        );
        row.ratio = format!("{ratio:.2} × floor");
        row.target = "≥ 0.80 × floor, ≤ 64 MiB".to_owned();
        row.met =
            Some(ratio >= 0.8 && rss.is_some_and(|kib| kib <= 64 * 1024) && up_min == targets);
        let mut per_round: Vec<String> = floor_runs
            .iter()
            .zip(&check_runs)
            .map(|(f, (c, _))| format!("{:.2}", f.wall.as_secs_f64() / c.wall.as_secs_f64()))
            .collect();
        per_round.sort();
        row.note = format!("ratio per round: {}", per_round.join(", "));
        if let (Some(check_cpu), Some(floor_cpu)) = (row.cpu_s, floor_cpu) {
            row.note = format!(
                "{}; CPU time {:.2} × the floor's (a ratio that holds on a loaded machine)",
                row.note,
                check_cpu / floor_cpu
            );
        }
        rows.push(row);
    }

    if let (Some(lab), true) = (&lab, wants(Section::Holes)) {
        note(format!(
            "black holes: {targets} targets, {holes} black-holed, --timeout {}s",
            args.hole_timeout
        ));
        let data = dir.join("holes.toml");
        std::fs::write(
            &data,
            data::targets(targets - holes, holes, 0, lab.tls_port, per_name),
        )?;
        let timeout = format!("{}s", args.hole_timeout);
        let (measured, outcome) = run_check(
            &exe,
            &data,
            lab,
            &ca,
            &["--timeout", &timeout],
            &dir.join("holes"),
        )?;
        let (mut row, ratio) = timed_row("black holes", &measured, args.hole_timeout);
        row.targets = format!(
            "{} up, {} filtered of {}",
            outcome.up, outcome.filtered, outcome.total
        );
        row.target = "≤ 1.30 × timeout".to_owned();
        row.met = Some(ratio <= 1.3 && outcome.filtered == holes && outcome.up == targets - holes);
        row.note = format!(
            "default settings otherwise; a loop capped at {concurrency} in flight would take ⌈{holes}/{concurrency}⌉ × {}s = {}s",
            args.hole_timeout,
            holes.div_ceil(concurrency) as u64 * args.hole_timeout
        );
        rows.push(row);
    }

    if let (Some(lab), true) = (lab.as_mut(), wants(Section::Stalls)) {
        let floor_rate = match floor_rate {
            Some(rate) => rate,
            None => floor_only(&exe, &dir, lab, &ca_text, targets, concurrency, per_name)?,
        };
        let setup = StallSetup {
            exe: &exe,
            dir: &dir,
            ca: &ca,
            targets,
            stalls: holes,
            per_name,
            concurrency,
            floor_rate,
        };
        rows.push(stalled_tls(&setup, lab, args)?);
    }

    if wants(Section::Rules) {
        let data = dir.join("prefixes.toml");
        let text = data::prefixes(prefixes);
        std::fs::write(&data, &text)?;
        let data_text = data.display().to_string();
        for dialect in ["nftables", "iptables"] {
            note(format!("rules: {prefixes} prefixes to {dialect}"));
            // iptables-restore and ip6tables-restore take one family each: both families, a
            // file each, as an admin applies them. nftables: one file, standard output.
            let files = dir.join(format!("rules-{dialect}"));
            std::fs::create_dir_all(&files)?;
            let files_text = files.display().to_string();
            let mut args = vec![
                "--data",
                &data_text,
                "rules",
                "--format",
                dialect,
                "--no-timestamp",
            ];
            if dialect == "iptables" {
                args.extend(["--output-dir", &files_text]);
            }
            let command = run(&args);
            let out = dir.join(format!("rules.{dialect}"));
            let measured = measure(command, &out, Duration::from_secs(300))?;
            let mut row = Row::new(format!("rules --format {dialect}"));
            row.targets = format!("{prefixes} prefixes");
            let succeeded = match measured.failure() {
                Some(why) => {
                    row.note = why;
                    false
                }
                None if measured.report.as_ref().and_then(|r| r.exit) != Some(0) => {
                    row.note = format!(
                        "egresscheck failed: {}",
                        measured.stderr.lines().next().unwrap_or("")
                    );
                    false
                }
                None => {
                    let lines = count_lines(&out) + count_lines_in(&files);
                    row.targets = format!("{prefixes} prefixes → {lines} lines");
                    true
                }
            };
            row.wall = Some(measured.wall);
            row.rss_kib = measured.rss_kib();
            row.cpu_s = measured.cpu_s();
            row.target = "< 1 s".to_owned();
            row.met = Some(succeeded && measured.wall < Duration::from_secs(1));
            rows.push(row);
        }
    }

    if let (Some(lab), true) = (&lab, wants(Section::Serve)) {
        rows.push(serve_row(&exe, &dir, lab, &ca, targets, per_name)?);
    }

    if let (Some(lab), true) = (&lab, wants(Section::Peers)) {
        let found = peers::installed(&dir, targets, lab.tls_port)?;
        if found.is_empty() {
            let mut row = Row::new("peers: sslscan, nmap");
            row.note = "not installed (apt-get install sslscan nmap)".to_owned();
            rows.push(row);
        }
        for peer in found {
            note(format!("peer: {}", peer.label));
            let measured = measure(peer.command, &peer.output, Duration::from_secs(900))?;
            let seen = std::fs::read_to_string(&peer.output)
                .map(|text| peers::certificates_seen(&text))
                .unwrap_or(0);
            let rate = targets as f64 / measured.wall.as_secs_f64();
            let mut row = Row::new(peer.label);
            row.targets = format!("{seen}/{targets} certificates");
            row.wall = Some(measured.wall);
            row.rate = Some(rate);
            row.rss_kib = measured.rss_kib();
            row.cpu_s = measured.cpu_s();
            if let Some(check_rate) = check_rate {
                row.ratio = format!("egresscheck {:.1} ×", check_rate / rate);
            }
            row.note = match measured.exit {
                None => "killed: ran past 15 minutes".to_owned(),
                Some(_) => format!(
                    "{}; peak RSS and CPU time sampled every 10 ms",
                    peers::flags(peer.label)
                ),
            };
            rows.push(row);
        }
    }

    if let Some(lab) = lab {
        lab.stop();
    }
    let load_after = load_average();
    print_table(
        args,
        &rows,
        &format!("load average before {load_before}, after {load_after}"),
    )?;
    if args.keep {
        let kept = work.keep();
        note(format!("kept {}", kept.display()));
    }
    Ok(())
}

/// The row of a `check --timeout` run whose wall time is judged against the timeout: wall,
/// peak RSS, CPU, and the ratio of wall to timeout (also returned).
fn timed_row(what: &str, measured: &Measured, timeout_s: u64) -> (Row, f64) {
    let ratio = measured.wall.as_secs_f64() / timeout_s as f64;
    let mut row = Row::new(format!("{what}: check --timeout {timeout_s}s"));
    row.wall = Some(measured.wall);
    row.rss_kib = measured.rss_kib();
    row.cpu_s = measured.cpu_s();
    row.ratio = format!("{ratio:.2} × timeout");
    (row, ratio)
}

/// One run of the floor loop.
struct Floor {
    targets: usize,
    concurrency: usize,
    per_name: usize,
    /// Stalling targets interleaved with the healthy ones (the stalled-TLS mix), and the
    /// bound on each connect and handshake: `None` for the healthy-only floor.
    stalls: Option<(usize, Duration)>,
}

impl Floor {
    /// Runs it against `lab` (its CA at `ca`), measured.
    fn run(&self, exe: &Path, dir: &Path, lab: &Lab, ca: &str) -> Result<Measured, BoxError> {
        let mut floor = Command::new(exe);
        floor
            .args(["floor", "--ca", ca])
            .args(["--port", &lab.tls_port.to_string()])
            .args(["--targets", &self.targets.to_string()])
            .args(["--concurrency", &self.concurrency.to_string()])
            .args(["--per-name", &self.per_name.to_string()]);
        if let Some((stalls, step)) = self.stalls {
            floor
                .args(["--stalls", &stalls.to_string()])
                .args(["--step-ms", &step.as_millis().to_string()]);
        }
        let measured = measure(floor, &dir.join("floor.out"), Duration::from_secs(300))?;
        match measured.failure() {
            Some(why) => Err(format!("floor: {why}").into()),
            None => Ok(measured),
        }
    }
}

/// The floor's rate (targets per second, the median of three rounds), for a run that did
/// not measure throughput.
fn floor_only(
    exe: &Path,
    dir: &Path,
    lab: &Lab,
    ca: &str,
    targets: usize,
    concurrency: usize,
    per_name: usize,
) -> Result<f64, BoxError> {
    let mut walls = Vec::new();
    for round in 1..=3 {
        note(format!("floor {round}/3 (for the stalled-TLS row)"));
        let floor = Floor {
            targets,
            concurrency,
            per_name,
            stalls: None,
        };
        walls.push(floor.run(exe, dir, lab, ca)?.wall.as_secs_f64());
    }
    let wall = median(&mut walls).ok_or("no floor round")?;
    Ok(targets as f64 / wall)
}

/// One round of the stalled-TLS row: the bare loop over the same targets, then the check;
/// for each, the healthy half's time from its start to the lab's last completed handshake.
struct StallRound {
    measured: Measured,
    outcome: CheckOutcome,
    healthy_secs: Option<f64>,
    handshakes: usize,
    floor_secs: Option<f64>,
}

impl StallRound {
    /// The check's healthy rate against the bare loop's in this round.
    fn ratio(&self) -> Option<f64> {
        Some(self.floor_secs? / self.healthy_secs?)
    }
}

/// Seconds from `started` to the lab's last completed handshake, and how many completed.
fn healthy_time(
    lab: &mut Lab,
    started: std::time::SystemTime,
) -> Result<(Option<f64>, usize), BoxError> {
    let stats = lab.stats()?;
    let secs = stats
        .last
        .and_then(|last| last.duration_since(started).ok())
        .map(|d| d.as_secs_f64());
    Ok((secs, stats.handshakes))
}

/// What the stalled-TLS row needs besides the lab.
struct StallSetup<'a> {
    exe: &'a Path,
    dir: &'a Path,
    ca: &'a Path,
    targets: usize,
    stalls: usize,
    per_name: usize,
    concurrency: usize,
    /// The healthy-only floor's rate (targets per second), for comparison.
    floor_rate: f64,
}

/// The stalled-TLS row: half the targets accept TCP and never answer the ClientHello. The
/// run's wall time against its timeout, and the healthy half's rate (from the start to the
/// lab's last completed handshake) against the floor's (the goal), and against the bare
/// loop's over the same targets, measured in the same round: what any client can do against
/// these servers, since each stalled target costs a connect, a ClientHello and the lab's
/// accept on the same two cores.
/// The bare loop has `concurrency` handshakes in flight plus one worker per stalled target,
/// so that a stall holds no handshake's place, as egresscheck's slots promise. Medians of
/// `--rounds` rounds (at least three); the note lists each, with the rate against the healthy-only
/// floor.
fn stalled_tls(setup: &StallSetup<'_>, lab: &mut Lab, args: &Args) -> Result<Row, BoxError> {
    let StallSetup {
        exe,
        dir,
        ca,
        targets,
        stalls,
        per_name,
        concurrency,
        floor_rate,
    } = *setup;
    let healthy = targets - stalls;
    let data = dir.join("stalls.toml");
    std::fs::write(
        &data,
        data::targets(healthy, 0, stalls, lab.tls_port, per_name),
    )?;
    let timeout = format!("{}s", args.hole_timeout);
    let step = Duration::from_secs(args.hole_timeout);
    let ca_text = ca.display().to_string();
    let bare = Floor {
        targets: healthy,
        concurrency: concurrency + stalls,
        per_name,
        stalls: Some((stalls, step)),
    };
    // On a shared machine one round is one sample of its load: the ratio of each round's
    // pair is steadier than either time.
    let stall_rounds = usize::try_from(args.rounds).unwrap_or(usize::MAX).max(3);
    let mut rounds = Vec::new();
    for round in 1..=stall_rounds {
        note(format!(
            "stalled TLS {round}/{stall_rounds}: {targets} targets, {stalls} stalling after the ClientHello, --timeout {}s: the bare loop, then the check",
            args.hole_timeout
        ));
        lab.reset()?;
        let started = std::time::SystemTime::now();
        bare.run(exe, dir, lab, &ca_text)?;
        let (floor_secs, _) = healthy_time(lab, started)?;

        lab.reset()?;
        let started = std::time::SystemTime::now();
        let (measured, outcome) = run_check(
            exe,
            &data,
            lab,
            ca,
            &["--timeout", &timeout],
            &dir.join("stalls"),
        )?;
        let (healthy_secs, handshakes) = healthy_time(lab, started)?;
        rounds.push(StallRound {
            measured,
            outcome,
            healthy_secs,
            handshakes,
            floor_secs,
        });
    }
    // The row shows the round of the median wall time, with the median healthy rate and
    // the median of each round's ratio to the bare loop.
    rounds.sort_by_key(|r| r.measured.wall);
    let middle = rounds.get(rounds.len() / 2).ok_or("no stalled-TLS round")?;
    let timeout_s = args.hole_timeout as f64;
    let mut rates: Vec<f64> = rounds
        .iter()
        .filter_map(|r| r.healthy_secs.map(|secs| healthy as f64 / secs))
        .collect();
    let healthy_rate = median(&mut rates);
    let mut ratios: Vec<f64> = rounds.iter().filter_map(StallRound::ratio).collect();
    let bare_ratio = median(&mut ratios);
    let mut bare_rates: Vec<f64> = rounds
        .iter()
        .filter_map(|r| r.floor_secs.map(|secs| healthy as f64 / secs))
        .collect();
    let bare_rate = median(&mut bare_rates);
    let shown = |r: Option<f64>| r.map_or_else(|| "?".to_owned(), |r| format!("{r:.2}"));
    let (mut row, wall_ratio) = timed_row("stalled TLS", &middle.measured, args.hole_timeout);
    row.targets = format!(
        "{} up, {} stalled of {}",
        middle.outcome.up, middle.outcome.tls_timeouts, middle.outcome.total
    );
    row.rate = healthy_rate;
    row.rss_kib = rounds.iter().filter_map(|r| r.measured.rss_kib()).max();
    let floor_ratio = healthy_rate.map(|rate| rate / floor_rate);
    row.ratio = format!(
        "{wall_ratio:.2} × timeout; healthy {} × floor ({} × the bare loop over the same targets)",
        shown(floor_ratio),
        shown(bare_ratio),
    );
    row.target = "≤ 1.30 × timeout, healthy ≥ 0.90 × floor, ≤ 64 MiB".to_owned();
    row.met = Some(
        wall_ratio <= 1.3
            && floor_ratio.is_some_and(|r| r >= 0.9)
            && row.rss_kib.is_some_and(|kib| kib <= 64 * 1024)
            && rounds
                .iter()
                .all(|r| r.outcome.up == healthy && r.outcome.tls_timeouts == stalls),
    );
    let each: Vec<String> = rounds
        .iter()
        .map(|r| {
            format!(
                "{:.2} × timeout, healthy {} × the bare loop, {} × the floor ({} handshakes completed)",
                r.measured.wall.as_secs_f64() / timeout_s,
                shown(r.ratio()),
                shown(r.healthy_secs.map(|secs| healthy as f64 / secs / floor_rate)),
                r.handshakes
            )
        })
        .collect();
    row.note = format!(
        "default settings otherwise; medians of {stall_rounds} rounds (peak RSS: the largest); targets/s is the healthy half's rate: {healthy} targets from the check's start to the lab's last completed handshake. The bare loop over the same targets (tokio-rustls, {concurrency} handshakes in flight and a worker per stalled target) reached {} healthy/s, {} × the healthy-only floor's {floor_rate:.0}/s: what the stalled half costs any client on these two cores. Rounds by wall time: {}",
        bare_rate.map_or_else(|| "?".to_owned(), |r| format!("{r:.0}")),
        shown(bare_rate.map(|r| r / floor_rate)),
        each.join("; ")
    );
    Ok(row)
}

/// Lines of the file at `path` (0 when it cannot be read).
fn count_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Lines of every file in `dir`.
fn count_lines_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| count_lines(&entry.path()))
                .sum()
        })
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn print_table(args: &Args, rows: &[Row], load: &str) -> Result<(), BoxError> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "egresscheck {} perf: {} targets ({} per name, {}), {} rounds; {cores} cores ({}); {load}",
        env!("CARGO_PKG_VERSION"),
        args.targets,
        args.addresses_per_name,
        match args.certs {
            lab::Certs::Shared => "one shared certificate",
            lab::Certs::PerTarget => "a certificate per target",
        },
        args.rounds,
        cpu_model()
    )?;
    use egresscheck::term::grid::{Column, Frame, Grid};
    let mut table = Grid::new(vec![
        Column::words("measurement"),
        Column::words("result"),
        Column::atoms("wall s").right(),
        Column::atoms("targets/s").right(),
        Column::atoms("p50 ms").right(),
        Column::atoms("p99 ms").right(),
        Column::atoms("peak RSS MiB").right(),
        Column::atoms("CPU s").right(),
        Column::words("ratio"),
        Column::words("target"),
        Column::atoms("met"),
    ]);
    let opt =
        |v: Option<f64>, digits: usize| v.map_or_else(String::new, |v| format!("{v:.digits$}"));
    let mut notes = Vec::new();
    for row in rows {
        let mut what = row.what.clone();
        if !row.note.is_empty() {
            notes.push(row.note.clone());
            what = format!("{what} [{}]", notes.len());
        }
        table.row(vec![
            what,
            row.targets.clone(),
            opt(row.wall.map(|w| w.as_secs_f64()), 3),
            opt(row.rate, 0),
            opt(row.p50, 2),
            opt(row.p99, 2),
            opt(row.rss_kib.map(|k| k as f64 / 1024.0), 1),
            opt(row.cpu_s, 2),
            row.ratio.clone(),
            row.target.clone(),
            match row.met {
                Some(true) => "yes".to_owned(),
                Some(false) => "NO".to_owned(),
                None => String::new(),
            },
        ]);
    }
    let screen = egresscheck::term::Screen::detect(egresscheck::term::ColourChoice::Never, false);
    write!(
        out,
        "{}",
        table.render(screen.width, Frame::Boxed, false).text()
    )?;
    for (i, note) in notes.iter().enumerate() {
        writeln!(out, "[{}] {note}", i + 1)?;
    }
    Ok(())
}
