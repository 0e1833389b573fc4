//! `check`: plan → probe → audit → output, with baselines, atomic saves and the rules needed.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};

use crate::atomic::write_atomically_with;
use crate::audit::AuditOptions;
use crate::catalog::Catalog;
use crate::commands::pipeline::{Judgement, PlannedRun, Run, Scope};
use crate::commands::{CommandError, baseline_file};
use crate::exit::Status;
use crate::output::Renderer;
use crate::output::html::HtmlRenderer;
use crate::output::json::JsonRenderer;
use crate::output::jsonl::JsonlRenderer;
use crate::output::junit::JunitRenderer;
use crate::output::markdown::MarkdownRenderer;
use crate::output::markup::RulesText;
use crate::output::nagios::NagiosRenderer;
use crate::output::prometheus::PrometheusRenderer;
use crate::output::table::TableRenderer;
use crate::plan::Selection;
use crate::probe::options::ProbeOptions;
use crate::report::{Baseline, Report};

/// Report formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    /// Tables for people.
    Table,
    /// The versioned JSON report.
    Json,
    /// Prometheus text exposition.
    Prometheus,
    /// JUnit XML.
    Junit,
    /// A Nagios plugin status line.
    Nagios,
    /// One JSON object per target, per finding, and a summary.
    Jsonl,
    /// GitHub-flavoured Markdown for a change ticket or a wiki.
    Markdown,
    /// One self-contained HTML file for a change ticket or a wiki.
    Html,
}

impl CheckFormat {
    /// True for the documents that show `--rules` inside themselves.
    fn holds_rules(self) -> bool {
        matches!(self, CheckFormat::Markdown | CheckFormat::Html)
    }
}

/// Everything `check` needs, already validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// `--env`, `--service` and `--host` words.
    pub scope: Scope,
    /// How to probe.
    pub probe: ProbeOptions,
    /// The date findings are judged at.
    pub as_of: NaiveDate,
    /// Audit thresholds.
    pub audit: AuditOptions,
    /// Warnings fail the run.
    pub strict: bool,
    /// `--label`s, carried into every format.
    pub labels: crate::labels::Labels,
    /// Output format.
    pub format: CheckFormat,
    /// Write the report here (atomically) instead of standard output.
    pub output: Option<PathBuf>,
    /// Earlier JSON report to compare with.
    pub baseline: Option<PathBuf>,
    /// Write the JSON report here (atomically).
    pub save: Option<PathBuf>,
    /// Also print the rules this run found missing, in this dialect.
    pub rules: Option<crate::rules::Format>,
    /// Show a progress bar on standard error.
    pub progress: bool,
    /// Width and colour of the table.
    pub screen: crate::term::Screen,
    /// Every finding and certificate after the table (`-v`).
    pub verbose: bool,
    /// The token step (`--client FILE`): the environment word and the token options.
    pub client: Option<(String, crate::token::flow::TokenOptions)>,
}

/// Reads `--baseline`, when given: never an error (see [`super::baseline_file`]).
fn read_baseline(
    options: &CheckOptions,
    err: &mut dyn Write,
) -> Result<Option<Baseline>, CommandError> {
    let Some(path) = &options.baseline else {
        return Ok(None);
    };
    let baseline = baseline_file::read(path, options.save.as_deref(), Utc::now(), err)?;
    Ok(Some(baseline))
}

/// Refuses, before anything is probed, a `--output` or `--save` that could not be written
/// after the run.
fn check_files(options: &CheckOptions) -> Result<(), CommandError> {
    for (flag, path) in [("--output", &options.output), ("--save", &options.save)] {
        if let Some(path) = path {
            crate::atomic::check_writable(path).map_err(|reason| {
                CommandError::Usage(format!("{flag} {}: {reason}", path.display()))
            })?;
        }
    }
    Ok(())
}

