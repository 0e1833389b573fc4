//! Firewall rules: a dialect-neutral rule set, and one small renderer per firewall dialect.
//!
//! [`RuleSet`] is the allow-list the provider's table implies: for each (environment,
//! protocol, port), the destination prefixes (aggregated, without duplicates) and the host
//! names, each rule carrying its origins (service, host, comment, expiry) so every dialect can
//! say where a rule comes from and when it can go. It is built either from a catalog
//! ([`RuleSet::from_catalog`], what `egresscheck rules` prints) or from arbitrary entries
//! ([`RuleSet::from_entries`], what `egresscheck check` uses for the rules it found missing).
//! Building is pure: the as-of date and the generation time are parameters.
//!
//! Aggregation happens per (environment, protocol, port, family): prefixes of different
//! services in one environment may fold together (the rule's comment then lists each origin),
//! but prefixes of different environments never do. That keeps every rule's environment
//! exact, so the test rules can be removed without touching production, at the price of a
//! prefix appearing once per environment that documents it.
//!
//! [`Format`] lists the dialects; each lives in its own file behind the `Dialect` trait of
//! `render.rs`, which writes the shared header and leaves the syntax to the dialect.

mod aggregate;
pub mod diff;
pub mod escape;
mod objects;
mod render;

mod aws;
mod aws_network_firewall;
mod aws_prefix_list;
mod azure;
mod azure_firewall;
mod azure_terraform;
mod cilium;
mod cisco_asa;
mod csv;
mod dnsmasq_nftset;
mod edl_domain;
mod edl_ip;
mod firewalld;
mod fortigate;
mod fqdn;
mod gcp;
mod gcp_ngfw;
mod gcp_terraform;
mod ipset;
mod iptables;
mod json;
mod k8s;
mod nftables;
mod panos;
mod pf;
mod squid;
mod srx;
mod terraform;
mod ufw;
mod windows;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use ipnet::IpNet;
use serde::Serialize;

use crate::catalog::{
    BroadPrefix, Catalog, DnsName, EnvId, HostPattern, Port, Protocol, ServiceId,
};

pub use diff::Diff;
pub use render::Format;

/// How many origins a rule names before it says "+N more".
pub const MAX_ORIGINS_SHOWN: usize = 4;

/// Which catalog entries contribute rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The addresses and host names of endpoints and legacy endpoints (least privilege).
    #[default]
    Addresses,
    /// Only the documented subnets (each opens every service of the provider in it).
    Subnets,
    /// Both.
    All,
}

impl Scope {
    fn endpoints(self) -> bool {
        matches!(self, Scope::Addresses | Scope::All)
    }
    fn subnets(self) -> bool {
        matches!(self, Scope::Subnets | Scope::All)
    }
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Addresses => "addresses",
            Scope::Subnets => "subnets",
            Scope::All => "all",
        }
    }
}

pub use crate::catalog::Family;

/// What to build rules for. Empty lists mean all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Environments (ids), in any order; the rule set follows catalog order.
    pub environments: Vec<EnvId>,
    /// Services (ids).
    pub services: Vec<ServiceId>,
    /// Which entries contribute.
    pub scope: Scope,
    /// Which address families.
    pub family: Family,
    /// The date legacy sunsets are judged against.
    pub as_of: NaiveDate,
    /// Keep legacy entries past their sunset (with their "remove after" comment).
    pub include_expired: bool,
    /// When the rules were generated, for the header; `None` leaves it out.
    pub generated: Option<DateTime<Utc>>,
    /// Where the nftables-family dialects put their sets (`--nft-sets`).
    pub nft: NftTarget,
    /// The header as comment lines in formats that leave it out by default (csv).
    pub comments: bool,
}

impl Options {
    /// All environments and services, default scope and families, as of `as_of`, no timestamp.
    pub fn new(as_of: NaiveDate) -> Options {
        Options {
            environments: Vec::new(),
            services: Vec::new(),
            scope: Scope::default(),
            family: Family::default(),
            as_of,
            include_expired: false,
            generated: None,
            nft: NftTarget::OwnTable,
            comments: false,
        }
    }
}

