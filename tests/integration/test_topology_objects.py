"""NodeResourceTopology objects and GPU nodes from podium.testing, stored by the apiserver."""

from __future__ import annotations

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.crds import install_crds
from podium.testing.nodes import GPU_RESOURCE, RDMA_RESOURCE, create_nodes
from podium.testing.topology import (
    NRT_PATH,
    NumaZone,
    create_topologies,
    make_numa_gpu_node,
)

pytestmark = pytest.mark.timeout(120)


async def test_crd_install_is_idempotent(api: ApiClient, crds: list[str]) -> None:
    assert "noderesourcetopologies.topology.node.k8s.io" in crds
    assert await install_crds(api) == crds


async def test_numa_node_and_its_topology_are_stored(
    api: ApiClient, crds: list[str], node_labels: dict[str, str]
) -> None:
    name = f"numa-{node_labels['podium.dev/test']}"
    zones = [
        NumaZone(cpu=48, memory="256Gi", gpus=4, rdma=2, used={GPU_RESOURCE: 1}),
        NumaZone(cpu=48, memory="256Gi", gpus=4, rdma=2),
    ]
    node, topology = make_numa_gpu_node(name, zones, labels=node_labels)
    await create_nodes(api, [node])
    try:
        await create_topologies(api, [topology])
        stored_node = orjson.loads(await request_bytes(api, "GET", f"/api/v1/nodes/{name}"))
        stored = orjson.loads(await request_bytes(api, "GET", f"{NRT_PATH}/{name}"))
    finally:
        await request_bytes(api, "DELETE", f"{NRT_PATH}/{name}")

    allocatable = stored_node["status"]["allocatable"]
    assert (allocatable["cpu"], allocatable["memory"]) == ("96", "512Gi")
    assert (allocatable[GPU_RESOURCE], allocatable[RDMA_RESOURCE]) == ("8", "4")

    assert [zone["name"] for zone in stored["zones"]] == ["node-0", "node-1"]
    first = {r["name"]: r for r in stored["zones"][0]["resources"]}
    assert first[GPU_RESOURCE]["capacity"] == 4
    assert first[GPU_RESOURCE]["available"] == 3
    assert first[RDMA_RESOURCE]["available"] == 2
    assert stored["zones"][0]["costs"] == [
        {"name": "node-0", "value": 10},
        {"name": "node-1", "value": 21},
    ]
    assert {"name": "topologyManagerPolicy", "value": "single-numa-node"} in stored["attributes"]
