//! `/probe`: per-address series, the data file as the only source of targets, the scrape's
//! deadline, the bound on concurrent probes, `?debug=true` and the per-scrape log line.

use std::time::{Duration, Instant};

use super::{CANARY, GOOD, HOLE, Lab, TIMEOUT};

#[test]
fn a_scrape_answers_per_address_series_with_success_per_host() {
    let lab = Lab::on(21);
    let exporter = lab.exporter(&[]);
    let good = exporter.get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "10")]);
    assert_eq!(good.status, 200, "{}", good.body);
    assert!(
        good.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        good.headers
    );
    assert_eq!(good.sample("egresscheck_probe_success", &[]), Some(1.0));
    assert_eq!(
        good.sample(
            "egresscheck_target_up",
            &[
                ("host", GOOD),
                ("address", "127.0.0.21"),
                ("environment", "prod")
            ]
        ),
        Some(1.0),
        "{}",
        good.body
    );
    assert!(
        good.sample("egresscheck_probe_duration_seconds", &[])
            .unwrap()
            > 0.0
    );
    assert!(
        good.body
            .contains("# HELP egresscheck_probe_success 1 when this scrape's run found no failure and the deadline cut nothing short, else 0. Probed when scraped; nothing is cached."),
        "{}",
        good.body
    );
    // Only what was asked for.
    assert!(!good.body.contains(HOLE), "{}", good.body);

    let blocked = exporter.get(&format!("/probe?host={HOLE}"), &[(TIMEOUT, "10")]);
    assert_eq!(blocked.status, 200);
    assert_eq!(blocked.sample("egresscheck_probe_success", &[]), Some(0.0));
    assert_eq!(
        blocked.sample(
            "egresscheck_target_up",
            &[("host", HOLE), ("address", "127.0.0.22")]
        ),
        Some(0.0)
    );
    assert_eq!(
        blocked.sample("egresscheck_findings", &[("code", "blocked")]),
        Some(1.0)
    );

    // Both at once: every environment of the data file by default.
    let all = exporter.get("/probe", &[(TIMEOUT, "10")]);
    assert!(
        all.sample("egresscheck_target_up", &[("host", GOOD)])
            .is_some()
    );
    assert!(
        all.sample("egresscheck_target_up", &[("host", HOLE)])
            .is_some()
    );

    // One debug line per scrape, structured.
    let line = exporter
        .logs()
        .into_iter()
        .find(|l| l["msg"] == "scrape" && l["host"] == GOOD)
        .expect("a scrape line");
    assert_eq!(line["level"], "debug");
    assert_eq!(line["success"], true);
    assert_eq!(line["targets"], 1);
    assert!(line["duration_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn nothing_outside_the_data_file_is_probed_and_every_refusal_is_one_line() {
    let lab = Lab::on(31);
    let exporter = lab.exporter(&[]);
    let canary = lab.canary.addr();
    let long = "a".repeat(300);
    let hostile: Vec<String> = vec![
        format!("target={canary}"),
        format!("target={CANARY}"),
        format!("target=http://{canary}/&module=http_2xx"),
        format!("host={CANARY}"),
        format!("host={}", canary.ip()),
        format!("host={canary}"),
        format!("host={GOOD}:{}", canary.port()),
        format!("host={GOOD}&port={}", canary.port()),
        format!("host={GOOD}&address={}", canary.ip()),
        format!("env=prod&resolver={}", canary),
        format!("env=prod&proxy=http://{canary}"),
        "env=nowhere".to_owned(),
        "service=nothing".to_owned(),
        "env=".to_owned(),
        format!("host=%0d%0aSet-Cookie:%20x={long}"),
        format!("host={long}.egress.test"),
        "host=%ZZ".to_owned(),
        "debug=maybe".to_owned(),
    ];
    for query in &hostile {
        let answer = exporter.get(&format!("/probe?{query}"), &[(TIMEOUT, "10")]);
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(
            answer.body.trim_end().lines().count(),
            1,
            "{query}: {}",
            answer.body
        );
        assert!(answer.body.len() < 4096, "{query}: {}", answer.body);
        assert!(answer.header("set-cookie").is_none());
    }
    // A bad timeout header is refused too, before probing.
    let answer = exporter.get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "soon")]);
    assert_eq!(answer.status, 400, "{}", answer.body);

    // No request reached the network: not the canary, not DNS, not even the lab's hosts.
    assert_eq!(lab.canary.accepted(), 0);
    assert!(lab.dns.queries().is_empty(), "{:?}", lab.dns.queries());
    assert!(lab.good.connections().is_empty());

    // A request that is allowed probes what the data file says, and still not the canary.
    let answer = exporter.get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "10")]);
    assert_eq!(answer.status, 200);
    assert_eq!(lab.canary.accepted(), 0);
    assert!(lab.dns.queries_for(CANARY).is_empty());
    let metrics = exporter.get("/metrics", &[]);
    assert_eq!(
        metrics.sample(
            "egresscheck_exporter_scrapes_total",
            &[("outcome", "bad_request")]
        ),
        Some((hostile.len() + 1) as f64)
    );
}