/// Where a rule lets traffic go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An address prefix (a single address is a /32 or /128).
    Prefix(IpNet),
    /// A host name or wildcard, with the concrete names known under it (the probe names of a
    /// wildcard; the name itself otherwise) for dialects that match exact names only.
    Host {
        /// The name or `*.` wildcard.
        pattern: HostPattern,
        /// Concrete names covered by the pattern.
        names: Vec<DnsName>,
    },
}

/// One allow-list entry before aggregation: the input of [`RuleSet::from_entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Environment it belongs to.
    pub environment: EnvId,
    /// Service it serves.
    pub service: ServiceId,
    /// Where traffic may go.
    pub destination: Destination,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Destination port.
    pub port: Port,
    /// The host the destination serves, for comments (`None` for a subnet).
    pub host: Option<HostPattern>,
    /// Free text for the comment (escaped for each dialect).
    pub comment: Option<String>,
    /// The day after which the rule can go (legacy sunset).
    pub expires: Option<NaiveDate>,
}

/// Where a rule comes from: one entry's service, host, comment and expiry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    /// Service.
    pub service: ServiceId,
    /// Host, when the entry has one.
    pub host: Option<HostPattern>,
    /// Free text (cleaned of control and formatting characters; dialects escape it further).
    pub comment: Option<String>,
    /// The day after which this origin's rule can go.
    pub expires: Option<NaiveDate>,
}

/// The origins of one rule: the first [`MAX_ORIGINS_SHOWN`] (permanent ones first), how many
/// more, and the rule's
/// expiry (the latest of its origins', none when any origin is permanent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origins {
    /// The first origins, sorted.
    pub shown: Vec<Origin>,
    /// How many more there are.
    pub omitted: usize,
    /// When the whole rule can go.
    pub expires: Option<NaiveDate>,
    /// What the rule opens beyond its origins, when it contains a prefix the data marks as
    /// broad (`[[broad_prefix]]`): every dialect's comment leads with it.
    pub broad: Option<String>,
}

impl Origins {
    /// The comment every dialect shows (before its own escaping), e.g.
    /// `prod: skatteetaten-api *.api.skatteetaten.no + maskinporten maskinporten.no`.
    pub fn describe(&self, environment: &EnvId) -> String {
        let mut parts = Vec::with_capacity(self.shown.len() + 1);
        for origin in &self.shown {
            let mut part = origin.service.to_string();
            if let Some(host) = &origin.host {
                part.push(' ');
                part.push_str(&host.to_string());
            }
            if let Some(date) = origin.expires {
                part.push_str(&format!(" (remove after {date})"));
            }
            if let Some(comment) = &origin.comment {
                part.push_str(" - ");
                part.push_str(comment);
            }
            parts.push(part);
        }
        if self.omitted > 0 {
            parts.push(format!("{} more", self.omitted));
        }
        match &self.broad {
            // First, so that a dialect's length limit never cuts the warning off.
            Some(broad) => format!("{environment}: BROAD, {broad} - {}", parts.join(" + ")),
            None => format!("{environment}: {}", parts.join(" + ")),
        }
    }

    /// The hosts named by the shown origins.
    pub fn hosts(&self) -> impl Iterator<Item = &HostPattern> {
        self.shown.iter().filter_map(|o| o.host.as_ref())
    }
}

/// The (environment, protocol, port) a group of rules shares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GroupKey {
    /// Environment.
    pub environment: EnvId,
    /// Protocol.
    pub protocol: Protocol,
    /// Port.
    pub port: Port,
}

/// One aggregated address rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRule {
    /// The destination prefix.
    pub prefix: IpNet,
    /// Where it comes from.
    pub origins: Origins,
}

impl AddressRule {
    /// The prefix as most firewalls write it: a bare address for a single host.
    pub fn host_or_prefix(&self) -> String {
        if self.prefix.prefix_len() == self.prefix.max_prefix_len() {
            self.prefix.addr().to_string()
        } else {
            self.prefix.to_string()
        }
    }
}

