//! The DNS server answers, fails and misbehaves as configured, seen both on the wire (a raw
//! client) and through hickory-resolver configured as `--resolver` will configure it.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::rdata::CNAME;
use hickory_resolver::proto::rr::{Name, RData};

use crate::support::dns::{DnsServer, RecordType, Transport, test_resolver};
use crate::support::netns::{self, Netns};
use crate::support::tools;

fn resolver(server: SocketAddr, timeout: Duration) -> TokioResolver {
    test_resolver(server, timeout)
}

/// One query on the wire; None when nothing came back within `wait`.
fn raw(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    tcp: bool,
    wait: Duration,
) -> Option<Message> {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    msg.metadata.recursion_desired = true;
    let wire = msg.to_vec().unwrap();
    if tcp {
        let mut conn = TcpStream::connect(server).unwrap();
        conn.set_read_timeout(Some(wait)).unwrap();
        conn.write_all(&u16::try_from(wire.len()).unwrap().to_be_bytes())
            .unwrap();
        conn.write_all(&wire).unwrap();
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).ok()?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut buf).unwrap();
        Some(Message::from_vec(&buf).unwrap())
    } else {
        let sock = UdpSocket::bind((server.ip(), 0)).unwrap();
        sock.set_read_timeout(Some(wait)).unwrap();
        sock.send_to(&wire, server).unwrap();
        let mut buf = [0u8; 4096];
        let (len, _) = sock.recv_from(&mut buf).ok()?;
        Some(Message::from_vec(&buf[..len]).unwrap())
    }
}

const WAIT: Duration = Duration::from_secs(5);

fn answer_names(msg: &Message) -> Vec<(String, RData)> {
    msg.answers
        .iter()
        .map(|r| (r.name.to_ascii(), r.data.clone()))
        .collect()
}

#[tokio::test]
async fn answers_a_and_aaaa_with_ttls_through_the_resolver() {
    let dns = DnsServer::zone("egress.test")
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 300)
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 3), 300)
        .aaaa("api.egress.test", Ipv6Addr::LOCALHOST, 120)
        .start();
    assert!(dns.addr().ip().is_loopback());
    let r = resolver(dns.addr(), WAIT);
    let a = r.lookup("api.egress.test.", RecordType::A).await.unwrap();
    let mut v4: Vec<_> = a
        .answers()
        .iter()
        .map(|r| (r.data.clone(), r.ttl))
        .collect();
    v4.sort_by_key(|(d, _)| d.to_string());
    assert_eq!(v4.len(), 2);
    assert_eq!(v4[0].0, RData::A(Ipv4Addr::new(127, 0, 0, 2).into()));
    assert!(
        v4.iter().all(|(_, ttl)| *ttl <= 300 && *ttl > 290),
        "{v4:?}"
    );
    let aaaa = r
        .lookup("api.egress.test.", RecordType::AAAA)
        .await
        .unwrap();
    assert_eq!(aaaa.answers().len(), 1);
    assert!(aaaa.answers()[0].ttl <= 120 && aaaa.answers()[0].ttl > 110);
    let ips: Vec<IpAddr> = r
        .lookup_ip("API.egress.test.")
        .await
        .unwrap()
        .iter()
        .collect();
    assert_eq!(ips.len(), 3, "{ips:?}");
    let seen = dns.queries_for("api.egress.test");
    assert!(seen.iter().all(|q| q.transport == Transport::Udp));
    assert!(seen.iter().any(|q| q.qtype == RecordType::A));
    assert!(seen.iter().any(|q| q.qtype == RecordType::AAAA));
}

#[tokio::test]
async fn a_running_server_answers_from_a_replaced_zone_on_the_same_port() {
    let dns = DnsServer::zone("egress.test")
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 300)
        .start();
    let r = resolver(dns.addr(), WAIT);
    let first: Vec<IpAddr> = r
        .lookup_ip("api.egress.test.")
        .await
        .unwrap()
        .iter()
        .collect();
    assert_eq!(first, vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]);
    dns.set_zone(
        DnsServer::zone("egress.test")
            .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 3), 300)
            .servfail("gone.egress.test"),
    );
    let r = resolver(dns.addr(), WAIT);
    let second: Vec<IpAddr> = r
        .lookup_ip("api.egress.test.")
        .await
        .unwrap()
        .iter()
        .collect();
    assert_eq!(second, vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))]);
    assert!(r.lookup_ip("gone.egress.test.").await.is_err());
}

