//! Google Cloud: `gcloud compute firewall-rules create --direction=EGRESS` commands, one rule
//! per (environment, protocol, port, family) and at most [`CHUNK`] prefixes. VPC firewall
//! rules take no host names and do not mix IPv4 and IPv6.

use super::RuleSet;
use super::escape;
use super::render::{Dialect, Out, ln, prefix_lists};

/// The Google Cloud dialect.
pub(crate) struct Gcp;

/// Destination ranges per rule, kept well under the platform's limits.
pub(crate) const CHUNK: usize = 250;
/// Rule names: `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
const MAX_NAME: usize = 63;
const PRIORITY: u32 = 1000;

impl Dialect for Gcp {
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "Set GCP_NETWORK first. Egress is allowed by default: these rules matter under a deny-all egress rule with a larger priority number than 1000.".to_owned(),
            "VPC firewall rules match addresses only; Cloud NGFW firewall policies (FQDN objects) can match the host names.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        ln!(
            out,
            ": \"${{GCP_NETWORK:?set GCP_NETWORK to the VPC network}}\""
        );
        let limits = (CHUNK, MAX_NAME, Self::MAX_COMMENT);
        prefix_lists(
            self,
            rules,
            limits,
            out,
            |key, name, description, list, out| {
                let ranges: Vec<String> = list.iter().map(|r| r.prefix.to_string()).collect();
                ln!(
                    out,
                    "gcloud compute firewall-rules create {name} --network=\"$GCP_NETWORK\" --direction=EGRESS --action=ALLOW --rules={}:{} --destination-ranges={} --priority={PRIORITY} --description={}",
                    key.protocol,
                    key.port,
                    ranges.join(","),
                    escape::sh_single(description)
                );
            },
        );
    }
}
