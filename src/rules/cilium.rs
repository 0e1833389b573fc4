//! Cilium: a CiliumNetworkPolicy per environment. Host names become `toFQDNs` (`matchName`,
//! or `matchPattern` for a wildcard, which in Cilium matches exactly one label as in the
//! data file), preceded by the DNS rule that lets Cilium's DNS proxy see the answers
//! `toFQDNs` learns from; prefixes become `toCIDR`.

use super::escape;
use super::render::{Dialect, Names, Out, ln};
use super::{GroupKey, RuleSet};
use crate::catalog::HostPattern;

/// The Cilium dialect.
pub(crate) struct Cilium;

fn to_ports(key: &GroupKey, out: &mut Out) {
    ln!(out, "    toPorts:");
    ln!(out, "    - ports:");
    ln!(out, "      - port: \"{}\"", key.port);
    ln!(
        out,
        "        protocol: {}",
        key.protocol.as_str().to_uppercase()
    );
}

impl Dialect for Cilium {
    const NAMES: Names = Names::Both;

    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        vec![
            format!("kubectl apply -n NAMESPACE --prune -l {}={} --prune-allowlist=cilium.io/v2/CiliumNetworkPolicy -f FILE: replaces each policy of the same name and deletes the egresscheck policies this output no longer has (kubectl prunes CiliumNetworkPolicies only when allowlisted; before kubectl 1.26 the flag is --prune-whitelist); applied twice, the same. endpointSelector {{}} selects every pod of the namespace: narrow it. Remove: kubectl delete ciliumnetworkpolicy -n NAMESPACE -l {}", super::k8s::PART_LABEL, super::k8s::part(rules), super::k8s::PART_LABEL),
            "toFQDNs needs Cilium's DNS proxy (enable-l7-proxy) and the DNS rule below, which lets every query through the proxy so that Cilium sees the answers.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for env in rules.environments() {
            ln!(out, "---");
            ln!(out, "apiVersion: cilium.io/v2");
            ln!(out, "kind: CiliumNetworkPolicy");
            super::k8s::metadata(rules, env, out);
            ln!(out, "spec:");
            ln!(out, "  endpointSelector: {{}}");
            ln!(out, "  egress:");
            let keys: Vec<&GroupKey> = rules
                .keys()
                .into_iter()
                .filter(|k| &k.environment == env)
                .collect();
            if rules.names.iter().any(|g| &g.key.environment == env) {
                ln!(
                    out,
                    "  {}",
                    self.comment_line(
                        "DNS through Cilium's proxy: toFQDNs learns addresses from these answers."
                    )
                );
                ln!(out, "  - toEndpoints:");
                ln!(out, "    - matchLabels:");
                ln!(out, "        k8s:io.kubernetes.pod.namespace: kube-system");
                ln!(out, "        k8s:k8s-app: kube-dns");
                ln!(out, "    toPorts:");
                ln!(out, "    - ports:");
                ln!(out, "      - port: \"53\"");
                ln!(out, "        protocol: ANY");
                ln!(out, "      rules:");
                ln!(out, "        dns:");
                ln!(out, "        - matchPattern: \"*\"");
            }
            for key in &keys {
                for group in rules.names.iter().filter(|g| &g.key == *key) {
                    ln!(out, "  - toFQDNs:");
                    for rule in &group.rules {
                        let comment = self.comment_line(&self.rule_comment(key, &rule.origins));
                        match &rule.pattern {
                            HostPattern::Exact(name) => ln!(
                                out,
                                "    - matchName: {} {comment}",
                                escape::yaml_quoted(name.as_str())
                            ),
                            HostPattern::Wildcard(_) => ln!(
                                out,
                                "    - matchPattern: {} {comment}",
                                escape::yaml_quoted(&rule.pattern.to_string())
                            ),
                        }
                    }
                    to_ports(key, out);
                }
            }
            for key in &keys {
                let groups: Vec<_> = rules.addresses.iter().filter(|g| &g.key == *key).collect();
                if groups.is_empty() {
                    continue;
                }
                ln!(out, "  - toCIDR:");
                for group in groups {
                    for rule in &group.rules {
                        let comment = self.comment_line(&self.rule_comment(key, &rule.origins));
                        ln!(out, "    - \"{}\" {comment}", rule.prefix);
                    }
                }
                to_ports(key, out);
            }
        }
    }
}
