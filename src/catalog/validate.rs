//! From the raw file to a [`Catalog`]: one small check per rule, every problem collected.
//!
//! Each check names the field, the value found and what is expected, at the value's own
//! line and column. Validation continues after a problem so that one run lists them all.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use std::str::FromStr;

use chrono::NaiveDate;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use toml::Spanned;

use super::error::{Diagnostic, LoadError, Locator};
use super::model::{
    Addresses, Catalog, ChangelogEntry, DataInfo, DataVersion, Endpoint, EnvId, Environment,
    Legacy, Note, Port, Protocol, Service, ServiceId, Source, SourceId, Subnet,
};
use super::names::{DnsName, HostPattern};
use super::raw::{
    RawChangelog, RawData, RawEndpoint, RawEnvironment, RawFile, RawLegacy, RawNote, RawService,
    RawSource, RawSubnet, Text,
};

mod authorization;
mod broad;
mod http;

/// Longest free-text value accepted (notes, titles). Longer text is not a note.
const MAX_TEXT_LEN: usize = 4096;
/// Longest id (environment, service, source).
const MAX_ID_LEN: usize = 64;

/// Validates a parsed file into a catalog, or returns every problem found.
pub(crate) fn validate(
    raw: RawFile,
    schema: u32,
    locator: &Locator<'_>,
) -> Result<Catalog, LoadError> {
    let mut v = Validator {
        locator,
        problems: Vec::new(),
    };
    let sources = v.sources(&raw.source);
    let environments = v.environments(&raw.environment);
    let services = v.services(&raw.service);
    // References are checked against every id that is itself valid, even when another field
    // of that entry is not, so that one bad name does not cascade into "not defined" errors.
    let refs = References {
        environments: valid_ids(raw.environment.iter().map(|e| &e.get_ref().id)),
        services: valid_ids(raw.service.iter().map(|s| &s.get_ref().id)),
        sources: valid_ids(raw.source.iter().map(|s| &s.get_ref().id)),
    };
    let data = v.data(&raw.data, &refs);
    let endpoints = v.endpoints(&raw.endpoint, &refs);
    let subnets = v.subnets(&raw.subnet, &refs);
    let legacy = v.legacy_entries(&raw.legacy, &refs);
    let authorization_servers =
        v.authorization_servers(&raw.authorization_server, &refs, &endpoints);
    let broad_prefixes =
        v.broad_prefixes(&raw.broad_prefix, &refs, (&endpoints, &legacy, &subnets));
    let notes = raw.note.iter().filter_map(|n| v.note(n, &refs)).collect();
    let changelog = v.changelog(&raw.changelog, data.as_ref());

    match (v.problems.is_empty(), data) {
        (true, Some(data)) => Ok(Catalog {
            schema,
            origin: locator_file(locator),
            data,
            sources,
            environments,
            services,
            endpoints,
            subnets,
            legacy,
            authorization_servers,
            broad_prefixes,
            notes,
            changelog,
        }),
        _ => {
            let mut problems = v.problems;
            problems.sort_by_key(|d| (d.line, d.column));
            Err(LoadError::Invalid(problems))
        }
    }
}

fn valid_ids<'a>(ids: impl Iterator<Item = &'a Text>) -> HashSet<String> {
    ids.map(|id| id.get_ref())
        .filter(|id| is_valid_id(id))
        .cloned()
        .collect()
}

fn is_valid_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn locator_file(locator: &Locator<'_>) -> String {
    locator.at(0..0, "").file
}

/// Ids that references may point at.
struct References {
    environments: HashSet<String>,
    services: HashSet<String>,
    sources: HashSet<String>,
}

