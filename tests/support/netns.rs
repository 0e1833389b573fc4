//! Network namespaces for tests that need a firewall or addresses that are not loopback.
//!
//! Filtered (a `drop` rule), unreachable (`reject with icmpx admin-prohibited`, no route) and
//! the real-firewall end-to-end tests cannot be faked on the host's loopback without touching
//! the host's own firewall. A namespace gives each test a private network stack: its own `lo`,
//! its own nftables ruleset, and, with [`NetnsPair`], a veth link to a second namespace that
//! carries TEST-NET-3 (203.0.113.0/24) and a ULA (fd00:eeee::/64). Nothing is ever added to the
//! host's namespace, and neither namespace has a route anywhere else, so no packet can leave.
//!
//! Why not TEST-NET-1 (192.0.2.0/24): this machine's own uplink uses it (eth0 is 192.0.2.2,
//! the default gateway 192.0.2.1), so those addresses would make it ambiguous whether a
//! packet stayed inside a namespace.
//!
//! Everything is removed in `Drop`, also when the test panics. Namespaces leaked by a killed
//! test process are swept the next time a namespace is created (the owner's pid is in the
//! name).

use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

/// Prefix of every namespace this harness creates; the sweep only ever touches these.
const NAME_PREFIX: &str = "egctest";

/// Where `ip netns add` puts the namespace handles.
const NETNS_DIR: &str = "/run/netns";

/// The client side of a [`NetnsPair`] link.
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The server side of a [`NetnsPair`] link.
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
/// The client side of a [`NetnsPair`] link, IPv6.
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xeeee, 0, 0, 0, 0, 0, 1);
/// The server side of a [`NetnsPair`] link, IPv6.
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xeeee, 0, 0, 0, 0, 0, 2);
/// An IPv4 address no namespace of a [`NetnsPair`] has a route to (TEST-NET-2): connecting
/// to it from inside fails at once with "network unreachable", and no packet is sent.
pub const UNROUTED_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// An IPv6 address no namespace of a [`NetnsPair`] has a route to.
pub const UNROUTED_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xeeef, 0, 0, 0, 0, 0, 1);

/// Interface names inside the namespaces; names are per namespace, so fixed names are safe.
const CLIENT_IF: &str = "eg0";
const SERVER_IF: &str = "eg1";

/// Tools every namespace test needs.
pub const NETNS_TOOLS: &[&str] = &["ip", "nft"];

/// Fails the test unless it runs as root with `tools` on PATH; always true when it returns.
///
/// Kept for branches written before [`tools`](super::tools) existed: call
/// `tools::require_root_and(tools)` in new code. It never skips: a missing tool or a missing
/// root fails the test, with the command that fixes it.
pub fn require_root_and_tools(tools: &[&str]) -> bool {
    super::tools::require_root_and(tools);
    true
}

/// Fails the test unless `tools` are on PATH; always true when it returns. Kept for branches
/// written before [`tools`](super::tools): call `tools::require(tools)` in new code.
pub fn require_tools(tools: &[&str]) -> bool {
    super::tools::require(tools);
    true
}

/// Full path of `tool` on `PATH`. Kept for older branches: use `tools::find`.
pub fn find_in_path(tool: &str) -> Option<PathBuf> {
    super::tools::find(tool)
}

