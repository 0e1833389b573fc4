"""A model of `kubectl apply` in one namespace, for the k8s and cilium outputs.

Usage: kubectl_apply.py ADMIN.yaml OUTPUT.yaml [OUTPUT.yaml ...]

ADMIN.yaml is applied plainly (the admin's own objects). Each OUTPUT.yaml is applied with the
command its header states: the first comment line holding `kubectl apply`, whose flags
`--prune`, `-l KEY=VALUE` and `--prune-allowlist=GROUP/VERSION/KIND` (or
`--prune-whitelist`) are honoured. Printed: the objects left, as JSON keyed `Kind/name`.

Semantics, from the kubectl reference
(https://kubernetes.io/docs/reference/kubectl/generated/kubectl_apply/) and its source
(staging/src/k8s.io/kubectl/pkg/util/prune/prune.go): apply creates or replaces each object
of the file by kind and name; with --prune, objects matching the label selector that the
file does not hold are deleted, but only of the allowlisted kinds; without an allowlist,
kubectl's default one, which holds no NetworkPolicy and no CiliumNetworkPolicy.
"""
import json
import re
import shlex
import sys

try:
    import yaml
except ImportError as error:
    sys.exit(f"{error}: install the test tools with scripts/test, or pip install -r scripts/requirements/python.txt")

DEFAULT_ALLOWLIST = {
    "v1/ConfigMap", "v1/Endpoints", "v1/PersistentVolumeClaim", "v1/Pod",
    "v1/ReplicationController", "v1/Secret", "v1/Service", "batch/v1/Job", "batch/v1/CronJob",
    "networking.k8s.io/v1/Ingress", "apps/v1/DaemonSet", "apps/v1/Deployment",
    "apps/v1/ReplicaSet", "apps/v1/StatefulSet",
}


def documents(path):
    with open(path) as handle:
        return [d for d in yaml.safe_load_all(handle) if d is not None]


def key(document):
    return f"{document['kind']}/{document['metadata']['name']}"


def gvk(document):
    return f"{document['apiVersion']}/{document['kind']}"


def command(path):
    with open(path) as handle:
        for line in handle:
            if line.startswith("#") and "kubectl apply" in line:
                text = line[line.index("kubectl apply"):]
                return shlex.split(text.split(":")[0])
    sys.exit(f"{path}: no kubectl apply command in its header")


def apply(state, path, words):
    prune = "--prune" in words
    selector = None
    allowlist = set()
    for index, word in enumerate(words):
        if word == "-l":
            selector = words[index + 1]
        elif word.startswith("-l") and len(word) > 2:
            selector = word[2:]
        match = re.match(r"--prune-(?:allow|white)list=(.+)", word)
        if match:
            allowlist.add(match.group(1))
    if prune and selector is None:
        sys.exit(f"{path}: --prune without -l would prune every object of the namespace")
    applied = documents(path)
    for document in applied:
        state[key(document)] = document
    if not prune:
        return
    label, value = selector.split("=", 1)
    kinds = allowlist or DEFAULT_ALLOWLIST
    names = {key(d) for d in applied}
    for name, document in list(state.items()):
        labels = document["metadata"].get("labels") or {}
        if name not in names and labels.get(label) == value and gvk(document) in kinds:
            del state[name]


state = {}
apply(state, sys.argv[1], [])
for output in sys.argv[2:]:
    apply(state, output, command(output))
print(json.dumps(state, sort_keys=True))
