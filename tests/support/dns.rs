//! An in-process DNS server with one zone per test, for `--resolver 127.0.0.1:PORT`.
//!
//! It plays the admin's resolver: it answers authoritatively for its zone (under the
//! reserved `.test` TLD) over UDP and TCP on one port, and can misbehave in every way the
//! probe engine must tell apart: NXDOMAIN, no records of a type, SERVFAIL, REFUSED, no answer
//! at all, slow answers, CNAME chains and loops, answers too big for UDP. It records every
//! query it receives (name, type, transport) so a test can see, for example, that the client
//! fell back to TCP.
//!
//! Hand-rolled on hickory-proto's message types rather than hickory-server: the custom
//! failure modes (silence, forced truncation, loops served as-is) are the point, and a
//! responder of this size shows them plainly.
//!
//! Put only loopback addresses (127.0.0.0/8, ::1) or addresses inside the test's own
//! namespaces in the answers: the probe engine will connect to whatever the zone says.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
pub use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_resolver::proto::rr::{Name, RData, Record};
use hickory_resolver::{Resolver, TokioResolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::server::{self, Listen, Log, ServerGuard, listen_methods};

/// The zone a test gets unless it names another.
pub const DEFAULT_ZONE: &str = "egress.test";

/// Largest UDP answer sent to a client that did not advertise EDNS (RFC 1035).
const UDP_PLAIN_MAX: usize = 512;
/// Largest UDP answer ever sent, whatever the client advertises (the DNS flag day 2020 size).
const UDP_EDNS_MAX: u16 = 1232;
/// Largest query read over UDP; anything longer is cut (queries are small).
const UDP_READ_MAX: usize = 4096;
/// How many CNAMEs the server follows inside its own zone before it stops.
const CHASE_MAX: usize = 64;

/// Which transport carried a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (for example after a truncated UDP answer).
    Tcp,
}

/// One query the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// The queried name, lowercase, without the trailing dot (`api.egress.test`).
    pub name: String,
    /// The queried type.
    pub qtype: RecordType,
    /// How it arrived.
    pub transport: Transport,
}

/// What the server does with queries for one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// Answer from the zone.
    #[default]
    Answer,
    /// Answer SERVFAIL.
    ServFail,
    /// Answer REFUSED.
    Refused,
    /// Never answer (the client times out).
    Silent,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    a: Vec<(Ipv4Addr, u32)>,
    aaaa: Vec<(Ipv6Addr, u32)>,
    cname: Option<(Name, u32)>,
    mode: Mode,
    truncate_udp: bool,
    delay: Option<Duration>,
}

#[derive(Debug)]
struct Zone {
    origin: Name,
    entries: HashMap<Name, Entry>,
    chase_cnames: bool,
    negative_ttl: u32,
}

/// Builds a zone and the server that serves it. Start with [`DnsServer::zone`].
#[derive(Debug)]
pub struct DnsBuilder {
    zone: Zone,
    listen: Listen,
}

impl DnsBuilder {
    /// Adds an A record (repeat for more addresses).
    pub fn a(mut self, name: &str, addr: impl Into<Ipv4Addr>, ttl: u32) -> Self {
        self.entry(name).a.push((addr.into(), ttl));
        self
    }

    /// Adds many A records for one name (for the 1,000-address answer).
    pub fn a_many(
        mut self,
        name: &str,
        addrs: impl IntoIterator<Item = Ipv4Addr>,
        ttl: u32,
    ) -> Self {
        let entry = self.entry(name);
        entry.a.extend(addrs.into_iter().map(|a| (a, ttl)));
        self
    }

    /// Adds an AAAA record (repeat for more addresses).
    pub fn aaaa(mut self, name: &str, addr: impl Into<Ipv6Addr>, ttl: u32) -> Self {
        self.entry(name).aaaa.push((addr.into(), ttl));
        self
    }

    /// Adds an A or AAAA record, by the address's family.
    pub fn addr(self, name: &str, addr: IpAddr, ttl: u32) -> Self {
        match addr {
            IpAddr::V4(v4) => self.a(name, v4, ttl),
            IpAddr::V6(v6) => self.aaaa(name, v6, ttl),
        }
    }

    /// Makes `name` a CNAME for `target` (which may be outside the zone, or loop back).
    pub fn cname(mut self, name: &str, target: &str, ttl: u32) -> Self {
        let target = parse_name(target);
        self.entry(name).cname = Some((target, ttl));
        self
    }

