//! DNS: A and AAAA lookups with hickory-resolver, turned into [`DnsLookup`] observations.
//!
//! The resolver sits behind the small [`Resolve`] trait so the engine's logic runs against a
//! fake in tests. Hickory's errors become a [`DnsOutcome`] in one place, [`classify`], using
//! its predicates (`is_nx_domain`, `is_no_records_found`) and its stable metrics labels rather
//! than deep matches on its error types, which change between versions.
//!
//! By default the system configuration is used (`/etc/resolv.conf` and the hosts file).
//! `--resolver` replaces it: only the given servers are asked, over UDP with TCP as the
//! fallback, and the hosts file is not consulted, because an admin naming a resolver wants
//! that resolver's answer.
//!
//! With one name server, a lookup first asks it once over UDP itself ([`exchange`]), which
//! costs a fraction of hickory's resolver machinery, and falls back to hickory for every case
//! that needs more than one clean exchange. An ICMP error for that query (nothing listens on
//! the server's port, no route to it) ends the lookup at once, with what it means.

mod exchange;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
    ServerOrderingStrategy,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::ProtoError;
use hickory_resolver::proto::op::{DnsRequestOptions, Message, Query};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{Hosts, TokioResolver};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use self::exchange::{UdpServer, Unreachable};

/// What the direct exchange says about one question: its response, `None` when hickory must
/// ask, or why the server cannot answer.
type Direct = Result<Option<Message>, Unreachable>;

use crate::catalog::{DnsName, Family};
use crate::probe::ProbeError;
use crate::probe::model::{DnsAnswer, DnsLookup, DnsOutcome};
use crate::probe::options::{Millis, ProbeOptions};
use crate::term::sanitize;

/// Retries after a failed try (hickory's `attempts`): two tries per query, each with half
/// of the DNS timeout.
const DNS_RETRIES: usize = 1;
/// Responses hickory caches: none. A run asks each name once per type, so a cache never
/// answers, and keeping one (hickory's is a concurrent cache with its own bookkeeping) costs
/// about a quarter of the client's DNS work.
const DNS_CACHE_SIZE: u64 = 0;

/// Which address record to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// IPv4 (`A`).
    A,
    /// IPv6 (`AAAA`).
    Aaaa,
}

impl RecordKind {
    /// `A` or `AAAA`, as the observation records it.
    pub fn label(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
        }
    }

    fn record_type(self) -> RecordType {
        match self {
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
        }
    }
}

/// Something that answers address lookups: hickory in production, a fake in tests.
///
/// Implementations report every failure inside the returned [`DnsLookup`]; the engine adds
/// its own timeout around each call.
pub trait Resolve: Send + Sync + 'static {
    /// Looks up the `kind` records of `name`.
    fn lookup(&self, name: &DnsName, kind: RecordKind) -> impl Future<Output = DnsLookup> + Send;

    /// The A and the AAAA lookup of `name`, as two futures the engine bounds and awaits
    /// separately; `family` says which of them it will await. A resolver may let the two
    /// share work (hickory's asks both questions on one socket). The default is two
    /// [`lookup`](Resolve::lookup)s.
    fn lookup_pair<'a>(
        &'a self,
        name: &'a DnsName,
        family: Family,
    ) -> (
        impl Future<Output = DnsLookup> + Send + 'a,
        impl Future<Output = DnsLookup> + Send + 'a,
    ) {
        let _ = family;
        (
            self.lookup(name, RecordKind::A),
            self.lookup(name, RecordKind::Aaaa),
        )
    }

    /// Says more about `lookup`, a `kind` lookup of `name` that found no records and no
    /// CNAME chain: whether the name is an alias whose chain ends nowhere, loops, or runs too
    /// long. The engine asks only when the other family's lookup did not answer directly (a
    /// name with its own A or AAAA records is no alias). The default has nothing to add.
    fn explain(
        &self,
        name: &DnsName,
        kind: RecordKind,
        lookup: DnsLookup,
    ) -> impl Future<Output = DnsLookup> + Send {
        let _ = (name, kind);
        std::future::ready(lookup)
    }
}

