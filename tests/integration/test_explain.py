"""``podium explain`` against the real kube-apiserver: the CLI lists the cluster and reports
per-node reasons for a pending pod and for a pod already bound elsewhere."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod


async def podium_explain(cluster: LocalCluster, *args: str) -> tuple[int, Any, str]:
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "podium"),
        "explain",
        *args,
        "--kubeconfig",
        str(cluster.kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, orjson.loads(out) if out.strip() else None, err.decode()


async def test_explains_pending_and_bound_pods(
    cluster: LocalCluster, api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    prefix = f"explain-{node_labels['podium.dev/test']}"
    small, big = f"{prefix}-small", f"{prefix}-big"
    await create_nodes(
        api,
        [
            make_node(small, cpu="2", labels=node_labels),
            make_node(big, cpu="16", labels=node_labels),
        ],
    )
    pods = f"/api/v1/namespaces/{namespace}/pods"
    # Nobody schedules these: they stay pending / stay where they were put.
    await request_bytes(
        api,
        "POST",
        pods,
        body=make_pod("wants-8", namespace, scheduler_name="nobody", requests={"cpu": "8"}),
    )
    await request_bytes(
        api,
        "POST",
        pods,
        body=make_pod("on-small", namespace, node_name=small, requests={"cpu": "2"}),
    )

    code, result, err = await podium_explain(cluster, f"{namespace}/wants-8", "-o", "json")
    assert code == 0, err
    assert result["nodes"][big] == []
    assert result["nodes"][small] == ["Insufficient cpu"]
    assert result["foreignScheduler"] is True

    code, result, err = await podium_explain(cluster, f"{namespace}/on-small", "-o", "json")
    assert code == 0, err
    assert result["nodeName"] == small
    assert result["nodes"][small] == [], "the pod itself does not count against its node"

    code, _, err = await podium_explain(cluster, f"{namespace}/missing")
    assert code == 2
    assert "not found" in err
