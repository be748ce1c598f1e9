"""The binding cycle: POST ``pods/{name}/binding`` for each decision, off the scheduling path.

The scheduler has already assumed the pod on its node in the cache, so later decisions count it;
the binder makes that true in the apiserver, or undoes it:

- success: the queue forgets the pod and a ``Scheduled`` event is recorded;
- 5xx, 429, timeouts, connection errors: retried with exponential backoff and full jitter
  (429's Retry-After is honoured), up to ``retries`` times;
- 409 Conflict / 404 Not Found, or retries exhausted: the outcome is not known. An earlier
  attempt whose answer was lost may have bound the pod; the pod may have been bound by someone
  else, deleted or replaced; or the conflict was spurious and the pod still waits. The binder
  reads the pod back and acts on what it finds: bound to this node → bound (the assumption stays
  until the watch confirms it, so the node is never under-counted meanwhile); gone, replaced,
  bound elsewhere or finished → forgotten and dropped; still pending → forgotten and requeued;
- anything else, or the pod cannot be read: forget the assumption and requeue with backoff (the
  watch removes the pod from the queue if it is in fact gone or bound);
- this replica may have lost the leader lease (``may_bind`` says no right before a POST): nothing
  is sent; the pod is forgotten and requeued for whoever leads next.

A decision whose pod has unbound claims goes through VolumeBinding's PreBind first
(``podium.volume_binding``): its volumes are bound, outside the bind concurrency limit since it
waits on the PV controller, and a failure forgets and requeues the pod like a failed bind. Then
DynamicResources' PreBind (``podium.dynamic_resources``) writes the allocation and reservation of
each of its ResourceClaims; if the Binding then fails, the pod's reservations are taken back.

Each bind is a ``bind`` span with one ``bind_attempt`` child per POST, and one log line with its
outcome, its number of requests and when the last one was sent.

A pod has at most one bind in flight; bounded concurrency keeps the apiserver from being flooded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import aiohttp
import orjson
from opentelemetry import trace

from podium.dynamic_resources import PLUGIN_NAME as CLAIMS_PLUGIN_NAME
from podium.dynamic_resources import Reserved, claim_reservations
from podium.events import ObjectRef
from podium.logs import fields
from podium.pods import PodLike, PodRef
from podium.prebind import NotLeading, PreBindError
from podium.rawapi import ApiStatusError, request_bytes
from podium.volume_binding import PLUGIN_NAME, claim_bindings

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.conditions import ConditionWriter
    from podium.dynamic_resources import ClaimBinder
    from podium.events import EventRecorder
    from podium.metrics import Metrics
    from podium.queue import Completed
    from podium.supervisor import Supervisor
    from podium.volume_binding import VolumeBinder

__all__ = ["ALLOCATION_ANNOTATION", "BindResult", "Binder", "binding_body"]

log = logging.getLogger(__name__)

ALLOCATION_ANNOTATION = "podium.dev/allocation"
# A Retry-After beyond this is not trusted (a confused proxy must not stall a bind for hours).
_MAX_RETRY_AFTER = 60.0
# Reads of the pod to learn the outcome of a bind that ended in doubt.
_RESOLVE_ATTEMPTS = 3


class BindResult(StrEnum):
    """How a bind ended: the ``result`` label of ``podium_bind_duration_seconds`` and the log's."""

    BOUND = "bound"
    # Out of podium's hands: bound elsewhere, deleted, replaced or finished.
    DROPPED = "dropped"
    ERROR = "error"
    NOT_LEADER = "not_leader"
    CANCELLED = "cancelled"

    @property
    def settled(self) -> bool:
        """The pod's fate is known (bound, or no longer podium's): nothing to retry."""
        return self in (BindResult.BOUND, BindResult.DROPPED)


class DecisionLike(PodRef, Protocol):
    """What the binder reads from ``podium._core.Decision``."""

    @property
    def node(self) -> str | None: ...
    @property
    def allocation(self) -> str | None: ...


