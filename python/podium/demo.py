"""``podium dev``: a live local cluster, KWOK GPU nodes, what users submit, and a summary.

Everything is real but the kubelets: a kube-apiserver with etcd on loopback,
kube-controller-manager turning Deployments and Jobs into pods, KWOK playing the kubelet of the
fake nodes (bound pods go Running, Job pods succeed after their run time), and podium scheduling
in this process through the same code path as ``podium run``. Latency is measured from each
pod's creation to the watch seeing it bound.
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
from podium.testing.binaries import ensure_binaries, ensure_kwok
from podium.testing.crds import install_crds
from podium.testing.kwok.nodes import COMPLETE_AFTER_ANNOTATION, make_kwok_node
from podium.testing.live_cluster import LiveCluster
from podium.testing.nodes import Taint, create_nodes
from podium.testing.podgroups import (
    POD_GROUP_LABEL,
    create_pod_group,
    make_pod_group,
    pod_groups_path,
)
from podium.testing.pods import make_pod
from podium.testing.workloads import make_deployment, make_job

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
# How long the pods of each kind run on KWOK's nodes before they succeed (Go durations).
BATCH_RUN_FOR = "2s"
TRAIN_RUN_FOR = "2s"
GANG_RUN_FOR = "3s"
TASK_RUN_FOR = "2s"
DEPLOYMENTS_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
JOBS_PATH = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
PODS_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods"


@dataclass(frozen=True)
class DemoOptions:
    nodes: int = 60
    # About how many pods the workload makes in all (Deployments, Jobs, bare pods; gangs come
    # on top).
    pods: int = 600
    seed: int = 7
    # Give up waiting for the workload to settle after this long.
    timeout: float = 300.0


def demo_nodes(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """KWOK nodes: about a quarter GPU nodes (8 GPUs, tainted, in racks), the rest CPU nodes;
    two cordoned."""
    nodes = []
    gpu_nodes = max(1, count // 4)
    for i in range(count):
        zone = ZONES[i % len(ZONES)]
        if i < gpu_nodes:
            nodes.append(
                make_kwok_node(
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
                make_kwok_node(
                    f"cpu-{i:03d}",
                    cpu=rng.choice(("16", "32")),
                    memory=rng.choice(("64Gi", "128Gi")),
                    zone=zone,
                    labels={"node.podium.dev/pool": "cpu"},
                    unschedulable=i >= count - 2,
                )
            )
    return nodes


@dataclass(frozen=True)
class GangJob:
    """A distributed training Job whose pods form one PodGroup (``created`` pods; fewer than
    ``min_member`` makes a gang that waits for members)."""

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

    def as_job(self) -> dict[str, Any]:
        count = self.members if self.created is None else self.created
        pod = make_pod(
            "member",
            NAMESPACE,
            scheduler_name="podium",
            requests={"cpu": "4", "memory": "32Gi", GPU: str(self.gpus)},
            limits={GPU: str(self.gpus)},
            tolerations=(GPU_TOLERATION,),
            labels={"app": "gang", POD_GROUP_LABEL: self.name},
        )
        # Every member at once: a gang runs whole or not at all.
        return make_job(
            f"gang-{self.name}",
            NAMESPACE,
            pod,
            completions=count,
            parallelism=count,
            run_for=GANG_RUN_FOR,
        )


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


@dataclass(frozen=True)
class Workload:
    """What the demo submits, as users do: Deployments, Jobs (the gangs' among them, with their
    PodGroups) and a few bare pods."""

    deployments: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    gangs: list[GangJob]
    pods: list[dict[str, Any]]


def demo_workload(total: int, rng: random.Random) -> Workload:
    """About ``total`` pods: web and API Deployments (45%), batch Jobs on CPUs (15%), training
    Jobs of 1 to 8 GPUs (20%), bare pods that run a moment (10%), bare pods that fit nowhere
    (5%) and bare pods for another scheduler (5%, podium must leave them alone); plus the gangs."""

    def share(fraction: float, per: int = 1) -> int:
        return max(1, round(total * fraction / per))

    web = make_pod(
        "web",
        NAMESPACE,
        scheduler_name="podium",
        requests={"cpu": "500m", "memory": "1Gi"},
        labels={"app": "web"},
    )
    api = make_pod(
        "api",
        NAMESPACE,
        scheduler_name="podium",
        requests={"cpu": "2", "memory": "4Gi"},
        labels={"app": "api"},
        topology_spread_constraints=[
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "api"}},
            }
        ],
    )
    deployments = [
        make_deployment("web", NAMESPACE, web, replicas=share(0.30)),
        make_deployment("api", NAMESPACE, api, replicas=share(0.15)),
    ]
    jobs = []
    for i in range(share(0.15, per=10)):
        batch = make_pod(
            "batch",
            NAMESPACE,
            scheduler_name="podium",
            requests={"cpu": rng.choice(("2", "4")), "memory": "8Gi"},
            node_selector={"topology.kubernetes.io/zone": rng.choice(ZONES)},
            labels={"app": "batch"},
        )
        jobs.append(
            make_job(
                f"etl-{i}", NAMESPACE, batch, completions=10, parallelism=5, run_for=BATCH_RUN_FOR
            )
        )
    for i in range(share(0.20, per=4)):
        gpus = rng.choice((1, 1, 2, 4, 8))
        train = make_pod(
            "train",
            NAMESPACE,
            scheduler_name="podium",
            requests={"cpu": str(4 * gpus), "memory": f"{32 * gpus}Gi", GPU: str(gpus)},
            limits={GPU: str(gpus)},
            tolerations=(GPU_TOLERATION,),
            labels={"app": "train"},
        )
        jobs.append(
            make_job(
                f"train-{gpus}gpu-{i}",
                NAMESPACE,
                train,
                completions=4,
                parallelism=2,
                run_for=TRAIN_RUN_FOR,
            )
        )
    gangs = demo_gangs()
    jobs.extend(gang.as_job() for gang in gangs)
    pods = [
        make_pod(
            f"task-{i:04d}",
            NAMESPACE,
            scheduler_name="podium",
            requests={"cpu": "250m", "memory": "256Mi"},
            labels={"app": "task"},
            annotations={COMPLETE_AFTER_ANNOTATION: TASK_RUN_FOR},
        )
        for i in range(share(0.10))
    ]
    # Fits nowhere: more GPUs than any node has.
    pods.extend(
        make_pod(
            f"huge-{i:04d}",
            NAMESPACE,
            scheduler_name="podium",
            requests={"cpu": "8", GPU: "16"},
            limits={GPU: "16"},
            tolerations=(GPU_TOLERATION,),
            labels={"app": "huge"},
        )
        for i in range(share(0.05))
    )
    pods.extend(
        make_pod(
            f"other-{i:04d}",
            NAMESPACE,
            scheduler_name="default-scheduler",
            requests={"cpu": "100m"},
            labels={"app": "other"},
        )
        for i in range(share(0.05))
    )
    rng.shuffle(pods)
    return Workload(deployments=deployments, jobs=jobs, gangs=gangs, pods=pods)


@dataclass
class Seen:
    """One pod as the demo's watch saw it."""

    created: float
    scheduler: str
    group: str | None
    owner: str | None
    # Runs to completion on KWOK (a Job's pod, or one with a run time) rather than until deleted.
    finishes: bool
    bound: float | None = None
    node: str | None = None
    phase: str = "Pending"

    @property
    def done(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


@dataclass
class Observed:
    pods: dict[str, Seen] = field(default_factory=dict)

    def podium(self) -> list[Seen]:
        return [seen for seen in self.pods.values() if seen.scheduler == "podium"]


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
    metadata = pod.get("metadata", {})
    name = metadata.get("name")
    if not name:
        return None
    spec = pod.get("spec", {})
    seen = observed.pods.get(name)
    # Creation and binding are both timed as one watcher sees them, so the two clocks agree.
    if seen is None:
        labels = metadata.get("labels") or {}
        owners = metadata.get("ownerReferences") or ()
        owner = owners[0].get("kind") if owners else None
        seen = Seen(
            created=now,
            scheduler=spec.get("schedulerName", ""),
            group=labels.get(POD_GROUP_LABEL),
            owner=owner,
            finishes=owner == "Job"
            or COMPLETE_AFTER_ANNOTATION in (metadata.get("annotations") or {}),
        )
        observed.pods[name] = seen
    node = spec.get("nodeName")
    if node and seen.bound is None:
        seen.bound = now
        seen.node = node
    seen.phase = pod.get("status", {}).get("phase", seen.phase)
    version: str | None = metadata.get("resourceVersion")
    return version


async def _submit(api: ApiClient, workload: Workload) -> None:
    """Creates the PodGroups first (their members wait for them), then everything else with
    32 requests in flight."""
    for gang in workload.gangs:
        await create_pod_group(api, gang.group())
    requests = [(DEPLOYMENTS_PATH, d) for d in workload.deployments]
    requests += [(JOBS_PATH, j) for j in workload.jobs]
    requests += [(PODS_PATH, p) for p in workload.pods]
    items = iter(requests)

    async def worker() -> None:
        for path, body in items:
            await request_bytes(api, "POST", path, body=body)

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


def _busiest_second(bound: list[Seen]) -> int:
    """The most pods bound within any one second, as the watch saw them."""
    times = sorted(seen.bound for seen in bound if seen.bound is not None)
    best = start = 0
    for end, at in enumerate(times):
        while at - times[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run_demo(config: SchedulerConfig, options: DemoOptions) -> DemoResult:
    """Runs the demo on a live local cluster it starts and stops; prints progress and summary."""
    console = Console()
    rng = random.Random(options.seed)
    console.print("[bold]podium dev[/]: building or reusing the local cluster binaries")
    binaries = await asyncio.to_thread(ensure_binaries, console)
    kwok = await asyncio.to_thread(ensure_kwok, console)
    with console.status("starting kube-apiserver + etcd, kube-controller-manager and KWOK"):
        cluster = await LiveCluster(binaries=binaries, kwok_binary=kwok).start_async()
    try:
        return await _run(config, options, cluster, rng, console)
    finally:
        with console.status("stopping the local cluster"):
            await asyncio.to_thread(cluster.stop)


async def _run(
    config: SchedulerConfig,
    options: DemoOptions,
    cluster: LiveCluster,
    rng: random.Random,
    console: Console,
) -> DemoResult:
    api = await api_client(cluster.kubeconfig, qps=2000, burst=4000)
    try:
        await request_bytes(
            api, "POST", "/api/v1/namespaces", body={"metadata": {"name": NAMESPACE}}
        )
        nodes = demo_nodes(options.nodes, rng)
        with console.status(f"creating {len(nodes)} KWOK nodes and the PodGroup CRD"):
            await create_nodes(api, nodes)
            await install_crds(api)
        workload = demo_workload(options.pods, rng)
        observed = Observed()
        watching = asyncio.Event()
        watcher = asyncio.create_task(_watch_bindings(api, observed, watching))
        await watching.wait()
        scheduler_api = await api_client(cluster.kubeconfig, config.qps, config.burst)
        async with Podium(config, scheduler_api, identity="podium-dev") as podium:
            await podium.start_scheduling()
            submit = asyncio.create_task(_submit(api, workload))
            progress = await _follow(api, podium, submit, observed, options, console)
            await podium.gangs.flush()
            await podium.recorder.flush()
        await scheduler_api.close()
        watcher.cancel()
        # The summary counts from the apiserver's own lists, not from what the watch saw.
        listed = orjson.loads(await request_bytes(api, "GET", PODS_PATH))
        for pod in listed["items"]:
            seen = observed.pods.get(pod["metadata"]["name"])
            if seen is not None:
                seen.node = pod["spec"].get("nodeName") or seen.node
                seen.phase = pod.get("status", {}).get("phase", seen.phase)
        reasons = await _failed_reasons(api)
        controllers = await _controllers(api)
        _summary(console, observed, reasons, progress, controllers)
        await _gang_summary(api, console, workload.gangs, observed, nodes, reasons)
        phases = Counter(seen.phase for seen in observed.podium() if seen.node is not None)
        return DemoResult(settled=progress.settled, controllers=controllers, phases=phases)
    finally:
        await api.close()


@dataclass
class Controllers:
    """The Deployments' and Jobs' status as their controllers wrote it."""

    deployments: int = 0
    available: int = 0
    replicas: int = 0
    ready: int = 0
    jobs: int = 0
    complete: int = 0
    # Pods the controllers are yet to create: replicas not created, Jobs between two pods.
    to_create: int = 0


@dataclass(frozen=True)
class DemoResult:
    """How the demo ended: ``settled`` when every Deployment's and Job's pods were bound,
    finished or reported unschedulable, with no Job pod still running."""

    settled: bool
    controllers: Controllers
    # Phases of podium's bound pods at the end (Running, Succeeded, ...).
    phases: Counter[str]


async def _controllers(api: ApiClient) -> Controllers:
    deployments = orjson.loads(await request_bytes(api, "GET", DEPLOYMENTS_PATH))["items"]
    jobs = orjson.loads(await request_bytes(api, "GET", JOBS_PATH))["items"]
    out = Controllers(deployments=len(deployments), jobs=len(jobs))
    for deployment in deployments:
        wanted = deployment["spec"].get("replicas", 1)
        ready = deployment.get("status", {}).get("readyReplicas", 0)
        out.replicas += wanted
        out.ready += ready
        out.available += ready == wanted
        out.to_create += max(0, wanted - deployment.get("status", {}).get("replicas", 0))
    for job in jobs:
        status = job.get("status", {})
        finished = {c["type"] for c in status.get("conditions") or () if c["status"] == "True"} & {
            "Complete",
            "Failed",
        }
        out.complete += "Complete" in finished
        # A Job neither finished nor with an active pod is about to create its next pods.
        out.to_create += not finished and not status.get("active")
    return out


@dataclass
class FollowResult:
    settled: bool


async def _follow(
    api: ApiClient,
    podium: Podium,
    submit: asyncio.Task[None],
    observed: Observed,
    options: DemoOptions,
    console: Console,
) -> FollowResult:
    """Show progress until every Job finished or waits unschedulable, every Deployment's pods
    are bound or unschedulable, and podium has nothing left to try."""
    result = FollowResult(settled=False)
    deadline = time.monotonic() + options.timeout
    tick = 0.2
    columns = (
        TextColumn("workload"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    controllers = Controllers()
    checked = 0.0
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("pods", total=None, detail="")
        while time.monotonic() < deadline:
            await asyncio.sleep(tick)
            counts = podium.queue.pending_counts()
            mine = observed.podium()
            bound = sum(1 for seen in mine if seen.bound is not None)
            running = sum(1 for seen in mine if seen.phase == "Running")
            succeeded = sum(1 for seen in mine if seen.phase == "Succeeded")
            parked = counts.get("unschedulable", 0)
            progress.update(
                task,
                total=len(mine),
                completed=bound + parked,
                detail=(
                    f"bound {bound} · running {running} · succeeded {succeeded} · "
                    f"unschedulable {parked}"
                ),
            )
            if not submit.done() or time.monotonic() - checked < 1.0:
                continue
            await submit
            checked = time.monotonic()
            controllers = await _controllers(api)
            idle = counts.get("active", 0) + counts.get("backoff", 0) == 0
            under_way = any(seen.finishes and seen.node and not seen.done for seen in mine)
            if idle and len(mine) - bound <= parked and not under_way and not controllers.to_create:
                result.settled = True
                return result
    return result


def _summary(
    console: Console,
    observed: Observed,
    reasons: dict[str, str],
    progress: FollowResult,
    controllers: Controllers,
) -> None:
    mine = {name: seen for name, seen in observed.pods.items() if seen.scheduler == "podium"}
    bound = [seen for seen in mine.values() if seen.node is not None]
    # Pods that fit when first tried, apart from those that waited for room (a Job's next pods
    # wait for GPUs its earlier ones hold): the first measure the scheduler, the others the
    # workload.
    at_once = [
        seen.bound - seen.created
        for name, seen in mine.items()
        if seen.bound is not None and name not in reasons
    ]
    latencies = [seen.bound - seen.created for seen in bound if seen.bound is not None]
    others = [seen for seen in observed.pods.values() if seen.scheduler != "podium"]
    by_owner = Counter(seen.owner or "bare" for seen in mine.values())
    table = Table(title="podium dev: summary", show_header=False)
    table.add_row("podium's pods", str(len(mine)))
    table.add_row(
        "  of ReplicaSets / Jobs / bare",
        f"{by_owner['ReplicaSet']} / {by_owner['Job']} / {by_owner['bare']}",
    )
    table.add_row("scheduled (bound)", str(len(bound)))
    table.add_row("unschedulable", str(len(mine) - len(bound)))
    left_alone = sum(1 for seen in others if seen.node is None)
    table.add_row("other schedulers' pods left alone", f"{left_alone}/{len(others)}")
    table.add_row("bound in the busiest second", f"{_busiest_second(bound)} pods")
    table.add_row(
        "creation→bound p50 / p99 (fit at once)",
        f"{_percentile(at_once, 50) * 1000:.0f} / {_percentile(at_once, 99) * 1000:.0f} ms",
    )
    table.add_row(
        "creation→bound p99 (all)",
        f"{_percentile(latencies, 99) * 1000:.0f} ms",
    )
    table.add_row("nodes used", str(len({seen.node for seen in bound})))
    phases = Counter(seen.phase for seen in bound)
    table.add_row("Running at the end (KWOK)", str(phases["Running"]))
    table.add_row("Succeeded (Jobs' and bare pods)", str(phases["Succeeded"]))
    table.add_row(
        "Deployments available",
        f"{controllers.available}/{controllers.deployments} "
        f"({controllers.ready}/{controllers.replicas} replicas ready)",
    )
    table.add_row("Jobs complete", f"{controllers.complete}/{controllers.jobs}")
    console.print(table)
    unscheduled = [name for name, seen in mine.items() if seen.node is None]
    if unscheduled:
        why = Counter(reasons.get(name, "(no event yet)") for name in unscheduled)
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
    table = Table(title="gangs (Jobs with a PodGroup)")
    for column in ("group", "members", "rack", "result", "hosts", "racks", "done", "phase"):
        table.add_column(column)
    whole = waiting = 0
    why: dict[str, str] = {}
    for gang in gangs:
        members = {name: seen for name, seen in observed.pods.items() if seen.group == gang.name}
        hosts = [seen.node for seen in members.values() if seen.node is not None]
        placed = len(hosts)
        if placed and placed == len(members):
            whole += 1
            result = "placed whole"
        elif placed == 0:
            waiting += 1
            result = "waiting"
        else:
            result = f"PARTIAL {placed}/{len(members)}"
        if not placed and members:
            why[gang.name] = reasons.get(min(members), "(no event yet)")
        table.add_row(
            gang.name,
            f"{len(members)}/{gang.members}",
            gang.rack or "-",
            result,
            str(len(set(hosts))) if hosts else "-",
            ",".join(sorted({rack_of.get(h, "-") for h in hosts})) or "-",
            f"{sum(seen.phase == 'Succeeded' for seen in members.values())}/{len(members)}",
            phase.get(gang.name, ""),
        )
    console.print(table)
    for name, note in why.items():
        console.print(f"[bold]{name}[/] waits: {note}", soft_wrap=True)
    console.print(f"gangs placed whole: {whole}, waiting: {waiting}, of {len(gangs)}")