    /// A chain `first` -> `first`-1 -> ... of `len` CNAMEs in the zone ending at `last`:
    /// `chain-0.NAME` style names are made up from `first`'s first label.
    pub fn cname_chain(mut self, first: &str, len: usize, last: &str, ttl: u32) -> Self {
        let origin = self.zone.origin.to_ascii();
        let label = first.split('.').next().unwrap_or("chain").to_string();
        let mut from = first.to_string();
        for i in 1..len {
            let to = format!("{label}-{i}.{}", origin.trim_end_matches('.'));
            self = self.cname(&from, &to, ttl);
            from = to;
        }
        self.cname(&from, last, ttl)
    }

    /// Queries for `name` get SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Self {
        self.entry(name).mode = Mode::ServFail;
        self
    }

    /// Queries for `name` get REFUSED.
    pub fn refused(mut self, name: &str) -> Self {
        self.entry(name).mode = Mode::Refused;
        self
    }

    /// Queries for `name` are never answered, over UDP or TCP.
    pub fn silent(mut self, name: &str) -> Self {
        self.entry(name).mode = Mode::Silent;
        self
    }

    /// Answers for `name` are delayed by `delay` (on both transports).
    pub fn delay(mut self, name: &str, delay: Duration) -> Self {
        self.entry(name).delay = Some(delay);
        self
    }

    /// UDP answers for `name` are always truncated (TC bit, no records), so the client must
    /// ask again over TCP. Answers too big for UDP are truncated anyway.
    pub fn truncate_udp(mut self, name: &str) -> Self {
        self.entry(name).truncate_udp = true;
        self
    }

    /// Whether the server follows CNAMEs inside its zone and puts the whole chain in one
    /// answer (the default, as a recursive resolver would), or answers only the first CNAME
    /// and leaves the chasing to the client.
    pub fn chase_cnames(mut self, chase: bool) -> Self {
        self.zone.chase_cnames = chase;
        self
    }

    /// TTL of the SOA sent with NXDOMAIN and no-data answers (default 60).
    pub fn negative_ttl(mut self, ttl: u32) -> Self {
        self.zone.negative_ttl = ttl;
        self
    }

    listen_methods!();

    /// Binds UDP and TCP on one random port and starts serving. Panics if it cannot bind.
    pub fn start(self) -> DnsServer {
        let zone: Shared = Arc::new(RwLock::new(Arc::new(self.zone)));
        let served = Arc::clone(&zone);
        let log = Log::new();
        let server_log = Arc::clone(&log);
        let bind = self.listen.ip;
        let (guard, addr) = server::spawn("dns", &self.listen.placement, move || async move {
            let (udp, tcp) = bind_pair(bind).await?;
            let addr = udp.local_addr()?;
            Ok((addr, serve(served, server_log, udp, tcp)))
        })
        .unwrap_or_else(|e| panic!("DNS server on {bind}: {e}"));
        DnsServer {
            _guard: guard,
            addr,
            log,
            zone,
        }
    }

    fn entry(&mut self, name: &str) -> &mut Entry {
        let name = parse_name(name);
        assert!(
            self.zone.origin.zone_of(&name),
            "{name} is outside the test zone {}",
            self.zone.origin
        );
        self.zone.entries.entry(name).or_default()
    }
}

/// The zone a server answers from, replaceable while it runs ([`DnsServer::set_zone`]).
type Shared = Arc<RwLock<Arc<Zone>>>;

/// The zone as it is now: each query is answered from one zone, whatever replaces it meanwhile.
fn current(zone: &Shared) -> Arc<Zone> {
    Arc::clone(&zone.read().unwrap_or_else(|p| p.into_inner()))
}

/// A running DNS server; stops on drop.
#[derive(Debug)]
pub struct DnsServer {
    _guard: ServerGuard,
    addr: SocketAddr,
    log: Arc<Log<DnsQuery>>,
    zone: Shared,
}

impl DnsServer {
    /// A builder for a server authoritative for `origin` (for example `egress.test`; keep to
    /// the `.test` TLD). Unknown names inside it get NXDOMAIN, names outside it REFUSED.
    pub fn zone(origin: &str) -> DnsBuilder {
        let origin = parse_name(origin);
        assert!(
            !origin.to_ascii().contains("localhost"),
            "resolvers answer localhost names themselves: use a .test zone"
        );
        DnsBuilder {
            zone: Zone {
                origin,
                entries: HashMap::new(),
                chase_cnames: true,
                negative_ttl: 60,
            },
            listen: Listen::default(),
        }
    }

