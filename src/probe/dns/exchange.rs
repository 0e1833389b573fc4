//! The common lookup in one UDP exchange, without hickory's resolver machinery.
//!
//! Hickory's resolver costs about 65 µs of CPU per query on loopback: a name-server pool, a
//! retry layer, a background exchange per query, and a re-parse of its own request. A check
//! asks two questions per name, so on a list of many names that was a quarter of its CPU
//! (issue 7, `scripts/bench.sh`). Most lookups are one question and one clean answer; this
//! module asks that question itself, with hickory-proto's messages and hickory's request
//! options, and leaves every other case to hickory (see [`judge`]): silence or a socket error
//! (its retries), a truncated answer (its TCP fallback), an error code (its server rotation),
//! a CNAME whose target the answer leaves out (its chasing), anything malformed.
//!
//! One case ends here: an ICMP error for our query (port, host or network unreachable), or
//! a firewall's refusal to send it (see [`Unreachable`]). The kernel reports an ICMP error
//! only to a connected socket, which this exchange uses and hickory does not, so hickory
//! would wait out its timeout for an answer that cannot come: with a wrong `--resolver` or
//! a firewall that rejects DNS, every name of a run waited the full DNS timeout, 64 at a
//! time. A refusal to send, hickory reported as "no connections available". glibc's stub
//! resolver also gives up on such a server at once.
//!
//! The defences against spoofed answers are hickory's own: a fresh socket per query on a port
//! the kernel picks at random (Linux randomises UDP ephemeral ports), a random 16-bit ID, the
//! answer's question checked against ours, and a connected socket, so the kernel drops
//! datagrams from any other address or port.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::op::{
    DnsRequest, DnsRequestOptions, Message, MessageType, Query, ResponseCode,
};
use hickory_resolver::proto::rr::{Name, RData};
use tokio::net::UdpSocket;

use super::{NXDOMAIN_MESSAGE, RecordKind, failure, from_records, no_records_message};
use crate::catalog::DnsName;
use crate::probe::model::{DnsLookup, DnsOutcome};

/// `EPERM`: what sending returns when this host's own netfilter rules drop or reject it.
const EPERM: i32 = 1;

/// Bytes read per datagram: more than any EDNS payload size hickory asks for (1,232 by
/// default). A longer datagram is cut, fails to parse and is left to hickory.
const RECEIVE_BUFFER: usize = 4096;

/// The one name server a lookup asks over UDP, and how.
#[derive(Debug, Clone)]
pub(super) struct UdpServer {
    /// Where queries go.
    pub address: SocketAddr,
    /// The local address to send from, when the configuration names one.
    pub bind: Option<SocketAddr>,
    /// How long to wait for the answer: one of hickory's tries.
    pub timeout: Duration,
    /// Recursion, EDNS and case randomisation, as hickory would ask.
    pub options: DnsRequestOptions,
    /// Whether an empty NXDOMAIN is final (hickory's `trust_negative_responses`).
    pub trust_nxdomain: bool,
}

/// The name server cannot answer: its address answered our query with an ICMP error, or a
/// firewall refused to send it. The lookup ends with this instead of waiting for its
/// timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unreachable {
    server: SocketAddr,
    why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// ICMP port unreachable (`ECONNREFUSED`): the host is there, nothing listens on the port,
    /// or a firewall rejects with port-unreachable.
    Port,
    /// ICMP host unreachable, or no route (`EHOSTUNREACH`).
    Host,
    /// ICMP network unreachable, or no route to its network (`ENETUNREACH`).
    Network,
    /// Sending was refused: by this host's own firewall (`EPERM`: its output rules drop or
    /// reject the query), or by one on the way that answers "administratively prohibited"
    /// (`EACCES`).
    Prohibited {
        /// True for `EPERM`, this host's own rules.
        here: bool,
    },
}

