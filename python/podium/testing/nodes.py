"""Fake nodes: plain Node objects with capacity, labels and taints, and no kubelet behind them.

Builders return JSON-ready dicts; ``create_nodes`` posts many of them concurrently. The
apiserver keeps a node's ``status`` on create (verified by the integration tests), and
``create_nodes`` checks the answer and falls back to the status subresource if it ever does
not, so the scheduler under test always sees the capacity the test asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
RACK_LABEL = "topology.kubernetes.io/rack"
GPU_RESOURCE = "nvidia.com/gpu"
RDMA_RESOURCE = "rdma/hca"

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_HEARTBEAT = "2024-01-01T00:00:00Z"

Quantity = str | int


@dataclass(frozen=True)
class Taint:
    """A node taint; ``effect`` is NoSchedule, PreferNoSchedule or NoExecute."""

    key: str
    effect: str = "NoSchedule"
    value: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"key": self.key, "effect": self.effect}
        if self.value is not None:
            out["value"] = self.value
        return out


class NodeSpecError(ValueError):
    """A node builder argument is invalid; the message names the node and the field."""


def make_node(
    name: str,
    *,
    cpu: Quantity = "32",
    memory: Quantity = "256Gi",
    pods: int = 110,
    ephemeral_storage: Quantity = "1Ti",
    gpus: int = 0,
    rdma: int = 0,
    extended: Mapping[str, Quantity] | None = None,
    labels: Mapping[str, str] | None = None,
    zone: str | None = None,
    region: str | None = None,
    rack: str | None = None,
    rack_label: str = RACK_LABEL,
    taints: Sequence[Taint] = (),
    unschedulable: bool = False,
    ready: bool = True,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Node with capacity == allocatable, the well-known labels and a Ready condition.

    ``gpus``/``rdma`` are shorthands for ``nvidia.com/gpu``/``rdma/hca``; ``extended`` adds any
    other resource. ``zone``, ``region`` and ``rack`` set the topology labels."""
    resources: dict[str, str] = {
        "cpu": _quantity(name, "cpu", cpu),
        "memory": _quantity(name, "memory", memory),
        "pods": _quantity(name, "pods", pods),
        "ephemeral-storage": _quantity(name, "ephemeral_storage", ephemeral_storage),
    }
    if gpus:
        resources[GPU_RESOURCE] = _quantity(name, "gpus", gpus)
    if rdma:
        resources[RDMA_RESOURCE] = _quantity(name, "rdma", rdma)
    for resource, amount in (extended or {}).items():
        resources[resource] = _quantity(name, f"extended[{resource!r}]", amount)

    all_labels = {
        HOSTNAME_LABEL: name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    for key, value in ((ZONE_LABEL, zone), (REGION_LABEL, region), (rack_label, rack)):
        if value is not None:
            all_labels[key] = value
    all_labels.update(labels or {})

    spec: dict[str, Any] = {}
    if taints:
        for index, taint in enumerate(taints):
            if taint.effect not in TAINT_EFFECTS:
                raise NodeSpecError(
                    f"node {name!r}: taints[{index}].effect must be one of "
                    f"{', '.join(TAINT_EFFECTS)}, got {taint.effect!r}"
                )
        spec["taints"] = [taint.to_dict() for taint in taints]
    if unschedulable:
        spec["unschedulable"] = True

    metadata: dict[str, Any] = {"name": name, "labels": all_labels}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "capacity": resources,
            "allocatable": dict(resources),
            "conditions": [_ready_condition(ready)],
        },
    }


def make_nodes(
    count: int, *, prefix: str = "node", racks: int = 0, **kwargs: Any
) -> list[dict[str, Any]]:
    """``count`` nodes named ``<prefix>-00000``...; with ``racks``, spread round-robin over
    racks ``rack-0``... (``kwargs`` go to ``make_node``)."""
    if count < 0:
        raise NodeSpecError(f"make_nodes: count must not be negative, got {count}")
    if racks < 0:
        raise NodeSpecError(f"make_nodes: racks must not be negative, got {racks}")
    return [
        make_node(
            f"{prefix}-{index:05d}", rack=f"rack-{index % racks}" if racks else None, **kwargs
        )
        for index in range(count)
    ]


class NodeCreateError(RuntimeError):
    """Some nodes could not be created; ``failures`` maps node name to the reason."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        shown = "; ".join(f"node {name!r}: {why}" for name, why in list(failures.items())[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} node(s) not created: {shown}{more}")


async def create_nodes(
    api: ApiClient, nodes: Iterable[Mapping[str, Any]], *, concurrency: int = 32
) -> list[str]:
    """Creates ``nodes`` (with their status) using ``concurrency`` requests in flight.

    Returns the names created, in input order; raises NodeCreateError naming every node that
    failed (the others stay created)."""
    if concurrency < 1:
        raise ValueError(f"create_nodes: concurrency must be at least 1, got {concurrency}")
    pending = list(nodes)
    names = [_node_name(index, node) for index, node in enumerate(pending)]
    failures: dict[str, str] = {}
    queue = iter(range(len(pending)))

    async def worker() -> None:
        for index in queue:
            try:
                await _create_one(api, pending[index])
            except ApiStatusError as error:
                failures[names[index]] = f"HTTP {error.status}: {error}"
            except aiohttp.ClientError as error:
                failures[names[index]] = f"request failed: {error}"

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(pending))):
            group.create_task(worker())
    if failures:
        raise NodeCreateError(failures)
    return names


async def delete_nodes(api: ApiClient, label_selector: str | None = None) -> None:
    """Deletes every node (or those matching ``label_selector``) in one request."""
    query: dict[str, str | int | bool] = {}
    if label_selector is not None:
        query["labelSelector"] = label_selector
    await request_bytes(api, "DELETE", "/api/v1/nodes", query=query)


async def _create_one(api: ApiClient, node: Mapping[str, Any]) -> None:
    created = orjson.loads(await request_bytes(api, "POST", "/api/v1/nodes", body=node))
    wanted = node.get("status")
    if wanted and _status_lost(wanted, created.get("status") or {}):
        await request_bytes(
            api,
            "PATCH",
            f"/api/v1/nodes/{created['metadata']['name']}/status",
            body={"status": wanted},
            content_type="application/merge-patch+json",
        )


def _status_lost(wanted: Mapping[str, Any], kept: Mapping[str, Any]) -> bool:
    # Presence, not equality: the apiserver may canonicalize quantities ("1000m" -> "1").
    return any(field in wanted and not kept.get(field) for field in ("capacity", "allocatable"))


def _node_name(index: int, node: Mapping[str, Any]) -> str:
    metadata = node.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        raise NodeSpecError(f"nodes[{index}]: metadata.name must be a non-empty string")
    return name


def _quantity(node: str, field: str, value: Quantity) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise NodeSpecError(f"node {node!r}: {field} must be a quantity string or an integer")
    if isinstance(value, int) and value < 0:
        raise NodeSpecError(f"node {node!r}: {field} must not be negative, got {value}")
    text = str(value).strip()
    if not text or text.startswith("-"):
        raise NodeSpecError(
            f"node {node!r}: {field} must be a non-negative quantity, got {value!r}"
        )
    return text


def _ready_condition(ready: bool) -> dict[str, str]:
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "fake node (podium.testing)",
        "lastHeartbeatTime": _HEARTBEAT,
        "lastTransitionTime": _HEARTBEAT,
    }
