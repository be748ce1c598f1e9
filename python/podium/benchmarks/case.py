"""One measurement: a generated cluster, one workload, the core deciding it batch by batch.

Runs in a fresh process (see ``isolate``) so its peak RSS is its own. The loop is the
scheduler's cycle without the queue and the binder (``podium.scheduler.Scheduler._cycle``):
snapshot → ``Snapshot.schedule(batch)`` → ``ClusterState.assume`` for each success, so the next
batch sees the placements. Pods are taken in creation order, as the queue pops equal priorities.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from podium._core import (
    ClusterState,
    Code,
    Kind,
    PluginNode,
    PluginPod,
    Profile,
    ResourceClaimReservation,
)
from podium.benchmarks.dra_workloads import claim_object, is_dra, republished_slices
from podium.benchmarks.load import LoadTiming, load_kind
from podium.benchmarks.pagefile import read_pages
from podium.benchmarks.quota_workloads import is_quota, quota_objects
from podium.benchmarks.rss import current_rss_mib, peak_rss_mib
from podium.benchmarks.stats import percentile, rate
from podium.benchmarks.synthetic import (
    SCHEDULER_NAME,
    ClusterShape,
    PendingRecord,
    list_pages,
    pending_object,
    pending_records,
    plan_cluster,
    watch_lines,
)
from podium.benchmarks.verify import verify
from podium.plugins import EnabledPlugin, PluginSet, load_plugins

if TYPE_CHECKING:
    from podium._core import ProfileSpec

Judge = Callable[[PluginPod, list[PluginNode]], Sequence[int | str]]
# How long the plugins' background tasks get to read their sources before the measurement.
_SOURCE_WARMUP_SECONDS = 0.5


class _TimedJudge:
    """The plugins' judge, timed per call."""

    def __init__(self, judge: Judge) -> None:
        self._judge = judge
        self.seconds: list[float] = []
        self.cpu_seconds = 0.0
        self.nodes = 0

    def __call__(self, pod: PluginPod, nodes: list[PluginNode]) -> Sequence[int | str]:
        started, cpu_started = time.perf_counter(), time.thread_time()
        verdicts = self._judge(pod, nodes)
        self.seconds.append(time.perf_counter() - started)
        self.cpu_seconds += time.thread_time() - cpu_started
        self.nodes += len(nodes)
        return verdicts


async def _read_sources(plugins: PluginSet) -> None:
    """Start and stop the plugins once, so their background sources (metrics) are read; the
    measurement then runs on the values read, as a live scheduler between refreshes."""
    if not plugins.backgrounds:
        return
    await plugins.start()
    await asyncio.sleep(_SOURCE_WARMUP_SECONDS)
    await plugins.stop()


@dataclass(frozen=True, slots=True)
class CaseSpec:
    shape: ClusterShape
    workload: str
    pods: int
    batch_size: int
    profile_spec: ProfileSpec
    node_pages: Path
    pod_pages: Path
    # Stop deciding after this many seconds of scheduling: the rate is measured on what was done.
    schedule_budget: float
    # Python plugins judging the nodes the core keeps (from the profile's config file).
    python_plugins: tuple[EnabledPlugin, ...] = ()
    # DRA workloads: DeviceClass pages, then ResourceSlice pages.
    dra_pages: tuple[Path, ...] = ()
    # DRA workloads: before each batch after the first, this many nodes' drivers publish their
    # slices again (a newer pool generation, the same devices), as a live cluster's do.
    slice_churn: int = 0


@dataclass(slots=True)
class Loaded:
    """The cluster state loaded from list pages, and what it took."""

    state: ClusterState
    nodes: LoadTiming
    pods: LoadTiming
    first_snapshot_seconds: float
    # Process CPU time of applying the DeviceClasses and ResourceSlices (in ``nodes`` too).
    dra_cpu_seconds: float = 0.0

    @property
    def ready_seconds(self) -> float:
        """Core time from the first page to a snapshot the scheduler can decide on."""
        return self.nodes.core_seconds + self.pods.core_seconds + self.first_snapshot_seconds


