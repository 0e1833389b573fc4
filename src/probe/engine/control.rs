//! Control handshakes: tell a device that filters TLS by name from a server that is down.
//!
//! Next-generation firewalls and secure web gateways let TCP through, read the SNI of the
//! ClientHello and drop or reset the connection when the name is not allowed. To a prober
//! that looks like a server that does not answer. So when a direct target's handshake gets
//! no ServerHello (silence, a reset, an alert), the same address is asked once more, with the
//! same ClientHello but without SNI and with a control name ([`ControlOptions`]: by
//! default the first of `example.com`, `.net`, `.org` that the run does not probe), both at
//! once, each with the same timeouts and one attempt. A ServerHello to a control where the
//! target's own ClientHello got none is the filter's signature; the audit calls it
//! `sni-filtered`.
//!
//! A silent path would cost two timeouts if the controls waited for the target's handshake
//! to time out, so a handshake whose server has sent nothing for a quarter of its timeout
//! ([`CONTROL_AFTER_SILENCE_DIVISOR`]) starts them alongside; if it then completes after
//! all, they are dropped unread. Started alongside, they wait for a ServerHello only until
//! the handshake's own timeout ends (three quarters of it), so a silent path costs one
//! timeout, not 1.25: a server that answers neither name in three quarters of a timeout
//! answers the question as well as one silent for all of it.
//!
//! [`ControlOptions`]: crate::probe::options::ControlOptions

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::{Connected, NOT_PROBED_DEADLINE, Shared, SlotGate, handshake};
use crate::catalog::DnsName;
use crate::probe::model::{ControlHello, TcpState, TlsFailure, TlsObservation};
use crate::probe::options::CONTROL_AFTER_SILENCE_DIVISOR;
use crate::probe::stream::TlsStream;
use crate::probe::tls::{Handshake, HandshakeProgress, Hello, Sni};
use crate::probe::{elapsed_ms, tcp};

/// A handshake and the control handshakes it needed.
pub(super) struct Checked {
    pub tls: TlsObservation,
    pub stream: Option<TlsStream>,
    pub control: Vec<ControlHello>,
}

/// True when the handshake got no ServerHello in a way a filter causes: silence, a reset or
/// a close, an alert (not an old protocol version, garbage or the run's deadline).
pub(super) fn needs_control(tls: &TlsObservation) -> bool {
    !tls.ok
        && tls.version.is_none()
        && tls.ms > 0.0
        && matches!(
            tls.failure,
            Some(TlsFailure::Timeout | TlsFailure::Closed | TlsFailure::Alert)
        )
}

/// The handshake over `connected`, with control handshakes to `control_to` (its address,
/// for a direct target) when it needs them and the options allow them.
pub(super) async fn handshake_checked<R: Sync>(
    shared: &Shared<R>,
    connected: Connected<'_, '_>,
    keep: bool,
    control_to: Option<SocketAddr>,
) -> Checked {
    let name = connected.name;
    let Some(addr) = control_to.filter(|_| shared.options.control.enabled) else {
        let (tls, stream) = handshake(shared, connected, keep, None).await;
        return Checked {
            tls,
            stream,
            control: Vec::new(),
        };
    };
    let hello = if keep { Hello::Http1 } else { Hello::Standard };
    let progress = HandshakeProgress::default();
    let mut real = std::pin::pin!(handshake(shared, connected, keep, Some(&progress)));
    let silence = shared.options.handshake_timeout / CONTROL_AFTER_SILENCE_DIVISOR;
    // Until the server has been silent for `silence` after the ClientHello, the handshake
    // runs alone; what needs a control after that gets it afterwards.
    let mut check_at = Instant::now() + silence;
    loop {
        tokio::select! {
            biased;
            (tls, stream) = &mut real => {
                let control = afterwards(shared, addr, name, hello, &tls).await;
                return Checked { tls, stream, control };
            }
            () = tokio::time::sleep_until(check_at) => {}
        }
        match progress.hello_sent() {
            _ if progress.answered() => {
                let (tls, stream) = real.await;
                let control = afterwards(shared, addr, name, hello, &tls).await;
                return Checked {
                    tls,
                    stream,
                    control,
                };
            }
            Some(sent) if sent + silence <= Instant::now() => break,
            Some(sent) => check_at = sent + silence,
            None => check_at = Instant::now() + silence,
        }
    }
    // Silent: the controls go alongside the handshake, and count only if it fails. They
    // end when its timeout does.
    let ends = progress.hello_sent().map_or(Instant::now(), |sent| {
        sent + shared.options.handshake_timeout
    });
    let timeout = ends.saturating_duration_since(Instant::now()).max(silence);
    // Boxed, as in `afterwards`: the controls' state is allocated when they start, not
    // carried by every target's task from the start.
    let mut controls = Box::pin(controls(shared, addr, name, hello, timeout));
    tokio::select! {
        (tls, stream) = &mut real => {
            let control = if needs_control(&tls) { controls.await } else { Vec::new() };
            Checked { tls, stream, control }
        }
        control = &mut controls => {
            let (tls, stream) = real.await;
            let control = if needs_control(&tls) { control } else { Vec::new() };
            Checked { tls, stream, control }
        }
    }
}

