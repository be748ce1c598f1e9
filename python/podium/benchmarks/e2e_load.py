"""The end-to-end load benchmark (issues 8 and 16): one apiserver with kube-controller-manager
and KWOK, N KWOK nodes that heartbeat, and each scheduler in turn (the bind ceiling,
kube-scheduler, podium) given the same pods: as a backlog created before the scheduler starts
(its drain rate), at a fixed rate (its latency), and as Jobs arriving at a steady rate while
earlier ones complete (churn). Per case: pods/s, creation→bound latency, CPU seconds and peak
RSS of the scheduler's process, CPU seconds of the apiserver (and KWOK), and the machine's load.

``podium bench load --help``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from podium.benchmarks.core import machine_info
from podium.benchmarks.e2e_pods import (
    CaseTimes,
    create_jobs,
    create_pods,
    delete_namespace,
    record_bindings,
)
from podium.benchmarks.e2e_schedulers import (
    CEILINGS,
    DEFAULT_SCHEDULERS,
    TITLES,
    ClientLimits,
    scheduler_process,
)
from podium.benchmarks.e2e_workloads import (
    CHURN,
    DEFAULT_WORKLOADS,
    DRA,
    JOB_PODS,
    bench_claim_templates,
    bench_job,
    bench_node,
    bench_pod,
    bench_pod_groups,
    case_modes,
    ceiling_selector,
    dra_cluster_objects,
    placeable,
    runs,
    unplaceable_selector,
)
from podium.benchmarks.procstat import Usage, usage
from podium.benchmarks.stats import percentile
from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.binaries import ensure_kwok
from podium.testing.kwok.controller import NODE_LEASE_SECONDS
from podium.testing.live_cluster import LiveCluster
from podium.testing.nodes import create_nodes, delete_nodes
from podium.testing.podgroups import create_workload_pod_group

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient
    from rich.progress import Progress

    from podium.testing.binaries import Binaries
    from podium.testing.cluster import LocalCluster
    from podium.testing.server import LocalServer

BENCH_LABEL = "podium.dev/bench"
BACKLOG = "backlog"
RATE = "rate"
BURST = "burst"
MODES = (BACKLOG, RATE, BURST)
DEFAULT_MODES = (BACKLOG, RATE)
# Lease writes per second the KWOK nodes cost the apiserver at most: a kubelet renews its 40 s
# Lease every 10 s, 500 writes/s at 5,000 nodes. Larger clusters get longer Leases (kubelet's
# nodeLeaseDurationSeconds) so that 20,000 nodes heartbeat at the same write rate.
REFERENCE_LEASE_NODES = 5_000
# The controller-manager's node-monitor grace period, in Leases: a node whose Lease was not
# renewed for this many durations is marked Unknown and tainted. Two, not kube's one-and-a-bit:
# KWOK on two shared cores falls behind on renewals while it is still registering 20,000 nodes,
# and a node it registered first would be tainted before the last one exists.
GRACE_LEASES = 2
_MIN_GRACE_SECONDS = 120


def lease_seconds(nodes: int) -> int:
    """The KWOK nodes' Lease duration for a cluster of ``nodes``."""
    return max(NODE_LEASE_SECONDS, math.ceil(NODE_LEASE_SECONDS * nodes / REFERENCE_LEASE_NODES))


def grace_seconds(lease: int) -> int:
    """The node-monitor grace period for KWOK nodes with Leases of ``lease`` seconds."""
    return max(_MIN_GRACE_SECONDS, GRACE_LEASES * lease)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    nodes: int = 5_000
    pods: int = 1_000  # per scheduler, workload and mode
    rate: float = 200.0  # pods/s created in "rate" mode
    workloads: tuple[str, ...] = DEFAULT_WORKLOADS
    modes: tuple[str, ...] = DEFAULT_MODES
    schedulers: tuple[str, ...] = DEFAULT_SCHEDULERS
    create_concurrency: int = 64  # creation requests in flight
    case_timeout: float = 180.0  # seconds from the first creation before a case gives up
    node_lease_seconds: int | None = None  # None: lease_seconds(nodes)
    churn_seconds: float = 30.0  # how long Jobs keep arriving
    churn_jobs_per_s: float = 10.0  # of JOB_PODS pods each
    churn_run_for: str = "5s"  # each Job pod's run time on its KWOK node
    limits: ClientLimits = field(default_factory=ClientLimits)
    rounds: int = 1  # each workload and mode by every scheduler this many times, interleaved


