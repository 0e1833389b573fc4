//! Kubernetes: a NetworkPolicy per environment whose egress rules allow the prefixes
//! (`ipBlock`) on their ports. NetworkPolicy has no host names.
//!
//! A pod that any egress policy selects may send only what some policy allows, so each policy
//! also allows DNS to the cluster's DNS pods (kube-dns in kube-system, UDP and TCP 53):
//! applying it never cuts name resolution. `kubectl apply` replaces a policy of the same name
//! (its rule lists are replaced, not merged); a label lets `--prune` delete the policy of an
//! environment the output no longer has. `check --rules` policies have names and a label of
//! their own, so they add to the full policies (policies are a union) and are never pruned
//! by them.

use super::RuleSet;
use super::escape::{self, Charset};
use super::render::{Dialect, Out, ln};

/// The Kubernetes NetworkPolicy dialect.
pub(crate) struct K8s;

/// The label every policy carries; `kubectl apply --prune -l` selects by it.
pub(crate) const PART_LABEL: &str = "egresscheck.io/part";

/// The policy name and label value for `env`: `egresscheck-ENV` for the full rules,
/// `egresscheck-ENV-check` for what `check --rules` adds.
pub(crate) fn policy(rules: &RuleSet, env: &super::EnvId) -> (String, &'static str) {
    if rules.header.additive {
        (format!("egresscheck-{env}-check"), part(rules))
    } else {
        (format!("egresscheck-{env}"), part(rules))
    }
}

/// The value of [`PART_LABEL`]: `rules`, or `check` for what `check --rules` adds.
pub(crate) fn part(rules: &RuleSet) -> &'static str {
    if rules.header.additive {
        "check"
    } else {
        "rules"
    }
}

/// The metadata of `env`'s policy: name, labels, and annotations naming its data.
pub(crate) fn metadata(rules: &RuleSet, env: &super::EnvId, out: &mut Out) {
    let (name, part) = policy(rules, env);
    ln!(out, "metadata:");
    ln!(out, "  name: {name}");
    ln!(out, "  labels:");
    ln!(out, "    app.kubernetes.io/managed-by: egresscheck");
    ln!(out, "    {PART_LABEL}: {part}");
    annotations(rules, out);
}

/// The metadata annotations every policy carries, naming its data.
fn annotations(rules: &RuleSet, out: &mut Out) {
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
    fn notes(&self, rules: &RuleSet) -> Vec<String> {
        vec![
            format!("kubectl apply -n NAMESPACE --prune -l {PART_LABEL}={} --prune-allowlist=networking.k8s.io/v1/NetworkPolicy -f FILE: replaces each policy of the same name and deletes the egresscheck policies this output no longer has (kubectl prunes NetworkPolicies only when allowlisted; before kubectl 1.26 the flag is --prune-whitelist); applied twice, the same. podSelector {{}} selects every pod of the namespace: narrow it.", part(rules)),
            "Each policy also allows DNS to kube-dns (kube-system, UDP and TCP 53): a pod selected by an egress policy may send only what some policy allows, and without DNS nothing resolves. Adjust the selector if your cluster's DNS runs elsewhere.".to_owned(),
            format!("Remove: kubectl delete networkpolicy -n NAMESPACE -l {PART_LABEL}"),
        ]
    }

    fn body(&self, rules: &RuleSet, out: &mut Out) {
        for env in rules.environments() {
            ln!(out, "---");
            ln!(out, "apiVersion: networking.k8s.io/v1");
            ln!(out, "kind: NetworkPolicy");
            metadata(rules, env, out);
            ln!(out, "spec:");
            ln!(out, "  podSelector: {{}}");
            ln!(out, "  policyTypes:");
            ln!(out, "  - Egress");
            ln!(out, "  egress:");
            ln!(
                out,
                "  {}",
                self.comment_line(
                    "DNS: without it, a pod this policy selects cannot resolve any name."
                )
            );
            ln!(out, "  - to:");
            ln!(out, "    - namespaceSelector:");
            ln!(out, "        matchLabels:");
            ln!(out, "          kubernetes.io/metadata.name: kube-system");
            ln!(out, "      podSelector:");
            ln!(out, "        matchLabels:");
            ln!(out, "          k8s-app: kube-dns");
            ln!(out, "    ports:");
            ln!(out, "    - protocol: UDP");
            ln!(out, "      port: 53");
            ln!(out, "    - protocol: TCP");
            ln!(out, "      port: 53");
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
