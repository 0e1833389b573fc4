//! TCP connect with a timeout, and what its failure means to an admin.
//!
//! The states are kept apart because each points at a different fix: `refused` (RST) means the
//! path is open but nothing listens; `filtered` (no answer in time) means a firewall drops the
//! packets; `unreachable` means no route, or a firewall that says no with an ICMP message.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::probe::StepLimit;
use crate::probe::model::{TcpObservation, TcpState};
use crate::term::sanitize;

/// `EHOSTUNREACH` and `ENETUNREACH` on Linux, for toolchains whose `io::ErrorKind` mapping
/// does not say so.
const EHOSTUNREACH: i32 = 113;
const ENETUNREACH: i32 = 101;

/// Connects to `addr` within `limit`. The stream is returned only when the state is `open`.
pub(crate) async fn connect(
    addr: SocketAddr,
    limit: StepLimit,
) -> (TcpObservation, Option<TcpStream>) {
    let start = Instant::now();
    let result = tokio::time::timeout(limit.duration, TcpStream::connect(addr)).await;
    let ms = super::elapsed_ms(start);
    match result {
        Ok(Ok(stream)) => {
            // Handshake messages are small and sent once: do not let Nagle hold them back.
            let _ = stream.set_nodelay(true);
            (observation(TcpState::Open, ms, None), Some(stream))
        }
        Ok(Err(err)) => {
            let state = classify(&err);
            (observation(state, ms, Some(describe(&err, state))), None)
        }
        Err(_) => {
            // Stopped by the run's deadline, the connect says nothing about the path.
            let meaning = if limit.by_deadline {
                "cut short, nothing is known about the path yet"
            } else {
                "a firewall drops the packets, or the host is down"
            };
            let message = format!("no answer {}: {meaning}", limit.describe());
            (observation(TcpState::Filtered, ms, Some(message)), None)
        }
    }
}

fn observation(state: TcpState, ms: f64, message: Option<String>) -> TcpObservation {
    TcpObservation {
        state,
        ms,
        message,
        proxy_status: None,
        proxy_auth: Vec::new(),
    }
}

/// The state a failed connect stands for.
pub(crate) fn classify(err: &io::Error) -> TcpState {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => TcpState::Refused,
        io::ErrorKind::TimedOut => TcpState::Filtered,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => TcpState::Unreachable,
        // An ICMPv6 "administratively prohibited" arrives as EACCES, a local firewall's
        // reject as EPERM: both are a firewall saying no.
        io::ErrorKind::PermissionDenied => TcpState::Unreachable,
        _ => match err.raw_os_error() {
            Some(EHOSTUNREACH | ENETUNREACH) => TcpState::Unreachable,
            _ => TcpState::Other,
        },
    }
}

/// The OS message with what it usually means.
fn describe(err: &io::Error, state: TcpState) -> String {
    let os = sanitize(&err.to_string());
    match state {
        TcpState::Refused => format!("{os}: nothing listens on this port, or a firewall resets"),
        TcpState::Unreachable => format!("{os}: no route, or a firewall rejects the connection"),
        TcpState::Filtered => format!("{os}: a firewall drops the packets, or the host is down"),
        _ => os,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_states() {
        let cases = [
            (io::ErrorKind::ConnectionRefused, TcpState::Refused),
            (io::ErrorKind::HostUnreachable, TcpState::Unreachable),
            (io::ErrorKind::NetworkUnreachable, TcpState::Unreachable),
            (io::ErrorKind::PermissionDenied, TcpState::Unreachable),
            (io::ErrorKind::TimedOut, TcpState::Filtered),
            (io::ErrorKind::AddrNotAvailable, TcpState::Other),
        ];
        for (kind, state) in cases {
            assert_eq!(classify(&io::Error::from(kind)), state, "{kind:?}");
        }
        assert_eq!(
            classify(&io::Error::from_raw_os_error(EHOSTUNREACH)),
            TcpState::Unreachable
        );
        assert_eq!(
            classify(&io::Error::from_raw_os_error(ENETUNREACH)),
            TcpState::Unreachable
        );
    }

    #[test]
    fn messages_keep_the_os_text() {
        let err = io::Error::from_raw_os_error(111);
        let text = describe(&err, classify(&err));
        assert!(text.contains("refused"), "{text}");
        assert!(text.contains("nothing listens"), "{text}");
    }
}
