"""``podium bench tracing``: what tracing costs the scheduling cycle, off vs ratio 0.01 vs 1.0.

The measured path is the scheduler's own cycle (``podium.scheduler.Scheduler.schedule_batch``:
snapshot, ``Snapshot.schedule`` on the core's thread, then per decision assume, the hand-off to
binding, metrics, the decision span and its filter/score/placement children) over the core
benchmark's generated cluster. Binding itself is left out: a bind is an HTTP request whose span is
noise next to it. With tracing on, spans go through the real pipeline (``BatchSpanProcessor`` →
``OTLPSpanExporter`` → OTLP/HTTP) to a receiver in another process (``otlp_sink``), so encoding
and sending count, as they would in production.

Modes run interleaved, round after round, on the same cluster (every assumption is forgotten
after a round); each round's modes are compared with each other (the load of a shared machine
drifts between rounds far more than within one) and the median over rounds is reported.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from podium._core import ClusterState, Kind, PendingPod, Profile
from podium.benchmarks.load import load_kind
from podium.benchmarks.profiles import default_profile
from podium.benchmarks.synthetic import (
    SCHEDULER_NAME,
    ClusterShape,
    bound_pods,
    list_pages,
    node_objects,
    pending_object,
    pending_records,
    plan_cluster,
    watch_lines,
)
from podium.metrics import Metrics
from podium.scheduler import CycleOptions, Scheduler
from podium.testing.ports import free_ports
from podium.testing.process import ProcessGroup
from podium.tracing import Tracing, TracingOptions

# (label, sampling ratio); None: no endpoint, the no-op tracer podium runs with by default.
MODES: tuple[tuple[str, float | None], ...] = (("off", None), ("0.01", 0.01), ("1.0", 1.0))

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class TracingBenchOptions:
    nodes: int = 1_000
    pods: int = 10_000
    pods_per_node: int = 30
    # Smaller than the scheduler's 256: more cycles, so ratio 0.01 samples some of them.
    batch_size: int = 64
    rounds: int = 5
    workload: str = "plain"
    seed: int = 1


@dataclass(slots=True)
class ModeResult:
    mode: str
    sampling_ratio: float | None
    decisions_per_s: list[float] = field(default_factory=list)  # wall clock
    decisions_per_cpu_s: list[float] = field(default_factory=list)
    exported_spans: int = 0
    median_decisions_per_s: float = 0.0
    median_decisions_per_cpu_s: float = 0.0
    # Against "off" in the same round, median over rounds; by CPU time, and by wall time
    # (noisier on a shared machine).
    overhead_percent: float = 0.0
    wall_overhead_percent: float = 0.0
    # The same in absolute terms: CPU that tracing adds to each decision.
    overhead_cpu_us_per_decision: float = 0.0


@dataclass(slots=True)
class TracingReport:
    options: TracingBenchOptions
    started: str
    load_average_start: float
    load_average_end: float = 0.0
    decided_per_round: int = 0
    modes: list[ModeResult] = field(default_factory=list)


class _Queue:
    """The queue as the cycle sees it; pods are handed over directly."""

    def requeue(
        self, pod: PendingPod, unschedulable: bool, *, gang_incomplete: bool = False
    ) -> None:
        return

    def in_flight(self, uid: str) -> bool:
        return False

    async def pop_batch(self, max_pods: int, wait: float) -> list[PendingPod]:
        raise NotImplementedError("the benchmark calls schedule_batch itself")


class _Binder:
    def submit(self, decision: object, pod: PendingPod) -> bool:
        return True


class _Failures:
    def unschedulable(self, pod: PendingPod, message: str) -> None:
        return


def _load(options: TracingBenchOptions) -> tuple[ClusterState, list[PendingPod]]:
    cluster = plan_cluster(
        ClusterShape(nodes=options.nodes, pods_per_node=options.pods_per_node, seed=options.seed)
    )
    state = ClusterState([SCHEDULER_NAME])
    load_kind(state, Kind.NODE, list_pages("Node", node_objects(cluster)))
    load_kind(state, Kind.POD, list_pages("Pod", bound_pods(cluster)))
    records = pending_records(cluster, options.workload, options.pods)
    objects = (pending_object(r, 10_000_000 + i) for i, r in enumerate(records))
    for line in watch_lines("Pod", objects):
        state.apply_event(Kind.POD, line)
    by_uid = {pod.uid: pod for pod in state.pending()}
    return state, [by_uid[r.uid] for r in records if r.uid in by_uid]


async def _round(
    state: ClusterState, pods: list[PendingPod], profile: Profile, tracing: Tracing, batch: int
) -> tuple[float, float, int]:
    """One pass over ``pods``; returns (decisions per wall second, decisions per CPU second,
    pods decided), then forgets every placement so the next round starts from the same cluster.

    CPU time is the whole process's (the core's threads, the exporter's) up to the flush of the
    round's spans: on a shared machine it moves far less with the load than wall time does."""
    scheduler = Scheduler(
        state=state,
        queue=_Queue(),
        binder=_Binder(),
        failures=_Failures(),
        profiles={SCHEDULER_NAME: profile},
        metrics=Metrics(),
        tracer=tracing.tracer,
        options=CycleOptions(batch_size=batch),
    )
    decided = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    for first in range(0, len(pods), batch):
        result = await scheduler.schedule_batch(pods[first : first + batch], time.time_ns())
        decided += result.scheduled + result.unschedulable + result.errors
    elapsed = time.perf_counter() - started
    tracing.shutdown()  # flushes: sending this round's spans is part of its cost
    cpu = time.process_time() - cpu_started
    for pod in pods:
        if state.is_assumed(pod.uid):
            state.forget(pod.uid)
    return decided / elapsed, decided / cpu, decided


