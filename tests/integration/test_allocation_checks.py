"""A bound pod's ``podium.dev/allocation`` that is not its requests is refused, said so, and the
pod counts by its requests: on the real apiserver, podium in-process."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import ApiStatusError, request_bytes
from podium.runner import MALFORMED, Podium
from podium.testing.nodes import GPU_RESOURCE, create_nodes
from podium.testing.pods import make_pod
from podium.testing.topology import NRT_PATH, NumaZone, create_topologies, make_numa_gpu_node
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(120)

ALLOCATION = "podium.dev/allocation"
WAIT_SECONDS = 60
_NOT_FOUND = 404


async def _pod(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    body = await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    pod: dict[str, Any] = orjson.loads(body)
    return pod


async def _event_notes(api: ApiClient, namespace: str, pod: str, reason: str) -> list[str]:
    path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    events = orjson.loads(await request_bytes(api, "GET", path))["items"]
    return [
        e["note"]
        for e in events
        if e["regarding"].get("name") == pod and e["reason"] == reason and e["type"] == "Warning"
    ]


async def test_an_allocation_claiming_more_than_the_requests_is_refused_and_said(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    name = f"alloc-check-{suffix}"
    # Zone node-0 is the only one with 4 GPUs free: the 4-GPU pod fits there, unless the bound
    # 1-GPU pod's claim of 2^63-1 GPUs in node-0 were believed.
    node, topology = make_numa_gpu_node(
        name,
        [NumaZone(gpus=4), NumaZone(gpus=4, used={GPU_RESOURCE: 1})],
        labels=node_labels,
    )
    await create_nodes(api, [node])
    claim = {
        "policy": "single",
        "zones": [{"zone": "node-0", "resources": {GPU_RESOURCE: 2**63 - 1}}],
    }
    greedy = make_pod(
        "greedy",
        namespace,
        scheduler_name="podium",
        requests={"cpu": "100m", GPU_RESOURCE: 1},
        limits={GPU_RESOURCE: 1},
        node_name=name,
        annotations={ALLOCATION: orjson.dumps(claim).decode()},
    )
    four = make_pod(
        "four",
        namespace,
        scheduler_name="podium",
        requests={"cpu": "100m", GPU_RESOURCE: 4},
        limits={GPU_RESOURCE: 4},
        node_selector=node_labels,
        annotations={"podium.dev/numa": "single"},
    )
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await create_topologies(api, [topology])
    try:
        await request_bytes(api, "POST", pods, body=greedy)
        async with Podium(default_config(), api, identity="allocation-check-test") as podium:
            await podium.start_scheduling()
            await request_bytes(api, "POST", pods, body=four)

            async def bound() -> bool:
                return bool((await _pod(api, namespace, "four"))["spec"].get("nodeName"))

            await until(bound, "the 4-GPU pod to bind", WAIT_SECONDS)
            await podium.recorder.flush()
        stored = await _pod(api, namespace, "four")
        placed = orjson.loads(stored["metadata"]["annotations"][ALLOCATION])
        assert [z["zone"] for z in placed["zones"]] == ["node-0"], placed
        notes = await _event_notes(api, namespace, "greedy", MALFORMED)
        assert any(
            f"Pod {namespace}/greedy: metadata.annotations[{ALLOCATION}]: the zones hold "
            f"9223372036854775807 {GPU_RESOURCE} in all, the pod requests 1" in note
            for note in notes
        ), notes
    finally:
        try:
            await request_bytes(api, "DELETE", f"{NRT_PATH}/{name}")
        except ApiStatusError as err:
            if err.status != _NOT_FOUND:
                raise
