//! The typed, validated form of a data file.
//!
//! Everything downstream (plan, audit, rules, the `data` commands) reads these types and
//! never the raw TOML, so every invariant stated here has been checked by the loader: ids
//! are unique and referenced ids exist, prefixes have no host bits set, host names are
//! valid DNS names, ports are in 1–65535, free text holds no control characters.

use std::fmt;
use std::net::IpAddr;

use chrono::NaiveDate;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

use super::names::{DnsName, HostPattern};

/// The data file formats this build understands.
pub const SUPPORTED_SCHEMAS: &[u32] = &[1];

/// A validated provider table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The `schema` the file declared.
    pub schema: u32,
    /// Where the file came from (a path, `-` or `<bundled>`), for messages.
    pub origin: String,
    /// Provider name and versioning.
    pub data: DataInfo,
    /// Published documents the entries cite.
    pub sources: Vec<Source>,
    /// Environments, in file order.
    pub environments: Vec<Environment>,
    /// Services, in file order.
    pub services: Vec<Service>,
    /// Current endpoints (hosts or wildcard hosts with their addresses).
    pub endpoints: Vec<Endpoint>,
    /// Subnets a provider documents as a whole.
    pub subnets: Vec<Subnet>,
    /// Retired or retiring endpoints with a sunset date.
    pub legacy: Vec<Legacy>,
    /// OAuth2 authorization servers that hand out the tokens the APIs need (Maskinporten),
    /// at most one per environment and service.
    pub authorization_servers: Vec<AuthorizationServer>,
    /// Documented prefixes that open more than the services listing them.
    pub broad_prefixes: Vec<BroadPrefix>,
    /// Notes that apply to the whole table.
    pub notes: Vec<Note>,
    /// Versions of this data file, newest first.
    pub changelog: Vec<ChangelogEntry>,
}

/// Provider and version of a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataInfo {
    /// Display name of the provider, e.g. "Skatteetaten".
    pub provider: String,
    /// Version of this data file.
    pub version: DataVersion,
    /// The source the table is primarily built from (the provider's page).
    pub primary_source: SourceId,
    /// Whether the provider recommends hostname (FQDN) rules over address rules.
    pub prefer_hostname_rules: bool,
}

/// A data file version: `YYYY-MM-DD.N`, the date the data was made and a serial.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataVersion {
    /// The date part.
    pub date: NaiveDate,
    /// The serial within that date, from 1.
    pub serial: u32,
}

impl fmt::Display for DataVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.date.format("%Y-%m-%d"), self.serial)
    }
}

impl Serialize for DataVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub(crate) String);

        impl $name {
            /// The id as written in the data file.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// Id of an environment (`[a-z0-9][a-z0-9-]*`), e.g. `prod`.
    EnvId
);
id_newtype!(
    /// Id of a service, e.g. `skatteetaten-api`.
    ServiceId
);
id_newtype!(
    /// Id of a source document, e.g. `sikkerhet-2026-02-09`.
    SourceId
);

/// A published document entries are taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Id entries cite.
    pub id: SourceId,
    /// Who published it (may differ from the provider, e.g. Digdir for Maskinporten).
    pub publisher: String,
    /// Title of the document.
    pub title: String,
    /// Where it is published.
    pub url: String,
    /// Version control commit or page version, when known.
    pub commit: Option<String>,
    /// The date the document itself states (e.g. its `last_updated`).
    pub document_date: Option<NaiveDate>,
    /// When the maintainer read it.
    pub retrieved: Option<NaiveDate>,
    /// What is known about this document (staleness, errors in it).
    pub note: Option<String>,
}

/// An environment such as test or production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    /// Id used on the command line and in references.
    pub id: EnvId,
    /// Display name.
    pub name: String,
    /// Other names the provider uses for it ("Produksjon", "Preprod", "Test++").
    pub aliases: Vec<String>,
}

impl Environment {
    /// True when `word` names this environment: its id, name or an alias, ignoring case.
    pub fn is_named(&self, word: &str) -> bool {
        self.id.as_str().eq_ignore_ascii_case(word)
            || self.name.to_lowercase() == word.to_lowercase()
            || self
                .aliases
                .iter()
                .any(|a| a.to_lowercase() == word.to_lowercase())
    }
}

/// A service reached through the endpoints (the provider's API, its token issuer, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Id used on the command line and in references.
    pub id: ServiceId,
    /// Display name.
    pub name: String,
    /// Who operates it.
    pub operator: Option<String>,
}