class AssumeCache(Protocol):
    """The part of ``podium._core.ClusterState`` the binder uses."""

    def forget(self, uid: str) -> None: ...
    def is_assumed(self, uid: str) -> bool: ...


P = TypeVar("P", bound=PodLike)
P_contra = TypeVar("P_contra", bound=PodLike, contravariant=True)


class RequeueTarget(Protocol[P_contra]):
    """The part of ``podium.queue.SchedulingQueue`` the binder uses."""

    def requeue(self, pod: P_contra, unschedulable: bool) -> None: ...
    def done(self, uid: str) -> Completed | None: ...


class _NotLeading(Exception):
    """This replica may no longer hold the leader lease: the bind is not sent."""


class _Progress:
    """How far one bind got: its POSTs and when the last one was sent (wall clock)."""

    __slots__ = ("attempts", "sent_at")

    def __init__(self) -> None:
        self.attempts = 0
        self.sent_at: float | None = None

    def sent(self, at: float) -> None:
        self.attempts += 1
        self.sent_at = at


def _bind_fields(
    decision: DecisionLike, node: str, result: BindResult | Literal["retry"], progress: _Progress
) -> dict[str, object]:
    # sent_at: when the last POST left, so a log reader can tell which binds a replica sent
    # after it may have lost the lease.
    sent_at = None
    if progress.sent_at is not None:
        sent_at = datetime.fromtimestamp(progress.sent_at, UTC).isoformat(timespec="microseconds")
    return fields(
        event="bind",
        pod=f"{decision.namespace}/{decision.name}",
        uid=decision.uid,
        node=node,
        result=result,
        attempts=progress.attempts,
        sent_at=sent_at,
    )


def _log_outcome(
    decision: DecisionLike, node: str, result: BindResult, progress: _Progress
) -> None:
    """One line per bind with its outcome (every POST sent is in this line or a retry line)."""
    level = logging.INFO if result.settled else logging.WARNING
    log.log(
        level,
        "bind %s/%s to %s: %s after %d request(s)",
        decision.namespace,
        decision.name,
        node,
        result,
        progress.attempts,
        extra=_bind_fields(decision, node, result, progress),
    )


class _Retryable(Exception):
    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


def _span(
    tracer: trace.Tracer, name: str, attributes: dict[str, str | int]
) -> contextlib.AbstractContextManager[trace.Span]:
    """A span, unless the current one belongs to a trace that is not sampled (the cycle's):
    its children would record nothing either, and would still cost a context switch in and
    out per bind and attempt. (The sampled flag, not ``is_recording``: the decision span a
    bind inherits has ended by the time the bind runs.) Without a parent the sampler
    decides."""
    parent = trace.get_current_span().get_span_context()
    if parent.trace_flags.sampled or not parent.is_valid:
        return tracer.start_as_current_span(name, attributes=attributes)
    return contextlib.nullcontext(trace.INVALID_SPAN)


