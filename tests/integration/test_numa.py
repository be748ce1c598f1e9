"""NUMA-aware GPU/NIC placement end to end: NodeResourceTopology objects on the real apiserver,
podium in-process, and what it records on the pods (``podium.dev/allocation``)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import ApiStatusError, request_bytes
from podium.runner import Podium
from podium.testing.nodes import GPU_RESOURCE, RDMA_RESOURCE, create_nodes
from podium.testing.pods import make_pod
from podium.testing.topology import NRT_PATH, NumaZone, create_topologies, make_numa_gpu_node

pytestmark = pytest.mark.timeout(180)

ALLOCATION = "podium.dev/allocation"
NUMA = "podium.dev/numa"
SETTLE_SECONDS = 60
_NOT_FOUND = 404


async def _delete_topologies(api: ApiClient, names: Iterable[str]) -> None:
    for name in names:
        try:
            await request_bytes(api, "DELETE", f"{NRT_PATH}/{name}")
        except ApiStatusError as err:
            if err.status != _NOT_FOUND:
                raise


@asynccontextmanager
async def _numa_nodes(
    api: ApiClient,
    labels: Mapping[str, str],
    nodes: Mapping[str, list[NumaZone]],
    topology_overrides: Mapping[str, dict[str, Any]] | None = None,
) -> AsyncIterator[None]:
    """Creates GPU nodes and their NRT objects (``topology_overrides`` replaces an object);
    deletes the NRT objects afterwards (the nodes go with ``node_labels``)."""
    node_objects, topologies = [], []
    for name, zones in nodes.items():
        node, topology = make_numa_gpu_node(name, zones, labels=labels)
        node_objects.append(node)
        topologies.append((topology_overrides or {}).get(name, topology))
    await create_nodes(api, node_objects)
    try:
        await create_topologies(api, topologies)
        yield
    finally:
        await _delete_topologies(api, nodes)


def _gpu_pod(
    name: str, namespace: str, labels: Mapping[str, str], gpus: int, rdma: int = 0
) -> dict[str, Any]:
    requests: dict[str, str | int] = {"cpu": "100m", GPU_RESOURCE: gpus}
    if rdma:
        requests[RDMA_RESOURCE] = rdma
    return make_pod(
        name,
        namespace,
        scheduler_name="podium",
        requests=requests,
        limits={GPU_RESOURCE: gpus, **({RDMA_RESOURCE: rdma} if rdma else {})},
        node_selector=dict(labels),
        annotations={NUMA: "single"},
    )


async def _pods(api: ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    body = orjson.loads(await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods"))
    return {p["metadata"]["name"]: p for p in body["items"]}


async def _schedule(
    api: ApiClient, namespace: str, pods: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Runs podium until every pod in ``pods`` is bound or parked unschedulable; returns the
    pods as stored, with their PodScheduled conditions written."""
    async with Podium(default_config(), api, identity="numa-test") as podium:
        await podium.start_scheduling()
        for pod in pods:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
        deadline = time.monotonic() + SETTLE_SECONDS
        settled = False
        while not settled and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            stored = await _pods(api, namespace)
            bound = sum(1 for p in stored.values() if p["spec"].get("nodeName"))
            counts = podium.queue.pending_counts()
            settled = (
                counts["active"] == 0
                and counts["backoff"] == 0
                and bound + counts["unschedulable"] == len(pods)
            )
        await podium.conditions.flush()
    assert settled, f"pods did not settle: {podium.queue.pending_counts()}"
    return await _pods(api, namespace)


def _allocation(pod: Mapping[str, Any]) -> dict[str, Any]:
    text = pod["metadata"].get("annotations", {}).get(ALLOCATION)
    assert text, f"{pod['metadata']['name']}: no {ALLOCATION} annotation"
    value: dict[str, Any] = orjson.loads(text)
    return value


def _scheduled_message(pod: Mapping[str, Any]) -> str:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled":
            return str(condition.get("message", ""))
    return ""