    /// Where it listens, UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `--resolver` (`127.0.0.1:PORT`, `[::1]:PORT`).
    pub fn resolver_arg(&self) -> String {
        self.addr.to_string()
    }

    /// Every query received so far, in arrival order.
    pub fn queries(&self) -> Vec<DnsQuery> {
        self.log.snapshot()
    }

    /// The queries received for one name (`api.egress.test`, case and trailing dot ignored).
    pub fn queries_for(&self, name: &str) -> Vec<DnsQuery> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.queries()
            .into_iter()
            .filter(|q| q.name == name)
            .collect()
    }

    /// Forgets the queries received so far.
    pub fn clear_queries(&self) {
        self.log.clear();
    }

    /// Answers from the zone `builder` describes from now on, on the same address and port
    /// (a test that changes the world between two runs: names that appear, vanish, move or
    /// start failing). The builder's listen settings are ignored.
    pub fn set_zone(&self, builder: DnsBuilder) {
        *self.zone.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(builder.zone);
    }
}

/// A hickory resolver that asks only the server at `server` (UDP, then TCP on truncation),
/// never reads the hosts file, caches nothing and tries once: configured the way
/// `--resolver` configures the probe, for tests that check the harness or the proxy.
pub fn test_resolver(server: SocketAddr, timeout: Duration) -> TokioResolver {
    let mut ns = NameServerConfig::udp_and_tcp(server.ip());
    for conn in &mut ns.connections {
        conn.port = server.port();
    }
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    builder.build().expect("test resolver")
}

fn parse_name(text: &str) -> Name {
    // A name that is not a host name (an escape byte, a space) is built from raw labels: a
    // hostile server can send any octets, and the tests of sanitising need to.
    let mut name = Name::from_ascii(text)
        .or_else(|_| Name::from_labels(text.split('.').map(str::as_bytes)))
        .unwrap_or_else(|e| panic!("bad DNS name {text:?}: {e}"));
    name.set_fqdn(true);
    name.to_lowercase()
}

/// UDP and TCP on the same port (retrying when the TCP side of the UDP port is taken).
async fn bind_pair(ip: IpAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no port free for UDP and TCP")))
}

async fn serve(zone: Shared, log: Arc<Log<DnsQuery>>, udp: UdpSocket, tcp: TcpListener) {
    let tcp_zone = Arc::clone(&zone);
    let tcp_log = Arc::clone(&log);
    let serve_tcp = server::accept_loop(tcp, move |stream| {
        let (zone, log) = (Arc::clone(&tcp_zone), Arc::clone(&tcp_log));
        async move {
            let _ = serve_tcp_conn(&zone, &log, stream).await;
        }
    });
    tokio::join!(serve_udp(zone, log, Arc::new(udp)), serve_tcp);
}

async fn serve_udp(zone: Shared, log: Arc<Log<DnsQuery>>, socket: Arc<UdpSocket>) {
    let limit = server::connection_limit();
    let mut buf = vec![0u8; UDP_READ_MAX];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        // A full server drops queries, as a busy resolver would; the client retries.
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            continue;
        };
        let query = buf.get(..len).unwrap_or_default().to_vec();
        let (zone, log, socket) = (Arc::clone(&zone), Arc::clone(&log), Arc::clone(&socket));
        tokio::spawn(async move {
            let _permit = permit;
            if let Some(answer) = respond(&current(&zone), &log, &query, Transport::Udp).await {
                let _ = socket.send_to(&answer, peer).await;
            }
        });
    }
}

/// One TCP connection: length-prefixed queries, answered in order (silent names get none).
async fn serve_tcp_conn(
    zone: &Shared,
    log: &Log<DnsQuery>,
    mut stream: TcpStream,
) -> io::Result<()> {
    loop {
        let len = usize::from(stream.read_u16().await?);
        // The u16 prefix bounds every read at 64 KiB.
        let mut query = vec![0u8; len];
        stream.read_exact(&mut query).await?;
        if let Some(answer) = respond(&current(zone), log, &query, Transport::Tcp).await {
            let Ok(len) = u16::try_from(answer.len()) else {
                continue;
            };
            stream.write_all(&len.to_be_bytes()).await?;
            stream.write_all(&answer).await?;
        }
    }
}