class _DefaultBinder:
    """kube's DefaultBinder, the Bind step: POST the pod's Binding, retried with exponential
    backoff and full jitter on 5xx, 429 (its Retry-After honoured), timeouts and connection
    errors; a conflict, or retries exhausted, reads the pod back to learn what became of it.
    Nothing is sent once the pod is no longer assumed, its node is gone, or this replica may
    have lost the lease."""

    def __init__(
        self,
        api: ApiClient,
        state: AssumeCache,
        *,
        retries: int,
        request_timeout: float,
        initial_retry_delay: float,
        max_retry_delay: float,
        metrics: Metrics | None,
        rng: random.Random,
        tracer: trace.Tracer,
        node_exists: Callable[[str], bool] | None,
        may_bind: Callable[[], bool] | None,
    ) -> None:
        self._api = api
        self._state = state
        self._retries = retries
        self._timeout = request_timeout
        self._initial_delay = initial_retry_delay
        self._max_delay = max_retry_delay
        self._metrics = metrics
        self._rng = rng
        self._tracer = tracer
        # Asked before every attempt: the apiserver binds to a node that no longer exists
        # without complaint, and such a pod would only be garbage-collected later.
        self._node_exists = node_exists
        # Asked right before every POST: False once this replica may have lost the leader lease
        # (e.g. its process was frozen past the renew deadline and has not noticed yet).
        self._may_bind = may_bind

    async def bind(self, decision: DecisionLike, node: str, progress: _Progress) -> BindResult:
        """BOUND, DROPPED, NOT_LEADER or ERROR."""
        body = binding_body(decision, node)
        path = f"/api/v1/namespaces/{decision.namespace}/pods/{decision.name}/binding"
        for attempt in range(self._retries + 1):
            if not self._state.is_assumed(decision.uid):
                # The cache dropped the assumption (pod or node deleted meanwhile): the placement
                # it vouched for no longer holds.
                log.info("%s/%s no longer assumed; not binding", decision.namespace, decision.name)
                return BindResult.ERROR
            if self._node_exists is not None and not self._node_exists(node):
                log.info(
                    "node %s of %s/%s is gone; not binding", node, decision.namespace, decision.name
                )
                return BindResult.ERROR
            with _span(
                self._tracer, "bind_attempt", attributes={"podium.bind.attempt": attempt + 1}
            ) as span:
                try:
                    await self._post(path, body, progress)
                except _NotLeading:
                    span.set_status(trace.StatusCode.ERROR, "not leading")
                    return BindResult.NOT_LEADER
                except _Retryable as e:
                    span.record_exception(e)
                    span.set_status(trace.StatusCode.ERROR, str(e))
                    if attempt == self._retries:
                        break
                    log.info(
                        "bind %s/%s to %s: attempt %d failed, retrying: %s",
                        decision.namespace,
                        decision.name,
                        node,
                        attempt + 1,
                        e,
                        extra=_bind_fields(decision, node, "retry", progress),
                    )
                    if self._metrics is not None:
                        self._metrics.bind_retries.inc()
                    delay = self._retry_delay(attempt, e.retry_after)
                    span.set_attribute("podium.bind.retry_in_seconds", delay)
                except ApiStatusError as e:
                    span.record_exception(e)
                    span.set_attribute("http.response.status_code", e.status)
                    if e.status in (404, 409):
                        log.info("bind %s/%s: %s; reading the pod back", *_ref(decision), e)
                        break
                    span.set_status(trace.StatusCode.ERROR, str(e))
                    return BindResult.ERROR
                else:
                    return BindResult.BOUND
            await asyncio.sleep(delay)
        # A conflict, or retries exhausted: an attempt whose answer was lost may have bound it.
        return await self._resolve(decision, node)

    async def _resolve(self, decision: DecisionLike, node: str) -> BindResult:
        """What became of a bind whose answer was a conflict, or was lost: reads the pod."""
        path = f"/api/v1/namespaces/{decision.namespace}/pods/{decision.name}"
        for attempt in range(_RESOLVE_ATTEMPTS):
            try:
                body = await request_bytes(self._api, "GET", path, timeout=self._timeout)
            except ApiStatusError as e:
                if e.status == 404:
                    log.info("bind %s/%s dropped: the pod is gone", *_ref(decision))
                    return BindResult.DROPPED
                why = str(e)
            except (aiohttp.ClientError, TimeoutError) as e:
                why = f"{type(e).__name__}: {e}"
            else:
                return _outcome(decision, node, body)
            if attempt + 1 < _RESOLVE_ATTEMPTS:
                await asyncio.sleep(self._retry_delay(attempt, None))
        log.warning("bind %s/%s: cannot read the pod back (%s); requeued", *_ref(decision), why)
        return BindResult.ERROR

    async def _post(self, path: str, body: dict[str, Any], progress: _Progress) -> None:
        def last_check() -> None:
            # Right before the request leaves (after any rate-limit wait): a replica whose
            # lease may have passed to another since must not bind.
            if self._may_bind is not None and not self._may_bind():
                raise _NotLeading
            progress.sent(time.time())

        try:
            await request_bytes(
                self._api, "POST", path, body=body, timeout=self._timeout, precondition=last_check
            )
        except ApiStatusError as e:
            if e.status == 429 or e.status >= 500:
                raise _Retryable(str(e), e.retry_after if e.status == 429 else None) from e
            raise
        except (aiohttp.ClientError, TimeoutError) as e:
            raise _Retryable(f"{type(e).__name__}: {e}") from e

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER)
        # Full jitter: spreads the retries of many binds that failed together.
        ceiling = min(self._max_delay, self._initial_delay * 2 ** min(attempt, 30))
        return self._rng.uniform(0, ceiling)


