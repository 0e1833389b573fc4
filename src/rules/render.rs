//! The dialect trait, the shared renderer around it, and the list of formats.
//!
//! Every dialect writes the same header (in its own comment syntax), then its body. The
//! shared part also says, in comments, what a dialect cannot express: host names in an
//! address-only dialect, addresses in a name-only one. A dialect is a unit struct
//! implementing [`Dialect`] in its own file (hyperfine's exporters have the same shape).

use std::fmt::{self, Write as _};

use super::diff::Diff;
use super::escape::{self, Charset};
use super::{AddressGroup, AddressRule, GroupKey, Origins, RuleSet, RulesError};

/// Output being built; writing to a `String` cannot fail.
#[derive(Debug, Default)]
pub(crate) struct Out {
    buf: String,
}

impl Out {
    /// Appends one line.
    pub(crate) fn line(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.buf.write_fmt(args);
        self.buf.push('\n');
    }

    /// The text written so far.
    pub(crate) fn into_string(self) -> String {
        self.buf
    }
}

/// `ln!(out, "fmt", args…)`: one line into an [`Out`].
macro_rules! ln {
    ($out:expr) => { $out.line(format_args!("")) };
    ($out:expr, $($arg:tt)*) => { $out.line(format_args!($($arg)*)) };
}
pub(crate) use ln;

/// What kinds of destinations a dialect can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Names {
    /// Addresses only: host names go into comments.
    None,
    /// Host names only: addresses go into comments.
    Only,
    /// Both.
    Both,
}

/// A firewall dialect: constants for its comment syntax and limits, and hooks for its body.
pub(crate) trait Dialect {
    /// Line-comment marker.
    const COMMENT: &'static str = "#";
    /// Longest per-rule comment the dialect accepts, in bytes.
    const MAX_COMMENT: usize = 240;
    /// Letters the dialect accepts in comments.
    const CHARSET: Charset = Charset::Unicode;
    /// Destinations it can match.
    const NAMES: Names = Names::None;
    /// False for formats read by programs that take every line as data (csv, the plain
    /// lists): their header and comment lines come only with `--comments`.
    const HEADER_BY_DEFAULT: bool = true;

    /// True when the output carries its header and comment lines.
    fn commented(&self, rules: &RuleSet) -> bool {
        Self::HEADER_BY_DEFAULT || rules.header.comments
    }

    /// Extra header lines: how to load the output and what is left to the admin.
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        Vec::new()
    }

    /// Extra header lines of a diff: how to apply it.
    fn diff_notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Everything after the header.
    fn body(&self, rules: &RuleSet, out: &mut Out);

    /// The changes of `diff` in this dialect's terms, after the header; `None` when the
    /// dialect cannot express changes (declarative formats).
    fn diff_body(&self, _diff: &Diff, _out: &mut Out) -> Option<()> {
        None
    }

    /// One comment line (the header's lines, section notes).
    fn comment_line(&self, text: &str) -> String {
        if text.is_empty() {
            Self::COMMENT.to_owned()
        } else {
            format!("{} {text}", Self::COMMENT)
        }
    }

    /// The comment of one rule, escaped and cut to the dialect's limit.
    fn rule_comment(&self, key: &GroupKey, origins: &Origins) -> String {
        escape::comment(
            &origins.describe(&key.environment),
            Self::MAX_COMMENT,
            Self::CHARSET,
        )
    }

    /// The whole output.
    fn render(&self, rules: &RuleSet) -> String {
        let mut out = Out::default();
        let commented = self.commented(rules);
        if commented {
            // A name-only dialect opens no prefix: no broad-prefix warning.
            let mut notes = match Self::NAMES {
                Names::Only => Vec::new(),
                Names::None | Names::Both => broad_lines(rules, Self::CHARSET),
            };
            notes.extend(self.notes(rules));
            for line in header_lines(rules, Self::CHARSET, notes) {
                ln!(out, "{}", self.comment_line(&line));
            }
        }
        self.body(rules, &mut out);
        if commented {
            self.unexpressed(rules, &mut out);
        }
        out.into_string()
    }

    /// The whole diff output, or `None` when the dialect has no diff.
    fn render_diff(&self, diff: &Diff) -> Option<String> {
        let mut out = Out::default();
        if self.commented(&diff.new) {
            for line in diff_header_lines(diff, Self::CHARSET, self.diff_notes()) {
                ln!(out, "{}", self.comment_line(&line));
            }
        }
        self.diff_body(diff, &mut out)?;
        Some(out.into_string())
    }

    /// Comment lines for what the dialect cannot match: host names in an address-only
    /// dialect, addresses that belong to no host in a name-only dialect.
    fn unexpressed(&self, rules: &RuleSet, out: &mut Out) {
        match Self::NAMES {
            Names::Both => {}
            Names::None => {
                if rules.name_count() == 0 {
                    return;
                }
                ln!(out);
                let intro = "Host names: this format matches addresses only. The provider's names, for a firewall or proxy that matches names:";
                ln!(out, "{}", self.comment_line(intro));
                for group in &rules.names {
                    for rule in &group.rules {
                        let text = format!(
                            "{} {}: {}",
                            group.key.protocol,
                            group.key.port,
                            rule.origins.describe(&group.key.environment)
                        );
                        let text = escape::comment(&text, Self::MAX_COMMENT, Self::CHARSET);
                        ln!(out, "{}", self.comment_line(&text));
                    }
                }
            }
            Names::Only => {
                let nameless: Vec<(&AddressGroup, &AddressRule)> = rules
                    .addresses
                    .iter()
                    .flat_map(|g| g.rules.iter().map(move |r| (g, r)))
                    .filter(|(_, r)| r.origins.hosts().next().is_none())
                    .collect();
                if nameless.is_empty() {
                    return;
                }
                ln!(out);
                let intro = "Addresses documented without a host name (this format matches names only; allow them in the packet filter):";
                ln!(out, "{}", self.comment_line(intro));
                for (group, rule) in nameless {
                    let text = format!(
                        "{} {} {}: {}",
                        rule.prefix,
                        group.key.protocol,
                        group.key.port,
                        rule.origins.describe(&group.key.environment)
                    );
                    let text = escape::comment(&text, Self::MAX_COMMENT, Self::CHARSET);
                    ln!(out, "{}", self.comment_line(&text));
                }
            }
        }
    }
}

