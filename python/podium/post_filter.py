"""kube's PostFilter: what is done for the pods that fit nowhere.

Preemption first (``DefaultPreemption``: the core plans it, ``podium.preemption.Preemptor``
carries it out; a gang's pods preempt as one set), then, for the whole-node pods still without
room, a node held while its pods finish (reservations). Either way the pods are reported
unschedulable, with what preemption found appended as kube-scheduler words it, and parked: the
victims' deletions, or the pods finishing on the held node, bring them back.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from opentelemetry import trace

from podium._core import Code, CoreError
from podium.preemption import preemption_sets

if TYPE_CHECKING:
    from podium._core import ClusterState, Decision, PendingPod, Profile, Snapshot
    from podium.core_calls import CoreCalls
    from podium.sinks import FailureSink, PreemptionSink, Requeue

__all__ = ["PostFilter"]

log = logging.getLogger(__name__)

# (pod, whether it was eligible to preempt: an ineligible pod keeps the node it holds)
_Unplaced = list[tuple["PendingPod", bool]]


class PostFilter:
    def __init__(
        self,
        *,
        state: ClusterState,
        queue: Requeue,
        failures: FailureSink,
        calls: CoreCalls,
        tracer: trace.Tracer,
        preemptor: PreemptionSink | None,
        preempting: frozenset[str],
        reserving: frozenset[str],
    ) -> None:
        """``preempting``: the schedulerNames of the profiles with DefaultPreemption enabled;
        ``reserving``: those with whole-node reservations on. Both need ``preemptor``."""
        self._state = state
        self._queue = queue
        self._failures = failures
        self._calls = calls
        self._tracer = tracer
        self._preemptor = preemptor
        self._preempting = preempting if preemptor is not None else frozenset()
        self._reserving = reserving if preemptor is not None else frozenset()

    def applies(self, scheduler_name: str) -> bool:
        """Whether the profile's pods that fit nowhere come here (else they are reported and
        parked at once)."""
        return scheduler_name in self._preempting or scheduler_name in self._reserving

    async def run(
        self, profile: Profile, snapshot: Snapshot, failed: list[tuple[Decision, PendingPod]]
    ) -> None:
        """Make room for ``failed``, or hold a node for them; then report and park them."""
        assert self._preemptor is not None
        messages = {pod.uid: decision.message for decision, pod in failed}
        waiting = [pod for _, pod in failed if not self._preemptor.in_flight(pod.uid)]
        try:
            with self._tracer.start_as_current_span(
                "post_filter", attributes={"podium.pods": len(waiting)}
            ) as span:
                hopeless = {
                    pod.uid
                    for decision, pod in failed
                    if decision.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
                }
                unplaced = (
                    await self._preempt(profile, snapshot, waiting, hopeless, messages, span)
                    if profile.scheduler_name in self._preempting
                    else [(pod, True) for pod in waiting]
                )
                if profile.scheduler_name in self._reserving:
                    # A node held empty cannot take a pod that no node could take empty.
                    held = [u for u in unplaced if u[0].uid not in hopeless]
                    unplaced = [u for u in unplaced if u[0].uid in hopeless] + await self._reserve(
                        profile, snapshot, held, messages, span
                    )
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
        hopeless: set[str],
        messages: dict[str, str],
        span: trace.Span,
    ) -> _Unplaced:
        """Preemption for each set; returns the pods it found no room for. ``hopeless``: the
        pods every node refused as UnschedulableAndUnresolvable (no search for victims)."""
        assert self._preemptor is not None
        unplaced: _Unplaced = []
        for pods in preemption_sets(waiting):
            uids = [pod.uid for pod in pods]
            group_name = pods[0].pod_group
            group = (
                None if group_name is None else self._state.pod_group(pods[0].namespace, group_name)
            )
            try:
                outcome = await self._calls.call(
                    functools.partial(
                        snapshot.preempt,
                        unresolvable=len(uids) == 1 and uids[0] in hopeless,
                    ),
                    uids,
                    profile,
                    group,
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
        unplaced: _Unplaced,
        messages: dict[str, str],
        span: trace.Span,
    ) -> _Unplaced:
        """Whole-node reservations for the pods outside gangs (a gang's members hold nothing
        unless the whole gang fits); returns the pods still without a node."""
        assert self._preemptor is not None
        single = [(pod, eligible) for pod, eligible in unplaced if pod.pod_group is None]
        if not single:
            return unplaced
        try:
            nodes = await self._calls.call(
                snapshot.reserve, [pod.uid for pod, _ in single], profile
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