/// The hickory resolver, configured once per run.
pub struct HickoryResolver {
    resolver: TokioResolver,
    /// The server that answers, when only one is configured.
    server: Option<SocketAddr>,
    timeout: Duration,
    /// The one name server, asked directly before hickory is (see [`exchange`]); `None`
    /// with several servers, whose order, rotation and parallel tries stay hickory's.
    direct: Option<UdpServer>,
    /// The hosts file, when the configuration consults it: a name it lists is left to
    /// hickory, which answers from it.
    hosts: Option<Arc<Hosts>>,
}

impl HickoryResolver {
    /// Builds the resolver from `options`: the given `--resolver`s, else the system
    /// configuration. Must be called inside a tokio runtime.
    pub fn new(options: &ProbeOptions) -> Result<Self, ProbeError> {
        let (config, mut opts) = if options.resolvers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|err| ProbeError::SystemResolver(sanitize(&err.to_string())))?
        } else {
            let servers = options
                .resolvers
                .iter()
                .map(|server| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = server.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = server.port();
                    NameServerConfig::new(server.ip(), true, vec![udp, tcp])
                })
                .collect();
            let mut opts = hickory_resolver::config::ResolverOpts::default();
            opts.use_hosts_file = ResolveHosts::Never;
            opts.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
            (ResolverConfig::from_name_servers(servers), opts)
        };
        if config.name_servers().is_empty() {
            return Err(ProbeError::SystemResolver(
                "no name servers are configured (see /etc/resolv.conf, or give --resolver)".into(),
            ));
        }
        opts.timeout = (options.dns_timeout / 2).max(Duration::from_millis(5));
        opts.attempts = DNS_RETRIES;
        opts.preserve_intermediates = true;
        opts.try_tcp_on_error = true;
        opts.cache_size = DNS_CACHE_SIZE;
        // With one name server, the observations name it, and it is asked directly over UDP.
        let (server, direct) = match config.name_servers() {
            [only] => (
                only.connections
                    .first()
                    .map(|connection| SocketAddr::new(only.ip, connection.port)),
                only.connections
                    .iter()
                    .find(|connection| matches!(connection.protocol, ProtocolConfig::Udp))
                    .map(|udp| UdpServer {
                        address: SocketAddr::new(only.ip, udp.port),
                        bind: udp.bind_addr,
                        timeout: opts.timeout,
                        options: request_options(&opts),
                        trust_nxdomain: only.trust_negative_responses,
                    }),
            ),
            _ => (None, None),
        };
        // Read once and shared, so both paths see the same file.
        let hosts = (opts.use_hosts_file != ResolveHosts::Never)
            .then(|| Arc::new(Hosts::from_system().unwrap_or_default()));
        let mut resolver =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|err| ProbeError::SystemResolver(sanitize(&err.to_string())))?;
        if let Some(hosts) = &hosts {
            resolver.set_hosts(Arc::clone(hosts));
        }
        Ok(HickoryResolver {
            resolver,
            server,
            timeout: options.dns_timeout,
            direct,
            hosts,
        })
    }

    /// Asks the one name server the questions `family` wants, directly and on one socket;
    /// for A then AAAA, the response, `None` where hickory must ask (no single server, a name
    /// the hosts file lists, no answer in time), or why the server cannot answer.
    async fn ask_directly(&self, query_name: &Name, family: Family) -> [Direct; 2] {
        let Some(direct) = &self.direct else {
            return [Ok(None), Ok(None)];
        };
        let asked = [RecordKind::A, RecordKind::Aaaa].map(|kind| {
            let query = Query::query(query_name.clone(), kind.record_type());
            let listed = self
                .hosts
                .as_ref()
                .is_some_and(|hosts| hosts.lookup_static_host(&query).is_some());
            (family.wants(kind == RecordKind::Aaaa) && !listed).then_some(query)
        });
        let queries: Vec<Query> = asked.iter().flatten().cloned().collect();
        if queries.is_empty() {
            return [Ok(None), Ok(None)];
        }
        match direct.ask(&queries).await {
            // Only the questions asked share the fate; one the hosts file answers is hickory's.
            Err(unreachable) => asked.map(|query| match query {
                Some(_) => Err(unreachable.clone()),
                None => Ok(None),
            }),
            Ok(responses) => {
                let mut responses = responses.into_iter();
                asked.map(|query| Ok(query.and_then(|_| responses.next().flatten())))
            }
        }
    }

    /// One lookup of a pair: the direct exchange's answer for `kind` when it settles the
    /// lookup, else hickory's.
    async fn lookup_after(
        &self,
        name: &DnsName,
        kind: RecordKind,
        query_name: Result<Name, ProtoError>,
        exchange: Arc<OnceCell<[Direct; 2]>>,
        family: Family,
        start: Instant,
    ) -> DnsLookup {
        if let (Ok(query_name), Some(direct)) = (&query_name, &self.direct) {
            // Whichever of the pair runs first asks both questions; the other waits for it.
            let responses = exchange
                .get_or_init(|| self.ask_directly(query_name, family))
                .await;
            let index = usize::from(kind == RecordKind::Aaaa);
            let ms = super::elapsed_ms(start);
            match responses.get(index) {
                Some(Err(unreachable)) => {
                    let message = unreachable.to_string();
                    return failure(kind, DnsOutcome::Error, self.server, ms, message);
                }
                Some(Ok(Some(response))) => {
                    let query = Query::query(query_name.clone(), kind.record_type());
                    if let Some(lookup) =
                        exchange::judge(name, kind, &query, response, direct, self.server, ms)
                    {
                        return lookup;
                    }
                }
                _ => {}
            }
        }
        // Boxed: hickory's lookup future is large (kilobytes), and most lookups never get
        // here; carried inline, it would be allocated and copied with every name's lookups.
        Box::pin(self.hickory_lookup(name, kind, query_name, start)).await
    }

    /// A lookup by hickory's resolver, timed from `start`.
    async fn hickory_lookup(
        &self,
        name: &DnsName,
        kind: RecordKind,
        query_name: Result<Name, ProtoError>,
        start: Instant,
    ) -> DnsLookup {
        let result = match query_name {
            Ok(query) => self.resolver.lookup(query, kind.record_type()).await,
            Err(err) => Err(NetError::from(err)),
        };
        let ms = super::elapsed_ms(start);
        match result {
            Ok(lookup) => from_records(name, kind, lookup.answers(), self.server, ms),
            Err(err) => failed(kind, &err, self.server, ms, self.timeout),
        }
    }
}