#[tokio::test]
async fn negative_outcomes_are_distinct() {
    let dns = DnsServer::zone("egress.test")
        .a("v4only.egress.test", Ipv4Addr::new(127, 0, 0, 2), 60)
        .servfail("broken.egress.test")
        .refused("refused.egress.test")
        .silent("silent.egress.test")
        .start();
    let r = resolver(dns.addr(), Duration::from_millis(300));

    let nx = r
        .lookup("nope.egress.test.", RecordType::A)
        .await
        .unwrap_err();
    assert!(nx.is_nx_domain(), "{nx}");
    let nodata = r
        .lookup("v4only.egress.test.", RecordType::AAAA)
        .await
        .unwrap_err();
    assert!(
        nodata.is_no_records_found() && !nodata.is_nx_domain(),
        "{nodata}"
    );
    for name in ["broken.egress.test.", "refused.egress.test."] {
        let err = r.lookup(name, RecordType::A).await.unwrap_err();
        assert!(!err.is_no_records_found(), "{name}: {err}");
    }
    let started = Instant::now();
    let silent = r
        .lookup("silent.egress.test.", RecordType::A)
        .await
        .unwrap_err();
    assert!(!silent.is_no_records_found(), "{silent}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a silent name must end in a timeout"
    );
    // The silent name was asked, so the silence is the server's doing.
    assert!(!dns.queries_for("silent.egress.test").is_empty());

    // On the wire: the exact codes, and silence over both transports.
    let code = |name, tcp| {
        raw(dns.addr(), name, RecordType::A, tcp, WAIT)
            .unwrap()
            .metadata
            .response_code
    };
    assert_eq!(code("nope.egress.test.", false), ResponseCode::NXDomain);
    assert_eq!(code("v4only.egress.test.", true), ResponseCode::NoError);
    assert_eq!(code("broken.egress.test.", false), ResponseCode::ServFail);
    assert_eq!(code("refused.egress.test.", true), ResponseCode::Refused);
    assert_eq!(
        code("elsewhere.example.", false),
        ResponseCode::Refused,
        "outside the zone"
    );
    let short = Duration::from_millis(200);
    assert!(
        raw(
            dns.addr(),
            "silent.egress.test.",
            RecordType::A,
            false,
            short
        )
        .is_none()
    );
    assert!(
        raw(
            dns.addr(),
            "silent.egress.test.",
            RecordType::A,
            true,
            short
        )
        .is_none()
    );
    // NXDOMAIN carries the zone's SOA for negative caching.
    let nx = raw(dns.addr(), "nope.egress.test.", RecordType::A, false, WAIT).unwrap();
    assert_eq!(nx.authorities.len(), 1);
    assert_eq!(nx.authorities[0].ttl, 60);
}

#[tokio::test]
async fn a_thousand_records_fall_back_to_tcp() {
    let many = (0..1000u32).map(|i| Ipv4Addr::new(127, 1, (i / 256) as u8, (i % 256) as u8));
    let dns = DnsServer::zone("egress.test")
        .a_many("many.egress.test", many, 60)
        .a("small.egress.test", Ipv4Addr::new(127, 0, 0, 9), 60)
        .truncate_udp("small.egress.test")
        .start();

    // On the wire: UDP gets TC and no records (with or without EDNS), TCP gets all of them.
    let udp = raw(dns.addr(), "many.egress.test.", RecordType::A, false, WAIT).unwrap();
    assert!(udp.metadata.truncation && udp.answers.is_empty());
    let tcp = raw(dns.addr(), "many.egress.test.", RecordType::A, true, WAIT).unwrap();
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 1000);
    let forced = raw(dns.addr(), "small.egress.test.", RecordType::A, false, WAIT).unwrap();
    assert!(forced.metadata.truncation && forced.answers.is_empty());
    dns.clear_queries();

    let r = resolver(dns.addr(), WAIT);
    let lookup = r.lookup("many.egress.test.", RecordType::A).await.unwrap();
    assert_eq!(lookup.answers().len(), 1000);
    let small = r.lookup("small.egress.test.", RecordType::A).await.unwrap();
    assert_eq!(small.answers().len(), 1);
    for name in ["many.egress.test", "small.egress.test"] {
        let transports: Vec<Transport> =
            dns.queries_for(name).iter().map(|q| q.transport).collect();
        assert_eq!(transports, [Transport::Udp, Transport::Tcp], "{name}");
    }
}

#[test]
fn edns_clients_get_up_to_1232_bytes_over_udp() {
    // 60 A records are about 1 KB: too big for plain DNS, fine with EDNS.
    let addrs = (0..60u8).map(|i| Ipv4Addr::new(127, 2, 0, i));
    let dns = DnsServer::zone("egress.test")
        .a_many("sixty.egress.test", addrs, 60)
        .start();
    let plain = raw(dns.addr(), "sixty.egress.test.", RecordType::A, false, WAIT).unwrap();
    assert!(plain.metadata.truncation);

    let mut msg = Message::query();
    msg.add_query(Query::query(
        Name::from_ascii("sixty.egress.test.").unwrap(),
        RecordType::A,
    ));
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    msg.set_edns(edns);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    sock.send_to(&msg.to_vec().unwrap(), dns.addr()).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = sock.recv_from(&mut buf).unwrap();
    assert!(len <= 1232);
    let reply = Message::from_vec(&buf[..len]).unwrap();
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 60);
    assert!(reply.edns.is_some());
}