def load_cluster(node_pages: Path, pod_pages: Path, dra_pages: tuple[Path, ...] = ()) -> Loaded:
    state = ClusterState([SCHEDULER_NAME])
    nodes = load_kind(state, Kind.NODE, read_pages(node_pages))
    pods = load_kind(state, Kind.POD, read_pages(pod_pages))
    dra_cpu = 0.0
    for kind, path in zip((Kind.DEVICE_CLASS, Kind.RESOURCE_SLICE), dra_pages, strict=False):
        # Counted with the nodes: the slices describe them.
        pages = list(read_pages(path))
        c = time.process_time()
        dra = load_kind(state, kind, pages)
        dra_cpu += time.process_time() - c
        nodes.core_seconds += dra.core_seconds
        nodes.error_count += dra.error_count
        nodes.errors.extend(dra.errors[: max(0, 5 - len(nodes.errors))])
    started = time.perf_counter()
    state.snapshot()
    return Loaded(state, nodes, pods, time.perf_counter() - started, dra_cpu)


@dataclass(slots=True)
class CaseResult:
    nodes: int
    bound_pods: int
    workload: str
    # ok | unsupported | violations | error | crashed | timeout
    status: str = "ok"
    note: str = ""
    node_load: LoadTiming | None = None
    pod_load: LoadTiming | None = None
    ready_seconds: float = 0.0  # load nodes + pods from pages, first snapshot (core time)
    # DRA: process CPU time of applying the DeviceClasses and ResourceSlices (the inventory is
    # kept in step with them as they are applied), and of the slices republished between
    # batches (``slice_churn``), outside the cycle's CPU.
    dra_load_cpu_seconds: float = 0.0
    churn_slices: int = 0
    churn_apply_cpu_seconds: float = 0.0
    # Every decision in order (pod, outcome, node, message, claims' devices): equal digests,
    # equal decisions, whatever the core's build.
    decisions_sha256: str = ""
    pending_apply_seconds: float = 0.0  # the pending pods as watch ADDED lines
    requested: int = 0
    decided: int = 0
    placed: int = 0
    unschedulable: int = 0
    errors: int = 0
    # Decisions per second of the cycle (snapshot + schedule + assume), and of schedule() alone.
    decisions_per_s: float = 0.0
    core_decisions_per_s: float = 0.0
    # Per pod, as the core reports it: Decision.filter_seconds + score_seconds (microseconds).
    decision_us_p50: float = 0.0
    decision_us_p99: float = 0.0
    filter_us_p50: float = 0.0
    filter_us_p99: float = 0.0
    score_us_p50: float = 0.0
    score_us_p99: float = 0.0
    # Per pod, from the wall clock: each batch's cycle time / its size (microseconds).
    batch_us_per_pod_p50: float = 0.0
    batch_us_per_pod_p99: float = 0.0
    # Process CPU time (user + sys, every thread) of the cycle (snapshot, schedule, assume):
    # what a decision costs whatever else competes for a shared machine. The first batch apart,
    # as it pays one-off costs (e.g. DRA's inventory and fit cache), and per decision after it.
    cycle_cpu_seconds: float = 0.0
    first_batch_cpu_seconds: float = 0.0
    first_batch_pods: int = 0
    cpu_us_per_decision: float = 0.0
    cpu_us_per_decision_after_first: float = 0.0
    # Where the cycle time went (seconds, summed over batches).
    snapshot_seconds: float = 0.0
    schedule_seconds: float = 0.0
    assume_seconds: float = 0.0
    filter_seconds_sum: float = 0.0  # summed over pods: may exceed wall time when parallel
    score_seconds_sum: float = 0.0
    placed_share: float = 0.0
    mean_feasible_nodes: float = 0.0
    mean_evaluated_nodes: float = 0.0
    rss_loaded_mib: float = 0.0
    rss_end_mib: float = 0.0
    peak_rss_mib: float = 0.0
    violations: dict[str, int] = field(default_factory=dict)
    affinity_share: float | None = None
    first_unplaced_message: str = ""
    # Why pods were left without a node: pods by the reasons their nodes refused them (kube's
    # FailedScheduling reasons without the node counts, sorted), and the last such diagnosis in
    # full (with the node counts: where a deep queue ends up). A case that places fewer pods
    # than the cluster seems to hold reads here whether the cluster is full or a decision erred.
    unplaced_by_reasons: dict[str, int] = field(default_factory=dict)
    last_unplaced_message: str = ""
    # Python plugins (when the profile enables any): their judge call per pod (Python side only;
    # building the nodes they see is in the core's score time), and per node judged.
    plugin_us_p50: float = 0.0
    plugin_us_p99: float = 0.0
    plugin_us_per_node: float = 0.0
    # The same per node in CPU time of the calling thread: what the plugins cost, whatever else
    # competes for the machine.
    plugin_cpu_us_per_node: float = 0.0


