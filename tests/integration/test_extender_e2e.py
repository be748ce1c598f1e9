"""The real kube-scheduler with ``podium extender`` as its extender, over HTTPS.

Two GPU nodes with room for the pod by kube-scheduler's own counts; only podium's NUMA rule
(NodeResourceTopology: one zone must hold all the pod's GPUs) tells them apart, and
kube-scheduler's LeastAllocated alone would prefer the wrong one (more free cpu). The pod must
land where podium says, bound by podium's bind verb; a pod no node can take per podium stays
pending with podium's reason in kube-scheduler's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.nodes import GPU_RESOURCE, create_nodes
from podium.testing.pods import make_pod
from podium.testing.ports import free_ports
from podium.testing.topology import NRT_PATH, NumaZone, create_topologies, make_numa_gpu_node

from .conftest import StartKubeScheduler

pytestmark = pytest.mark.timeout(180)

PODIUM = str(Path(sys.executable).parent / "podium")
SETTLE_SECONDS = 60


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.asynccontextmanager
async def podium_extender(
    cluster: LocalCluster, workdir: Path, cert: Path, key: Path
) -> AsyncIterator[tuple[int, Path]]:
    """Runs ``podium extender`` until the block ends; yields its port and its log file."""
    port, health = free_ports(2)
    log = workdir / "extender.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            PODIUM, "extender",
            "--kubeconfig", str(cluster.kubeconfig),
            "--listen", f"127.0.0.1:{port}",
            "--health-listen", f"127.0.0.1:{health}",
            "--url-prefix", "/podium",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key),
            stdout=sink, stderr=sink,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while True:
                assert proc.returncode is None, log.read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{health}/readyz") as response:
                        if response.status == 200:
                            break
                assert time.monotonic() < deadline, "extender not ready:\n" + log.read_text()
                await asyncio.sleep(0.2)
        yield port, log
    finally:
        proc.terminate()
        await proc.wait()


async def _pod(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    pod: dict[str, Any] = orjson.loads(await request_bytes(api, "GET", path))
    return pod


def _unschedulable_message(pod: dict[str, Any]) -> str | None:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled" and condition["status"] == "False":
            return str(condition.get("message", ""))
    return None


async def test_kube_scheduler_places_pods_as_podium_says(
    cluster: LocalCluster,
    api: ApiClient,
    crds: list[str],
    namespace: str,
    node_labels: dict[str, str],
    kube_scheduler: StartKubeScheduler,
    tmp_path: Path,
) -> None:
    suffix = node_labels["podium.dev/test"]
    split, whole = f"ext-split-{suffix}", f"ext-whole-{suffix}"
    zones = {
        # 64 cpus and 2 + 2 GPUs free: kube-scheduler's favourite, but no zone holds 3 GPUs.
        split: [
            NumaZone(cpu=32, gpus=4, used={GPU_RESOURCE: 2}),
            NumaZone(cpu=32, gpus=4, used={GPU_RESOURCE: 2}),
        ],
        # 16 cpus; its second zone holds 4 free GPUs.
        whole: [NumaZone(cpu=8, gpus=4, used={GPU_RESOURCE: 3}), NumaZone(cpu=8, gpus=4)],
    }
    built = [make_numa_gpu_node(name, z, labels=node_labels) for name, z in zones.items()]
    await create_nodes(api, [node for node, _ in built])
    await create_topologies(api, [topology for _, topology in built])
    cert, key = self_signed(tmp_path)
    scheduler_name = f"kube-ext-{uuid.uuid4().hex[:8]}"

    def gpu_pod(name: str, gpus: int) -> dict[str, Any]:
        return make_pod(
            name,
            namespace,
            scheduler_name=scheduler_name,
            requests={"cpu": "4", GPU_RESOURCE: gpus},
            limits={GPU_RESOURCE: gpus},
            node_selector=node_labels,
            annotations={"podium.dev/numa": "single"},
        )

    try:
        async with podium_extender(cluster, tmp_path, cert, key) as (port, log):
            kube_scheduler(
                profiles=[{"schedulerName": scheduler_name}],
                config={
                    "extenders": [
                        {
                            "urlPrefix": f"https://127.0.0.1:{port}/podium",
                            "filterVerb": "filter",
                            "prioritizeVerb": "prioritize",
                            "bindVerb": "bind",
                            "weight": 5,
                            "enableHTTPS": True,
                            "tlsConfig": {"caFile": str(cert)},
                            "nodeCacheCapable": True,
                            "httpTimeout": "10s",
                        }
                    ]
                },
            )
            pods = f"/api/v1/namespaces/{namespace}/pods"
            await request_bytes(api, "POST", pods, body=gpu_pod("three", 3))
            await request_bytes(api, "POST", pods, body=gpu_pod("five", 5))
            deadline = time.monotonic() + SETTLE_SECONDS
            while True:
                three = await _pod(api, namespace, "three")
                five = await _pod(api, namespace, "five")
                message = _unschedulable_message(five)
                if three["spec"].get("nodeName") and message:
                    break
                assert time.monotonic() < deadline, (three, five, log.read_text())
                await asyncio.sleep(0.3)
            logged = log.read_text()
    finally:
        for name in zones:
            await request_bytes(api, "DELETE", f"{NRT_PATH}/{name}")

    assert three["spec"]["nodeName"] == whole, logged
    assert f"bound {namespace}/three to {whole}" in logged, "podium's bind verb bound it"
    assert not five["spec"].get("nodeName")
    assert f"no single NUMA node with 5 {GPU_RESOURCE}" in message, message
