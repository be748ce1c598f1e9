"""Gangs' turn in a scheduling cycle: each gang's pending members placed together (each member
seeing the ones before it), assumed together before any bind starts, or all sent back with the
reason; its PodGroup is told either way. A batch's gangs go to the core in one call.

A gang that cannot be tried yet waits untried: its PodGroup or some of its members not created
yet (kube's GangScheduling PreEnqueue), or a member whose ResourceClaims are not made yet (from
its templates, or not in the cache yet: ``PendingPod.claims_pending``; kube's DynamicResources
PreEnqueue would not have let that member in, so the gang could not be whole). Its members wait
without backoff: the group's events, a member's update or its claim's arrival pop it and its
gang along. While the wait is one that usually ends by itself within moments, it is reported
(FailedScheduling for the members, an event on the PodGroup, no preemption) only if the gang
still cannot be tried a few seconds later (``podium.deferred_reports``); a PodGroup that is
wrong is reported at once."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from podium._core import Code, CoreError
from podium.gang import assess, job_groups

if TYPE_CHECKING:
    from collections.abc import Mapping

    from podium._core import ClusterState, Decision, PendingPod, PodGroup, Profile, Snapshot
    from podium.core_calls import CoreCalls
    from podium.decisions import Decisions
    from podium.deferred_reports import DeferredReports
    from podium.outcomes import CycleResult
    from podium.pods import GangKey
    from podium.sinks import FailureSink, GangSink, Judge, Requeue

__all__ = ["GangCycle"]

log = logging.getLogger(__name__)


class GangCycle:
    def __init__(
        self,
        *,
        state: ClusterState,
        queue: Requeue,
        failures: FailureSink,
        gangs: GangSink,
        calls: CoreCalls,
        decisions: Decisions,
        reports: DeferredReports,
    ) -> None:
        """``reports``: where a gang that cannot be tried yet has its report put off."""
        self._state = state
        self._queue = queue
        self._failures = failures
        self._gangs = gangs
        self._calls = calls
        self._decisions = decisions
        self._reports = reports

    async def place_all(
        self,
        snapshot: Snapshot,
        gangs: Mapping[GangKey, list[PendingPod]],
        profile: Profile,
        started: float,
        result: CycleResult,
        judge: Judge | None,
        traced: bool,
    ) -> None:
        """A batch's gangs, each placed all together or all sent back. The gangs that can be
        tried are decided in one core call, in order, each seeing those before it placed: one
        hop to the core's thread and back per batch, not per gang (on a loaded machine each hop
        waits for a CPU, which paced gangs of 8 at half the rate of lone pods)."""
        ready: list[tuple[GangKey, list[PendingPod], PodGroup, list[str]]] = []
        for key, members in gangs.items():
            group = self._state.pod_group(*key)
            readiness = assess(key, group, members, self._state.group_members(*key))
            if group is None or not readiness.ready or any(p.claims_pending for p in members):
                for pod in members:
                    # Until its own group's events (kube's GangScheduling PreEnqueue), or, for a
                    # member whose claims are not made, its own update or claim (the queue parks
                    # it so, without counting the attempt).
                    self._queue.requeue(pod, unschedulable=True, gang_incomplete=True)
                result.unschedulable += len(members)
                if readiness.ready or readiness.transient:
                    self._reports.due(key, functools.partial(self._report_if_still_waiting, key))
                else:
                    self._report(key, members, readiness.message)
                continue
            # Every group is listed only for a gang with a job to balance.
            job = job_groups(group, self._state.pod_groups()) if group.job else [group.name]
            ready.append((key, members, group, job))
        if not ready:
            return
        decided = await self._calls.decide_gangs(
            snapshot.schedule_gangs,
            [(members, group, job) for _, members, group, job in ready],
            profile,
            result,
            judge,
        )
        if decided is None:
            return
        for (key, members, _, _), decisions in zip(ready, decided, strict=True):
            await self._record(
                snapshot, key, members, decisions, (profile, started, result, traced)
            )

    def _report(self, key: GangKey, pods: list[PendingPod], message: str) -> None:
        for pod in pods:
            self._failures.unschedulable(pod, message)
        self._gangs.waiting(key, message, tried=False)

    def _report_if_still_waiting(self, key: GangKey) -> None:
        """The gang's report, put off a few seconds ago: made now if it still cannot be tried,
        with what it waits for now (its members may have come meanwhile, and its claims not)."""
        members = self._state.group_members(*key)
        pods = [
            pod
            for pod in (self._state.pending_pod(m.uid) for m in members if m.node is None)
            if pod is not None
        ]
        if not pods:
            return
        readiness = assess(key, self._state.pod_group(*key), pods, members)
        if not readiness.ready:
            self._report(key, pods, readiness.message)
            return
        waiting = [pod for pod in pods if pod.claims_pending]
        if waiting:
            namespace, name = key
            first = waiting[0]
            self._report(
                key,
                pods,
                f"PodGroup {namespace}/{name}: waiting for the ResourceClaims of {len(waiting)} "
                f"of {len(pods)} members to be made (pod {first.namespace}/{first.name} first)",
            )

    async def _record(
        self,
        snapshot: Snapshot,
        key: GangKey,
        members: list[PendingPod],
        decisions: list[Decision],
        cycle: tuple[Profile, float, CycleResult, bool],
    ) -> None:
        """One gang's decisions: assumed together, recorded, and its PodGroup told."""
        profile, started, result, traced = cycle
        # The core places at least what the group needs, or nothing.
        placed = [d for d in decisions if d.code == Code.SUCCESS and d.node is not None]
        if placed and not self._assume_all(placed, members, result):
            return
        await self._decisions.record_all(
            decisions, members, profile, started, result, traced, snapshot
        )
        if placed:
            self._gangs.placed(key, [d.node or "" for d in placed])
        else:
            # kube-scheduler's SchedulerError (an internal error, not a lack of room).
            error = bool(decisions) and all(d.code == Code.ERROR for d in decisions)
            message = decisions[0].message if decisions else ""
            self._gangs.waiting(key, message, tried=True, error=error)

    def _assume_all(
        self, placed: list[Decision], members: list[PendingPod], result: CycleResult
    ) -> bool:
        """Assume every member before any bind starts; if one cannot be, none stays assumed."""
        assumed: list[str] = []
        for decision in placed:
            try:
                self._state.assume(
                    decision.uid,
                    decision.node or "",
                    decision.allocation,
                    decision.volumes,
                    decision.claims,
                )
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
