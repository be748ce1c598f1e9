"""``podium dev``: a local cluster, fake GPU nodes, a mixed workload, and a summary.

Everything is real but the nodes: a kube-apiserver with etcd on loopback, podium scheduling
in this process through the same code path as ``podium run``, bindings and events written to the
apiserver, and latency measured from each pod's creation to the watch seeing it bound.
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, open_stream, request_bytes
from podium.runner import Podium
from podium.testing.binaries import ensure_binaries
from podium.testing.cluster import LocalCluster
from podium.testing.crds import install_crds
from podium.testing.nodes import Taint, create_nodes, make_node
from podium.testing.podgroups import (
    POD_GROUP_LABEL,
    create_pod_group,
    make_pod_group,
    pod_groups_path,
)
from podium.testing.pods import make_pod

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.config import SchedulerConfig

NAMESPACE = "demo"
log = logging.getLogger(__name__)

GPU = "nvidia.com/gpu"
GPU_TAINT = Taint(key=GPU, value="present", effect="NoSchedule")
GPU_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
ZONES = ("zone-a", "zone-b", "zone-c")
# GPU nodes sit in racks of this many (label topology.kubernetes.io/rack).
GPU_NODES_PER_RACK = 4


@dataclass(frozen=True)
class DemoOptions:
    nodes: int = 60
    pods: int = 600
    seed: int = 7
    # Give up waiting for the workload to settle after this long.
    timeout: float = 300.0


def demo_nodes(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """About a quarter GPU nodes (8 GPUs, tainted), the rest CPU nodes; two cordoned."""
    nodes = []
    gpu_nodes = max(1, count // 4)
    for i in range(count):
        zone = ZONES[i % len(ZONES)]
        if i < gpu_nodes:
            nodes.append(
                make_node(
                    f"gpu-{i:03d}",
                    cpu="64",
                    memory="512Gi",
                    gpus=8,
                    rdma=4,
                    zone=zone,
                    rack=f"rack-{i // GPU_NODES_PER_RACK}",
                    labels={"node.podium.dev/pool": "gpu"},
                    taints=(GPU_TAINT,),
                )
            )
        else:
            nodes.append(
                make_node(
                    f"cpu-{i:03d}",
                    cpu=rng.choice(("16", "32")),
                    memory=rng.choice(("64Gi", "128Gi")),
                    zone=zone,
                    labels={"node.podium.dev/pool": "cpu"},
                    unschedulable=i >= count - 2,
                )
            )
    return nodes


def demo_pods(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Web and batch pods, GPU jobs of 1 to 8 GPUs, some that fit nowhere, some for another
    scheduler (podium must leave them alone)."""
    pods = []
    for i in range(count):
        roll = rng.random()
        name = f"pod-{i:04d}"
        if roll < 0.50:
            pods.append(
                make_pod(
                    f"web-{name}",
                    NAMESPACE,
                    scheduler_name="podium",
                    requests={
                        "cpu": rng.choice(("250m", "500m", "1", "2")),
                        "memory": rng.choice(("256Mi", "1Gi", "4Gi")),
                    },
                    labels={"app": "web"},
                )
            )
        elif roll < 0.65:
            pods.append(
                make_pod(
                    f"batch-{name}",
                    NAMESPACE,
                    scheduler_name="podium",
                    requests={"cpu": rng.choice(("2", "4")), "memory": "8Gi"},
                    node_selector={"topology.kubernetes.io/zone": rng.choice(ZONES)},
                    labels={"app": "batch"},
                )
            )
        elif roll < 0.90:
            gpus = rng.choice((1, 1, 2, 4, 8))
            pods.append(
                make_pod(
                    f"train-{gpus}gpu-{name}",
                    NAMESPACE,
                    scheduler_name="podium",
                    requests={"cpu": str(4 * gpus), "memory": f"{32 * gpus}Gi", GPU: str(gpus)},
                    limits={GPU: str(gpus)},
                    tolerations=(GPU_TOLERATION,),
                    labels={"app": "train"},
                )
            )
        elif roll < 0.95:
            # Fits nowhere: more GPUs than any node has.
            pods.append(
                make_pod(
                    f"huge-{name}",
                    NAMESPACE,
                    scheduler_name="podium",
                    requests={"cpu": "8", GPU: "16"},
                    limits={GPU: "16"},
                    tolerations=(GPU_TOLERATION,),
                    labels={"app": "huge"},
                )
            )
        else:
            pods.append(
                make_pod(
                    f"other-{name}",
                    NAMESPACE,
                    scheduler_name="default-scheduler",
                    requests={"cpu": "100m"},
                    labels={"app": "other"},
                )
            )
    return pods