/// `name` as an absolute DNS name: the trailing dot means no search domain is tried.
fn absolute(name: &DnsName) -> Result<Name, ProtoError> {
    Name::from_ascii(format!("{name}."))
}

/// The per-request options hickory derives from `opts` (its own function is private).
fn request_options(opts: &ResolverOpts) -> DnsRequestOptions {
    let mut request = DnsRequestOptions::default();
    request.recursion_desired = opts.recursion_desired;
    request.use_edns = opts.edns0;
    request.edns_payload_len = opts.edns_payload_len;
    request.case_randomization = opts.case_randomization;
    request
}

impl Resolve for HickoryResolver {
    fn lookup(&self, name: &DnsName, kind: RecordKind) -> impl Future<Output = DnsLookup> + Send {
        let family = match kind {
            RecordKind::A => Family::V4,
            RecordKind::Aaaa => Family::V6,
        };
        let exchange = Arc::new(OnceCell::new());
        self.lookup_after(name, kind, absolute(name), exchange, family, Instant::now())
    }

    fn lookup_pair<'a>(
        &'a self,
        name: &'a DnsName,
        family: Family,
    ) -> (
        impl Future<Output = DnsLookup> + Send + 'a,
        impl Future<Output = DnsLookup> + Send + 'a,
    ) {
        let start = Instant::now();
        let query_name = absolute(name);
        let exchange = Arc::new(OnceCell::new());
        (
            self.lookup_after(
                name,
                RecordKind::A,
                query_name.clone(),
                Arc::clone(&exchange),
                family,
                start,
            ),
            self.lookup_after(name, RecordKind::Aaaa, query_name, exchange, family, start),
        )
    }

    /// "No records" may hide a CNAME chain hickory gave up on (a loop, or longer than it
    /// follows): walk it to say so. One extra query when there is none.
    async fn explain(&self, name: &DnsName, kind: RecordKind, lookup: DnsLookup) -> DnsLookup {
        if lookup.outcome != DnsOutcome::NoRecords || !lookup.cname_chain.is_empty() {
            return lookup;
        }
        let Ok(query) = absolute(name) else {
            return lookup;
        };
        let start = Instant::now();
        let walk = self.walk_cnames(query).await;
        if walk.chain.is_empty() {
            return lookup;
        }
        let ms = ((lookup.ms + super::elapsed_ms(start)) * 100.0).round() / 100.0;
        after_cnames(kind, walk, self.server, ms)
    }
}

