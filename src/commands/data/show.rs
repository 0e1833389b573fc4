//! `data show`: the table per environment, for people (tables) or programs (JSON).
//!
//! The JSON form is public interface (documented in the README, "JSON: data show"): fields
//! are only ever added, never renamed. Its types live here, apart from the catalog's, so
//! that the catalog can change without changing the wire format.

use std::io::Write;

use chrono::NaiveDate;
use serde::Serialize;

use super::{Format, select_environments};
use crate::catalog::{Catalog, Environment, Port};
use crate::commands::CommandError;
use crate::exit::Status;
use crate::term::grid::{Column, Frame, Grid};
use crate::term::{self, Screen};

/// Version of the `data show` JSON format.
pub const SHOW_JSON_SCHEMA: u32 = 1;

/// Prints the catalog, limited to the environments named by `env_words` (all when empty).
pub fn show(
    catalog: &Catalog,
    env_words: &[String],
    format: Format,
    screen: Screen,
    out: &mut dyn Write,
) -> Result<Status, CommandError> {
    let envs = select_environments(catalog, env_words)?;
    match format {
        Format::Table => show_table(catalog, &envs, screen, out)?,
        Format::Json => {
            let doc = ShowJson::new(catalog, &envs);
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(Status::Pass)
}

fn show_table(
    catalog: &Catalog,
    envs: &[&Environment],
    screen: Screen,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let width = screen.width;
    let source = catalog.primary_source();
    let title = format!(
        "{} — data version {}{}",
        catalog.data.provider,
        catalog.data.version,
        source
            .and_then(|s| s.document_date)
            .map(|d| format!(", page dated {d}"))
            .unwrap_or_default()
    );
    term::write_wrapped(out, width, "", "  ", &title)?;
    if let Some(source) = source {
        term::write_wrapped(
            out,
            width,
            "source: ",
            "  ",
            &format!("{} ({})", source.url, source.title),
        )?;
    }
    if catalog.data.prefer_hostname_rules {
        term::write_wrapped(
            out,
            width,
            "",
            "",
            "The provider recommends hostname (FQDN) rules: addresses may change without notice.",
        )?;
    }
    for env in envs {
        writeln!(out)?;
        let aliases = if env.aliases.is_empty() {
            String::new()
        } else {
            format!(" — also {}", env.aliases.join(", "))
        };
        term::write_wrapped(
            out,
            width,
            "",
            "  ",
            &format!("{} ({}){}", env.name, env.id, aliases),
        )?;
        // At the width of a terminal: service, ports, then details go first (kind, host and
        // addresses are what a firewall change needs).
        let mut table = Grid::new(vec![
            Column::atoms("kind"),
            Column::names("service").drop_order(1),
            Column::names("host"),
            Column::spaced("addresses"),
            Column::spaced("ports").drop_order(2),
            Column::names("details").drop_order(3),
        ]);
        for e in catalog.endpoints.iter().filter(|e| e.environment == env.id) {
            let probe = if e.host.is_wildcard() {
                format!("probe:\n{}", names_list(e.probe.iter().map(|p| p.as_str())))
            } else {
                String::new()
            };
            table.row([
                "endpoint".to_owned(),
                e.service.to_string(),
                e.host.to_string(),
                lines(e.addresses.iter().map(|a| marked(catalog, a))),
                ports(&e.ports, e.protocol.as_str()),
                join_nonempty(&[
                    probe,
                    e.http.as_ref().map(http_details).unwrap_or_default(),
                    format!("source: {}", e.source),
                ]),
            ]);
        }
        for s in catalog.subnets.iter().filter(|s| s.environment == env.id) {
            table.row([
                "subnet".to_owned(),
                s.service.to_string(),
                String::new(),
                marked(catalog, s.cidr),
                ports(&s.ports, s.protocol.as_str()),
                join_nonempty(&[
                    format!("covers: {}", s.covers),
                    format!("source: {}", s.source),
                ]),
            ]);
        }
        for l in catalog.legacy.iter().filter(|l| l.environment == env.id) {
            let replaced = l
                .replaced_by
                .as_ref()
                .map(|r| format!("replaced by {r}"))
                .unwrap_or_default();
            table.row([
                "legacy".to_owned(),
                l.service.to_string(),
                l.host.to_string(),
                lines(l.addresses.iter()),
                ports(&l.ports, l.protocol.as_str()),
                join_nonempty(&[
                    format!("sunset {}", l.sunset),
                    replaced,
                    format!("source: {}", l.source),
                ]),
            ]);
        }
        for a in catalog
            .authorization_servers
            .iter()
            .filter(|a| a.environment == env.id)
        {
            table.row([
                "token".to_owned(),
                a.service.to_string(),
                a.metadata_url.host.to_string(),
                String::new(),
                ports(&[a.metadata_url.port], "tcp"),
                authorization_details(a),
            ]);
        }
        term::write_table(
            out,
            width,
            "",
            &table.render(width, Frame::Boxed, screen.colour),
        )?;
    }
    if !catalog.broad_prefixes.is_empty() {
        writeln!(out)?;
        term::write_wrapped(
            out,
            width,
            "",
            "",
            "Broad prefixes (each opens more than the services listed with it):",
        )?;
        for b in &catalog.broad_prefixes {
            let text = format!("{} opens {} [{}]", b.cidr, b.opens, b.source);
            term::write_wrapped(out, width, "- ", "  ", &text)?;
        }
    }
    if !catalog.notes.is_empty() {
        writeln!(out)?;
        writeln!(out, "Notes:")?;
        for note in &catalog.notes {
            let cite = note
                .source
                .as_ref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default();
            term::write_wrapped(out, width, "- ", "  ", &format!("{}{cite}", note.text))?;
        }
    }
    Ok(())
}

/// The details cell of an authorization server: what `egresscheck token` judges against.
fn authorization_details(a: &crate::catalog::AuthorizationServer) -> String {
    let issuers = if a.certificate_issuers.is_empty() {
        String::new()
    } else {
        format!(
            "certificates issued by:\n{}",
            names_list(a.certificate_issuers.iter().map(|p| p.as_str()))
        )
    };
    let audience = match a.api_audience {
        crate::catalog::ApiAudience::Any => String::new(),
        crate::catalog::ApiAudience::Unspecified if a.api_scope_prefixes.is_empty() => {
            "tokens without audience (no resource)".to_owned()
        }
        crate::catalog::ApiAudience::Unspecified => format!(
            "tokens without audience (no resource) for {}",
            a.api_scope_prefixes.join(" ")
        ),
    };
    join_nonempty(&[
        format!("metadata: {}", a.metadata_url),
        format!("issuer: {}", a.issuer),
        issuers,
        audience,
        format!("source: {}", a.source),
    ])
}

/// `http: GET /path → 200, JSON key issuer`.
fn http_details(check: &crate::catalog::HttpCheck) -> String {
    let mut expected: Vec<String> = Vec::new();
    if check.expect_status.is_empty() {
        expected.push("any answer".to_owned());
    } else {
        let statuses: Vec<String> = check.expect_status.iter().map(u16::to_string).collect();
        expected.push(statuses.join(" or "));
    }
    if let Some(header) = &check.expect_header {
        expected.push(format!("header {header}"));
    }
    if let Some(key) = &check.expect_json_key {
        expected.push(format!("JSON key {key}"));
    }
    format!(
        "http: {} {} → {}",
        check.method,
        check.path,
        expected.join(", ")
    )
}

/// A prefix as the table shows it: `(broad)` after one the data marks as opening more.
fn marked(catalog: &Catalog, prefix: ipnet::IpNet) -> String {
    if catalog.broad_prefixes.iter().any(|b| b.cidr == prefix) {
        format!("{prefix} (broad)")
    } else {
        prefix.to_string()
    }
}

fn lines(items: impl Iterator<Item = impl ToString>) -> String {
    let all: Vec<String> = items.map(|i| i.to_string()).collect();
    if all.is_empty() {
        "(hostname only)".to_owned()
    } else {
        all.join("\n")
    }
}

fn names_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join("\n")
}

fn ports(ports: &[Port], protocol: &str) -> String {
    let list: Vec<String> = ports.iter().map(Port::to_string).collect();
    format!("{}/{protocol}", list.join(","))
}

fn join_nonempty(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

/// `data show --format json`.
#[derive(Debug, Serialize)]
struct ShowJson<'a> {
    schema: u32,
    data: DataJson<'a>,
    sources: &'a [crate::catalog::Source],
    services: &'a [crate::catalog::Service],
    environments: Vec<EnvJson<'a>>,
    broad_prefixes: &'a [crate::catalog::BroadPrefix],
    notes: &'a [crate::catalog::Note],
    changelog: &'a [crate::catalog::ChangelogEntry],
}

#[derive(Debug, Serialize)]
struct DataJson<'a> {
    provider: &'a str,
    version: String,
    primary_source: &'a str,
    prefer_hostname_rules: bool,
    file_schema: u32,
}

