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
    let variable = Variable::new(name, description);
    if optional {
        variable.default("null").write(out);
    } else {
        variable.write(out);
    }
}

/// A `variable` block: a string unless told otherwise, with an optional default and an
/// optional validation, written in the layout every Terraform dialect shares.
pub(crate) struct Variable<'a> {
    name: &'a str,
    kind: &'a str,
    description: &'a str,
    default: Option<&'a str>,
    validation: Option<(String, &'a str)>,
}

impl<'a> Variable<'a> {
    /// A string variable with no default and no validation.
    pub(crate) fn new(name: &'a str, description: &'a str) -> Self {
        Variable {
            name,
            kind: "string",
            description,
            default: None,
            validation: None,
        }
    }

    /// Another type (`list(string)`).
    pub(crate) fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    /// A default, as an HCL expression (`null`, `["*"]`, `"STRICT_ORDER"`).
    pub(crate) fn default(mut self, expression: &'a str) -> Self {
        self.default = Some(expression);
        self
    }

    /// A validation: its condition (an HCL expression) and the message when it fails.
    pub(crate) fn validation(mut self, condition: String, error_message: &'a str) -> Self {
        self.validation = Some((condition, error_message));
        self
    }

    /// Writes the block.
    pub(crate) fn write(&self, out: &mut Out) {
        ln!(out, "variable \"{}\" {{", self.name);
        ln!(out, "  type        = {}", self.kind);
        ln!(
            out,
            "  description = {}",
            escape::hcl_quoted(self.description)
        );
        if let Some(default) = self.default {
            ln!(out, "  default     = {default}");
        }
        if let Some((condition, message)) = &self.validation {
            ln!(out, "  validation {{");
            ln!(out, "    condition     = {condition}");
            ln!(out, "    error_message = {}", escape::hcl_quoted(message));
            ln!(out, "  }}");
        }
        ln!(out, "}}");
    }
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
