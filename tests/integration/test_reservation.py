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
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(120)

WAIT_SECONDS = 45


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    await until(check, what, WAIT_SECONDS)


def _gpu_pod(
    name: str, namespace: str, labels: dict[str, str], gpus: int, node: str | None = None
) -> dict[str, Any]:
    return make_pod(
        name,
        namespace,
        scheduler_name="podium",
        requests={"cpu": "1", GPU_RESOURCE: gpus},
        limits={GPU_RESOURCE: gpus},
        node_name=node,
        node_selector=labels,
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
        assert not (await pod("small"))["spec"].get("nodeName"), "kept off the held node"
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
