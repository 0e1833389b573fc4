//! `egresscheck rules`: arguments, turned into [`RulesOptions`].

use std::io::Write;
use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};

use super::probe::FamilyArg;
use crate::commands::rules::{self as command, RulesOptions};
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::rules::{Format, NftTarget, Scope};

/// Help of `--diff`; a unit test keeps its list of formats in step with the code.
const DIFF_HELP: &str = "Print the changes from data file OLD to data file NEW in the format's own terms (nftables: delete/add element; iptables: -D/-A; ufw: delete/allow; firewalld: remove/add rich rule; pf: pfctl -T delete/add; windows: Remove-/New-NetFirewallRule; cisco-asa: object-groups changed in place, entries and FQDN objects added or removed; panos: the new rules in place, then delete what only OLD named; fortigate: the new configuration, then delete what only OLD named; csv and json: rows with an action). Other formats are declarative: apply their full output instead. OLD is taken as of its own data version date (or --as-of, if earlier), so legacy entries it still listed are removed once past their sunset. Use instead of --data.";

/// Arguments of `egresscheck rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Firewall dialect to write (see --list-formats).
    #[arg(
        long,
        value_name = "FORMAT",
        required_unless_present = "list_formats",
        value_parser = PossibleValuesParser::new(Format::ALL.map(Format::name))
            .try_map(|name| Format::from_name(&name).ok_or("unknown format"))
    )]
    format: Option<Format>,

    /// Print every format with a one-line description, and exit.
    #[arg(long)]
    list_formats: bool,

    /// Only this environment (id, name or alias; repeatable). Default: all.
    #[arg(long = "env", value_name = "ENV")]
    envs: Vec<String>,

    /// Only this service (id or name; repeatable). Default: all.
    #[arg(long = "service", value_name = "SERVICE")]
    services: Vec<String>,

    /// Which entries give rules: the addresses and names of endpoints (least privilege), the
    /// documented subnets (each opens every service of the provider in it), or both.
    #[arg(long, value_enum, default_value = "addresses")]
    scope: ScopeArg,

    /// Address families of the address rules.
    #[arg(long, value_enum, default_value = "both")]
    family: FamilyArg,

    /// Judge legacy sunsets as of this date (YYYY-MM-DD). Default: today (UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    as_of: Option<NaiveDate>,

    /// Keep legacy entries past their sunset (their comments say when they could go).
    #[arg(long)]
    include_expired: bool,

    /// Leave the generation time out of the header, for reproducible output and diffs.
    #[arg(long)]
    no_timestamp: bool,

    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], help = DIFF_HELP)]
    diff: Vec<PathBuf>,

    /// nftables and dnsmasq-nftset: named sets only, in your own table ("inet filter", or
    /// "filter" for inet), for your chains to refer to, instead of the table inet egresscheck
    /// with its own chain.
    #[arg(long, value_name = "FAMILY NAME", value_parser = parse_nft_table)]
    nft_sets: Option<NftTarget>,

    /// iptables: write the IPv4 and IPv6 restore inputs as DIR/egresscheck.v4.rules and
    /// DIR/egresscheck.v6.rules (each tool takes one family), instead of standard output.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,

    /// csv, edl-ip, edl-domain: add the header and the comments as `#` lines (off by
    /// default, so every line is data: the column names, then rows; or one entry per line).
    #[arg(long)]
    comments: bool,
}

/// `--nft-sets`: `FAMILY NAME` or `NAME` (family inet), as nft identifiers.
fn parse_nft_table(text: &str) -> Result<NftTarget, String> {
    const FAMILIES: [&str; 6] = ["inet", "ip", "ip6", "arp", "bridge", "netdev"];
    let words: Vec<&str> = text.split_whitespace().collect();
    let (family, table) = match words.as_slice() {
        [table] => ("inet", *table),
        [family, table] => (*family, *table),
        _ => return Err("expected FAMILY NAME, e.g. \"inet filter\"".to_owned()),
    };
    if !FAMILIES.contains(&family) {
        return Err(format!(
            "unknown table family {family:?}: expected one of {}",
            FAMILIES.join(", ")
        ));
    }
    let identifier = table.len() <= 64
        && table.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !identifier {
        return Err(format!(
            "{table:?} is not an nft table name: letters, digits, _ and -, starting with a letter"
        ));
    }
    Ok(NftTarget::SetsIn {
        family: family.to_owned(),
        table: table.to_owned(),
    })
}

/// `--scope` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScopeArg {
    /// Endpoint and legacy addresses and host names.
    Addresses,
    /// Documented subnets only.
    Subnets,
    /// Both.
    All,
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("expected a date as YYYY-MM-DD ({e})"))
}

impl RulesArgs {
    /// Why a `rules` run would ignore `--data` (see [`super::Command`]).
    pub(super) fn ignores_data(&self) -> Option<&'static str> {
        if self.list_formats {
            Some("`egresscheck rules --list-formats` reads no data file")
        } else if !self.diff.is_empty() {
            Some("`egresscheck rules --diff OLD NEW` takes the two data files itself")
        } else {
            None
        }
    }

    /// Runs the command; `data` is `--data` (or the bundled file).
    pub fn run(self, data: DataSource, out: &mut dyn Write) -> Result<Status, CommandError> {
        if self.list_formats {
            return command::list_formats(out);
        }
        let diff = match self.diff.as_slice() {
            [] => None,
            [old, new] => Some((
                DataSource::from_flag(Some(old)),
                DataSource::from_flag(Some(new)),
            )),
            _ => return Err(CommandError::Usage("--diff takes OLD and NEW".to_owned())),
        };
        let Some(format) = self.format else {
            return Err(CommandError::Usage("--format is required".to_owned()));
        };
        let now = Utc::now();
        let options = RulesOptions {
            format,
            envs: self.envs,
            services: self.services,
            scope: match self.scope {
                ScopeArg::Addresses => Scope::Addresses,
                ScopeArg::Subnets => Scope::Subnets,
                ScopeArg::All => Scope::All,
            },
            family: self.family.into(),
            // The clock is read here, at the edge: the rules core takes dates as parameters.
            as_of: self.as_of.unwrap_or_else(|| now.date_naive()),
            include_expired: self.include_expired,
            generated: (!self.no_timestamp).then_some(now),
            nft: self.nft_sets.unwrap_or_default(),
            output_dir: self.output_dir,
            comments: self.comments,
        };
        match diff {
            Some((old, new)) => command::diff(&old, &new, &options, out),
            None => command::rules(&data, &options, out, &mut std::io::stderr()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_help_names_every_format_that_supports_diff() {
        for format in Format::ALL {
            let named = DIFF_HELP.contains(&format!("{}:", format.name()))
                || DIFF_HELP.contains(&format!("{} and", format.name()));
            assert_eq!(named, format.supports_diff(), "{format}");
        }
    }
}
