"""A slow apiserver: seconds of delay on every request, half of them past the bind time-out.

Nothing is over-committed meanwhile, and the queue drains once the apiserver is fast again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.testing.faultproxy import Delay, FaultProxy, Rule
from podium.testing.nodes import create_nodes, make_nodes

from .harness import (
    assert_bound_once,
    assert_not_overcommitted,
    create_pods,
    list_items,
    podium_behind,
    scheduler_name,
    selector,
    slot_pods,
    wait_idle,
)

pytestmark = pytest.mark.timeout(300)

NODES = 10
SLOTS = 20
SLOW_SECONDS = 12.0


async def test_slow_apiserver_no_overcommit_and_drains(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    await create_nodes(
        api, make_nodes(NODES, prefix=f"slow-{namespace}", pods=SLOTS, labels=node_labels)
    )
    name = scheduler_name()
    # More pods than slots: the last ones must stay pending, not squeeze in.
    pods = slot_pods(NODES * SLOTS + 20, namespace, name, node_labels)
    async with podium_behind(proxy, tmp_path, name, {"bindTimeout": "2s"}) as podium:
        slow = proxy.add(Rule(Delay(2.5), rate=0.5))
        await create_pods(api, namespace, pods)
        await asyncio.sleep(SLOW_SECONDS)
        proxy.remove(slow)
        listed = await wait_idle(podium, api, namespace, expect_bound=NODES * SLOTS)
        assert podium.queue.pending_counts()["unschedulable"] == 20

    assert slow.fired > 50, slow.fired
    # Half the delays outlast the bind time-out: binds did time out and were retried.
    stalled = [e for e in proxy.exchanges if e.fault == "Delay" and e.status is None]
    assert any("/binding" in e.path for e in stalled), len(stalled)
    nodes = await list_items(api, "/api/v1/nodes", {"labelSelector": selector(node_labels)})
    assert_not_overcommitted(listed, nodes)
    assert_bound_once(proxy, listed)
