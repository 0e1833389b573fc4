//! `data check-source`: does a copy of the provider's page still say what the data says?
//!
//! A maintainer (or a scheduled job piping the page's raw Markdown) uses it to notice that
//! the provider changed its page. The page's mentions ([`extract`]) are compared with the
//! catalog: mentioned but not in the data, in the data (from the primary source) but not
//! mentioned, and table rows that tie an address to another environment than the data does.
//! Pure: page text, catalog and as-of date in, a [`SourceReport`] out.

pub mod extract;

use std::net::IpAddr;

use chrono::NaiveDate;
use ipnet::IpNet;
use serde::Serialize;

use crate::catalog::{Catalog, EnvId, HostPattern};
use extract::{Mention, Mentioned, Page};

/// Largest page read. A provider's page is tens of kilobytes; this bounds memory and time
/// for whatever else is piped in by mistake.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Consistent, but worth saying (covered by a prefix, legacy gone as expected).
    Info,
    /// The page and the data disagree: exit 1.
    Drift,
}

/// What kind of agreement or disagreement a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The page mentions it; the data does not have it.
    NotInData,
    /// The data has it from the page's source; the page does not mention it.
    NotOnPage,
    /// A table row ties it to another environment than the data does.
    EnvironmentMismatch,
    /// Not documented as such, but inside a documented prefix or wildcard.
    Covered,
    /// A legacy entry the page no longer mentions.
    LegacyNotOnPage,
    /// What the page's own date says about the data.
    PageDate,
}

/// One result of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFinding {
    /// Drift or info.
    pub severity: Severity,
    /// What kind of finding.
    pub kind: FindingKind,
    /// The address, prefix or host concerned.
    pub value: String,
    /// Line of the page, when the page mentions it.
    pub line: Option<usize>,
    /// The environment the page's row names, when it names one.
    pub page_environment: Option<String>,
    /// The environments the data has it in.
    pub data_environments: Vec<String>,
    /// One sentence for the maintainer.
    pub message: String,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    /// The page file as named.
    pub page: String,
    /// The date the page states.
    pub page_date: Option<NaiveDate>,
    /// The data file's primary source id.
    pub primary_source: String,
    /// The date the data's primary source states.
    pub source_date: Option<NaiveDate>,
    /// Number of mentions outside hyperlinks.
    pub mentions: usize,
    /// Host names only inside hyperlinks (references, not compared).
    pub references: Vec<String>,
    /// Findings, drift first.
    pub findings: Vec<SourceFinding>,
}

impl SourceReport {
    /// True when nothing drifted (info findings allowed).
    pub fn is_consistent(&self) -> bool {
        self.findings.iter().all(|f| f.severity == Severity::Info)
    }
}

/// One address, prefix or host the data documents.
struct DataItem<'a> {
    value: Documented,
    environment: &'a EnvId,
    from_primary: bool,
    /// Legacy entries carry their sunset.
    sunset: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Documented {
    Prefix(IpNet),
    Host(HostPattern),
    /// A probe name under a wildcard: documented, but never expected on the page.
    ProbeName(HostPattern),
}

/// Compares `page_text` (from file `page_name`) with `catalog` as of `as_of`.
pub fn check_source(
    catalog: &Catalog,
    page_name: &str,
    page_text: &str,
    as_of: NaiveDate,
) -> SourceReport {
    let page = extract::extract(page_text);
    let items = data_items(catalog);
    let mut findings = Vec::new();

    compare_mentions(catalog, &page, &items, &mut findings);
    compare_items(&page, &items, as_of, &mut findings);
    let source_date = catalog.primary_source().and_then(|s| s.document_date);
    page_date_finding(page.stated_date, source_date, &mut findings);
    if page.truncated {
        findings.push(SourceFinding {
            severity: Severity::Drift,
            kind: FindingKind::NotInData,
            value: String::new(),
            line: None,
            page_environment: None,
            data_environments: Vec::new(),
            message: format!(
                "the page mentions more than {} addresses and names; only the first were compared (is this the right page?)",
                extract::MAX_MENTIONS
            ),
        });
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)));

    SourceReport {
        page: page_name.to_owned(),
        page_date: page.stated_date,
        primary_source: catalog.data.primary_source.to_string(),
        source_date,
        mentions: page.mentions.len(),
        references: page.references.iter().map(|r| r.to_string()).collect(),
        findings,
    }
}