/// Transport protocol of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (HTTPS and everything this tool probes).
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// Lowercase name as used by most firewalls.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TCP or UDP port, never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Port(pub(crate) u16);

impl Port {
    /// The port number (1–65535).
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Read back from reports (a baseline): 1–65535, as in the data.
impl<'de> serde::Deserialize<'de> for Port {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u16::deserialize(deserializer)?;
        Port::try_from(value)
            .map_err(|_| serde::de::Error::custom("port 0, expected a port from 1 to 65535"))
    }
}

impl TryFrom<u16> for Port {
    type Error = u16;
    fn try_from(value: u16) -> Result<Self, u16> {
        if value == 0 {
            Err(value)
        } else {
            Ok(Port(value))
        }
    }
}

/// Address family filter (`--family` of `probe`, `check` and `rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
    /// Both (the default).
    #[default]
    Both,
}

impl Family {
    /// True when `addr` passes the filter.
    pub fn admits(self, addr: &IpAddr) -> bool {
        self.wants(addr.is_ipv6())
    }

    /// True when the family (IPv6 when `v6`) is wanted.
    pub fn wants(self, v6: bool) -> bool {
        match self {
            Family::V4 => !v6,
            Family::V6 => v6,
            Family::Both => true,
        }
    }

    /// The families wanted, IPv4 first (`false` is IPv4).
    pub fn each(self) -> impl Iterator<Item = bool> {
        [false, true].into_iter().filter(move |v6| self.wants(*v6))
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "4",
            Family::V6 => "6",
            Family::Both => "both",
        }
    }
}

/// Address prefixes of an entry, split by family as in the data file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// IPv4 prefixes (a bare address is a /32).
    pub ipv4: Vec<Ipv4Net>,
    /// IPv6 prefixes (a bare address is a /128).
    pub ipv6: Vec<Ipv6Net>,
}

impl Addresses {
    /// All prefixes, IPv4 first, in file order.
    pub fn iter(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.ipv4
            .iter()
            .map(|n| IpNet::V4(*n))
            .chain(self.ipv6.iter().map(|n| IpNet::V6(*n)))
    }

    /// The prefixes that are single addresses (/32, /128): the ones worth probing.
    pub fn single_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.iter()
            .filter(|n| n.prefix_len() == n.max_prefix_len())
            .map(|n| n.addr())
    }

    /// True when some prefix contains `addr`.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.iter().any(|n| n.contains(&addr))
    }

    /// True when there are no prefixes at all.
    pub fn is_empty(&self) -> bool {
        self.ipv4.is_empty() && self.ipv6.is_empty()
    }
}

/// A documented endpoint: a host (or wildcard) with its addresses and ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Environment it belongs to.
    pub environment: EnvId,
    /// Service it provides.
    pub service: ServiceId,
    /// Host name or `*.` wildcard.
    pub host: HostPattern,
    /// Concrete names to resolve and probe: the host itself when it is not a wildcard,
    /// else the listed names under the wildcard.
    pub probe: Vec<DnsName>,
    /// Documented addresses and prefixes.
    pub addresses: Addresses,
    /// Documented ports.
    pub ports: Vec<Port>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Source document the entry comes from.
    pub source: SourceId,
    /// Free-text note.
    pub note: Option<String>,
    /// The HTTP request to send after TLS, and what its answer must be.
    pub http: Option<super::HttpCheck>,
}

/// A subnet the provider documents as a whole (opening it covers many services).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// Environment it belongs to.
    pub environment: EnvId,
    /// Service it is listed under.
    pub service: ServiceId,
    /// The prefix.
    pub cidr: IpNet,
    /// Documented ports.
    pub ports: Vec<Port>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// What opening it covers, in the provider's words.
    pub covers: String,
    /// Source document the entry comes from.
    pub source: SourceId,
}

/// An endpoint that is retired or will be, by a sunset date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Legacy {
    /// Environment it belonged to.
    pub environment: EnvId,
    /// Service it provided.
    pub service: ServiceId,
    /// The legacy host name (never a wildcard).
    pub host: DnsName,
    /// Its documented addresses.
    pub addresses: Addresses,
    /// Its documented ports.
    pub ports: Vec<Port>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The day after which it is gone.
    pub sunset: NaiveDate,
    /// How the sunset date was established (which sources, which reasoning).
    pub sunset_basis: String,
    /// What replaces it, a host or wildcard.
    pub replaced_by: Option<HostPattern>,
    /// Source document the entry comes from.
    pub source: SourceId,
    /// Free-text note.
    pub note: Option<String>,
}