@dataclass(frozen=True)
class GangJob:
    """One PodGroup and its member pods (``created`` of them; fewer than ``min_member`` makes a
    gang that waits for members)."""

    name: str
    members: int
    gpus: int
    rack: str | None = None
    distinct_hosts: bool = False
    job: str | None = None
    created: int | None = None

    def group(self) -> dict[str, Any]:
        return make_pod_group(
            self.name,
            NAMESPACE,
            min_member=self.members,
            rack=self.rack,
            distinct_hosts=self.distinct_hosts,
            job=self.job,
        )

    def pods(self) -> list[dict[str, Any]]:
        count = self.members if self.created is None else self.created
        return [
            make_pod(
                f"gang-{self.name}-{i}",
                NAMESPACE,
                scheduler_name="podium",
                requests={"cpu": "4", "memory": "32Gi", GPU: str(self.gpus)},
                limits={GPU: str(self.gpus)},
                tolerations=(GPU_TOLERATION,),
                labels={"app": "gang", POD_GROUP_LABEL: self.name},
            )
            for i in range(count)
        ]


def demo_gangs() -> list[GangJob]:
    """Distributed training jobs: whole-rack jobs on distinct hosts, a job of two groups spread
    over racks, loose gangs, one larger than the cluster and one still missing members."""
    return [
        GangJob("llm-rack", members=4, gpus=8, rack="required", distinct_hosts=True),
        GangJob("moe-0", members=2, gpus=4, rack="required", distinct_hosts=True, job="moe"),
        GangJob("moe-1", members=2, gpus=4, rack="required", distinct_hosts=True, job="moe"),
        GangJob("vision", members=4, gpus=2, rack="preferred"),
        GangJob("finetune", members=3, gpus=1),
        GangJob("too-big", members=40, gpus=8),
        GangJob("incomplete", members=4, gpus=1, created=3),
    ]


@dataclass
class Observed:
    created: dict[str, float] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)
    node_of: dict[str, str] = field(default_factory=dict)


async def _watch_bindings(api: ApiClient, observed: Observed, started: asyncio.Event) -> None:
    """Record when each demo pod is first seen bound (spec.nodeName set). Re-watches from the
    last resourceVersion when the stream ends or breaks, so no binding goes unseen."""
    path = f"/api/v1/namespaces/{NAMESPACE}/pods"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    resource_version = "0"
    while True:
        query: dict[str, str | int | bool] = {
            "watch": True,
            "resourceVersion": resource_version,
            "allowWatchBookmarks": True,
        }
        try:
            response = await open_stream(api, path, query, timeout)
        except (aiohttp.ClientError, TimeoutError, ApiStatusError) as err:
            log.warning("demo watch: %s; retrying", err)
            await asyncio.sleep(0.5)
            continue
        started.set()
        try:
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                now = time.monotonic()
                for line in lines:
                    if line.strip():
                        resource_version = _observe(orjson.loads(line), observed, now) or (
                            resource_version
                        )
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("demo watch broke: %s; re-watching", err)
        finally:
            response.release()


def _observe(event: dict[str, Any], observed: Observed, now: float) -> str | None:
    """Apply one watch event; returns the resourceVersion to resume from (None: relist)."""
    pod = event.get("object", {})
    if event.get("type") == "ERROR":
        return "0"
    name = pod.get("metadata", {}).get("name")
    node = pod.get("spec", {}).get("nodeName")
    # Creation and binding are both timed as one watcher sees them, so the two clocks agree.
    if name and name not in observed.created:
        observed.created[name] = now
    if name and node and name not in observed.bound:
        observed.bound[name] = now
        observed.node_of[name] = node
    version: str | None = pod.get("metadata", {}).get("resourceVersion")
    return version


async def _submit(api: ApiClient, pods: list[dict[str, Any]]) -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/pods"
    items = iter(pods)

    async def worker() -> None:
        for pod in items:
            await request_bytes(api, "POST", path, body=pod)

    async with asyncio.TaskGroup() as group:
        for _ in range(32):
            group.create_task(worker())


