//! Ctrl-C (SIGINT) and SIGTERM during `check`: the run stops, writes neither `--save` nor
//! `--output`, leaves no temporary file, and exits 130 (143 for SIGTERM).
//!
//! A scheduled run is stopped by systemd (SIGTERM) and a manual one by Ctrl-C, usually while
//! the probe waits on a black-holed address. Left to the default action the process would die
//! wherever it is, possibly between creating a temporary file and renaming it. Instead a
//! thread of its own turns the first signal into a flag and a wake-up: the probe is dropped
//! at once ([`wait`] races it), and every write checks [`received`] first
//! ([`crate::atomic::write_atomically`] checks again just before its rename). A second signal
//! means "now": the temporary files still registered by [`crate::atomic`] are removed and the
//! process exits, for a run stuck in a write nobody reads.
//!
//! Only `check` installs the handler: the other commands write nothing to disk, so the
//! default action (end at once) is what a user expects of them.

use std::fmt;
use std::io;
use std::sync::Once;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: `kill`, `systemctl stop`, a container runtime.
    Terminate,
}

impl Signal {
    /// The shell's convention: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    fn from_u8(value: u8) -> Option<Signal> {
        match value {
            1 => Some(Signal::Interrupt),
            2 => Some(Signal::Terminate),
            _ => None,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Signal::Interrupt => 1,
            Signal::Terminate => 2,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// The first signal received (0: none).
static RECEIVED: AtomicU8 = AtomicU8::new(0);
/// Wakes [`wait`]ers when the first signal arrives.
static WAKE: Notify = Notify::const_new();
static INSTALL: Once = Once::new();

/// The first signal received since [`install`], if any.
pub fn received() -> Option<Signal> {
    Signal::from_u8(RECEIVED.load(Ordering::SeqCst))
}

/// An `Interrupted` I/O error when a signal was received: what a write returns instead of
/// writing.
pub fn check() -> io::Result<()> {
    match received() {
        Some(signal) => Err(io::Error::new(
            io::ErrorKind::Interrupted,
            format!("interrupted by {signal}"),
        )),
        None => Ok(()),
    }
}

/// Resolves when a signal is received (never, if [`install`] was not called).
pub async fn wait() -> Signal {
    loop {
        let notified = WAKE.notified();
        tokio::pin!(notified);
        // Registered before the flag is read: a signal between the two still wakes us.
        notified.as_mut().enable();
        if let Some(signal) = received() {
            return signal;
        }
        notified.await;
    }
}

/// Records `signal`: the first one sets the flag and wakes the run; a later one removes
/// the temporary files and ends the process.
fn deliver(signal: Signal) {
    let first = RECEIVED
        .compare_exchange(0, signal.to_u8(), Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if first {
        WAKE.notify_waiters();
    } else {
        crate::atomic::remove_temporaries();
        std::process::exit(i32::from(signal.exit_code()));
    }
}

/// Catches SIGINT and SIGTERM for the rest of the process (idempotent). Returns once the
/// handlers are in place, so a signal sent after this call is never the default action.
/// If they cannot be installed (no thread, no signal driver), the default action stays.
pub fn install() {
    INSTALL.call_once(|| {
        let (ready, installed) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("egresscheck-signals".to_owned())
            .spawn(move || listen(ready));
        if spawned.is_ok() {
            // An error means the thread gave up before installing anything.
            let _ = installed.recv();
        }
    });
}

/// The listening thread's own runtime: the probe's runtime comes and goes, the handlers stay.
fn signal_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()
}

#[cfg(unix)]
fn listen(ready: std::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Some(runtime) = signal_runtime() else {
        return;
    };
    runtime.block_on(async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let _ = ready.send(());
        loop {
            let signal = tokio::select! {
                Some(()) = interrupt.recv() => Signal::Interrupt,
                Some(()) = terminate.recv() => Signal::Terminate,
                else => return,
            };
            deliver(signal);
        }
    });
}

#[cfg(not(unix))]
fn listen(ready: std::sync::mpsc::Sender<()>) {
    let Some(runtime) = signal_runtime() else {
        return;
    };
    runtime.block_on(async move {
        let _ = ready.send(());
        while tokio::signal::ctrl_c().await.is_ok() {
            deliver(Signal::Interrupt);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        for signal in [Signal::Interrupt, Signal::Terminate] {
            assert_eq!(Signal::from_u8(signal.to_u8()), Some(signal));
        }
        assert_eq!(Signal::from_u8(0), None);
    }
}
