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
//! if !netns::require_root_and_tools(netns::NETNS_TOOLS) {
//!     return; // prints why; panics instead when CI is set
//! }
//! let pair = NetnsPair::new(); // client 203.0.113.1 / fd00:eeee::1, server 203.0.113.2 / fd00:eeee::2
//! pair.server.load_nft("table inet t { chain i { type filter hook input priority 0; tcp dport 443 drop; } }")?;
//! let out = pair.client.command(env!("CARGO_BIN_EXE_egresscheck")).args(["probe", "..."]).output()?;
//! let v = pair.client.enter(|| std::net::TcpStream::connect(("203.0.113.2", 443))); // in-process, inside the namespace
//! ```
//!
//! `Netns::new()` alone gives one namespace with `lo` up (for `nft -c` checks or loading
//! generated rules). Everything is deleted on drop, also on panic. `netns::UNROUTED_V4` /
//! `UNROUTED_V6` have no route inside the namespaces ("network unreachable" at once).

// The harness offers more than any one test uses; unused helpers are not dead code here.
#![allow(dead_code)]
// Test support: a failed setup step should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod netns;
