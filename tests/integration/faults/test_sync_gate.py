"""No decision before the cache has synced: with the node list slow to come, podium's first
bind and first event come after it, and no pod is reported unschedulable for want of nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.testing.faultproxy import Delay, FaultProxy, Rule
from podium.testing.nodes import create_nodes, make_nodes

from .harness import (
    create_pods,
    list_items,
    podium_behind,
    scheduler_name,
    slot_pods,
    wait_idle,
)

pytestmark = pytest.mark.timeout(120)


async def test_no_decision_before_the_cache_synced(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    await create_nodes(api, make_nodes(3, prefix=f"sg-{namespace}", pods=20, labels=node_labels))
    name = scheduler_name()
    pods = slot_pods(30, namespace, name, node_labels)
    await create_pods(api, namespace, pods)
    # The pod list (and its watch) come at once; the node list 3 s later.
    proxy.add(Rule(Delay(3.0), method="GET", path="/api/v1/nodes$", query="^(?!.*watch=true)"))
    async with podium_behind(proxy, tmp_path, name) as podium:
        listed = await wait_idle(podium, api, namespace, expect_bound=len(pods))
        await podium.recorder.flush()

    node_lists = [e for e in proxy.exchanges if e.path == "/api/v1/nodes" and e.fault == "Delay"]
    assert node_lists, "the node list was not slowed"
    synced_at = min(e.finished for e in node_lists if e.finished is not None)
    writes = [e for e in proxy.exchanges if e.method in ("POST", "PATCH", "PUT")]
    assert writes
    early = [(e.method, e.path) for e in writes if e.started < synced_at]
    assert not early, early
    events = await list_items(
        api,
        f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
        {"fieldSelector": "reason=FailedScheduling"},
    )
    assert events == []
    assert all(p["spec"].get("nodeName") for p in listed)
