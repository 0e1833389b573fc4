//! A stalled handshake costs no slot: the handshake limit (`--concurrency`) bounds CPU work,
//! and a handshake waiting for the server's first bytes holds only its socket.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::probe::{probe, run_json};
use crate::support::dns::DnsServer;
use crate::support::pki::TestCa;
use crate::support::tcp::BlackHole;
use crate::support::tls::TlsServer;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 17, last))
}

#[test]
fn handshakes_that_never_get_an_answer_do_not_hold_the_only_slot() {
    // Three servers accept and never answer the ClientHello; they are given by --connect-to,
    // so they start at once. The healthy server's name resolves 300 ms later, when the three
    // are waiting for their answers. One handshake slot, a 1 s handshake timeout and a
    // 2.5 s deadline: if the stalled handshakes held the slot while they wait, the healthy
    // one would get it after 3 s, past the deadline.
    let holes: Vec<BlackHole> = (1..=3)
        .map(|i| BlackHole::builder().bind(ip(i)).black_hole())
        .collect();
    let ca = TestCa::new("Egress Test Root CA");
    let server = TlsServer::builder(ca.valid(&["good.egress.test"]))
        .bind(ip(10))
        .start();
    let dns = DnsServer::zone("egress.test")
        .addr("good.egress.test", ip(10), 60)
        .delay("good.egress.test", Duration::from_millis(300))
        .start();
    let mut targets = vec![format!("good.egress.test:{}", server.port())];
    let mut rules = Vec::new();
    for (i, hole) in holes.iter().enumerate() {
        let name = format!("stall{i}.egress.test");
        targets.push(format!("{name}:{}", hole.addr().port()));
        rules.push(format!(
            "{name}:{port}:{}:{port}",
            hole.addr().ip(),
            port = hole.addr().port()
        ));
    }
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let mut cmd = probe(&dns, &targets);
    cmd.args([
        "--concurrency",
        "1",
        "--timeout",
        "1s",
        "--deadline",
        "2500ms",
        "--family",
        "4",
    ])
    .arg("--ca-file")
    .arg(ca.pem_file());
    for rule in &rules {
        cmd.args(["--connect-to", rule]);
    }
    let run = run_json(&mut cmd);
    let good = run.target("good.egress.test");
    assert_eq!(good["tls"]["ok"], true, "{good}");
    for i in 0..3 {
        let stalled = run.target(&format!("stall{i}.egress.test"));
        let tls = &stalled["tls"];
        assert_eq!(tls["failure"], "timeout", "{stalled}");
        assert!(
            tls["error"].as_str().unwrap().contains("within 1s"),
            "its own timeout, not the deadline: {stalled}"
        );
    }
    // Each stalled server saw the target's connection and its two control handshakes.
    for hole in &holes {
        assert_eq!(hole.wait_for_accepted(3), 3);
    }
}
