"""What becomes of each decision the core returns: assumed on its node and handed to binding
(after the Permit plugins, if any), sent back to the queue, or reported unschedulable (after
the PostFilter, if the profile has one). Each is counted, logged as one line and, in sampled
cycles, traced as a ``decision`` span with the core's own phases beneath it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace

from podium._core import Code, CoreError
from podium.logs import fields
from podium.outcomes import CycleResult, ScheduleResult
from podium.plugins import PermitGate, PluginSet

if TYPE_CHECKING:
    from podium._core import ClusterState, Decision, PendingPod, Profile, Snapshot
    from podium.deferred_reports import DeferredReports
    from podium.metrics import Metrics
    from podium.post_filter import PostFilter
    from podium.sinks import BindSink, FailureSink, LeftoverClaims, Requeue
    from podium.supervisor import Supervisor

__all__ = ["Decisions"]

log = logging.getLogger(__name__)

# Pods that fit nowhere, held back for the PostFilter.
_Failed = list[tuple["Decision", "PendingPod"]]


class Decisions:
    def __init__(
        self,
        *,
        state: ClusterState,
        queue: Requeue,
        binder: BindSink,
        failures: FailureSink,
        post_filter: PostFilter,
        plugins: Mapping[str, PluginSet],
        supervisor: Supervisor,
        tracer: trace.Tracer,
        metrics: Metrics | None,
        reports: DeferredReports,
        claims: LeftoverClaims | None = None,
    ) -> None:
        """``supervisor``: whose group the Permit waits and the leftover claims' deletions
        (``claims``) run in. ``reports``: where a pod waiting for its claims to be made has its
        report put off."""
        self._state = state
        self._claims = claims
        self._reports = reports
        self._queue = queue
        self._binder = binder
        self._failures = failures
        self._post_filter = post_filter
        self._plugins = plugins
        self._supervisor = supervisor
        self._tracer = tracer
        self._metrics = metrics

    async def record_all(
        self,
        decisions: list[Decision],
        pods: list[PendingPod],
        profile: Profile,
        started: float,
        result: CycleResult,
        traced: bool,
        snapshot: Snapshot,
    ) -> None:
        """Apply every decision for ``pods`` (a pod the core left out is requeued), then the
        PostFilter for those that fit nowhere."""
        by_uid = {pod.uid: pod for pod in pods}
        failed: _Failed | None = [] if self._post_filter.applies(profile.scheduler_name) else None
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
            await self._post_filter.run(profile, snapshot, failed)

    def _record(
        self,
        decision: Decision,
        pod: PendingPod,
        profile: Profile,
        started: float,
        result: CycleResult,
        traced: bool,
        failed: _Failed | None,
    ) -> None:
        if traced:
            with self._decision_span(decision, profile) as span:
                outcome = self._apply(decision, pod, result, profile.scheduler_name, failed)
                span.set_attribute("podium.result", outcome.value)
                if outcome is not ScheduleResult.SCHEDULED:
                    span.set_attribute("podium.reason", decision.message)
                    if outcome is ScheduleResult.ERROR:
                        span.set_status(trace.StatusCode.ERROR, decision.message)
        else:
            outcome = self._apply(decision, pod, result, profile.scheduler_name, failed)
        if log.isEnabledFor(logging.INFO):  # the fields cost more than the check
            log.info(
                "%s/%s: %s%s",
                pod.namespace,
                pod.name,
                outcome.value,
                f" on {decision.node}"
                if outcome is ScheduleResult.SCHEDULED
                else f": {decision.message}",
                extra=fields(
                    event="decision",
                    pod=f"{pod.namespace}/{pod.name}",
                    profile=profile.scheduler_name,
                    result=outcome.value,
                    node=decision.node,
                    score=decision.score,
                    feasible=decision.feasible_nodes,
                    reused=decision.reused,
                    reason=decision.message or None,
                ),
            )
        if self._metrics is not None:
            self._observe(decision, outcome, profile.scheduler_name, started)

    def _observe(
        self, decision: Decision, outcome: ScheduleResult, profile: str, started: float
    ) -> None:
        assert self._metrics is not None
        elapsed = time.perf_counter() - started
        self._metrics.schedule_attempts.labels(result=outcome.value, profile=profile).inc()
        if decision.reused:
            self._metrics.reused_decisions.labels(result=outcome.value, profile=profile).inc()
        self._metrics.scheduling_attempt_duration.labels(
            result=outcome.value, profile=profile
        ).observe(elapsed)
        for point, seconds in (
            ("Filter", decision.filter_seconds),
            ("Score", decision.score_seconds),
        ):
            self._metrics.framework_extension_point_duration.labels(
                extension_point=point, status=decision.code.name, profile=profile
            ).observe(seconds)

    @contextlib.contextmanager
    def _decision_span(self, decision: Decision, profile: Profile) -> Iterator[trace.Span]:
        """The pod's span from the moment the core took it up, with the core's phases as child
        spans placed by the core's own clock readings, then the hand-off to binding."""
        attributes: dict[str, str | int | bool | list[str]] = {
            "k8s.namespace.name": decision.namespace,
            "k8s.pod.name": decision.name,
            "podium.profile": profile.scheduler_name,
            "podium.code": decision.code.name,
            "podium.evaluated_nodes": decision.evaluated_nodes,
            "podium.feasible_nodes": decision.feasible_nodes,
            "podium.reused": decision.reused,
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
                self._phases(decision, start)
            yield span

    def _phases(self, decision: Decision, start: int) -> None:
        """The core's filter, score and placement phases, end to end from ``start`` (a phase
        the core stopped before, with no feasible node, has no span)."""
        at = self._phase(
            "filter",
            start,
            decision.filter_seconds,
            {
                "podium.evaluated_nodes": decision.evaluated_nodes,
                "podium.feasible_nodes": decision.feasible_nodes,
            },
        )
        if decision.score_seconds:
            at = self._phase("score", at, decision.score_seconds, {})
        if decision.placement_seconds:
            placed = (
                {} if decision.allocation is None else {"podium.allocation": decision.allocation}
            )
            self._phase("placement", at, decision.placement_seconds, placed)

    def _phase(
        self, name: str, at: int, seconds: float, attributes: Mapping[str, str | int]
    ) -> int:
        end = at + round(seconds * 1e9)
        self._tracer.start_span(name, start_time=at, attributes=attributes).end(end_time=end)
        return end

    def _apply(
        self,
        decision: Decision,
        pod: PendingPod,
        result: CycleResult,
        profile: str,
        failed: _Failed | None,
    ) -> ScheduleResult:
        if decision.code == Code.SUCCESS and decision.node is not None:
            return self._assume(decision, decision.node, pod, result, profile)
        if decision.code == Code.ERROR:
            log.error("scheduling %s/%s: %s", pod.namespace, pod.name, decision.message)
            self._queue.requeue(pod, unschedulable=False)
            result.errors += 1
            return ScheduleResult.ERROR
        result.unschedulable += 1
        self._delete_leftover_claim(pod)
        if pod.claims_pending:
            # Its claims are not made from their templates yet (kube's DynamicResources
            # PreEnqueue): nothing to preempt for, and its own update brings it back. Reported
            # only if it still waits a while later.
            self._queue.requeue(pod, unschedulable=True)
            self._report_if_still_pending(pod.uid, decision.message)
            return ScheduleResult.UNSCHEDULABLE
        if failed is not None and decision.code in (
            Code.UNSCHEDULABLE,
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ):
            # kube runs PostFilter either way: preemption then says it cannot help anywhere.
            failed.append((decision, pod))
            return ScheduleResult.UNSCHEDULABLE
        self._failures.unschedulable(pod, decision.message)
        self._queue.requeue(pod, unschedulable=True)
        return ScheduleResult.UNSCHEDULABLE

    def _report_if_still_pending(self, uid: str, message: str) -> None:
        """Reports the pod unschedulable (``message``) if its claims are still not made a while
        from now (no controller makes them: a template is missing, or no controller-manager
        runs)."""

        def report() -> None:
            pod = self._state.pending_pod(uid)
            if pod is not None and pod.claims_pending:
                self._failures.unschedulable(pod, message)

        self._reports.due(uid, report)

    def _delete_leftover_claim(self, pod: PendingPod) -> None:
        """DynamicResources' PostFilter: a claim made for the pod's extended resources in an
        earlier attempt holds devices it no longer uses; deleted in the background (the pod is
        tried again when the deletion shows)."""
        deletion = self._claims.leftover(pod) if self._claims is not None else None
        if deletion is not None:
            self._supervisor.spawn(deletion, name=f"leftover claim of {pod.namespace}/{pod.name}")

    def _assume(
        self, decision: Decision, node: str, pod: PendingPod, result: CycleResult, profile: str
    ) -> ScheduleResult:
        """Counted on its node at once (the next decisions see it), then bound in the
        background, after the profile's Permit plugins when it has any."""
        try:
            self._state.assume(
                decision.uid, node, decision.allocation, decision.volumes, decision.claims
            )
        except CoreError as err:
            # The node or pod vanished between the snapshot and now: try again later.
            trace.get_current_span().record_exception(err)
            log.warning("assume %s/%s: %s", pod.namespace, pod.name, err)
            self._queue.requeue(pod, unschedulable=False)
            result.errors += 1
            return ScheduleResult.ERROR
        plugins = self._plugins.get(profile)
        if plugins is not None and plugins.permits:
            task = self._supervisor.spawn(
                self._permit_then_bind(PermitGate(plugins), decision, node, pod),
                name=f"permit-{pod.uid}",
            )
            if task is None:  # not scheduling any more
                self._state.forget(pod.uid)
                self._queue.requeue(pod, unschedulable=False)
                result.errors += 1
                return ScheduleResult.ERROR
            task.add_done_callback(lambda t: self._permit_ended(t, pod))
        elif not self._binder.submit(decision, pod):
            # Refused: the binder has already undone the assumption and requeued as needed.
            result.errors += 1
            return ScheduleResult.ERROR
        result.scheduled += 1
        return ScheduleResult.SCHEDULED

    def _permit_ended(self, task: asyncio.Task[None], pod: PendingPod) -> None:
        """A Permit wait cancelled before its first step runs none of its own undoing."""
        if task.cancelled() and self._state.is_assumed(pod.uid):
            self._state.forget(pod.uid)
            self._queue.requeue(pod, unschedulable=False)

    async def _permit_then_bind(
        self, gate: PermitGate, decision: Decision, node: str, pod: PendingPod
    ) -> None:
        try:
            denied = await gate.admit(pod, node)
        except asyncio.CancelledError:
            self._state.forget(pod.uid)
            self._queue.requeue(pod, unschedulable=False)
            raise
        if denied is None:
            self._binder.submit(decision, pod)
            return
        log.info("permit denied %s/%s on %s: %s", pod.namespace, pod.name, node, denied)
        self._state.forget(pod.uid)
        self._failures.unschedulable(pod, f"permit denied on node {node}: {denied}")
        self._queue.requeue(pod, unschedulable=True)