impl Unreachable {
    /// The ICMP error `err` reports, if it is one.
    fn from_io(server: SocketAddr, err: &io::Error) -> Option<Unreachable> {
        let why = match err.kind() {
            io::ErrorKind::ConnectionRefused => Why::Port,
            io::ErrorKind::HostUnreachable => Why::Host,
            io::ErrorKind::NetworkUnreachable => Why::Network,
            io::ErrorKind::PermissionDenied => Why::Prohibited {
                here: err.raw_os_error() == Some(EPERM),
            },
            _ => return None,
        };
        Some(Unreachable { server, why })
    }
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (server, ip, port) = (self.server, self.server.ip(), self.server.port());
        match self.why {
            Why::Port => write!(
                f,
                "ICMP port unreachable from the DNS server {server}: nothing listens on udp/{port} there, or a firewall rejects DNS to it"
            ),
            Why::Host => write!(
                f,
                "ICMP host unreachable for the DNS server {ip}: the address is wrong, or a router or firewall rejects the way there"
            ),
            Why::Network => write!(
                f,
                "no route to the network of the DNS server {ip} (network unreachable): check this host's routes, or name a resolver it can reach"
            ),
            Why::Prohibited { here: true } => write!(
                f,
                "this host's own firewall refuses DNS to the DNS server {server} (sending failed with EPERM: its output rules drop or reject udp/{port}): allow udp and tcp port {port} to it"
            ),
            Why::Prohibited { here: false } => write!(
                f,
                "DNS to the DNS server {server} is administratively prohibited (EACCES): a firewall on the way forbids it and says so"
            ),
        }
    }
}

/// How an exchange ended early.
enum Ended {
    /// An ICMP error or a firewall's refusal: the server cannot answer.
    Unreachable(Unreachable),
    /// Anything else (a socket that could not open, an unparsable datagram): hickory asks.
    GaveUp,
}

impl UdpServer {
    /// Asks `queries` at once, on one socket, as glibc's stub resolver asks A and AAAA; the
    /// response to each, in order, or `None` for one that did not come in time or when the
    /// exchange failed (hickory then asks that one again, in its own way). An ICMP error
    /// before any response came is [`Unreachable`]: no retry would get an answer.
    ///
    /// Waits until every question is answered or the timeout passes, so an answer that came
    /// may wait for one that does not, by at most the timeout.
    pub async fn ask(&self, queries: &[Query]) -> Result<Vec<Option<Message>>, Unreachable> {
        let mut responses = vec![None; queries.len()];
        let deadline = tokio::time::Instant::now() + self.timeout;
        let exchanged =
            tokio::time::timeout_at(deadline, self.exchange(queries, &mut responses)).await;
        match exchanged {
            Ok(Err(Ended::Unreachable(why))) if responses.iter().all(Option::is_none) => Err(why),
            _ => Ok(responses),
        }
    }

    async fn exchange(
        &self,
        queries: &[Query],
        responses: &mut [Option<Message>],
    ) -> Result<(), Ended> {
        let ended = |err: io::Error| match Unreachable::from_io(self.address, &err) {
            Some(why) => Ended::Unreachable(why),
            None => Ended::GaveUp,
        };
        let socket = UdpSocket::bind(self.bind.unwrap_or_else(|| any_port(self.address)))
            .await
            .map_err(ended)?;
        // Connected: the kernel then drops datagrams from anyone else, and reports the ICMP
        // errors our queries draw.
        socket.connect(self.address).await.map_err(ended)?;
        let mut requests: Vec<Message> = Vec::with_capacity(queries.len());
        for query in queries {
            let (mut request, _) = DnsRequest::from_query(query.clone(), self.options).into_parts();
            // Two questions in flight on one socket need two IDs.
            while requests
                .iter()
                .any(|other| other.metadata.id == request.metadata.id)
            {
                request.metadata.id = request.metadata.id.wrapping_add(1);
            }
            let bytes = request.to_vec().map_err(|_| Ended::GaveUp)?;
            socket.send(&bytes).await.map_err(ended)?;
            requests.push(request);
        }
        // On the heap: in the future's state it would be copied wherever the future moves.
        let mut buffer = vec![0u8; RECEIVE_BUFFER];
        // Datagrams that are not an answer (an unknown ID, another question) are ignored, as
        // hickory does: giving up on them would let anyone who can send one end the lookup.
        // The wait is bounded by `ask`'s timeout.
        while responses.iter().any(Option::is_none) {
            let len = socket.recv(&mut buffer).await.map_err(ended)?;
            let datagram = buffer.get(..len).ok_or(Ended::GaveUp)?;
            let Some(index) = requests.iter().position(|request| {
                datagram.get(..2) == Some(request.metadata.id.to_be_bytes().as_slice())
            }) else {
                continue;
            };
            let (Some(request), Some(slot)) = (requests.get(index), responses.get_mut(index))
            else {
                continue;
            };
            let response = Message::from_vec(datagram).map_err(|_| Ended::GaveUp)?;
            if slot.is_none()
                && response.metadata.message_type == MessageType::Response
                && same_questions(request, &response, self.options.case_randomization)
            {
                *slot = Some(response);
            }
        }
        Ok(())
    }
}

