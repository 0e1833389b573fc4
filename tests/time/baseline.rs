//! The baseline never gets a schedule stuck: every report `--save` wrote loads (schema 2, and
//! schema 1 as today's main wrote it, nulls and all), a damaged or unreadable file is the
//! finding `baseline-unusable` (the run still probes, renders and saves, and the file is kept
//! beside the fresh one), and a missing file is the first run, said once.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use egresscheck::probe::model::{DnsOutcome, TcpState};
use egresscheck::report::{Baseline, BaselineState};
use serde_json::Value;

use super::{egresscheck, findings, of_code, read_json, stderr};
use crate::support::data::{Endpoint, data_file};
use crate::support::dns::DnsServer;
use crate::support::netns::{self, Netns};
use crate::support::pki::TestCa;
use crate::support::tls::TlsServer;
use crate::support::tools;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports");

fn fixture(name: &str) -> (String, Vec<u8>) {
    let path = Path::new(FIXTURES).join(name);
    (
        path.display().to_string(),
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
}

fn observations(baseline: &Baseline) -> &[egresscheck::probe::model::NameObservation] {
    match &baseline.state {
        BaselineState::Read { observations, .. } => observations,
        other => panic!("not read: {other:?}"),
    }
}

#[test]
fn schema_1_reports_written_by_the_previous_version_load_as_baselines() {
    // The lab of tests/check.rs, saved by egresscheck at report schema 1.
    let (file, bytes) = fixture("schema1-lab.json");
    let baseline = Baseline::from_json(&file, &bytes).unwrap();
    assert!(matches!(
        baseline.state,
        BaselineState::Read { schema: 1, .. }
    ));
    let names = observations(&baseline);
    assert_eq!(names.len(), 6);
    let good = names
        .iter()
        .find(|n| n.name.as_str() == "good.api.egress.test")
        .unwrap();
    let dns = good.dns.as_ref().unwrap();
    let a = dns.a.as_ref().unwrap();
    assert_eq!(a.outcome, DnsOutcome::Answer);
    assert_eq!(
        a.answers[0].address,
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11))
    );
    assert_eq!(dns.aaaa.as_ref().unwrap().outcome, DnsOutcome::NoRecords);
    assert_eq!(good.targets.len(), 1);
    let tls = good.targets[0].tls.as_ref().unwrap();
    assert!(tls.ok && tls.trusted_public);
    assert_eq!(tls.chain[0].sha256.len(), 64);
    let hole = names
        .iter()
        .find(|n| n.name.as_str() == "hole.api.egress.test")
        .unwrap();
    assert_eq!(hole.targets[0].tcp.state, TcpState::Filtered);

    // The bundled data on a machine without network, saved by the same version: names that
    // never got a TCP attempt (`"tcp": null`, the report today's main cannot read back).
    let (file, bytes) = fixture("schema1-no-network.json");
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    let nulls = raw["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tcp"].is_null())
        .count();
    assert!(nulls >= 3, "the fixture holds the case: {nulls}");
    let baseline = Baseline::from_json(&file, &bytes).unwrap();
    let names = observations(&baseline);
    let sits = names
        .iter()
        .find(|n| n.name.as_str() == "idporten-api-test.sits.no")
        .unwrap();
    assert!(sits.targets.is_empty(), "nothing was probed: {sits:?}");
    assert_ne!(sits.dns.as_ref().unwrap().outcome(), DnsOutcome::Answer);
    let legacy = names
        .iter()
        .find(|n| n.name.as_str() == "api.skatteetaten.no")
        .unwrap();
    assert_eq!(legacy.targets[0].tcp.state, TcpState::Unreachable);
    let probed: usize = names.iter().map(|n| n.targets.len()).sum();
    assert_eq!(
        probed,
        raw["targets"].as_array().unwrap().len() - nulls,
        "every probed target, once"
    );
}

