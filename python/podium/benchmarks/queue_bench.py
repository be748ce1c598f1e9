"""``podium bench queue``: what the fair-share order costs the scheduling queue. Thousands of
pending pods spread over team namespaces, each with an ElasticQuota, are popped in batches the
way the cycle loop pops them: in kube's order (no quotas: the queue never asks the core) and in
the fair-share order (each batch takes the core's ``FairShare`` view once, each pop compares the
oldest pod of every namespace and charges the one served). Figures: pods popped per second and
microseconds per batch, with the machine's load."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import orjson

from podium._core import ClusterState, Kind, PendingPod
from podium.pods import gang_key
from podium.queue import SchedulingQueue

__all__ = ["QueueFigures", "run_queue_bench"]


@dataclass(frozen=True)
class QueueFigures:
    order: str  # "kube" or "fair"
    pending: int
    namespaces: int
    batch: int
    pods_per_second: float
    micros_per_batch: float
    load_average: float


def _event(obj: dict[str, object]) -> bytes:
    return orjson.dumps({"type": "ADDED", "object": obj})


def _state(nodes: int, pending: int, namespaces: int, quotas: bool) -> ClusterState:
    state = ClusterState(["podium"])
    for i in range(nodes):
        allocatable = {"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": "8"}
        node = {
            "metadata": {"name": f"n{i}", "uid": f"n{i}", "resourceVersion": "1"},
            "status": {"allocatable": allocatable},
        }
        state.apply_event(Kind.NODE, _event(node))
    for t in range(namespaces if quotas else 0):
        quota = {
            "metadata": {
                "name": "gpus",
                "namespace": f"team-{t:03}",
                "annotations": {"podium.dev/weight": str(1 + t % 4)},
            },
            "spec": {"min": {"nvidia.com/gpu": 8}, "max": {"nvidia.com/gpu": nodes * 8}},
        }
        state.apply_event(Kind.ELASTIC_QUOTA, _event(quota))
    for i in range(pending):
        pod = {
            "metadata": {
                "name": f"p{i}",
                "namespace": f"team-{i % namespaces:03}",
                "uid": f"p{i}",
                "resourceVersion": "1",
            },
            "spec": {
                "schedulerName": "podium",
                "containers": [
                    {
                        "name": "c",
                        "resources": {
                            "requests": {"nvidia.com/gpu": "1", "cpu": "4"},
                            "limits": {"nvidia.com/gpu": "1"},
                        },
                    }
                ],
            },
        }
        state.apply_event(Kind.POD, _event(pod))
    return state


async def _pop_all(queue: SchedulingQueue[PendingPod], batch: int) -> tuple[int, int]:
    pods = batches = 0
    while queue.pending_counts()["active"]:
        popped = await queue.pop_batch(batch)
        for pod in popped:
            queue.done(pod.uid)
        pods += len(popped)
        batches += 1
    return pods, batches


def run_queue_bench(
    *, pending: int, namespaces: int, batch: int, nodes: int, rounds: int = 3
) -> list[QueueFigures]:
    """Both orders over the same pods; the best of ``rounds`` runs each."""
    out = []
    for order in ("kube", "fair"):
        state = _state(nodes, pending, namespaces, quotas=order == "fair")
        best = float("inf")
        batches = 0
        for _ in range(rounds):
            queue: SchedulingQueue[PendingPod] = SchedulingQueue(
                group_of=gang_key, fair_share=state.fair_share
            )
            for pod in state.pending():
                queue.add(pod)
            start = time.perf_counter()
            popped, batches = asyncio.run(_pop_all(queue, batch))
            assert popped == pending, (popped, pending)
            best = min(best, time.perf_counter() - start)
        out.append(
            QueueFigures(
                order=order,
                pending=pending,
                namespaces=namespaces,
                batch=batch,
                pods_per_second=pending / best,
                micros_per_batch=best / batches * 1e6,
                load_average=os.getloadavg()[0],
            )
        )
    return out