def run_case(spec: CaseSpec) -> CaseResult:
    cluster = plan_cluster(spec.shape)
    result = CaseResult(
        nodes=spec.shape.nodes, bound_pods=cluster.pod_count, workload=spec.workload
    )
    profile = Profile(spec.profile_spec)
    plugins = load_plugins(SCHEDULER_NAME, spec.python_plugins)
    asyncio.run(_read_sources(plugins))
    loaded = load_cluster(spec.node_pages, spec.pod_pages, spec.dra_pages)
    state = loaded.state
    result.node_load, result.pod_load = loaded.nodes, loaded.pods
    result.ready_seconds = loaded.ready_seconds
    result.dra_load_cpu_seconds = loaded.dra_cpu_seconds
    gc.collect()
    result.rss_loaded_mib = current_rss_mib()

    if is_quota(spec.workload):
        (page,) = list_pages("ElasticQuota", quota_objects(), page_size=100)
        state.apply_list(Kind.ELASTIC_QUOTA, page)
    records = pending_records(cluster, spec.workload, spec.pods)
    result.requested = len(records)
    uids = _apply_pending(state, records, result)
    samples = _Samples()
    timed = _TimedJudge(plugins.judge) if plugins.judges else None
    churn = (
        _SliceChurn([n.name for n in cluster.nodes], spec.slice_churn) if spec.dra_pages else None
    )
    placements = _decide(state, profile, uids, spec, result, samples, timed, churn)
    _summarise(result, samples)
    if timed is not None and timed.seconds:
        calls = sorted(timed.seconds)
        result.plugin_us_p50 = percentile(calls, 50) * 1e6
        result.plugin_us_p99 = percentile(calls, 99) * 1e6
        result.plugin_us_per_node = sum(calls) / max(timed.nodes, 1) * 1e6
        result.plugin_cpu_us_per_node = timed.cpu_seconds / max(timed.nodes, 1) * 1e6
    result.rss_end_mib = current_rss_mib()
    result.peak_rss_mib = peak_rss_mib()

    check = verify(cluster, records, placements, state)
    if spec.dra_pages:
        check.violations.update(verify_claims(records, placements, samples.claims))
    result.violations = check.violations
    result.affinity_share = check.affinity_share
    if check.ignored:
        result.status = "unsupported"
        result.note = _join(result.note, check.ignored)
    elif check.violations:
        result.status = "violations"
    elif result.decided and result.errors == result.decided:
        result.status = "error"
        result.note = _join(
            result.note, f"every decision was ERROR: {result.first_unplaced_message}"
        )
    return result


def _apply_pending(
    state: ClusterState, records: list[PendingRecord], result: CaseResult
) -> list[str]:
    """Apply the pending pods as watch ADDED lines (how they reach a running scheduler); returns
    the uids the core holds as pending, in creation order."""
    errors = 0
    # A DRA pod's claim exists before the pod is scheduled (the claim controller makes it).
    claims = watch_lines(
        "ResourceClaim",
        (
            claim_object(r.namespace, r.name, r.uid, r.gpus, 5_000_000 + i)
            for i, r in enumerate(records)
            if is_dra(r.workload)
        ),
    )
    for line in claims:
        t = time.perf_counter()
        change = state.apply_event(Kind.RESOURCE_CLAIM, line)
        result.pending_apply_seconds += time.perf_counter() - t
        errors += change.error is not None
    lines = watch_lines("Pod", (pending_object(r, 10_000_000 + i) for i, r in enumerate(records)))
    for line in lines:
        t = time.perf_counter()
        change = state.apply_event(Kind.POD, line)
        result.pending_apply_seconds += time.perf_counter() - t
        errors += change.error is not None
    pending = {p.uid for p in state.pending()}
    uids = [r.uid for r in records if r.uid in pending]
    if errors or len(uids) != len(records):
        result.note = _join(
            result.note,
            f"{len(records) - len(uids)} of {len(records)} pods not pending after apply "
            f"({errors} parse errors)",
        )
    return uids


