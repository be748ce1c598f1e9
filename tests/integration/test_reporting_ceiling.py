"""The load benchmark's reporting ceiling on the real apiserver: it binds the pods it may, writes
each one's ``Scheduled`` event, reports the pods no node can take (a ``FailedScheduling`` event
and ``PodScheduled=False``) without binding them, and is ready only once its informer-like
watches of every pod and node are open."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.benchmarks import ceiling
from podium.benchmarks.e2e_workloads import (
    UNPLACEABLE_LABEL,
    ceiling_selector,
    unplaceable_selector,
)
from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod


async def _pods(api: ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    body = await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods")
    return {p["metadata"]["name"]: p for p in orjson.loads(body)["items"]}


async def _events(api: ApiClient, namespace: str) -> list[dict[str, Any]]:
    body = await request_bytes(api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")
    items: list[dict[str, Any]] = orjson.loads(body)["items"]
    return items


def _unschedulable(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(
        c["type"] == "PodScheduled" and c["status"] == "False" and c["reason"] == "Unschedulable"
        for c in conditions
    )


async def test_the_reporting_ceiling_binds_reports_and_leaves_the_unplaceable_pending(
    cluster: LocalCluster,
    api: ApiClient,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    suffix = uuid.uuid4().hex[:6]
    await create_nodes(
        api, [make_node(f"ceiling-{suffix}-{i}", labels=node_labels) for i in (0, 1)]
    )
    scheduler = f"bench-ceiling-{suffix}"
    for i in range(3):
        labels = {UNPLACEABLE_LABEL: "true"} if i == 2 else None
        body = make_pod(f"p-{i}", namespace, scheduler_name=scheduler, labels=labels)
        await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=body)
    ready = tmp_path / "ready"
    args = argparse.Namespace(
        kubeconfig=cluster.kubeconfig,
        scheduler_name=scheduler,
        ready_file=ready,
        node_selector=",".join(f"{k}={v}" for k, v in node_labels.items()),
        label_selector=ceiling_selector("deep_queue"),
        connections=2,
        report=True,
        report_label_selector=unplaceable_selector("deep_queue"),
    )
    task = asyncio.create_task(ceiling.run(args))
    try:
        async with asyncio.timeout(30):
            while True:
                pods = await _pods(api, namespace)
                reasons = sorted(e["reason"] for e in await _events(api, namespace))
                if reasons == ["FailedScheduling", "Scheduled", "Scheduled"] and _unschedulable(
                    pods["p-2"]
                ):
                    break
                assert not task.done(), task.exception()
                await asyncio.sleep(0.2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert ready.read_text() == "2 nodes\n"
    nodes = {pods[f"p-{i}"]["spec"].get("nodeName") for i in (0, 1)}
    assert nodes == {f"ceiling-{suffix}-0", f"ceiling-{suffix}-1"}
    assert "nodeName" not in pods["p-2"]["spec"]
    by_pod = {(e["regarding"]["name"], e["reason"]): e for e in await _events(api, namespace)}
    assert by_pod[("p-0", "Scheduled")]["note"].startswith(f"Successfully assigned {namespace}/p-0")
    assert by_pod[("p-2", "FailedScheduling")]["note"] == (
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    )
