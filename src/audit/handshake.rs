//! What a failed handshake and its control handshakes say: `sni-filtered`, or
//! `tls-failure` with how it failed.
//!
//! A handshake that got no ServerHello ended in one of three ways that point at different
//! devices: silence (a drop: the ClientHello vanished), a reset right after the ClientHello
//! (an active block: a TCP RST), or an alert. The probe's control handshakes asked the same
//! address again with the same ClientHello but without SNI and with a control name: a
//! ServerHello to one of them shows that the path carries TLS to the address and that the
//! name is what is blocked, by a device that reads the SNI (a next-generation firewall's
//! URL or App-ID policy, a secure web gateway). When the controls fail the same way, the
//! address is blocked or broken whatever the name: `tls-failure`, as before, saying so.

use super::{Code, Context};
use crate::probe::model::{ControlHello, TargetObservation, TlsFailure, TlsObservation};

/// The finding of a handshake that failed (other than with an old protocol version).
pub(super) fn failed_handshake(
    ctx: &Context<'_>,
    target: &TargetObservation,
    tls: &TlsObservation,
    label: &str,
) -> (Code, String) {
    let name = &ctx.planned.name;
    let ended = how_it_ended(tls);
    let answered = target.control.iter().find(|c| c.server_hello);
    if let (Some(control), None) = (answered, &tls.version) {
        let server_too = if tls.failure == Some(TlsFailure::Alert) {
            " (an alert can also be the server's own refusal of the name: if the provider's server is the one answering, ask the provider)"
        } else {
            ""
        };
        return (
            Code::SniFiltered,
            format!(
                "{label}: a device on the path blocks TLS to {name} by its SNI: the ClientHello for {name} {ended}, while the same address answered {} with a ServerHello{server_too}. Ask the firewall team for an FQDN/SNI allow rule for {name} (the firewall's URL or App-ID policy, or the web gateway's allow list), not an IP rule",
                control_hello(control)
            ),
        );
    }
    let error = tls
        .error
        .as_deref()
        .unwrap_or(if tls.timed_out { "timed out" } else { "failed" });
    let hint = match (tls.timed_out, tls.reset, tls.server_bytes) {
        (true, _, 0) => {
            "; the ClientHello got no answer: something on the path drops it silently, or the server is stalled"
        }
        (_, true, 0) => {
            "; the connection was reset right after the ClientHello: something on the path refuses TLS to this address actively (a TCP reset)"
        }
        (true, _, _) => "; a middlebox may hold the connection (DPI, an SNI filter)",
        _ => "; a proxy or firewall with TLS inspection may reset it",
    };
    let controls = if target.control.is_empty() {
        String::new()
    } else {
        let tried: Vec<String> = target.control.iter().map(control_hello).collect();
        format!(
            ". The same address failed {} as well: TLS is blocked or broken for this address whatever the name, not by SNI; check the firewall rule for the address and port, and the server",
            tried.join(" and ")
        )
    };
    (
        Code::TlsFailure,
        format!("{label}: TCP connected but the TLS handshake failed: {error}{hint}{controls}"),
    )
}

/// `got no answer (…)`, `was reset right after it was sent (…)`, …
fn how_it_ended(tls: &TlsObservation) -> String {
    let error = tls.error.as_deref().unwrap_or("no detail");
    match (tls.failure, tls.reset, tls.server_bytes) {
        (Some(TlsFailure::Timeout), _, 0) => {
            format!("got no answer, as if silently dropped ({error})")
        }
        (_, true, 0) => {
            "was reset right after it was sent, an active block (a TCP reset)".to_owned()
        }
        (Some(TlsFailure::Closed), _, 0) => {
            "was answered by closing the connection, without a word of TLS".to_owned()
        }
        (Some(TlsFailure::Alert), _, _) => format!("got a TLS alert instead ({error})"),
        _ => format!("got no ServerHello ({error})"),
    }
}

/// `a ClientHello without SNI`, `a ClientHello for example.com`.
fn control_hello(control: &ControlHello) -> String {
    match &control.sni {
        None => "a ClientHello without SNI".to_owned(),
        Some(sni) => format!("a ClientHello for {sni}"),
    }
}