@dataclass(slots=True)
class CaseResult:
    scheduler: str
    workload: str
    mode: str
    pods: int  # pods the case waits for (deep_queue: the placeable ones; churn: Jobs x pods)
    bound: int = 0
    status: str = "ok"  # ok | incomplete | failed
    note: str = ""
    unplaceable: int = 0  # pods no node can take, created beside them (deep_queue)
    unplaceable_bound: int = 0  # of those, bound anyway (the bind ceiling skips them)
    create_seconds: float = math.nan  # first creation to last creation
    seconds: float = math.nan  # clock start (see DEFINITIONS) to last binding seen
    pods_per_s: float = math.nan
    latency_ms_p50: float = math.nan
    latency_ms_p90: float = math.nan
    latency_ms_p99: float = math.nan
    latency_ms_max: float = math.nan
    scheduler_start_seconds: float = math.nan  # process launch to ready
    cpu_seconds: float = math.nan
    rss_mib: float = math.nan
    peak_rss_mib: float = math.nan
    apiserver_cpu_seconds: float = math.nan
    kwok_cpu_seconds: float = math.nan
    controller_manager_cpu_seconds: float = math.nan
    claims_seconds: float = math.nan  # DRA backlog: pods created to every claim made
    load_start: float = math.nan  # 1-minute load average when the case began
    load_end: float = math.nan
    round: int = 0  # which of the run's rounds (LoadOptions.rounds)

    @property
    def title(self) -> str:
        return f"{TITLES.get(self.scheduler, self.scheduler)} · {self.workload} · {self.mode}"