def _sink_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        stats: dict[str, int] = orjson.loads(response.read())
    return stats


def _start_sink(workdir: Path) -> tuple[ProcessGroup, str]:
    (port,) = free_ports(1)
    sink = ProcessGroup(
        [sys.executable, "-m", "podium.benchmarks.otlp_sink", str(port)], workdir / "sink.log"
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _sink_stats(url)
        except OSError:
            if time.monotonic() > deadline or sink.poll() is not None:
                sink.stop()
                raise RuntimeError(f"OTLP sink did not start: {sink.log_tail()}") from None
            time.sleep(0.1)
        else:
            return sink, url


def run_tracing_benchmark(
    options: TracingBenchOptions, progress: Progress = lambda _: None
) -> TracingReport:
    report = TracingReport(
        options=options,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        load_average_start=os.getloadavg()[0],
    )
    progress(f"generating {options.nodes:,} nodes and {options.pods:,} {options.workload} pods")
    state, pods = _load(options)
    profile = Profile(default_profile().spec)
    results = {label: ModeResult(label, ratio) for label, ratio in MODES}
    with tempfile.TemporaryDirectory(prefix="podium-bench-tracing-") as tmp:
        sink, url = _start_sink(Path(tmp))
        try:
            for number in range(options.rounds):
                for label, ratio in MODES:
                    tracing = Tracing(
                        TracingOptions(
                            endpoint=None if ratio is None else f"{url}/v1/traces",
                            sampling_ratio=1.0 if ratio is None else ratio,
                        ),
                        exporter=None if ratio is None else OTLPSpanExporter(f"{url}/v1/traces"),
                    )
                    before = _sink_stats(url)["spans"]
                    rate, cpu_rate, decided = asyncio.run(
                        _round(state, pods, profile, tracing, options.batch_size)
                    )
                    results[label].decisions_per_s.append(rate)
                    results[label].decisions_per_cpu_s.append(cpu_rate)
                    results[label].exported_spans += _sink_stats(url)["spans"] - before
                    report.decided_per_round = decided
                    progress(
                        f"round {number + 1}/{options.rounds} {label:>4}: {rate:,.0f}/s, "
                        f"{cpu_rate:,.0f}/CPU-s"
                    )
        finally:
            sink.stop()
    off = results["off"]
    for result in results.values():
        result.median_decisions_per_s = statistics.median(result.decisions_per_s)
        result.median_decisions_per_cpu_s = statistics.median(result.decisions_per_cpu_s)
        # Each round ran the modes back to back, under the same load: compare within rounds.
        result.overhead_percent = _median_overhead(
            off.decisions_per_cpu_s, result.decisions_per_cpu_s
        )
        result.wall_overhead_percent = _median_overhead(off.decisions_per_s, result.decisions_per_s)
        result.overhead_cpu_us_per_decision = statistics.median(
            (1 / traced - 1 / plain) * 1e6
            for plain, traced in zip(
                off.decisions_per_cpu_s, result.decisions_per_cpu_s, strict=True
            )
        )
    report.modes = list(results.values())
    report.load_average_end = os.getloadavg()[0]
    return report


def _median_overhead(plain: list[float], traced: list[float]) -> float:
    """Median over rounds of how much slower the traced rate was than the plain one, in %."""
    return statistics.median((p / t - 1.0) * 100.0 for p, t in zip(plain, traced, strict=True))


def write_report(report: TracingReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"tracing-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_bytes(orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2))
    return path


def format_report(report: TracingReport) -> str:
    o = report.options
    lines = [
        f"tracing overhead: {o.nodes:,} nodes, {report.decided_per_round:,} {o.workload} pods per "
        f"round, batches of {o.batch_size}, {o.rounds} rounds; load average "
        f"{report.load_average_start:.1f} → {report.load_average_end:.1f}",
        f"{'mode':>6} {'decisions/CPU-s':>16} {'overhead':>9} {'CPU µs/decision':>16} "
        f"{'decisions/s':>12} {'(wall)':>8} {'spans exported':>15}",
    ]
    for m in report.modes:
        lines.append(
            f"{m.mode:>6} {m.median_decisions_per_cpu_s:>16,.0f} {m.overhead_percent:>8.1f}% "
            f"{m.overhead_cpu_us_per_decision:>16.1f} {m.median_decisions_per_s:>12,.0f} "
            f"{m.wall_overhead_percent:>7.1f}% {m.exported_spans:>15,}"
        )
    return "\n".join(lines)
