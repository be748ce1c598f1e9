"""The scheduling cycle loop: pop a batch, decide it in the core, assume and hand off to binding.

The scheduling cycle (snapshot → filter → score → placement) runs in the Rust core with the GIL
released, on a dedicated thread so the event loop keeps applying watch events meanwhile. The
binding cycle runs apart, in the binder's tasks, so the next batch is decided while the previous
one is being bound: the assumed pods already count in the next snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from opentelemetry import trace

from podium._core import (
    ClusterState,
    Code,
    CoreError,
    Decision,
    PendingPod,
    PluginNode,
    PluginPod,
    Preemption,
    Profile,
    Snapshot,
)
from podium.gang import GangKey, assess, job_groups, split_gangs
from podium.logs import fields
from podium.plugins import PermitGate, PluginSet
from podium.preemption import preemption_sets

if TYPE_CHECKING:
    from podium.metrics import Metrics

log = logging.getLogger(__name__)

# Python plugins' verdicts on the nodes the core keeps (``PluginSet.judge``).
Judge = Callable[[PluginPod, list[PluginNode]], Sequence[int | str]]


class Queue(Protocol):
    async def pop_batch(self, max_pods: int, wait: float) -> list[PendingPod]: ...
    def requeue(self, pod: PendingPod, unschedulable: bool) -> None: ...
    def in_flight(self, uid: str) -> bool: ...


class BindSink(Protocol):
    def submit(self, decision: Decision, pod: PendingPod) -> bool: ...


class GangSink(Protocol):
    """Told what happened to each gang: its PodGroup's status and events follow."""

    def waiting(self, key: GangKey, message: str, tried: bool) -> None: ...
    def placed(self, key: GangKey, nodes: Sequence[str]) -> None: ...


class _NoGangs:
    def waiting(self, key: GangKey, message: str, tried: bool) -> None:
        pass

    def placed(self, key: GangKey, nodes: Sequence[str]) -> None:
        pass


class FailureSink(Protocol):
    """Records why a pod was not scheduled: event and PodScheduled condition."""

    def unschedulable(self, pod: PendingPod, message: str) -> None: ...


class PreemptionSink(Protocol):
    """Carries out what ``Snapshot.preempt`` decided (``podium.preemption.Preemptor``)."""

    def in_flight(self, uid: str) -> bool: ...
    def carry_out(
        self, scheduler_name: str, pods: Sequence[PendingPod], preemption: Preemption
    ) -> None: ...
    def release(self, pod: PendingPod) -> None: ...
    def hold(self, pod: PendingPod, node: str) -> None: ...


@dataclass(frozen=True)
class CycleOptions:
    batch_size: int = 256
    # How long a pop waits for more pods after the first, to fill a batch under load.
    batch_wait: float = 0.005


@dataclass
class CycleResult:
    scheduled: int = 0
    unschedulable: int = 0
    errors: int = 0


def _core_executor() -> ThreadPoolExecutor:
    # One thread: the core parallelises over nodes itself; cycles stay ordered.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="podium-core")


