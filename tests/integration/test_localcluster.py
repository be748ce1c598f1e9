"""The local cluster tooling against the real kube-apiserver it starts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest
from kubernetes_asyncio.client import ApiClient, CoreV1Api, VersionApi

from podium.rawapi import request_bytes
from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster
from podium.testing.kube_scheduler import KubeScheduler
from podium.testing.nodes import GPU_RESOURCE, RDMA_RESOURCE, Taint, create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.server import ServerStartError

pytestmark = pytest.mark.timeout(120)


async def _get_json(api: ApiClient, path: str) -> Any:
    response = await api.call_api(
        path, "GET", auth_settings=["BearerToken"], _preload_content=False
    )
    try:
        return orjson.loads(await response.read())
    finally:
        response.release()


async def test_apiserver_is_ready_and_requires_credentials(
    cluster: LocalCluster, api: ApiClient
) -> None:
    version = await VersionApi(api).get_code()
    assert version.major == "1"

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{cluster.server}/readyz", ssl=False) as anonymous:
            # Anonymous requests may read /readyz, but only the token may list nodes.
            assert anonymous.status == 200
            assert (await anonymous.text()) == "ok"
        async with session.get(f"{cluster.server}/api/v1/nodes", ssl=False) as response:
            assert response.status in (401, 403)
        headers = {"Authorization": f"Bearer {cluster.token}"}
        async with session.get(
            f"{cluster.server}/api/v1/nodes", ssl=False, headers=headers
        ) as response:
            assert response.status == 200


async def test_nodes_keep_status_labels_and_taints(
    api: ApiClient, node_labels: dict[str, str]
) -> None:
    nodes = [
        make_node(
            f"gpu-{node_labels['podium.dev/test']}-{index}",
            cpu="96",
            memory="1Ti",
            gpus=8,
            rdma=4,
            extended={"example.com/fpga": 2},
            zone=f"zone-{index % 2}",
            rack=f"rack-{index % 3}",
            labels=node_labels,
            taints=[Taint("dedicated", "NoSchedule", "gpu")] if index == 0 else [],
            unschedulable=index == 1,
        )
        for index in range(40)
    ]
    names = await create_nodes(api, nodes, concurrency=8)
    assert len(names) == 40

    selector = ",".join(f"{k}={v}" for k, v in node_labels.items())
    listed = await _get_json(api, f"/api/v1/nodes?labelSelector={selector}")
    by_name = {item["metadata"]["name"]: item for item in listed["items"]}
    assert sorted(by_name) == sorted(names)

    first = by_name[names[0]]
    allocatable = first["status"]["allocatable"]
    assert allocatable[GPU_RESOURCE] == "8"
    assert allocatable[RDMA_RESOURCE] == "4"
    assert allocatable["example.com/fpga"] == "2"
    assert allocatable["cpu"] == "96"
    assert allocatable["memory"] == "1Ti"
    assert allocatable["pods"] == "110"
    ready = [c for c in first["status"]["conditions"] if c["type"] == "Ready"]
    assert [c["status"] for c in ready] == ["True"]
    # Only the taint the test asked for: no not-ready taint added by admission.
    assert first["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    assert first["metadata"]["labels"]["kubernetes.io/hostname"] == names[0]
    assert first["metadata"]["labels"]["topology.kubernetes.io/rack"] == "rack-0"
    assert by_name[names[1]]["spec"].get("unschedulable") is True
    assert "taints" not in by_name[names[2]]["spec"]


async def test_pod_is_created_in_the_test_namespace(api: ApiClient, namespace: str) -> None:
    pod = make_pod(
        "pending",
        namespace,
        scheduler_name="nobody",
        requests={"cpu": "500m", "memory": "1Gi", GPU_RESOURCE: 1},
        limits={GPU_RESOURCE: 1},
        labels={"app": "demo"},
    )
    await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
    stored = await CoreV1Api(api).read_namespaced_pod("pending", namespace)
    assert stored.metadata.namespace == namespace
    assert stored.metadata.labels == {"app": "demo"}
    assert stored.spec.scheduler_name == "nobody"
    assert stored.spec.containers[0].resources.requests[GPU_RESOURCE] == "1"
    assert stored.spec.node_name is None


async def test_kube_scheduler_binds_a_pod_to_a_fake_node(
    api: ApiClient,
    namespace: str,
    node_labels: dict[str, str],
    kube_scheduler: Callable[..., KubeScheduler],
) -> None:
    core = CoreV1Api(api)
    small, big = (f"{size}-{node_labels['podium.dev/test']}" for size in ("small", "big"))
    await create_nodes(
        api,
        [
            make_node(small, cpu="2", gpus=0, labels=node_labels),
            make_node(big, cpu="64", gpus=8, labels=node_labels),
        ],
    )
    scheduler = kube_scheduler()
    name = scheduler.profiles[0]["schedulerName"]
    pod = make_pod(
        "gpu-job",
        namespace,
        scheduler_name=name,
        requests={"cpu": "4", GPU_RESOURCE: 2},
        limits={GPU_RESOURCE: 2},
        node_selector=node_labels,
    )
    await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)

    node_name = None
    async with asyncio.timeout(60):
        while node_name is None:
            await asyncio.sleep(0.2)
            node_name = (await core.read_namespaced_pod("gpu-job", namespace)).spec.node_name
    # Only the big node has the GPUs and CPU the pod asks for.
    assert node_name == big

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{scheduler.url}/metrics", ssl=False) as response,
    ):
        metrics = await response.text()
    scheduled = [
        line
        for line in metrics.splitlines()
        if line.startswith("scheduler_schedule_attempts_total")
        and f'profile="{name}"' in line
        and 'result="scheduled"' in line
    ]
    assert len(scheduled) == 1
    assert scheduled[0].endswith(" 1")


def test_stop_kills_the_whole_process_group(binaries: Binaries) -> None:
    cluster = LocalCluster(binaries=binaries).start()
    assert cluster.process is not None
    pgid = cluster.process.pgid
    assert cluster.process.group_alive()
    workdir = cluster.workdir
    cluster.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert not workdir.exists()


def test_exception_inside_the_block_still_tears_down(binaries: Binaries) -> None:
    pgid = None
    with (
        pytest.raises(RuntimeError, match="test failure"),
        LocalCluster(binaries=binaries) as cluster,
    ):
        assert cluster.process is not None
        pgid = cluster.process.pgid
        raise RuntimeError("test failure")
    assert pgid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_failed_start_reports_the_log_and_leaves_nothing(binaries: Binaries) -> None:
    cluster = LocalCluster(binaries=binaries, apiserver_args=["--no-such-flag=1"])
    with pytest.raises(ServerStartError, match="unknown flag: --no-such-flag"):
        cluster.start()
    assert cluster.process is not None
    assert not cluster.process.group_alive()


def test_killed_owner_leaves_no_orphan_server(binaries: Binaries) -> None:
    # A test run that dies by SIGKILL runs no cleanup at all; the kernel must end the server.
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from podium.testing.binaries import Binaries
        from podium.testing.cluster import LocalCluster
        directory = Path({str(binaries.directory)!r})
        binaries = Binaries(
            directory,
            directory / "podium-apiserver",
            directory / "kube-scheduler",
            directory / "kube-controller-manager",
        )
        cluster = LocalCluster(binaries=binaries).start()
        print(cluster.process.pgid, flush=True)
        time.sleep(600)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as owner:
        try:
            assert owner.stdout is not None
            pgid = int(owner.stdout.readline())
            os.killpg(pgid, 0)  # running
        finally:
            owner.send_signal(signal.SIGKILL)
    for _ in range(200):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        # A bounded wait for the kernel to deliver the death signal, not a timing assertion.
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
