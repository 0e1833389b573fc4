//! JSON: the rule set for programs. The shape is stable and documented in the README:
//!
//! ```text
//! { "schema": 1, "kind": "rules", "provider", "data_version", "source_url",
//!   "environments": [{"id", "name"}], "services": [..], "scope", "family", "as_of",
//!   "generated" (null with --no-timestamp), "prefer_hostname_rules", "purpose",
//!   "removed": [{"environment", "service", "host", "sunset", "prefixes", "ports"}],
//!   "subnets_left_out", "broad_prefixes": [{"cidr", "opens", "environments"}] (the data's
//!   broad prefixes some rule holds),
//!   "rules": [{"environment", "protocol", "port", "kind": "prefix"|"host",
//!              "destination", "family": 4|6|null, "names": [..] (hosts only),
//!              "expires", "origins": [{"service", "host", "comment", "expires"}],
//!              "origins_omitted", "broad" (what a broad prefix in it opens, or null),
//!              "comment"}] }
//! ```
//!
//! A diff is `{ "schema": 1, "kind": "rules-diff", "old": HEADER, "new": HEADER,
//! "changes": [{"action": "remove"|"add", ..rule}] }`, HEADER being the fields above without
//! `rules`. Text from the data file is cleaned of control and formatting characters and
//! escaped by the JSON encoder.

use chrono::NaiveDate;
use serde::Serialize;

use super::diff::{Diff, Item};
use super::render::{Dialect, Names, Out};
use super::{EnvSummary, GroupKey, Origin, Origins, Removed, RuleSet};
use crate::catalog::{DnsName, Port, Protocol, ServiceId};

/// The JSON dialect.
pub(crate) struct Json;

/// Version of the JSON shape: fields are only added; renaming or removing one takes a new
/// number (the README's rule for every JSON output).
const SCHEMA: u32 = 1;

#[derive(Serialize)]
struct HeaderDto<'a> {
    provider: &'a str,
    data_version: &'a str,
    source_url: Option<&'a str>,
    environments: &'a [EnvSummary],
    services: &'a [ServiceId],
    scope: super::Scope,
    family: &'static str,
    as_of: NaiveDate,
    generated: Option<String>,
    prefer_hostname_rules: bool,
    purpose: Option<&'a str>,
    removed: &'a [Removed],
    subnets_left_out: usize,
    broad_prefixes: Vec<BroadDto<'a>>,
}

#[derive(Serialize)]
struct BroadDto<'a> {
    cidr: String,
    opens: &'a str,
    environments: Vec<&'a str>,
}

#[derive(Serialize)]
struct RuleDto<'a> {
    environment: &'a str,
    protocol: Protocol,
    port: Port,
    kind: &'static str,
    destination: String,
    family: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<&'a [DnsName]>,
    expires: Option<NaiveDate>,
    origins: &'a [Origin],
    origins_omitted: usize,
    broad: Option<&'a str>,
    comment: String,
}

#[derive(Serialize)]
struct RulesDto<'a> {
    schema: u32,
    kind: &'static str,
    #[serde(flatten)]
    header: HeaderDto<'a>,
    rules: Vec<RuleDto<'a>>,
}

#[derive(Serialize)]
struct ChangeDto<'a> {
    action: &'static str,
    #[serde(flatten)]
    rule: RuleDto<'a>,
}

#[derive(Serialize)]
struct DiffDto<'a> {
    schema: u32,
    kind: &'static str,
    old: HeaderDto<'a>,
    new: HeaderDto<'a>,
    changes: Vec<ChangeDto<'a>>,
}

fn header(rules: &RuleSet) -> HeaderDto<'_> {
    let h = &rules.header;
    HeaderDto {
        provider: &h.provider,
        data_version: &h.data_version,
        source_url: h.source_url.as_deref(),
        environments: &h.environments,
        services: &h.services,
        scope: h.scope,
        family: h.family.as_str(),
        as_of: h.as_of,
        generated: h
            .generated
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        prefer_hostname_rules: h.prefer_hostname_rules,
        purpose: h.purpose.as_deref(),
        removed: &h.removed,
        subnets_left_out: h.subnets_left_out,
        broad_prefixes: rules
            .broad_in_use()
            .into_iter()
            .map(|(b, envs)| BroadDto {
                cidr: b.cidr.to_string(),
                opens: &b.opens,
                environments: envs.into_iter().map(|e| e.as_str()).collect(),
            })
            .collect(),
    }
}

fn rule<'a>(
    key: &'a GroupKey,
    destination: String,
    family: Option<u8>,
    names: Option<&'a [DnsName]>,
    origins: &'a Origins,
) -> RuleDto<'a> {
    RuleDto {
        environment: key.environment.as_str(),
        protocol: key.protocol,
        port: key.port,
        kind: if family.is_some() { "prefix" } else { "host" },
        destination,
        family,
        names,
        expires: origins.expires,
        origins: &origins.shown,
        origins_omitted: origins.omitted,
        broad: origins.broad.as_deref(),
        comment: origins.describe(&key.environment),
    }
}

fn item(item: &Item) -> RuleDto<'_> {
    match item {
        Item::Address { key, v6, rule: r } => rule(
            key,
            r.prefix.to_string(),
            Some(if *v6 { 6 } else { 4 }),
            None,
            &r.origins,
        ),
        Item::Name { key, rule: r } => {
            rule(key, r.pattern.to_string(), None, Some(&r.names), &r.origins)
        }
    }
}

fn to_text<T: Serialize>(value: &T) -> String {
    // The DTOs hold only strings, numbers and dates: serialising them cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

impl Dialect for Json {
    const NAMES: Names = Names::Both;

    fn body(&self, _rules: &RuleSet, _out: &mut Out) {}

    fn render(&self, rules: &RuleSet) -> String {
        let mut list = Vec::with_capacity(rules.address_count() + rules.name_count());
        for group in &rules.addresses {
            for r in &group.rules {
                let family = Some(if group.v6 { 6 } else { 4 });
                list.push(rule(
                    &group.key,
                    r.prefix.to_string(),
                    family,
                    None,
                    &r.origins,
                ));
            }
        }
        for group in &rules.names {
            for r in &group.rules {
                list.push(rule(
                    &group.key,
                    r.pattern.to_string(),
                    None,
                    Some(&r.names),
                    &r.origins,
                ));
            }
        }
        to_text(&RulesDto {
            schema: SCHEMA,
            kind: "rules",
            header: header(rules),
            rules: list,
        })
    }

    fn render_diff(&self, diff: &Diff) -> Option<String> {
        Some(to_text(&DiffDto {
            schema: SCHEMA,
            kind: "rules-diff",
            old: header(&diff.old),
            new: header(&diff.new),
            changes: diff
                .changes
                .iter()
                .map(|c| ChangeDto {
                    action: c.action(),
                    rule: item(c.item()),
                })
                .collect(),
        }))
    }
}
