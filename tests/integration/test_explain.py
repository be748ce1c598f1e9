"""``podium explain`` against the real kube-apiserver: the CLI lists the cluster and reports
per-node reasons for a pending pod and for a pod already bound elsewhere."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.health import HealthServer, HealthState
from podium.rawapi import request_bytes
from podium.runner import Podium, live_explainer
from podium.testing.cluster import LocalCluster
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.ports import free_ports


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


async def test_live_scheduler_answers_from_its_cache(
    cluster: LocalCluster, api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    """``/debug/explain`` on a running scheduler, asked through ``podium explain --from``."""
    prefix = f"live-{node_labels['podium.dev/test']}"
    small, big, cordoned = f"{prefix}-small", f"{prefix}-big", f"{prefix}-cordoned"
    await create_nodes(
        api,
        [
            make_node(small, cpu="2", labels=node_labels),
            make_node(big, cpu="16", labels=node_labels),
            make_node(cordoned, cpu="16", labels=node_labels, unschedulable=True),
        ],
    )
    await request_bytes(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/pods",
        body=make_pod(
            "wants-8",
            namespace,
            scheduler_name="nobody",
            requests={"cpu": "8"},
            node_selector=node_labels,
        ),
    )
    config = default_config()
    (port,) = free_ports(1)
    async with Podium(config, api, identity="explain-live") as podium:
        await podium.start_cache()
        health = HealthServer(
            podium.metrics,
            HealthState(synced=True),
            f"127.0.0.1:{port}",
            debug_explain=live_explainer(api, podium.state, config),
        )
        await health.start()
        try:
            code, result, err = await podium_cli(
                "explain",
                f"{namespace}/wants-8",
                "--from",
                f"http://127.0.0.1:{port}",
                "-o",
                "json",
            )
            assert code == 0, err
            assert result["nodes"][big] == []
            assert result["nodes"][small] == ["Insufficient cpu"]
            assert result["nodes"][cordoned] == ["node(s) were unschedulable"]
            assert result["rejectedBy"][cordoned] == ["NodeUnschedulable"]
            assert result["rejectedBy"][small] == ["NodeResourcesFit"]
            assert [b["node"] for b in result["best"]] == [big]
            assert {p["name"] for p in result["best"][0]["plugins"]} >= {"NodeResourcesFit"}

            code, table, err = await podium_cli(
                "explain", f"{namespace}/wants-8", "--from", f"http://127.0.0.1:{port}", raw=True
            )
            assert code == 0, err
            assert "infeasible nodes by reason" in table
            assert "NodeResourcesFit: Insufficient cpu" in table

            code, _, err = await podium_cli(
                "explain", f"{namespace}/missing", "--from", f"http://127.0.0.1:{port}"
            )
            assert code == 2
            assert "HTTP 404" in err and "not found" in err
        finally:
            await health.stop()


async def podium_cli(*args: str, raw: bool = False) -> tuple[int, Any, str]:
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "podium"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    if raw:
        return proc.returncode, out.decode(), err.decode()
    return proc.returncode, orjson.loads(out) if out.strip() else None, err.decode()
