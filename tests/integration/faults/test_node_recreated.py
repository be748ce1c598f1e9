"""A node deleted and created again under the same name while pods are being placed on it.

Pods bound to a node name count on whatever node carries that name (kube's rule: nothing
garbage-collects them here), so every incarnation of the node must still see them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.faultproxy import FaultProxy
from podium.testing.nodes import create_nodes, make_node

from .harness import (
    assert_bound_once,
    assert_not_overcommitted,
    create_pods,
    list_items,
    podium_behind,
    scheduler_name,
    selector,
    slot_pods,
    wait_cache_converged,
    wait_idle,
)

pytestmark = pytest.mark.timeout(200)

NODES = 4
SLOTS = 10


async def test_node_recreated_under_the_same_name(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    names = [f"nr-{namespace}-{i}" for i in range(NODES)]
    await create_nodes(api, [make_node(n, pods=SLOTS, labels=node_labels) for n in names])
    name = scheduler_name()
    pods = slot_pods(NODES * SLOTS + 20, namespace, name, node_labels)
    async with podium_behind(proxy, tmp_path, name) as podium:
        creating = asyncio.create_task(create_pods(api, namespace, pods))
        for _ in range(4):
            await asyncio.sleep(0.3)
            await request_bytes(api, "DELETE", f"/api/v1/nodes/{names[0]}")
            await asyncio.sleep(0.2)
            await create_nodes(api, [make_node(names[0], pods=SLOTS, labels=node_labels)])
        await creating
        listed = await wait_idle(podium, api, namespace, expect_bound=NODES * SLOTS)
        await wait_cache_converged(podium, api, namespace, node_labels)
        assert podium.queue.pending_counts()["unschedulable"] == 20

    nodes = await list_items(api, "/api/v1/nodes", {"labelSelector": selector(node_labels)})
    assert sorted(n["metadata"]["name"] for n in nodes) == names
    assert sum(1 for p in listed if p["spec"].get("nodeName")) == NODES * SLOTS
    assert_not_overcommitted(listed, nodes)
    assert_bound_once(proxy, listed)
