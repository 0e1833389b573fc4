//! Google Cloud: `gcloud compute firewall-rules` commands, one egress rule per (environment,
//! protocol, port, family) and at most [`CHUNK`] prefixes. VPC firewall rules take no host
//! names and do not mix IPv4 and IPv6.
//!
//! Names are unique per project, so they include the network: `egc-NETWORK-ENV-PROTO-PORT-vF-N`
//! (built by the script from `GCP_NETWORK`). An existing rule is updated, a new one created,
//! and the rules of this network and the selected environments that the output no longer has
//! are deleted: run twice, or over the output for older data, the network holds exactly these
//! rules, and the admin's own.

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
    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        let mut notes = vec![
            "Set GCP_NETWORK first, then run with bash. Egress is allowed by default: these rules matter under a deny-all egress rule with a larger priority number than 1000.".to_owned(),
            "VPC firewall rules match addresses only; Cloud NGFW firewall policies (FQDN objects) can match the host names.".to_owned(),
        ];
        notes.push(if rules.header.additive {
            "Adds rules named from their own prefixes (egc-NETWORK-...-x...): run twice, the same; deletes nothing.".to_owned()
        } else {
            "Replaces: updates or creates each rule by name, then deletes this network's egc- rules of the selected environments that the output does not have. Remove: gcloud compute firewall-rules delete for each rule named egc-NETWORK-.".to_owned()
        });
        notes
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        ln!(
            out,
            ": \"${{GCP_NETWORK:?set GCP_NETWORK to the VPC network}}\""
        );
        // The network is part of every name: check it fits, in the name's alphabet.
        let longest = rules
            .addresses
            .iter()
            .map(|g| {
                format!(
                    "egc--{}-{}-{}-v4-9",
                    g.key.environment, g.key.protocol, g.key.port
                )
                .len()
            })
            .max()
            .unwrap_or(0)
            + if rules.header.additive { 10 } else { 0 };
        let room = MAX_NAME.saturating_sub(longest);
        ln!(
            out,
            "case \"$GCP_NETWORK\" in *[!a-z0-9-]*|'') echo \"GCP_NETWORK: lowercase letters, digits and hyphens only\" >&2; exit 2;; esac"
        );
        ln!(
            out,
            "[ ${{#GCP_NETWORK}} -le {room} ] || {{ echo \"GCP_NETWORK: at most {room} characters here (rule names are at most {MAX_NAME})\" >&2; exit 2; }}"
        );
        let limits = (CHUNK, usize::MAX, Self::MAX_COMMENT);
        let mut names = Vec::new();
        prefix_lists(
            self,
            rules,
            limits,
            out,
            |key, name, description, list, out| {
                let name = format!("egc-$GCP_NETWORK-{}", name.trim_start_matches("egc-"));
                let ranges: Vec<String> = list.iter().map(|r| r.prefix.to_string()).collect();
                let common = format!(
                    "--rules={}:{} --destination-ranges={} --priority={PRIORITY} --description={}",
                    key.protocol,
                    key.port,
                    ranges.join(","),
                    escape::sh_single(description)
                );
                ln!(
                    out,
                    "if gcloud compute firewall-rules describe \"{name}\" >/dev/null 2>&1; then gcloud compute firewall-rules update \"{name}\" {common}; else gcloud compute firewall-rules create \"{name}\" --network=\"$GCP_NETWORK\" --direction=EGRESS --action=ALLOW {common}; fi"
                );
                names.push(name);
            },
        );
        if rules.header.additive {
            return;
        }
        let envs = rules.header.environment_ids();
        ln!(out, "keep=\" {} \"", names.join(" "));
        ln!(
            out,
            "gcloud compute firewall-rules list --filter=\"name~^egc-$GCP_NETWORK-({})-(tcp|udp)-\" --format=\"value(name)\" | while read -r name; do",
            envs.join("|")
        );
        ln!(
            out,
            "  case \"$keep\" in *\" $name \"*) ;; *) gcloud compute firewall-rules delete \"$name\" --quiet ;; esac"
        );
        ln!(out, "done");
    }
}