/// For dialects whose one rule takes a list of prefixes (cloud firewalls): each address
/// group cut into lists of at most `size`, each list preceded by one comment line per prefix
/// naming its origins, then handed to `write` with a rule name (`egc-ENV-PROTO-PORT-vF-N`, at
/// most `max_name` bytes) and a description of at most `max_description` bytes.
pub(crate) fn prefix_lists<D: Dialect>(
    dialect: &D,
    rules: &RuleSet,
    (size, max_name, max_description): (usize, usize, usize),
    out: &mut Out,
    mut write: impl FnMut(&GroupKey, &str, &str, &[AddressRule], &mut Out),
) {
    for group in &rules.addresses {
        let key = &group.key;
        let description =
            super::objects::policy_description(rules, key, max_description, D::CHARSET);
        for (index, list) in group.rules.chunks(size.max(1)).enumerate() {
            for rule in list {
                let text = format!(
                    "{} {}",
                    rule.prefix,
                    dialect.rule_comment(key, &rule.origins)
                );
                let text = escape::comment(&text, usize::MAX, D::CHARSET);
                ln!(out, "{}", dialect.comment_line(&text));
            }
            let mut name = list_name(key, group.v6, index + 1);
            if rules.header.additive {
                // Rules that add (check --rules) never take the name of a full output's rule:
                // theirs comes from their own prefixes, so a second run replaces only itself.
                let prefixes: Vec<String> = list.iter().map(|r| r.prefix.to_string()).collect();
                name = format!(
                    "{name}-x{:08x}",
                    stable_hash(&prefixes.join(" ")) & 0xffff_ffff
                );
            }
            let name = escape::fit_name(&name, max_name, '-');
            write(key, &name, &description, list, out);
        }
    }
}

/// The name of one prefix list of [`prefix_lists`]: `egc-ENV-PROTO-PORT-vF-N`.
pub(crate) fn list_name(key: &GroupKey, v6: bool, number: usize) -> String {
    format!(
        "egc-{}-{}-{}-v{}-{number}",
        key.environment,
        key.protocol,
        key.port,
        if v6 { 6 } else { 4 },
    )
}

