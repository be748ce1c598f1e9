"""A pod whose bind always fails keeps being retried with backoff, and does not starve others."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.testing.faultproxy import FaultProxy, Respond, Rule
from podium.testing.nodes import create_nodes, make_nodes

from .harness import (
    assert_bound_once,
    create_pods,
    list_items,
    podium_behind,
    scheduler_name,
    slot_pods,
    wait_idle,
)

pytestmark = pytest.mark.timeout(200)


async def test_always_failing_bind_does_not_starve_others(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    await create_nodes(api, make_nodes(5, prefix=f"fb-{namespace}", pods=20, labels=node_labels))
    name = scheduler_name()
    pods = slot_pods(60, namespace, name, node_labels)
    victim = pods[0]["metadata"]["name"]
    doomed = proxy.add(Rule(Respond(500), method="POST", path=f"/pods/{victim}/binding$"))
    async with podium_behind(proxy, tmp_path, name, {"bindRetries": 1}) as podium:
        await create_pods(api, namespace, pods)
        deadline = time.monotonic() + 120
        while True:
            listed = await list_items(api, f"/api/v1/namespaces/{namespace}/pods")
            bound = {p["metadata"]["name"] for p in listed if p["spec"].get("nodeName")}
            # The others all land, and the victim has been through several scheduling cycles.
            if len(bound) == len(pods) - 1 and doomed.fired >= 6:
                break
            assert time.monotonic() < deadline, (len(bound), doomed.fired)
            await asyncio.sleep(0.5)
        assert victim not in bound
        # It was never dropped: once the apiserver takes its bind, it lands.
        proxy.remove(doomed)
        listed = await wait_idle(podium, api, namespace, expect_bound=len(pods))
    assert_bound_once(proxy, listed)
