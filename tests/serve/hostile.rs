//! Hostile clients: a header that never ends, thousands of idle connections, huge query
//! strings. Each is bounded in time and memory, and the exporter stays up and keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::Lab;

/// Waits (polling, with a generous overall limit) until `/-/healthy` answers 200.
fn wait_until_healthy(exporter: &crate::support::exporter::Exporter) {
    let started = Instant::now();
    loop {
        if let Ok(mut stream) = TcpStream::connect(exporter.addr) {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut raw = Vec::new();
            let asked = stream
                .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            if asked.is_ok()
                && stream.read_to_end(&mut raw).is_ok()
                && crate::support::exporter::parse(&raw).status == 200
            {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the exporter did not answer again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_header_that_never_ends_is_cut_at_the_read_timeout() {
    let lab = Lab::on(101);
    let mut exporter = lab.exporter(&["--web.read-timeout", "1s"]);
    let mut stream = TcpStream::connect(exporter.addr).unwrap();
    stream
        .write_all(b"GET /probe?env=prod HTTP/1.1\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    // One header byte every 100 ms, for up to 30 s: the exporter must hang up long before.
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(30) {
        if stream.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {} // an error answer; the close follows
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(closed, "the slow header was never cut");
    assert!(exporter.alive());
    wait_until_healthy(&exporter);
}

#[test]
fn huge_query_strings_are_refused_without_harm() {
    let lab = Lab::on(111);
    let mut exporter = lab.exporter(&[]);
    for size in [20_000, 200_000, 2_000_000] {
        let query = format!("env={}", "A".repeat(size));
        let mut stream = TcpStream::connect(exporter.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let request =
            format!("GET /probe?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        // The exporter may hang up before it has read everything.
        let _ = stream.write_all(request.as_bytes());
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let answer = crate::support::exporter::parse(&raw);
        assert!(
            answer.status == 431 || answer.status == 414 || raw.is_empty(),
            "{size}: {} {}",
            answer.status,
            answer.body
        );
    }
    // Many parameters under the size bound: one line, 400.
    let many = vec!["env=prod"; 1500].join("&");
    let answer = exporter.get(&format!("/probe?{many}"), &[]);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("more than 256 parameters"));
    assert!(lab.dns.queries().is_empty());
    assert!(exporter.alive());
    wait_until_healthy(&exporter);
    let peak_mib = exporter.peak_rss_kib() / 1024;
    assert!(peak_mib < 64, "peak RSS {peak_mib} MiB");
}

#[test]
fn thousands_of_idle_connections_are_bounded_and_then_let_go() {
    egresscheck::probe::options::raise_open_file_limit(65_536);
    let lab = Lab::on(121);
    let mut exporter = lab.exporter(&["--web.max-connections", "300", "--web.read-timeout", "2s"]);
    let mut idle = Vec::new();
    for _ in 0..3000 {
        match TcpStream::connect(exporter.addr) {
            Ok(stream) => idle.push(stream),
            Err(_) => break,
        }
    }
    assert!(idle.len() >= 1000, "only {} connections opened", idle.len());
    assert!(exporter.alive());
    // The idle connections are closed by the exporter once the read timeout passes; then it
    // serves again.
    wait_until_healthy(&exporter);
    let metrics = exporter.get("/metrics", &[]);
    assert!(
        metrics
            .sample("egresscheck_exporter_connections_rejected_total", &[])
            .unwrap()
            > 0.0,
        "{}",
        metrics.body
    );
    let open = metrics
        .sample("egresscheck_exporter_connections_open", &[])
        .unwrap();
    assert!(open <= 300.0, "{open}");
    let peak_mib = exporter.peak_rss_kib() / 1024;
    assert!(
        peak_mib < 64,
        "peak RSS {peak_mib} MiB with {} idle clients",
        idle.len()
    );
    // Every idle connection is hung up on in the end: none is held.
    let started = Instant::now();
    loop {
        let mut held = 0;
        for stream in &mut idle {
            stream
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let mut buf = [0u8; 1];
            if let Err(e) = stream.read(&mut buf)
                && (e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut)
            {
                held += 1;
            }
        }
        if held == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{held} connections still held open by the exporter"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
