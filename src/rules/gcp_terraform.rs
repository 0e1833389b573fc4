//! Google Cloud, as Terraform: `google_compute_firewall` resources, EGRESS allow, one per
//! (environment, protocol, port, family) and at most [`CHUNK`] prefixes, on a network given
//! as a variable. Firewall rule names are unique per project, so each name holds the
//! network's: `egc-NETWORK-ENV-PROTO-PORT-vF-N`. VPC firewall rules take no host names (the
//! `gcp-ngfw` style of Cloud NGFW policies can).
//! <https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/compute_firewall>

use super::RuleSet;
use super::escape;
use super::render::{Dialect, Out, ln, prefix_lists};
use super::terraform;

/// The Google Cloud (Terraform) dialect.
pub(crate) struct GcpTerraform;

/// Destination ranges per rule, as the `gcp` dialect.
const CHUNK: usize = super::gcp::CHUNK;
/// Names: at most 63 characters, `egc-` and the network (at most 30) and `-` before ours.
const MAX_NETWORK: usize = 30;
const MAX_SUFFIX: usize = 63 - 4 - MAX_NETWORK - 1;
const PRIORITY: u32 = 1000;

impl Dialect for GcpTerraform {
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            terraform::NOTE.to_owned(),
            "Set egresscheck_network to the VPC network's name (at most 30 characters: rule names include it, so two networks of one project do not clash). Egress is allowed by default: these rules matter under a deny-all egress rule with a priority number above 1000.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        let description = format!("The VPC network's name (at most {MAX_NETWORK} characters)");
        let message = format!(
            "A network name of at most {MAX_NETWORK} lowercase letters, digits and hyphens: rule names include it."
        );
        terraform::Variable::new("egresscheck_network", &description)
            .validation(
                format!(
                    "can(regex(\"^[a-z]([-a-z0-9]{{0,{}}}[a-z0-9])?$\", var.egresscheck_network))",
                    MAX_NETWORK - 2
                ),
                &message,
            )
            .write(out);
        let limits = (CHUNK, usize::MAX, Self::MAX_COMMENT);
        prefix_lists(
            self,
            rules,
            limits,
            out,
            |key, name, description, list, out| {
                let suffix = escape::fit_name(name.trim_start_matches("egc-"), MAX_SUFFIX, '-');
                ln!(
                    out,
                    "resource \"google_compute_firewall\" \"{}\" {{",
                    terraform::label(name)
                );
                ln!(
                    out,
                    "  name               = \"egc-${{var.egresscheck_network}}-{suffix}\""
                );
                ln!(out, "  network            = var.egresscheck_network");
                ln!(out, "  direction          = \"EGRESS\"");
                ln!(out, "  priority           = {PRIORITY}");
                let ranges = terraform::list(list.iter().map(|r| r.prefix.to_string()));
                ln!(out, "  destination_ranges = {ranges}");
                ln!(
                    out,
                    "  description        = {}",
                    escape::hcl_quoted(description)
                );
                ln!(out, "  allow {{");
                ln!(out, "    protocol = \"{}\"", key.protocol);
                ln!(out, "    ports    = [\"{}\"]", key.port);
                ln!(out, "  }}");
                ln!(out, "}}");
            },
        );
    }
}