class Binder(Generic[P]):
    def __init__(
        self,
        api: ApiClient,
        state: AssumeCache,
        queue: RequeueTarget[P],
        recorder: EventRecorder | None = None,
        conditions: ConditionWriter | None = None,
        *,
        supervisor: Supervisor,
        concurrency: int = 64,
        retries: int = 5,
        request_timeout: float = 10.0,
        initial_retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        tracer: trace.Tracer | None = None,
        node_exists: Callable[[str], bool] | None = None,
        may_bind: Callable[[], bool] | None = None,
        on_failed: Callable[[P, str], None] | None = None,
        volumes: VolumeBinder | None = None,
        claims: ClaimBinder | None = None,
    ) -> None:
        """``supervisor``: whose group the binds run in (the leadership term's)."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {concurrency})")
        if retries < 0:
            raise ValueError(f"retries must be >= 0 (got {retries})")
        self._state = state
        self._queue = queue
        self._supervisor = supervisor
        self._recorder = recorder
        self._conditions = conditions
        self._semaphore = asyncio.Semaphore(concurrency)
        self._metrics = metrics
        self._tracer = tracer or trace.NoOpTracer()
        self._default_binder = _DefaultBinder(
            api,
            state,
            retries=retries,
            request_timeout=request_timeout,
            initial_retry_delay=initial_retry_delay,
            max_retry_delay=max_retry_delay,
            metrics=metrics,
            rng=rng or random.Random(),
            tracer=self._tracer,
            node_exists=node_exists,
            may_bind=may_bind,
        )
        # Told (pod, node) when a bind fails for good and the pod is requeued (gangs report it).
        self._on_failed = on_failed
        # VolumeBinding's PreBind; None binds pods without binding their volumes.
        self._volumes = volumes
        # DynamicResources' PreBind; None refuses to bind pods that have claims to reserve.
        self._claims = claims
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped = False

    def submit(self, decision: DecisionLike, pod: P) -> bool:
        """Start binding ``pod`` to ``decision.node``. The caller has assumed it already.

        Returns False (and binds nothing) if a bind for this pod is already in flight, the
        decision has no node, or the binder (or its supervisor) was stopped. The binder has then
        done all the undoing there is to do (forget + requeue for the last three); the caller
        must not forget the pod itself: for a duplicate that would drop the assumption of the
        bind in flight."""
        uid = decision.uid
        if uid in self._tasks:
            log.error("bind for pod %s/%s already in flight; refused", decision.namespace, uid)
            return False
        if decision.node is None or self._stopped:
            why = "no node in decision" if decision.node is None else "binder stopped"
            log.error("cannot bind %s/%s: %s", decision.namespace, decision.name, why)
            self._state.forget(uid)
            self._queue.requeue(pod, unschedulable=False)
            return False
        task = self._supervisor.spawn(self._bind(decision, decision.node, pod), name=f"bind-{uid}")
        if task is None:
            log.error("cannot bind %s/%s: not scheduling", decision.namespace, decision.name)
            self._state.forget(uid)
            self._queue.requeue(pod, unschedulable=False)
            return False
        self._tasks[uid] = task
        task.add_done_callback(lambda _: self._never_ran(uid, pod))
        return True

    def _never_ran(self, uid: str, pod: P) -> None:
        """A bind cancelled before its first step runs none of its own undoing: do it here."""
        if self._tasks.pop(uid, None) is not None:
            self._state.forget(uid)
            self._queue.requeue(pod, unschedulable=False)

    def in_flight(self, uid: str) -> bool:
        return uid in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every bind in flight to finish."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Leadership lost: cancel every bind not yet done, un-assume and requeue those pods.
        Later submits are refused."""
        self._stopped = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def resume(self) -> None:
        """Accept submits again (leadership regained)."""
        self._stopped = False

    async def _bind(self, decision: DecisionLike, node: str, pod: P) -> None:
        started = time.monotonic()
        progress = _Progress()
        result = BindResult.ERROR
        try:
            # The task was created inside the cycle's decision span, so this is its child.
            with _span(
                self._tracer,
                "bind",
                attributes={
                    "k8s.namespace.name": decision.namespace,
                    "k8s.pod.name": decision.name,
                    "k8s.node.name": node,
                },
            ) as span:
                result = await self._pre_bind_then_bind(decision, node, progress)
                span.set_attribute("podium.bind.result", result)
                span.set_attribute("podium.bind.attempts", progress.attempts)
                if not result.settled:
                    span.set_status(trace.StatusCode.ERROR, result.value)
        except asyncio.CancelledError:
            result = BindResult.CANCELLED
            self._state.forget(decision.uid)
            self._queue.requeue(pod, unschedulable=False)
            raise
        except Exception:
            log.exception("bind of %s/%s failed unexpectedly", decision.namespace, decision.name)
            result = BindResult.ERROR
        finally:
            del self._tasks[decision.uid]
            _log_outcome(decision, node, result, progress)
            if self._metrics is not None:
                self._metrics.bind_duration.labels(result=result.value).observe(
                    time.monotonic() - started
                )
            if result in (BindResult.ERROR, BindResult.NOT_LEADER):
                self._state.forget(decision.uid)
                self._queue.requeue(pod, unschedulable=False)
                if self._on_failed is not None:
                    self._on_failed(pod, node)

        if result is BindResult.BOUND:
            completed = self._queue.done(decision.uid)
            if completed is not None and self._metrics is not None:
                self._metrics.pod_scheduling_sli_duration.labels(
                    attempts=str(completed.attempts)
                ).observe(completed.seconds_since_enqueued)
                self._metrics.pod_scheduling_attempts.observe(completed.attempts)
            if self._conditions is not None:
                self._conditions.forget(decision.namespace, decision.name)
            if self._recorder is not None:
                self._recorder.scheduled(
                    ObjectRef(decision.namespace, decision.name, decision.uid), node
                )
        elif result is BindResult.DROPPED:
            self._state.forget(decision.uid)
            # Out of podium's hands, as read back (bound elsewhere, deleted, replaced, finished):
            # release it from the queue.
            self._queue.done(decision.uid)

    async def _pre_bind(self, decision: DecisionLike, node: str) -> BindResult | None:
        """VolumeBinding's PreBind: None once the Binding may be sent, else the bind's result
        (ERROR, NOT_LEADER)."""
        bindings = claim_bindings(decision)
        if not bindings or self._volumes is None:
            return None
        return await self._run_pre_bind(
            PLUGIN_NAME, decision, self._volumes.pre_bind(decision, node, bindings)
        )

    async def _pre_bind_then_bind(
        self, decision: DecisionLike, node: str, progress: _Progress
    ) -> BindResult:
        """The PreBind plugins (VolumeBinding, then DynamicResources), then the Binding; the
        claims' reservations taken back if the Binding fails (kube's Unreserve)."""
        reserved: list[Reserved] = []
        failed = await self._pre_bind(decision, node)
        if failed is None:
            failed = await self._pre_bind_claims(decision, reserved)
        if failed is not None:
            return failed
        async with self._semaphore:
            result = await self._default_binder.bind(decision, node, progress)
        if result is BindResult.ERROR and reserved and self._claims is not None:
            await self._claims.unreserve(decision, reserved)
        return result

    async def _pre_bind_claims(
        self, decision: DecisionLike, reserved: list[Reserved]
    ) -> BindResult | None:
        """DynamicResources' PreBind: None once the Binding may be sent (the claims it reserved
        added to ``reserved``), else the bind's result (ERROR, NOT_LEADER)."""
        claims = claim_reservations(decision)
        # Nothing to write, unless an earlier attempt left a claim for the pod's extended
        # resources, served by a device plugin this time: it is deleted all the same.
        if not claims and (self._claims is None or not self._claims.has_leftover(decision.uid)):
            return None
        if self._claims is None:
            # Never bound without its devices: no writer, no Binding.
            log.error("%s/%s has claims to reserve and no claim writer", *_ref(decision))
            return BindResult.ERROR

        async def reserve(writer: ClaimBinder) -> None:
            reserved.extend(await writer.pre_bind(decision, claims))

        return await self._run_pre_bind(CLAIMS_PLUGIN_NAME, decision, reserve(self._claims))

    async def _run_pre_bind(
        self, plugin: str, decision: DecisionLike, step: Coroutine[Any, Any, None]
    ) -> BindResult | None:
        """One PreBind plugin's ``step`` in its span: None on success, NOT_LEADER, or ERROR
        with kube's FailedScheduling event (``running PreBind plugin "<name>": ...``)."""
        with _span(self._tracer, "pre_bind", attributes={"podium.plugin": plugin}) as span:
            try:
                await step
            except NotLeading:
                span.set_status(trace.StatusCode.ERROR, "not leading")
                return BindResult.NOT_LEADER
            except PreBindError as e:
                span.record_exception(e)
                span.set_status(trace.StatusCode.ERROR, str(e))
                if self._recorder is not None:
                    self._recorder.failed_scheduling(
                        ObjectRef(decision.namespace, decision.name, decision.uid),
                        f'running PreBind plugin "{plugin}": {e}',
                    )
                return BindResult.ERROR
        return None


