"""Gangs' turn in a scheduling cycle: each gang's pending members placed together (each member
seeing the ones before it), assumed together before any bind starts, or all sent back with the
reason; its PodGroup is told either way. A batch's gangs go to the core in one call.

A gang with a member whose ResourceClaims are not made yet (from its templates, or not in the
cache yet: ``PendingPod.claims_pending``) is not tried: kube's DynamicResources PreEnqueue would
not have let that member in, so the gang could not be whole. Its members wait without a report
(no FailedScheduling, no PodGroup status, no preemption) and without backoff: that member's
update, or its claim's arrival, pops it and its gang along. They are reported only if the
claims are still not made ``claims_pending_report`` seconds later, as a lone pod is."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from podium._core import Code, CoreError
from podium.decisions import CLAIMS_PENDING_REPORT_SECONDS
from podium.gang import assess, job_groups

if TYPE_CHECKING:
    from collections.abc import Mapping

    from podium._core import ClusterState, Decision, PendingPod, PodGroup, Profile, Snapshot
    from podium.core_calls import CoreCalls
    from podium.decisions import Decisions
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
        claims_pending_report: float = CLAIMS_PENDING_REPORT_SECONDS,
    ) -> None:
        """``claims_pending_report``: seconds a gang waits for its members' claims to be made
        before it is reported."""
        self._state = state
        self._queue = queue
        self._failures = failures
        self._gangs = gangs
        self._calls = calls
        self._decisions = decisions
        self._claims_pending_report = claims_pending_report
        # Gangs waiting for members' claims to be made: the report due if they still wait then.
        self._pending_reports: dict[GangKey, asyncio.TimerHandle] = {}

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
            if group is None or not readiness.ready:
                for pod in members:
                    self._failures.unschedulable(pod, readiness.message)
                    # Until its own group's events (kube's GangScheduling PreEnqueue).
                    self._queue.requeue(pod, unschedulable=True, gang_incomplete=True)
                result.unschedulable += len(members)
                self._gangs.waiting(key, readiness.message, tried=False)
                continue
            if any(pod.claims_pending for pod in members):
                self._wait_for_claims(key, members)
                result.unschedulable += len(members)
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

    def _wait_for_claims(self, key: GangKey, members: list[PendingPod]) -> None:
        """The gang waits, untried, for its members' claims to be made (see the module's doc):
        those members for their own update or claim (the queue parks them so, without counting
        the attempt), the others with their gang (a member popped brings them along)."""
        for pod in members:
            self._queue.requeue(pod, unschedulable=True, gang_incomplete=True)
        if key in self._pending_reports:
            return
        uids = [pod.uid for pod in members]

        def report() -> None:
            del self._pending_reports[key]
            pods = [p for p in map(self._state.pending_pod, uids) if p is not None]
            waiting = [p for p in pods if p.claims_pending]
            if not waiting:
                return
            namespace, name = key
            message = (
                f"PodGroup {namespace}/{name}: waiting for the ResourceClaims of {len(waiting)} "
                f"of {len(pods)} members to be made (pod {waiting[0].namespace}/"
                f"{waiting[0].name} first)"
            )
            for pod in pods:
                self._failures.unschedulable(pod, message)
            self._gangs.waiting(key, message, tried=False)

        loop = asyncio.get_running_loop()
        self._pending_reports[key] = loop.call_later(self._claims_pending_report, report)

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