/// The token step of `--client`, over the same probe options, added to the report. The
/// path to the authorization server is already in the report when `check` probed its host;
/// otherwise (another environment or service, a `--metadata-url`) its findings come along.
fn token_step(
    catalog: &Catalog,
    env: &str,
    client: &crate::token::flow::TokenOptions,
    options: &CheckOptions,
    report: &mut Report<'_>,
) -> Result<(), CommandError> {
    let (server, servers) = super::token::server_for(catalog, env)?;
    let transport = super::token::ProbeTransport::new(options.probe.clone());
    let observation = crate::token::flow::run(client, server, &servers, &transport, Utc::now)?;
    let token = super::token::report(
        catalog,
        server,
        &observation,
        Utc::now(),
        options.as_of,
        &options.audit,
    );
    let probed = crate::catalog::HttpsUrl::parse(&observation.metadata_url).is_some_and(|url| {
        report
            .plan
            .names
            .iter()
            .any(|p| p.name == url.host && p.environment == server.environment)
    });
    let findings: Vec<crate::audit::Finding> = if probed {
        crate::audit::token::findings(&observation, server, Utc::now(), &options.audit)
    } else {
        token.findings
    };
    report.add_token(observation, findings);
    Ok(())
}

/// Runs `check`, writing the report to `out` (or `--output`) and notes to `err`.
pub fn check(
    catalog: &Catalog,
    options: &CheckOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, CommandError> {
    if options.rules.is_some()
        && !matches!(options.format, CheckFormat::Table)
        && !options.format.holds_rules()
        && options.output.is_none()
    {
        return Err(CommandError::Usage(
            "--rules prints rules on standard output after the report; with a machine format give the report a file with --output".to_owned(),
        ));
    }
    check_files(options)?;
    let planned = PlannedRun::new(catalog, &options.scope)?;
    let baseline = read_baseline(options, err)?;
    let run = probe(planned, options)?;
    let judgement = Judgement {
        as_of: options.as_of,
        audit: options.audit,
    };
    let mut report = run.report(catalog, &judgement, baseline.as_ref());
    if let Some((env, client)) = &options.client {
        token_step(catalog, env, client, options, &mut report)?;
    }
    report.labels = options.labels.clone();
    report.finished_at = Some(chrono::Utc::now());

    let nagios = NagiosRenderer {
        strict: options.strict,
    };
    let write_report = |out: &mut dyn Write| render(&report, &run.selection, options, nagios, out);
    match &options.output {
        // Streamed into the temporary file, which replaces the old one only when complete
        // and no signal came (a report of thousands of targets is megabytes of JSON).
        Some(path) => write_atomically_with(path, write_report)?,
        None => {
            let mut rendered = Vec::new();
            write_report(&mut rendered)?;
            // A signal during the probe or the rendering: nothing is written, anywhere.
            if let Some(signal) = crate::interrupt::received() {
                return Err(CommandError::Interrupted(signal));
            }
            out.write_all(&rendered)?;
        }
    }
    if let Some(path) = &options.save {
        if let Some(baseline) = &baseline {
            baseline_file::keep_unusable(baseline)?;
        }
        save(&report, path)?;
    }
    // Markdown and HTML hold the rules themselves.
    if let Some(dialect) = options.rules.filter(|_| !options.format.holds_rules()) {
        if options.output.is_none() {
            writeln!(out)?;
        }
        out.write_all(rules_needed_text(&report, &run.selection, options, dialect).as_bytes())?;
    }
    Ok(match options.format {
        CheckFormat::Nagios => nagios.status(&report),
        _ if report.failed(options.strict) => Status::Fail,
        _ => Status::Pass,
    })
}

/// Writes `report` to `out` in the format `options` asks for.
fn render(
    report: &Report<'_>,
    selection: &Selection,
    options: &CheckOptions,
    nagios: NagiosRenderer,
    out: &mut dyn Write,
) -> io::Result<()> {
    match options.format {
        CheckFormat::Table => TableRenderer {
            screen: options.screen,
            verbose: options.verbose,
        }
        .render(report, out),
        CheckFormat::Json => JsonRenderer.render(report, out),
        CheckFormat::Prometheus => PrometheusRenderer.render(report, out),
        CheckFormat::Junit => JunitRenderer.render(report, out),
        CheckFormat::Nagios => nagios.render(report, out),
        CheckFormat::Jsonl => JsonlRenderer.render(report, out),
        CheckFormat::Markdown => MarkdownRenderer {
            rules: document_rules(report, selection, options),
        }
        .render(report, out),
        CheckFormat::Html => HtmlRenderer {
            rules: document_rules(report, selection, options),
        }
        .render(report, out),
    }
}

/// Probes the plan, with a progress bar on a terminal.
fn probe(planned: PlannedRun, options: &CheckOptions) -> Result<Run, CommandError> {
    let bar = options
        .progress
        .then(|| progress_bar(planned.plan.requests().len()));
    let update = |p: crate::probe::Progress| {
        if let Some(bar) = &bar {
            let view = ProgressView::of(p);
            bar.set_length(view.length);
            bar.set_position(view.position);
            bar.set_message(view.message);
        }
    };
    let run = planned.probe_blocking(&options.probe, Some(&update));
    // Cleared on every path, so that no half-drawn bar is left above an error message.
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(run?)
}

/// The rules that would let through what this run found closed, in `dialect`.
fn rules_needed_text(
    report: &Report<'_>,
    selection: &Selection,
    options: &CheckOptions,
    dialect: crate::rules::Format,
) -> String {
    use crate::rules::{Header, Options as RuleOptions, RuleSet};
    let needed = crate::report::rules_needed(report);
    let mut rule_options = RuleOptions::new(options.as_of);
    rule_options.environments = selection.environments.clone();
    rule_options.services = selection.services.clone();
    let mut header = Header::for_catalog(report.catalog, &rule_options);
    // What a run found closed adds to the full rules; it never replaces them.
    header.additive = true;
    header.purpose = Some(format!(
        "only what egresscheck check found closed on {}: blocked, refused or unreachable targets, and DNS answers outside the provider's table ({} openings)",
        options.as_of,
        needed.len()
    ));
    let entries = crate::report::needed_entries(report, &needed);
    dialect.render(&RuleSet::from_entries(header, entries))
}

/// The rules of `--rules` for a document that shows them.
fn document_rules(
    report: &Report<'_>,
    selection: &Selection,
    options: &CheckOptions,
) -> Option<RulesText> {
    options.rules.map(|dialect| RulesText {
        dialect: dialect.name().to_owned(),
        text: rules_needed_text(report, selection, options, dialect),
    })
}

fn save(report: &Report<'_>, path: &Path) -> Result<(), CommandError> {
    write_atomically_with(path, |file| JsonRenderer.render(report, file))?;
    Ok(())
}

/// What the progress bar shows for a [`Progress`]: lookups and connections apart, and a bar
/// that counts both, so that it cannot fill while a lookup is still pending (its targets are
/// not even known yet).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProgressView {
    position: u64,
    length: u64,
    message: String,
}