/// One host-name rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRule {
    /// The name or wildcard.
    pub pattern: HostPattern,
    /// Concrete names under it (probe names of a wildcard), sorted.
    pub names: Vec<DnsName>,
    /// Where it comes from.
    pub origins: Origins,
}

/// The address rules of one (environment, protocol, port, family), sorted by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressGroup {
    /// Shared environment, protocol and port.
    pub key: GroupKey,
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// The rules.
    pub rules: Vec<AddressRule>,
}

/// The host-name rules of one (environment, protocol, port), sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameGroup {
    /// Shared environment, protocol and port.
    pub key: GroupKey,
    /// The rules.
    pub rules: Vec<NameRule>,
}

/// An environment as the header names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvSummary {
    /// Id.
    pub id: EnvId,
    /// Display name.
    pub name: String,
}

/// A legacy entry left out because its sunset has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Environment.
    pub environment: EnvId,
    /// Service.
    pub service: ServiceId,
    /// The legacy host.
    pub host: DnsName,
    /// Its sunset.
    pub sunset: NaiveDate,
    /// Its prefixes (of the selected families).
    pub prefixes: Vec<IpNet>,
    /// Its ports.
    pub ports: Vec<Port>,
}

/// What every output's header states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Provider name (free text from the data file).
    pub provider: String,
    /// Data file version.
    pub data_version: String,
    /// URL of the provider's page the data comes from.
    pub source_url: Option<String>,
    /// Environments covered, in catalog order.
    pub environments: Vec<EnvSummary>,
    /// Services selected (empty: all).
    pub services: Vec<ServiceId>,
    /// Scope of the selection.
    pub scope: Scope,
    /// Families of the selection.
    pub family: Family,
    /// The date legacy sunsets were judged against.
    pub as_of: NaiveDate,
    /// Generation time, unless left out for reproducible output.
    pub generated: Option<DateTime<Utc>>,
    /// Whether the provider recommends hostname rules.
    pub prefer_hostname_rules: bool,
    /// One line on what these rules are for, when not the whole table (set by `check`).
    pub purpose: Option<String>,
    /// Legacy entries left out, past their sunset.
    pub removed: Vec<Removed>,
    /// Documented subnets left out by the scope.
    pub subnets_left_out: usize,
    /// The data's broad-prefix markings (all of them: rules are marked by those they contain).
    pub broad_prefixes: Vec<BroadPrefix>,
    /// Every environment id of the data file, selected or not: dialects that replace their
    /// own objects by name clean up those of every environment.
    pub all_environments: Vec<EnvId>,
    /// True for rules that add to the full rule set rather than state it (`check --rules`):
    /// dialects then add without replacing or removing anything.
    pub additive: bool,
    /// Every (environment, protocol, port) of the data file, selected or not: what a dialect
    /// that names its objects by content may have created before, and so may clean up.
    pub universe: Vec<GroupKey>,
    /// How the dialects of the nftables family write their output (`--nft-sets`).
    pub nft: NftTarget,
    /// Every host name the data file knows (hosts, probe names, legacy hosts; every
    /// environment, selected or not), for dialects whose domain matching reaches names under
    /// a listed one and must keep the others out.
    pub known_names: Vec<(EnvId, DnsName)>,
    /// The header as comment lines in formats that leave it out by default (csv).
    pub comments: bool,
}

/// Where the nftables-family dialects (nftables, dnsmasq-nftset) put their sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NftTarget {
    /// A table of their own, `inet egresscheck`, with its output chain.
    #[default]
    OwnTable,
    /// Named sets only, in the admin's own table (`--nft-sets FAMILY NAME`), whose chains
    /// refer to them.
    SetsIn {
        /// The table's family (`inet`, `ip`, `ip6`, ...).
        family: String,
        /// The table's name.
        table: String,
    },
}

