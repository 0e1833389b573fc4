//! Kubernetes: a NetworkPolicy per environment whose egress rules allow the prefixes
//! (`ipBlock`) on their ports. NetworkPolicy has no host names.

use super::RuleSet;
use super::escape::{self, Charset};
use super::render::{Dialect, Out, ln};

/// The Kubernetes NetworkPolicy dialect.
pub(crate) struct K8s;

/// The metadata annotations every policy carries, naming its data.
pub(crate) fn annotations(rules: &RuleSet, out: &mut Out) {
    let h = &rules.header;
    let text = |s: &str| escape::yaml_quoted(&escape::comment(s, usize::MAX, Charset::Unicode));
    ln!(out, "  annotations:");
    ln!(out, "    egresscheck/provider: {}", text(&h.provider));
    ln!(
        out,
        "    egresscheck/data-version: {}",
        text(&h.data_version)
    );
}

impl Dialect for K8s {
    fn notes(&self, _rules: &RuleSet) -> Vec<String> {
        vec![
            "kubectl apply -n NAMESPACE -f FILE. podSelector {} selects every pod of the namespace: narrow it.".to_owned(),
            "A pod selected by any egress policy may send only what some policy allows: allow DNS (kube-dns, port 53) in another policy.".to_owned(),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for env in rules.environments() {
            ln!(out, "---");
            ln!(out, "apiVersion: networking.k8s.io/v1");
            ln!(out, "kind: NetworkPolicy");
            ln!(out, "metadata:");
            ln!(out, "  name: egresscheck-{env}");
            annotations(rules, out);
            ln!(out, "spec:");
            ln!(out, "  podSelector: {{}}");
            ln!(out, "  policyTypes:");
            ln!(out, "  - Egress");
            ln!(out, "  egress:");
            for key in rules.keys().into_iter().filter(|k| &k.environment == env) {
                let groups: Vec<_> = rules.addresses.iter().filter(|g| &g.key == key).collect();
                if groups.is_empty() {
                    continue;
                }
                ln!(out, "  - to:");
                for group in groups {
                    for rule in &group.rules {
                        ln!(out, "    - ipBlock:");
                        ln!(
                            out,
                            "        cidr: \"{}\" {}",
                            rule.prefix,
                            self.comment_line(&self.rule_comment(key, &rule.origins))
                        );
                    }
                }
                ln!(out, "    ports:");
                ln!(
                    out,
                    "    - protocol: {}",
                    key.protocol.as_str().to_uppercase()
                );
                ln!(out, "      port: {}", key.port);
            }
        }
    }
}