class Scheduler:
    def __init__(
        self,
        *,
        state: ClusterState,
        queue: Queue,
        binder: BindSink,
        failures: FailureSink,
        profiles: Mapping[str, Profile],
        metrics: Metrics | None = None,
        tracer: trace.Tracer | None = None,
        options: CycleOptions | None = None,
        plugins: Mapping[str, PluginSet] | None = None,
        gangs: GangSink | None = None,
        preemptor: PreemptionSink | None = None,
        preempting: frozenset[str] = frozenset(),
        reserving: frozenset[str] = frozenset(),
    ) -> None:
        """``preempting``: the schedulerNames of the profiles with DefaultPreemption enabled;
        their pods that fit nowhere preempt through ``preemptor``. ``reserving``: those with
        whole-node reservations on; their whole-node pods that fit nowhere (and preempt
        nothing) get a node held through ``preemptor``."""
        self._state = state
        self._queue = queue
        self._binder = binder
        self._failures = failures
        self._profiles = dict(profiles)
        self._metrics = metrics
        self._tracer = tracer or trace.NoOpTracer()
        self._options = options or CycleOptions()
        # Python plugins by profile: they judge the nodes the core keeps, and permit binds.
        self._plugins = dict(plugins or {})
        self._permitting: set[asyncio.Task[None]] = set()
        self._gangs = gangs or _NoGangs()
        self._preemptor = preemptor
        self._preempting = preempting if preemptor is not None else frozenset()
        self._reserving = reserving if preemptor is not None else frozenset()
        self._executor = _core_executor()

    async def run(self) -> None:
        """Schedule until cancelled."""
        try:
            while True:
                waiting_since = time.time_ns()
                pods = await self._queue.pop_batch(
                    self._options.batch_size, self._options.batch_wait
                )
                if not pods:
                    continue
                try:
                    await self.schedule_batch(pods, waiting_since=waiting_since)
                except Exception:
                    # One bad cycle must not stop scheduling, nor strand its pods in flight.
                    log.exception("scheduling cycle of %d pods failed; requeued", len(pods))
                    for pod in pods:
                        if self._queue.in_flight(pod.uid) and not self._state.is_assumed(pod.uid):
                            self._queue.requeue(pod, unschedulable=False)
        finally:
            for task in list(self._permitting):
                task.cancel()
            # A replica that loses leadership may regain it and run again: it gets a fresh
            # executor (threads start on first use, so an idle one costs nothing).
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = _core_executor()

    async def schedule_batch(
        self, pods: Sequence[PendingPod], waiting_since: int | None = None
    ) -> CycleResult:
        """Decide ``pods``; ``waiting_since`` (ns since the epoch): when the loop started waiting
        for them, so the cycle's trace shows the queue wait too."""
        result = CycleResult()
        by_profile: dict[str, list[PendingPod]] = defaultdict(list)
        for pod in pods:
            by_profile[pod.scheduler_name].append(pod)
        for scheduler_name, group in by_profile.items():
            profile = self._profiles.get(scheduler_name)
            if profile is None:
                # The cache only queues pods of our profiles; a stray one is a bug, not a crash.
                log.error("no profile %r for %d pods; dropping them", scheduler_name, len(group))
                continue
            await self._cycle(profile, group, result, waiting_since)
        return result

    async def _cycle(
        self,
        profile: Profile,
        pods: list[PendingPod],
        result: CycleResult,
        waiting_since: int | None,
    ) -> None:
        started = time.perf_counter()
        popped = time.time_ns()
        with self._tracer.start_as_current_span(
            "scheduling_cycle",
            start_time=waiting_since or popped,
            attributes={"podium.profile": profile.scheduler_name, "podium.batch_size": len(pods)},
        ) as cycle_span:
            if waiting_since is not None:
                self._tracer.start_span("queue_wait", start_time=waiting_since).end(end_time=popped)
            with self._tracer.start_as_current_span("snapshot") as span:
                snapshot = self._state.snapshot()
                span.set_attribute("podium.generation", snapshot.generation)
                span.set_attribute("podium.nodes", snapshot.node_count)
            # Per-pod spans only in sampled cycles: an unsampled cycle costs no attribute work.
            traced = cycle_span.is_recording()
            plugins = self._plugins.get(profile.scheduler_name)
            judge = plugins.judge if plugins is not None and plugins.judges else None
            singles, gangs = split_gangs(pods)
            if singles:
                decisions = await self._decide(snapshot.schedule, singles, profile, result, judge)
                await self._record_all(
                    decisions, singles, profile, started, result, traced, snapshot
                )
            for key, members in gangs.items():
                await self._gang(snapshot, key, members, profile, started, result, judge, traced)
            cycle_span.set_attribute("podium.scheduled", result.scheduled)
            cycle_span.set_attribute("podium.unschedulable", result.unschedulable)
        if self._metrics is not None:
            self._metrics.batch_size.observe(len(pods))

    async def _decide(
        self,
        schedule: Callable[..., list[Decision]],
        pods: list[PendingPod],
        profile: Profile,
        result: CycleResult,
        *args: object,
    ) -> list[Decision] | None:
        """Runs one core call on the core's thread; a CoreError requeues ``pods`` (None)."""
        loop = asyncio.get_running_loop()
        with self._tracer.start_as_current_span("schedule") as span:
            uids = [pod.uid for pod in pods]
            try:
                return await loop.run_in_executor(self._executor, schedule, uids, profile, *args)
            except CoreError as err:
                # A core bug or an input it rejects wholesale: the pods go back, none is lost.
                log.exception("core rejected a batch of %d pods", len(pods))
                span.record_exception(err)
                for pod in pods:
                    self._queue.requeue(pod, unschedulable=False)
                result.errors += len(pods)
                return None

    async def _record_all(
        self,
        decisions: list[Decision] | None,
        pods: list[PendingPod],
        profile: Profile,
        started: float,
        result: CycleResult,
        traced: bool,
        snapshot: Snapshot,
    ) -> None:
        if decisions is None:
            return
        by_uid = {pod.uid: pod for pod in pods}
        # Pods that fit nowhere, when the profile preempts or reserves: reported after that.
        failed: list[tuple[Decision, PendingPod]] | None = (
            []
            if profile.scheduler_name in self._preempting
            or profile.scheduler_name in self._reserving
            else None
        )
        for decision in decisions:
            decided = by_uid.pop(decision.uid, None)
            if decided is None:
                log.error("core answered for unknown pod %s", decision.uid)
                continue
            self._record(decision, decided, profile, started, result, traced, failed)
        for missing in by_uid.values():
            log.error("core gave no decision for %s/%s; requeued", missing.namespace, missing.name)
            self._queue.requeue(missing, unschedulable=False)
            result.errors += 1
        if failed:
            await self._post_filter(profile, snapshot, failed)

    async def _gang(
        self,
        snapshot: Snapshot,
        key: GangKey,
        members: list[PendingPod],
        profile: Profile,
        started: float,
        result: CycleResult,
        judge: Judge | None,
        traced: bool,
    ) -> None:
        """A gang's pending members: placed all together in one core call, or all sent back."""
        group = self._state.pod_group(*key)
        readiness = assess(key, group, members, self._state.group_members(*key))
        if group is None or not readiness.ready:
            for pod in members:
                self._failures.unschedulable(pod, readiness.message)
                self._queue.requeue(pod, unschedulable=True)
            result.unschedulable += len(members)
            self._gangs.waiting(key, readiness.message, tried=False)
            return
        job = job_groups(group, self._state.pod_groups())
        decisions = await self._decide(
            snapshot.schedule_gang, members, profile, result, group, job, judge
        )
        if decisions is None:
            return
        # The core places at least what the group needs, or nothing.
        placed = [d for d in decisions if d.code == Code.SUCCESS and d.node is not None]
        if placed and not self._assume_all(placed, members, result):
            return
        await self._record_all(decisions, members, profile, started, result, traced, snapshot)
        if placed:
            self._gangs.placed(key, [d.node or "" for d in placed])
        else:
            self._gangs.waiting(key, decisions[0].message if decisions else "", tried=True)

    def _assume_all(
        self, placed: list[Decision], members: list[PendingPod], result: CycleResult
    ) -> bool:
        """Assume every member before any bind starts; if one cannot be, none stays assumed."""
        assumed: list[str] = []
        for decision in placed:
            try:
                self._state.assume(decision.uid, decision.node or "", decision.allocation)
            except CoreError as err:
                log.warning("assume gang member %s/%s: %s", decision.namespace, decision.name, err)
                for uid in assumed:
                    self._state.forget(uid)
                for pod in members:
                    self._queue.requeue(pod, unschedulable=False)
                result.errors += len(members)
                return False
            assumed.append(decision.uid)
        return True

    def _record(
        self,
        decision: Decision,
        pod: PendingPod,
        profile: Profile,
        started: float,
        result: CycleResult,
        traced: bool,
        failed: list[tuple[Decision, PendingPod]] | None,
    ) -> None:
        if traced:
            with self._decision_span(decision, profile) as span:
                outcome = self._apply(decision, pod, result, profile.scheduler_name, failed)
                span.set_attribute("podium.result", outcome)
                if outcome != "scheduled":
                    span.set_attribute("podium.reason", decision.message)
                    if outcome == "error":
                        span.set_status(trace.StatusCode.ERROR, decision.message)
        else:
            outcome = self._apply(decision, pod, result, profile.scheduler_name, failed)
        if log.isEnabledFor(logging.INFO):  # the fields cost more than the check
            log.info(
                "%s/%s: %s%s",
                pod.namespace,
                pod.name,
                outcome,
                f" on {decision.node}" if outcome == "scheduled" else f": {decision.message}",
                extra=fields(
                    event="decision",
                    pod=f"{pod.namespace}/{pod.name}",
                    profile=profile.scheduler_name,
                    result=outcome,
                    node=decision.node,
                    score=decision.score,
                    feasible=decision.feasible_nodes,
                    reason=decision.message or None,
                ),
            )
        if self._metrics is not None:
            elapsed = time.perf_counter() - started
            self._metrics.schedule_attempts.labels(
                result=outcome, profile=profile.scheduler_name
            ).inc()
            self._metrics.scheduling_attempt_duration.labels(
                result=outcome, profile=profile.scheduler_name
            ).observe(elapsed)
            for point, seconds in (
                ("Filter", decision.filter_seconds),
                ("Score", decision.score_seconds),
            ):
                self._metrics.framework_extension_point_duration.labels(
                    extension_point=point, status=decision.code.name, profile=profile.scheduler_name
                ).observe(seconds)

    @contextlib.contextmanager
    def _decision_span(self, decision: Decision, profile: Profile) -> Iterator[trace.Span]:
        """The pod's span from the moment the core took it up, with the core's phases as child
        spans placed by the core's own clock readings, then the hand-off to binding."""
        attributes: dict[str, str | int | list[str]] = {
            "k8s.namespace.name": decision.namespace,
            "k8s.pod.name": decision.name,
            "podium.profile": profile.scheduler_name,
            "podium.code": decision.code.name,
            "podium.evaluated_nodes": decision.evaluated_nodes,
            "podium.feasible_nodes": decision.feasible_nodes,
        }
        if decision.node is not None:
            attributes["k8s.node.name"] = decision.node
            attributes["podium.score"] = decision.score
        if decision.reasons:
            # Why nodes were filtered out, as "<nodes> <reason>" (the message's parts).
            attributes["podium.diagnosis"] = sorted(
                f"{count} {reason}" for reason, count in decision.reasons.items()
            )
        start = decision.started_ns or None
        with self._tracer.start_as_current_span(
            "decision", start_time=start, attributes=attributes
        ) as span:
            if start is not None:
                at = start
                for phase, seconds in (
                    ("filter", decision.filter_seconds),
                    ("score", decision.score_seconds),
                    ("placement", decision.placement_seconds),
                ):
                    if phase != "filter" and seconds == 0.0:
                        continue  # the core stopped before this phase (no feasible node)
                    end = at + round(seconds * 1e9)
                    child = self._tracer.start_span(phase, start_time=at)
                    if phase == "filter":
                        child.set_attribute("podium.evaluated_nodes", decision.evaluated_nodes)
                        child.set_attribute("podium.feasible_nodes", decision.feasible_nodes)
                    elif phase == "placement" and decision.allocation is not None:
                        child.set_attribute("podium.allocation", decision.allocation)
                    child.end(end_time=end)
                    at = end
            yield span

    def _apply(
        self,
        decision: Decision,
        pod: PendingPod,
        result: CycleResult,
        profile: str,
        failed: list[tuple[Decision, PendingPod]] | None,
    ) -> str:
        if decision.code == Code.SUCCESS and decision.node is not None:
            try:
                self._state.assume(decision.uid, decision.node, decision.allocation)
            except CoreError as err:
                # The node or pod vanished between the snapshot and now: try again later.
                trace.get_current_span().record_exception(err)
                log.warning("assume %s/%s: %s", pod.namespace, pod.name, err)
                self._queue.requeue(pod, unschedulable=False)
                result.errors += 1
                return "error"
            plugins = self._plugins.get(profile)
            if plugins is not None and plugins.permits:
                # Counted on its node already; the bind waits for the Permit plugins.
                task = asyncio.create_task(
                    self._permit_then_bind(PermitGate(plugins), decision, pod),
                    name=f"permit-{pod.uid}",
                )
                self._permitting.add(task)
                task.add_done_callback(self._permitting.discard)
                result.scheduled += 1
                return "scheduled"
            if not self._binder.submit(decision, pod):
                # Refused: the binder has already undone the assumption and requeued as needed.
                result.errors += 1
                return "error"
            result.scheduled += 1
            return "scheduled"
        if decision.code == Code.ERROR:
            log.error("scheduling %s/%s: %s", pod.namespace, pod.name, decision.message)
            self._queue.requeue(pod, unschedulable=False)
            result.errors += 1
            return "error"
        result.unschedulable += 1
        if failed is not None and decision.code == Code.UNSCHEDULABLE:
            failed.append((decision, pod))
            return "unschedulable"
        self._failures.unschedulable(pod, decision.message)
        self._queue.requeue(pod, unschedulable=True)
        return "unschedulable"

    async def _permit_then_bind(
        self, gate: PermitGate, decision: Decision, pod: PendingPod
    ) -> None:
        assert decision.node is not None, "only successes are permitted"
        try:
            denied = await gate.admit(pod, decision.node)
        except asyncio.CancelledError:
            self._state.forget(pod.uid)
            self._queue.requeue(pod, unschedulable=False)
            raise
        if denied is None:
            self._binder.submit(decision, pod)
            return
        log.info("permit denied %s/%s on %s: %s", pod.namespace, pod.name, decision.node, denied)
        self._state.forget(pod.uid)
        self._failures.unschedulable(pod, f"permit denied on node {decision.node}: {denied}")
        self._queue.requeue(pod, unschedulable=True)

    async def _post_filter(
        self, profile: Profile, snapshot: Snapshot, failed: list[tuple[Decision, PendingPod]]
    ) -> None:
        """kube's PostFilter: make room for the pods that fit nowhere (preemption, a gang's
        pods as one set), else hold a node for the whole-node pods among them (reservation).
        They are reported unschedulable and parked either way; the victims' deletions, or the
        pods finishing on the held node, bring them back."""
        assert self._preemptor is not None
        messages = {pod.uid: decision.message for decision, pod in failed}
        waiting = [pod for _, pod in failed if not self._preemptor.in_flight(pod.uid)]
        try:
            with self._tracer.start_as_current_span(
                "post_filter", attributes={"podium.pods": len(waiting)}
            ) as span:
                unplaced = (
                    await self._preempt(profile, snapshot, waiting, messages, span)
                    if profile.scheduler_name in self._preempting
                    else [(pod, True) for pod in waiting]
                )
                if profile.scheduler_name in self._reserving:
                    unplaced = await self._reserve(profile, snapshot, unplaced, messages, span)
                for pod, eligible in unplaced:
                    if eligible:
                        self._preemptor.release(pod)
        finally:
            for _, pod in failed:
                self._failures.unschedulable(pod, messages[pod.uid])
                self._queue.requeue(pod, unschedulable=True)

    async def _preempt(
        self,
        profile: Profile,
        snapshot: Snapshot,
        waiting: list[PendingPod],
        messages: dict[str, str],
        span: trace.Span,
    ) -> list[tuple[PendingPod, bool]]:
        """Preemption for each set; returns the pods it found no room for, each with whether
        it was eligible to preempt (an ineligible pod keeps the node it holds)."""
        assert self._preemptor is not None
        loop = asyncio.get_running_loop()
        unplaced: list[tuple[PendingPod, bool]] = []
        for pods in preemption_sets(waiting):
            uids = [pod.uid for pod in pods]
            group_name = pods[0].pod_group
            group = (
                None if group_name is None else self._state.pod_group(pods[0].namespace, group_name)
            )
            try:
                outcome = await loop.run_in_executor(
                    self._executor, snapshot.preempt, uids, profile, group
                )
            except CoreError as err:
                log.exception("core rejected preemption for %d pod(s)", len(pods))
                span.record_exception(err)
                continue
            if outcome.nominations:
                span.add_event(
                    "preempting",
                    {
                        "podium.victims": len(outcome.victims),
                        "k8s.node.name": [node for _, node in outcome.nominations],
                    },
                )
                self._preemptor.carry_out(profile.scheduler_name, pods, outcome)
                continue
            for pod in pods:
                unplaced.append((pod, outcome.eligible))
                messages[pod.uid] = f"{messages[pod.uid]} {outcome.message}"
        return unplaced

    async def _reserve(
        self,
        profile: Profile,
        snapshot: Snapshot,
        unplaced: list[tuple[PendingPod, bool]],
        messages: dict[str, str],
        span: trace.Span,
    ) -> list[tuple[PendingPod, bool]]:
        """Whole-node reservations for the pods outside gangs (a gang's members hold nothing
        unless the whole gang fits); returns the pods still without a node."""
        assert self._preemptor is not None
        single = [(pod, eligible) for pod, eligible in unplaced if pod.pod_group is None]
        if not single:
            return unplaced
        try:
            nodes = await asyncio.get_running_loop().run_in_executor(
                self._executor, snapshot.reserve, [pod.uid for pod, _ in single], profile
            )
        except CoreError as err:
            log.exception("core rejected reservations for %d pod(s)", len(single))
            span.record_exception(err)
            return unplaced
        reserved: dict[str, str] = {}
        for (pod, _), node in zip(single, nodes, strict=True):
            if node is None:
                continue
            reserved[pod.uid] = node
            messages[pod.uid] = (
                f"{messages[pod.uid]} Node {node} is reserved for the pod while its pods finish."
            )
            if self._state.nominated_node(pod.uid) != node:
                self._preemptor.hold(pod, node)
        if reserved:
            span.add_event("reserving", {"k8s.node.name": sorted(set(reserved.values()))})
        return [(pod, eligible) for pod, eligible in unplaced if pod.uid not in reserved]