impl HickoryResolver {
    /// Follows the CNAMEs from `name` one query at a time, at most [`MAX_CNAME_WALK`] hops,
    /// to say where a failed lookup ended and whether the chain loops.
    async fn walk_cnames(&self, mut current: Name) -> CnameWalk {
        let mut walk = CnameWalk::default();
        let mut seen = vec![current.clone()];
        for _ in 0..MAX_CNAME_WALK {
            let Ok(lookup) = self
                .resolver
                .lookup(current.clone(), RecordType::CNAME)
                .await
            else {
                return walk;
            };
            let next = lookup
                .answers()
                .iter()
                .find_map(|record| match &record.data {
                    RData::CNAME(target) if record.name == current => Some(target.0.clone()),
                    _ => None,
                });
            let Some(next) = next else { return walk };
            walk.chain.push(name_text(&next));
            if seen.contains(&next) {
                walk.looped = true;
                return walk;
            }
            seen.push(next.clone());
            current = next;
        }
        walk.too_long = true;
        walk
    }
}

/// CNAMEs followed after a failed lookup.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CnameWalk {
    chain: Vec<String>,
    looped: bool,
    too_long: bool,
}

/// CNAME hops followed to explain a failed lookup.
const MAX_CNAME_WALK: usize = 16;

/// The observation once the CNAMEs of a failed lookup were walked.
pub(crate) fn after_cnames(
    kind: RecordKind,
    walk: CnameWalk,
    server: Option<SocketAddr>,
    ms: f64,
) -> DnsLookup {
    let path = walk.chain.join(" → ");
    let (outcome, message) = if walk.looped {
        (DnsOutcome::Error, format!("CNAME loop: {path}"))
    } else if walk.too_long {
        (
            DnsOutcome::Error,
            format!("CNAME chain longer than {MAX_CNAME_WALK} names: {path} …"),
        )
    } else {
        let last = walk.chain.last().map_or("the name", String::as_str);
        (
            DnsOutcome::NoRecords,
            format!(
                "no {} records at {last}, reached through CNAME",
                kind.label()
            ),
        )
    };
    let mut lookup = failure(kind, outcome, server, ms, message);
    lookup.cname_chain = walk.chain;
    lookup
}

fn name_text(name: &Name) -> String {
    sanitize(name.to_ascii().trim_end_matches('.')).to_ascii_lowercase()
}

/// The observation for a lookup that returned records.
pub(crate) fn from_records(
    name: &DnsName,
    kind: RecordKind,
    records: &[Record],
    server: Option<SocketAddr>,
    ms: f64,
) -> DnsLookup {
    let answers: Vec<DnsAnswer> = records
        .iter()
        .filter_map(|record| {
            let address = match (&record.data, kind) {
                (RData::A(a), RecordKind::A) => IpAddr::V4(a.0),
                (RData::AAAA(aaaa), RecordKind::Aaaa) => IpAddr::V6(aaaa.0),
                _ => return None,
            };
            Some(DnsAnswer {
                address,
                ttl: record.ttl,
            })
        })
        .collect();
    let cname_chain = cname_chain(name, records);
    let (outcome, message) = if answers.is_empty() {
        (DnsOutcome::NoRecords, Some(no_records_message(kind)))
    } else {
        (DnsOutcome::Answer, None)
    };
    DnsLookup {
        record_type: kind.label(),
        outcome,
        answers,
        cname_chain,
        server,
        ms,
        message,
    }
}

