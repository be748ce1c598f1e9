"""The GPU replay with DRA (``podium bench gpu --dra``, issue 17): a seeded stream of 1/2/4/8-GPU
jobs, each asking its GPUs and RDMA NICs through a ResourceClaimTemplate (each GPU pair with its
NIC on one PCIe root, ``matchAttribute``), replayed in real time against kube-scheduler and
podium in turn, on one apiserver with kube-controller-manager (it makes each pod's claim from
its template, and releases the claims of the pods that finish).

The nodes are static (no kubelet: a bound pod stays bound until the replay deletes it) and each
has a GPU driver's ResourceSlice (8 GPUs, two a PCIe root) and an RDMA NIC driver's (4 NICs, one a
root), the slices ``podium bench load``'s DRA workload publishes. A job of g GPUs takes
``ceil(g / 2)`` roots' NICs, so a 1-GPU job leaves its root's second GPU without a NIC: what a
node can still take is counted in free roots.

Each step (``step_seconds`` of wall time) the replay deletes the pods whose run ended (a job runs
``duration`` steps from the step its binding was seen), then creates the step's arrivals. The
pods that wait are the scheduler's to retry. Figures per scheduler: jobs placed by size (8-GPU
ones on the step they arrived, at all, and their mean wait), whole nodes free, GPUs stranded
(free on nodes where none of the waiting sizes fits), jobs waiting, and the scheduler's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from podium.benchmarks.core import machine_info
from podium.benchmarks.dra_workloads import CLAIM_NAME
from podium.benchmarks.e2e_load import create_objects
from podium.benchmarks.e2e_pods import delete_namespace
from podium.benchmarks.e2e_schedulers import (
    KUBE_SCHEDULER,
    PODIUM,
    TITLES,
    ClientLimits,
    scheduler_process,
)
from podium.benchmarks.e2e_workloads import (
    DRA,
    bench_claim_templates,
    bench_node_name,
    dra_cluster_objects,
)
from podium.benchmarks.gpu_packing import SIZE_WEIGHTS, SIZES, write_json
from podium.benchmarks.podwatch import watch
from podium.benchmarks.procstat import usage
from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.live_cluster import LiveCluster
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.testing.binaries import Binaries

SCHEDULERS = (KUBE_SCHEDULER, PODIUM)
GPUS_PER_NODE = 8
ROOTS_PER_NODE = 4
WHOLE_NODE = 8
REPLAY_LABEL = "podium.dev/gpu-replay"

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    nodes: int = 48
    steps: int = 75
    step_seconds: float = 4.0
    # Offered load: PCIe roots the arriving jobs would hold at steady state, as a share of all.
    load: float = 1.15
    mean_duration: float = 12.0  # steps a job runs, exponential
    seed: int = 1
    schedulers: tuple[str, ...] = SCHEDULERS


@dataclass(frozen=True, slots=True)
class ReplayJob:
    index: int
    gpus: int
    arrival: int
    duration: int

    @property
    def name(self) -> str:
        return f"job-{self.index:05d}-{self.gpus}gpu"

    @property
    def roots(self) -> int:
        return roots_of(self.gpus)


def roots_of(gpus: int) -> int:
    """PCIe roots a job of ``gpus`` GPUs takes: one NIC per GPU pair, at least one."""
    return max(1, -(-gpus // 2))


def job_stream(options: ReplayOptions) -> list[ReplayJob]:
    """Seeded Poisson arrivals per step, sizes 1/2/4/8 (40/25/20/15%), exponential durations,
    at ``load`` of the cluster's PCIe roots."""
    rng = random.Random(options.seed)
    mean_roots = sum(roots_of(s) * w for s, w in zip(SIZES, SIZE_WEIGHTS, strict=True))
    rate = options.load * options.nodes * ROOTS_PER_NODE / (mean_roots * options.mean_duration)
    jobs: list[ReplayJob] = []
    for step in range(options.steps):
        arrivals, threshold, product = 0, math.exp(-rate), rng.random()
        while product > threshold:
            arrivals += 1
            product *= rng.random()
        for _ in range(arrivals):
            gpus = rng.choices(SIZES, SIZE_WEIGHTS)[0]
            duration = max(1, round(rng.expovariate(1 / options.mean_duration)))
            jobs.append(ReplayJob(len(jobs), gpus, step, duration))
    return jobs