@dataclass(slots=True)
class LoadReport:
    options: LoadOptions
    started: str
    machine: dict[str, str | int]
    node_lease_seconds: int = 0
    node_create_seconds: float = math.nan
    node_ready_seconds: float = math.nan  # created to all Ready (KWOK registered them)
    idle_apiserver_cpu_per_s: float = math.nan  # heartbeats alone, before the first case
    cases: list[CaseResult] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # scheduler -> why its turn ended

    def case(self, scheduler: str, workload: str, mode: str) -> CaseResult | None:
        """The round that stands for ``scheduler`` in ``workload`` and ``mode`` (None: no round
        completed): a ceiling's fastest, as a ceiling is the most the apiserver takes; a
        scheduler's median by pods/s (the lower of the two middle ones), so one lucky or
        disturbed round moves neither."""
        done = sorted(
            (
                c
                for c in self.cases
                if (c.scheduler, c.workload, c.mode) == (scheduler, workload, mode)
                and c.status == "ok"
            ),
            key=lambda c: c.pods_per_s,
        )
        if not done:
            return None
        return done[-1] if scheduler in CEILINGS else done[(len(done) - 1) // 2]


Say = Callable[[str], None]


async def run_load(
    options: LoadOptions,
    *,
    cluster: LiveCluster | None = None,
    binaries: Binaries | None = None,
    progress: Progress | None = None,
    say: Say = lambda _: None,
) -> LoadReport:
    """Runs every case; on ``cluster`` if given (it must run KWOK; its other nodes and pods are
    left alone), else on a fresh ``LiveCluster`` (controller-manager, KWOK, node lifecycle)."""
    lease = options.node_lease_seconds or lease_seconds(options.nodes)
    report = LoadReport(
        options=options,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        machine=machine_info(),
        node_lease_seconds=lease,
    )
    run_id = uuid.uuid4().hex[:8]
    labels = {BENCH_LABEL: run_id}
    async with contextlib.AsyncExitStack() as stack:
        owned = cluster is None
        if cluster is None:
            say(
                f"starting the local apiserver, controller-manager and KWOK (Lease {lease} s, "
                f"node-monitor grace period {grace_seconds(lease)} s)"
            )
            kwok = await asyncio.to_thread(ensure_kwok)
            cluster = await stack.enter_async_context(
                LiveCluster(
                    binaries=binaries,
                    kwok_binary=kwok,
                    node_lease_seconds=lease,
                    kwok_parallelism=32,
                    # Later flags win: this replaces the controller-manager's default.
                    controller_manager_args=[
                        f"--node-monitor-grace-period={grace_seconds(lease)}s"
                    ],
                )
            )
        elif cluster.kwok is None:
            raise ValueError("run_load: the cluster must run KWOK (LiveCluster(kwok=True))")
        else:
            report.node_lease_seconds = cluster.kwok.node_lease_seconds
        api = await api_client(cluster.kubeconfig, qps=0.0, burst=options.create_concurrency)
        stack.push_async_callback(api.close)
        say(f"creating {options.nodes:,} KWOK nodes")
        started = time.monotonic()
        if not owned:  # a fresh cluster goes away whole
            stack.push_async_callback(delete_nodes, api, f"{BENCH_LABEL}={run_id}")
        await create_nodes(
            api, (bench_node(i, labels) for i in range(options.nodes)), concurrency=64
        )
        report.node_create_seconds = time.monotonic() - started
        # KWOK registers about 30 nodes/s on two busy cores: 20,000 take over 10 minutes.
        ready_limit = max(600.0, options.nodes * 0.06)
        await wait_nodes_ready(api, f"{BENCH_LABEL}={run_id}", options.nodes, limit=ready_limit)
        report.node_ready_seconds = time.monotonic() - started - report.node_create_seconds
        say(
            f"{options.nodes:,} nodes created in {report.node_create_seconds:.0f} s, Ready "
            f"{report.node_ready_seconds:.0f} s later"
        )
        report.idle_apiserver_cpu_per_s = await _idle_cpu(cluster, seconds=10.0)
        say(f"apiserver CPU with heartbeats alone: {report.idle_apiserver_cpu_per_s:.2f} s/s")
        await _prepare_workloads(api, options, say)
        # Each workload and mode by every scheduler back to back, so the ratios compare cases
        # minutes apart, at one machine load, not a run's first and last quarter.
        # With several rounds, each workload and mode runs round after round by them all.
        pairs = [
            (kind, workload, mode, round_)
            for workload in options.workloads
            for mode in case_modes(workload, options.modes)
            for round_ in range(options.rounds)
            for kind in options.schedulers
            if runs(kind, workload)
        ]
        overall = progress.add_task("all cases", total=len(pairs)) if progress else None
        for kind, workload, mode, round_ in pairs:
            if kind in report.failures:
                continue
            case = CaseResult(kind, workload, mode, _expected(options, workload), round=round_)
            try:
                await _run_case(api, cluster, case, labels, run_id, options, binaries, progress)
            except Exception as error:  # a scheduler that cannot start ends its turn, not the run
                report.failures[kind] = repr(error)
                case.status, case.note = "failed", repr(error)
                say(f"{TITLES[kind]} failed: {error!r}")
            report.cases.append(case)
            say(
                f"{case.title}: {case.bound:,}/{case.pods:,} bound, {case.pods_per_s:,.0f} pods/s, "
                f"p99 {case.latency_ms_p99:,.0f} ms, CPU {case.cpu_seconds:.1f} s, apiserver "
                f"{case.apiserver_cpu_seconds:.1f} s, load {case.load_end:.1f}"
                + (
                    f", claims made by the controller-manager {case.claims_seconds:.1f} s "
                    "after the pods"
                    if not math.isnan(case.claims_seconds)
                    else ""
                )
            )
            if overall is not None and progress is not None:
                progress.advance(overall)
    report.machine["load_average_end"] = f"{os.getloadavg()[0]:.2f}"
    return report


async def _prepare_workloads(api: ApiClient, options: LoadOptions, say: Say) -> None:
    """What the chosen workloads need of the cluster: DRA's classes and slices (gangs use the
    Workload API's PodGroups, served by the apiserver itself)."""
    if DRA in options.workloads:
        started = time.monotonic()
        objects = dra_cluster_objects(options.nodes)
        await create_objects(api, objects, concurrency=options.create_concurrency)
        say(
            f"{len(objects):,} DeviceClasses and driver ResourceSlices created in "
            f"{time.monotonic() - started:.0f} s"
        )


async def create_objects(
    api: ApiClient, objects: list[dict[str, Any]], *, concurrency: int = 16
) -> None:
    """POSTs each ``resource.k8s.io/v1`` object (classes, slices, templates), ``concurrency`` in
    flight; one already there is left as it is."""
    limit = asyncio.Semaphore(concurrency)

    async def post(obj: dict[str, Any]) -> None:
        kind = {
            "DeviceClass": "deviceclasses",
            "ResourceSlice": "resourceslices",
            "ResourceClaimTemplate": "resourceclaimtemplates",
        }[obj["kind"]]
        namespace = obj["metadata"].get("namespace")
        scope = f"/namespaces/{namespace}" if namespace else ""
        async with limit:
            try:
                await request_bytes(
                    api, "POST", f"/apis/resource.k8s.io/v1{scope}/{kind}", body=obj
                )
            except ApiStatusError as error:
                if error.status != HTTP_CONFLICT:
                    raise

    async with asyncio.TaskGroup() as group:
        for obj in objects:
            group.create_task(post(obj))


HTTP_CONFLICT = 409


def _expected(options: LoadOptions, workload: str) -> int:
    if workload == CHURN:
        return round(options.churn_seconds * options.churn_jobs_per_s) * JOB_PODS
    return sum(placeable(workload, i) for i in range(options.pods))


async def wait_nodes_ready(api: ApiClient, selector: str, count: int, *, limit: float) -> None:
    """Until ``count`` nodes matching ``selector`` are Ready with no ``node.kubernetes.io/``
    taint (KWOK registered them; the node lifecycle controller lifted its not-ready taint)."""
    deadline = time.monotonic() + limit
    states: Counter[str] = Counter()
    # One list of 20,000 nodes is ~100 MB and outlasts a request timeout on two busy cores:
    # read it in pages, poll less often when it is big, and let one slow poll pass.
    pause = 2.0 if count <= 5_000 else 10.0
    while time.monotonic() < deadline:
        try:
            states = await _node_states(api, selector)
        except (TimeoutError, ApiStatusError):
            await asyncio.sleep(pause)
            continue
        if states[READY] >= count:
            return
        await asyncio.sleep(pause)
    # Say what the others are waiting for: the next run at that size starts from it.
    others = ", ".join(f"{n:,} {state}" for state, n in states.most_common() if state != READY)
    raise TimeoutError(
        f"{states[READY]:,} of {count:,} KWOK nodes Ready after {limit:.0f} s; {others or 'none'}"
    )


NODE_PAGE = 1_000


async def _node_states(api: ApiClient, selector: str) -> Counter[str]:
    """Each matching node's ``node_state``, counted, listed a page at a time."""
    states: Counter[str] = Counter()
    token = ""
    while True:
        query: dict[str, str | int | bool] = {"labelSelector": selector, "limit": NODE_PAGE}
        if token:
            query["continue"] = token
        body = orjson.loads(
            await request_bytes(api, "GET", "/api/v1/nodes", query=query, timeout=120.0)
        )
        states.update(node_state(node) for node in body["items"])
        token = (body.get("metadata") or {}).get("continue") or ""
        if not token:
            return states


READY = "ready"


def node_state(node: dict[str, Any]) -> str:
    """``READY`` for a node KWOK registered Ready and the node lifecycle controller left
    untainted; else what it lacks ("no Ready condition", "Ready=False", "tainted <key>")."""
    status = node.get("status") or {}
    spec = node.get("spec") or {}
    conditions = status.get("conditions") or []
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), None)
    if ready is None:
        return "no Ready condition"
    if ready != "True":
        return f"Ready={ready}"
    for taint in spec.get("taints") or []:
        if str(taint.get("key", "")).startswith("node.kubernetes.io/"):
            return f"tainted {taint['key']}"
    return READY