/// The wire answer to one wire query, or None when the server stays silent.
async fn respond(
    zone: &Zone,
    log: &Log<DnsQuery>,
    query: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata = Metadata::response_from_request(&request.metadata);
    response.metadata.authoritative = true;
    // It stands in for the admin's recursive resolver.
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_EDNS_MAX);
        response.set_edns(edns);
    }

    let [q] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response.to_vec().ok();
    };
    let name = q.name().to_lowercase();
    log.push(DnsQuery {
        name: name.to_ascii().trim_end_matches('.').to_string(),
        qtype: q.query_type(),
        transport,
    });
    if request.metadata.op_code != OpCode::Query {
        response.metadata.response_code = ResponseCode::NotImp;
        return response.to_vec().ok();
    }

    let entry = zone.entries.get(&name);
    if let Some(delay) = entry.and_then(|e| e.delay) {
        tokio::time::sleep(delay).await;
    }
    match entry.map(|e| e.mode).unwrap_or_default() {
        Mode::Silent => return None,
        Mode::ServFail => response.metadata.response_code = ResponseCode::ServFail,
        Mode::Refused => response.metadata.response_code = ResponseCode::Refused,
        Mode::Answer if !zone.origin.zone_of(&name) => {
            response.metadata.response_code = ResponseCode::Refused;
        }
        Mode::Answer => resolve(zone, &name, q.query_type(), &mut response),
    }

    let wire = response.to_vec().ok()?;
    if transport == Transport::Udp {
        let limit = match &request.edns {
            Some(edns) => usize::from(edns.max_payload().clamp(UDP_PLAIN_MAX as u16, UDP_EDNS_MAX)),
            None => UDP_PLAIN_MAX,
        };
        if wire.len() > limit || entry.is_some_and(|e| e.truncate_udp) {
            return response.truncate().to_vec().ok();
        }
    }
    Some(wire)
}

/// Fills the answer for `name`/`qtype` from the zone, following CNAMEs as configured.
fn resolve(zone: &Zone, name: &Name, qtype: RecordType, response: &mut Message) {
    let mut current = name.clone();
    let mut seen = HashSet::new();
    for _ in 0..CHASE_MAX {
        seen.insert(current.clone());
        let Some(entry) = zone.entries.get(&current) else {
            if current == zone.origin {
                return negative(zone, response, ResponseCode::NoError);
            }
            return negative(zone, response, ResponseCode::NXDomain);
        };
        if let Some((target, ttl)) = &entry.cname
            && qtype != RecordType::CNAME
        {
            response.add_answer(Record::from_rdata(
                current.clone(),
                *ttl,
                RData::CNAME(CNAME(target.clone())),
            ));
            // Stop at a loop (the client sees the loop in the answer), at the zone's edge, or
            // when the client is to chase.
            if !zone.chase_cnames || seen.contains(target) || !zone.origin.zone_of(target) {
                return;
            }
            current = target.clone();
            continue;
        }
        let records: Vec<Record> = match qtype {
            RecordType::A => entry
                .a
                .iter()
                .map(|(a, ttl)| Record::from_rdata(current.clone(), *ttl, RData::A(A(*a))))
                .collect(),
            RecordType::AAAA => entry
                .aaaa
                .iter()
                .map(|(a, ttl)| Record::from_rdata(current.clone(), *ttl, RData::AAAA(AAAA(*a))))
                .collect(),
            RecordType::CNAME => entry
                .cname
                .iter()
                .map(|(t, ttl)| {
                    Record::from_rdata(current.clone(), *ttl, RData::CNAME(CNAME(t.clone())))
                })
                .collect(),
            _ => Vec::new(),
        };
        if records.is_empty() {
            return negative(zone, response, ResponseCode::NoError);
        }
        response.add_answers(records);
        return;
    }
}

/// NXDOMAIN or no data: the rcode plus the zone's SOA, whose minimum is the negative TTL.
fn negative(zone: &Zone, response: &mut Message, code: ResponseCode) {
    response.metadata.response_code = code;
    let ns = Name::from_ascii("ns").and_then(|n| n.append_domain(&zone.origin));
    let admin = Name::from_ascii("hostmaster").and_then(|n| n.append_domain(&zone.origin));
    if let (Ok(ns), Ok(admin)) = (ns, admin) {
        let soa = SOA::new(ns, admin, 1, 3600, 600, 86400, zone.negative_ttl);
        response.add_authority(Record::from_rdata(
            zone.origin.clone(),
            zone.negative_ttl,
            RData::SOA(soa),
        ));
    }
}