#[test]
fn a_scrape_answers_before_its_timeout_with_the_rest_cut_short() {
    let lab = Lab::on(41);
    // Connects wait up to 30 s: only the scrape's deadline can end the black hole's.
    let exporter = lab.exporter(&["--timeout", "30s"]);
    let started = Instant::now();
    let answer = exporter.get("/probe", &[(TIMEOUT, "3")]);
    let took = started.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        took < Duration::from_secs(3),
        "answered after {took:?}, past the 3 s scrape timeout"
    );
    // 3 s − 0.5 s offset − 0.5 s reserve.
    let deadline = answer
        .sample("egresscheck_probe_deadline_seconds", &[])
        .unwrap();
    assert!((1.8..=2.0).contains(&deadline), "{deadline}");
    assert_eq!(answer.sample("egresscheck_probe_success", &[]), Some(0.0));
    assert_eq!(
        answer.sample("egresscheck_probe_cut_short_targets", &[]),
        Some(1.0),
        "{}",
        answer.body
    );
    // Said as the finding it is, not as the `blocked` it looks like.
    let findings = |code: &str| {
        answer.sample(
            "egresscheck_findings",
            &[("code", code), ("severity", "fail")],
        )
    };
    assert_eq!(findings("cut-short"), Some(1.0), "{}", answer.body);
    assert_eq!(findings("blocked"), Some(0.0), "{}", answer.body);
    // What finished is there: the good host, up.
    assert_eq!(
        answer.sample("egresscheck_target_up", &[("host", GOOD)]),
        Some(1.0)
    );
    assert_eq!(
        answer.sample("egresscheck_target_up", &[("host", HOLE)]),
        Some(0.0)
    );
}

#[test]
fn scrapes_over_the_bound_wait_briefly_then_get_503() {
    let lab = Lab::on(51);
    let exporter = lab.exporter(&[
        "--max-concurrent-probes",
        "1",
        "--probe-queue-wait",
        "200ms",
        "--timeout",
        "30s",
    ]);
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| exporter.get(&format!("/probe?host={HOLE}"), &[(TIMEOUT, "5")]));
        // Wait until the slow probe holds the only turn.
        one_probe_in_flight(&exporter);
        let refused = exporter.get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "5")]);
        assert_eq!(refused.status, 503, "{}", refused.body);
        assert_eq!(refused.body.trim_end().lines().count(), 1);
        assert!(refused.body.contains("--max-concurrent-probes"));
        assert_eq!(slow.join().unwrap().status, 200);
    });
    // The turn is free again.
    let answer = exporter.get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "5")]);
    assert_eq!(answer.status, 200);
    assert_eq!(rejected(&exporter), Some(1.0));
}

#[test]
fn by_default_a_scrape_over_the_bound_waits_for_its_turn_and_is_answered() {
    let lab = Lab::on(56);
    // One run at a time, no --probe-queue-wait: a scrape behind a run of 2 s waits (up to
    // half its deadline) instead of being refused (it waited 1 s, then got 503).
    let exporter = lab.exporter(&["--max-concurrent-probes", "1", "--timeout", "2s"]);
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| exporter.get(&format!("/probe?host={HOLE}"), &[(TIMEOUT, "10")]));
        one_probe_in_flight(&exporter);
        let waited = exporter.get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "10")]);
        assert_eq!(waited.status, 200, "{}", waited.body);
        assert_eq!(waited.sample("egresscheck_probe_success", &[]), Some(1.0));
        assert_eq!(slow.join().unwrap().status, 200);
    });
    assert_eq!(rejected(&exporter), Some(0.0));
}

/// Waits until the exporter runs a probe (at most a minute).
fn one_probe_in_flight(exporter: &crate::support::exporter::Exporter) {
    let started = Instant::now();
    while exporter
        .get("/metrics", &[])
        .sample("egresscheck_exporter_probes_in_flight", &[])
        != Some(1.0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no probe in flight"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Scrapes the exporter answered with 503 so far.
fn rejected(exporter: &crate::support::exporter::Exporter) -> Option<f64> {
    exporter.get("/metrics", &[]).sample(
        "egresscheck_exporter_scrapes_total",
        &[("outcome", "rejected")],
    )
}

#[test]
fn debug_shows_the_findings_and_the_metrics_it_would_have_served() {
    let lab = Lab::on(61);
    let exporter = lab.exporter(&[]);
    let answer = exporter.get(
        &format!("/probe?host={HOLE}&debug=true"),
        &[(TIMEOUT, "10")],
    );
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    for needle in [
        "blocked",
        "Metrics that would have been returned:",
        "egresscheck_probe_success 0",
        "Probe settings:",
        "deadline: ",
    ] {
        assert!(answer.body.contains(needle), "{needle}:\n{}", answer.body);
    }
}

#[test]
fn labels_are_on_every_series_of_a_scrape() {
    let lab = Lab::on(131);
    let exporter = lab.exporter(&["--label", "site=oslo", "--label", "node=worker-1"]);
    let answer = exporter.get("/probe", &[(TIMEOUT, "10")]);
    assert_eq!(answer.status, 200);
    let samples: Vec<&str> = answer
        .body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(samples.len() > 10);
    for sample in samples {
        assert!(
            sample.contains("site=\"oslo\",node=\"worker-1\"}"),
            "{sample}"
        );
    }
    // A bad label stops the start.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_egresscheck"))
        .args(["serve", "--listen", "127.0.0.1:0", "--label", "job=x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn probe_writes_json_lines_with_the_labels() {
    let lab = Lab::on(136);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_egresscheck"))
        .args([
            "probe",
            &format!("{GOOD}:{}", lab.good.port()),
            "--resolver",
        ])
        .arg(lab.dns.resolver_arg())
        .arg("--ca-file")
        .arg(lab.ca.pem_file())
        .args(["--no-proxy", "--format", "jsonl", "--label", "site=oslo"])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["type"], "target");
    assert_eq!(lines[0]["labels"]["site"], "oslo");
    assert_eq!(lines[0]["host"], GOOD);
    assert_eq!(lines[0]["address"], "127.0.0.136");
}