/// CNAMEs followed from `name`, in order, as lowercase names without the trailing dot.
/// Bounded by the number of records, so a loop in the answer ends.
fn cname_chain(name: &DnsName, records: &[Record]) -> Vec<String> {
    let Ok(mut current) = Name::from_ascii(format!("{name}.")) else {
        return Vec::new();
    };
    let mut chain = Vec::new();
    for _ in 0..records.len() {
        let next = records.iter().find_map(|record| match &record.data {
            RData::CNAME(target) if record.name == current => Some(target.0.clone()),
            _ => None,
        });
        let Some(next) = next else { break };
        chain.push(name_text(&next));
        current = next;
    }
    chain
}

/// The observation for a failed lookup.
pub(crate) fn failed(
    kind: RecordKind,
    err: &NetError,
    server: Option<SocketAddr>,
    ms: f64,
    timeout: Duration,
) -> DnsLookup {
    let outcome = classify(err);
    let message = match outcome {
        DnsOutcome::Nxdomain => NXDOMAIN_MESSAGE.to_owned(),
        DnsOutcome::NoRecords => no_records_message(kind),
        DnsOutcome::Servfail => "the DNS server failed to answer (SERVFAIL)".to_owned(),
        DnsOutcome::Refused => "the DNS server refused the query (REFUSED)".to_owned(),
        DnsOutcome::Timeout => format!("no DNS answer within {}", Millis(timeout)),
        DnsOutcome::Answer | DnsOutcome::Error => sanitize(&err.to_string()),
    };
    failure(kind, outcome, server, ms, message)
}

/// Why a lookup ended with NXDOMAIN.
pub(crate) const NXDOMAIN_MESSAGE: &str = "the name does not exist (NXDOMAIN)";

/// Why a lookup of an existing name found no `kind` records.
pub(crate) fn no_records_message(kind: RecordKind) -> String {
    format!("no {} records (the name exists)", kind.label())
}

/// The observation for a lookup the engine's own timeout cut short.
pub(crate) fn timed_out(kind: RecordKind, limit: &super::StepLimit, ms: f64) -> DnsLookup {
    let message = format!("no DNS answer {}", limit.describe());
    failure(kind, DnsOutcome::Timeout, None, ms, message)
}

/// A lookup that ended without addresses, for `message`.
pub(crate) fn failure(
    kind: RecordKind,
    outcome: DnsOutcome,
    server: Option<SocketAddr>,
    ms: f64,
    message: String,
) -> DnsLookup {
    DnsLookup {
        record_type: kind.label(),
        outcome,
        answers: Vec::new(),
        cname_chain: Vec::new(),
        server,
        ms,
        message: Some(message),
    }
}

