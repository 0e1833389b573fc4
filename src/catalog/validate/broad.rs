//! `[[broad_prefix]]`: a documented prefix that opens more than the services listed with it.
//!
//! Apart from the rest of the validator because it refers to the file's other entries: a
//! marking must name a prefix an endpoint, legacy entry or subnet of the same file documents,
//! so that a typo cannot leave the prefix it meant unmarked without a word.

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;
use toml::Spanned;

use super::{References, Validator};
use crate::catalog::model::{BroadPrefix, Endpoint, Legacy, SourceId, Subnet};
use crate::catalog::raw::RawBroadPrefix;

impl Validator<'_> {
    /// Broad-prefix markings: each names a prefix the file documents elsewhere, once.
    pub(super) fn broad_prefixes(
        &mut self,
        raw: &[Spanned<RawBroadPrefix>],
        refs: &References,
        (endpoints, legacy, subnets): (&[Endpoint], &[Legacy], &[Subnet]),
    ) -> Vec<BroadPrefix> {
        let documented: HashSet<IpNet> = endpoints
            .iter()
            .flat_map(|e| e.addresses.iter())
            .chain(legacy.iter().flat_map(|l| l.addresses.iter()))
            .chain(subnets.iter().map(|s| s.cidr))
            .collect();
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let b = entry.get_ref();
            let cidr = self.any_prefix(&b.cidr, "broad_prefix.cidr");
            let opens = self.free_text(&b.opens, "broad_prefix.opens");
            let source = self.reference(&b.source, "broad_prefix.source", &refs.sources, "source");
            let note = b
                .note
                .as_ref()
                .and_then(|n| self.free_text(n, "broad_prefix.note"));
            let Some(cidr) = cidr else { continue };
            if !documented.contains(&cidr) {
                self.problem(
                    b.cidr.span(),
                    format!("broad_prefix.cidr: found {cidr}, which no endpoint, legacy entry or subnet of this file documents; expected one of the file's own prefixes (mark what the table lists)"),
                );
                continue;
            }
            if !self.unique(&mut seen, cidr.to_string(), &b.cidr, "broad_prefix", "cidr") {
                continue;
            }
            if let (Some(opens), Some(source)) = (opens, source) {
                out.push(BroadPrefix {
                    cidr,
                    opens,
                    source: SourceId(source),
                    note,
                });
            }
        }
        out
    }
}
