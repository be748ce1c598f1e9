"""The binding cycle: POST ``pods/{name}/binding`` for each decision, off the scheduling path.

The scheduler has already assumed the pod on its node in the cache, so later decisions count it;
the binder makes that true in the apiserver, or undoes it:

- success: the queue forgets the pod and a ``Scheduled`` event is recorded;
- 409 Conflict / 404 Not Found: the pod is bound already, was deleted or replaced. The cache
  entry is forgotten and the pod dropped; the watch will tell what really happened;
- 5xx, 429, timeouts, connection errors: retried with exponential backoff and full jitter
  (429's Retry-After is honoured), up to ``retries`` times;
- anything else, or retries exhausted: forget the assumption and requeue the pod with backoff.

A pod has at most one bind in flight; bounded concurrency keeps the apiserver from being flooded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import aiohttp
from opentelemetry import trace

from podium.events import ObjectRef
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.conditions import ConditionWriter
    from podium.events import EventRecorder
    from podium.metrics import Metrics
    from podium.queue import Completed

__all__ = ["ALLOCATION_ANNOTATION", "Binder", "binding_body"]

log = logging.getLogger(__name__)

ALLOCATION_ANNOTATION = "podium.dev/allocation"
# A Retry-After beyond this is not trusted (a confused proxy must not stall a bind for hours).
_MAX_RETRY_AFTER = 60.0


class DecisionLike(Protocol):
    """What the binder reads from ``podium._core.Decision``."""

    @property
    def uid(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def node(self) -> str | None: ...
    @property
    def allocation(self) -> str | None: ...


class AssumeCache(Protocol):
    """The part of ``podium._core.ClusterState`` the binder uses."""

    def forget(self, uid: str) -> None: ...
    def is_assumed(self, uid: str) -> bool: ...


class PodLike(Protocol):
    @property
    def uid(self) -> str: ...


P = TypeVar("P", bound=PodLike)
P_contra = TypeVar("P_contra", bound=PodLike, contravariant=True)


class RequeueTarget(Protocol[P_contra]):
    """The part of ``podium.queue.SchedulingQueue`` the binder uses."""

    def requeue(self, pod: P_contra, unschedulable: bool) -> None: ...
    def done(self, uid: str) -> Completed | None: ...


class _Retryable(Exception):
    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class Binder(Generic[P]):
    def __init__(
        self,
        api: ApiClient,
        state: AssumeCache,
        queue: RequeueTarget[P],
        recorder: EventRecorder | None = None,
        conditions: ConditionWriter | None = None,
        *,
        concurrency: int = 64,
        retries: int = 5,
        request_timeout: float = 10.0,
        initial_retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        tracer: trace.Tracer | None = None,
        node_exists: Callable[[str], bool] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {concurrency})")
        if retries < 0:
            raise ValueError(f"retries must be >= 0 (got {retries})")
        self._api = api
        self._state = state
        self._queue = queue
        self._recorder = recorder
        self._conditions = conditions
        self._semaphore = asyncio.Semaphore(concurrency)
        self._retries = retries
        self._timeout = request_timeout
        self._initial_delay = initial_retry_delay
        self._max_delay = max_retry_delay
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._tracer = tracer or trace.NoOpTracer()
        # Asked before every attempt: the apiserver binds to a node that no longer exists
        # without complaint, and such a pod would only be garbage-collected later.
        self._node_exists = node_exists
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped = False

    def submit(self, decision: DecisionLike, pod: P) -> bool:
        """Start binding ``pod`` to ``decision.node``. The caller has assumed it already.

        Returns False (and binds nothing) if a bind for this pod is already in flight, the
        decision has no node, or the binder was stopped. The binder has then done all the
        undoing there is to do (forget + requeue for the last two); the caller must not forget
        the pod itself: for a duplicate that would drop the assumption of the bind in flight."""
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
        self._tasks[uid] = asyncio.create_task(
            self._bind(decision, decision.node, pod), name=f"bind-{uid}"
        )
        return True

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
        result = "error"
        try:
            # The task was created inside the cycle's decision span, so this is its child.
            with self._tracer.start_as_current_span(
                "bind",
                attributes={
                    "k8s.namespace.name": decision.namespace,
                    "k8s.pod.name": decision.name,
                    "k8s.node.name": node,
                },
            ) as span:
                async with self._semaphore:
                    result = await self._bind_with_retries(decision, node)
                span.set_attribute("podium.bind.result", result)
        except asyncio.CancelledError:
            result = "cancelled"
            self._state.forget(decision.uid)
            self._queue.requeue(pod, unschedulable=False)
            raise
        except Exception:
            log.exception("bind of %s/%s failed unexpectedly", decision.namespace, decision.name)
            result = "error"
        finally:
            del self._tasks[decision.uid]
            if self._metrics is not None:
                self._metrics.bind_duration.labels(result=result).observe(
                    time.monotonic() - started
                )
            if result == "error":
                self._state.forget(decision.uid)
                self._queue.requeue(pod, unschedulable=False)

        if result == "bound":
            completed = self._queue.done(decision.uid)
            if completed is not None and self._metrics is not None:
                self._metrics.pod_scheduling_sli_duration.labels(
                    attempts=str(completed.attempts)
                ).observe(completed.seconds_since_enqueued)
            if self._conditions is not None:
                self._conditions.forget(decision.namespace, decision.name)
            if self._recorder is not None:
                self._recorder.scheduled(
                    ObjectRef(decision.namespace, decision.name, decision.uid), node
                )
        elif result == "dropped":
            self._state.forget(decision.uid)
            # Out of podium's hands (bound elsewhere, deleted, replaced): release it from the
            # queue; if it is in fact still pending, the watch will add it again.
            self._queue.done(decision.uid)

    async def _bind_with_retries(self, decision: DecisionLike, node: str) -> str:
        """Returns "bound", "dropped" or "error"."""
        body = binding_body(decision, node)
        path = f"/api/v1/namespaces/{decision.namespace}/pods/{decision.name}/binding"
        for attempt in range(self._retries + 1):
            if not self._state.is_assumed(decision.uid):
                # The cache dropped the assumption (pod or node deleted meanwhile): the placement
                # it vouched for no longer holds.
                log.info("%s/%s no longer assumed; not binding", decision.namespace, decision.name)
                return "error"
            if self._node_exists is not None and not self._node_exists(node):
                log.info(
                    "node %s of %s/%s is gone; not binding", node, decision.namespace, decision.name
                )
                return "error"
            try:
                await self._post(path, body)
            except _Retryable as e:
                if attempt == self._retries:
                    log.warning(
                        "bind %s/%s to %s failed after %d attempts: %s",
                        decision.namespace,
                        decision.name,
                        node,
                        attempt + 1,
                        e,
                    )
                    return "error"
                trace.get_current_span().add_event(
                    "retry", {"podium.bind.attempt": attempt + 1, "podium.bind.error": str(e)}
                )
                if self._metrics is not None:
                    self._metrics.bind_retries.inc()
                await asyncio.sleep(self._retry_delay(attempt, e.retry_after))
            except ApiStatusError as e:
                if e.status in (404, 409):
                    log.info("bind %s/%s dropped: %s", decision.namespace, decision.name, e)
                    return "dropped"
                log.warning(
                    "bind %s/%s to %s failed: %s", decision.namespace, decision.name, node, e
                )
                return "error"
            else:
                return "bound"
        return "error"

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        try:
            await request_bytes(self._api, "POST", path, body=body, timeout=self._timeout)
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