async def test_single_pod_lands_where_one_zone_holds_it_and_records_the_zone(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    split, whole = f"numa-split-{suffix}", f"numa-whole-{suffix}"
    nodes = {
        # 2 + 2 GPUs free: enough for the node, but in no single zone.
        split: [
            NumaZone(gpus=4, rdma=2, used={GPU_RESOURCE: 2}),
            NumaZone(gpus=4, rdma=2, used={GPU_RESOURCE: 2}),
        ],
        # 1 + 4 free: only its second zone can take 3.
        whole: [NumaZone(gpus=4, rdma=2, used={GPU_RESOURCE: 3}), NumaZone(gpus=4, rdma=2)],
    }
    async with _numa_nodes(api, node_labels, nodes):
        stored = await _schedule(
            api,
            namespace,
            [
                _gpu_pod("three", namespace, node_labels, gpus=3, rdma=1),
                _gpu_pod("five", namespace, node_labels, gpus=5),
            ],
        )

    three = stored["three"]
    assert three["spec"].get("nodeName") == whole
    assert _allocation(three) == {
        "policy": "single",
        "zones": [{"zone": "node-1", "resources": {GPU_RESOURCE: 3, RDMA_RESOURCE: 1}}],
    }
    five = stored["five"]
    assert not five["spec"].get("nodeName")
    message = _scheduled_message(five)
    assert f"no single NUMA node with 5 {GPU_RESOURCE}" in message, message


async def test_a_burst_against_stale_topologies_never_overfills_a_zone(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    zone_gpus = 4
    # The NRT objects never change: every GPU stays "available" in them however many pods land.
    nodes = {
        f"numa-burst-{i}-{suffix}": [NumaZone(gpus=zone_gpus), NumaZone(gpus=zone_gpus)]
        for i in range(4)
    }
    rng = random.Random(5)
    sizes = [rng.choice((1, 2, 3, 4)) for _ in range(24)]
    assert sum(sizes) > 2 * zone_gpus * len(nodes), "the burst must exceed the capacity"
    pods = [_gpu_pod(f"b-{i:02d}", namespace, node_labels, gpus=n) for i, n in enumerate(sizes)]
    async with _numa_nodes(api, node_labels, nodes):
        stored = await _schedule(api, namespace, pods)

    per_zone: dict[tuple[str, str], int] = defaultdict(int)
    bound = [p for p in stored.values() if p["spec"].get("nodeName")]
    assert bound, "some pods must fit"
    for pod in bound:
        allocation = _allocation(pod)
        assert len(allocation["zones"]) == 1, allocation
        requested = int(pod["spec"]["containers"][0]["resources"]["requests"][GPU_RESOURCE])
        assert allocation["zones"][0]["resources"][GPU_RESOURCE] == requested
        per_zone[(pod["spec"]["nodeName"], allocation["zones"][0]["zone"])] += requested
    assert max(per_zone.values()) <= zone_gpus, dict(per_zone)
    # Placement must not strand capacity by luck: every parked pod really has no zone left.
    free = {zone: zone_gpus - used for zone, used in per_zone.items()}
    for name in nodes:
        for zone in ("node-0", "node-1"):
            free.setdefault((name, zone), zone_gpus)
    for pod in stored.values():
        if not pod["spec"].get("nodeName"):
            want = int(pod["spec"]["containers"][0]["resources"]["requests"][GPU_RESOURCE])
            assert max(free.values()) < want, (pod["metadata"]["name"], want, free)


async def test_a_node_with_a_malformed_topology_is_skipped_with_a_clear_log(
    api: ApiClient,
    crds: list[str],
    namespace: str,
    node_labels: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    suffix = node_labels["podium.dev/test"]
    good, bad = f"numa-good-{suffix}", f"numa-bad-{suffix}"
    zones = [NumaZone(gpus=4), NumaZone(gpus=4)]
    _, malformed = make_numa_gpu_node(bad, zones)
    # The CRD's schema allows any integer; a negative NUMA distance is nonsense to the parser.
    malformed["zones"][0]["costs"][1]["value"] = -21
    caplog.set_level(logging.ERROR)
    async with _numa_nodes(
        api, node_labels, {good: zones, bad: zones}, topology_overrides={bad: malformed}
    ):
        stored = await _schedule(
            api,
            namespace,
            [_gpu_pod(f"m-{i}", namespace, node_labels, gpus=4) for i in range(3)],
        )

    placed = [p for p in stored.values() if p["spec"].get("nodeName")]
    assert sorted(p["spec"]["nodeName"] for p in placed) == [good, good]
    (parked,) = [p for p in stored.values() if not p["spec"].get("nodeName")]
    assert "malformed NodeResourceTopology" in _scheduled_message(parked)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    expected = f"NodeResourceTopology {bad}: zones[0].costs[1].value"
    assert any(expected in m and f"node {bad} is skipped" in m for m in logged), logged
