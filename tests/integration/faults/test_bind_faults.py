"""Binds answered 500, 429, 409, time-outs and lost answers during a 2,000-pod run.

100 nodes with 20 pod slots each take exactly the 2,000 pods: a reservation leaked or a pod
counted twice leaves a pod unplaced or a node over its slots, and a pod dropped on a spurious
error is never bound.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.testing.faultproxy import FaultProxy, Lose, Respond, Rule, Stall
from podium.testing.nodes import create_nodes, make_nodes

from .harness import (
    BINDING,
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

pytestmark = pytest.mark.timeout(400)

NODES = 100
SLOTS = 20


async def test_bind_faults_lose_nothing_and_bind_once(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    await create_nodes(
        api, make_nodes(NODES, prefix=f"bf-{namespace}", pods=SLOTS, labels=node_labels)
    )
    for fault, rate in (
        (Respond(500), 0.05),
        (Respond(429, retry_after=0.05), 0.05),
        (Respond(409), 0.03),
        (Stall(), 0.02),
        (Lose(), 0.03),
    ):
        proxy.add(Rule(fault, method="POST", path=BINDING, rate=rate))
    name = scheduler_name()
    pods = slot_pods(NODES * SLOTS, namespace, name, node_labels)
    async with podium_behind(
        proxy, tmp_path, name, {"bindTimeout": "1s", "bindRetries": 3}
    ) as podium:
        await create_pods(api, namespace, pods)
        listed = await wait_idle(podium, api, namespace, expect_bound=len(pods), within=300)
        proxy.clear()
        await wait_cache_converged(podium, api, namespace, node_labels)

    # Every kind of fault was met, often enough to matter.
    faults = Counter(e.fault for e in proxy.exchanges if e.fault)
    answered = Counter(e.status for e in proxy.exchanges if e.fault == "Respond")
    assert min(faults[kind] for kind in ("Respond", "Stall", "Lose")) >= 10, faults
    assert min(answered[status] for status in (500, 429, 409)) >= 10, answered
    nodes = await list_items(api, "/api/v1/nodes", {"labelSelector": selector(node_labels)})
    assert len(nodes) == NODES
    assert all(p["spec"].get("nodeName") for p in listed)
    assert_not_overcommitted(listed, nodes)
    assert_bound_once(proxy, listed)
