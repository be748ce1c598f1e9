"""Watches cut mid-stream, broken at once, answered 410 Gone or with unreadable lines, while pods
and nodes come and go: podium relists, its cache converges to the apiserver's state (compared
with a fresh list), and scheduling goes on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.faultproxy import CutStream, FaultProxy, Rule, WatchAnswer, watch_gone
from podium.testing.nodes import create_nodes, make_node, make_nodes

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

pytestmark = pytest.mark.timeout(300)

NODES = 10
SLOTS = 20
WATCH = "watch=true"
# A line cut in the middle of an object, an unknown event type, an object that is not one.
UNREADABLE = (
    b'{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"x","uid":',
    b'{"type":"EXPLODED","object":{}}',
    b'{"type":"MODIFIED","object":[1,2,3]}',
)


async def test_broken_watches_relist_and_converge(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    prefix = f"wf-{namespace}"
    await create_nodes(api, make_nodes(NODES, prefix=prefix, pods=SLOTS, labels=node_labels))
    name = scheduler_name()
    async with podium_behind(proxy, tmp_path, name) as podium:
        pods_reflector = next(
            r for r in podium.cache.reflectors if r.resource.path.endswith("/pods")
        )
        relists_before = pods_reflector.relists
        # In order: the next two pod watches are told 410, the next node watch gets unreadable
        # lines, and any watch may be cut after a few events.
        gone = proxy.add(Rule(watch_gone(), path="/api/v1/pods$", query=WATCH, limit=2))
        garbage = proxy.add(
            Rule(WatchAnswer(UNREADABLE), path="/api/v1/nodes$", query=WATCH, limit=1)
        )
        cut = proxy.add(Rule(CutStream(after_bytes=2500), method="GET", query=WATCH, rate=0.5))
        # Reconnect now, into those rules.
        proxy.break_streams()
        pods = slot_pods(150, namespace, name, node_labels)
        for wave in range(3):
            await create_pods(api, namespace, pods[wave * 50 : (wave + 1) * 50])
            proxy.break_streams()
            await asyncio.sleep(1.0)
        # Pods and nodes change while the watches are down or flapping.
        for pod in pods[:30]:
            await request_bytes(
                api,
                "DELETE",
                f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}",
                query={"gracePeriodSeconds": 0},
            )
        await request_bytes(api, "DELETE", f"/api/v1/nodes/{prefix}-00009")
        await create_nodes(api, [make_node(f"{prefix}-extra", pods=SLOTS, labels=node_labels)])
        proxy.break_streams()
        await asyncio.sleep(1.0)
        proxy.clear()

        await wait_cache_converged(podium, api, namespace, node_labels)
        assert pods_reflector.relists >= relists_before + 2
        # Scheduling goes on: a fresh wave is placed.
        await create_pods(api, namespace, slot_pods(40, namespace, name, node_labels, "late"))
        listed = await wait_idle(podium, api, namespace, expect_bound=160)
        await wait_cache_converged(podium, api, namespace, node_labels)

    assert cut.fired >= 3 and gone.fired == 2 and garbage.fired == 1
    nodes = await list_items(api, "/api/v1/nodes", {"labelSelector": selector(node_labels)})
    # Pods bound to the deleted node still count against nothing; the rest must fit.
    assert_not_overcommitted(listed, nodes)
    assert_bound_once(proxy, listed)
