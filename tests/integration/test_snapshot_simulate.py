"""``podium snapshot`` of the real apiserver (NodeResourceTopology objects included), then
``podium simulate`` on the file: the NUMA rule decides where the GPU pod would go."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.nodes import GPU_RESOURCE, create_nodes
from podium.testing.pods import make_pod
from podium.testing.topology import NRT_PATH, NumaZone, create_topologies, make_numa_gpu_node

PODIUM = str(Path(sys.executable).parent / "podium")


async def run(*args: str) -> tuple[int, bytes, str]:
    proc = await asyncio.create_subprocess_exec(
        PODIUM, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out, err.decode()


async def test_snapshot_then_simulate(
    cluster: LocalCluster,
    api: ApiClient,
    crds: list[str],
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    suffix = node_labels["podium.dev/test"]
    split, whole = f"sim-split-{suffix}", f"sim-whole-{suffix}"
    zones = {
        split: [NumaZone(gpus=4, used={GPU_RESOURCE: 2}), NumaZone(gpus=4, used={GPU_RESOURCE: 2})],
        whole: [NumaZone(gpus=4, used={GPU_RESOURCE: 3}), NumaZone(gpus=4)],
    }
    built = [make_numa_gpu_node(name, z, labels=node_labels) for name, z in zones.items()]
    await create_nodes(api, [node for node, _ in built])
    await create_topologies(api, [topology for _, topology in built])
    try:
        await request_bytes(
            api,
            "POST",
            f"/api/v1/namespaces/{namespace}/pods",
            body=make_pod(
                "running", namespace, node_name=whole, requests={"cpu": "4", "memory": "8Gi"}
            ),
        )
        snapshot = tmp_path / "cluster.json"
        code, _, err = await run(
            "snapshot", "-o", str(snapshot), "--kubeconfig", str(cluster.kubeconfig)
        )
        assert code == 0, err
        saved = orjson.loads(snapshot.read_bytes())
        names = {n["metadata"]["name"] for n in saved["objects"]["Node"]}
        assert {split, whole} <= names
        assert {t["metadata"]["name"] for t in saved["objects"]["NodeResourceTopology"]} >= {
            split,
            whole,
        }
    finally:
        for name in zones:
            await request_bytes(api, "DELETE", f"{NRT_PATH}/{name}")

    selector = orjson.dumps(node_labels).decode()
    workload = tmp_path / "work.yaml"
    workload.write_text(
        f"""
kind: Pod
metadata: {{name: three, annotations: {{podium.dev/numa: single}}}}
spec:
  nodeSelector: {selector}
  containers:
  - name: c
    resources:
      requests: {{cpu: "1", {GPU_RESOURCE}: "3"}}
      limits: {{{GPU_RESOURCE}: "3"}}
---
kind: Pod
metadata: {{name: five, annotations: {{podium.dev/numa: single}}}}
spec:
  nodeSelector: {selector}
  containers:
  - name: c
    resources:
      requests: {{{GPU_RESOURCE}: "5"}}
      limits: {{{GPU_RESOURCE}: "5"}}
"""
    )
    code, out, err = await run(
        "simulate", "--snapshot", str(snapshot), "--workload", str(workload), "-o", "json"
    )
    assert code == 0, err
    report = orjson.loads(out)
    assert report["placed"] == [
        {
            "pod": "default/three",
            "node": whole,
            "score": report["placed"][0]["score"],
            "allocation": report["placed"][0]["allocation"],
        }
    ]
    assert orjson.loads(report["placed"][0]["allocation"])["zones"][0]["zone"] == "node-1"
    (five,) = report["pending"]
    assert five["pod"] == "default/five"
    assert f"no single NUMA node with 5 {GPU_RESOURCE}" in five["message"]
    before, after = report["utilisation"]["before"], report["utilisation"]["after"]
    assert after[GPU_RESOURCE]["requested"] == before[GPU_RESOURCE]["requested"] + 3
    assert after["cpu"]["requested"] == before["cpu"]["requested"] + 1000