#[test]
fn cname_chains_loops_and_client_side_chasing() {
    let dns = DnsServer::zone("egress.test")
        .cname("www.egress.test", "api.egress.test", 30)
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 300)
        .cname("loop-a.egress.test", "loop-b.egress.test", 30)
        .cname("loop-b.egress.test", "loop-a.egress.test", 30)
        .cname_chain("chain.egress.test", 20, "api.egress.test", 30)
        .cname("away.egress.test", "api.elsewhere.test", 30)
        .cname("dangling.egress.test", "gone.egress.test", 30)
        .start();
    let q = |name| raw(dns.addr(), name, RecordType::A, false, WAIT).unwrap();

    let www = q("www.egress.test.");
    assert_eq!(
        answer_names(&www),
        [
            (
                "www.egress.test.".into(),
                RData::CNAME(CNAME(Name::from_ascii("api.egress.test.").unwrap()))
            ),
            (
                "api.egress.test.".into(),
                RData::A(Ipv4Addr::new(127, 0, 0, 2).into())
            ),
        ]
    );
    let cname = raw(
        dns.addr(),
        "www.egress.test.",
        RecordType::CNAME,
        false,
        WAIT,
    )
    .unwrap();
    assert_eq!(cname.answers.len(), 1);

    let looped = q("loop-a.egress.test.");
    assert_eq!(looped.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        looped.answers.len(),
        2,
        "both CNAMEs, then the loop is visible"
    );
    assert!(
        looped
            .answers
            .iter()
            .all(|r| matches!(r.data, RData::CNAME(_)))
    );

    // The chain is 20 CNAMEs then the address; it needs TCP (over 512 bytes) or EDNS.
    let chain = raw(dns.addr(), "chain.egress.test.", RecordType::A, true, WAIT).unwrap();
    assert_eq!(
        chain
            .answers
            .iter()
            .filter(|r| matches!(r.data, RData::CNAME(_)))
            .count(),
        20
    );
    assert!(matches!(chain.answers.last().unwrap().data, RData::A(_)));

    assert_eq!(
        q("away.egress.test.").answers.len(),
        1,
        "stops at the zone's edge"
    );
    let dangling = q("dangling.egress.test.");
    assert_eq!(dangling.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(dangling.answers.len(), 1);

    let lazy = DnsServer::zone("egress.test")
        .cname("www.egress.test", "api.egress.test", 30)
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 300)
        .chase_cnames(false)
        .start();
    let one = raw(lazy.addr(), "www.egress.test.", RecordType::A, false, WAIT).unwrap();
    assert_eq!(
        one.answers.len(),
        1,
        "only the CNAME: the client must chase"
    );
}

#[tokio::test]
async fn resolver_follows_chains_when_the_server_does_not_chase() {
    let dns = DnsServer::zone("egress.test")
        .cname("www.egress.test", "api.egress.test", 30)
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 300)
        .chase_cnames(false)
        .start();
    let ips: Vec<IpAddr> = resolver(dns.addr(), WAIT)
        .lookup_ip("www.egress.test.")
        .await
        .unwrap()
        .iter()
        .collect();
    assert_eq!(ips, [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]);
    assert!(
        !dns.queries_for("api.egress.test").is_empty(),
        "the client asked for the target"
    );
}

#[test]
fn delayed_answers_arrive_late_but_arrive() {
    let delay = Duration::from_millis(300);
    let dns = DnsServer::zone("egress.test")
        .a("slow.egress.test", Ipv4Addr::new(127, 0, 0, 2), 60)
        .delay("slow.egress.test", delay)
        .start();
    for tcp in [false, true] {
        let started = Instant::now();
        let reply = raw(dns.addr(), "slow.egress.test.", RecordType::A, tcp, WAIT).unwrap();
        assert!(started.elapsed() >= delay);
        assert_eq!(reply.answers.len(), 1);
    }
}

#[test]
fn binds_to_ipv6_loopback_and_other_127_addresses_and_stops_on_drop() {
    for ip in [
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)),
    ] {
        let dns = DnsServer::zone("egress.test")
            .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 60)
            .bind(ip)
            .start();
        let addr = dns.addr();
        assert_eq!(addr.ip(), ip);
        assert_eq!(dns.resolver_arg(), addr.to_string());
        assert_eq!(
            raw(addr, "api.egress.test.", RecordType::A, true, WAIT)
                .unwrap()
                .answers
                .len(),
            1
        );
        drop(dns);
        assert!(
            TcpStream::connect(addr).is_err(),
            "still listening after drop"
        );
    }
}

#[test]
#[should_panic(expected = "localhost")]
fn refuses_localhost_zones() {
    let _ = DnsServer::zone("localhost");
}

#[test]
fn serves_inside_a_namespace() {
    tools::require_root_and(netns::NETNS_TOOLS);
    let ns = Netns::new();
    let dns = DnsServer::zone("egress.test")
        .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 60)
        .in_netns(&ns)
        .start();
    let addr = dns.addr();
    // The namespace's 127.0.0.1 is not the host's: only a client inside reaches the server.
    let inside =
        ns.enter(move || raw(addr, "api.egress.test.", RecordType::A, false, WAIT).is_some());
    assert!(inside);
    assert!(
        raw(
            addr,
            "api.egress.test.",
            RecordType::A,
            false,
            Duration::from_millis(200)
        )
        .is_none()
    );
}