def stranded_gpus(free_roots: list[int], free_gpus: list[int], waiting: list[int]) -> int:
    """Free GPUs on nodes where none of the ``waiting`` job sizes fits (by free roots)."""
    if not waiting:
        return 0
    smallest = min(roots_of(g) for g in waiting)
    return sum(g for r, g in zip(free_roots, free_gpus, strict=True) if g and r < smallest)


@dataclass(slots=True)
class SchedulerReplay:
    scheduler: str
    jobs: int = 0
    arrived_by_size: dict[int, int] = field(default_factory=dict)
    placed_by_size: dict[int, int] = field(default_factory=dict)
    on_arrival_by_size: dict[int, int] = field(default_factory=dict)
    eight_gpu_wait_steps: int = 0
    whole_nodes_free: list[int] = field(default_factory=list)
    stranded: list[int] = field(default_factory=list)
    partial_free_while_8_waits: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    busy_gpus: list[int] = field(default_factory=list)
    lagging_steps: int = 0  # steps that began late (the bench's own loop fell behind)
    cpu_seconds: float = math.nan
    peak_rss_mib: float = math.nan
    create_errors: int = 0
    load_start: float = math.nan
    load_end: float = math.nan
    status: str = "ok"
    note: str = ""

    def summary(self, gpus_total: int) -> dict[str, Any]:
        eight_placed = self.placed_by_size.get(WHOLE_NODE, 0)
        eight = self.arrived_by_size.get(WHOLE_NODE, 0)
        return {
            "scheduler": self.scheduler,
            "jobs": self.jobs,
            "placed": sum(self.placed_by_size.values()),
            "placed_by_size": {str(k): v for k, v in sorted(self.placed_by_size.items())},
            "arrived_by_size": {str(k): v for k, v in sorted(self.arrived_by_size.items())},
            "eight_gpu_jobs": eight,
            "eight_gpu_placed": eight_placed,
            "eight_gpu_placed_on_arrival": self.on_arrival_by_size.get(WHOLE_NODE, 0),
            "eight_gpu_mean_wait_steps": self.eight_gpu_wait_steps / eight_placed
            if eight_placed
            else math.nan,
            "small_jobs_placed": sum(self.placed_by_size.values()) - eight_placed,
            "mean_whole_nodes_free": _mean(self.whole_nodes_free),
            "mean_gpus_stranded": _mean(self.stranded),
            "mean_partial_node_gpus_free_while_8gpu_waits": _mean(self.partial_free_while_8_waits),
            "mean_jobs_waiting": _mean(self.waiting),
            "gpu_utilisation": _mean(self.busy_gpus) / gpus_total if gpus_total else math.nan,
            "lagging_steps": self.lagging_steps,
            "cpu_seconds": self.cpu_seconds,
            "peak_rss_mib": self.peak_rss_mib,
            "create_errors": self.create_errors,
            "load_start": self.load_start,
            "load_end": self.load_end,
            "status": self.status,
            "note": self.note,
        }


def _mean(values: list[int]) -> float:
    return statistics.fmean(values) if values else math.nan


@dataclass(slots=True)
class _Running:
    """The replay's view of one scheduler's run: which job is where, since which step."""

    jobs: dict[str, ReplayJob]
    bound: dict[str, tuple[str, float]] = field(default_factory=dict)  # name -> node, seen at
    placed_at: dict[str, int] = field(default_factory=dict)  # name -> step
    finished: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)


async def run_replay(
    options: ReplayOptions,
    *,
    binaries: Binaries | None = None,
    say: Say = lambda _: None,
) -> dict[str, Any]:
    """Runs the replay for each scheduler on one fresh local cluster; the report."""
    jobs = job_stream(options)
    report: dict[str, Any] = {
        "options": asdict(options),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "jobs": len(jobs),
        "jobs_by_size": {str(k): v for k, v in sorted(Counter(j.gpus for j in jobs).items())},
        "results": {},
    }
    run_id = uuid.uuid4().hex[:6]
    labels = {REPLAY_LABEL: run_id}
    say("starting the local apiserver and controller-manager (static nodes, no KWOK)")
    async with contextlib.AsyncExitStack() as stack:
        cluster = await stack.enter_async_context(
            LiveCluster(binaries=binaries, kwok=False, node_lifecycle=False)
        )
        api = await api_client(cluster.kubeconfig, qps=0.0, burst=64)
        stack.push_async_callback(api.close)
        nodes = [
            make_node(bench_node_name(i), cpu="96", memory="1Ti", labels=labels)
            for i in range(options.nodes)
        ]
        await create_nodes(api, nodes, concurrency=16)
        objects = dra_cluster_objects(options.nodes)
        await create_objects(api, objects, concurrency=16)
        say(
            f"{options.nodes} nodes with GPU and NIC slices; {len(jobs)} jobs over "
            f"{options.steps} steps"
        )
        for kind in options.schedulers:
            result = await _replay_one(
                api, cluster, kind, jobs, labels, run_id, options, binaries, say
            )
            report["results"][kind] = result.summary(options.nodes * GPUS_PER_NODE)
            say(_line(report["results"][kind]))
    report["machine"]["load_average_end"] = f"{os.getloadavg()[0]:.2f}"
    report["targets"] = _targets(report["results"])
    return report