impl Header {
    /// The header for rules built from `catalog` with `options` (its environments, services,
    /// scope, families, dates); `removed` and `subnets_left_out` start empty.
    pub fn for_catalog(catalog: &Catalog, options: &Options) -> Header {
        let environments = &options.environments;
        Header {
            provider: escape::clean(&catalog.data.provider),
            data_version: catalog.data.version.to_string(),
            source_url: catalog.primary_source().map(|s| s.url.clone()),
            environments: catalog
                .environments
                .iter()
                .filter(|e| environments.is_empty() || environments.contains(&e.id))
                .map(|e| EnvSummary {
                    id: e.id.clone(),
                    name: escape::clean(&e.name),
                })
                .collect(),
            services: options.services.clone(),
            scope: options.scope,
            family: options.family,
            as_of: options.as_of,
            generated: options.generated,
            prefer_hostname_rules: catalog.data.prefer_hostname_rules,
            purpose: None,
            removed: Vec::new(),
            subnets_left_out: 0,
            broad_prefixes: catalog.broad_prefixes.clone(),
            all_environments: catalog.environments.iter().map(|e| e.id.clone()).collect(),
            additive: false,
            universe: universe(catalog),
            nft: options.nft.clone(),
            known_names: known_names(catalog),
            comments: options.comments,
        }
    }

    /// The ids of the selected environments: what replace-safe dialects clean up.
    pub fn environment_ids(&self) -> Vec<&str> {
        self.environments.iter().map(|e| e.id.as_str()).collect()
    }

    /// The broad-prefix markings that `prefix` contains.
    pub fn broad_within(&self, prefix: &IpNet) -> impl Iterator<Item = &BroadPrefix> {
        let prefix = *prefix;
        self.broad_prefixes
            .iter()
            .filter(move |b| prefix.contains(&b.cidr))
    }
}

/// A dialect-neutral allow-list: header, address rules and host-name rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    /// What the header states.
    pub header: Header,
    /// Address rules, by environment (header order), protocol, port, then IPv4 before IPv6.
    pub addresses: Vec<AddressGroup>,
    /// Host-name rules, by environment, protocol and port.
    pub names: Vec<NameGroup>,
}

impl RuleSet {
    /// The rules the catalog documents for `options`.
    pub fn from_catalog(catalog: &Catalog, options: &Options) -> RuleSet {
        let wanted = |env: &EnvId, service: &ServiceId| {
            (options.environments.is_empty() || options.environments.contains(env))
                && (options.services.is_empty() || options.services.contains(service))
        };
        let family = |prefix: &IpNet| options.family.wants(is_v6(prefix));
        let mut header = Header::for_catalog(catalog, options);
        let mut entries = Vec::new();
        if options.scope.endpoints() {
            for e in catalog
                .endpoints
                .iter()
                .filter(|e| wanted(&e.environment, &e.service))
            {
                let base = EntryBase {
                    environment: &e.environment,
                    service: &e.service,
                    protocol: e.protocol,
                    ports: &e.ports,
                    host: Some(e.host.clone()),
                    comment: None,
                    expires: None,
                };
                let names = Destination::Host {
                    pattern: e.host.clone(),
                    names: e.probe.clone(),
                };
                let prefixes = e.addresses.iter().filter(family).map(Destination::Prefix);
                entries.extend(base.entries(std::iter::once(names).chain(prefixes)));
            }
            for l in catalog
                .legacy
                .iter()
                .filter(|l| wanted(&l.environment, &l.service))
            {
                let prefixes: Vec<IpNet> = l.addresses.iter().filter(family).collect();
                if l.is_past_sunset(options.as_of) && !options.include_expired {
                    header.removed.push(Removed {
                        environment: l.environment.clone(),
                        service: l.service.clone(),
                        host: l.host.clone(),
                        sunset: l.sunset,
                        prefixes,
                        ports: l.ports.clone(),
                    });
                    continue;
                }
                let base = EntryBase {
                    environment: &l.environment,
                    service: &l.service,
                    protocol: l.protocol,
                    ports: &l.ports,
                    host: Some(HostPattern::Exact(l.host.clone())),
                    comment: Some(match &l.replaced_by {
                        Some(by) => format!("legacy, replaced by {by}"),
                        None => "legacy".to_owned(),
                    }),
                    expires: Some(l.sunset),
                };
                let names = Destination::Host {
                    pattern: HostPattern::Exact(l.host.clone()),
                    names: vec![l.host.clone()],
                };
                let prefixes = prefixes.into_iter().map(Destination::Prefix);
                entries.extend(base.entries(std::iter::once(names).chain(prefixes)));
            }
        }
        for s in catalog
            .subnets
            .iter()
            .filter(|s| wanted(&s.environment, &s.service) && family(&s.cidr))
        {
            if !options.scope.subnets() {
                header.subnets_left_out += 1;
                continue;
            }
            let base = EntryBase {
                environment: &s.environment,
                service: &s.service,
                protocol: s.protocol,
                ports: &s.ports,
                host: None,
                comment: Some(format!("subnet: {}", s.covers)),
                expires: None,
            };
            entries.extend(base.entries([Destination::Prefix(s.cidr)]));
        }
        RuleSet::from_entries(header, entries)
    }

