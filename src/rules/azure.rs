//! Azure: `az network nsg rule create` commands, outbound allow, one rule per (environment,
//! protocol, port, family) and at most [`CHUNK`] prefixes. NSG rules take no host names and
//! do not mix IPv4 and IPv6; each prefix's comment is the shell comment above its rule.
//!
//! Names come from content (`egc-ENV-PROTO-PORT-vF-N`) and so do priorities: each name hashes
//! into [`FIRST_PRIORITY`]..[`FIRST_PRIORITY`]+[`PRIORITIES`], the rare clash taking the next
//! free number among the names of every group of the data file. So another selection or a new
//! prefix never moves a rule's priority, and `create` on an existing name updates that rule
//! (its prefix list replaced). Before creating, the script deletes the rules of the selected
//! environments that this output no longer has: applied twice, or over the output for older
//! data, the NSG holds exactly these rules, and the admin's own.

use std::collections::BTreeMap;

use super::escape;
use super::render::{Dialect, Out, list_name, ln, prefix_lists, stable_hash};
use super::{Header, RuleSet};
use crate::catalog::Protocol;

/// The Azure dialect.
pub(crate) struct Azure;

/// Prefixes per rule: kept well under Azure's per-rule limits.
pub(crate) const CHUNK: usize = 250;
/// First priority used.
const FIRST_PRIORITY: u64 = 1000;
/// How many priorities the rules may take, from [`FIRST_PRIORITY`].
const PRIORITIES: u64 = 3000;
/// Rule names are at most 80 characters.
const MAX_NAME: usize = 80;
/// Rule descriptions are at most 140 characters.
const MAX_DESCRIPTION: usize = 140;

/// The priority of every rule name: the names of the data file's groups (first list of each
/// family) and of this output, each at its hash, a clash taking the next free number.
fn priorities(header: &Header, names: &[String]) -> BTreeMap<String, u64> {
    let mut all: Vec<String> = header
        .universe
        .iter()
        .flat_map(|key| [list_name(key, false, 1), list_name(key, true, 1)])
        .chain(names.iter().cloned())
        .collect();
    all.sort();
    all.dedup();
    let mut taken: BTreeMap<u64, ()> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for name in all {
        let mut offset = stable_hash(&name) % PRIORITIES;
        while taken.contains_key(&offset) {
            offset = (offset + 1) % PRIORITIES;
        }
        taken.insert(offset, ());
        out.insert(name, FIRST_PRIORITY + offset);
    }
    out
}

impl Dialect for Azure {
    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        let mut notes = vec![
            "Set AZ_RESOURCE_GROUP and AZ_NSG first, then run with bash. NSG rules match addresses only; Azure Firewall application rules can match the host names.".to_owned(),
            format!("Priorities {FIRST_PRIORITY}-{} come from each rule's name, so they stay put across runs and selections: keep your own rules and your deny rule outside that range.", FIRST_PRIORITY + PRIORITIES - 1),
        ];
        notes.push(if rules.header.additive {
            "Adds rules named from their own prefixes (egc-...-x...): run twice, the same; deletes nothing.".to_owned()
        } else {
            "Replaces: deletes the egc- rules of the selected environments that this output does not have, then creates or updates (same name) the rest, so running it again or the output for newer data leaves exactly these rules; other environments' rules and yours stay. Remove: az network nsg rule delete for each egc- rule.".to_owned()
        });
        notes
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        ln!(
            out,
            ": \"${{AZ_RESOURCE_GROUP:?set AZ_RESOURCE_GROUP to the network security group's resource group}}\""
        );
        ln!(
            out,
            ": \"${{AZ_NSG:?set AZ_NSG to the network security group's name}}\""
        );
        let limits = (CHUNK, MAX_NAME, MAX_DESCRIPTION);
        let mut commands = Out::default();
        let mut names = Vec::new();
        let mut lists = Vec::new();
        prefix_lists(
            self,
            rules,
            limits,
            &mut commands,
            |key, name, description, list, out| {
                let prefixes: Vec<String> = list.iter().map(|r| r.prefix.to_string()).collect();
                names.push(name.to_owned());
                lists.push((
                    name.to_owned(),
                    key.protocol,
                    key.port,
                    prefixes.join(" "),
                    escape::sh_single(description),
                ));
                ln!(out, "# rule {name}");
            },
        );
        let priority = priorities(&rules.header, &names);
        if !rules.header.additive {
            self.delete_stale(rules, &names, out);
        }
        let text = commands.into_string();
        let mut lists = lists.into_iter();
        for line in text.lines() {
            if !line.starts_with("# rule ") {
                ln!(out, "{line}");
                continue;
            }
            let Some((name, protocol, port, prefixes, description)) = lists.next() else {
                continue;
            };
            let protocol = match protocol {
                Protocol::Tcp => "Tcp",
                Protocol::Udp => "Udp",
            };
            let number = priority.get(&name).copied().unwrap_or(FIRST_PRIORITY);
            ln!(
                out,
                "az network nsg rule create --resource-group \"$AZ_RESOURCE_GROUP\" --nsg-name \"$AZ_NSG\" --name {name} --priority {number} --direction Outbound --access Allow --protocol {protocol} --source-address-prefixes '*' --source-port-ranges '*' --destination-address-prefixes {prefixes} --destination-port-ranges {port} --description {description}"
            );
        }
    }
}

impl Azure {
    /// Deletes the rules of the selected environments that `names` does not hold.
    fn delete_stale(&self, rules: &RuleSet, names: &[String], out: &mut Out) {
        let query: Vec<String> = rules
            .header
            .environments
            .iter()
            .flat_map(|e| ["tcp", "udp"].map(|p| format!("starts_with(name, 'egc-{}-{p}-')", e.id)))
            .collect();
        ln!(out, "keep=' {} '", names.join(" "));
        ln!(
            out,
            "az network nsg rule list --resource-group \"$AZ_RESOURCE_GROUP\" --nsg-name \"$AZ_NSG\" --query \"[?{}].name\" -o tsv | while read -r name; do",
            query.join(" || ")
        );
        ln!(
            out,
            "  case \"$keep\" in *\" $name \"*) ;; *) az network nsg rule delete --resource-group \"$AZ_RESOURCE_GROUP\" --nsg-name \"$AZ_NSG\" --name \"$name\" ;; esac"
        );
        ln!(out, "done");
    }
}
