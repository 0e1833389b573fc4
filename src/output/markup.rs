//! The go-live report as a document, for a change ticket or a wiki: the same sections in
//! Markdown and in HTML, written once here over a small trait of hooks ([`Markup`]) that
//! each syntax implements (hyperfine's `export/markup.rs`).
//!
//! Sections: the verdict and the counts, the labels of the run (`--label`), the causes
//! (who acts, on how many targets, what to do), one table of targets per environment, the
//! token step of `check --client` (whether this host got a token, each step of the request
//! as the table shows it, and its causes), every finding, and the firewall rules this run
//! found missing (the dialect's text with `--rules`). Every string goes through the syntax's
//! escaping: the hooks take plain text.

use std::io::{self, Write};

use super::rows::{environment_title, per_target, target_rows};
use super::token::{self, StepOutcome};
use super::{counts_text, verdict_word};
use crate::audit::Severity;
use crate::report::Report;
use crate::report::causes::Cause;
use crate::report::explain::explain;
use crate::term::sanitize;

/// How a cell reads at a glance (HTML colours it; Markdown has no colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// No mark.
    Plain,
    /// Nothing wrong.
    Good,
    /// A warning.
    Warn,
    /// A failure.
    Bad,
}

impl Mark {
    /// The mark of a severity (`info` reads as good).
    fn of(severity: Option<Severity>) -> Mark {
        match severity {
            Some(Severity::Fail) => Mark::Bad,
            Some(Severity::Warn) => Mark::Warn,
            Some(Severity::Info) | None => Mark::Good,
        }
    }
}

/// A table cell: plain text and its mark.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    /// The text, unescaped; a line break in it is a line break in the cell (text from the
    /// network or a file has none: [`sanitize`] makes it visible).
    pub text: String,
    /// How it reads.
    pub mark: Mark,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            mark: Mark::Plain,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_owned())
    }
}

/// The rules this run found missing, in the dialect `--rules` named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesText {
    /// The dialect's name (`nftables`, …).
    pub dialect: String,
    /// The rules as the dialect's renderer wrote them.
    pub text: String,
}

