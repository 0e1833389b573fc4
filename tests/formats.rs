//! Every format counts the same targets the same way (issue 13): the same report rendered as
//! JSON, Prometheus, JUnit, Nagios, the table, Markdown and HTML states the same number of targets, of ok
//! targets (no fail finding), of reachable ones (TCP and TLS completed) and of names that
//! gave no address to probe.

use egresscheck::output::Renderer;
use egresscheck::output::html::HtmlRenderer;
use egresscheck::output::json::JsonRenderer;
use egresscheck::output::junit::JunitRenderer;
use egresscheck::output::markdown::MarkdownRenderer;
use egresscheck::output::nagios::NagiosRenderer;
use egresscheck::output::prometheus::PrometheusRenderer;
use egresscheck::output::table::TableRenderer;
use egresscheck::report::{Report, Summary};
use serde_json::Value;

use crate::support::scenario::{Scenario, Situation};

fn render(renderer: &dyn Renderer, report: &Report<'_>) -> String {
    let mut out = Vec::new();
    renderer.render(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The counts the JSON report states, checked against its own `targets[]` and `names[]`.
fn json_counts(report: &Report<'_>) -> Summary {
    let json: Value = serde_json::from_str(&render(&JsonRenderer, report)).unwrap();
    let summary = &json["summary"];
    let targets = json["targets"].as_array().unwrap();
    let count = |key: &str| targets.iter().filter(|t| t[key] == true).count();
    let number = |key: &str| usize::try_from(summary[key].as_u64().unwrap()).unwrap();
    assert_eq!(
        number("targets"),
        targets.len(),
        "summary.targets is targets[]"
    );
    assert_eq!(number("ok"), count("ok"), "summary.ok counts targets[].ok");
    assert_eq!(number("reachable"), count("reachable"));
    assert_eq!(number("up"), number("reachable"), "up keeps its meaning");
    let not_probed = json["names"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["probed"] == false)
        .count();
    assert_eq!(number("names_not_probed"), not_probed);
    Summary {
        targets: targets.len(),
        ok: count("ok"),
        reachable: count("reachable"),
        names: number("names"),
        names_not_probed: not_probed,
    }
}

/// The value of every sample of `metric` (whose labels start the line with `{`).
fn samples(text: &str, metric: &str) -> Vec<f64> {
    let prefix = format!("{metric}{{");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect()
}

fn prometheus_counts(report: &Report<'_>) -> Summary {
    let text = render(&PrometheusRenderer, report);
    let up = samples(&text, "egresscheck_target_up");
    let ok = samples(&text, "egresscheck_target_ok");
    let names = samples(&text, "egresscheck_name_targets");
    assert_eq!(up.len(), ok.len(), "one up and one ok series per target");
    Summary {
        targets: up.len(),
        ok: ok.iter().filter(|v| **v == 1.0).count(),
        reachable: up.iter().filter(|v| **v == 1.0).count(),
        names: names.len(),
        names_not_probed: names.iter().filter(|v| **v == 0.0).count(),
    }
}

/// `attr="N"` in `line`.
fn attribute(line: &str, attr: &str) -> usize {
    let start = line.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
    line[start..].split('"').next().unwrap().parse().unwrap()
}

fn junit_counts(report: &Report<'_>) -> Summary {
    let text = render(&JunitRenderer, report);
    // Each case on its own line; a failing one is followed by its <failure>.
    let lines: Vec<&str> = text.lines().collect();
    let mut targets = 0;
    let mut ok = 0;
    let mut not_probed = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with("<testcase") || line.contains("egresscheck.run") {
            continue;
        }
        let failed = !line.ends_with("/>")
            && lines[i + 1..]
                .iter()
                .take_while(|l| !l.contains("</testcase>"))
                .any(|l| l.contains("<failure"));
        if line.contains("(no address to probe)") {
            not_probed += 1;
        } else {
            targets += 1;
            ok += usize::from(!failed);
        }
    }
    let top = lines.iter().find(|l| l.starts_with("<testsuites")).unwrap();
    let general = usize::from(text.contains("egresscheck.run"));
    assert_eq!(
        attribute(top, "tests"),
        targets + not_probed + general,
        "one case per target and per name not probed"
    );
    Summary {
        targets,
        ok,
        reachable: report.summary().reachable, // JUnit has no word for it
        names: report.summary().names,
        names_not_probed: not_probed,
    }
}

fn perfdata(line: &str, key: &str) -> usize {
    let data = line.split_once(" | ").unwrap().1;
    data.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap()
        .parse()
        .unwrap()
}

fn nagios_counts(report: &Report<'_>) -> Summary {
    let line = render(&NagiosRenderer::default(), report);
    let summary = Summary {
        targets: perfdata(&line, "targets"),
        ok: perfdata(&line, "ok"),
        reachable: perfdata(&line, "reachable"),
        names: report.summary().names,
        names_not_probed: perfdata(&line, "names_not_probed"),
    };
    assert!(
        line.contains(&format!("{}/{} targets ok", summary.ok, summary.targets))
            || line.contains(&format!("{}/{} target ok", summary.ok, summary.targets)),
        "{line}"
    );
    assert_eq!(perfdata(&line, "up"), summary.reachable, "{line}");
    summary
}

fn table_counts(report: &Report<'_>) -> (usize, usize, usize) {
    let text = render(&TableRenderer::default(), report);
    counts_in(text.lines().next().unwrap())
}

/// The verdict paragraph of the Markdown report: `**FAIL**: 34 targets: 19 ok, 19 reachable; …`.
fn markdown_counts(report: &Report<'_>) -> (usize, usize, usize) {
    let text = render(&MarkdownRenderer::default(), report);
    counts_in(text.lines().find(|l| l.starts_with("**")).unwrap())
}

/// The verdict paragraph of the HTML report.
fn html_counts(report: &Report<'_>) -> (usize, usize, usize) {
    let text = render(&HtmlRenderer::default(), report);
    let line = text
        .lines()
        .find(|l| l.contains("class=\"verdict\""))
        .unwrap();
    counts_in(line.split_once("</strong>").unwrap().1)
}

/// `(targets, ok, reachable)` from "… 30 targets: 2 ok, 30 reachable …".
fn counts_in(first: &str) -> (usize, usize, usize) {
    // "… 30 targets: 2 ok, 30 reachable …"
    let numbers: Vec<usize> = first
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect();
    let targets_at = first
        .find(" targets: ")
        .or_else(|| first.find(" target: "))
        .unwrap();
    let after: Vec<usize> = first[targets_at..]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let before: usize = first[..targets_at]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(!numbers.is_empty());
    (before, after[0], after[1])
}

#[test]
fn every_format_counts_the_same_targets_the_same_way() {
    for situation in Situation::ALL {
        let scenario = Scenario::new(situation);
        let report = scenario.report();
        let expected = report.summary();
        let what = situation.name();
        assert_eq!(json_counts(&report), expected, "{what}: JSON");
        assert_eq!(prometheus_counts(&report), expected, "{what}: Prometheus");
        assert_eq!(junit_counts(&report), expected, "{what}: JUnit");
        assert_eq!(nagios_counts(&report), expected, "{what}: Nagios");
        assert_eq!(
            table_counts(&report),
            (expected.targets, expected.ok, expected.reachable),
            "{what}: table"
        );
        assert_eq!(
            markdown_counts(&report),
            (expected.targets, expected.ok, expected.reachable),
            "{what}: Markdown"
        );
        assert_eq!(
            html_counts(&report),
            (expected.targets, expected.ok, expected.reachable),
            "{what}: HTML"
        );
    }
}

#[test]
fn the_situations_have_the_states_they_are_named_for() {
    let summary = |situation| Scenario::new(situation).report().summary();
    // 26 targets of the 13 wildcard probe names, 3 of Maskinporten, 3 of the sits.no names,
    // 2 retired legacy addresses (dropped, as they should be: ok, not reachable); the
    // retired ver2.maskinporten.no has no address at all.
    let all_ok = summary(Situation::AllOk);
    assert_eq!(
        all_ok,
        Summary {
            targets: 34,
            ok: 34,
            reachable: 32,
            names: 21,
            names_not_probed: 1
        }
    );
    // Intercepted: every current target reachable, only Maskinporten's 3 (and the 2 retired
    // ones) ok; the sits.no names do not exist.
    let intercepted = summary(Situation::Intercepted);
    assert_eq!(
        (intercepted.targets, intercepted.reachable, intercepted.ok),
        (31, 29, 5),
        "{intercepted:?}"
    );
    assert_eq!(intercepted.names_not_probed, 4);
    let missing = summary(Situation::NoSuchNames);
    assert_eq!(missing.names_not_probed, 1 + 3, "{missing:?}");
    assert!(missing.ok < missing.targets, "{missing:?}");
    // Production's first address blocked on its 7 API names, test's second refused on its 6:
    // neither reachable nor ok; Maskinporten test's 2 reachable, not ok (expired); the 2
    // retired addresses ok, not reachable.
    let mixed = summary(Situation::BlockedRefusedExpired);
    assert_eq!(
        (mixed.targets, mixed.reachable, mixed.ok),
        (34, 34 - 13 - 2, 34 - 13 - 2),
        "{mixed:?}"
    );
}