struct Validator<'a> {
    locator: &'a Locator<'a>,
    problems: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn problem(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems.push(self.locator.at(span, message));
    }

    // ---- sections -------------------------------------------------------------------

    fn data(&mut self, raw: &Spanned<RawData>, refs: &References) -> Option<DataInfo> {
        let d = raw.get_ref();
        let provider = self.line_text(&d.provider, "data.provider");
        let version = self.data_version(&d.version, "data.version");
        let primary = self.reference(
            &d.primary_source,
            "data.primary_source",
            &refs.sources,
            "source",
        );
        Some(DataInfo {
            provider: provider?,
            version: version?,
            primary_source: SourceId(primary?),
            prefer_hostname_rules: d.prefer_hostname_rules,
        })
    }

    fn sources(&mut self, raw: &[Spanned<RawSource>]) -> Vec<Source> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let s = entry.get_ref();
            let id = self.id(&s.id, "source.id");
            if let Some(id) = &id {
                let _ = self.unique(&mut seen, id.clone(), &s.id, "source", "id");
            }
            let publisher = self.line_text(&s.publisher, "source.publisher");
            let title = self.line_text(&s.title, "source.title");
            let url = self.url(&s.url, "source.url");
            let commit = s
                .commit
                .as_ref()
                .and_then(|c| self.token(c, "source.commit"));
            let document_date = s
                .document_date
                .as_ref()
                .and_then(|d| self.date(d, "source.document_date"));
            let retrieved = s
                .retrieved
                .as_ref()
                .and_then(|d| self.date(d, "source.retrieved"));
            let note = s
                .note
                .as_ref()
                .and_then(|n| self.free_text(n, "source.note"));
            if let (Some(id), Some(publisher), Some(title), Some(url)) = (id, publisher, title, url)
            {
                out.push(Source {
                    id: SourceId(id),
                    publisher,
                    title,
                    url,
                    commit,
                    document_date,
                    retrieved,
                    note,
                });
            }
        }
        out
    }

    fn environments(&mut self, raw: &[Spanned<RawEnvironment>]) -> Vec<Environment> {
        let mut seen = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let e = entry.get_ref();
            let mut id = self.id(&e.id, "environment.id");
            if let Some(valid) = &id
                && !self.unique(&mut seen, valid.clone(), &e.id, "environment", "id")
            {
                // Reported once as a duplicate; its names would only repeat the news.
                id = None;
            }
            let name = self.line_text(&e.name, "environment.name");
            let mut aliases = Vec::new();
            for alias in &e.aliases {
                if let Some(text) = self.line_text(alias, "environment.aliases") {
                    aliases.push(text);
                }
            }
            // A word that names two environments would make `--env` and page audits ambiguous.
            if let Some(id) = &id {
                let words = std::iter::once((&e.id, id.clone()))
                    .chain(std::iter::once((&e.name, e.name.get_ref().clone())))
                    .chain(e.aliases.iter().map(|a| (a, a.get_ref().clone())));
                let mut own = HashSet::new();
                for (span_of, word) in words {
                    let key = word.to_lowercase();
                    if !own.insert(key.clone()) {
                        continue;
                    }
                    if let Some(other) = names.get(&key) {
                        self.problem(
                            span_of.span(),
                            format!(
                                "found `{word}`, which already names environment `{other}`; expected names and aliases that identify one environment"
                            ),
                        );
                    } else {
                        names.insert(key, id.clone());
                    }
                }
            }
            if let (Some(id), Some(name)) = (id, name) {
                out.push(Environment {
                    id: EnvId(id),
                    name,
                    aliases,
                });
            }
        }
        if raw.is_empty() {
            self.problem(0..0, "found no [[environment]], expected at least one");
        }
        out
    }

    fn services(&mut self, raw: &[Spanned<RawService>]) -> Vec<Service> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let s = entry.get_ref();
            let id = self.id(&s.id, "service.id");
            if let Some(id) = &id {
                let _ = self.unique(&mut seen, id.clone(), &s.id, "service", "id");
            }
            let name = self.line_text(&s.name, "service.name");
            let operator = s
                .operator
                .as_ref()
                .and_then(|o| self.line_text(o, "service.operator"));
            if let (Some(id), Some(name)) = (id, name) {
                out.push(Service {
                    id: ServiceId(id),
                    name,
                    operator,
                });
            }
        }
        if raw.is_empty() {
            self.problem(0..0, "found no [[service]], expected at least one");
        }
        out
    }

    fn endpoints(&mut self, raw: &[Spanned<RawEndpoint>], refs: &References) -> Vec<Endpoint> {
        let mut seen = HashMap::new();
        let mut checks = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let e = entry.get_ref();
            let environment = self.reference(
                &e.environment,
                "endpoint.environment",
                &refs.environments,
                "environment",
            );
            let service = self.reference(&e.service, "endpoint.service", &refs.services, "service");
            let source = self.reference(&e.source, "endpoint.source", &refs.sources, "source");
            let host = self.host_pattern(&e.host, "endpoint.host");
            let probe = host
                .as_ref()
                .map(|h| self.probe_names(h, &e.probe, &e.host));
            let addresses = self.addresses(&e.ipv4, &e.ipv6, "endpoint");
            let ports = self.ports(&e.ports, "endpoint.ports");
            let protocol = self.protocol(e.protocol.as_ref(), "endpoint.protocol");
            let note = e
                .note
                .as_ref()
                .and_then(|n| self.free_text(n, "endpoint.note"));
            let http = match &e.http {
                None => Some(None),
                Some(raw) => self.http_check(raw, protocol).map(Some),
            };
            if let (Some(Some(check)), Some(names), Some(raw)) = (&http, &probe, &e.http) {
                self.one_http_check_per_name(&mut checks, names, check, raw);
            }
            if let (Some(env), Some(host)) = (&environment, &host) {
                let _ = self.unique(
                    &mut seen,
                    format!("{env} {host}"),
                    &e.host,
                    "endpoint",
                    "environment and host",
                );
            }
            if let (
                Some(environment),
                Some(service),
                Some(source),
                Some(host),
                Some(probe),
                Some(ports),
                Some(protocol),
                Some(http),
            ) = (
                environment,
                service,
                source,
                host,
                probe,
                ports,
                protocol,
                http,
            ) {
                out.push(Endpoint {
                    environment: EnvId(environment),
                    service: ServiceId(service),
                    host,
                    probe,
                    addresses,
                    ports,
                    protocol,
                    source: SourceId(source),
                    note,
                    http,
                });
            }
        }
        out
    }

    fn subnets(&mut self, raw: &[Spanned<RawSubnet>], refs: &References) -> Vec<Subnet> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let s = entry.get_ref();
            let environment = self.reference(
                &s.environment,
                "subnet.environment",
                &refs.environments,
                "environment",
            );
            let service = self.reference(&s.service, "subnet.service", &refs.services, "service");
            let source = self.reference(&s.source, "subnet.source", &refs.sources, "source");
            let cidr = self.any_prefix(&s.cidr, "subnet.cidr");
            let ports = self.ports(&s.ports, "subnet.ports");
            let protocol = self.protocol(s.protocol.as_ref(), "subnet.protocol");
            let covers = self.free_text(&s.covers, "subnet.covers");
            if let (Some(env), Some(cidr)) = (&environment, &cidr) {
                let _ = self.unique(
                    &mut seen,
                    format!("{env} {cidr}"),
                    &s.cidr,
                    "subnet",
                    "environment and cidr",
                );
            }
            if let (
                Some(environment),
                Some(service),
                Some(source),
                Some(cidr),
                Some(ports),
                Some(protocol),
                Some(covers),
            ) = (environment, service, source, cidr, ports, protocol, covers)
            {
                out.push(Subnet {
                    environment: EnvId(environment),
                    service: ServiceId(service),
                    cidr,
                    ports,
                    protocol,
                    covers,
                    source: SourceId(source),
                });
            }
        }
        out
    }

    fn legacy_entries(&mut self, raw: &[Spanned<RawLegacy>], refs: &References) -> Vec<Legacy> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let l = entry.get_ref();
            let environment = self.reference(
                &l.environment,
                "legacy.environment",
                &refs.environments,
                "environment",
            );
            let service = self.reference(&l.service, "legacy.service", &refs.services, "service");
            let source = self.reference(&l.source, "legacy.source", &refs.sources, "source");
            let host = self.exact_host(&l.host, "legacy.host");
            let addresses = self.addresses(&l.ipv4, &l.ipv6, "legacy");
            let ports = self.ports(&l.ports, "legacy.ports");
            let protocol = self.protocol(l.protocol.as_ref(), "legacy.protocol");
            let sunset = self.date(&l.sunset, "legacy.sunset");
            let sunset_basis = self.free_text(&l.sunset_basis, "legacy.sunset_basis");
            let replaced_by = l
                .replaced_by
                .as_ref()
                .and_then(|r| self.host_pattern(r, "legacy.replaced_by"));
            let note = l
                .note
                .as_ref()
                .and_then(|n| self.free_text(n, "legacy.note"));
            if let (Some(env), Some(host)) = (&environment, &host) {
                let _ = self.unique(
                    &mut seen,
                    format!("{env} {host}"),
                    &l.host,
                    "legacy",
                    "environment and host",
                );
            }
            if let (
                Some(environment),
                Some(service),
                Some(source),
                Some(host),
                Some(ports),
                Some(protocol),
                Some(sunset),
                Some(sunset_basis),
            ) = (
                environment,
                service,
                source,
                host,
                ports,
                protocol,
                sunset,
                sunset_basis,
            ) {
                out.push(Legacy {
                    environment: EnvId(environment),
                    service: ServiceId(service),
                    host,
                    addresses,
                    ports,
                    protocol,
                    sunset,
                    sunset_basis,
                    replaced_by,
                    source: SourceId(source),
                    note,
                });
            }
        }
        out
    }

    fn note(&mut self, raw: &Spanned<RawNote>, refs: &References) -> Option<Note> {
        let n = raw.get_ref();
        let text = self.free_text(&n.text, "note.text");
        let source = match &n.source {
            Some(s) => Some(SourceId(self.reference(
                s,
                "note.source",
                &refs.sources,
                "source",
            )?)),
            None => None,
        };
        Some(Note {
            text: text?,
            source,
        })
    }

    fn changelog(
        &mut self,
        raw: &[Spanned<RawChangelog>],
        data: Option<&DataInfo>,
    ) -> Vec<ChangelogEntry> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let c = entry.get_ref();
            let version = self.data_version(&c.version, "changelog.version");
            if let Some(version) = &version {
                let _ = self.unique(
                    &mut seen,
                    version.to_string(),
                    &c.version,
                    "changelog",
                    "version",
                );
            }
            let changes: Vec<String> = c
                .changes
                .iter()
                .filter_map(|t| self.free_text(t, "changelog.changes"))
                .collect();
            if let Some(version) = version {
                out.push(ChangelogEntry { version, changes });
            }
        }
        if let Some(data) = data
            && !out.is_empty()
            && !out.iter().any(|c| c.version == data.version)
        {
            {
                self.problem(
                    raw.first().map_or(0..0, |c| c.span()),
                    format!(
                        "found no [[changelog]] entry for data version {}, expected one that says what this version changed",
                        data.version
                    ),
                );
            }
        }
        out.sort_by(|a, b| b.version.cmp(&a.version));
        out
    }

    // ---- values ---------------------------------------------------------------------

    /// Reports a duplicate of `key` at `at`, naming the first occurrence's line. `seen` maps
    /// each key to the byte offset of its first occurrence: the line is worked out only for
    /// a duplicate, since locating costs a scan of the text up to the offset.
    fn unique(
        &mut self,
        seen: &mut HashMap<String, usize>,
        key: String,
        at: &Text,
        what: &str,
        by: &str,
    ) -> bool {
        if let Some(&first) = seen.get(&key) {
            let first = self.locator.at(first..first, "").line;
            self.problem(
                at.span(),
                format!("found a second {what} with the same {by} (`{key}`, first on line {first}); expected each {what} once"),
            );
            false
        } else {
            seen.insert(key, at.span().start);
            true
        }
    }

    fn id(&mut self, raw: &Text, field: &str) -> Option<String> {
        let value = raw.get_ref();
        let valid = is_valid_id(value);
        if valid {
            Some(value.clone())
        } else {
            self.problem(
                raw.span(),
                format!("{field}: found {value:?}, expected an id of lowercase letters, digits and hyphens (at most {MAX_ID_LEN}), starting with a letter or digit"),
            );
            None
        }
    }

    fn reference(
        &mut self,
        raw: &Text,
        field: &str,
        known: &HashSet<String>,
        kind: &str,
    ) -> Option<String> {
        let value = raw.get_ref();
        if known.contains(value) {
            return Some(value.clone());
        }
        let mut ids: Vec<&str> = known.iter().map(String::as_str).collect();
        ids.sort_unstable();
        let expected = if ids.is_empty() {
            format!("a [[{kind}]] with that id (none is defined)")
        } else {
            format!("the id of a defined {kind}: {}", ids.join(", "))
        };
        self.problem(
            raw.span(),
            format!("{field}: found {value:?}, which is not defined; expected {expected}"),
        );
        None
    }

    fn line_text(&mut self, raw: &Text, field: &str) -> Option<String> {
        self.text(raw, field, false)
    }

    fn free_text(&mut self, raw: &Text, field: &str) -> Option<String> {
        self.text(raw, field, true)
    }

    fn text(&mut self, raw: &Text, field: &str, multiline: bool) -> Option<String> {
        let value = raw.get_ref();
        if value.trim().is_empty() {
            self.problem(
                raw.span(),
                format!("{field}: found an empty text, expected some words"),
            );
            return None;
        }
        if value.chars().count() > MAX_TEXT_LEN {
            self.problem(
                raw.span(),
                format!(
                    "{field}: found a text of {} characters, expected at most {MAX_TEXT_LEN}",
                    value.chars().count()
                ),
            );
            return None;
        }
        if let Some(ch) = value.chars().find(|c| is_forbidden_char(*c, multiline)) {
            let allowed = if multiline {
                "line breaks and tabs are the only control characters allowed"
            } else {
                "a single line without control characters"
            };
            self.problem(
                raw.span(),
                format!("{field}: found the character U+{:04X}, which could hide or reorder text in a terminal or firewall comment; expected plain text ({allowed})", u32::from(ch)),
            );
            return None;
        }
        Some(value.clone())
    }

    /// A short token such as a commit id: visible ASCII without quotes or shell specials.
    fn token(&mut self, raw: &Text, field: &str) -> Option<String> {
        let value = raw.get_ref();
        if !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._/:".contains(&b))
        {
            Some(value.clone())
        } else {
            self.problem(raw.span(), format!("{field}: found {value:?}, expected a commit id or version (letters, digits, - . _ / :)"));
            None
        }
    }

    fn url(&mut self, raw: &Text, field: &str) -> Option<String> {
        let value = raw.get_ref();
        let has_scheme = value.starts_with("https://") || value.starts_with("http://");
        // RFC 3986 characters less the ones that mean something to a shell or a quoted
        // comment (quotes, parentheses, `$`, `;`, `*`); such characters are percent-encoded.
        let plain = value.len() <= 2048
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!&+,=%".contains(&b));
        if has_scheme && plain {
            Some(value.clone())
        } else {
            self.problem(raw.span(), format!("{field}: found {value:?}, expected an http(s) URL with special characters percent-encoded"));
            None
        }
    }

    fn data_version(&mut self, raw: &Text, field: &str) -> Option<DataVersion> {
        let value = raw.get_ref();
        let parsed = value.split_once('.').and_then(|(date, serial)| {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
            let serial = serial
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1 && !serial.starts_with('+'))?;
            Some(DataVersion { date, serial })
        });
        if parsed.is_none() {
            self.problem(raw.span(), format!("{field}: found {value:?}, expected a data version YYYY-MM-DD.N such as 2026-02-09.1"));
        }
        parsed
    }

    fn date(&mut self, raw: &Spanned<toml::Value>, field: &str) -> Option<NaiveDate> {
        let parsed = match raw.get_ref() {
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
                dt.date.and_then(|d| {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                })
            }
            toml::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.problem(
                raw.span(),
                format!(
                    "{field}: found {}, expected a date such as 2024-10-17",
                    describe(raw.get_ref())
                ),
            );
        }
        parsed
    }

    fn ports(&mut self, raw: &Spanned<Vec<Spanned<i64>>>, field: &str) -> Option<Vec<Port>> {
        if raw.get_ref().is_empty() {
            self.problem(
                raw.span(),
                format!("{field}: found an empty list, expected at least one port such as [443]"),
            );
            return None;
        }
        let mut ports = Vec::new();
        let mut ok = true;
        for port in raw.get_ref() {
            let number = *port.get_ref();
            match u16::try_from(number)
                .ok()
                .and_then(|n| Port::try_from(n).ok())
            {
                Some(p) if ports.contains(&p) => {
                    self.problem(
                        port.span(),
                        format!("{field}: found port {number} twice, expected each port once"),
                    );
                    ok = false;
                }
                Some(p) => ports.push(p),
                None => {
                    self.problem(
                        port.span(),
                        format!("{field}: found {number}, expected a port from 1 to 65535"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(ports)
    }

    fn protocol(&mut self, raw: Option<&Text>, field: &str) -> Option<Protocol> {
        match raw.map(|r| (r.get_ref().as_str(), r.span())) {
            None | Some(("tcp", _)) => Some(Protocol::Tcp),
            Some(("udp", _)) => Some(Protocol::Udp),
            Some((other, span)) => {
                self.problem(
                    span,
                    format!("{field}: found {other:?}, expected \"tcp\" or \"udp\""),
                );
                None
            }
        }
    }

    fn host_pattern(&mut self, raw: &Text, field: &str) -> Option<HostPattern> {
        match HostPattern::parse(raw.get_ref()) {
            Ok(p) => Some(p),
            Err(err) => {
                self.problem(raw.span(), format!("{field}: found {:?}: {err}; expected a DNS host name such as api.example.no or a wildcard such as *.api.example.no", raw.get_ref()));
                None
            }
        }
    }

    fn exact_host(&mut self, raw: &Text, field: &str) -> Option<DnsName> {
        match DnsName::parse(raw.get_ref()) {
            Ok(name) => Some(name),
            Err(err) => {
                self.problem(raw.span(), format!("{field}: found {:?}: {err}; expected a DNS host name such as api.example.no (no wildcard)", raw.get_ref()));
                None
            }
        }
    }

    fn probe_names(&mut self, host: &HostPattern, raw: &[Text], host_span: &Text) -> Vec<DnsName> {
        let mut names: Vec<DnsName> = Vec::new();
        match host {
            HostPattern::Exact(name) => {
                if let Some(first) = raw.first() {
                    self.problem(first.span(), format!("endpoint.probe: found probe names for the exact host {name}, expected them only under a wildcard host (an exact host is probed by its own name)"));
                }
                names.push(name.clone());
            }
            HostPattern::Wildcard(base) => {
                if raw.is_empty() {
                    self.problem(host_span.span(), format!("endpoint.host: found the wildcard *.{base} without probe names, expected `probe = [\"name.{base}\", …]` listing real names to resolve"));
                }
                let mut seen = HashSet::new();
                for item in raw {
                    let Some(name) = self.exact_host(item, "endpoint.probe") else {
                        continue;
                    };
                    if !name.is_one_label_below(base) {
                        self.problem(item.span(), format!("endpoint.probe: found {name}, which *.{base} does not cover; expected a name exactly one label below {base}"));
                    } else if !seen.insert(name.clone()) {
                        self.problem(
                            item.span(),
                            format!(
                                "endpoint.probe: found {name} twice, expected each probe name once"
                            ),
                        );
                    } else {
                        names.push(name);
                    }
                }
            }
        }
        names
    }

    fn addresses(&mut self, ipv4: &[Text], ipv6: &[Text], entry: &str) -> Addresses {
        // Sets beside the lists keep duplicate detection linear: a provider may list
        // thousands of prefixes in one entry.
        let mut out = Addresses::default();
        let mut seen = HashSet::new();
        let v4_field = format!("{entry}.ipv4");
        for raw in ipv4 {
            if let Some(net) = self.ipv4_prefix(raw, &v4_field)
                && self.first_time(&mut seen, IpNet::V4(net), raw, &v4_field)
            {
                out.ipv4.push(net);
            }
        }
        let v6_field = format!("{entry}.ipv6");
        for raw in ipv6 {
            if let Some(net) = self.ipv6_prefix(raw, &v6_field)
                && self.first_time(&mut seen, IpNet::V6(net), raw, &v6_field)
            {
                out.ipv6.push(net);
            }
        }
        out
    }

    /// True the first time `net` is seen; a repeat is reported.
    fn first_time(
        &mut self,
        seen: &mut HashSet<IpNet>,
        net: IpNet,
        raw: &Text,
        field: &str,
    ) -> bool {
        if seen.insert(net) {
            return true;
        }
        self.problem(
            raw.span(),
            format!("{field}: found {net} twice, expected each address once"),
        );
        false
    }

    fn ipv4_prefix(&mut self, raw: &Text, field: &str) -> Option<Ipv4Net> {
        match self.family_prefix(raw, field, false)? {
            IpNet::V4(net) => Some(net),
            IpNet::V6(_) => None,
        }
    }

    fn ipv6_prefix(&mut self, raw: &Text, field: &str) -> Option<Ipv6Net> {
        match self.family_prefix(raw, field, true)? {
            IpNet::V6(net) => Some(net),
            IpNet::V4(_) => None,
        }
    }

    /// An address (a full-length prefix) or prefix of one family, network address only.
    fn family_prefix(&mut self, raw: &Text, field: &str, v6: bool) -> Option<IpNet> {
        let value = raw.get_ref().trim();
        let (this, other, key, example) = if v6 {
            ("IPv6", "IPv4", "ipv4", "2001:db8::1 or 2001:db8::/32")
        } else {
            ("IPv4", "IPv6", "ipv6", "192.0.2.1 or 192.0.2.0/24")
        };
        let parsed = if value.contains('/') {
            IpNet::from_str(value).ok()
        } else {
            IpAddr::from_str(value).ok().map(IpNet::from)
        };
        match parsed {
            None => {
                self.problem(raw.span(), format!("{field}: found {value:?}, expected an {this} address or prefix such as {example}"));
                None
            }
            Some(net) if matches!(net, IpNet::V6(_)) != v6 => {
                self.problem(raw.span(), format!("{field}: found the {other} value {value:?} in an {this} field, expected it under {key}"));
                None
            }
            Some(net) if net.trunc() != net => {
                self.problem(raw.span(), format!("{field}: found {value}, whose host bits are set; expected the network address {}", net.trunc()));
                None
            }
            Some(net) => Some(net),
        }
    }

    fn any_prefix(&mut self, raw: &Text, field: &str) -> Option<IpNet> {
        let value = raw.get_ref().trim();
        if !value.contains('/') {
            self.problem(raw.span(), format!("{field}: found {value:?}, expected a prefix with its length such as 192.0.2.0/24 or 2001:db8::/32"));
            return None;
        }
        match IpNet::from_str(value) {
            Ok(net) if net.trunc() == net => Some(net),
            Ok(net) => {
                self.problem(raw.span(), format!("{field}: found {value}, whose host bits are set; expected the network address {}", net.trunc()));
                None
            }
            Err(_) => {
                self.problem(raw.span(), format!("{field}: found {value:?}, expected a prefix such as 192.0.2.0/24 or 2001:db8::/32"));
                None
            }
        }
    }
}

/// Control characters and Unicode bidirectional controls: they can make text in a terminal
/// or a firewall comment read differently from what it is ("Trojan Source").
fn is_forbidden_char(ch: char, multiline: bool) -> bool {
    let allowed_control = multiline && (ch == '\n' || ch == '\t');
    (ch.is_control() && !allowed_control)
        || crate::term::is_bidi_control(ch)
        || ch == '\u{2028}'
        || ch == '\u{2029}'
}

/// A short description of a TOML value for messages.
pub(crate) fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(dt) => dt.to_string(),
        toml::Value::Array(_) => "an array".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}