impl ProgressView {
    fn of(p: crate::probe::Progress) -> ProgressView {
        let pending_lookups = p.names_done < p.names;
        let connections = if pending_lookups {
            format!("{}/{} so far", p.targets_done, p.targets)
        } else {
            format!("{}/{}", p.targets_done, p.targets)
        };
        ProgressView {
            position: (p.names_done + p.targets_done) as u64,
            length: (p.names + p.targets).max(1) as u64,
            message: format!(
                "DNS lookups {}/{}, connections {connections}",
                p.names_done, p.names
            ),
        }
    }
}

fn progress_bar(names: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(names as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {bar:24} {msg} ({elapsed})")
    {
        bar.set_style(style);
    }
    // The first frame already says what is being waited for.
    bar.set_message(
        ProgressView::of(crate::probe::Progress {
            names,
            ..crate::probe::Progress::default()
        })
        .message,
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// True when standard error is a terminal (the progress bar goes there).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Progress;

    #[test]
    fn progress_never_looks_finished_while_a_lookup_waits() {
        let start = ProgressView::of(Progress {
            names: 20,
            ..Progress::default()
        });
        assert_eq!(start.message, "DNS lookups 0/20, connections 0/0 so far");
        assert_eq!((start.position, start.length), (0, 20));
        // Every documented target done, every lookup still waiting: far from full.
        let waiting = ProgressView::of(Progress {
            names: 20,
            names_done: 0,
            targets: 30,
            targets_done: 30,
        });
        assert!(waiting.position < waiting.length, "{waiting:?}");
        assert_eq!(
            waiting.message,
            "DNS lookups 0/20, connections 30/30 so far"
        );
        let done = ProgressView::of(Progress {
            names: 20,
            names_done: 20,
            targets: 33,
            targets_done: 33,
        });
        assert_eq!(done.position, done.length);
        assert_eq!(done.message, "DNS lookups 20/20, connections 33/33");
    }
}