/// A network namespace owned by the test; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace with a unique name and `lo` up. Panics (with `ip`'s message) if it
    /// cannot: call `tools::require_root_and(NETNS_TOOLS)` first.
    pub fn new() -> Netns {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_stale);
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NAME_PREFIX}-{}-{n}", std::process::id());
        run_checked(Command::new("ip").args(["netns", "add", &name]));
        // From here on the guard owns the namespace, so a failure below still cleans up.
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's handle file (what `setns` opens).
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// `ip netns exec NAME program`: add arguments, then run it. This is how the
    /// `egresscheck` binary is run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `program args` inside the namespace and returns its output, whatever its status.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = self.command(program);
        cmd.args(args);
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name))
    }

    /// `ip -n NAME args`; panics with `ip`'s message on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.name]).args(args);
        run_checked(&mut cmd)
    }

    /// Loads an nftables ruleset into this namespace (`nft -f -`). The error is nft's message,
    /// so a test of generated rules can show what nft rejected.
    pub fn load_nft(&self, ruleset: &str) -> Result<(), String> {
        self.nft_stdin(&["-f", "-"], ruleset)
    }

    /// Checks a ruleset without loading it (`nft -c -f -`), inside this namespace so the
    /// check never depends on the host's tables.
    pub fn check_nft(&self, ruleset: &str) -> Result<(), String> {
        self.nft_stdin(&["-c", "-f", "-"], ruleset)
    }

    /// The namespace's current ruleset (`nft list ruleset`).
    pub fn list_nft(&self) -> String {
        let out = self.run("nft", &["list", "ruleset"]);
        assert!(
            out.status.success(),
            "nft list ruleset: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `program args` inside the namespace with `input` on standard input; Err is its
    /// standard error.
    pub fn run_with_stdin(&self, program: &str, args: &[&str], input: &str) -> Result<(), String> {
        let mut child = self
            .command(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| format!("writing to {program}: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for {program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }

    fn nft_stdin(&self, args: &[&str], ruleset: &str) -> Result<(), String> {
        self.run_with_stdin("nft", args, ruleset)
    }

    /// Runs `f` on a new thread that has joined this namespace, and returns its result.
    ///
    /// Sockets created by `f` live in the namespace. Build a current-thread tokio runtime
    /// inside `f` if you need async: threads spawned from the joined thread inherit the
    /// namespace, the test's own threads never change namespace. Panics in `f` propagate.
    pub fn enter<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let path = self.path();
        let handle = thread::Builder::new()
            .name(format!("netns {}", self.name))
            .spawn(move || {
                join_netns(&path).unwrap_or_else(|e| panic!("setns {}: {e}", path.display()));
                f()
            })
            .expect("spawn netns thread");
        match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace also destroys its veth end, and with it the peer end.
        let status = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) && !thread::panicking() {
            eprintln!("warning: could not delete network namespace {}", self.name);
        }
    }
}

/// Moves the calling thread into the namespace whose handle is at `path`.
///
/// Only this thread moves; the process and its other threads stay where they were. Servers of
/// this harness call it at the start of their own thread when given a namespace.
pub fn join_netns(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    rustix::thread::move_into_link_name_space(
        file.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(io::Error::from)
}

/// Two namespaces joined by a veth link: `client` (203.0.113.1, fd00:eeee::1) and `server`
/// (203.0.113.2, fd00:eeee::2), each with `lo` up and no other route.
///
/// Typical use: start servers inside `server` (the harness servers take a namespace), load an
/// nftables ruleset into `client` or `server`, and run the probe inside `client`
/// (`pair.client.command(env!("CARGO_BIN_EXE_egresscheck"))` or `pair.client.enter(..)`).
#[derive(Debug)]
pub struct NetnsPair {
    /// Where the prober runs.
    pub client: Netns,
    /// Where the servers run.
    pub server: Netns,
}

impl NetnsPair {
    /// Creates both namespaces and the link; panics with `ip`'s message if it cannot.
    pub fn new() -> NetnsPair {
        let client = Netns::new();
        let server = Netns::new();
        // Created inside `client` with its peer straight into `server`: the interfaces never
        // exist in the host's namespace, so names cannot clash between parallel tests.
        client.ip(&[
            "link",
            "add",
            CLIENT_IF,
            "type",
            "veth",
            "peer",
            "name",
            SERVER_IF,
            "netns",
            server.name(),
        ]);
        for (ns, ifname, v4, v6) in [
            (&client, CLIENT_IF, CLIENT_V4, CLIENT_V6),
            (&server, SERVER_IF, SERVER_V4, SERVER_V6),
        ] {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", ifname]);
            // nodad: the address is usable at once instead of "tentative" for a second or two.
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                ifname,
                "nodad",
            ]);
            ns.ip(&["link", "set", ifname, "up"]);
        }
        for (ns, ifname) in [(&client, CLIENT_IF), (&server, SERVER_IF)] {
            wait_until_up(ns, ifname);
        }
        NetnsPair { client, server }
    }

    /// The server's address in the given family.
    pub fn server_addr(&self, v6: bool) -> IpAddr {
        if v6 {
            SERVER_V6.into()
        } else {
            SERVER_V4.into()
        }
    }

    /// The client's address in the given family.
    pub fn client_addr(&self, v6: bool) -> IpAddr {
        if v6 {
            CLIENT_V6.into()
        } else {
            CLIENT_V4.into()
        }
    }
}

impl Default for NetnsPair {
    fn default() -> Self {
        NetnsPair::new()
    }
}

/// Waits until the kernel has made `ifname` operational. A veth end set up is not yet
/// passing traffic: the kernel's link watcher activates it later (by up to a second on a
/// busy machine), and a packet sent before that is dropped. A test's first connect would
/// then look filtered (its SYN or the IPv6 neighbour solicitation lost), so a test of how
/// drops and rejects look starts only on a working link. Panics after 10 s.
fn wait_until_up(ns: &Netns, ifname: &str) {
    let started = std::time::Instant::now();
    loop {
        let link = ns.ip(&["-o", "link", "show", "dev", ifname]);
        if link.contains("state UP") {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{ifname} in {} is not up after 10 s: {link}",
            ns.name()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs `cmd`, panicking with its standard error unless it succeeds; returns standard output.
fn run_checked(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{:?} {:?} failed ({}): {}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deletes namespaces left by test processes that no longer exist (killed before `Drop`).
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = Command::new("ip")
                .args(["netns", "delete", &name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The pid in a name made by [`Netns::new`], or None for any other namespace.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NAME_PREFIX)?.strip_prefix('-')?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}
