"""The scheduling cycle loop: pop a batch, decide it in the core, hand each decision on.

The scheduling cycle (snapshot → filter → score → placement) runs in the Rust core with the GIL
released, on a thread of its own (``podium.core_calls``) so the event loop keeps applying watch
events meanwhile. The binding cycle runs apart, in the binder's tasks, so the next batch is
decided while the previous one is being bound: the assumed pods already count in the next
snapshot. Its collaborators: ``podium.decisions`` (assume, Permit, bind, report),
``podium.gang_cycle`` (a gang placed whole) and ``podium.post_filter`` (preemption and
reservations for the pods that fit nowhere).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace

from podium.core_calls import CoreCalls
from podium.decisions import Decisions
from podium.deferred_reports import WAIT_REPORT_SECONDS, DeferredReports
from podium.gang import split_gangs
from podium.gang_cycle import GangCycle
from podium.outcomes import CycleResult, ScheduleResult
from podium.post_filter import PostFilter
from podium.sinks import NoGangs
from podium.supervisor import Supervisor

if TYPE_CHECKING:
    from podium._core import ClusterState, PendingPod, Profile
    from podium.metrics import Metrics
    from podium.plugins import PluginSet
    from podium.sinks import (
        BindSink,
        FailureSink,
        GangSink,
        LeftoverClaims,
        PreemptionSink,
        Queue,
    )

__all__ = ["CycleOptions", "CycleResult", "ScheduleResult", "Scheduler"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleOptions:
    batch_size: int = 256
    # How long a pop waits for more pods after the first, to fill a batch under load.
    batch_wait: float = 0.005


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
        supervisor: Supervisor | None = None,
        claims: LeftoverClaims | None = None,
        wait_report: float = WAIT_REPORT_SECONDS,
    ) -> None:
        """``preempting``: the schedulerNames of the profiles with DefaultPreemption enabled;
        their pods that fit nowhere preempt through ``preemptor``. ``reserving``: those with
        whole-node reservations on; their whole-node pods that fit nowhere (and preempt
        nothing) get a node held through ``preemptor``. ``supervisor``: whose group the Permit
        waits run in (the leadership term's); one of its own, opened by ``run``, by default.
        ``wait_report``: seconds a pod or a gang that cannot be tried yet (its ResourceClaims
        not made from their templates yet, its gang's members or PodGroup not created yet) waits
        before it is reported unschedulable."""
        self._state = state
        self._queue = queue
        self._profiles = dict(profiles)
        self._metrics = metrics
        self._tracer = tracer or trace.NoOpTracer()
        self._options = options or CycleOptions()
        # Python plugins by profile: they judge the nodes the core keeps, and permit binds.
        self._plugins = dict(plugins or {})
        self._supervisor = supervisor or Supervisor("scheduler")
        self._owns_supervisor = supervisor is None
        self._calls = CoreCalls(queue, self._tracer)
        self._reports = DeferredReports(wait_report)
        post_filter = PostFilter(
            state=state,
            queue=queue,
            failures=failures,
            calls=self._calls,
            tracer=self._tracer,
            preemptor=preemptor,
            preempting=preempting,
            reserving=reserving,
        )
        self._decisions = Decisions(
            state=state,
            queue=queue,
            binder=binder,
            failures=failures,
            post_filter=post_filter,
            plugins=self._plugins,
            supervisor=self._supervisor,
            tracer=self._tracer,
            metrics=metrics,
            reports=self._reports,
            claims=claims,
        )
        self._gangs = GangCycle(
            state=state,
            queue=queue,
            failures=failures,
            gangs=gangs or NoGangs(),
            calls=self._calls,
            decisions=self._decisions,
            reports=self._reports,
        )

    async def run(self) -> None:
        """Schedule until cancelled."""
        if self._owns_supervisor:
            await self._supervisor.start()
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
            # Reports put off for pods and gangs are the term's: a replica that stopped
            # scheduling writes none.
            self._reports.cancel_all()
            if self._owns_supervisor:
                await self._supervisor.stop()
            self._calls.restart()

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
                decisions = await self._calls.decide(
                    snapshot.schedule, singles, profile, result, judge
                )
                if decisions is not None:
                    await self._decisions.record_all(
                        decisions, singles, profile, started, result, traced, snapshot
                    )
            if gangs:
                await self._gangs.place_all(
                    snapshot, gangs, profile, started, result, judge, traced
                )
            cycle_span.set_attribute("podium.scheduled", result.scheduled)
            cycle_span.set_attribute("podium.unschedulable", result.unschedulable)
        if self._metrics is not None:
            self._metrics.batch_size.observe(len(pods))
