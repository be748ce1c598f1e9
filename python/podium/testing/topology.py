"""Fake NUMA topology: NodeResourceTopology objects (``topology.node.k8s.io/v1alpha2``) as
NFD's topology-updater writes them, and GPU nodes whose capacity matches their zones.

The CRD must be installed first (``podium.testing.crds.install_crds``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.rawapi import request_bytes
from podium.testing.nodes import GPU_RESOURCE, RDMA_RESOURCE, NodeSpecError, make_node

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

NRT_API_VERSION = "topology.node.k8s.io/v1alpha2"
NRT_PATH = "/apis/topology.node.k8s.io/v1alpha2/noderesourcetopologies"
# The distances Linux reports between NUMA nodes of a typical two-socket server.
LOCAL_COST = 10
REMOTE_COST = 21

Quantity = str | int


@dataclass(frozen=True)
class NumaZone:
    """One NUMA node's resources. ``used`` takes resources off ``available`` (as devices
    handed to running pods would)."""

    cpu: int = 32
    memory: str = "128Gi"
    gpus: int = 0
    rdma: int = 0
    extended: Mapping[str, int] = field(default_factory=dict)
    used: Mapping[str, int] = field(default_factory=dict)

    def resources(self) -> dict[str, int | str]:
        out: dict[str, int | str] = {"cpu": self.cpu, "memory": self.memory}
        if self.gpus:
            out[GPU_RESOURCE] = self.gpus
        if self.rdma:
            out[RDMA_RESOURCE] = self.rdma
        out.update(self.extended)
        return out


def make_node_resource_topology(
    node_name: str,
    zones: Sequence[NumaZone],
    *,
    costs: Sequence[Sequence[int]] | None = None,
    policy: str = "single-numa-node",
    scope: str = "pod",
) -> dict[str, Any]:
    """The NodeResourceTopology of ``node_name``: zones ``node-0``... of type Node with their
    resources and costs (10 local / 21 remote unless ``costs`` is the full matrix)."""
    if not zones:
        raise NodeSpecError(f"noderesourcetopology {node_name!r}: zones must not be empty")
    if costs is not None and (
        len(costs) != len(zones) or any(len(row) != len(zones) for row in costs)
    ):
        raise NodeSpecError(
            f"noderesourcetopology {node_name!r}: costs must be a {len(zones)}x{len(zones)} matrix"
        )
    zone_objects = []
    for i, zone in enumerate(zones):
        resources = []
        for name, amount in zone.resources().items():
            used = zone.used.get(name, 0)
            if isinstance(amount, int) and not 0 <= used <= amount:
                raise NodeSpecError(
                    f"noderesourcetopology {node_name!r}: zones[{i}].used[{name!r}] must be "
                    f"between 0 and {amount}, got {used}"
                )
            available = amount - used if isinstance(amount, int) else amount
            resources.append(
                {"name": name, "capacity": amount, "allocatable": amount, "available": available}
            )
        zone_objects.append(
            {
                "name": f"node-{i}",
                "type": "Node",
                "costs": [
                    {
                        "name": f"node-{j}",
                        "value": costs[i][j]
                        if costs is not None
                        else (LOCAL_COST if i == j else REMOTE_COST),
                    }
                    for j in range(len(zones))
                ],
                "resources": resources,
            }
        )
    return {
        "apiVersion": NRT_API_VERSION,
        "kind": "NodeResourceTopology",
        "metadata": {"name": node_name},
        "attributes": [
            {"name": "topologyManagerPolicy", "value": policy},
            {"name": "topologyManagerScope", "value": scope},
        ],
        "zones": zone_objects,
    }


def make_numa_gpu_node(
    name: str, zones: Sequence[NumaZone], **node_kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A node whose capacity is the sum of ``zones``, and its NodeResourceTopology.

    ``node_kwargs`` go to ``make_node`` (labels, rack, taints, ...)."""
    extended: dict[str, int] = {}
    for zone in zones:
        for resource, amount in zone.extended.items():
            extended[resource] = extended.get(resource, 0) + amount
    node = make_node(
        name,
        cpu=sum(zone.cpu for zone in zones),
        memory=_sum_memory(name, zones),
        gpus=sum(zone.gpus for zone in zones),
        rdma=sum(zone.rdma for zone in zones),
        extended=extended,
        **node_kwargs,
    )
    return node, make_node_resource_topology(name, zones)


async def create_topologies(
    api: ApiClient, objects: Iterable[Mapping[str, Any]], *, concurrency: int = 16
) -> None:
    """Creates NodeResourceTopology objects, ``concurrency`` requests at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def create(body: Mapping[str, Any]) -> None:
        async with limit:
            await request_bytes(api, "POST", NRT_PATH, body=body)

    async with asyncio.TaskGroup() as group:
        for body in objects:
            group.create_task(create(body))


def _sum_memory(node: str, zones: Sequence[NumaZone]) -> str:
    units = {"Ki": 1, "Mi": 2**10, "Gi": 2**20, "Ti": 2**30}
    total_ki = 0
    for index, zone in enumerate(zones):
        number, unit = zone.memory[:-2], zone.memory[-2:]
        if unit not in units or not number.isdigit():
            raise NodeSpecError(
                f"node {node!r}: zones[{index}].memory must be a whole number of Ki/Mi/Gi/Ti, "
                f"got {zone.memory!r}"
            )
        total_ki += int(number) * units[unit]
    if total_ki % units["Gi"] == 0:
        return f"{total_ki // units['Gi']}Gi"
    return f"{total_ki}Ki"