impl Legacy {
    /// True when `as_of` is after the sunset date.
    pub fn is_past_sunset(&self, as_of: NaiveDate) -> bool {
        as_of > self.sunset
    }
}

/// An OAuth2 authorization server (RFC 8414 metadata) that issues the tokens a provider's
/// APIs expect, with what `egresscheck token` needs to judge a client against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationServer {
    /// Environment it serves.
    pub environment: EnvId,
    /// Service it belongs to (its host is one of that service's endpoints).
    pub service: ServiceId,
    /// Its metadata document, `https://HOST[:PORT]/.well-known/oauth-authorization-server`.
    pub metadata_url: HttpsUrl,
    /// The issuer its metadata must state: the `aud` of every grant sent to it.
    pub issuer: String,
    /// Issuers of the enterprise certificates this environment accepts, as patterns over
    /// the issuer's common name (`*` matches any run of characters, case ignored). Empty:
    /// certificates are not judged by issuer.
    pub certificate_issuers: Vec<IssuerPattern>,
    /// Scope prefixes of the provider's APIs (`skatteetaten:`) that `api_audience` applies to.
    pub api_scope_prefixes: Vec<String>,
    /// What audience the provider's APIs expect in tokens for those scopes.
    pub api_audience: ApiAudience,
    /// Source document the entry comes from.
    pub source: SourceId,
    /// Free-text note.
    pub note: Option<String>,
}

/// An `https://` URL whose host is a valid DNS name, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl {
    /// The whole URL as written.
    pub url: String,
    /// The host.
    pub host: DnsName,
    /// The port (443 unless given).
    pub port: Port,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl HttpsUrl {
    /// Parses `https://HOST[:PORT][/PATH]` with a DNS host name; `None` for anything else
    /// (other schemes, user info, IP literals, bad ports).
    pub fn parse(text: &str) -> Option<HttpsUrl> {
        let rest = text.strip_prefix("https://")?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (rest.get(..i)?, rest.get(i..)?),
            None => (rest, ""),
        };
        if authority.contains('@') || path.contains('#') {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let number: u16 = port.parse().ok()?;
                (host, Port::try_from(number).ok()?)
            }
            None => (authority, Port(443)),
        };
        let host = DnsName::parse(host).ok()?;
        let path = if path.is_empty() || path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Some(HttpsUrl {
            url: text.to_owned(),
            host,
            port,
            path,
        })
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// A pattern over a certificate issuer's common name: `*` matches any run of characters,
/// letters match either case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct IssuerPattern(pub(crate) String);

impl IssuerPattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `issuer` matches the whole pattern.
    pub fn matches(&self, issuer: &str) -> bool {
        let text: Vec<char> = issuer.to_lowercase().chars().collect();
        let pattern: Vec<char> = self.0.to_lowercase().chars().collect();
        glob(&pattern, &text)
    }

    /// How specific the pattern is: its characters other than `*`. Of two environments whose
    /// patterns match one issuer, the more specific pattern decides.
    pub fn specificity(&self) -> usize {
        self.0.chars().filter(|c| *c != '*').count()
    }
}

/// `*`-only glob matching, iterative with one backtrack point (linear in practice, never
/// exponential).
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some('*'), _) => {
                star = Some((p, t));
                p += 1;
            }
            (Some(pc), Some(tc)) if pc == tc => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// The audience a provider's APIs expect in a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiAudience {
    /// Whatever the client asks for (the default).
    #[default]
    Any,
    /// No audience: the grant must not carry `resource`, and a token with `aud` is refused
    /// (Skatteetaten: "Resource … skal ikke settes", the audience is "unspecified").
    Unspecified,
}

impl ApiAudience {
    /// The word used in data files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiAudience::Any => "any",
            ApiAudience::Unspecified => "unspecified",
        }
    }
}

/// A documented prefix that opens more than the services the table lists under it (a
/// provider's whole address block, say): every rule that contains it says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BroadPrefix {
    /// The prefix, as documented by an endpoint, legacy entry or subnet of the same file.
    pub cidr: IpNet,
    /// What else opening it lets through, in the provider's words.
    pub opens: String,
    /// Source document that says so.
    pub source: SourceId,
    /// Free-text note.
    pub note: Option<String>,
}