/// The controls after a handshake that ended, when it needs them.
async fn afterwards<R: Sync>(
    shared: &Shared<R>,
    addr: SocketAddr,
    name: &DnsName,
    hello: Hello,
    tls: &TlsObservation,
) -> Vec<ControlHello> {
    if needs_control(tls) && Instant::now() < shared.deadline {
        let timeout = shared.options.handshake_timeout;
        Box::pin(controls(shared, addr, name, hello, timeout)).await
    } else {
        Vec::new()
    }
}

/// One ClientHello without SNI and one with the control name (unless it is the target's own
/// name, or there is none), at once, each handshake within `timeout`.
async fn controls<R: Sync>(
    shared: &Shared<R>,
    addr: SocketAddr,
    name: &DnsName,
    hello: Hello,
    timeout: Duration,
) -> Vec<ControlHello> {
    let without = control_hello(shared, addr, name, hello, Sni::Omitted, timeout);
    match shared.control_sni.as_ref().filter(|c| *c != name) {
        Some(control) => {
            let sni = Sni::Control(control);
            let with = control_hello(shared, addr, name, hello, sni, timeout);
            let (without, with) = tokio::join!(without, with);
            vec![without, with]
        }
        None => vec![without.await],
    }
}

/// One control: connect to `addr` within the target's connect timeout and send `hello`
/// with `sni`, the handshake within `timeout`.
async fn control_hello<R: Sync>(
    shared: &Shared<R>,
    addr: SocketAddr,
    name: &DnsName,
    hello: Hello,
    sni: Sni<'_>,
    timeout: Duration,
) -> ControlHello {
    let mut control = ControlHello {
        sni: match sni {
            Sni::Omitted => None,
            Sni::Control(control) => Some(control.to_string()),
            Sni::Name => Some(name.to_string()),
        },
        tcp: TcpState::Other,
        server_hello: false,
        failure: None,
        reset: false,
        server_bytes: 0,
        error: Some(NOT_PROBED_DEADLINE.to_owned()),
        ms: 0.0,
    };
    // A socket of its own, as every connection has.
    let Some(_socket) = shared.permit(&shared.limits.sockets).await else {
        return control;
    };
    let start = Instant::now();
    let (tcp, stream) = tcp::connect(addr, shared.limit(shared.options.connect_timeout)).await;
    control.tcp = tcp.state;
    control.error = tcp.message;
    let Some(stream) = stream else {
        control.ms = elapsed_ms(start);
        return control;
    };
    let gate = SlotGate {
        shared,
        first_turn: std::sync::Mutex::new(None),
    };
    let handshake = Handshake {
        name,
        sni,
        hello,
        timeout,
        deadline: shared.deadline,
        max_bytes: shared.options.max_tls_bytes,
        progress: None,
    };
    let (tls, _) = Box::pin(shared.tls.connect(stream, &[], &handshake, &gate, None)).await;
    control.ms = elapsed_ms(start);
    control.server_hello = tls.version.is_some();
    control.reset = tls.reset;
    control.server_bytes = tls.server_bytes;
    if control.server_hello {
        control.error = None;
    } else {
        control.failure = tls.failure;
        control.error = tls.error;
    }
    control
}
