//! The `probe` command's table: for each name, what DNS said, one row per target (TCP, TLS,
//! trust, result), each distinct certificate once in detail, and the problems in sentences,
//! the way `Test-NetConnection` and `openssl s_client` summaries read.
//!
//! Remote text (certificate fields, proxy and OS messages) was sanitised by the engine.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use crate::probe::model::{
    AddressOrigin, CertificateInfo, DnsLookup, NameObservation, ProbeRequest, TargetObservation,
    TcpState, TlsObservation,
};
use crate::term::grid::{Column, Frame, Grid};
use crate::term::{self, Screen};

/// True when the target connected and its TLS is genuine: handshake complete, chain valid
/// against public roots (or `--ca-file`), name matching.
pub fn target_passed(target: &TargetObservation) -> bool {
    target.tcp.state == TcpState::Open
        && target
            .tls
            .as_ref()
            .is_some_and(|tls| tls.ok && tls.trusted_public && tls.hostname_match)
}

/// Writes the table for `observations` (in the order of `requests`), with certificate ages
/// relative to `now`.
pub fn render(
    observations: &[NameObservation],
    requests: &[ProbeRequest],
    now: DateTime<Utc>,
    screen: Screen,
    out: &mut dyn Write,
) -> io::Result<()> {
    let width = screen.width;
    let (mut passed, mut total) = (0usize, 0usize);
    for (index, observation) in observations.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", observation.name)?;
        render_dns(observation, width, out)?;
        if observation.targets.is_empty() {
            let ports: Vec<String> = requests
                .iter()
                .find(|r| r.name == observation.name)
                .map(|r| r.ports.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            term::write_wrapped(
                out,
                width,
                "  ",
                "    ",
                &format!(
                    "nothing to probe on port {}: DNS gave no address (to test the name at an address, give --connect-to {}:{}:ADDRESS:)",
                    ports.join(", "),
                    observation.name,
                    ports.first().map(String::as_str).unwrap_or_default()
                ),
            )?;
            total += ports.len().max(1);
            continue;
        }
        let mut table = Grid::new(vec![
            Column::spaced("address"),
            Column::atoms("port"),
            Column::atoms("origin").drop_order(1),
            Column::spaced("TCP"),
            Column::spaced("TLS").drop_order(2),
            Column::spaced("trust").drop_order(3),
            Column::spaced("result"),
        ]);
        for target in &observation.targets {
            table.row(vec![
                target.address.map_or_else(
                    || format!("via {}", target.proxy.as_deref().unwrap_or("proxy")),
                    |a| a.to_string(),
                ),
                target.port.to_string(),
                origin_word(target).to_owned(),
                tcp_cell(target),
                target.tls.as_ref().map(tls_cell).unwrap_or_default(),
                target
                    .tls
                    .as_ref()
                    .map(|t| trust_cell(t, now))
                    .unwrap_or_default(),
                result_word(target).to_owned(),
            ]);
            total += 1;
            passed += usize::from(target_passed(target));
        }
        let rendered = table.render(width.saturating_sub(2), Frame::Boxed, screen.colour);
        term::write_table(out, width, "  ", &rendered)?;
        render_certificates(observation, now, width, out)?;
        render_problems(observation, width, out)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{total} target{}: {passed} passed, {} failed",
        if total == 1 { "" } else { "s" },
        total - passed
    )?;
    Ok(())
}

fn render_dns(observation: &NameObservation, width: usize, out: &mut dyn Write) -> io::Result<()> {
    let Some(dns) = &observation.dns else {
        let given = observation
            .targets
            .iter()
            .all(|t| t.origin == AddressOrigin::ConnectTo);
        return if given {
            writeln!(out, "  DNS     not asked: --connect-to gives the address")
        } else {
            writeln!(out, "  DNS     resolved by the proxy")
        };
    };
    for lookup in dns.a.iter().chain(dns.aaaa.iter()) {
        let indent = format!("  {:<7} ", lookup.record_type);
        term::write_wrapped(out, width, &indent, "          ", &lookup_text(lookup))?;
    }
    if dns.addresses_dropped > 0 {
        writeln!(
            out,
            "          {} not probed (--max-addresses)",
            term::plural(dns.addresses_dropped, "more address", "more addresses")
        )?;
    }
    Ok(())
}

fn lookup_text(lookup: &DnsLookup) -> String {
    let mut text = if lookup.answers.is_empty() {
        lookup
            .message
            .clone()
            .unwrap_or_else(|| "no answer".to_owned())
    } else {
        lookup
            .answers
            .iter()
            .map(|a| format!("{} (TTL {})", a.address, a.ttl))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !lookup.cname_chain.is_empty() {
        text.push_str(&format!("; via CNAME {}", lookup.cname_chain.join(" → ")));
    }
    text.push_str(&format!("; {:.1} ms", lookup.ms));
    if let Some(server) = lookup.server {
        text.push_str(&format!(" from {server}"));
    }
    text
}

fn origin_word(target: &TargetObservation) -> &'static str {
    match target.origin {
        AddressOrigin::Dns => "dns",
        AddressOrigin::Documented => "documented",
        AddressOrigin::DnsAndDocumented => "dns+doc",
        AddressOrigin::Proxy => "proxy",
        AddressOrigin::ConnectTo => "connect-to",
    }
}

