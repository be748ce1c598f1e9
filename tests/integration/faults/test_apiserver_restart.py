"""The apiserver restarts (same etcd data, new ports and token) under a running podium: its
watches fail, it reconnects through the proxy, the cache converges and scheduling resumes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from podium.kubeclient import api_client
from podium.rawapi import request_bytes
from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster
from podium.testing.faultproxy import FaultProxy
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
    wait_cache_converged,
    wait_idle,
)

pytestmark = pytest.mark.timeout(300)

LABELS = {"podium.dev/test": "restart"}
NAMESPACE = "default"


async def test_apiserver_restart(binaries: Binaries, tmp_path: Path) -> None:
    async with (
        LocalCluster(binaries=binaries) as cluster,
        FaultProxy(cluster.server, cluster.token) as proxy,
    ):
        admin = await api_client(cluster.kubeconfig, qps=0.0, burst=64)
        await create_nodes(admin, make_nodes(4, prefix="rs", pods=20, labels=LABELS))
        name = scheduler_name()
        pods = slot_pods(60, NAMESPACE, name, LABELS)
        async with podium_behind(proxy, tmp_path, name) as podium:
            await create_pods(admin, NAMESPACE, pods[:30])
            await wait_idle(podium, admin, NAMESPACE, expect_bound=30)
            await admin.close()

            await asyncio.to_thread(cluster.stop, remove_workdir=False)
            # podium sees its watches fail and retries meanwhile.
            await asyncio.sleep(2.0)
            await cluster.start_async()
            proxy.set_upstream(cluster.server, cluster.token)

            admin = await api_client(cluster.kubeconfig, qps=0.0, burst=64)
            for pod in pods[:10]:
                await request_bytes(
                    admin,
                    "DELETE",
                    f"/api/v1/namespaces/{NAMESPACE}/pods/{pod['metadata']['name']}",
                    query={"gracePeriodSeconds": 0},
                )
            await create_pods(admin, NAMESPACE, pods[30:])
            listed = await wait_idle(podium, admin, NAMESPACE, expect_bound=50)
            await wait_cache_converged(podium, admin, NAMESPACE, LABELS)
        nodes = await list_items(admin, "/api/v1/nodes", {"labelSelector": selector(LABELS)})
        await admin.close()
    assert len(listed) == 50
    assert_not_overcommitted(listed, nodes)
    assert_bound_once(proxy, listed)