fn data_items(catalog: &Catalog) -> Vec<DataItem<'_>> {
    let primary = &catalog.data.primary_source;
    let mut items = Vec::new();
    for e in &catalog.endpoints {
        let from_primary = &e.source == primary;
        items.push(DataItem {
            value: Documented::Host(e.host.clone()),
            environment: &e.environment,
            from_primary,
            sunset: None,
        });
        if e.host.is_wildcard() {
            for name in &e.probe {
                items.push(DataItem {
                    value: Documented::ProbeName(HostPattern::Exact(name.clone())),
                    environment: &e.environment,
                    from_primary: false,
                    sunset: None,
                });
            }
        }
        for net in e.addresses.iter() {
            items.push(DataItem {
                value: Documented::Prefix(net),
                environment: &e.environment,
                from_primary,
                sunset: None,
            });
        }
    }
    for s in &catalog.subnets {
        items.push(DataItem {
            value: Documented::Prefix(s.cidr),
            environment: &s.environment,
            from_primary: &s.source == primary,
            sunset: None,
        });
    }
    for l in &catalog.legacy {
        let from_primary = &l.source == primary;
        let sunset = Some(l.sunset);
        items.push(DataItem {
            value: Documented::Host(HostPattern::Exact(l.host.clone())),
            environment: &l.environment,
            from_primary,
            sunset,
        });
        for net in l.addresses.iter() {
            items.push(DataItem {
                value: Documented::Prefix(net),
                environment: &l.environment,
                from_primary,
                sunset,
            });
        }
    }
    items
}

/// How the data documents a mention: exactly, or covered by a wider entry.
enum Match<'a> {
    Exact(Vec<&'a EnvId>),
    Covered { by: String, envs: Vec<&'a EnvId> },
    Missing,
}

fn match_mention<'a>(mention: &Mentioned, items: &[DataItem<'a>]) -> Match<'a> {
    let envs_where = |pred: &dyn Fn(&Documented) -> bool| -> Vec<&'a EnvId> {
        let mut envs: Vec<&EnvId> = Vec::new();
        for item in items.iter().filter(|i| pred(&i.value)) {
            if !envs.contains(&item.environment) {
                envs.push(item.environment);
            }
        }
        envs
    };
    match mention {
        Mentioned::Address(_) | Mentioned::Prefix(_) => {
            let net = mention_net(mention);
            let exact = envs_where(&|d| matches!(d, Documented::Prefix(p) if *p == net));
            if !exact.is_empty() {
                return Match::Exact(exact);
            }
            let holder = items
                .iter()
                .filter_map(|i| match &i.value {
                    Documented::Prefix(p) if p.contains(&net) => Some(*p),
                    _ => None,
                })
                .max_by_key(IpNet::prefix_len);
            match holder {
                Some(by) => Match::Covered {
                    by: format!("documented prefix {by}"),
                    envs: envs_where(&|d| matches!(d, Documented::Prefix(p) if *p == by)),
                },
                None => Match::Missing,
            }
        }
        Mentioned::Host(pattern) => {
            let exact = envs_where(
                &|d| matches!(d, Documented::Host(h) | Documented::ProbeName(h) if h == pattern),
            );
            if !exact.is_empty() {
                return Match::Exact(exact);
            }
            let HostPattern::Exact(name) = pattern else {
                return Match::Missing;
            };
            let wildcard_base = HostPattern::Wildcard(name.clone());
            let as_base = envs_where(&|d| matches!(d, Documented::Host(h) if *h == wildcard_base));
            if !as_base.is_empty() {
                return Match::Covered {
                    by: format!("the base of the documented wildcard *.{name}"),
                    envs: as_base,
                };
            }
            let under = items.iter().find_map(|i| match &i.value {
                Documented::Host(h @ HostPattern::Wildcard(_)) if h.matches(name) => {
                    Some(h.clone())
                }
                _ => None,
            });
            match under {
                Some(wildcard) => Match::Covered {
                    envs: envs_where(&|d| matches!(d, Documented::Host(h) if *h == wildcard)),
                    by: format!("the documented wildcard {wildcard}"),
                },
                None => Match::Missing,
            }
        }
    }
}

fn mention_net(mention: &Mentioned) -> IpNet {
    match mention {
        Mentioned::Address(a) => IpNet::from(*a),
        Mentioned::Prefix(p) => *p,
        Mentioned::Host(_) => IpNet::from(IpAddr::from([0, 0, 0, 0])),
    }
}

