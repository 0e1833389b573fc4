//! The exporter scraped by a real Prometheus (Debian's `prometheus`), configured as
//! `contrib/prometheus/prometheus.yml` shows, with the alerting rules of
//! `contrib/prometheus/egresscheck-rules.yml`, in front of the lab: a healthy host and a
//! black-holed one. The test starts Prometheus itself (a loopback port, its own configuration
//! and storage in a temporary directory), stops it by its process id, and asks its HTTP API
//! what it stored and which alerts fire.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{GOOD, HOLE, Lab};
use crate::support::tools;

/// Prometheus as a child process, stopped by its process id when dropped.
struct Prometheus {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path) -> Prometheus {
        // A free loopback port: bound, read, released just before Prometheus takes it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/query?query=…`: the result vector, or None while Prometheus is not up.
    fn query(&self, promql: &str) -> Option<Vec<Value>> {
        let mut stream = TcpStream::connect(&self.addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let path = format!("/api/v1/query?query={}", encode(promql));
        let answer = crate::support::exporter::exchange(&mut stream, "GET", &path, &[]);
        if answer.status != 200 {
            return None;
        }
        let body: Value = serde_json::from_str(&answer.body).ok()?;
        body["data"]["result"].as_array().cloned()
    }

    /// Polls `promql` until `done` holds for its result, within a generous overall limit.
    fn wait_for(&self, promql: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let started = Instant::now();
        loop {
            if let Some(result) = self.query(promql)
                && done(&result)
            {
                return result;
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "{promql}: not satisfied; last answer {:?}\nPrometheus log:\n{}",
                self.query(promql),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn prometheus_scrapes_the_exporter_and_alerts_on_the_blocked_host() {
    tools::require(&["prometheus"]);
    let lab = Lab::on(141);
    let exporter = lab.exporter(&["--timeout", "500ms"]);
    let dir = tempfile::tempdir().unwrap();
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");

    // The contrib configuration as shipped, with the lab's names and address, and intervals
    // short enough for a test: scrape every 2 s (each scrape a run of 1.2 s at most), rules
    // evaluated every second.
    let config = std::fs::read_to_string(contrib.join("prometheus.yml"))
        .unwrap()
        .replace(
            "egresscheck.oslo.example.internal:9716",
            &exporter.addr.to_string(),
        )
        .replace("[prod, test]", "[prod]")
        .replace(
            "[maskinporten.no, mvamelding.api.skatteetaten.no]",
            &format!("[{GOOD}, {HOLE}]"),
        )
        .replace("scrape_interval: 2m", "scrape_interval: 2s")
        .replace("scrape_timeout: 30s", "scrape_timeout: 2s")
        .replace("evaluation_interval: 1m", "evaluation_interval: 1s");
    assert!(
        config.contains(GOOD),
        "the contrib file changed shape:\n{config}"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    // The rules as shipped, except that the blocked-path alert fires at once instead of after
    // 15 minutes.
    let rules = std::fs::read_to_string(contrib.join("egresscheck-rules.yml")).unwrap();
    let blocked = rules.find("alert: EgresscheckPathBlocked").unwrap();
    let after = &rules[blocked..];
    let for_at = blocked + after.find("for: 15m").unwrap();
    let rules = format!(
        "{}for: 0s{}",
        &rules[..for_at],
        &rules[for_at + "for: 15m".len()..]
    );
    std::fs::write(dir.path().join("egresscheck-rules.yml"), rules).unwrap();

    let prometheus = Prometheus::start(dir.path());

    // Two scrapes of each host.
    let scrapes = prometheus.wait_for(
        "count_over_time(egresscheck_probe_success{job=\"egresscheck-oslo-hosts\"}[10m])",
        |r| r.len() == 2 && r.iter().all(|s| value(s) >= 2.0),
    );
    assert_eq!(scrapes.len(), 2);

    // egresscheck_probe_success per host: 1 for the healthy one, 0 for the blocked one.
    let success = prometheus.wait_for(
        "egresscheck_probe_success{job=\"egresscheck-oslo-hosts\"}",
        |r| r.len() == 2,
    );
    for sample in &success {
        let instance = sample["metric"]["instance"].as_str().unwrap();
        let expected = if instance == GOOD { 1.0 } else { 0.0 };
        assert!(instance == GOOD || instance == HOLE, "{sample}");
        assert_eq!(value(sample), expected, "{sample}");
    }

    // Per-address series, with the site label the scrape configuration adds.
    let up = prometheus.wait_for(
        "egresscheck_target_up{job=\"egresscheck-oslo\",site=\"oslo\",env=\"prod\"}",
        |r| r.len() == 2,
    );
    for sample in &up {
        let metric = &sample["metric"];
        let (host, address) = (
            metric["host"].as_str().unwrap(),
            metric["address"].as_str().unwrap(),
        );
        match host {
            GOOD => {
                assert_eq!(address, "127.0.0.141");
                assert_eq!(value(sample), 1.0);
            }
            HOLE => {
                assert_eq!(address, "127.0.0.142");
                assert_eq!(value(sample), 0.0);
            }
            other => panic!("unexpected host {other}"),
        }
        assert!(metric["port"].as_str().unwrap().parse::<u16>().is_ok());
    }

    // The blocked-path alert fires for the blocked host, and only for it.
    let alerts = prometheus.wait_for(
        "ALERTS{alertname=\"EgresscheckPathBlocked\",alertstate=\"firing\"}",
        |r| !r.is_empty(),
    );
    assert!(
        alerts.iter().all(|a| a["metric"]["host"] == HOLE),
        "{alerts:?}"
    );
    assert!(
        alerts.iter().all(|a| a["metric"]["site"] == "oslo"),
        "{alerts:?}"
    );

    // The exporter's own metrics are scraped too, and count the scrapes.
    let counted = prometheus.wait_for(
        "egresscheck_exporter_scrapes_total{job=\"egresscheck-exporters\",outcome=\"failure\"}",
        |r| r.len() == 1 && value(&r[0]) >= 2.0,
    );
    assert_eq!(counted[0]["metric"]["site"], "oslo");
    // Nothing but the data file's hosts was probed.
    assert_eq!(lab.canary.accepted(), 0);
    drop(prometheus);
}