class _SliceChurn:
    """Nodes' drivers publishing their slices again between batches, in turn."""

    def __init__(self, nodes: list[str], per_batch: int) -> None:
        self._nodes = nodes
        self._per_batch = per_batch
        self._next = 0
        self._generation = 1

    def apply(self, state: ClusterState, result: CaseResult) -> None:
        if not self._per_batch or not self._nodes:
            return
        self._generation += 1
        slices = []
        for _ in range(self._per_batch):
            node = self._nodes[self._next % len(self._nodes)]
            self._next += 1
            slices.extend(republished_slices(node, self._generation))
        lines = list(watch_lines("ResourceSlice", slices, event="MODIFIED"))
        c = time.process_time()
        for line in lines:
            state.apply_event(Kind.RESOURCE_SLICE, line)
        result.churn_apply_cpu_seconds += time.process_time() - c
        result.churn_slices += len(lines)


@dataclass(slots=True)
class _Samples:
    decision_us: list[float] = field(default_factory=list)
    filter_us: list[float] = field(default_factory=list)
    score_us: list[float] = field(default_factory=list)
    batch_us: list[float] = field(default_factory=list)
    feasible: int = 0
    evaluated: int = 0
    # DRA: the claim reservations of the placed pods, by pod uid.
    claims: dict[str, list[ResourceClaimReservation]] = field(default_factory=dict)


def _decide(
    state: ClusterState,
    profile: Profile,
    uids: list[str],
    spec: CaseSpec,
    result: CaseResult,
    samples: _Samples,
    judge: Judge | None = None,
    churn: _SliceChurn | None = None,
) -> dict[str, str]:
    """The scheduling cycle, batch after batch; returns uid -> node of the placed pods."""
    placements: dict[str, str] = {}
    digest = hashlib.sha256()
    for start in range(0, len(uids), spec.batch_size):
        if start and churn is not None:
            churn.apply(state, result)
        spent = result.snapshot_seconds + result.schedule_seconds + result.assume_seconds
        if spent > spec.schedule_budget:
            result.note = _join(
                result.note,
                f"budget {spec.schedule_budget:.0f}s reached after {result.decided} pods",
            )
            break
        batch = uids[start : start + spec.batch_size]
        c0, t0 = time.process_time(), time.perf_counter()
        snapshot = state.snapshot()
        t1 = time.perf_counter()
        decisions = snapshot.schedule(batch, profile, judge)
        t2 = time.perf_counter()
        for d in decisions:
            if d.code == Code.SUCCESS and d.node is not None:
                state.assume(d.uid, d.node, d.allocation, d.volumes, d.claims)
        t3, c3 = time.perf_counter(), time.process_time()
        result.cycle_cpu_seconds += c3 - c0
        if start == 0:
            result.first_batch_cpu_seconds = c3 - c0
            result.first_batch_pods = len(decisions)
        result.snapshot_seconds += t1 - t0
        result.schedule_seconds += t2 - t1
        result.assume_seconds += t3 - t2
        samples.batch_us.append((t3 - t0) / len(batch) * 1e6)
        for d in decisions:
            digest.update(repr((d.uid, str(d.code), d.node, d.message)).encode())
            for claim in d.claims:
                digest.update(repr((claim.name, claim.node, claim.devices)).encode())
            result.decided += 1
            samples.filter_us.append(d.filter_seconds * 1e6)
            samples.score_us.append(d.score_seconds * 1e6)
            samples.decision_us.append((d.filter_seconds + d.score_seconds) * 1e6)
            samples.feasible += d.feasible_nodes
            samples.evaluated += d.evaluated_nodes
            if d.code == Code.SUCCESS and d.node is not None:
                result.placed += 1
                placements[d.uid] = d.node
                if d.claims:
                    samples.claims[d.uid] = d.claims
                continue
            if d.code == Code.ERROR:
                result.errors += 1
            else:
                result.unschedulable += 1
            result.first_unplaced_message = result.first_unplaced_message or d.message
            result.last_unplaced_message = d.message
            why = unplaced_reasons(d.code, d.message, d.reasons)
            result.unplaced_by_reasons[why] = result.unplaced_by_reasons.get(why, 0) + 1
    result.decisions_sha256 = digest.hexdigest()
    return placements