/// The one place where hickory's errors become our outcomes.
pub(crate) fn classify(err: &NetError) -> DnsOutcome {
    if err.is_nx_domain() {
        return DnsOutcome::Nxdomain;
    }
    if err.is_no_records_found() {
        return DnsOutcome::NoRecords;
    }
    match err.as_metrics_label() {
        "timeout" | "io_timed_out" => DnsOutcome::Timeout,
        "dns_response_code_servfail" => DnsOutcome::Servfail,
        "dns_response_code_refused" => DnsOutcome::Refused,
        "dns_response_code_nxdomain" => DnsOutcome::Nxdomain,
        _ => DnsOutcome::Error,
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::str::FromStr;

    use hickory_resolver::net::{DnsError, NoRecords};
    use hickory_resolver::proto::op::{Query, ResponseCode};
    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME};

    use super::*;

    /// A DNS name from text (shared with `exchange`'s tests).
    pub(super) fn name(text: &str) -> Name {
        Name::from_str(text).unwrap()
    }

    /// A CNAME record from `owner` to `target`.
    pub(super) fn cname(owner: &str, ttl: u32, target: &str) -> Record {
        Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
    }

    fn no_records(code: ResponseCode) -> NetError {
        NetError::from(DnsError::NoRecordsFound(NoRecords::new(
            Query::query(name("x.example."), RecordType::A),
            code,
        )))
    }

    #[test]
    fn hickory_errors_map_to_outcomes() {
        assert_eq!(
            classify(&no_records(ResponseCode::NXDomain)),
            DnsOutcome::Nxdomain
        );
        assert_eq!(
            classify(&no_records(ResponseCode::NoError)),
            DnsOutcome::NoRecords
        );
        assert_eq!(
            classify(&NetError::from(DnsError::ResponseCode(
                ResponseCode::ServFail
            ))),
            DnsOutcome::Servfail
        );
        assert_eq!(
            classify(&NetError::from(DnsError::ResponseCode(
                ResponseCode::Refused
            ))),
            DnsOutcome::Refused
        );
        assert_eq!(classify(&NetError::Timeout), DnsOutcome::Timeout);
        assert_eq!(
            classify(&NetError::from(io::Error::from(io::ErrorKind::TimedOut))),
            DnsOutcome::Timeout
        );
        assert_eq!(
            classify(&NetError::from(io::Error::from(
                io::ErrorKind::ConnectionRefused
            ))),
            DnsOutcome::Error
        );
        assert_eq!(classify(&NetError::NoConnections), DnsOutcome::Error);
    }

    #[test]
    fn failure_messages_do_not_debug_print_the_query() {
        let lookup = failed(
            RecordKind::Aaaa,
            &no_records(ResponseCode::NoError),
            None,
            1.0,
            Duration::from_secs(5),
        );
        assert_eq!(lookup.outcome, DnsOutcome::NoRecords);
        assert_eq!(
            lookup.message.as_deref(),
            Some("no AAAA records (the name exists)")
        );
        let lookup = failed(
            RecordKind::A,
            &NetError::Timeout,
            None,
            1.0,
            Duration::from_secs(2),
        );
        assert_eq!(lookup.message.as_deref(), Some("no DNS answer within 2s"));
    }

    #[test]
    fn records_give_answers_ttls_and_the_cname_chain() {
        let query = DnsName::parse("www.example.no").unwrap();
        let records = vec![
            cname("www.example.no.", 60, "edge.cdn.example."),
            cname("edge.cdn.example.", 30, "EDGE2.cdn.example."),
            Record::from_rdata(
                name("edge2.cdn.example."),
                20,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
            ),
            Record::from_rdata(
                name("edge2.cdn.example."),
                20,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 2))),
            ),
            Record::from_rdata(
                name("edge2.cdn.example."),
                20,
                RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)),
            ),
        ];
        let lookup = from_records(&query, RecordKind::A, &records, None, 2.5);
        assert_eq!(lookup.outcome, DnsOutcome::Answer);
        assert_eq!(
            lookup.cname_chain,
            vec!["edge.cdn.example", "edge2.cdn.example"]
        );
        let answers: Vec<(String, u32)> = lookup
            .answers
            .iter()
            .map(|a| (a.address.to_string(), a.ttl))
            .collect();
        assert_eq!(
            answers,
            vec![("192.0.2.1".into(), 20), ("192.0.2.2".into(), 20)]
        );
        assert_eq!(lookup.record_type, "A");
    }

    #[test]
    fn a_failed_lookup_is_explained_by_its_cname_walk() {
        let chain = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        let looped = after_cnames(
            RecordKind::A,
            CnameWalk {
                chain: chain(&["b.example.no", "a.example.no"]),
                looped: true,
                too_long: false,
            },
            None,
            1.0,
        );
        assert_eq!(looped.outcome, DnsOutcome::Error);
        assert_eq!(
            looped.message.as_deref(),
            Some("CNAME loop: b.example.no → a.example.no")
        );
        let ended = after_cnames(
            RecordKind::Aaaa,
            CnameWalk {
                chain: chain(&["edge.example.net"]),
                looped: false,
                too_long: false,
            },
            None,
            1.0,
        );
        assert_eq!(ended.outcome, DnsOutcome::NoRecords);
        assert_eq!(ended.cname_chain, vec!["edge.example.net"]);
        assert!(ended.message.unwrap().contains("at edge.example.net"));
        let long = after_cnames(
            RecordKind::A,
            CnameWalk {
                chain: chain(&["x.example.no"]),
                looped: false,
                too_long: true,
            },
            None,
            1.0,
        );
        assert_eq!(long.outcome, DnsOutcome::Error);
    }

    #[test]
    fn a_cname_loop_in_the_answer_ends() {
        let query = DnsName::parse("a.example.no").unwrap();
        let records = vec![
            cname("a.example.no.", 60, "b.example.no."),
            cname("b.example.no.", 60, "a.example.no."),
        ];
        let lookup = from_records(&query, RecordKind::A, &records, None, 1.0);
        assert_eq!(lookup.outcome, DnsOutcome::NoRecords);
        assert_eq!(lookup.cname_chain.len(), 2);
    }

    /// A name server on loopback that answers every A question with 192.0.2.66 and every
    /// other with no records, and remembers the questions it got.
    async fn recording_server() -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
        use hickory_resolver::proto::op::{Message, ResponseCode};
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = Arc::clone(&asked);
        tokio::spawn(async move {
            let mut buffer = [0u8; 1500];
            while let Ok((len, client)) = socket.recv_from(&mut buffer).await {
                let request = Message::from_vec(&buffer[..len]).unwrap();
                let query = request.queries[0].clone();
                record
                    .lock()
                    .unwrap()
                    .push(format!("{} {}", query.name, query.query_type));
                let mut response = Message::response(request.metadata.id, request.metadata.op_code);
                response.metadata.response_code = ResponseCode::NoError;
                response.metadata.recursion_available = true;
                response.queries = request.queries.clone();
                if query.query_type == RecordType::A {
                    response.answers.push(Record::from_rdata(
                        query.name.clone(),
                        60,
                        RData::A(A(Ipv4Addr::new(192, 0, 2, 66))),
                    ));
                }
                let _ = socket.send_to(&response.to_vec().unwrap(), client).await;
            }
        });
        (address, asked)
    }

    fn addresses(lookup: &DnsLookup) -> Vec<String> {
        lookup
            .answers
            .iter()
            .map(|a| a.address.to_string())
            .collect()
    }

    /// A name the hosts file lists is answered from it, as hickory answers it, not asked of
    /// the name server directly; other names are.
    #[tokio::test]
    async fn names_in_the_hosts_file_are_not_asked_directly() {
        let (server, asked) = recording_server().await;
        let options = ProbeOptions {
            resolvers: vec![server],
            ..ProbeOptions::default()
        };
        let mut resolver = HickoryResolver::new(&options).unwrap();
        assert!(resolver.direct.is_some(), "one name server: asked directly");
        assert!(resolver.hosts.is_none(), "--resolver: no hosts file");
        // As the system configuration would have it, with a pinned address.
        let mut hosts = Hosts::default();
        hosts
            .read_hosts_conf("192.0.2.7 pinned.example.no\n".as_bytes())
            .unwrap();
        let hosts = Arc::new(hosts);
        resolver.resolver.set_hosts(Arc::clone(&hosts));
        resolver.hosts = Some(hosts);

        let pinned = DnsName::parse("pinned.example.no").unwrap();
        let (a, aaaa) = resolver.lookup_pair(&pinned, Family::Both);
        let (a, aaaa) = tokio::join!(a, aaaa);
        assert_eq!(addresses(&a), vec!["192.0.2.7"]);
        assert_eq!(aaaa.outcome, DnsOutcome::NoRecords);

        let other = DnsName::parse("other.example.no").unwrap();
        let (a, _) = resolver.lookup_pair(&other, Family::V4);
        assert_eq!(addresses(&a.await), vec!["192.0.2.66"]);

        let asked = asked.lock().unwrap().clone();
        assert!(
            !asked.iter().any(|q| q == "pinned.example.no. A"),
            "{asked:?}"
        );
        assert!(
            asked.iter().any(|q| q == "other.example.no. A"),
            "{asked:?}"
        );
        assert!(
            !asked.iter().any(|q| q == "other.example.no. AAAA"),
            "--family 4 asks no AAAA: {asked:?}"
        );
    }
}
