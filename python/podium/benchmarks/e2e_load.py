"""The end-to-end load benchmark (issue 8): one apiserver, N fake nodes, and each scheduler in
turn (the bind ceiling, kube-scheduler, podium) given the same pods, created at a fixed rate and
as one burst. Per scheduler and workload: pods/s, creation→bound latency, CPU seconds and RSS
of the scheduler's process.

``podium bench load --help``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podium.benchmarks.core import machine_info
from podium.benchmarks.e2e_pods import CaseTimes, create_pods, delete_namespace, record_bindings
from podium.benchmarks.e2e_schedulers import (
    SCHEDULERS,
    TITLES,
    ClientLimits,
    scheduler_process,
)
from podium.benchmarks.e2e_workloads import (
    PODIUM_ONLY_WORKLOADS,
    WORKLOADS,
    bench_node,
    bench_pod,
    bench_pod_groups,
    runs,
)
from podium.benchmarks.procstat import Usage, usage
from podium.benchmarks.stats import percentile
from podium.kubeclient import api_client
from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.crds import install_crds
from podium.testing.nodes import create_nodes, delete_nodes
from podium.testing.podgroups import create_pod_group

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient
    from rich.progress import Progress

    from podium.testing.binaries import Binaries

BENCH_LABEL = "podium.dev/bench"
MODES = ("rate", "burst")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    nodes: int = 5_000
    pods: int = 1_000  # per scheduler, workload and mode
    rate: float = 200.0  # pods/s created in "rate" mode
    workloads: tuple[str, ...] = WORKLOADS
    modes: tuple[str, ...] = MODES
    schedulers: tuple[str, ...] = SCHEDULERS
    create_concurrency: int = 64  # creation requests in flight
    case_timeout: float = 180.0  # seconds from the first creation before a case gives up
    limits: ClientLimits = field(default_factory=ClientLimits)


@dataclass(slots=True)
class CaseResult:
    scheduler: str
    workload: str
    mode: str
    pods: int
    bound: int = 0
    status: str = "ok"  # ok | incomplete | failed
    note: str = ""
    create_seconds: float = math.nan  # first creation to last creation
    seconds: float = math.nan  # first creation to last binding seen
    pods_per_s: float = math.nan
    latency_ms_p50: float = math.nan
    latency_ms_p90: float = math.nan
    latency_ms_p99: float = math.nan
    latency_ms_max: float = math.nan
    cpu_seconds: float = math.nan
    rss_mib: float = math.nan
    peak_rss_mib: float = math.nan

    @property
    def title(self) -> str:
        return f"{TITLES.get(self.scheduler, self.scheduler)} · {self.workload} · {self.mode}"


@dataclass(slots=True)
class LoadReport:
    options: LoadOptions
    started: str
    machine: dict[str, str | int]
    node_create_seconds: float = math.nan
    scheduler_start_seconds: dict[str, float] = field(default_factory=dict)
    cases: list[CaseResult] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # scheduler -> why its turn ended


Say = Callable[[str], None]


async def run_load(
    options: LoadOptions,
    *,
    cluster: LocalCluster | None = None,
    binaries: Binaries | None = None,
    progress: Progress | None = None,
    say: Say = lambda _: None,
) -> LoadReport:
    """Runs every case; on ``cluster`` if given (its other nodes and pods are left alone),
    else on a fresh ``LocalCluster``."""
    report = LoadReport(
        options=options, started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), machine=machine_info()
    )
    run_id = uuid.uuid4().hex[:8]
    labels = {BENCH_LABEL: run_id}
    async with contextlib.AsyncExitStack() as stack:
        if cluster is None:
            say("starting the local apiserver")
            cluster = await stack.enter_async_context(LocalCluster(binaries=binaries))
        api = await api_client(cluster.kubeconfig, qps=0.0, burst=options.create_concurrency)
        stack.push_async_callback(api.close)
        say(f"creating {options.nodes:,} nodes")
        started = time.monotonic()
        stack.push_async_callback(delete_nodes, api, f"{BENCH_LABEL}={run_id}")
        await create_nodes(
            api, (bench_node(i, labels) for i in range(options.nodes)), concurrency=64
        )
        report.node_create_seconds = time.monotonic() - started
        if PODIUM_ONLY_WORKLOADS & set(options.workloads):
            async with asyncio.timeout(60):
                await install_crds(api)
        overall = None
        if progress is not None:
            pairs = [(k, w) for k in options.schedulers for w in options.workloads if runs(k, w)]
            total = len(pairs) * len(options.modes)
            overall = progress.add_task("all cases", total=total)
        for kind in options.schedulers:
            scheduler_name = f"bench-{kind}-{run_id}"
            server = scheduler_process(
                kind, cluster, scheduler_name, labels, options.limits, binaries
            )
            say(f"starting {TITLES[kind]}")
            started = time.monotonic()
            try:
                await server.start_async()
                report.scheduler_start_seconds[kind] = time.monotonic() - started
                assert server.process is not None
                for workload in (w for w in options.workloads if runs(kind, w)):
                    for mode in options.modes:
                        case = CaseResult(kind, workload, mode, options.pods)
                        await _run_case(
                            api,
                            case,
                            server.process.pid,
                            scheduler_name,
                            labels,
                            run_id,
                            options,
                            progress,
                        )
                        report.cases.append(case)
                        say(
                            f"{case.title}: {case.bound:,}/{case.pods:,} bound, "
                            f"{case.pods_per_s:,.0f} pods/s, p99 {case.latency_ms_p99:,.0f} ms, "
                            f"CPU {case.cpu_seconds:.1f} s"
                        )
                        if overall is not None and progress is not None:
                            progress.advance(overall)
            except Exception as error:  # one scheduler's failure ends its turn, not the run
                report.failures[kind] = repr(error)
                say(f"{TITLES[kind]} failed: {error!r}")
            finally:
                await asyncio.to_thread(server.stop)
    report.machine["load_average_end"] = f"{os.getloadavg()[0]:.2f}"
    return report


async def _run_case(
    api: ApiClient,
    case: CaseResult,
    pid: int,
    scheduler_name: str,
    labels: dict[str, str],
    run_id: str,
    options: LoadOptions,
    progress: Progress | None,
) -> None:
    namespace = f"bench-{run_id}-{case.scheduler}-{case.workload}-{case.mode}"
    await request_bytes(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    pods = [
        bench_pod(
            case.workload,
            i,
            namespace=namespace,
            scheduler_name=scheduler_name,
            node_selector=labels,
            nodes=options.nodes,
        )
        for i in range(case.pods)
    ]
    for pod_group in bench_pod_groups(case.workload, case.pods, namespace=namespace):
        await create_pod_group(api, pod_group)
    times = CaseTimes()
    task = progress.add_task(case.title, total=case.pods) if progress is not None else None
    try:
        async with asyncio.TaskGroup() as group:
            opened = asyncio.Event()
            watcher = group.create_task(record_bindings(api, namespace, times, opened))
            await opened.wait()
            before = usage(pid)
            creator = group.create_task(
                create_pods(
                    api,
                    namespace,
                    pods,
                    rate=options.rate if case.mode == "rate" else None,
                    concurrency=options.create_concurrency,
                    times=times,
                )
            )
            deadline = time.monotonic() + options.case_timeout
            while len(times.bound) < case.pods and time.monotonic() < deadline:
                if progress is not None and task is not None:
                    progress.update(task, completed=len(times.bound))
                await asyncio.sleep(0.1)
            after = usage(pid)
            watcher.cancel()
            if not creator.done():
                creator.cancel()
    except* OSError as gone:  # the scheduler's process is gone (/proc/<pid> unreadable)
        case.status, case.note = "failed", f"scheduler process: {gone.exceptions[0]}"
    else:
        _summarise(case, times, before, after)
    finally:
        if progress is not None and task is not None:
            progress.update(task, completed=len(times.bound), visible=False)
        await delete_namespace(api, namespace)


def _summarise(case: CaseResult, times: CaseTimes, before: Usage, after: Usage) -> None:
    latencies = sorted(
        (times.bound[name] - times.created[name]) * 1000
        for name in times.bound
        if name in times.created
    )
    case.bound = len(latencies)
    if case.bound < case.pods:
        case.status = "incomplete"
        case.note = f"{case.bound:,} of {case.pods:,} bound before the case timeout"
        if times.create_errors:
            case.note += f"; {len(times.create_errors):,} not created ({times.create_errors[0]})"
    if times.created:
        first = min(times.created.values())
        case.create_seconds = max(times.created.values()) - first
        if times.bound:
            case.seconds = max(times.bound.values()) - first
            case.pods_per_s = case.bound / case.seconds if case.seconds > 0 else math.nan
    case.latency_ms_p50 = percentile(latencies, 50)
    case.latency_ms_p90 = percentile(latencies, 90)
    case.latency_ms_p99 = percentile(latencies, 99)
    case.latency_ms_max = latencies[-1] if latencies else math.nan
    case.cpu_seconds = after.cpu_seconds - before.cpu_seconds
    case.rss_mib = after.rss_mib
    case.peak_rss_mib = after.peak_rss_mib
