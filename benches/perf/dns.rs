//! The lab's DNS server: authoritative for `bench.test`, over UDP on `127.0.0.1`, for
//! `--resolver`. Each target name has an A record per target it names (their `127.1.x.y`
//! addresses), each black-hole name one A record (its `127.2.x.y` address), each stalling
//! name one (its `127.3.x.y` address); AAAA and other types get an empty answer
//! with the zone's SOA, unknown names NXDOMAIN, names outside the zone REFUSED.
//!
//! A stripped-down cousin of the test harness's server (`tests/support/dns.rs`, which
//! benchmarks cannot import): one task answers queries in arrival order, which is fast
//! enough for a few thousand queries and keeps the lab's own CPU use small.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_resolver::proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, SOA};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

use crate::{
    BoxError, ZONE, hole_addr, hole_name, stall_addr, stall_name, target_addr, target_name,
};

/// TTL of every record.
const TTL: u32 = 300;
/// Largest UDP answer (the DNS flag day 2020 size); ours are far smaller.
const UDP_EDNS_MAX: u16 = 1232;

struct Zone {
    origin: Name,
    records: HashMap<Name, Vec<Ipv4Addr>>,
}

/// Binds `127.0.0.1:0` and returns the port and the serving task.
pub async fn start(
    targets: usize,
    holes: usize,
    stalls: usize,
    per_name: usize,
) -> Result<(u16, impl Future<Output = ()> + Send + 'static), BoxError> {
    let origin = fqdn(ZONE)?;
    let mut records: HashMap<Name, Vec<Ipv4Addr>> = HashMap::with_capacity(targets + holes);
    for i in 0..targets {
        records
            .entry(fqdn(&target_name(i, per_name))?)
            .or_default()
            .push(target_addr(i));
    }
    for i in 0..holes {
        records.insert(fqdn(&hole_name(i))?, vec![hole_addr(i)]);
    }
    for i in 0..stalls {
        records.insert(fqdn(&stall_name(i))?, vec![stall_addr(i)]);
    }
    let zone = Zone { origin, records };
    let socket = UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await?;
    let port = socket.local_addr()?.port();
    Ok((port, serve(zone, socket)))
}

fn fqdn(text: &str) -> Result<Name, BoxError> {
    let mut name = Name::from_ascii(text)?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

async fn serve(zone: Zone, socket: UdpSocket) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(answer) = respond(&zone, buf.get(..len).unwrap_or_default()) {
            let _ = socket.send_to(&answer, peer).await;
        }
    }
}

/// The wire answer to one wire query (None for what is not a query).
fn respond(zone: &Zone, query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata = Metadata::response_from_request(&request.metadata);
    response.metadata.authoritative = true;
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
    if request.metadata.op_code != OpCode::Query {
        response.metadata.response_code = ResponseCode::NotImp;
        return response.to_vec().ok();
    }
    let name = q.name().to_lowercase();
    if !zone.origin.zone_of(&name) {
        response.metadata.response_code = ResponseCode::Refused;
        return response.to_vec().ok();
    }
    match (zone.records.get(&name), q.query_type()) {
        (Some(addrs), RecordType::A) => {
            for addr in addrs {
                response.add_answer(Record::from_rdata(name.clone(), TTL, RData::A(A(*addr))));
            }
        }
        (Some(_), _) => negative(zone, &mut response, ResponseCode::NoError),
        (None, _) if name == zone.origin => negative(zone, &mut response, ResponseCode::NoError),
        (None, _) => negative(zone, &mut response, ResponseCode::NXDomain),
    }
    response.to_vec().ok()
}

/// No data or NXDOMAIN: the rcode plus the zone's SOA.
fn negative(zone: &Zone, response: &mut Message, code: ResponseCode) {
    response.metadata.response_code = code;
    let ns = Name::from_ascii("ns").and_then(|n| n.append_domain(&zone.origin));
    let admin = Name::from_ascii("hostmaster").and_then(|n| n.append_domain(&zone.origin));
    if let (Ok(ns), Ok(admin)) = (ns, admin) {
        let soa = SOA::new(ns, admin, 1, 3600, 600, 86400, TTL);
        response.add_authority(Record::from_rdata(
            zone.origin.clone(),
            TTL,
            RData::SOA(soa),
        ));
    }
}