#[derive(Debug, Serialize)]
struct EnvJson<'a> {
    id: &'a str,
    name: &'a str,
    aliases: &'a [String],
    endpoints: Vec<EndpointJson<'a>>,
    subnets: Vec<SubnetJson<'a>>,
    legacy: Vec<LegacyJson<'a>>,
    authorization_servers: Vec<AuthorizationServerJson<'a>>,
}

#[derive(Debug, Serialize)]
struct AuthorizationServerJson<'a> {
    service: &'a str,
    metadata_url: &'a str,
    host: &'a str,
    port: u16,
    issuer: &'a str,
    certificate_issuers: Vec<&'a str>,
    api_scope_prefixes: &'a [String],
    api_audience: &'a str,
    source: &'a str,
    note: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct EndpointJson<'a> {
    service: &'a str,
    host: String,
    wildcard: bool,
    probe: Vec<&'a str>,
    ipv4: Vec<String>,
    ipv6: Vec<String>,
    ports: Vec<u16>,
    protocol: &'a str,
    source: &'a str,
    note: Option<&'a str>,
    http: Option<&'a crate::catalog::HttpCheck>,
}

#[derive(Debug, Serialize)]
struct SubnetJson<'a> {
    service: &'a str,
    cidr: String,
    ports: Vec<u16>,
    protocol: &'a str,
    covers: &'a str,
    source: &'a str,
}

