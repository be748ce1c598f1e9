"""Whole-node reservations on the real apiserver: an 8-GPU pod that fits nowhere gets the node
nearest to free held for it (``status.nominatedNodeName``), a smaller pod of the same priority
is kept off that node while it drains, and the big pod lands there once the node's pod is gone.

The pods already running are bound with ``spec.nodeName`` (no scheduler involved).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.nodes import GPU_RESOURCE, create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.topology import (
    NRT_PATH,
    NumaZone,
    create_topologies,
    make_node_resource_topology,
    make_numa_gpu_node,
)
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(120)

WAIT_SECONDS = 45


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    await until(check, what, WAIT_SECONDS)


def _gpu_pod(
    name: str,
    namespace: str,
    labels: dict[str, str],
    gpus: int,
    node: str | None = None,
    numa: str | None = None,
) -> dict[str, Any]:
    return make_pod(
        name,
        namespace,
        scheduler_name="podium",
        requests={"cpu": "1", GPU_RESOURCE: gpus},
        limits={GPU_RESOURCE: gpus},
        node_name=node,
        node_selector=labels,
        annotations=None if numa is None else {"podium.dev/numa": numa},
    )


async def test_a_whole_node_pod_holds_the_node_nearest_to_free_until_it_drains(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    fuller, emptier = f"resv-a-{suffix}", f"resv-b-{suffix}"
    await create_nodes(
        api, [make_node(name, gpus=8, labels=node_labels) for name in (fuller, emptier)]
    )
    path = f"/api/v1/namespaces/{namespace}/pods"

    async def pod(name: str) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(await request_bytes(api, "GET", f"{path}/{name}"))
        return body

    # Running already: 5 GPUs on one node, 1 on the other. No node has 8 free.
    await request_bytes(
        api, "POST", path, body=_gpu_pod("run-a", namespace, node_labels, 5, node=fuller)
    )
    await request_bytes(
        api, "POST", path, body=_gpu_pod("run-b", namespace, node_labels, 1, node=emptier)
    )
    async with Podium(default_config(), api, identity="reservation-test") as podium:
        await podium.start_scheduling()
        await request_bytes(api, "POST", path, body=_gpu_pod("big", namespace, node_labels, 8))

        async def held() -> bool:
            return bool((await pod("big"))["status"].get("nominatedNodeName") == emptier)

        await _until(held, "the 8-GPU pod to hold the node nearest to free")

        # 4 GPUs fit only on the held node (7 free there, 3 on the other): kept off it.
        await request_bytes(api, "POST", path, body=_gpu_pod("small", namespace, node_labels, 4))

        async def small_parked() -> bool:
            return (await pod("small"))["status"].get("conditions") is not None

        await _until(small_parked, "the 4-GPU pod to be found unschedulable")
        await asyncio.sleep(1.0)  # a few more cycles: it must stay off the held node
        small = await pod("small")
        assert not small["spec"].get("nodeName"), "kept off the held node"
        # It is told the node is held, not that GPUs are short on a node with 7 free.
        (scheduled,) = [c for c in small["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert "1 node(s) were reserved for nominated pods" in scheduled["message"], scheduled
        assert not (await pod("big"))["spec"].get("nodeName")
        await podium.recorder.flush()
        events = orjson.loads(
            await request_bytes(api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")
        )["items"]
        notes = [e["note"] for e in events if e["regarding"].get("name") == "big"]
        assert any(f"Node {emptier} is reserved for the pod" in n for n in notes), notes

        # The held node's pod finishes: the 8-GPU pod lands there.
        await request_bytes(api, "DELETE", f"{path}/run-b", query={"gracePeriodSeconds": 0})

        async def big_bound() -> bool:
            return bool((await pod("big"))["spec"].get("nodeName") == emptier)

        await _until(big_bound, "the 8-GPU pod to land on the node held for it")
        assert not (await pod("small"))["spec"].get("nodeName"), "no room left for it"


async def test_a_node_whose_numa_zones_cannot_hold_the_pod_is_never_held(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    """The reproduction from independent testing: 8 GPUs in two zones of 4 under kubelet's
    ``single-numa-node``, a 1-GPU pod on it, then an 8-GPU single-NUMA pod. The node, emptied,
    could never take it: it is not held, and once the small pod is gone a new 1-GPU pod lands
    on the empty node at once."""
    node = f"resv-numa-{node_labels['podium.dev/test']}"
    path = f"/api/v1/namespaces/{namespace}/pods"
    zones = [NumaZone(gpus=4), NumaZone(gpus=4)]
    node_object, _ = make_numa_gpu_node(node, zones, labels=node_labels)
    await create_nodes(api, [node_object])
    busy = [NumaZone(gpus=4, used={GPU_RESOURCE: 1}), NumaZone(gpus=4)]
    await create_topologies(api, [make_node_resource_topology(node, busy)])

    async def pod(name: str) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(await request_bytes(api, "GET", f"{path}/{name}"))
        return body

    try:
        await request_bytes(
            api, "POST", path, body=_gpu_pod("run-1", namespace, node_labels, 1, node=node)
        )
        async with Podium(default_config(), api, identity="reservation-numa-test") as podium:
            await podium.start_scheduling()
            await request_bytes(
                api, "POST", path, body=_gpu_pod("big", namespace, node_labels, 8, numa="single")
            )

            async def big_parked() -> bool:
                return (await pod("big"))["status"].get("conditions") is not None

            await _until(big_parked, "the 8-GPU pod to be found unschedulable")
            await asyncio.sleep(1.0)  # a few more cycles: no hold may appear
            assert not (await pod("big"))["status"].get("nominatedNodeName")

            # The small pod finishes and the updater reports the zones free again.
            await request_bytes(api, "DELETE", f"{path}/run-1", query={"gracePeriodSeconds": 0})
            current = orjson.loads(await request_bytes(api, "GET", f"{NRT_PATH}/{node}"))
            freed = make_node_resource_topology(node, zones)
            freed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await request_bytes(api, "PUT", f"{NRT_PATH}/{node}", body=freed)
            await request_bytes(api, "POST", path, body=_gpu_pod("next", namespace, node_labels, 1))

            async def next_bound() -> bool:
                return bool((await pod("next"))["spec"].get("nodeName") == node)

            await _until(next_bound, "a 1-GPU pod to land on the empty 8-GPU node")
            big = await pod("big")
            assert not big["status"].get("nominatedNodeName"), big["status"]
            assert not big["spec"].get("nodeName")
    finally:
        await request_bytes(api, "DELETE", f"{NRT_PATH}/{node}")


async def test_a_hold_ends_on_the_topology_change_that_makes_it_useless(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    """A legitimate hold (no alignment asked, 8 GPUs on the node) ends as soon as the node's
    topology object says kubelet will align devices to one zone of 4: the pod can no longer
    use the node, so the node goes back to everyone."""
    node = f"resv-topo-{node_labels['podium.dev/test']}"
    path = f"/api/v1/namespaces/{namespace}/pods"
    zones = [NumaZone(gpus=4), NumaZone(gpus=4)]
    node_object, _ = make_numa_gpu_node(node, zones, labels=node_labels)
    await create_nodes(api, [node_object])
    busy = [NumaZone(gpus=4, used={GPU_RESOURCE: 1}), NumaZone(gpus=4)]
    await create_topologies(api, [make_node_resource_topology(node, busy, policy="none")])

    async def pod(name: str) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(await request_bytes(api, "GET", f"{path}/{name}"))
        return body

    try:
        await request_bytes(
            api, "POST", path, body=_gpu_pod("run-1", namespace, node_labels, 1, node=node)
        )
        async with Podium(default_config(), api, identity="reservation-topology-test") as podium:
            await podium.start_scheduling()
            await request_bytes(
                api, "POST", path, body=_gpu_pod("big", namespace, node_labels, 8, numa="none")
            )

            async def held() -> bool:
                return bool((await pod("big"))["status"].get("nominatedNodeName") == node)

            await _until(held, "the 8-GPU pod to hold the node")
            current = orjson.loads(await request_bytes(api, "GET", f"{NRT_PATH}/{node}"))
            aligned = make_node_resource_topology(node, busy, policy="single-numa-node")
            aligned["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await request_bytes(api, "PUT", f"{NRT_PATH}/{node}", body=aligned)

            async def released() -> bool:
                return not (await pod("big"))["status"].get("nominatedNodeName")

            await _until(released, "the hold to end on the topology change")
            # The node is anyone's again: a 2-GPU pod of the same priority lands there.
            await request_bytes(
                api, "POST", path, body=_gpu_pod("small", namespace, node_labels, 2)
            )

            async def small_bound() -> bool:
                return bool((await pod("small"))["spec"].get("nodeName") == node)

            await _until(small_bound, "a 2-GPU pod to land on the released node")
    finally:
        await request_bytes(api, "DELETE", f"{NRT_PATH}/{node}")
