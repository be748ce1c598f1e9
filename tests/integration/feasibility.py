"""An independent oracle for the end-to-end tests: is this pod feasible on this node?

Written apart from the Rust core on purpose, from the Kubernetes API documentation, for the
features the tests generate (resources, nodeSelector, required node affinity, taints,
unschedulable nodes). It reads the same JSON the apiserver returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

JSON = dict[str, Any]

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def quantity(text: str | int) -> Decimal:
    match = _QUANTITY.match(str(text))
    if match is None:
        raise ValueError(f"oracle cannot parse quantity {text!r}")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]


def pod_requests(pod: JSON) -> dict[str, Decimal]:
    """Sum of the containers' requests (the tests use no init containers or overhead)."""
    total: dict[str, Decimal] = {}
    for container in pod["spec"]["containers"]:
        for name, value in (container.get("resources", {}).get("requests") or {}).items():
            total[name] = total.get(name, Decimal(0)) + quantity(value)
    return total


def _tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for tol in tolerations:
        effect = tol.get("effect", "")
        if effect and effect != taint["effect"]:
            continue
        if tol.get("operator", "Equal") == "Exists":
            if not tol.get("key") or tol.get("key") == taint["key"]:
                return True
        elif tol.get("key") == taint["key"] and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _expression_matches(labels: Mapping[str, str], expr: Mapping[str, Any]) -> bool:
    key, op, values = expr["key"], expr["operator"], expr.get("values", [])
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise ValueError(f"oracle does not know operator {op}")


def _affinity_matches(pod: JSON, labels: Mapping[str, str]) -> bool:
    required = (
        pod["spec"]
        .get("affinity", {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if not required:
        return True
    return any(
        all(_expression_matches(labels, e) for e in term.get("matchExpressions", []))
        for term in required["nodeSelectorTerms"]
    )


def reasons_infeasible(
    pod: JSON, node: JSON, used: Mapping[str, Decimal], pods_on_node: int
) -> list[str]:
    """Why ``pod`` cannot go on ``node`` given what is ``used`` there; empty when it fits."""
    reasons = []
    labels = node["metadata"].get("labels", {})
    if node["spec"].get("unschedulable"):
        reasons.append("unschedulable")
    tolerations = pod["spec"].get("tolerations", [])
    for taint in node["spec"].get("taints", []):
        if taint["effect"] in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
            reasons.append(f"taint {taint['key']}")
    selector = pod["spec"].get("nodeSelector", {})
    if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_matches(pod, labels):
        reasons.append("selector")
    allocatable = node["status"]["allocatable"]
    if pods_on_node + 1 > quantity(allocatable.get("pods", "110")):
        reasons.append("pods")
    for name, amount in pod_requests(pod).items():
        capacity = quantity(allocatable.get(name, "0"))
        if used.get(name, Decimal(0)) + amount > capacity:
            reasons.append(f"insufficient {name}")
    return reasons


def usage_by_node(pods: Iterable[JSON]) -> tuple[dict[str, dict[str, Decimal]], dict[str, int]]:
    """Requests and pod counts of the non-terminal pods bound to each node."""
    used: dict[str, dict[str, Decimal]] = {}
    counts: dict[str, int] = {}
    for pod in pods:
        node = pod["spec"].get("nodeName")
        if not node or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        counts[node] = counts.get(node, 0) + 1
        bucket = used.setdefault(node, {})
        for name, amount in pod_requests(pod).items():
            bucket[name] = bucket.get(name, Decimal(0)) + amount
    return used, counts


def held_for(
    pods: Iterable[JSON], pod: JSON
) -> tuple[dict[str, dict[str, Decimal]], dict[str, int]]:
    """What nominated pods hold against ``pod`` (kube's filtering with nominated pods): the
    requests and count of every other pending pod with a ``status.nominatedNodeName`` and a
    priority at least ``pod``'s, by that node."""
    priority = pod["spec"].get("priority", 0)
    uid = pod["metadata"]["uid"]
    held = [
        {**p, "spec": {**p["spec"], "nodeName": p["status"]["nominatedNodeName"]}}
        for p in pods
        if not p["spec"].get("nodeName")
        and p.get("status", {}).get("nominatedNodeName")
        and p["metadata"]["uid"] != uid
        and p["spec"].get("priority", 0) >= priority
    ]
    return usage_by_node(held)
