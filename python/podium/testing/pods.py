"""Pod and PriorityClass builders for tests and benchmarks (plain JSON-ready dicts).

Pods get a single ``pause`` container holding the requests/limits; no kubelet ever runs them.
Priority comes from a PriorityClass, as on a real cluster: the Priority admission plugin
rejects a pod that sets ``spec.priority`` itself, so ``make_pod`` takes ``priority_class_name``
and ``make_priority_class`` makes the class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"

Quantity = str | int


class PodSpecError(ValueError):
    """A pod builder argument is invalid; the message names the pod and the field."""


def make_pod(
    name: str,
    namespace: str = "default",
    *,
    scheduler_name: str = "default-scheduler",
    requests: Mapping[str, Quantity] | None = None,
    limits: Mapping[str, Quantity] | None = None,
    init_requests: Mapping[str, Quantity] | None = None,
    overhead: Mapping[str, Quantity] | None = None,
    node_selector: Mapping[str, str] | None = None,
    node_name: str | None = None,
    tolerations: Sequence[Mapping[str, Any]] = (),
    affinity: Mapping[str, Any] | None = None,
    topology_spread_constraints: Sequence[Mapping[str, Any]] = (),
    priority_class_name: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    host_ports: Sequence[int] = (),
    scheduling_gates: Sequence[str] = (),
    image: str = PAUSE_IMAGE,
    pod_group: str | None = None,
) -> dict[str, Any]:
    """A Pod with one container; every argument maps to the field of the same name, and
    ``pod_group`` to ``spec.schedulingGroup.podGroupName`` (the Workload API's link)."""
    container: dict[str, Any] = {"name": "main", "image": image}
    resources = _resources(name, "requests", requests) | _resources(name, "limits", limits)
    if resources:
        container["resources"] = resources
    if host_ports:
        container["ports"] = [
            {"containerPort": _port(name, index, port), "hostPort": port, "protocol": "TCP"}
            for index, port in enumerate(host_ports)
        ]

    spec: dict[str, Any] = {"schedulerName": scheduler_name, "containers": [container]}
    if init_requests:
        spec["initContainers"] = [
            {
                "name": "init",
                "image": image,
                "resources": _resources(name, "init_requests", init_requests, key="requests"),
            }
        ]
    if overhead:
        spec["overhead"] = _quantities(name, "overhead", overhead)
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if node_name is not None:
        spec["nodeName"] = node_name
    if tolerations:
        spec["tolerations"] = [dict(toleration) for toleration in tolerations]
    if affinity:
        spec["affinity"] = dict(affinity)
    if topology_spread_constraints:
        spec["topologySpreadConstraints"] = [dict(c) for c in topology_spread_constraints]
    if priority_class_name is not None:
        spec["priorityClassName"] = priority_class_name
    if scheduling_gates:
        spec["schedulingGates"] = [{"name": gate} for gate in scheduling_gates]
    if pod_group is not None:
        spec["schedulingGroup"] = {"podGroupName": pod_group}

    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def make_priority_class(
    name: str, value: int, *, preemption_policy: str = "PreemptLowerPriority"
) -> dict[str, Any]:
    """A PriorityClass (cluster-scoped) for ``make_pod(priority_class_name=...)``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PodSpecError(f"priorityclass {name!r}: value must be an integer, got {value!r}")
    if preemption_policy not in ("PreemptLowerPriority", "Never"):
        raise PodSpecError(
            f"priorityclass {name!r}: preemptionPolicy must be PreemptLowerPriority or Never, "
            f"got {preemption_policy!r}"
        )
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "preemptionPolicy": preemption_policy,
    }


def _resources(
    pod: str, field: str, values: Mapping[str, Quantity] | None, *, key: str | None = None
) -> dict[str, dict[str, str]]:
    if not values:
        return {}
    return {key or field: _quantities(pod, field, values)}


def _quantities(pod: str, field: str, values: Mapping[str, Quantity]) -> dict[str, str]:
    out = {}
    for resource, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PodSpecError(
                f"pod {pod!r}: {field}[{resource!r}] must be a quantity string or an integer"
            )
        text = str(value).strip()
        if not text or text.startswith("-"):
            raise PodSpecError(
                f"pod {pod!r}: {field}[{resource!r}] must be a non-negative quantity, got {value!r}"
            )
        out[resource] = text
    return out


def _port(pod: str, index: int, port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise PodSpecError(f"pod {pod!r}: host_ports[{index}] must be 1..65535, got {port!r}")
    return port
