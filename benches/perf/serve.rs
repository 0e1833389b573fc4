//! The exporter under a fleet's load: `egresscheck serve` in front of the lab, scraped by 50
//! clients at once, each scrape a run over a selection the size of the bundled data's. Per
//! scrape: the latency (request sent to answer read), whether it answered 200 with
//! `egresscheck_probe_success 1` (every lab target is healthy); for the exporter: its peak
//! RSS (VmHWM) and CPU time, read from /proc while it runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::BoxError;

/// Scrapes sent at once.
pub const SCRAPES: usize = 50;
/// The scrape timeout announced to the exporter, as Prometheus's default.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// What 50 concurrent scrapes showed.
pub struct Outcome {
    /// Targets per scrape (the planned names).
    pub names: usize,
    /// Latency of each scrape that answered, seconds, sorted.
    pub latencies: Vec<f64>,
    /// Scrapes that did not answer 200 with success 1.
    pub errors: usize,
    /// Wall time of the whole burst.
    pub wall: Duration,
    /// Peak RSS of the exporter, KiB.
    pub rss_kib: Option<u64>,
    /// CPU time of the exporter, seconds.
    pub cpu_s: Option<f64>,
}

/// Names the bundled data plans for a check of every environment: the size of the selection.
pub fn bundled_names() -> Result<usize, BoxError> {
    let catalog = egresscheck::catalog::bundled()?;
    let plan = egresscheck::plan::Plan::new(&catalog, &egresscheck::plan::Selection::default());
    Ok(plan.requests().len())
}

/// Starts `exe run --data DATA serve …` against the lab's DNS and CA, scrapes it 50 times at
/// once, and stops it by its process id.
pub fn measure(
    exe: &Path,
    data: &Path,
    dns: SocketAddr,
    ca: &Path,
    names: usize,
) -> Result<Outcome, BoxError> {
    let mut child = Command::new(exe)
        .args(["run", "--data"])
        .arg(data)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log.format",
            "json",
            "--no-proxy",
        ])
        .args(["--resolver", &dns.to_string(), "--ca-file"])
        .arg(ca)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id().to_string();
    let stderr = child.stderr.take().ok_or("serve: no standard error")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if value.get("msg").and_then(|m| m.as_str()) == Some("listening") {
                let address = value.get("address").and_then(|a| a.as_str());
                let _ = tx.send(address.unwrap_or("").to_owned());
            }
        }
    });
    let result = (|| -> Result<Outcome, BoxError> {
        let address: SocketAddr = rx.recv_timeout(Duration::from_secs(60))?.parse()?;
        // One scrape first, so that the burst measures scrapes, not start-up.
        let _ = scrape(address);
        let started = Instant::now();
        let answers: Vec<Option<f64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..SCRAPES)
                .map(|_| scope.spawn(|| scrape(address)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().ok().flatten())
                .collect()
        });
        let wall = started.elapsed();
        let mut latencies: Vec<f64> = answers.iter().flatten().copied().collect();
        latencies.sort_by(f64::total_cmp);
        Ok(Outcome {
            names,
            errors: answers.iter().filter(|a| a.is_none()).count(),
            latencies,
            wall,
            rss_kib: crate::peak_rss_kib(&pid),
            cpu_s: crate::cpu_seconds(&pid),
        })
    })();
    // By process id: SIGTERM, then SIGKILL if it lingers.
    let _ = Command::new("kill").args(["-s", "TERM", &pid]).status();
    let stop = Instant::now();
    while stop.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return result;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// One scrape of every environment: its latency, if it answered 200 with success 1.
fn scrape(address: SocketAddr) -> Option<f64> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT * 2)).ok()?;
    let request = format!(
        "GET /probe HTTP/1.1\r\nHost: bench\r\nX-Prometheus-Scrape-Timeout-Seconds: {}\r\nConnection: close\r\n\r\n",
        SCRAPE_TIMEOUT.as_secs()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let latency = started.elapsed().as_secs_f64();
    let ok = answer.starts_with("HTTP/1.1 200")
        && answer.lines().any(|l| l == "egresscheck_probe_success 1");
    ok.then_some(latency)
}