/// The hooks of one syntax. Every `text` is plain and unescaped: the hook escapes it.
pub(crate) trait Markup {
    /// The start of the document (`title` is its title).
    fn begin(&self, title: &str, out: &mut dyn Write) -> io::Result<()>;
    /// A heading of `level` (1 to 3).
    fn heading(&self, level: u8, text: &str, out: &mut dyn Write) -> io::Result<()>;
    /// A paragraph.
    fn paragraph(&self, text: &str, out: &mut dyn Write) -> io::Result<()>;
    /// The verdict word, marked, then the rest of the sentence.
    fn verdict(&self, word: &str, mark: Mark, rest: &str, out: &mut dyn Write) -> io::Result<()>;
    /// A table with a header row.
    fn table(&self, header: &[&str], rows: &[Vec<Cell>], out: &mut dyn Write) -> io::Result<()>;
    /// Preformatted text (rules to paste), kept as it is.
    fn code_block(&self, text: &str, out: &mut dyn Write) -> io::Result<()>;
    /// The end of the document.
    fn end(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// Writes `report` (and the rules text of `--rules`, when given) as one document in `markup`.
pub(crate) fn write(
    report: &Report<'_>,
    rules: Option<&RulesText>,
    markup: &dyn Markup,
    out: &mut dyn Write,
) -> io::Result<()> {
    let title = format!(
        "egresscheck {}: {} data {}, as of {}",
        verdict_word(report),
        report.catalog.data.provider,
        report.catalog.data.version,
        report.as_of
    );
    markup.begin(&title, out)?;
    headline(report, markup, out)?;
    causes(report, markup, out)?;
    targets(report, markup, out)?;
    token_step(report, markup, out)?;
    findings(report, markup, out)?;
    rules_needed(report, rules, markup, out)?;
    markup.paragraph(
        &format!(
            "Written by egresscheck {} from the data file {} ({}). The JSON report (--format json) holds every observation.",
            env!("CARGO_PKG_VERSION"),
            report.catalog.data.version,
            report
                .catalog
                .primary_source()
                .map_or("no source recorded", |s| s.url.as_str())
        ),
        out,
    )?;
    markup.end(out)
}

/// The title, the verdict with the counts, and the labels of the run.
fn headline(report: &Report<'_>, markup: &dyn Markup, out: &mut dyn Write) -> io::Result<()> {
    markup.heading(
        1,
        &format!(
            "Egress check: {} ({})",
            report.catalog.data.provider, report.catalog.data.version
        ),
        out,
    )?;
    let mark = match report.verdict {
        Severity::Fail => Mark::Bad,
        Severity::Warn => Mark::Warn,
        Severity::Info => Mark::Good,
    };
    markup.verdict(
        verdict_word(report),
        mark,
        &format!(
            "{}; as of {} ({:.1} s)",
            counts_text(report),
            report.as_of,
            report.duration_seconds
        ),
        out,
    )?;
    if !report.labels.is_empty() {
        let rows: Vec<Vec<Cell>> = report
            .labels
            .iter()
            .map(|l| vec![Cell::from(l.name.as_str()), Cell::from(sanitize(&l.value))])
            .collect();
        markup.heading(2, "Labels", out)?;
        markup.table(&["label", "value"], &rows, out)?;
    }
    Ok(())
}

/// Each cause once: its code, what is wrong on how many targets, who acts and how.
fn causes(report: &Report<'_>, markup: &dyn Markup, out: &mut dyn Write) -> io::Result<()> {
    markup.heading(2, "Causes", out)?;
    if report.causes().is_empty() {
        return markup.paragraph("No findings: nothing to do.", out);
    }
    let rows: Vec<Vec<Cell>> = report
        .causes()
        .iter()
        .map(|cause| cause_row(report, cause))
        .collect();
    markup.table(&CAUSE_HEADER, &rows, out)
}

/// The columns of a cause.
const CAUSE_HEADER: [&str; 6] = ["#", "severity", "code", "what", "who acts", "what to do"];

/// A cause as a row of [`CAUSE_HEADER`].
fn cause_row(report: &Report<'_>, cause: &Cause) -> Vec<Cell> {
    let words = explain(report, cause);
    vec![
        Cell::from(cause.number.to_string()),
        Cell {
            text: cause.severity.as_str().to_owned(),
            mark: Mark::of(Some(cause.severity)),
        },
        Cell::from(cause.code.as_str()),
        Cell::from(sanitize(&words.summary)),
        Cell::from(cause.actor.label()),
        Cell::from(sanitize(&words.action)),
    ]
}

/// The token step of `check --client`, where the table puts it: whether this host got a
/// token (or what stopped it) for which client, environment and scopes; each step of the
/// request with what it showed ([`token::steps`], the table's rows); then the causes of the
/// step's findings, with who acts and what to do.
fn token_step(report: &Report<'_>, markup: &dyn Markup, out: &mut dyn Write) -> io::Result<()> {
    let Some(obs) = &report.token else {
        return Ok(());
    };
    markup.heading(2, "Token", out)?;
    let (granted, outcome) = token::outcome(obs);
    let (word, mark) = if granted {
        ("Token granted", Mark::Good)
    } else {
        ("No token", Mark::Bad)
    };
    markup.verdict(
        word,
        mark,
        &format!(
            "{outcome}. Client {} in environment {} (service {}), scopes {}.",
            sanitize(&obs.client_id),
            obs.environment,
            obs.service,
            sanitize(&obs.scopes.join(" "))
        ),
        out,
    )?;
    let rows: Vec<Vec<Cell>> = token::steps(obs, &token::path_of(obs))
        .into_iter()
        .map(|step| {
            vec![
                Cell::from(step.step),
                Cell {
                    text: step.result,
                    mark: match step.outcome {
                        StepOutcome::Done => Mark::Good,
                        StepOutcome::Warning => Mark::Warn,
                        StepOutcome::Failed => Mark::Bad,
                    },
                },
                Cell::from(step.details.join("\n")),
            ]
        })
        .collect();
    markup.table(&["step", "result", "details"], &rows, out)?;
    let causes = report.token_causes();
    if causes.is_empty() {
        return Ok(());
    }
    markup.paragraph("What the token step found (numbered as in Causes):", out)?;
    let rows: Vec<Vec<Cell>> = causes
        .into_iter()
        .map(|cause| cause_row(report, cause))
        .collect();
    markup.table(&CAUSE_HEADER, &rows, out)
}

/// One table per environment: a row per name with its targets.
fn targets(report: &Report<'_>, markup: &dyn Markup, out: &mut dyn Write) -> io::Result<()> {
    let rows = target_rows(report);
    if rows.is_empty() {
        return Ok(());
    }
    markup.heading(2, "Targets", out)?;
    let http = rows.iter().any(|r| !r.http.is_empty());
    let mut header = vec!["host", "address", "port", "connection"];
    if http {
        header.push("HTTP");
    }
    header.extend(["result", "causes"]);
    let mut environments: Vec<&str> = Vec::new();
    for row in &rows {
        if !environments.contains(&row.env.as_str()) {
            environments.push(&row.env);
        }
    }
    for env in environments {
        markup.heading(3, &environment_title(report, env), out)?;
        let cells: Vec<Vec<Cell>> = rows
            .iter()
            .filter(|r| r.env == env)
            .map(|row| {
                let mut cells = vec![
                    Cell::from(sanitize(&row.host)),
                    Cell::from(row.addresses.join(", ")),
                    Cell::from(per_target(&row.ports)),
                    Cell::from(per_target(&row.connections)),
                ];
                if http {
                    cells.push(Cell::from(sanitize(&per_target(&row.http))));
                }
                let numbers: Vec<String> = row.causes.iter().map(ToString::to_string).collect();
                cells.push(Cell {
                    text: if row.ok { "ok" } else { "fail" }.to_owned(),
                    mark: Mark::of(row.worst),
                });
                cells.push(Cell::from(numbers.join(", ")));
                cells
            })
            .collect();
        markup.table(&header, &cells, out)?;
    }
    Ok(())
}

/// Every finding, as it stands.
fn findings(report: &Report<'_>, markup: &dyn Markup, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() {
        return Ok(());
    }
    markup.heading(2, "Findings", out)?;
    let rows: Vec<Vec<Cell>> = report
        .findings
        .iter()
        .map(|f| {
            vec![
                Cell {
                    text: f.severity.as_str().to_owned(),
                    mark: Mark::of(Some(f.severity)),
                },
                Cell::from(f.code.as_str()),
                Cell::from(f.environment.as_deref().unwrap_or("-")),
                Cell::from(sanitize(f.host.as_deref().unwrap_or("-"))),
                Cell::from(sanitize(&f.message)),
            ]
        })
        .collect();
    markup.table(
        &["severity", "code", "environment", "host", "finding"],
        &rows,
        out,
    )
}

/// The openings this run found missing, and with `--rules` the dialect's rules for them.
fn rules_needed(
    report: &Report<'_>,
    rules: Option<&RulesText>,
    markup: &dyn Markup,
    out: &mut dyn Write,
) -> io::Result<()> {
    let needed = crate::report::rules_needed(report);
    markup.heading(2, "Firewall rules needed", out)?;
    if needed.is_empty() {
        markup.paragraph(
            "None: this run found nothing closed and no address outside the table.",
            out,
        )?;
    } else {
        let rows: Vec<Vec<Cell>> = needed
            .iter()
            .map(|rule| {
                // The reasons' words are their JSON names.
                let why: Vec<String> = rule
                    .reasons
                    .iter()
                    .filter_map(|r| serde_json::to_value(r).ok())
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                vec![
                    Cell::from(rule.environment.as_str()),
                    Cell::from(sanitize(&rule.host)),
                    Cell::from(
                        rule.address
                            .map_or_else(|| "(by name)".to_owned(), |a| a.to_string()),
                    ),
                    Cell::from(format!("{}/{}", rule.protocol, rule.port)),
                    Cell::from(why.join(", ")),
                ]
            })
            .collect();
        markup.table(
            &["environment", "host", "address", "port", "why"],
            &rows,
            out,
        )?;
    }
    match rules {
        Some(rules) => {
            markup.paragraph(&format!("The rules, for {}:", rules.dialect), out)?;
            markup.code_block(&sanitize_block(&rules.text), out)
        }
        None if !needed.is_empty() => markup.paragraph(
            "The rules for a firewall: egresscheck check --rules FORMAT (egresscheck rules --list-formats lists the formats).",
            out,
        ),
        None => Ok(()),
    }
}

/// `text` with control characters but line breaks and tabs escaped, as [`sanitize`] does.
fn sanitize_block(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split('\t')
                .map(sanitize)
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