/// The unspecified address of `server`'s family, port 0: the kernel picks a random port.
fn any_port(server: SocketAddr) -> SocketAddr {
    let ip = match server.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

/// Whether `response` answers exactly `request`'s questions (case-sensitively when the
/// request's case was randomised, which is the point of randomising it).
fn same_questions(request: &Message, response: &Message, case_sensitive: bool) -> bool {
    request.queries.len() == response.queries.len()
        && request
            .queries
            .iter()
            .zip(&response.queries)
            .all(|(ours, theirs)| {
                ours.query_type == theirs.query_type
                    && ours.query_class == theirs.query_class
                    && if case_sensitive {
                        ours.name.eq_case(&theirs.name)
                    } else {
                        ours.name == theirs.name
                    }
            })
}

/// The observation `response` to `query` gives on its own, or `None` when hickory must take
/// over. Mirrors what hickory's resolver concludes from the same response, so an answer
/// reads the same whichever of the two produced it:
///
/// - NOERROR with a record of the type at the name or at the end of the answer's CNAME chain
///   (hickory's test, over every section): the answer;
/// - NOERROR without such a record and without a CNAME: "no records";
/// - an empty NXDOMAIN from a server whose NXDOMAIN is final: "no such name".
///
/// Truncated responses, other codes and CNAME chains that stop short are hickory's.
pub(super) fn judge(
    name: &DnsName,
    kind: RecordKind,
    query: &Query,
    response: &Message,
    server: &UdpServer,
    reported_server: Option<SocketAddr>,
    ms: f64,
) -> Option<DnsLookup> {
    if response.metadata.truncation {
        return None;
    }
    match response.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain if server.trust_nxdomain && response.answers.is_empty() => {
            return Some(failure(
                kind,
                DnsOutcome::Nxdomain,
                reported_server,
                ms,
                NXDOMAIN_MESSAGE.to_owned(),
            ));
        }
        _ => return None,
    }
    let end = chain_end(&query.name, response);
    let found = response.all_sections().any(|record| {
        record.dns_class == query.query_class
            && record.record_type() == query.query_type
            && (record.name == *end || record.name == query.name)
    });
    if found {
        return Some(from_records(
            name,
            kind,
            &response.answers,
            reported_server,
            ms,
        ));
    }
    let has_cname = response
        .answers
        .iter()
        .any(|record| matches!(record.data, RData::CNAME(_)));
    (!has_cname).then(|| {
        failure(
            kind,
            DnsOutcome::NoRecords,
            reported_server,
            ms,
            no_records_message(kind),
        )
    })
}

