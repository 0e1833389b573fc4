//! The exporter's other endpoints: `/metrics`, `/`, health, readiness, reload (SIGHUP and
//! `POST /-/reload`), and what it answers for paths and methods it does not serve.

use std::time::{Duration, Instant};

use super::{GOOD, Lab, TIMEOUT};

#[test]
fn metrics_landing_page_and_health_endpoints_answer() {
    let lab = Lab::on(71);
    let exporter = lab.exporter(&[]);
    assert_eq!(
        exporter
            .get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "10")])
            .status,
        200
    );
    let metrics = exporter.get("/metrics", &[]);
    assert_eq!(metrics.status, 200);
    for (name, labels) in [
        ("egresscheck_exporter_build_info", vec![]),
        (
            "egresscheck_exporter_data_info",
            vec![
                ("provider", "Egress Test Provider"),
                ("data_version", "2026-01-01.1"),
            ],
        ),
        (
            "egresscheck_exporter_scrapes_total",
            vec![("outcome", "success")],
        ),
        ("egresscheck_exporter_probe_duration_seconds_count", vec![]),
        ("egresscheck_exporter_config_last_reload_successful", vec![]),
        ("process_resident_memory_bytes", vec![]),
        ("process_cpu_seconds_total", vec![]),
        ("process_open_fds", vec![]),
        ("process_start_time_seconds", vec![]),
    ] {
        assert!(
            metrics.sample(name, &labels).is_some(),
            "{name} {labels:?} missing:\n{}",
            metrics.body
        );
    }
    assert_eq!(
        metrics.sample(
            "egresscheck_exporter_scrapes_total",
            &[("outcome", "success")]
        ),
        Some(1.0)
    );
    // The exporter's own metrics only: no probe results.
    assert!(!metrics.body.contains("egresscheck_target_up"));

    let landing = exporter.get("/", &[]);
    assert_eq!(landing.status, 200);
    assert!(
        landing
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    for needle in [
        "Egress Test Provider",
        "2026-01-01.1",
        "href=\"metrics\"",
        "href=\"probe?env=prod\"",
    ] {
        assert!(landing.body.contains(needle), "{needle}:\n{}", landing.body);
    }
    assert_eq!(exporter.get("/-/healthy", &[]).status, 200);
    assert_eq!(exporter.get("/-/ready", &[]).status, 200);
    assert_eq!(exporter.get("/nope", &[]).status, 404);
    let wrong = exporter.request("POST", "/probe", &[]);
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET"));
    assert_eq!(exporter.get("/-/reload", &[]).status, 405);
}

#[test]
fn a_bad_data_file_at_reload_keeps_the_old_data_and_says_so() {
    let lab = Lab::on(81);
    let exporter = lab.exporter(&[]);
    let data_info = |version: &str| {
        exporter.get("/metrics", &[]).sample(
            "egresscheck_exporter_data_info",
            &[("data_version", version)],
        )
    };
    assert_eq!(data_info("2026-01-01.1"), Some(1.0));
    let good_text = std::fs::read_to_string(&lab.data).unwrap();

    std::fs::write(&lab.data, "schema = 1\n[data]\nprovider = \n").unwrap();
    let answer = exporter.request("POST", "/-/reload", &[]);
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(answer.body.trim_end().lines().count(), 1, "{}", answer.body);
    assert!(answer.body.contains("lab.toml"), "{}", answer.body);
    let metrics = exporter.get("/metrics", &[]);
    assert_eq!(
        metrics.sample("egresscheck_exporter_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(
        metrics.sample("egresscheck_exporter_config_reload_failures_total", &[]),
        Some(1.0)
    );
    let failed = exporter.wait_for_log(
        "reload failed; the previous data and web configuration stay in force",
        Duration::from_secs(10),
    );
    assert_eq!(failed["level"], "error");
    // The old data still serves.
    assert_eq!(data_info("2026-01-01.1"), Some(1.0));
    let probe = exporter.get(&format!("/probe?host={GOOD}"), &[(TIMEOUT, "10")]);
    assert_eq!(probe.sample("egresscheck_probe_success", &[]), Some(1.0));

    // A good file and SIGHUP: the new data, and the metric back at 1.
    std::fs::write(
        &lab.data,
        good_text
            .replace("2026-01-01.1", "2026-01-02.1")
            .replace("version = \"2026-01-01.1\"", "version = \"2026-01-02.1\""),
    )
    .unwrap();
    exporter.signal("HUP");
    let started = Instant::now();
    while data_info("2026-01-02.1").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "SIGHUP did not reload: {:?}",
            exporter.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = exporter.get("/metrics", &[]);
    assert_eq!(
        metrics.sample("egresscheck_exporter_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let ok = exporter.request("PUT", "/-/reload", &[]);
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[test]
fn an_unusable_data_file_or_web_config_stops_the_start_with_exit_2() {
    let lab = Lab::on(86);
    let bad = lab.dir.path().join("web.yml");
    std::fs::write(&bad, "basic_auth_users:\n  prometheus: plaintext\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_egresscheck"))
        .arg("--data")
        .arg(&lab.data)
        .args(["serve", "--listen", "127.0.0.1:0", "--web.config.file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a bcrypt hash"), "{stderr}");
}