    /// Aggregates arbitrary entries into a rule set under `header`. Environments missing from
    /// the header sort after those it lists, by id.
    pub fn from_entries(header: Header, entries: impl IntoIterator<Item = Entry>) -> RuleSet {
        let mut labels = Labels::default();
        let mut address_buckets: HashMap<(GroupKey, bool), Vec<(IpNet, LabelSet)>> = HashMap::new();
        let mut name_buckets: HashMap<GroupKey, HashMap<HostPattern, NameAcc>> = HashMap::new();
        for entry in entries {
            let label = labels.intern(Origin {
                service: entry.service,
                host: entry.host,
                comment: entry
                    .comment
                    .map(|c| escape::clean(&c))
                    .filter(|c| !c.is_empty()),
                expires: entry.expires,
            });
            let key = GroupKey {
                environment: entry.environment,
                protocol: entry.protocol,
                port: entry.port,
            };
            match entry.destination {
                Destination::Prefix(prefix) => {
                    let v6 = is_v6(&prefix);
                    address_buckets
                        .entry((key, v6))
                        .or_default()
                        .push((prefix.trunc(), LabelSet::one(label)));
                }
                Destination::Host { pattern, names } => {
                    let acc = name_buckets
                        .entry(key)
                        .or_default()
                        .entry(pattern)
                        .or_default();
                    acc.names.extend(names);
                    acc.labels.insert(label);
                }
            }
        }
        let order = |env: &EnvId| {
            header
                .environments
                .iter()
                .position(|e| &e.id == env)
                .unwrap_or(usize::MAX)
        };
        let mut addresses: Vec<AddressGroup> = address_buckets
            .into_iter()
            .map(|((key, v6), items)| AddressGroup {
                rules: aggregate::aggregate(items, LabelSet::merge)
                    .into_iter()
                    .map(|(prefix, set)| {
                        let mut origins = labels.origins(&set);
                        origins.broad = broad_text(&header, &prefix);
                        AddressRule { prefix, origins }
                    })
                    .collect(),
                key,
                v6,
            })
            .collect();
        addresses.sort_by(|a, b| {
            (order(&a.key.environment), &a.key, a.v6).cmp(&(
                order(&b.key.environment),
                &b.key,
                b.v6,
            ))
        });
        let mut names: Vec<NameGroup> = name_buckets
            .into_iter()
            .map(|(key, by_pattern)| {
                let mut rules: Vec<NameRule> = by_pattern
                    .into_iter()
                    .map(|(pattern, acc)| NameRule {
                        names: acc.names.into_iter().collect(),
                        origins: labels.origins(&acc.labels),
                        pattern,
                    })
                    .collect();
                rules.sort_by(|a, b| name_order(&a.pattern).cmp(&name_order(&b.pattern)));
                NameGroup { key, rules }
            })
            .collect();
        names.sort_by(|a, b| {
            (order(&a.key.environment), &a.key).cmp(&(order(&b.key.environment), &b.key))
        });
        RuleSet {
            header,
            addresses,
            names,
        }
    }

    /// Address groups of one family.
    pub fn addresses_of(&self, v6: bool) -> impl Iterator<Item = &AddressGroup> {
        self.addresses.iter().filter(move |g| g.v6 == v6)
    }