/// The one environment a row label names, if it names exactly one.
fn row_environment<'a>(catalog: &'a Catalog, label: &str) -> Option<&'a EnvId> {
    let mut found: Vec<&EnvId> = Vec::new();
    let whole = label.split('(').next().unwrap_or(label).trim();
    let words = std::iter::once(whole).chain(
        label.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | '/' | '"')),
    );
    for word in words.filter(|w| !w.is_empty()) {
        for env in catalog.environments.iter().filter(|e| e.is_named(word)) {
            if !found.contains(&&env.id) {
                found.push(&env.id);
            }
        }
    }
    match found.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn compare_mentions(
    catalog: &Catalog,
    page: &Page,
    items: &[DataItem<'_>],
    findings: &mut Vec<SourceFinding>,
) {
    let mut reported: Vec<(&Mentioned, FindingKind)> = Vec::new();
    for Mention {
        value,
        line,
        row_label,
    } in &page.mentions
    {
        let page_env = row_label
            .as_deref()
            .and_then(|l| row_environment(catalog, l));
        let (kind, envs, message) = match match_mention(value, items) {
            Match::Missing => (
                FindingKind::NotInData,
                Vec::new(),
                format!(
                    "the page mentions {value}{}, which the data does not document",
                    in_row(page_env)
                ),
            ),
            Match::Exact(envs) => match page_env.filter(|e| !envs.contains(e)) {
                Some(page_env) => (
                    FindingKind::EnvironmentMismatch,
                    envs.clone(),
                    format!(
                        "the page ties {value} to {page_env}; the data has it in {}",
                        env_list(&envs)
                    ),
                ),
                None => continue,
            },
            Match::Covered { by, envs } => match page_env.filter(|e| !envs.contains(e)) {
                Some(page_env) => (
                    FindingKind::EnvironmentMismatch,
                    envs.clone(),
                    format!(
                        "the page ties {value} to {page_env}; the data covers it by {by} in {}",
                        env_list(&envs)
                    ),
                ),
                None => (
                    FindingKind::Covered,
                    envs.clone(),
                    format!(
                        "{value} is not documented as such but is covered by {by} ({})",
                        env_list(&envs)
                    ),
                ),
            },
        };
        if reported.contains(&(value, kind)) {
            continue;
        }
        reported.push((value, kind));
        findings.push(SourceFinding {
            severity: if kind == FindingKind::Covered {
                Severity::Info
            } else {
                Severity::Drift
            },
            kind,
            value: value.to_string(),
            line: Some(*line),
            page_environment: page_env.map(ToString::to_string),
            data_environments: envs.iter().map(ToString::to_string).collect(),
            message,
        });
    }
}

fn in_row(env: Option<&EnvId>) -> String {
    env.map(|e| format!(" (in a {e} row)")).unwrap_or_default()
}

fn env_list(envs: &[&EnvId]) -> String {
    envs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn compare_items(
    page: &Page,
    items: &[DataItem<'_>],
    as_of: NaiveDate,
    findings: &mut Vec<SourceFinding>,
) {
    let mentioned = |item: &Documented| {
        page.mentions.iter().any(|m| match (item, &m.value) {
            (Documented::Host(h), Mentioned::Host(p)) => h == p,
            (Documented::Prefix(net), Mentioned::Address(_) | Mentioned::Prefix(_)) => {
                *net == mention_net(&m.value)
            }
            _ => false,
        })
    };
    let mut reported: Vec<String> = Vec::new();
    for item in items {
        let value = match &item.value {
            Documented::ProbeName(_) => continue,
            Documented::Host(h) => h.to_string(),
            Documented::Prefix(p) => p.to_string(),
        };
        if mentioned(&item.value) || reported.contains(&value) {
            continue;
        }
        let finding = match item.sunset {
            Some(sunset) if as_of > sunset => Some((
                Severity::Info,
                FindingKind::LegacyNotOnPage,
                format!(
                    "legacy {value} ({}) is past its sunset {sunset} and no longer on the page, as expected",
                    item.environment
                ),
            )),
            Some(sunset) if item.from_primary => Some((
                Severity::Drift,
                FindingKind::NotOnPage,
                format!(
                    "legacy {value} ({}) is not on the page although its sunset {sunset} has not passed",
                    item.environment
                ),
            )),
            Some(_) => Some((
                Severity::Info,
                FindingKind::LegacyNotOnPage,
                format!(
                    "legacy {value} ({}) is not on this page; the data takes it from another source",
                    item.environment
                ),
            )),
            None if item.from_primary => Some((
                Severity::Drift,
                FindingKind::NotOnPage,
                format!(
                    "the data documents {value} in {} from this page's source, but the page does not mention it",
                    item.environment
                ),
            )),
            None => None,
        };
        if let Some((severity, kind, message)) = finding {
            reported.push(value.clone());
            findings.push(SourceFinding {
                severity,
                kind,
                value,
                line: None,
                page_environment: None,
                data_environments: vec![item.environment.to_string()],
                message,
            });
        }
    }
}

fn page_date_finding(
    page: Option<NaiveDate>,
    data: Option<NaiveDate>,
    findings: &mut Vec<SourceFinding>,
) {
    let (severity, message) = match (page, data) {
        (Some(p), Some(d)) if p > d => (
            Severity::Drift,
            format!(
                "the page is dated {p}, newer than the data's source ({d}): review the page and update the data"
            ),
        ),
        (Some(p), Some(d)) if p < d => (
            Severity::Info,
            format!("the page is dated {p}, older than the data's source ({d})"),
        ),
        (Some(_), Some(_)) => return,
        (None, _) => (Severity::Info, "the page states no date".to_owned()),
        (Some(p), None) => (
            Severity::Info,
            format!("the page is dated {p}; the data's source has no date to compare"),
        ),
    };
    findings.push(SourceFinding {
        severity,
        kind: FindingKind::PageDate,
        value: page.map(|p| p.to_string()).unwrap_or_default(),
        line: None,
        page_environment: None,
        data_environments: Vec::new(),
        message,
    });
}
