//! JUnit XML: one test suite per environment, one test case per target (and per name that
//! gave no address to probe), failures carrying the findings, for CI pipelines that gate a
//! go-live on the check. A case fails exactly when its target is not ok (see
//! [`crate::report::targets`]), so `failures` counts what the other formats count.

use std::io::{self, Write};

use super::Renderer;
use crate::audit::{Finding, Severity};
use crate::report::Report;

/// The JUnit renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct JunitRenderer;

/// Escapes text for XML attributes and content; characters XML 1.0 forbids are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if c.is_control() || crate::term::is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

struct Case {
    classname: String,
    name: String,
    seconds: f64,
    findings: Vec<Finding>,
}

impl Case {
    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&self.classname),
            xml(&self.name),
            self.seconds
        )?;
        let failures: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Fail)
            .collect();
        let others: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Fail)
            .collect();
        if failures.is_empty() && others.is_empty() {
            return writeln!(out, "/>");
        }
        writeln!(out, ">")?;
        if let Some(first) = failures.first() {
            let body: Vec<String> = failures
                .iter()
                .map(|f| format!("{}: {}", f.code, f.message))
                .collect();
            writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                first.code,
                xml(&first.message),
                xml(&body.join("\n"))
            )?;
        }
        if !others.is_empty() {
            let body: Vec<String> = others
                .iter()
                .map(|f| format!("{} {}: {}", f.severity, f.code, f.message))
                .collect();
            writeln!(
                out,
                "      <system-out>{}</system-out>",
                xml(&body.join("\n"))
            )?;
        }
        writeln!(out, "    </testcase>")
    }
}

/// One suite per environment: a case per target (see [`crate::report::targets`]), failing
/// when the target is not ok, and a case per name not probed; then, when findings concern
/// no target, one suite `run` holding them in a case of its own (failing when one is a
/// `fail`, so that a CI gate sees it).
fn suites(report: &Report<'_>) -> Vec<(String, Vec<Case>)> {
    let rows = report.rows();
    let clone_all = |indices: &[usize]| -> Vec<Finding> {
        indices
            .iter()
            .filter_map(|&f| report.findings.get(f))
            .cloned()
            .collect()
    };
    let not_probed: std::collections::HashMap<usize, &Vec<usize>> = report
        .targets()
        .not_probed()
        .iter()
        .map(|(index, findings)| (*index, findings))
        .collect();
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    for env in &report.catalog.environments {
        let mut cases = Vec::new();
        for (index, planned) in report
            .plan
            .names
            .iter()
            .enumerate()
            .filter(|(_, p)| p.environment == env.id)
        {
            let classname = format!("egresscheck.{}.{}", env.id, planned.service);
            if let Some(findings) = not_probed.get(&index) {
                cases.push(Case {
                    classname,
                    name: format!("{} (no address to probe)", planned.name),
                    seconds: 0.0,
                    findings: clone_all(findings),
                });
                continue;
            }
            for row_index in report.row_range(index) {
                let Some(row) = rows.get(row_index) else {
                    continue;
                };
                let address = row
                    .target
                    .address
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "proxy".to_owned());
                let seconds =
                    (row.target.tcp.ms + row.target.tls.as_ref().map_or(0.0, |t| t.ms)) / 1000.0;
                cases.push(Case {
                    classname: classname.clone(),
                    name: format!("{} {address}:{}", planned.name, row.target.port),
                    seconds,
                    findings: clone_all(report.targets().findings_of(row_index)),
                });
            }
        }
        if !cases.is_empty() {
            suites.push((env.id.to_string(), cases));
        }
    }
    let general = clone_all(report.targets().general());
    if !general.is_empty() {
        suites.push((
            "run".to_owned(),
            vec![Case {
                classname: "egresscheck.run".to_owned(),
                name: "findings about the whole run".to_owned(),
                seconds: 0.0,
                findings: general,
            }],
        ));
    }
    suites
}

/// The `--label`s as properties of a suite (`label.site`), where CI dashboards show them.
fn properties(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    if report.labels.is_empty() {
        return Ok(());
    }
    writeln!(out, "    <properties>")?;
    for label in report.labels.iter() {
        writeln!(
            out,
            "      <property name=\"label.{}\" value=\"{}\"/>",
            xml(&label.name),
            xml(&label.value)
        )?;
    }
    writeln!(out, "    </properties>")
}

impl Renderer for JunitRenderer {
    fn render(&self, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
        let suites = suites(report);
        let count =
            |cases: &[Case], pred: &dyn Fn(&Case) -> bool| cases.iter().filter(|c| pred(c)).count();
        let failed = |c: &Case| c.findings.iter().any(|f| f.severity == Severity::Fail);
        let total: usize = suites.iter().map(|(_, c)| c.len()).sum();
        let failures: usize = suites.iter().map(|(_, c)| count(c, &failed)).sum();
        writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(
            out,
            "<testsuites name=\"egresscheck\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">",
            report.duration_seconds
        )?;
        for (name, cases) in &suites {
            writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
                xml(name),
                cases.len(),
                count(cases, &failed)
            )?;
            properties(report, out)?;
            for case in cases {
                case.write(out)?;
            }
            writeln!(out, "  </testsuite>")?;
        }
        writeln!(out, "</testsuites>")
    }
}