/// The bundled data, run where nothing but loopback exists: nothing resolves, documented
/// addresses are unreachable, the `*.sits.no` test hosts get no TCP attempt at all.
fn check_without_network(ns: &Netns, args: &[&str]) -> Output {
    ns.command(env!("CARGO_BIN_EXE_egresscheck"))
        .args([
            "check",
            "--no-proxy",
            "--timeout",
            "1s",
            "--dns-timeout",
            "1s",
            "--as-of",
            "2026-11-28",
        ])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Issue 12's first report: `check --save S` then `check --baseline S` exited 2 ("invalid
/// type: null, expected struct BaselineTcp") wherever a name does not resolve.
#[test]
fn a_run_where_names_do_not_resolve_saves_a_baseline_the_next_run_reads() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let first = check_without_network(&ns, &["--save", state_arg]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    for _ in 0..2 {
        let next = check_without_network(
            &ns,
            &[
                "--baseline",
                state_arg,
                "--save",
                state_arg,
                "--format",
                "json",
            ],
        );
        assert_eq!(next.status.code(), Some(1), "{}", stderr(&next));
        let report: Value = serde_json::from_slice(&next.stdout).unwrap();
        assert_eq!(
            report["baseline"]["state"], "read",
            "{}",
            report["baseline"]
        );
        assert_eq!(report["baseline"]["schema"], 2);
        let codes: Vec<(String, String)> = findings(&report);
        for (code, host) in &codes {
            assert!(
                [
                    "dns-failure",
                    "unreachable",
                    "legacy-sunset-passed",
                    "data-stale"
                ]
                .contains(&code.as_str()),
                "the world did not change, nothing drifted: {code} {host}"
            );
        }
        // The names without a TCP attempt are there, once each, with their DNS outcome.
        let sits: Vec<&Value> = report["names"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["name"].as_str().unwrap().ends_with(".sits.no"))
            .collect();
        assert_eq!(sits.len(), 4, "three test hosts and the legacy one");
        assert!(sits.iter().all(|n| n["outcome"] != "answer"));
    }

    // A schema-1 report of the same situation, as today's main wrote it, is read too.
    let old = Path::new(FIXTURES).join("schema1-no-network.json");
    let out = check_without_network(
        &ns,
        &["--baseline", old.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["baseline"]["state"], "read");
    assert_eq!(report["baseline"]["schema"], 1);
    for (code, host) in findings(&report) {
        // How a resolver that cannot be reached fails (timeout or error) depends on the
        // machine's resolv.conf; nothing else may differ.
        assert!(
            [
                "dns-failure",
                "unreachable",
                "legacy-sunset-passed",
                "data-stale",
                "dns-outcome-changed"
            ]
            .contains(&code.as_str()),
            "{code} {host}"
        );
    }
}

/// One healthy endpoint: a TLS server the test CA vouches for, documented, in DNS.
struct Healthy {
    _dns: DnsServer,
    _server: TlsServer,
    ca: TestCa,
    dir: tempfile::TempDir,
    data: PathBuf,
    resolver: String,
}

impl Healthy {
    fn new() -> Healthy {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 121));
        let ca = TestCa::new("Egress Time Root CA");
        let server = TlsServer::builder(ca.valid(&["api.egress.test"]))
            .bind(ip)
            .start();
        let dns = DnsServer::zone("egress.test")
            .addr("api.egress.test", ip, 60)
            .start();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.toml");
        std::fs::write(
            &data,
            data_file(&[Endpoint {
                host: "api.egress.test",
                address: Some(ip),
                port: server.port(),
            }]),
        )
        .unwrap();
        let resolver = dns.resolver_arg();
        Healthy {
            _dns: dns,
            _server: server,
            ca,
            dir,
            data,
            resolver,
        }
    }

    fn check(&self, args: &[&str]) -> Output {
        let mut cmd: Command = egresscheck();
        cmd.arg("--data")
            .arg(&self.data)
            .args(["check", "--no-proxy", "--resolver", &self.resolver])
            .arg("--ca-file")
            .arg(self.ca.pem_file())
            .args(args);
        cmd.output().unwrap()
    }

    /// A scheduled run: `--baseline STATE --save STATE --format FORMAT` and `extra`.
    fn scheduled(&self, state: &Path, format: &str, extra: &[&str]) -> Output {
        let state = state.to_str().unwrap();
        let mut args = vec!["--baseline", state, "--save", state, "--format", format];
        args.extend_from_slice(extra);
        self.check(&args)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The files in the lab's directory whose names start with `prefix`.
    fn files(&self, prefix: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .collect();
        files.sort();
        files
    }
}

#[test]
fn a_missing_baseline_is_the_first_run_said_once() {
    let lab = Healthy::new();
    let state = lab.path("state.json");
    let first = lab.scheduled(&state, "json", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let err = stderr(&first);
    assert_eq!(err.matches("no baseline at").count(), 1, "{err}");
    assert!(err.contains("this run writes it"), "{err}");
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["baseline"]["state"], "not-yet");
    assert_eq!(findings(&report), Vec::<(String, String)>::new());
    assert_eq!(read_json(&state)["schema"], 2);

    // Without --save naming it, a missing baseline is still no error; the note says how to
    // get one.
    let elsewhere = lab.check(&["--baseline", lab.path("other.json").to_str().unwrap()]);
    assert_eq!(elsewhere.status.code(), Some(0), "{}", stderr(&elsewhere));
    assert!(
        stderr(&elsewhere).contains("--save"),
        "{}",
        stderr(&elsewhere)
    );

    let second = lab.scheduled(&state, "json", &[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(second.stderr.is_empty(), "{}", stderr(&second));
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["baseline"]["state"], "read");
}

#[test]
fn a_damaged_baseline_is_a_finding_and_is_kept_beside_the_fresh_state() {
    let lab = Healthy::new();
    let state = lab.path("state.json");
    let metrics = lab.path("egresscheck.prom");
    let scheduled =
        |format: &str| lab.scheduled(&state, format, &["--output", metrics.to_str().unwrap()]);
    assert_eq!(scheduled("prometheus").status.code(), Some(0));
    // Cut short, as a full disk or a copy gone wrong leaves it.
    let saved = std::fs::read(&state).unwrap();
    let damaged = &saved[..saved.len() / 2];
    std::fs::write(&state, damaged).unwrap();
    std::fs::remove_file(&metrics).unwrap();

    let out = scheduled("prometheus");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a fail finding: {}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&metrics).expect("the metrics are written");
    assert!(
        text.contains("egresscheck_findings{code=\"baseline-unusable\",severity=\"fail\"} 1"),
        "{text}"
    );
    assert!(text.contains("egresscheck_target_up{"), "{text}");
    let kept = lab.files("state.json.damaged-");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), damaged, "kept as it was");
    let name = kept[0].file_name().unwrap().to_string_lossy().into_owned();
    let stamp = name.strip_prefix("state.json.damaged-").unwrap();
    assert!(
        stamp.len() == 16
            && stamp.ends_with('Z')
            && stamp.as_bytes()[8] == b'T'
            && chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok(),
        "a UTC time: {stamp}"
    );
    let fresh = read_json(&state);
    assert_eq!(fresh["schema"], 2, "fresh state in its place");
    assert_eq!(fresh["baseline"]["state"], "unusable");
    assert_eq!(
        fresh["baseline"]["kept_as"],
        kept[0].display().to_string(),
        "the report says where"
    );
    let finding = of_code(&fresh, "baseline-unusable");
    let message = finding[0]["message"].as_str().unwrap();
    assert!(
        message.contains("damaged") && message.contains(&kept[0].display().to_string()),
        "{message}"
    );

    // Nagios: UNKNOWN while the baseline is unusable, OK once the fresh one is read.
    std::fs::write(&state, b"not json at all").unwrap();
    let out = lab.scheduled(&state, "nagios", &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        line.starts_with("EGRESSCHECK UNKNOWN - ") && line.contains("baseline-unusable"),
        "{line}"
    );
    assert_eq!(lab.files("state.json.damaged-").len(), 2, "each kept");
    let out = lab.scheduled(&state, "nagios", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_unreadable_or_foreign_baseline_is_a_finding_and_left_alone() {
    let lab = Healthy::new();
    // A directory cannot be read as a file.
    let dir = lab.path("state.d");
    std::fs::create_dir(&dir).unwrap();
    let out = lab.check(&["--baseline", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = of_code(&report, "baseline-unusable")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("cannot read") && message.contains("--save"),
        "{message}"
    );
    // Another tool's JSON, or a newer schema: said so, and not touched without --save.
    let foreign = lab.path("foreign.json");
    std::fs::write(
        &foreign,
        br#"{"schema": 3, "tool": {"name": "egresscheck"}}"#,
    )
    .unwrap();
    let out = lab.check(&["--baseline", foreign.to_str().unwrap(), "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = of_code(&report, "baseline-unusable")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("schema 3"), "{message}");
    assert!(lab.files("foreign.json.damaged-").is_empty());
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        br#"{"schema": 3, "tool": {"name": "egresscheck"}}"#
    );
}