/// A note on the whole table, with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// The note.
    pub text: String,
    /// Source it comes from, when it paraphrases one.
    pub source: Option<SourceId>,
}

/// One version of the data file in its change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangelogEntry {
    /// The data version.
    pub version: DataVersion,
    /// What changed.
    pub changes: Vec<String>,
}

impl Catalog {
    /// The environment with this id, name or alias (ids first, then names and aliases).
    pub fn find_environment(&self, word: &str) -> Option<&Environment> {
        self.environments
            .iter()
            .find(|e| e.id.as_str() == word)
            .or_else(|| self.environments.iter().find(|e| e.is_named(word)))
    }

    /// The service with this id or name.
    pub fn find_service(&self, word: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.id.as_str() == word || s.name.eq_ignore_ascii_case(word))
    }

    /// The environment with this id. Every `EnvId` in a catalog refers to one.
    pub fn environment(&self, id: &EnvId) -> Option<&Environment> {
        self.environments.iter().find(|e| &e.id == id)
    }

    /// The service with this id. Every `ServiceId` in a catalog refers to one.
    pub fn service(&self, id: &ServiceId) -> Option<&Service> {
        self.services.iter().find(|s| &s.id == id)
    }

    /// The source with this id. Every `SourceId` in a catalog refers to one.
    pub fn source(&self, id: &SourceId) -> Option<&Source> {
        self.sources.iter().find(|s| &s.id == id)
    }

    /// The authorization server of `environment` (the first, when several services have
    /// one).
    pub fn authorization_server(&self, environment: &EnvId) -> Option<&AuthorizationServer> {
        self.authorization_servers
            .iter()
            .find(|a| &a.environment == environment)
    }

    /// The primary source (the provider's page the table is built from).
    pub fn primary_source(&self) -> Option<&Source> {
        self.source(&self.data.primary_source)
    }

    /// The marked broad prefixes that `prefix` opens: those equal to it or inside it.
    pub fn broad_prefixes_opened_by(&self, prefix: &IpNet) -> Vec<&BroadPrefix> {
        self.broad_prefixes
            .iter()
            .filter(|b| prefix.contains(&b.cidr))
            .collect()
    }

    /// Environments whose documented addresses, prefixes or subnets contain `addr`. For many
    /// questions about one catalog, build an [`AddressIndex`](super::AddressIndex) once.
    pub fn environments_documenting(&self, addr: IpAddr) -> Vec<&EnvId> {
        super::AddressIndex::new(self).environments(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_patterns_match_whole_names_ignoring_case() {
        let p = IssuerPattern("Buypass Class 3 Test4 CA*".to_owned());
        assert!(p.matches("Buypass Class 3 Test4 CA G2 ST Business"));
        assert!(p.matches("BUYPASS CLASS 3 TEST4 CA 3"));
        assert!(!p.matches("Buypass Class 3 CA G2 ST Business"));
        assert!(!p.matches("x Buypass Class 3 Test4 CA"));
        let mid = IssuerPattern("Commfides*TEST*".to_owned());
        assert!(mid.matches("Commfides Legal Person - G3 TEST"));
        assert!(!mid.matches("Commfides Legal Person - G3"));
        assert_eq!(mid.specificity(), 13);
        // Many stars over a long near-miss stays fast (one backtrack point).
        let stars = IssuerPattern("*a*a*a*a*a*a*a*a*b".to_owned());
        assert!(!stars.matches(&"a".repeat(5000)));
    }

    #[test]
    fn https_urls_are_split_and_everything_else_refused() {
        let u =
            HttpsUrl::parse("https://test.maskinporten.no/.well-known/oauth-authorization-server")
                .unwrap();
        assert_eq!(u.host.as_str(), "test.maskinporten.no");
        assert_eq!(u.port.get(), 443);
        assert_eq!(u.path, "/.well-known/oauth-authorization-server");
        let u = HttpsUrl::parse("https://auth.test:8443").unwrap();
        assert_eq!((u.port.get(), u.path.as_str()), (8443, "/"));
        let u = HttpsUrl::parse("https://auth.test?x=1").unwrap();
        assert_eq!(u.path, "/?x=1");
        for bad in [
            "http://auth.test/",
            "https://user@auth.test/",
            "https://127.0.0.1/",
            "https://auth.test:0/",
            "https://auth.test:99999/",
            "https://auth.test/#frag",
            "https:///path",
        ] {
            assert_eq!(HttpsUrl::parse(bad), None, "{bad}");
        }
    }
}