async def _idle_cpu(cluster: LocalCluster, *, seconds: float) -> float:
    if cluster.process is None:
        return math.nan
    before = usage(cluster.process.pid).cpu_seconds
    await asyncio.sleep(seconds)
    return (usage(cluster.process.pid).cpu_seconds - before) / seconds


@dataclass(slots=True)
class _Companions:
    """CPU seconds of the cluster's own processes, read before and after a case."""

    pids: dict[str, int]
    before: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, cluster: LocalCluster) -> _Companions:
        servers: dict[str, LocalServer | None] = {"apiserver": cluster}
        if isinstance(cluster, LiveCluster):
            servers["kwok"] = cluster.kwok
            servers["controller_manager"] = cluster.controller_manager
        return cls(
            {
                name: server.process.pid
                for name, server in servers.items()
                if server is not None and server.process is not None
            }
        )

    def start(self) -> None:
        self.before = {name: usage(pid).cpu_seconds for name, pid in self.pids.items()}

    def spent(self) -> dict[str, float]:
        return {
            name: usage(pid).cpu_seconds - self.before.get(name, math.nan)
            for name, pid in self.pids.items()
        }


@dataclass(slots=True)
class _Case:
    """What one case works with, besides its result."""

    api: ApiClient
    result: CaseResult
    server: LocalServer
    namespace: str
    common: dict[str, Any]  # namespace, scheduler_name, node_selector of every pod
    pods: list[dict[str, Any]]
    options: LoadOptions
    times: CaseTimes = field(default_factory=CaseTimes)