/// FNV-1a, 64 bits: a hash that is the same in every build and on every machine, for names
/// and numbers derived from content.
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The header every format states, as plain lines (free text already escaped for `charset`;
/// the dialect adds its comment marker).
pub(crate) fn header_lines(rules: &RuleSet, charset: Charset, notes: Vec<String>) -> Vec<String> {
    let h = &rules.header;
    let text = |s: &str| escape::comment(s, usize::MAX, charset);
    let mut lines = vec![format!(
        "egresscheck rules: outbound allow-list for {}",
        text(&h.provider)
    )];
    if let Some(purpose) = &h.purpose {
        lines.push(text(purpose));
    }
    let source = h
        .source_url
        .as_deref()
        .map(|u| format!(", source {}", escape::url(u)))
        .unwrap_or_default();
    lines.push(format!("Data: version {}{source}", text(&h.data_version)));
    let envs: Vec<String> = h
        .environments
        .iter()
        .map(|e| text(&format!("{} ({})", e.id, e.name)))
        .collect();
    lines.push(format!("Environments: {}", envs.join(", ")));
    if !h.services.is_empty() {
        let services: Vec<&str> = h.services.iter().map(|s| s.as_str()).collect();
        lines.push(format!("Services: {}", services.join(", ")));
    }
    let families = match h.family {
        super::Family::V4 => "IPv4",
        super::Family::V6 => "IPv6",
        super::Family::Both => "IPv4 and IPv6",
    };
    let mut scope = format!("Scope: {}; families: {families}", h.scope.as_str());
    if h.subnets_left_out > 0 {
        scope.push_str(&format!(
            "; {} left out (--scope all adds them)",
            crate::term::plural(
                h.subnets_left_out,
                "documented subnet",
                "documented subnets"
            )
        ));
    }
    lines.push(scope);
    lines.push(format!(
        "As of: {} (legacy sunsets are judged against this date)",
        h.as_of
    ));
    if let Some(time) = h.generated {
        lines.push(format!("Generated: {}", time.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    lines.push(format!(
        "Rules: {}, {}",
        crate::term::plural(rules.address_count(), "address rule", "address rules"),
        crate::term::plural(rules.name_count(), "host name rule", "host name rules")
    ));
    for r in &h.removed {
        // A legacy host documented by name only has no prefix to list.
        let mut opened: Vec<String> = r.prefixes.iter().map(ToString::to_string).collect();
        let ports: Vec<String> = r.ports.iter().map(ToString::to_string).collect();
        opened.push(format!("port {}", ports.join(" ")));
        lines.push(format!(
            "Removed, past its sunset {}: {} ({} {}; {}) - --include-expired keeps it",
            r.sunset,
            r.host,
            r.environment,
            r.service,
            opened.join(" ")
        ));
    }
    if h.prefer_hostname_rules {
        lines.push(
            "The provider recommends hostname (FQDN) rules: its addresses may change without notice."
                .to_owned(),
        );
    }
    // Notes are the dialects' own fixed sentences: cleaned, not reduced to the comment set.
    lines.extend(notes.iter().map(|n| escape::clean(n)));
    lines
}

/// One warning line per broad prefix (`[[broad_prefix]]`) that an address rule holds.
pub(crate) fn broad_lines(rules: &RuleSet, charset: Charset) -> Vec<String> {
    rules
        .broad_in_use()
        .into_iter()
        .map(|(broad, envs)| {
            let envs: Vec<&str> = envs.iter().map(|e| e.as_str()).collect();
            format!(
                "WARNING broad prefix: {} ({}) opens more than the services named here: {}. Where this firewall can match host names, allow those instead (README: Broad prefixes).",
                broad.cidr,
                envs.join(", "),
                escape::comment(&broad.opens, usize::MAX, charset)
            )
        })
        .collect()
}

pub(crate) fn diff_header_lines(diff: &Diff, charset: Charset, notes: Vec<String>) -> Vec<String> {
    let text = |s: &str| escape::comment(s, usize::MAX, charset);
    let mut lines = header_lines(&diff.new, charset, broad_lines(&diff.new, charset));
    if let Some(first) = lines.first_mut() {
        *first = format!(
            "egresscheck rules --diff: changes to the outbound allow-list for {}",
            text(&diff.new.header.provider)
        );
    }
    lines.insert(
        1,
        format!(
            "From data version {} (as of {}) to {}",
            text(&diff.old.header.data_version),
            diff.old.header.as_of,
            text(&diff.new.header.data_version)
        ),
    );
    let removes = diff.changes.iter().filter(|c| c.is_remove()).count();
    lines.push(format!(
        "Changes: {} to remove, {} to add (removals first)",
        removes,
        diff.changes.len() - removes
    ));
    lines.extend(notes.iter().map(|n| escape::clean(n)));
    lines
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// nftables: `table inet egresscheck`.
    Nftables,
    /// iptables-restore / ip6tables-restore input.
    Iptables,
    /// `ufw allow out` commands.
    Ufw,
    /// firewalld policy with rich rules.
    Firewalld,
    /// pf.conf tables and rules.
    Pf,
    /// PowerShell `New-NetFirewallRule`.
    Windows,
    /// Cisco ASA object-groups and access-list.
    CiscoAsa,
    /// Palo Alto PAN-OS `set` commands.
    Panos,
    /// FortiGate `config firewall` blocks.
    Fortigate,
    /// Juniper SRX `set` commands in a configuration group.
    Srx,
    /// A plain list of addresses and prefixes.
    EdlIp,
    /// A plain list of host names.
    EdlDomain,
    /// `ipset restore` input.
    Ipset,
    /// Kubernetes NetworkPolicy.
    K8s,
    /// CiliumNetworkPolicy.
    Cilium,
    /// Terraform `aws_vpc_security_group_egress_rule`.
    Aws,
    /// `az network nsg rule create`.
    Azure,
    /// `gcloud compute firewall-rules create`.
    Gcp,
    /// Terraform `azurerm_network_security_rule`.
    AzureTerraform,
    /// Terraform `google_compute_firewall`.
    GcpTerraform,
    /// Terraform `aws_ec2_managed_prefix_list`.
    AwsPrefixList,
    /// Terraform `google_compute_network_firewall_policy_rule` with FQDN objects (Cloud NGFW).
    GcpNgfw,
    /// Terraform `azurerm_firewall_policy_rule_collection_group` application rules.
    AzureFirewall,
    /// Terraform `aws_networkfirewall_rule_group` domain lists.
    AwsNetworkFirewall,
    /// squid `dstdomain` ACLs.
    Squid,
    /// dnsmasq `nftset=` lines.
    DnsmasqNftset,
    /// CSV.
    Csv,
    /// JSON.
    Json,
}

/// Runs `$body` with `$d` bound to the dialect of `$format`.
macro_rules! with_dialect {
    ($format:expr, $d:ident => $body:expr) => {
        match $format {
            Format::Nftables => {
                let $d = &super::nftables::Nftables;
                $body
            }
            Format::Iptables => {
                let $d = &super::iptables::Iptables;
                $body
            }
            Format::Ufw => {
                let $d = &super::ufw::Ufw;
                $body
            }
            Format::Firewalld => {
                let $d = &super::firewalld::Firewalld;
                $body
            }
            Format::Pf => {
                let $d = &super::pf::Pf;
                $body
            }
            Format::Windows => {
                let $d = &super::windows::Windows;
                $body
            }
            Format::CiscoAsa => {
                let $d = &super::cisco_asa::CiscoAsa;
                $body
            }
            Format::Panos => {
                let $d = &super::panos::Panos;
                $body
            }
            Format::Fortigate => {
                let $d = &super::fortigate::Fortigate;
                $body
            }
            Format::Srx => {
                let $d = &super::srx::Srx;
                $body
            }
            Format::EdlIp => {
                let $d = &super::edl_ip::EdlIp;
                $body
            }
            Format::EdlDomain => {
                let $d = &super::edl_domain::EdlDomain;
                $body
            }
            Format::Ipset => {
                let $d = &super::ipset::Ipset;
                $body
            }
            Format::K8s => {
                let $d = &super::k8s::K8s;
                $body
            }
            Format::Cilium => {
                let $d = &super::cilium::Cilium;
                $body
            }
            Format::Aws => {
                let $d = &super::aws::Aws;
                $body
            }
            Format::Azure => {
                let $d = &super::azure::Azure;
                $body
            }
            Format::Gcp => {
                let $d = &super::gcp::Gcp;
                $body
            }
            Format::AzureTerraform => {
                let $d = &super::azure_terraform::AzureTerraform;
                $body
            }
            Format::GcpTerraform => {
                let $d = &super::gcp_terraform::GcpTerraform;
                $body
            }
            Format::AwsPrefixList => {
                let $d = &super::aws_prefix_list::AwsPrefixList;
                $body
            }
            Format::GcpNgfw => {
                let $d = &super::gcp_ngfw::GcpNgfw;
                $body
            }
            Format::AzureFirewall => {
                let $d = &super::azure_firewall::AzureFirewall;
                $body
            }
            Format::AwsNetworkFirewall => {
                let $d = &super::aws_network_firewall::AwsNetworkFirewall;
                $body
            }
            Format::Squid => {
                let $d = &super::squid::Squid;
                $body
            }
            Format::DnsmasqNftset => {
                let $d = &super::dnsmasq_nftset::DnsmasqNftset;
                $body
            }
            Format::Csv => {
                let $d = &super::csv::Csv;
                $body
            }
            Format::Json => {
                let $d = &super::json::Json;
                $body
            }
        }
    };
}

impl Format {
    /// Every format, in the order `--list-formats` prints them.
    pub const ALL: [Format; 28] = [
        Format::Nftables,
        Format::Iptables,
        Format::Ufw,
        Format::Firewalld,
        Format::Pf,
        Format::Windows,
        Format::CiscoAsa,
        Format::Panos,
        Format::Fortigate,
        Format::Srx,
        Format::EdlIp,
        Format::EdlDomain,
        Format::Ipset,
        Format::K8s,
        Format::Cilium,
        Format::Aws,
        Format::Azure,
        Format::Gcp,
        Format::AzureTerraform,
        Format::GcpTerraform,
        Format::AwsPrefixList,
        Format::GcpNgfw,
        Format::AzureFirewall,
        Format::AwsNetworkFirewall,
        Format::Squid,
        Format::DnsmasqNftset,
        Format::Csv,
        Format::Json,
    ];

    /// The name used with `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Nftables => "nftables",
            Format::Iptables => "iptables",
            Format::Ufw => "ufw",
            Format::Firewalld => "firewalld",
            Format::Pf => "pf",
            Format::Windows => "windows",
            Format::CiscoAsa => "cisco-asa",
            Format::Panos => "panos",
            Format::Fortigate => "fortigate",
            Format::Srx => "srx",
            Format::EdlIp => "edl-ip",
            Format::EdlDomain => "edl-domain",
            Format::Ipset => "ipset",
            Format::K8s => "k8s",
            Format::Cilium => "cilium",
            Format::Aws => "aws",
            Format::Azure => "azure",
            Format::Gcp => "gcp",
            Format::AzureTerraform => "azure-terraform",
            Format::GcpTerraform => "gcp-terraform",
            Format::AwsPrefixList => "aws-prefix-list",
            Format::GcpNgfw => "gcp-ngfw",
            Format::AzureFirewall => "azure-firewall",
            Format::AwsNetworkFirewall => "aws-network-firewall",
            Format::Squid => "squid",
            Format::DnsmasqNftset => "dnsmasq-nftset",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// One line on what the format produces.
    pub fn description(self) -> &'static str {
        match self {
            Format::Nftables => {
                "a complete `table inet egresscheck`: named IPv4/IPv6 sets and an output chain accepting them (nft -f)"
            }
            Format::Iptables => {
                "iptables-restore input for a dedicated EGRESSCHECK chain; IPv4 and IPv6 parts (ip6tables-restore)"
            }
            Format::Ufw => "`ufw allow out` commands with comments",
            Format::Firewalld => {
                "firewall-cmd commands: an `egresscheck` policy (HOST to ANY) with rich rules"
            }
            Format::Pf => "pf.conf tables and `pass out` rules",
            Format::Windows => "PowerShell `New-NetFirewallRule -Direction Outbound` commands",
            Format::CiscoAsa => {
                "Cisco ASA object-groups (addresses and FQDN objects) and an access-list"
            }
            Format::Panos => {
                "Palo Alto PAN-OS set commands: FQDN address objects, an address group and a security rule per environment, protocol and port"
            }
            Format::Fortigate => {
                "FortiGate config firewall blocks: ipmask, fqdn and wildcard-fqdn addresses, address groups, services and a policy each"
            }
            Format::Srx => {
                "Juniper SRX set commands in the group egresscheck: global address book (dns-name), address-sets and global policies"
            }
            Format::EdlIp => {
                "plain list, one address or prefix per line (# comments): PAN-OS and FortiGate external lists, pfSense/OPNsense URL tables (one list per --env)"
            }
            Format::EdlDomain => {
                "plain list, one host name or *. wildcard per line (# comments): PAN-OS and FortiGate domain lists (one list per --env)"
            }
            Format::Ipset => {
                "ipset restore input: a hash:net,port set per environment and family, filled aside and swapped in"
            }
            Format::K8s => "Kubernetes NetworkPolicy per environment with egress ipBlocks",
            Format::Cilium => {
                "CiliumNetworkPolicy per environment: toFQDNs (matchName/matchPattern) with the DNS rule they need, and toCIDR"
            }
            Format::Aws => "Terraform `aws_vpc_security_group_egress_rule` resources",
            Format::Azure => "`az network nsg rule create` commands (outbound, allow)",
            Format::Gcp => "`gcloud compute firewall-rules create --direction=EGRESS` commands",
            Format::AzureTerraform => {
                "Terraform azurerm_network_security_rule resources (outbound allow), priorities derived from their names"
            }
            Format::GcpTerraform => {
                "Terraform google_compute_firewall resources (EGRESS allow), names holding the network's"
            }
            Format::AwsPrefixList => {
                "Terraform aws_ec2_managed_prefix_list per environment, protocol, port and family, and security group egress rules using them"
            }
            Format::GcpNgfw => {
                "Terraform google_compute_network_firewall_policy_rule (Cloud NGFW, EGRESS allow) with the host names as FQDN objects (dest_fqdns), priorities derived from their names"
            }
            Format::AzureFirewall => {
                "Terraform azurerm_firewall_policy_rule_collection_group per environment: Azure Firewall application rules (Https/Http) with destination_fqdns"
            }
            Format::AwsNetworkFirewall => {
                "Terraform aws_networkfirewall_rule_group per environment: a stateful ALLOWLIST domain list (TLS_SNI) of exact host names"
            }
            Format::Squid => "squid `dstdomain` ACLs and `http_access allow` lines (host names)",
            Format::DnsmasqNftset => {
                "dnsmasq `nftset=` lines filling the nftables sets of --format nftables from DNS answers (hostname rules on Linux)"
            }
            Format::Csv => "one row per rule (columns documented in the README)",
            Format::Json => "the rule set as JSON (schema documented in the README)",
        }
    }

    /// The format called `name`.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// True when `--diff` works with this format.
    pub fn supports_diff(self) -> bool {
        matches!(
            self,
            Format::Nftables
                | Format::Iptables
                | Format::Ufw
                | Format::Firewalld
                | Format::Pf
                | Format::Windows
                | Format::CiscoAsa
                | Format::Panos
                | Format::Fortigate
                | Format::Csv
                | Format::Json
        )
    }

    /// The formats that support `--diff`, comma-separated.
    pub fn diff_formats() -> String {
        Format::ALL
            .iter()
            .filter(|f| f.supports_diff())
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// True when the format leaves its header and comment lines out unless `--comments`
    /// (csv and the plain lists, read by programs that take every line as data).
    pub fn header_only_with_comments(self) -> bool {
        fn hides<D: Dialect>(_: &D) -> bool {
            !D::HEADER_BY_DEFAULT
        }
        with_dialect!(self, d => hides(d))
    }

    /// True when, without `--comments`, the output would not say that it holds a broad
    /// prefix (edl-ip: entries only; csv says it in each row's comment column), so the
    /// command says it on standard error.
    pub fn hides_broad_warnings(self, comments: bool) -> bool {
        self.header_only_with_comments()
            && !comments
            && self.opens_addresses()
            && self != Format::Csv
    }

    /// True when the format lets traffic go to address prefixes (all but the name-only ones:
    /// squid, dnsmasq-nftset, edl-domain and the cloud FQDN formats).
    pub fn opens_addresses(self) -> bool {
        fn opens<D: Dialect>(_: &D) -> bool {
            D::NAMES != Names::Only
        }
        with_dialect!(self, d => opens(d))
    }

    /// The rule set in this format.
    pub fn render(self, rules: &RuleSet) -> String {
        with_dialect!(self, d => d.render(rules))
    }

    /// Ok when `--diff` works with this format, else the error that says which formats do.
    pub fn check_diff(self) -> Result<(), RulesError> {
        if self.supports_diff() {
            Ok(())
        } else {
            Err(RulesError::DiffUnsupported {
                format: self.name(),
                supported: Format::diff_formats(),
            })
        }
    }

    /// The changes of `diff` in this format.
    pub fn render_diff(self, diff: &Diff) -> Result<String, RulesError> {
        self.check_diff()?;
        let rendered = with_dialect!(self, d => d.render_diff(diff));
        rendered.ok_or_else(|| RulesError::DiffUnsupported {
            format: self.name(),
            supported: Format::diff_formats(),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