async def _failed_reasons(api: ApiClient) -> dict[str, str]:
    """The latest FailedScheduling note per pod, from the events podium wrote."""
    body = await request_bytes(
        api,
        "GET",
        f"/apis/events.k8s.io/v1/namespaces/{NAMESPACE}/events",
        query={"fieldSelector": "reason=FailedScheduling"},
    )
    latest: dict[str, tuple[str, str]] = {}
    for event in orjson.loads(body).get("items", []):
        pod = event.get("regarding", {}).get("name", "")
        stamp = event.get("series", {}).get("lastObservedTime") or event.get("eventTime") or ""
        if pod and (pod not in latest or stamp >= latest[pod][0]):
            latest[pod] = (stamp, event.get("note", ""))
    return {pod: note for pod, (_, note) in latest.items()}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run_demo(config: SchedulerConfig, options: DemoOptions) -> bool:
    """Returns True when the workload settled: every podium pod bound or reported unschedulable."""
    console = Console()
    rng = random.Random(options.seed)
    console.print("[bold]podium dev[/]: building or reusing the local cluster binaries")
    binaries = await asyncio.to_thread(ensure_binaries, console)
    with console.status("starting kube-apiserver + etcd on 127.0.0.1"):
        cluster = await LocalCluster(binaries=binaries).start_async()
    try:
        return await _run(config, options, cluster, rng, console)
    finally:
        with console.status("stopping the local cluster"):
            await asyncio.to_thread(cluster.stop)


