//! The offline test harness: local stand-ins for everything the probe engine talks to.
//!
//! Tests never reach past this machine. Every server here binds to loopback (127.0.0.0/8,
//! ::1) or to an address inside a network namespace the test created, runs on its own thread
//! with its own current-thread tokio runtime (so it serves both `#[tokio::test]` tests and
//! plain `#[test]` tests that run the `egresscheck` binary as a subprocess), exposes its
//! `SocketAddr`, and shuts down when dropped. Reads are capped and connections bounded, so a
//! misbehaving client cannot make a server grow without limit.
//!
//! # Network namespaces (`netns`)
//!
//! For outcomes that need a firewall (filtered, unreachable) or non-loopback addresses:
//!
//! ```ignore
//! use crate::support::netns::{self, NetnsPair};
//! use crate::support::tools;
//! tools::require_root_and(netns::NETNS_TOOLS); // fails (never skips) without root, ip or nft
//! let pair = NetnsPair::new(); // client 203.0.113.1 / fd00:eeee::1, server 203.0.113.2 / fd00:eeee::2
//! pair.server.load_nft("table inet t { chain i { type filter hook input priority 0; tcp dport 443 drop; } }")?;
//! let out = pair.client.command(env!("CARGO_BIN_EXE_egresscheck")).args(["probe", "..."]).output()?;
//! let v = pair.client.enter(|| std::net::TcpStream::connect(("203.0.113.2", 443))); // in-process, inside the namespace
//! ```
//!
//! `Netns::new()` alone gives one namespace with `lo` up (for `nft -c` checks or loading
//! generated rules). Everything is deleted on drop, also on panic. `netns::UNROUTED_V4` /
//! `UNROUTED_V6` have no route inside the namespaces ("network unreachable" at once).
//! `ns.check_nft(rules)` runs `nft -c`, `ns.run_with_stdin("iptables-restore", &["--test"],
//! rules)` any other tool, both inside the namespace.
//!
//! # DNS (`dns`)
//!
//! One server per test, one zone under the reserved `.test` TLD (never `localhost` names:
//! resolvers answer those themselves). UDP and TCP on one random port of 127.0.0.1 (or
//! `.bind(ip)`, `.in_netns(&ns)`):
//!
//! ```ignore
//! use crate::support::dns::{DnsServer, RecordType, Transport};
//! let dns = DnsServer::zone("egress.test")
//!     .a("api.egress.test", Ipv4Addr::new(127, 0, 0, 2), 300)   // TTL 300
//!     .aaaa("api.egress.test", Ipv6Addr::LOCALHOST, 300)
//!     .cname("www.egress.test", "api.egress.test", 60)
//!     .cname("loop-a.egress.test", "loop-b.egress.test", 60)      // a loop...
//!     .cname("loop-b.egress.test", "loop-a.egress.test", 60)      // ...served as-is
//!     .cname_chain("chain.egress.test", 20, "api.egress.test", 60)
//!     .a_many("many.egress.test", addrs, 60)                      // too big for UDP: TC, then TCP
//!     .truncate_udp("tc.egress.test")                             // always TC over UDP
//!     .servfail("broken.egress.test").refused("refused.egress.test")
//!     .silent("silent.egress.test")                               // never answered: timeout
//!     .delay("slow.egress.test", Duration::from_millis(300))
//!     .start();
//! cmd.args(["--resolver", &dns.resolver_arg()]);                  // "127.0.0.1:PORT"
//! assert!(dns.queries_for("many.egress.test").iter().any(|q| q.transport == Transport::Tcp));
//! ```
//!
//! Unknown names in the zone get NXDOMAIN (with the SOA), a name without records of the
//! asked type gets NOERROR with no answers, names outside the zone get REFUSED. CNAMEs are
//! followed inside the zone and the whole chain sent, as a recursive resolver does;
//! `.chase_cnames(false)` sends only the first CNAME. Answers should hold only loopback
//! addresses (or namespace addresses): the probe connects to what DNS says.
//! `dns.set_zone(DnsServer::zone("egress.test").…)` answers from another zone from then on, on
//! the same address (a world that changes between two runs of a test).
//! `dns::test_resolver(dns.addr(), timeout)` is a hickory resolver configured as
//! `--resolver` configures the probe (only that server, no hosts file, no cache).
//!
//! # Test PKI (`pki`) and TLS servers (`tls`)
//!
//! Keys and certificates are made per test with rcgen (ECDSA P-256, ring); nothing is
//! checked in.
//!
//! ```ignore
//! use crate::support::pki::{Leaf, TestCa};
//! use crate::support::tls::{Hostile, TlsServer};
//! let ca = TestCa::new("Egress Test Root CA");
//! let valid = ca.valid(&["api.egress.test"]);           // from yesterday, 90 days
//! let expired = ca.expired(&["api.egress.test"]);       // ended yesterday
//! let early = ca.not_yet_valid(&["api.egress.test"]);   // starts tomorrow
//! let wrong = ca.valid(&["other.egress.test"]);         // serve it for api.egress.test
//! let selfsigned = Leaf::self_signed(&["api.egress.test"]);
//! let chained = ca.intermediate("Issuing CA").valid(&["api.egress.test"]); // leaf + intermediate
//! let soon = ca.leaf(&["api.egress.test"]).expires_in_days(10).issue();
//! let fixed = ca.leaf(&["api.egress.test"]).validity(d1, d2).serial(7).issue(); // for snapshots
//! cmd.arg("--ca-file").arg(ca.pem_file());               // root PEM, removed with `ca`
//! cmd.env("SSL_CERT_FILE", middlebox_ca.pem_file());     // interception: trusted only by the system store
//!
//! let server = TlsServer::builder(valid)
//!     .bind("127.0.0.5".parse()?)                        // any 127/8 address, or ::1
//!     .tls12_only()                                      // or .tls13_only()
//!     .alpn(&["h2", "http/1.1"])
//!     .ocsp(b"stapled bytes")
//!     .start();                                          // TlsServer::start(leaf) for the defaults
//! let conns = server.wait_for_connections(1);            // SNI, offered ALPN, version, ALPN chosen
//! server.present(TlsServer::builder(renewed).tls12_only()); // same port, another leaf and versions
//! let garbage = TlsServer::hostile(Hostile::Garbage(10 << 20)).start();
//! let slow = TlsServer::hostile(Hostile::Slow(Duration::from_secs(1))).start();
//! let rude = TlsServer::hostile(Hostile::CloseAfterHello).start();
//! ```
//!
//! # Bad TCP endpoints (`tcp`)
//!
//! ```ignore
//! use crate::support::tcp::{BlackHole, ClosedPort, UnansweredPort};
//! let hole = BlackHole::start();              // accepts, never sends: TLS handshake timeout
//! let closed = ClosedPort::new();             // refused (RST); port reserved until drop
//! let closed6 = ClosedPort::on("::1".parse()?);
//! let dropped = UnansweredPort::start();      // connect times out (full accept queue), no root needed
//! BlackHole::builder().bind(ip).in_netns(&ns).black_hole();
//! ```
//!
//! `UnansweredPort` is the rootless stand-in for "filtered"; tests of the real outcome use an
//! nftables `drop` in a namespace.
//!
//! # CONNECT proxy (`proxy`)
//!
//! ```ignore
//! use crate::support::proxy::{ProxyMode, ProxyServer};
//! let proxy = ProxyServer::allow().resolve_with(&dns).start();        // tunnels; DNS is the proxy's
//! let proxy = ProxyServer::allow().map("api.egress.test", ip).start(); // or a fixed map
//! let proxy = ProxyServer::require_auth("user", "pass").map(..).start(); // 407 unless Basic matches
//! let proxy = ProxyServer::builder(ProxyMode::Deny).start();          // 403
//! let proxy = ProxyServer::builder(ProxyMode::Status(502)).start();   // or 503, ...
//! let proxy = ProxyServer::builder(ProxyMode::Silent).start();        // never answers
//! let proxy = ProxyServer::builder(ProxyMode::OkThenGarbage(1 << 20)).start();
//! let proxy = ProxyServer::builder(ProxyMode::Raw(b"HTTP/1.1 403 \x1b[31mNo\r\n\r\n".to_vec(), 0)).start();
//! cmd.args(["--proxy", &proxy.url()]);                                // http://127.0.0.1:PORT
//! cmd.env("HTTPS_PROXY", proxy.url_with("user", "pass"));
//! let reqs = proxy.wait_for_requests(1); // authority "api.egress.test:443", auth header, status
//! ```
//!
//! Outside a namespace a tunnelling proxy connects to loopback addresses only (others get
//! 502); unknown or unreachable targets get 502.
//!
//! # Shared machinery (`server`)
//!
//! `server::spawn` runs any server the way described above; `server::Log` is the capped,
//! shared request log behind `queries()`, `connections()` and `requests()`, whose
//! `wait_for(n, timeout)` waits for a server to finish logging (the client can be done a
//! moment before the server is). `server::accept_loop` bounds concurrent connections.
//!
//! # Running the self-tests
//!
//! `scripts/test -E 'test(/^harness_selftest::/)'` (a few seconds). Namespace tests need root
//! with `ip` and `nft` installed; without them they fail with the command that installs them
//! (`tools`), with or without `CI`.
//!
//! # External tools (`tools`)
//!
//! Every test that drives a tool (nft, promtool, xmllint, GNU time, …) calls
//! `tools::require(&["tool"])` first: a missing tool fails the test with the install command
//! taken from `scripts/requirements/`, which lists every tool the tests use.

// The harness offers more than any one test uses; unused helpers are not dead code here.
#![allow(dead_code)]
// Test support: a failed setup step should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod authserver;
pub mod browser;
pub mod data;
pub mod dns;
pub mod enterprise;
pub mod exporter;
pub mod netns;
pub mod pki;
pub mod proxy;
pub mod rss;
pub mod scenario;
pub mod server;
pub mod sni;
pub mod tcp;
pub mod tls;
pub mod tools;