fn tcp_cell(target: &TargetObservation) -> String {
    let state = match target.tcp.state {
        TcpState::Open => "open",
        TcpState::Refused => "refused",
        TcpState::Filtered => "filtered",
        TcpState::Unreachable => "unreachable",
        TcpState::ProxyDenied => "proxy denied",
        TcpState::ProxyAuthRequired => "proxy auth",
        TcpState::ProxyBadGateway => "proxy bad gateway",
        TcpState::ProxyUnavailable => "proxy unavailable",
        TcpState::ProxyTimeout => "proxy timeout",
        TcpState::ProxyError => "proxy error",
        TcpState::Other => "error",
    };
    match target.tcp.proxy_status {
        Some(code) if target.tcp.state != TcpState::Open => {
            format!("{state} ({code})\n{:.1} ms", target.tcp.ms)
        }
        _ => format!("{state}\n{:.1} ms", target.tcp.ms),
    }
}

fn tls_cell(tls: &TlsObservation) -> String {
    if !tls.ok {
        return format!("failed\n{:.1} ms", tls.ms);
    }
    let mut parts = vec![
        tls.version.clone().unwrap_or_default(),
        tls.cipher.clone().unwrap_or_default(),
    ];
    let mut extra = Vec::new();
    if let Some(group) = &tls.kx_group {
        extra.push(group.clone());
    }
    extra.push(format!("ALPN {}", tls.alpn.as_deref().unwrap_or("none")));
    if tls.ocsp_stapled {
        extra.push("OCSP".to_owned());
    }
    extra.push(format!("{:.1} ms", tls.ms));
    parts.push(extra.join(" · "));
    parts.join("\n")
}

fn trust_cell(tls: &TlsObservation, now: DateTime<Utc>) -> String {
    if tls.chain.is_empty() {
        return String::new();
    }
    let mark = |ok: bool| if ok { "yes" } else { "no" };
    let mut text = format!(
        "public {}, system {}\nname {}",
        mark(tls.trusted_public),
        mark(tls.trusted_system),
        mark(tls.hostname_match)
    );
    if let Some(leaf) = tls.chain.first() {
        text.push_str(&format!("\n{}", days_left(leaf, now)));
    }
    text
}

fn days_left(cert: &CertificateInfo, now: DateTime<Utc>) -> String {
    let days = (cert.not_after - now).num_days();
    if cert.not_after < now {
        format!("expired {} days ago", (now - cert.not_after).num_days())
    } else if cert.not_before > now {
        format!("not valid until {}", cert.not_before.format("%Y-%m-%d"))
    } else {
        format!("{days} days left")
    }
}

/// One word for the result column.
pub fn result_word(target: &TargetObservation) -> &'static str {
    if target.cut_by_deadline() {
        // The run's deadline, not the network, ended it (`check`: `cut-short`).
        return "cut short";
    }
    if target.tcp.state != TcpState::Open {
        return match target.tcp.state {
            TcpState::Refused => "refused",
            TcpState::Filtered => "blocked",
            TcpState::Unreachable => "unreachable",
            TcpState::ProxyDenied | TcpState::ProxyAuthRequired => "proxy denied",
            TcpState::Other
                if target
                    .tcp
                    .message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("not probed")) =>
            {
                "not probed"
            }
            _ => "failed",
        };
    }
    match &target.tls {
        None => "failed",
        Some(tls) if !tls.chain.is_empty() && !tls.trusted_public && tls.trusted_system => {
            "intercepted?"
        }
        Some(tls) if !tls.chain.is_empty() && !tls.trusted_public => "untrusted",
        Some(tls) if !tls.chain.is_empty() && !tls.hostname_match => "wrong name",
        Some(tls) if !tls.ok => "TLS failed",
        Some(_) => "ok",
    }
}

/// Each distinct chain once, with the targets that served it.
fn render_certificates(
    observation: &NameObservation,
    now: DateTime<Utc>,
    width: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut seen: Vec<(&[CertificateInfo], Vec<String>)> = Vec::new();
    for target in &observation.targets {
        let Some(tls) = &target.tls else { continue };
        if tls.chain.is_empty() {
            continue;
        }
        let place = target_label(target);
        match seen.iter_mut().find(|(chain, _)| {
            chain.first().map(|c| &c.sha256) == tls.chain.first().map(|c| &c.sha256)
        }) {
            Some((_, places)) => places.push(place),
            None => seen.push((&tls.chain, vec![place])),
        }
    }
    for (chain, places) in seen {
        term::write_wrapped(
            out,
            width,
            "  certificate served by ",
            "    ",
            &places.join(", "),
        )?;
        for (label, value) in certificate_lines(chain, now) {
            term::write_wrapped(
                out,
                width,
                &format!("    {label:<9} "),
                "              ",
                &value,
            )?;
        }
    }
    Ok(())
}

