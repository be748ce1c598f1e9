"""Soak: podium under churn for a bounded time, with its memory and cache size sampled.

A local apiserver, podium in this process, and a churn driver: pods are created and deleted at a
steady rate (the live count stays near ``live_pods``), and every ``node_churn_every`` seconds one
node is removed (its pods with it) and a new one added. Every ``interval`` seconds a sample
records RSS and the cache's sizes. After ``warmup`` both should be flat: the report gives the
least-squares slope of each (per minute) over the samples after warm-up.

RSS is this process's: podium plus the churn driver, which keeps no per-pod state beyond a
name queue (bounded by ``live_pods``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from podium.benchmarks.rss import current_rss_mib
from podium.config import parse_config
from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes
from podium.runner import Podium
from podium.testing.cluster import LocalCluster
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod

SCHEDULER_NAME = "podium-soak"
NAMESPACE = "default"


@dataclass(frozen=True)
class SoakOptions:
    duration: float = 600.0
    warmup: float = 120.0
    interval: float = 5.0
    nodes: int = 50
    live_pods: int = 1000
    # Pods created (and, at steady state, deleted) per second.
    churn_per_second: float = 20.0
    node_churn_every: float = 10.0


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mib: float
    cached_pods: int
    cached_nodes: int
    queued: int
    assumed: int
    created: int
    deleted: int
    nodes_replaced: int


@dataclass
class SoakReport:
    options: SoakOptions
    started: str
    samples: list[Sample] = field(default_factory=list)
    # Per minute, least squares over the samples after warm-up.
    rss_slope_mib_per_min: float = 0.0
    cached_pods_slope_per_min: float = 0.0
    cached_nodes_slope_per_min: float = 0.0


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute; 0 for fewer than two."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    covariance = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return covariance / spread * 60.0


def _config() -> Any:
    return parse_config(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "leaderElection": {"leaderElect": False},
            "profiles": [{"schedulerName": SCHEDULER_NAME}],
        }
    )


class _Churn:
    """Creates and deletes pods and replaces nodes; counts what it did."""

    def __init__(self, api: Any, options: SoakOptions) -> None:
        self._api = api
        self._options = options
        self._live: collections.deque[str] = collections.deque()
        self._nodes: collections.deque[str] = collections.deque()
        self.created = 0
        self.deleted = 0
        self.nodes_replaced = 0

    async def add_nodes(self, count: int) -> None:
        names = [f"soak-{uuid.uuid4().hex[:10]}" for _ in range(count)]
        await create_nodes(self._api, [make_node(n, cpu="64", memory="512Gi") for n in names])
        self._nodes.extend(names)

    async def replace_node(self) -> None:
        victim = self._nodes.popleft()
        with contextlib.suppress(ApiStatusError):
            await request_bytes(self._api, "DELETE", f"/api/v1/nodes/{victim}")
        # No pod garbage collector runs here: remove the node's pods as one would.
        await request_bytes(
            self._api,
            "DELETE",
            f"/api/v1/namespaces/{NAMESPACE}/pods",
            query={"fieldSelector": f"spec.nodeName={victim}", "gracePeriodSeconds": 0},
        )
        await self.add_nodes(1)
        self.nodes_replaced += 1

    async def step(self, count: int) -> None:
        for _ in range(count):
            name = f"soak-{uuid.uuid4().hex[:12]}"
            pod = make_pod(
                name,
                NAMESPACE,
                scheduler_name=SCHEDULER_NAME,
                requests={"cpu": "100m", "memory": "128Mi"},
                labels={"app": "soak"},
            )
            await request_bytes(self._api, "POST", f"/api/v1/namespaces/{NAMESPACE}/pods", body=pod)
            self._live.append(name)
            self.created += 1
        while len(self._live) > self._options.live_pods:
            name = self._live.popleft()
            with contextlib.suppress(ApiStatusError):
                await request_bytes(
                    self._api,
                    "DELETE",
                    f"/api/v1/namespaces/{NAMESPACE}/pods/{name}",
                    query={"gracePeriodSeconds": 0},
                )
            self.deleted += 1


async def run_soak(options: SoakOptions, progress: Callable[[str], None] = print) -> SoakReport:
    report = SoakReport(options=options, started=datetime.now(UTC).isoformat())
    async with LocalCluster() as cluster:
        admin = await api_client(cluster.kubeconfig, qps=0.0, burst=256)
        client = await api_client(cluster.kubeconfig, qps=0.0, burst=256)
        async with admin, client, Podium(_config(), client, identity="soak") as podium:
            churn = _Churn(admin, options)
            await churn.add_nodes(options.nodes)
            await podium.start_scheduling()
            started = time.monotonic()
            next_sample = next_node = 0.0
            tick = 0.5
            while (elapsed := time.monotonic() - started) < options.duration:
                await churn.step(max(1, round(options.churn_per_second * tick)))
                if elapsed >= next_node:
                    await churn.replace_node()
                    next_node += options.node_churn_every
                if elapsed >= next_sample:
                    sample = Sample(
                        seconds=round(elapsed, 1),
                        rss_mib=round(current_rss_mib(), 1),
                        cached_pods=podium.state.pod_count,
                        cached_nodes=podium.state.node_count,
                        queued=len(podium.queue),
                        assumed=podium.state.assumed_count,
                        created=churn.created,
                        deleted=churn.deleted,
                        nodes_replaced=churn.nodes_replaced,
                    )
                    report.samples.append(sample)
                    progress(
                        f"{sample.seconds:7.1f}s rss {sample.rss_mib:7.1f} MiB  pods "
                        f"{sample.cached_pods:6d}  nodes {sample.cached_nodes:4d}  queued "
                        f"{sample.queued:5d}  created {sample.created}"
                    )
                    next_sample += options.interval
                await asyncio.sleep(tick)
    steady = [s for s in report.samples if s.seconds >= options.warmup]
    report.rss_slope_mib_per_min = slope_per_minute([(s.seconds, s.rss_mib) for s in steady])
    report.cached_pods_slope_per_min = slope_per_minute(
        [(s.seconds, s.cached_pods) for s in steady]
    )
    report.cached_nodes_slope_per_min = slope_per_minute(
        [(s.seconds, s.cached_nodes) for s in steady]
    )
    return report


def write_report(report: SoakReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = directory / f"soak-{stamp}.json"
    path.write_bytes(orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2))
    return path
