//! The bounds on work in flight (DNS lookups, sockets, connects ahead of their handshake,
//! handshake CPU turns), owned by one run or shared by several.
//!
//! `check` makes one run, which owns its limits. `serve` makes one run per scrape, and
//! scrapes overlap: limits made per run would multiply with the scrapes under way (50
//! scrapes, 50 × 64 handshake turns and 50 × the socket budget on two cores and one
//! open-file limit), so the exporter makes one [`Limits`] at start and every scrape's run
//! draws from it. The machine then does the same work for 50 overlapping scrapes as for one
//! check of all their targets, and `--max-concurrent-probes` bounds only what a waiting
//! run holds (its plan and its tasks), not CPU or file descriptors.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::probe::options::ProbeOptions;

/// Semaphores for the bounded steps of a probe run; cloning shares them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Names resolved at once (`dns_concurrency`).
    pub(crate) dns: Arc<Semaphore>,
    /// Sockets open at once (`max_pending_connects`): each permit stands for a file
    /// descriptor and is held until the socket closes.
    pub(crate) sockets: Arc<Semaphore>,
    /// Connects that may end up open and waiting for a handshake turn (as many as turns).
    pub(crate) connect_ahead: Arc<Semaphore>,
    /// Handshake CPU turns (`handshake_concurrency`): building a ClientHello, processing the
    /// server's flight. Waiting for the server holds none.
    pub(crate) handshakes: Arc<Semaphore>,
}

impl Limits {
    /// Limits sized by `options` (each at least 1).
    pub fn new(options: &ProbeOptions) -> Limits {
        let semaphore = |permits: usize| Arc::new(Semaphore::new(permits.max(1)));
        Limits {
            dns: semaphore(options.dns_concurrency),
            sockets: semaphore(options.max_pending_connects),
            connect_ahead: semaphore(options.handshake_concurrency),
            handshakes: semaphore(options.handshake_concurrency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_their_permits() {
        let options = ProbeOptions {
            max_pending_connects: 2,
            ..ProbeOptions::default()
        };
        let limits = Limits::new(&options);
        let shared = limits.clone();
        let held = shared.sockets.try_acquire().unwrap();
        assert_eq!(limits.sockets.available_permits(), 1);
        drop(held);
        assert_eq!(limits.sockets.available_permits(), 2);
        assert_eq!(limits.handshakes.available_permits(), 64);
    }
}
