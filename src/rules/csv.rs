//! CSV: one row per rule, for spreadsheets and change-request forms.
//!
//! Columns (stable; documented in the README): `environment, protocol, port, kind`
//! (`prefix` or `host`), `destination` (a prefix, a host name or a `*.` wildcard), `family`
//! (`4` or `6`; empty for hosts), `expires` (the date after which the rule can go; empty when
//! permanent), `services` and `hosts` (space-separated), `comment` (the comment other formats
//! show). The first line is the column names, so `csv.DictReader` and spreadsheet imports
//! read the rows as they are; `--comments` puts the header before it as `#` lines. A diff
//! adds a first column, `action` (`remove` or `add`).

use super::escape::{self, Charset};
use super::render::{Dialect, Names, Out, ln};
use super::{GroupKey, Origins, RuleSet};
use crate::rules::diff::{Diff, Item};

/// The CSV dialect.
pub(crate) struct Csv;

const COLUMNS: &str =
    "environment,protocol,port,kind,destination,family,expires,services,hosts,comment";

fn row(key: &GroupKey, kind: &str, destination: &str, family: &str, origins: &Origins) -> String {
    let mut services: Vec<&str> = origins.shown.iter().map(|o| o.service.as_str()).collect();
    services.dedup();
    let hosts: Vec<String> = origins.hosts().map(ToString::to_string).collect();
    let fields = [
        key.environment.to_string(),
        key.protocol.to_string(),
        key.port.to_string(),
        kind.to_owned(),
        destination.to_owned(),
        family.to_owned(),
        origins.expires.map(|d| d.to_string()).unwrap_or_default(),
        services.join(" "),
        hosts.join(" "),
        origins.describe(&key.environment),
    ];
    fields
        .iter()
        .map(|f| escape::csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

fn item_row(item: &Item) -> String {
    match item {
        Item::Address { key, v6, rule } => row(
            key,
            "prefix",
            &rule.prefix.to_string(),
            if *v6 { "6" } else { "4" },
            &rule.origins,
        ),
        Item::Name { key, rule } => row(key, "host", &rule.pattern.to_string(), "", &rule.origins),
    }
}

impl Dialect for Csv {
    const NAMES: Names = Names::Both;
    const MAX_COMMENT: usize = usize::MAX;
    const CHARSET: Charset = Charset::Unicode;
    const HEADER_BY_DEFAULT: bool = false;

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        ln!(out, "{COLUMNS}");
        for group in &rules.addresses {
            for rule in &group.rules {
                let family = if group.v6 { "6" } else { "4" };
                ln!(
                    out,
                    "{}",
                    row(
                        &group.key,
                        "prefix",
                        &rule.prefix.to_string(),
                        family,
                        &rule.origins
                    )
                );
            }
        }
        for group in &rules.names {
            for rule in &group.rules {
                ln!(
                    out,
                    "{}",
                    row(
                        &group.key,
                        "host",
                        &rule.pattern.to_string(),
                        "",
                        &rule.origins
                    )
                );
            }
        }
    }

    fn diff_body(&self, diff: &Diff, out: &mut Out) -> Option<()> {
        ln!(out, "action,{COLUMNS}");
        for change in &diff.changes {
            ln!(out, "{},{}", change.action(), item_row(change.item()));
        }
        Some(())
    }
}