def _targets(results: dict[str, dict[str, Any]]) -> dict[str, bool]:
    if PODIUM not in results or KUBE_SCHEDULER not in results:
        return {}
    podium, kube = results[PODIUM], results[KUBE_SCHEDULER]
    return {
        "more_8gpu_claims_placed_than_kube_scheduler": podium["eight_gpu_placed"]
        > kube["eight_gpu_placed"],
    }


async def _replay_one(
    api: ApiClient,
    cluster: LiveCluster,
    kind: str,
    jobs: list[ReplayJob],
    labels: dict[str, str],
    run_id: str,
    options: ReplayOptions,
    binaries: Binaries | None,
    say: Say,
) -> SchedulerReplay:
    namespace = f"replay-{run_id}-{kind}"
    scheduler_name = f"replay-{kind}-{run_id}"
    await request_bytes(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    await create_objects(api, bench_claim_templates(DRA, namespace=namespace))
    server = scheduler_process(kind, cluster, scheduler_name, labels, ClientLimits(), binaries)
    result = SchedulerReplay(kind, jobs=len(jobs))
    running = _Running({job.name: job for job in jobs})
    arrivals: dict[int, list[ReplayJob]] = {}
    for job in jobs:
        arrivals.setdefault(job.arrival, []).append(job)
    result.load_start = os.getloadavg()[0]
    say(f"{TITLES[kind]}: starting")
    await server.start_async()
    try:
        assert server.process is not None
        before = usage(server.process.pid).cpu_seconds
        async with asyncio.TaskGroup() as group:
            opened = asyncio.Event()
            watcher = group.create_task(_record_bindings(api, namespace, running, opened))
            await opened.wait()
            start = time.monotonic()
            for step in range(options.steps + 1):
                at = start + step * options.step_seconds
                if time.monotonic() > at + options.step_seconds / 2:
                    result.lagging_steps += 1
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                _harvest(running, start, options.step_seconds, result)
                _measure(running, options.nodes, result)
                if step == options.steps:
                    break
                for name in _finishing(running, step):
                    group.create_task(_delete_pod(api, namespace, name))
                for job in arrivals.get(step, []):
                    result.arrived_by_size[job.gpus] = result.arrived_by_size.get(job.gpus, 0) + 1
                    group.create_task(
                        _create_pod(api, namespace, scheduler_name, labels, job, running, result)
                    )
                if step % 15 == 0:
                    say(
                        f"{TITLES[kind]}: step {step}/{options.steps}, "
                        f"{len(running.placed_at)} placed, waiting {result.waiting[-1]}"
                    )
            usage_after = usage(server.process.pid)
            result.cpu_seconds = usage_after.cpu_seconds - before
            result.peak_rss_mib = usage_after.peak_rss_mib
            watcher.cancel()
    except* OSError as gone:  # the scheduler's process is gone
        result.status, result.note = "failed", f"scheduler process: {gone.exceptions[0]}"
    finally:
        result.load_end = os.getloadavg()[0]
        await asyncio.to_thread(server.stop)
        await delete_namespace(api, namespace)
    return result


async def _record_bindings(
    api: ApiClient, namespace: str, running: _Running, opened: asyncio.Event
) -> None:
    async for arrived, _, pod in watch(api, f"/api/v1/namespaces/{namespace}/pods", opened=opened):
        name = pod["metadata"]["name"]
        node = pod["spec"].get("nodeName")
        if node and name not in running.bound:
            running.bound[name] = (node, arrived)


def _harvest(running: _Running, start: float, step_seconds: float, result: SchedulerReplay) -> None:
    """Places each binding seen since the last step on the step it was seen in."""
    for name, (_, seen) in running.bound.items():
        if name in running.placed_at:
            continue
        job = running.jobs[name]
        step = max(job.arrival, int((seen - start) // step_seconds))
        running.placed_at[name] = step
        result.placed_by_size[job.gpus] = result.placed_by_size.get(job.gpus, 0) + 1
        if step == job.arrival:
            result.on_arrival_by_size[job.gpus] = result.on_arrival_by_size.get(job.gpus, 0) + 1
        if job.gpus == WHOLE_NODE:
            result.eight_gpu_wait_steps += step - job.arrival


def _finishing(running: _Running, step: int) -> list[str]:
    done = [
        name
        for name, placed in running.placed_at.items()
        if name not in running.finished and placed + running.jobs[name].duration <= step
    ]
    running.finished.update(done)
    return done


def _measure(running: _Running, nodes: int, result: SchedulerReplay) -> None:
    """Per node, the roots and GPUs the running jobs hold; whole nodes free, GPUs stranded."""
    roots: Counter[str] = Counter()
    gpus: Counter[str] = Counter()
    for name in running.placed_at:
        if name in running.finished:
            continue
        job = running.jobs[name]
        node = running.bound[name][0]
        roots[node] += job.roots
        gpus[node] += job.gpus
    waiting = [running.jobs[name].gpus for name in running.created if name not in running.bound]
    names = [bench_node_name(i) for i in range(nodes)]
    free_roots = [ROOTS_PER_NODE - roots[n] for n in names]
    free_gpus = [GPUS_PER_NODE - gpus[n] for n in names]
    result.whole_nodes_free.append(sum(1 for r in free_roots if r == ROOTS_PER_NODE))
    result.stranded.append(stranded_gpus(free_roots, free_gpus, waiting))
    if WHOLE_NODE in waiting:
        result.partial_free_while_8_waits.append(
            sum(g for r, g in zip(free_roots, free_gpus, strict=True) if r < ROOTS_PER_NODE)
        )
    result.waiting.append(len(waiting))
    result.busy_gpus.append(sum(gpus.values()))


async def _create_pod(
    api: ApiClient,
    namespace: str,
    scheduler_name: str,
    labels: dict[str, str],
    job: ReplayJob,
    running: _Running,
    result: SchedulerReplay,
) -> None:
    pod = make_pod(
        job.name,
        namespace,
        scheduler_name=scheduler_name,
        node_selector=labels,
        requests={"cpu": 4 * job.gpus, "memory": f"{32 * job.gpus}Gi"},
    )
    pod["spec"]["resourceClaims"] = [
        {"name": CLAIM_NAME, "resourceClaimTemplateName": f"gpus-{job.gpus}"}
    ]
    pod["spec"]["containers"][0]["resources"]["claims"] = [{"name": CLAIM_NAME}]
    try:
        await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
    except (ApiStatusError, aiohttp.ClientError, TimeoutError):
        result.create_errors += 1
        return
    running.created.add(job.name)


async def _delete_pod(api: ApiClient, namespace: str, name: str) -> None:
    """The job ended: its pod goes at once (no kubelet to confirm), and the controller-manager
    releases its claim."""
    with contextlib.suppress(ApiStatusError, aiohttp.ClientError, TimeoutError):
        await request_bytes(
            api,
            "DELETE",
            f"/api/v1/namespaces/{namespace}/pods/{name}",
            query={"gracePeriodSeconds": 0},
        )


def _line(r: dict[str, Any]) -> str:
    return (
        f"{TITLES[r['scheduler']]}: 8-GPU placed {r['eight_gpu_placed']}/{r['eight_gpu_jobs']} "
        f"(on arrival {r['eight_gpu_placed_on_arrival']}, mean wait "
        f"{r['eight_gpu_mean_wait_steps']:.1f} steps), smaller placed {r['small_jobs_placed']}, "
        f"whole nodes free {r['mean_whole_nodes_free']:.1f}, GPUs stranded "
        f"{r['mean_gpus_stranded']:.1f}, waiting {r['mean_jobs_waiting']:.1f}, GPU use "
        f"{r['gpu_utilisation']:.1%}, CPU {r['cpu_seconds']:.1f} s, load "
        f"{r['load_start']:.1f}->{r['load_end']:.1f}"
    )


def print_report(report: dict[str, Any], out: Say = print) -> None:
    out(f"options: {report['options']}; jobs by size {report['jobs_by_size']}")
    for result in report["results"].values():
        out(_line(result))
    for target, met in report.get("targets", {}).items():
        out(f"  {target}: {'met' if met else 'MISSED'}")


def main(options: ReplayOptions, out_dir: Path, say: Say = print) -> int:
    report = asyncio.run(run_replay(options, say=say))
    print_report(report)
    print(f"wrote {write_json(report, out_dir, 'gpu-replay-dra')}")
    return 0