/// What a chain says, as (label, value) lines: the leaf in full, then each certificate above
/// it. Shared by every report that describes a certificate.
pub fn certificate_lines(
    chain: &[CertificateInfo],
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let Some(leaf) = chain.first() else {
        return Vec::new();
    };
    let mut lines = vec![
        ("subject", leaf.subject.clone()),
        ("issuer", leaf.issuer.clone()),
    ];
    if !leaf.sans.is_empty() {
        lines.push(("names", leaf.sans.join(", ")));
    }
    lines.push((
        "valid",
        format!(
            "{} to {} ({})",
            leaf.not_before.format("%Y-%m-%d %H:%M UTC"),
            leaf.not_after.format("%Y-%m-%d %H:%M UTC"),
            days_left(leaf, now)
        ),
    ));
    lines.push((
        "key",
        format!(
            "{}, signed with {}",
            leaf.key_algorithm, leaf.signature_algorithm
        ),
    ));
    lines.push(("serial", leaf.serial.clone()));
    lines.push(("sha256", leaf.sha256.clone()));
    for cert in chain.iter().skip(1) {
        lines.push((
            "chain",
            format!("{} (issuer {})", cert.subject, cert.issuer),
        ));
    }
    lines
}

fn target_label(target: &TargetObservation) -> String {
    match target.address {
        Some(std::net::IpAddr::V6(v6)) => format!("[{v6}]:{}", target.port),
        Some(addr) => format!("{addr}:{}", target.port),
        None => format!(
            "port {} via {}",
            target.port,
            target.proxy.as_deref().unwrap_or("proxy")
        ),
    }
}

/// What went wrong, one sentence per target that did not pass.
fn render_problems(
    observation: &NameObservation,
    width: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut lines = Vec::new();
    for target in observation.targets.iter().filter(|t| !target_passed(t)) {
        let label = target_label(target);
        for problem in problems(&observation.name.to_string(), target) {
            lines.push(format!("{label}: {problem}"));
        }
    }
    if !lines.is_empty() {
        writeln!(out, "  problems")?;
        for line in lines {
            term::write_wrapped(out, width, "  - ", "    ", &line)?;
        }
    }
    Ok(())
}

/// What the control handshakes said: a ServerHello to one of them is a device filtering by
/// SNI; none is a block or a fault whatever the name.
fn control_sentence(name: &str, target: &TargetObservation) -> Option<String> {
    if target.control.is_empty() {
        return None;
    }
    let hello = |c: &crate::probe::model::ControlHello| match &c.sni {
        None => "without SNI".to_owned(),
        Some(sni) => format!("for {sni}"),
    };
    Some(match target.control.iter().find(|c| c.server_hello) {
        Some(answered) => format!(
            "the same address answered a ClientHello {} with a ServerHello: a device on the path blocks TLS to {name} by its SNI; ask for an FQDN/SNI allow rule for {name}, not an IP rule",
            hello(answered)
        ),
        None => {
            let tried: Vec<String> = target.control.iter().map(hello).collect();
            format!(
                "control ClientHellos {} failed too: TLS to this address is blocked or broken whatever the name",
                tried.join(" and ")
            )
        }
    })
}

/// Sentences an admin can act on.
pub fn problems(name: &str, target: &TargetObservation) -> Vec<String> {
    if target.tcp.state != TcpState::Open {
        return vec![
            target
                .tcp
                .message
                .clone()
                .unwrap_or_else(|| format!("TCP {:?}", target.tcp.state)),
        ];
    }
    let Some(tls) = &target.tls else {
        return vec!["connected, but no TLS handshake was attempted".to_owned()];
    };
    let mut out = Vec::new();
    if !tls.ok {
        out.push(format!(
            "TLS handshake failed: {}",
            tls.error.as_deref().unwrap_or("unknown reason")
        ));
        if let Some(control) = control_sentence(name, target) {
            out.push(control);
        }
    }
    if !tls.chain.is_empty() {
        let authority = tls
            .chain
            .last()
            .map(|c| c.issuer.as_str())
            .unwrap_or_default();
        if !tls.trusted_public && tls.trusted_system {
            out.push(format!(
                "the certificate is trusted only through this machine's system store, not by public roots: TLS interception by a middlebox whose CA is installed here? Issuing CA: {authority}"
            ));
        } else if !tls.trusted_public {
            out.push(format!(
                "the certificate is not trusted: {} (issuing CA: {authority}; add a private CA with --ca-file)",
                tls.public_error.as_deref().unwrap_or("unknown reason")
            ));
        }
        if !tls.hostname_match {
            out.push(format!(
                "the certificate is not valid for {name}: {}",
                tls.name_error.as_deref().unwrap_or("no matching name")
            ));
        }
    }
    out
}