def case_namespace(run_id: str, case: CaseResult) -> str:
    """The namespace of ``case``: its own in each round, as the last round's may still be
    being deleted (the namespace controller empties it first)."""
    name = f"bench-{run_id}-{case.scheduler}-{case.workload}-{case.mode}-r{case.round + 1}"
    return name.replace("_", "-")


async def _run_case(
    api: ApiClient,
    cluster: LiveCluster,
    case: CaseResult,
    labels: dict[str, str],
    run_id: str,
    options: LoadOptions,
    binaries: Binaries | None,
    progress: Progress | None,
) -> None:
    namespace = case_namespace(run_id, case)
    scheduler_name = f"bench-{case.scheduler}-{run_id}"
    await request_bytes(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    server = scheduler_process(
        case.scheduler,
        cluster,
        scheduler_name,
        labels,
        options.limits,
        binaries,
        ceiling_pods=ceiling_selector(case.workload),
        unplaceable_pods=unplaceable_selector(case.workload),
    )
    common: dict[str, Any] = {
        "namespace": namespace,
        "scheduler_name": scheduler_name,
        "node_selector": labels,
    }
    pods = []
    if case.workload != CHURN:
        pods = [
            bench_pod(case.workload, i, nodes=options.nodes, **common) for i in range(options.pods)
        ]
        case.unplaceable = sum(not placeable(case.workload, i) for i in range(options.pods))
    for pod_group in bench_pod_groups(case.workload, options.pods, namespace=namespace):
        await create_workload_pod_group(api, pod_group)
    await create_objects(api, bench_claim_templates(case.workload, namespace=namespace))
    run = _Case(api, case, server, namespace, common, pods, options)
    companions = _Companions.of(cluster)
    task = progress.add_task(case.title, total=case.pods) if progress is not None else None
    case.load_start = os.getloadavg()[0]
    try:
        async with asyncio.TaskGroup() as group:
            opened = asyncio.Event()
            watcher = group.create_task(
                record_bindings(
                    api, namespace, run.times, opened, note_creation=case.workload == CHURN
                )
            )
            await opened.wait()
            clock_start, before, creator = await _begin(run, group, companions)
            deadline = clock_start + options.case_timeout
            while _bound_placeable(run.times, case) < case.pods and time.monotonic() < deadline:
                if progress is not None and task is not None:
                    progress.update(task, completed=_bound_placeable(run.times, case))
                await asyncio.sleep(0.1)
            if case.unplaceable:
                # Long enough for a scheduler that binds what it should not to show it.
                await asyncio.sleep(1.0)
            assert server.process is not None
            after = usage(server.process.pid)
            spent = companions.spent()
            watcher.cancel()
            if creator is not None and not creator.done():
                creator.cancel()
    except* OSError as gone:  # the scheduler's process is gone (/proc/<pid> unreadable)
        case.status, case.note = "failed", f"scheduler process: {gone.exceptions[0]}"
    else:
        _summarise(case, run.times, before, after, clock_start=clock_start)
        case.apiserver_cpu_seconds = spent.get("apiserver", math.nan)
        case.kwok_cpu_seconds = spent.get("kwok", math.nan)
        case.controller_manager_cpu_seconds = spent.get("controller_manager", math.nan)
    finally:
        case.load_end = os.getloadavg()[0]
        await asyncio.to_thread(server.stop)
        if progress is not None and task is not None:
            progress.update(task, completed=len(run.times.bound), visible=False)
        await delete_namespace(api, namespace)


async def _begin(
    run: _Case, group: asyncio.TaskGroup, companions: _Companions
) -> tuple[float, Usage, asyncio.Task[Any] | None]:
    """Creates the case's pods and starts its scheduler, in the mode's order; returns the
    case's clock start, the scheduler's usage then, and the task still creating (if any)."""
    case, server, options = run.result, run.server, run.options
    if case.mode == BACKLOG:
        # Every pod pending before the scheduler exists: what is measured is its drain.
        await create_pods(
            run.api,
            run.namespace,
            run.pods,
            rate=None,
            concurrency=options.create_concurrency,
            times=run.times,
        )
        if case.workload == DRA:
            # The controller-manager makes each pod's claim from its template: the drain starts
            # once they all exist, so it times the scheduler, not the controller.
            started = time.monotonic()
            await wait_claims(run.api, run.namespace, len(run.pods), limit=options.case_timeout)
            case.claims_seconds = time.monotonic() - started
        companions.start()
        clock_start = time.monotonic()
        await server.start_async()
        case.scheduler_start_seconds = time.monotonic() - clock_start
        return clock_start, Usage(0.0, 0.0, 0.0), None  # the process's whole life is the case
    started = time.monotonic()
    await server.start_async()
    case.scheduler_start_seconds = time.monotonic() - started
    assert server.process is not None
    companions.start()
    before = usage(server.process.pid)
    clock_start = time.monotonic()
    creating: Coroutine[Any, Any, Any]
    if case.workload == CHURN:
        jobs = [
            bench_job(i, run_for=options.churn_run_for, **run.common)
            for i in range(case.pods // JOB_PODS)
        ]
        creating = create_jobs(
            run.api,
            run.namespace,
            jobs,
            rate=options.churn_jobs_per_s,
            concurrency=options.create_concurrency,
            errors=run.times.create_errors,
        )
    else:
        creating = create_pods(
            run.api,
            run.namespace,
            run.pods,
            rate=options.rate if case.mode == RATE else None,
            concurrency=options.create_concurrency,
            times=run.times,
        )
    return clock_start, before, group.create_task(creating)


async def wait_claims(api: ApiClient, namespace: str, count: int, *, limit: float) -> None:
    """Until ``namespace`` holds ``count`` ResourceClaims (or ``limit`` seconds passed)."""
    deadline = time.monotonic() + limit
    path = f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims"
    while time.monotonic() < deadline:
        listed = orjson.loads(await request_bytes(api, "GET", path))
        if len(listed["items"]) >= count:
            return
        await asyncio.sleep(1.0)


def _bound_placeable(times: CaseTimes, case: CaseResult) -> int:
    if not case.unplaceable:
        return len(times.bound)
    return sum(1 for name in times.bound if not _is_unplaceable_name(case, name))


def _is_unplaceable_name(case: CaseResult, name: str) -> bool:
    index = int(name.rsplit("-", 1)[1])
    return not placeable(case.workload, index)


def _summarise(
    case: CaseResult, times: CaseTimes, before: Usage, after: Usage, *, clock_start: float
) -> None:
    """Rates and latencies by mode (DEFINITIONS in e2e_report)."""
    names = [n for n in times.bound if not (case.unplaceable and _is_unplaceable_name(case, n))]
    case.unplaceable_bound = len(times.bound) - len(names)
    if case.mode == BACKLOG:
        # From the scheduler's launch: its start (listing the cluster) is part of draining.
        latencies = sorted((times.bound[n] - clock_start) * 1000 for n in names)
    else:
        latencies = sorted(
            (times.bound[n] - times.created[n]) * 1000 for n in names if n in times.created
        )
    case.bound = len(latencies)
    notes = []
    if case.bound < case.pods:
        case.status = "incomplete"
        notes.append(f"{case.bound:,} of {case.pods:,} bound before the case timeout")
    if case.unplaceable_bound:
        case.status = "incomplete"
        notes.append(f"{case.unplaceable_bound:,} pods no node can take were bound")
    if times.create_errors:
        notes.append(f"{len(times.create_errors):,} not created ({times.create_errors[0]})")
    case.note = "; ".join(notes)
    if times.created:
        case.create_seconds = max(times.created.values()) - min(times.created.values())
    bound_at = sorted(times.bound[n] for n in names)
    if bound_at:
        if case.mode == BACKLOG:
            case.seconds = bound_at[-1] - clock_start
            drain = bound_at[-1] - bound_at[0]
            # All seen at once (a few pods, one watch chunk): no drain to time but the start's.
            case.pods_per_s = (
                (len(bound_at) - 1) / drain if drain > 0 else len(bound_at) / case.seconds
            )
        else:
            first = min(times.created.values()) if times.created else clock_start
            case.seconds = bound_at[-1] - first
            case.pods_per_s = len(bound_at) / case.seconds if case.seconds > 0 else math.nan
    case.latency_ms_p50 = percentile(latencies, 50)
    case.latency_ms_p90 = percentile(latencies, 90)
    case.latency_ms_p99 = percentile(latencies, 99)
    case.latency_ms_max = latencies[-1] if latencies else math.nan
    case.cpu_seconds = after.cpu_seconds - before.cpu_seconds
    case.rss_mib = after.rss_mib
    case.peak_rss_mib = after.peak_rss_mib
