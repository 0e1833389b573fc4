//! The tools an admin would otherwise use, on the same targets: `sslscan` and
//! `nmap --script ssl-cert`, each in its fastest mode that still fetches and reports the
//! certificate. Both take addresses, not names (they would resolve names with the system
//! resolver, which does not know the lab's zone); the lab's servers do not care about SNI.
//!
//! - `sslscan --no-colour --no-ciphersuites --no-fallback --no-renegotiation
//!   --no-compression --no-heartbleed --no-groups --targets=FILE`: protocol support and the
//!   certificate summary, targets one after the other (sslscan does not scan in parallel).
//! - `nmap -n -Pn -sT -p PORT --script ssl-cert -iL FILE`: a TCP connect scan of the port and
//!   the certificate script, with nmap's default timing (parallel).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{ZONE, target_addr};

/// A peer tool: how to run it and how to count the targets it got a certificate from.
pub struct Peer {
    /// Its name in the table.
    pub label: &'static str,
    /// The command line, for the README and the table's notes.
    pub command: Command,
    /// Where its standard output goes.
    pub output: PathBuf,
}

/// Finds `tool` on `PATH`.
pub fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// The peers installed here, ready to run on `targets` addresses on `port`.
pub fn installed(dir: &Path, targets: usize, port: u16) -> std::io::Result<Vec<Peer>> {
    let mut peers = Vec::new();
    if let Some(sslscan) = find("sslscan") {
        let list = dir.join("sslscan-targets.txt");
        let lines: Vec<String> = (0..targets)
            .map(|i| format!("{}:{port}", target_addr(i)))
            .collect();
        std::fs::write(&list, lines.join("\n") + "\n")?;
        let mut command = Command::new(sslscan);
        command.args([
            "--no-colour",
            "--no-ciphersuites",
            "--no-fallback",
            "--no-renegotiation",
            "--no-compression",
            "--no-heartbleed",
            "--no-groups",
        ]);
        command.arg(format!("--targets={}", list.display()));
        peers.push(Peer {
            label: "sslscan",
            command,
            output: dir.join("sslscan.out"),
        });
    }
    if let Some(nmap) = find("nmap") {
        let list = dir.join("nmap-targets.txt");
        let lines: Vec<String> = (0..targets).map(|i| target_addr(i).to_string()).collect();
        std::fs::write(&list, lines.join("\n") + "\n")?;
        let mut command = Command::new(nmap);
        command.args(["-n", "-Pn", "-sT", "-p", &port.to_string()]);
        command.args(["--script", "ssl-cert", "-iL"]);
        command.arg(&list);
        peers.push(Peer {
            label: "nmap --script ssl-cert",
            command,
            output: dir.join("nmap.out"),
        });
    }
    Ok(peers)
}

/// How many targets a peer's output shows the lab's certificate for.
pub fn certificates_seen(output: &str) -> usize {
    let subject = format!("*.{ZONE}");
    output
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            // sslscan: "Subject:  *.bench.test"; nmap: "| ssl-cert: Subject: commonName=*.bench.test".
            (line.starts_with("Subject:") || line.starts_with("| ssl-cert: Subject:"))
                && line.contains(&subject)
        })
        .count()
}

/// The flags a peer runs with, for the table's notes.
pub fn flags(label: &str) -> &'static str {
    match label {
        "sslscan" => {
            "sslscan --no-ciphersuites --no-fallback --no-renegotiation --no-compression --no-heartbleed --no-groups --targets=FILE"
        }
        _ => "nmap -n -Pn -sT -p PORT --script ssl-cert -iL FILE",
    }
}