async def _run(
    config: SchedulerConfig,
    options: DemoOptions,
    cluster: LocalCluster,
    rng: random.Random,
    console: Console,
) -> bool:
    api = await api_client(cluster.kubeconfig, qps=2000, burst=4000)
    try:
        await request_bytes(
            api, "POST", "/api/v1/namespaces", body={"metadata": {"name": NAMESPACE}}
        )
        nodes = demo_nodes(options.nodes, rng)
        with console.status(f"creating {len(nodes)} fake nodes and the PodGroup CRD"):
            await create_nodes(api, nodes)
            await install_crds(api)
        gangs = demo_gangs()
        for gang in gangs:
            await create_pod_group(api, gang.group())
        pods = demo_pods(options.pods, rng)
        # Gang members arrive mixed into the first quarter of the workload, interleaved with it.
        for gang in gangs:
            for member in gang.pods():
                pods.insert(rng.randrange(len(pods) // 4 + 1), member)
        mine = [p["metadata"]["name"] for p in pods if p["spec"]["schedulerName"] == "podium"]
        observed = Observed()
        watching = asyncio.Event()
        watcher = asyncio.create_task(_watch_bindings(api, observed, watching))
        await watching.wait()
        scheduler_api = await api_client(cluster.kubeconfig, config.qps, config.burst)
        async with Podium(config, scheduler_api, identity="podium-dev") as podium:
            await podium.start_scheduling()
            started = time.monotonic()
            submit = asyncio.create_task(_submit(api, pods))
            settled = await _follow(podium, submit, observed, mine, options, console)
            elapsed_bind = max(observed.bound.values(), default=started) - started
            await podium.gangs.flush()
            await podium.recorder.flush()
        await scheduler_api.close()
        watcher.cancel()
        # The summary counts from the apiserver's own list, not from what the watch saw.
        listed = orjson.loads(
            await request_bytes(api, "GET", f"/api/v1/namespaces/{NAMESPACE}/pods")
        )
        for pod in listed["items"]:
            node = pod["spec"].get("nodeName")
            if node:
                observed.node_of[pod["metadata"]["name"]] = node
        reasons = await _failed_reasons(api)
        _summary(console, pods, mine, observed, reasons, elapsed_bind)
        await _gang_summary(api, console, gangs, observed, nodes, reasons)
        return settled
    finally:
        await api.close()


async def _follow(
    podium: Podium,
    submit: asyncio.Task[None],
    observed: Observed,
    mine: list[str],
    options: DemoOptions,
    console: Console,
) -> bool:
    """Show progress until every podium pod is bound or parked as unschedulable."""
    deadline = time.monotonic() + options.timeout
    columns = (
        TextColumn("scheduling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("pods", total=len(mine), detail="")
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            counts = podium.queue.pending_counts()
            bound = sum(1 for name in mine if name in observed.bound)
            parked = counts.get("unschedulable", 0)
            progress.update(
                task,
                completed=bound + parked,
                detail=f"bound {bound} · unschedulable {parked}",
            )
            busy = counts.get("active", 0) + counts.get("backoff", 0)
            if submit.done() and busy == 0 and bound + parked >= len(mine):
                await submit
                return True
    return False


def _summary(
    console: Console,
    pods: list[dict[str, Any]],
    mine: list[str],
    observed: Observed,
    reasons: dict[str, str],
    elapsed: float,
) -> None:
    bound = [name for name in mine if name in observed.node_of]
    latencies = [
        observed.bound[n] - observed.created[n]
        for n in bound
        if n in observed.created and n in observed.bound
    ]
    others = [p["metadata"]["name"] for p in pods if p["metadata"]["name"] not in set(mine)]
    touched = [name for name in others if name in observed.node_of]
    table = Table(title="podium dev: summary", show_header=False)
    table.add_row("podium's pods", str(len(mine)))
    table.add_row("scheduled (bound)", str(len(bound)))
    table.add_row("unschedulable", str(len(mine) - len(bound)))
    table.add_row(
        "other schedulers' pods left alone", f"{len(others) - len(touched)}/{len(others)}"
    )
    rate = len(bound) / elapsed if elapsed > 0 else float("nan")
    table.add_row("throughput", f"{rate:.0f} pods/s")
    table.add_row("creation→bound p50", f"{_percentile(latencies, 50) * 1000:.1f} ms")
    table.add_row("creation→bound p99", f"{_percentile(latencies, 99) * 1000:.1f} ms")
    per_node = Counter(observed.node_of[n] for n in bound)
    table.add_row("nodes used", str(len(per_node)))
    console.print(table)
    unscheduled = [n for n in mine if n not in observed.node_of]
    if unscheduled:
        why = Counter(reasons.get(n, "(no event yet)") for n in unscheduled)
        reasons_table = Table(title="unschedulable, by reason (FailedScheduling events)")
        reasons_table.add_column("pods", justify="right")
        reasons_table.add_column("reason")
        for note, count in why.most_common():
            reasons_table.add_row(str(count), note)
        console.print(reasons_table)


async def _gang_summary(
    api: ApiClient,
    console: Console,
    gangs: list[GangJob],
    observed: Observed,
    nodes: list[dict[str, Any]],
    reasons: dict[str, str],
) -> None:
    """Per gang: placed whole or waiting, where, and the PodGroup's phase as podium wrote it."""
    rack_of = {
        n["metadata"]["name"]: n["metadata"]["labels"].get("topology.kubernetes.io/rack", "-")
        for n in nodes
    }
    listed = orjson.loads(await request_bytes(api, "GET", pod_groups_path(NAMESPACE)))
    phase = {g["metadata"]["name"]: g.get("status", {}).get("phase", "") for g in listed["items"]}
    table = Table(title="gangs (PodGroups)")
    for column in ("group", "members", "rack", "result", "hosts", "racks", "phase"):
        table.add_column(column)
    whole = waiting = 0
    why: dict[str, str] = {}
    for gang in gangs:
        names = [p["metadata"]["name"] for p in gang.pods()]
        hosts = [observed.node_of[n] for n in names if n in observed.node_of]
        placed = len(hosts)
        if placed and placed == len(names):
            whole += 1
            result = "placed whole"
        elif placed == 0:
            waiting += 1
            result = "waiting"
        else:
            result = f"PARTIAL {placed}/{len(names)}"
        if not placed:
            why[gang.name] = reasons.get(names[0], "(no event yet)")
        table.add_row(
            gang.name,
            f"{len(names)}/{gang.members}",
            gang.rack or "-",
            result,
            str(len(set(hosts))) if hosts else "-",
            ",".join(sorted({rack_of.get(h, "-") for h in hosts})) or "-",
            phase.get(gang.name, ""),
        )
    console.print(table)
    for name, note in why.items():
        console.print(f"[bold]{name}[/] waits: {note}", soft_wrap=True)
    console.print(f"gangs placed whole: {whole}, waiting: {waiting}, of {len(gangs)}")