def _ref(decision: DecisionLike) -> tuple[str, str]:
    return decision.namespace, decision.name


def _outcome(decision: DecisionLike, node: str, body: bytes) -> BindResult:
    """BOUND, DROPPED or ERROR (still pending), from the pod as the apiserver has it."""
    try:
        pod = orjson.loads(body)
        uid = pod["metadata"]["uid"]
        bound_to = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        log.warning("bind %s/%s: unreadable pod in answer; requeued", *_ref(decision))
        return BindResult.ERROR
    if uid != decision.uid:
        log.info("bind %s/%s dropped: the pod was replaced", *_ref(decision))
        return BindResult.DROPPED
    if bound_to == node:
        # An attempt whose answer was lost did bind it.
        return BindResult.BOUND
    if bound_to:
        log.info("bind %s/%s dropped: bound to %s by someone else", *_ref(decision), bound_to)
        return BindResult.DROPPED
    if phase in ("Succeeded", "Failed"):
        log.info("bind %s/%s dropped: the pod has finished", *_ref(decision))
        return BindResult.DROPPED
    log.info("bind %s/%s not done and the pod still waits; requeued", *_ref(decision))
    return BindResult.ERROR


def binding_body(decision: DecisionLike, node: str) -> dict[str, Any]:
    # metadata.uid is a precondition: a pod deleted and recreated under the same name gets 409
    # instead of a stale placement.
    metadata: dict[str, Any] = {
        "name": decision.name,
        "namespace": decision.namespace,
        "uid": decision.uid,
    }
    if decision.allocation is not None:
        # The apiserver copies a Binding's annotations onto the pod.
        metadata["annotations"] = {ALLOCATION_ANNOTATION: decision.allocation}
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": metadata,
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }
