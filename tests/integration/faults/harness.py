"""Shared pieces of the fault tests: podium behind a ``FaultProxy``, a workload that fills its
nodes exactly, and the checks that judge a run from the apiserver's side.

Evidence, not podium's word: binds are counted from the proxy's log of binding POSTs the
apiserver accepted; usage is summed from a fresh list of pods against each node's allocatable;
the cache is compared with that list.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.config import parse_config
from podium.kubeclient import api_client
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.faultproxy import FaultProxy, bind_counts
from podium.testing.pods import make_pod

from ..feasibility import quantity, usage_by_node

JSON = dict[str, Any]
BINDING = r"/pods/[^/]+/binding$"


def scheduler_name() -> str:
    return f"podium-faults-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def podium_behind(
    proxy: FaultProxy,
    workdir: Path,
    name: str,
    podium_args: Mapping[str, Any] | None = None,
    *,
    start: bool = True,
) -> AsyncIterator[Podium]:
    """A Podium (profile ``name``) whose every request goes through ``proxy``."""
    config = parse_config(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "podInitialBackoffSeconds": 1,
            "podMaxBackoffSeconds": 2,
            "leaderElection": {"leaderElect": False},
            "profiles": [
                {
                    "schedulerName": name,
                    "pluginConfig": [{"name": "Podium", "args": dict(podium_args or {})}],
                }
            ],
        }
    )
    kubeconfig = proxy.write_kubeconfig(workdir / f"kubeconfig-{name}")
    client = await api_client(kubeconfig, qps=0.0, burst=256)
    async with client, Podium(config, client, identity=name) as podium:
        if start:
            await podium.start_scheduling()
        yield podium


def slot_pods(
    count: int, namespace: str, name: str, node_labels: Mapping[str, str], prefix: str = "p"
) -> list[JSON]:
    """Pods that fit only on the test's nodes (selector), one pod slot and 100m cpu each."""
    return [
        make_pod(
            f"{prefix}-{i:04d}",
            namespace,
            scheduler_name=name,
            requests={"cpu": "100m", "memory": "64Mi"},
            node_selector=node_labels,
        )
        for i in range(count)
    ]


async def create_pods(api: ApiClient, namespace: str, pods: Sequence[JSON]) -> None:
    it = iter(pods)

    async def worker() -> None:
        for pod in it:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)

    async with asyncio.TaskGroup() as group:
        for _ in range(16):
            group.create_task(worker())


async def list_items(
    api: ApiClient, path: str, query: dict[str, str | int | bool] | None = None
) -> list[JSON]:
    items: list[JSON] = orjson.loads(await request_bytes(api, "GET", path, query=query))["items"]
    return items


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


async def wait_idle(
    podium: Podium, api: ApiClient, namespace: str, expect_bound: int, within: float = 180.0
) -> list[JSON]:
    """Until ``expect_bound`` pods of the namespace are bound and podium has nothing in flight:
    queue without active/backoff pods, no bind running, no assumption left. Returns the pods."""
    deadline = time.monotonic() + within
    while True:
        pods = await list_items(api, f"/api/v1/namespaces/{namespace}/pods")
        bound = sum(1 for p in pods if p["spec"].get("nodeName"))
        counts = podium.queue.pending_counts()
        idle = (
            counts["active"] == 0
            and counts["backoff"] == 0
            and len(podium.binder) == 0
            and podium.state.assumed_count == 0
        )
        if bound >= expect_bound and idle:
            return pods
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not settled: {bound}/{expect_bound} bound, queue {counts}, "
                f"{len(podium.binder)} binds in flight, {podium.state.assumed_count} assumed"
            )
        await asyncio.sleep(0.5)


def assert_not_overcommitted(pods: Sequence[JSON], nodes: Sequence[JSON]) -> None:
    """Every node's pods (anyone's) fit its allocatable: pod count and each requested resource."""
    used, counts = usage_by_node(pods)
    for node in nodes:
        name = node["metadata"]["name"]
        allocatable = node["status"]["allocatable"]
        assert counts.get(name, 0) <= quantity(allocatable["pods"]), (name, counts.get(name))
        for resource, amount in used.get(name, {}).items():
            assert amount <= quantity(allocatable.get(resource, "0")), (name, resource, amount)


def assert_bound_once(proxy: FaultProxy, pods: Sequence[JSON]) -> None:
    """Each bound pod was bound by exactly one accepted binding POST; unbound ones by none."""
    accepted = bind_counts(proxy.exchanges)
    for pod in pods:
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        expected = 1 if pod["spec"].get("nodeName") else 0
        assert accepted.get(key, 0) == expected, (key, accepted.get(key, 0))


def cache_differences(podium: Podium, pods: Sequence[JSON], nodes: Sequence[JSON]) -> list[str]:
    """Where the cache's per-node usage differs from what ``pods`` (a fresh list) add up to."""
    used, counts = usage_by_node(pods)
    differences = []
    for node in nodes:
        name = node["metadata"]["name"]
        if not podium.state.has_node(name):
            differences.append(f"{name}: not in the cache")
            continue
        cached = podium.state.node_usage(name)
        expected = {
            "pods": counts.get(name, 0),
            "cpu": int(used.get(name, {}).get("cpu", Decimal(0)) * 1000),
        }
        got = {"pods": cached.get("pods", 0), "cpu": cached.get("cpu", 0)}
        if got != expected:
            differences.append(f"{name}: cache {got}, apiserver {expected}")
    return differences


async def wait_cache_converged(
    podium: Podium,
    api: ApiClient,
    namespace: str,
    node_labels: Mapping[str, str],
    within: float = 60.0,
) -> None:
    """Until the cache agrees with a fresh list: every pod and node of the cluster (counts), and
    the usage of each of the test's nodes."""
    deadline = time.monotonic() + within
    while True:
        all_pods = await list_items(api, "/api/v1/pods")
        all_nodes = await list_items(api, "/api/v1/nodes")
        mine = [p for p in all_pods if p["metadata"]["namespace"] == namespace]
        nodes = await list_items(api, "/api/v1/nodes", {"labelSelector": selector(node_labels)})
        problems = cache_differences(podium, mine, nodes)
        if podium.state.pod_count != len(all_pods):
            problems.append(f"pods: cache {podium.state.pod_count}, apiserver {len(all_pods)}")
        if podium.state.node_count != len(all_nodes):
            problems.append(f"nodes: cache {podium.state.node_count}, apiserver {len(all_nodes)}")
        if not problems:
            return
        if time.monotonic() > deadline:
            raise AssertionError("cache did not converge: " + "; ".join(problems[:10]))
        await asyncio.sleep(0.5)