    /// Every (environment, protocol, port) with rules of either kind, in rule-set order.
    pub fn keys(&self) -> Vec<&GroupKey> {
        let mut keys: Vec<&GroupKey> = Vec::new();
        for key in self
            .addresses
            .iter()
            .map(|g| &g.key)
            .chain(self.names.iter().map(|g| &g.key))
        {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let order = |env: &EnvId| {
            self.header
                .environments
                .iter()
                .position(|e| &e.id == env)
                .unwrap_or(usize::MAX)
        };
        keys.sort_by(|a, b| (order(&a.environment), *a).cmp(&(order(&b.environment), *b)));
        keys
    }

    /// The environments that have rules, in header order.
    pub fn environments(&self) -> Vec<&EnvId> {
        let mut envs: Vec<&EnvId> = Vec::new();
        for key in self.keys() {
            if !envs.contains(&&key.environment) {
                envs.push(&key.environment);
            }
        }
        envs
    }

    /// Number of address rules.
    pub fn address_count(&self) -> usize {
        self.addresses.iter().map(|g| g.rules.len()).sum()
    }

    /// Number of host-name rules.
    pub fn name_count(&self) -> usize {
        self.names.iter().map(|g| g.rules.len()).sum()
    }

    /// The broad-prefix warnings of the header, one line each (for formats that leave their
    /// header out, to say on standard error).
    pub fn broad_warnings(&self) -> Vec<String> {
        render::broad_lines(self, escape::Charset::Unicode)
    }

    /// The broad-prefix markings some address rule contains, each once, with the
    /// environments whose rules hold it.
    pub fn broad_in_use(&self) -> Vec<(&BroadPrefix, Vec<&EnvId>)> {
        let mut found: Vec<(&BroadPrefix, Vec<&EnvId>)> = Vec::new();
        for group in &self.addresses {
            for rule in &group.rules {
                for broad in self.header.broad_within(&rule.prefix) {
                    match found.iter_mut().find(|(b, _)| b.cidr == broad.cidr) {
                        Some((_, envs)) if envs.contains(&&group.key.environment) => {}
                        Some((_, envs)) => envs.push(&group.key.environment),
                        None => found.push((broad, vec![&group.key.environment])),
                    }
                }
            }
        }
        found
    }
}

/// Every host name the catalog knows, with its environment, sorted, each once.
fn known_names(catalog: &Catalog) -> Vec<(EnvId, DnsName)> {
    let endpoints = catalog.endpoints.iter().flat_map(|e| {
        let exact = match &e.host {
            HostPattern::Exact(name) => Some(name.clone()),
            HostPattern::Wildcard(_) => None,
        };
        exact
            .into_iter()
            .chain(e.probe.iter().cloned())
            .map(|name| (e.environment.clone(), name))
    });
    let legacy = catalog
        .legacy
        .iter()
        .map(|l| (l.environment.clone(), l.host.clone()));
    let names: BTreeSet<(EnvId, DnsName)> = endpoints.chain(legacy).collect();
    names.into_iter().collect()
}

/// Every (environment, protocol, port) the catalog documents, sorted.
fn universe(catalog: &Catalog) -> Vec<GroupKey> {
    let endpoints = catalog
        .endpoints
        .iter()
        .map(|e| (&e.environment, e.protocol, &e.ports));
    let legacy = catalog
        .legacy
        .iter()
        .map(|l| (&l.environment, l.protocol, &l.ports));
    let subnets = catalog
        .subnets
        .iter()
        .map(|s| (&s.environment, s.protocol, &s.ports));
    let keys: BTreeSet<GroupKey> = endpoints
        .chain(legacy)
        .chain(subnets)
        .flat_map(|(environment, protocol, ports)| {
            ports.iter().map(move |port| GroupKey {
                environment: environment.clone(),
                protocol,
                port: *port,
            })
        })
        .collect();
    keys.into_iter().collect()
}

/// What a rule for `prefix` opens beyond its origins, from the broad prefixes it contains.
fn broad_text(header: &Header, prefix: &IpNet) -> Option<String> {
    let parts: Vec<String> = header
        .broad_within(prefix)
        .map(|b| {
            if b.cidr == *prefix {
                format!("opens {}", b.opens)
            } else {
                format!("holds {} which opens {}", b.cidr, b.opens)
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// What the entries of one catalog entry share: everything but port and destination.
struct EntryBase<'a> {
    environment: &'a EnvId,
    service: &'a ServiceId,
    protocol: Protocol,
    ports: &'a [Port],
    host: Option<HostPattern>,
    comment: Option<String>,
    expires: Option<NaiveDate>,
}

impl EntryBase<'_> {
    /// One entry per port and destination.
    fn entries(&self, destinations: impl IntoIterator<Item = Destination>) -> Vec<Entry> {
        let mut out = Vec::new();
        for destination in destinations {
            for port in self.ports {
                out.push(Entry {
                    environment: self.environment.clone(),
                    service: self.service.clone(),
                    destination: destination.clone(),
                    protocol: self.protocol,
                    port: *port,
                    host: self.host.clone(),
                    comment: self.comment.clone(),
                    expires: self.expires,
                });
            }
        }
        out
    }
}

/// Names sort by their base name from the top-level label down, so a wildcard sits next to
/// the names under it; an exact name sorts before a wildcard with the same base.
fn name_order(pattern: &HostPattern) -> (Vec<&str>, bool) {
    let labels: Vec<&str> = pattern.base().as_str().rsplit('.').collect();
    (labels, pattern.is_wildcard())
}

fn is_v6(prefix: &IpNet) -> bool {
    matches!(prefix, IpNet::V6(_))
}

/// The distinct origins seen, each interned once: rules refer to them by index, so merging
/// the origins of 100,000 prefixes copies integers, not strings.
#[derive(Debug, Default)]
struct Labels {
    list: Vec<Origin>,
    index: HashMap<Origin, u32>,
}

impl Labels {
    fn intern(&mut self, origin: Origin) -> u32 {
        if let Some(id) = self.index.get(&origin) {
            return *id;
        }
        // More than 4 billion distinct origins cannot be loaded; saturate rather than wrap.
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(origin.clone());
        self.index.insert(origin, id);
        id
    }

    fn origins(&self, set: &LabelSet) -> Origins {
        let mut all: Vec<&Origin> = set.0.iter().filter_map(|id| self.get(*id)).collect();
        // Permanent origins first: they are why the rule stays.
        all.sort_by_key(|o| (o.expires.is_some(), *o));
        let permanent = all.iter().any(|o| o.expires.is_none());
        let expires = if permanent {
            None
        } else {
            all.iter().filter_map(|o| o.expires).max()
        };
        Origins {
            omitted: all.len().saturating_sub(MAX_ORIGINS_SHOWN),
            shown: all.into_iter().take(MAX_ORIGINS_SHOWN).cloned().collect(),
            expires,
            broad: None,
        }
    }

    fn get(&self, id: u32) -> Option<&Origin> {
        self.list.get(usize::try_from(id).ok()?)
    }
}

/// The origins of one rule during aggregation, merged small into large.
#[derive(Debug, Default)]
struct LabelSet(BTreeSet<u32>);

impl LabelSet {
    fn one(id: u32) -> LabelSet {
        LabelSet(BTreeSet::from([id]))
    }

    fn insert(&mut self, id: u32) {
        self.0.insert(id);
    }

    fn merge(into: &mut LabelSet, mut from: LabelSet) {
        if from.0.len() > into.0.len() {
            std::mem::swap(&mut into.0, &mut from.0);
        }
        into.0.extend(from.0);
    }
}

/// Names and origins collected for one host pattern.
#[derive(Debug, Default)]
struct NameAcc {
    names: BTreeSet<DnsName>,
    labels: LabelSet,
}

/// Why rules cannot be produced as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// `--diff` with a dialect that only states a whole rule set.
    #[error(
        "--format {format} cannot express a diff (its rules are declarative: apply the full output for the new data instead); --diff supports: {supported}"
    )]
    DiffUnsupported {
        /// The format asked for.
        format: &'static str,
        /// The formats that support diffs.
        supported: String,
    },
}

#[cfg(test)]
mod tests;
