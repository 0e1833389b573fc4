//! What the Terraform dialects share: resource labels, string lists and input variables.
//!
//! Terraform owns what its configuration declares: `terraform apply` of the same output is a
//! no-op, and applying the output for newer data updates, creates and destroys exactly the
//! resources that differ (labels and names come from content, so a kept rule is updated in
//! place, never destroyed and created again). Resources outside this configuration are never
//! touched. There is no `--diff`: `terraform plan` is the diff.

use super::escape;
use super::render::{Out, ln};

/// A resource label from a rule name: `egc-prod-tcp-443-v4-1` → `egc_prod_tcp_443_v4_1`.
pub(crate) fn label(name: &str) -> String {
    escape::ident_part(name, '_')
}

/// `["a", "b"]`, each string quoted for HCL.
pub(crate) fn list<I: IntoIterator<Item = String>>(items: I) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| escape::hcl_quoted(&s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A `variable` block of type string (`default = null` when `optional`).
pub(crate) fn variable(out: &mut Out, name: &str, description: &str, optional: bool) {
    ln!(out, "variable \"{name}\" {{");
    ln!(out, "  type        = string");
    ln!(out, "  description = {}", escape::hcl_quoted(description));
    if optional {
        ln!(out, "  default     = null");
    }
    ln!(out, "}}");
}

/// An `output` block whose value maps each name to an expression (a resource's id or ARN).
pub(crate) fn output_map(
    out: &mut Out,
    name: &str,
    description: &str,
    entries: impl IntoIterator<Item = (String, String)>,
) {
    ln!(out);
    ln!(out, "output \"{name}\" {{");
    ln!(out, "  description = {}", escape::hcl_quoted(description));
    ln!(out, "  value = {{");
    for (key, value) in entries {
        ln!(out, "    {} = {value}", escape::hcl_quoted(&key));
    }
    ln!(out, "  }}");
    ln!(out, "}}");
}

/// The note every Terraform dialect's header carries.
pub(crate) const NOTE: &str = "Terraform: put this file in a module (or directory) of its own and run terraform plan, then apply. Applying it again changes nothing; applying the output for newer data updates, creates and destroys exactly what differs (names come from content, so a kept rule is updated in place); nothing outside this configuration is touched. terraform destroy (or removing the file) removes it all. No --diff: terraform plan is the diff.";