def unplaced_reasons(code: Code, message: str, reasons: dict[str, int]) -> str:
    """What a pod left without a node is counted under: its nodes' reasons, without their node
    counts (which change as the cluster fills), or the message of an error or of a refusal
    without per-node reasons (a PreFilter's)."""
    if code == Code.ERROR:
        return f"error: {message}"
    return ", ".join(sorted(reasons)) if reasons else message


def _summarise(result: CaseResult, samples: _Samples) -> None:
    decision_us = sorted(samples.decision_us)
    filter_us = sorted(samples.filter_us)
    score_us = sorted(samples.score_us)
    batch_us = sorted(samples.batch_us)
    cycle = result.snapshot_seconds + result.schedule_seconds + result.assume_seconds
    result.decisions_per_s = rate(result.decided, cycle)
    result.core_decisions_per_s = rate(result.decided, result.schedule_seconds)
    result.decision_us_p50 = percentile(decision_us, 50)
    result.decision_us_p99 = percentile(decision_us, 99)
    result.filter_us_p50 = percentile(filter_us, 50)
    result.filter_us_p99 = percentile(filter_us, 99)
    result.score_us_p50 = percentile(score_us, 50)
    result.score_us_p99 = percentile(score_us, 99)
    result.batch_us_per_pod_p50 = percentile(batch_us, 50)
    result.batch_us_per_pod_p99 = percentile(batch_us, 99)
    result.filter_seconds_sum = sum(filter_us) / 1e6
    if result.decided:
        result.cpu_us_per_decision = result.cycle_cpu_seconds / result.decided * 1e6
    after_first = result.decided - result.first_batch_pods
    if after_first > 0:
        rest = result.cycle_cpu_seconds - result.first_batch_cpu_seconds
        result.cpu_us_per_decision_after_first = rest / after_first * 1e6
    result.score_seconds_sum = sum(score_us) / 1e6
    if result.decided:
        result.placed_share = result.placed / result.decided
        result.mean_feasible_nodes = samples.feasible / result.decided
        result.mean_evaluated_nodes = samples.evaluated / result.decided


def verify_claims(
    records: list[PendingRecord],
    placements: dict[str, str],
    claims: dict[str, list[ResourceClaimReservation]],
) -> dict[str, int]:
    """Outside the timed region: every placed DRA pod's claim is allocated on its node with as
    many devices as it asked, and no device serves two claims."""
    bad: dict[str, int] = {}

    def count(what: str) -> None:
        bad[what] = bad.get(what, 0) + 1

    seen: set[str] = set()
    for r in records:
        node = placements.get(r.uid)
        if node is None:
            continue
        allocated = [c for c in claims.get(r.uid, []) if c.allocation is not None]
        if len(allocated) != 1:
            count("placed DRA pod without its claim's allocation")
            continue
        (claim,) = allocated
        if claim.node != node:
            count("claim allocated on another node than its pod's")
        devices = claim.devices
        if len(devices) != r.gpus + max(1, r.gpus // 2):
            count("claim allocated with a wrong device count")
        for d in devices:
            if d in seen:
                count("device allocated to two claims")
            seen.add(d)
            if d.split("/")[1] != node:
                count("device from another node's pool")
    return bad


def _join(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more