/// The name the answer's CNAMEs lead to from `start`, read in the order they come, as hickory
/// reads them.
fn chain_end<'a>(start: &'a Name, response: &'a Message) -> &'a Name {
    response
        .answers
        .iter()
        .fold(start, |current, record| match &record.data {
            RData::CNAME(target) if record.name == *current => &target.0,
            _ => current,
        })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use hickory_resolver::proto::rr::rdata::{A, AAAA};
    use hickory_resolver::proto::rr::{Record, RecordType};

    use super::*;
    use crate::probe::dns::tests::{cname, name};

    fn server(address: SocketAddr) -> UdpServer {
        UdpServer {
            address,
            bind: None,
            timeout: Duration::from_millis(500),
            options: DnsRequestOptions::default(),
            trust_nxdomain: true,
        }
    }

    fn a_record(owner: &str, octet: u8) -> Record {
        Record::from_rdata(
            name(owner),
            60,
            RData::A(A(Ipv4Addr::new(192, 0, 2, octet))),
        )
    }

    /// Sends `message` to `client` from the test server's `socket`.
    async fn send(socket: &UdpSocket, message: &Message, client: SocketAddr) {
        let bytes = message.to_vec().unwrap();
        socket.send_to(&bytes, client).await.unwrap();
    }

    fn response_to(request: &Message, code: ResponseCode, answers: Vec<Record>) -> Message {
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.response_code = code;
        response.queries = request.queries.clone();
        response.answers = answers;
        response
    }

    /// A server that answers the first request it gets: first with what `before` makes of
    /// it, then with the real answer.
    async fn spoofed_then_real(before: fn(&Message) -> Message) -> (UdpServer, Query) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            let (len, client) = socket.recv_from(&mut buffer).await.unwrap();
            let request = Message::from_vec(&buffer[..len]).unwrap();
            send(&socket, &before(&request), client).await;
            let real = response_to(
                &request,
                ResponseCode::NoError,
                vec![a_record("www.example.no.", 1)],
            );
            send(&socket, &real, client).await;
        });
        (
            server(address),
            Query::query(name("www.example.no."), RecordType::A),
        )
    }

    fn only_address(message: Option<&Option<Message>>) -> Option<IpAddr> {
        match message?.as_ref()?.answers.as_slice() {
            [record] => record.data.ip_addr(),
            _ => None,
        }
    }

    /// Datagrams that are not the answer: another ID, another question.
    #[tokio::test]
    async fn answers_to_something_else_are_ignored() {
        let spoofs: [fn(&Message) -> Message; 2] = [
            |request| {
                let answer = vec![a_record("www.example.no.", 66)];
                let mut fake = response_to(request, ResponseCode::NoError, answer);
                fake.metadata.id = request.metadata.id.wrapping_add(1);
                fake
            },
            |request| {
                let answer = vec![a_record("evil.example.no.", 66)];
                let mut fake = response_to(request, ResponseCode::NoError, answer);
                fake.queries = vec![Query::query(name("evil.example.no."), RecordType::A)];
                fake
            },
        ];
        for spoof in spoofs {
            let (server, query) = spoofed_then_real(spoof).await;
            let responses = server.ask(&[query]).await.unwrap();
            assert_eq!(
                only_address(responses.first()),
                Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
            );
        }
    }

    /// A and AAAA go out on one socket with two IDs; the answers, in whatever order they
    /// come, go to their own question.
    #[tokio::test]
    async fn both_questions_share_one_socket_and_keep_their_answers() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = server(socket.local_addr().unwrap());
        let answering = tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            let mut requests = Vec::new();
            let mut clients = Vec::new();
            for _ in 0..2 {
                let (len, client) = socket.recv_from(&mut buffer).await.unwrap();
                requests.push(Message::from_vec(&buffer[..len]).unwrap());
                clients.push(client);
            }
            // Answered last first.
            for request in requests.iter().rev() {
                let answer = match request.queries[0].query_type {
                    RecordType::A => vec![a_record("www.example.no.", 4)],
                    _ => vec![Record::from_rdata(
                        name("www.example.no."),
                        60,
                        RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)),
                    )],
                };
                let response = response_to(request, ResponseCode::NoError, answer);
                send(&socket, &response, clients[0]).await;
            }
            (clients, requests)
        });
        let queries = [
            Query::query(name("www.example.no."), RecordType::A),
            Query::query(name("www.example.no."), RecordType::AAAA),
        ];
        let responses = server.ask(&queries).await.unwrap();
        let (clients, requests) = answering.await.unwrap();
        assert_eq!(clients[0], clients[1], "one socket for both questions");
        assert_ne!(requests[0].metadata.id, requests[1].metadata.id);
        assert_eq!(
            only_address(responses.first()),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4)))
        );
        assert_eq!(
            only_address(responses.get(1)),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
    }

    /// An answer that came is kept when the other question's never does.
    #[tokio::test]
    async fn silence_gives_up_after_the_timeout_and_keeps_what_came() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut server = server(socket.local_addr().unwrap());
        server.timeout = Duration::from_millis(300);
        tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            let (len, client) = socket.recv_from(&mut buffer).await.unwrap();
            let request = Message::from_vec(&buffer[..len]).unwrap();
            if request.queries[0].query_type == RecordType::A {
                let response = response_to(
                    &request,
                    ResponseCode::NoError,
                    vec![a_record("www.example.no.", 5)],
                );
                send(&socket, &response, client).await;
            }
            // The AAAA question (and any other) is never answered.
            let _ = socket.recv_from(&mut buffer).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        let queries = [
            Query::query(name("www.example.no."), RecordType::A),
            Query::query(name("www.example.no."), RecordType::AAAA),
        ];
        let started = std::time::Instant::now();
        let responses = server.ask(&queries).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            only_address(responses.first()),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5)))
        );
        assert!(matches!(responses.get(1), Some(None)));
    }

    /// A closed port answers with ICMP port unreachable: the lookup ends at once with why,
    /// instead of waiting out its timeout.
    #[tokio::test]
    async fn a_closed_port_is_unreachable_at_once() {
        let closed = {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.local_addr().unwrap()
        };
        let mut server = server(closed);
        server.timeout = Duration::from_secs(60);
        let queries = [
            Query::query(name("www.example.no."), RecordType::A),
            Query::query(name("www.example.no."), RecordType::AAAA),
        ];
        let asked = tokio::time::timeout(Duration::from_secs(30), server.ask(&queries))
            .await
            .expect("an ICMP error ends the exchange, not its 60 s timeout");
        let unreachable = asked.unwrap_err();
        assert_eq!(unreachable.why, Why::Port);
        let said = unreachable.to_string();
        assert!(
            said.contains(&format!("DNS server {closed}"))
                && said.contains(&format!("udp/{}", closed.port())),
            "{said}"
        );
    }

    /// Which socket errors end a lookup: those an ICMP error or a firewall's refusal gives;
    /// any other is left to hickory.
    #[test]
    fn only_icmp_errors_end_a_lookup() {
        let server = SocketAddr::from(([192, 0, 2, 53], 53));
        let kinds = [
            (io::ErrorKind::ConnectionRefused, Some(Why::Port)),
            (io::ErrorKind::HostUnreachable, Some(Why::Host)),
            (io::ErrorKind::NetworkUnreachable, Some(Why::Network)),
            (io::ErrorKind::WouldBlock, None),
            (io::ErrorKind::AddrInUse, None),
        ];
        for (kind, why) in kinds {
            let found = Unreachable::from_io(server, &io::Error::from(kind));
            assert_eq!(found.map(|u| u.why), why, "{kind:?}");
        }
        let here = Unreachable::from_io(server, &io::Error::from_raw_os_error(1)).unwrap();
        assert_eq!(here.why, Why::Prohibited { here: true });
        assert!(
            here.to_string().contains("this host's own firewall"),
            "{here}"
        );
        let on_the_way = Unreachable::from_io(server, &io::Error::from_raw_os_error(13)).unwrap();
        assert_eq!(on_the_way.why, Why::Prohibited { here: false });
    }

    fn judged(code: ResponseCode, answers: Vec<Record>, truncated: bool) -> Option<DnsLookup> {
        let query = Query::query(name("www.example.no."), RecordType::A);
        let (request, _) =
            DnsRequest::from_query(query.clone(), DnsRequestOptions::default()).into_parts();
        let mut response = response_to(&request, code, answers);
        response.metadata.truncation = truncated;
        let server = server(SocketAddr::from(([127, 0, 0, 1], 53)));
        let dns_name = DnsName::parse("www.example.no").unwrap();
        judge(
            &dns_name,
            RecordKind::A,
            &query,
            &response,
            &server,
            None,
            1.0,
        )
    }

    #[test]
    fn clean_answers_are_judged_here() {
        let answer = judged(
            ResponseCode::NoError,
            vec![a_record("www.example.no.", 1)],
            false,
        )
        .unwrap();
        assert_eq!(answer.outcome, DnsOutcome::Answer);
        let through_cname = judged(
            ResponseCode::NoError,
            vec![
                cname("www.example.no.", 60, "edge.example.net."),
                a_record("edge.example.net.", 2),
            ],
            false,
        )
        .unwrap();
        assert_eq!(through_cname.outcome, DnsOutcome::Answer);
        assert_eq!(through_cname.cname_chain, vec!["edge.example.net"]);
        let empty = judged(ResponseCode::NoError, vec![], false).unwrap();
        assert_eq!(empty.outcome, DnsOutcome::NoRecords);
        assert_eq!(
            empty.message.as_deref(),
            Some("no A records (the name exists)")
        );
        let missing = judged(ResponseCode::NXDomain, vec![], false).unwrap();
        assert_eq!(missing.outcome, DnsOutcome::Nxdomain);
    }

    #[test]
    fn everything_else_is_left_to_hickory() {
        let answer = vec![a_record("www.example.no.", 1)];
        assert!(judged(ResponseCode::NoError, answer.clone(), true).is_none());
        assert!(judged(ResponseCode::ServFail, vec![], false).is_none());
        assert!(judged(ResponseCode::Refused, vec![], false).is_none());
        assert!(judged(ResponseCode::NXDomain, answer, false).is_none());
        let unchased = vec![cname("www.example.no.", 60, "edge.example.net.")];
        assert!(judged(ResponseCode::NoError, unchased, false).is_none());
    }

    /// With several name servers, hickory may ask another after an NXDOMAIN it does not trust.
    #[test]
    fn an_untrusted_nxdomain_is_left_to_hickory() {
        let query = Query::query(name("www.example.no."), RecordType::A);
        let (request, _) =
            DnsRequest::from_query(query.clone(), DnsRequestOptions::default()).into_parts();
        let response = response_to(&request, ResponseCode::NXDomain, vec![]);
        let mut server = server(SocketAddr::from(([127, 0, 0, 1], 53)));
        server.trust_nxdomain = false;
        let dns_name = DnsName::parse("www.example.no").unwrap();
        let judged = judge(
            &dns_name,
            RecordKind::A,
            &query,
            &response,
            &server,
            None,
            1.0,
        );
        assert!(judged.is_none());
    }
}