#[derive(Debug, Serialize)]
struct LegacyJson<'a> {
    service: &'a str,
    host: &'a str,
    ipv4: Vec<String>,
    ipv6: Vec<String>,
    ports: Vec<u16>,
    protocol: &'a str,
    sunset: NaiveDate,
    sunset_basis: &'a str,
    replaced_by: Option<String>,
    source: &'a str,
    note: Option<&'a str>,
}

impl<'a> ShowJson<'a> {
    fn new(catalog: &'a Catalog, envs: &[&'a Environment]) -> Self {
        let port_numbers = |ports: &[Port]| ports.iter().map(|p| p.get()).collect::<Vec<_>>();
        let environments = envs
            .iter()
            .map(|env| EnvJson {
                id: env.id.as_str(),
                name: &env.name,
                aliases: &env.aliases,
                endpoints: catalog
                    .endpoints
                    .iter()
                    .filter(|e| e.environment == env.id)
                    .map(|e| EndpointJson {
                        service: e.service.as_str(),
                        host: e.host.to_string(),
                        wildcard: e.host.is_wildcard(),
                        probe: e.probe.iter().map(|p| p.as_str()).collect(),
                        ipv4: e.addresses.ipv4.iter().map(ToString::to_string).collect(),
                        ipv6: e.addresses.ipv6.iter().map(ToString::to_string).collect(),
                        ports: port_numbers(&e.ports),
                        protocol: e.protocol.as_str(),
                        source: e.source.as_str(),
                        note: e.note.as_deref(),
                        http: e.http.as_ref(),
                    })
                    .collect(),
                subnets: catalog
                    .subnets
                    .iter()
                    .filter(|s| s.environment == env.id)
                    .map(|s| SubnetJson {
                        service: s.service.as_str(),
                        cidr: s.cidr.to_string(),
                        ports: port_numbers(&s.ports),
                        protocol: s.protocol.as_str(),
                        covers: &s.covers,
                        source: s.source.as_str(),
                    })
                    .collect(),
                legacy: catalog
                    .legacy
                    .iter()
                    .filter(|l| l.environment == env.id)
                    .map(|l| LegacyJson {
                        service: l.service.as_str(),
                        host: l.host.as_str(),
                        ipv4: l.addresses.ipv4.iter().map(ToString::to_string).collect(),
                        ipv6: l.addresses.ipv6.iter().map(ToString::to_string).collect(),
                        ports: port_numbers(&l.ports),
                        protocol: l.protocol.as_str(),
                        sunset: l.sunset,
                        sunset_basis: &l.sunset_basis,
                        replaced_by: l.replaced_by.as_ref().map(ToString::to_string),
                        source: l.source.as_str(),
                        note: l.note.as_deref(),
                    })
                    .collect(),
                authorization_servers: catalog
                    .authorization_servers
                    .iter()
                    .filter(|a| a.environment == env.id)
                    .map(|a| AuthorizationServerJson {
                        service: a.service.as_str(),
                        metadata_url: &a.metadata_url.url,
                        host: a.metadata_url.host.as_str(),
                        port: a.metadata_url.port.get(),
                        issuer: &a.issuer,
                        certificate_issuers: a
                            .certificate_issuers
                            .iter()
                            .map(|p| p.as_str())
                            .collect(),
                        api_scope_prefixes: &a.api_scope_prefixes,
                        api_audience: a.api_audience.as_str(),
                        source: a.source.as_str(),
                        note: a.note.as_deref(),
                    })
                    .collect(),
            })
            .collect();
        ShowJson {
            schema: SHOW_JSON_SCHEMA,
            data: DataJson {
                provider: &catalog.data.provider,
                version: catalog.data.version.to_string(),
                primary_source: catalog.data.primary_source.as_str(),
                prefer_hostname_rules: catalog.data.prefer_hostname_rules,
                file_schema: catalog.schema,
            },
            sources: &catalog.sources,
            services: &catalog.services,
            environments,
            broad_prefixes: &catalog.broad_prefixes,
            notes: &catalog.notes,
            changelog: &catalog.changelog,
        }
    }
}
