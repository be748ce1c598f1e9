"""An ``events.k8s.io/v1`` event recorder that never slows scheduling down.

``record`` only appends to a bounded buffer; a background task writes to the apiserver. When the
buffer is full the event is dropped and counted (``podium_events_dropped_total``): a scheduler
that blocks on its event stream under load would be worse than one that loses a few events.

Repeats are aggregated the way client-go's events/v1 broadcaster does it: an event with the same
regarding object, reason, action and note as one written less than six minutes ago does not
create a new Event; the existing one's ``series`` (count, lastObservedTime) is patched instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import aiohttp

from podium.bounded import bound
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.metrics import Metrics
    from podium.supervisor import Supervisor

__all__ = ["EventRecorder", "ObjectRef"]

log = logging.getLogger(__name__)

REPORTING_CONTROLLER = "podium"
# client-go's series window: a repeat after this long starts a new Event.
SERIES_WINDOW_SECONDS = 6 * 60
# apiserver limits (events.k8s.io/v1 validation).
_MAX_NOTE_BYTES = 1024
_MAX_FIELD = 128
_REQUEST_TIMEOUT = 10.0
_RETRIES = 2
_RETRY_DELAY = 0.2

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """What an event is about (``regarding``)."""

    namespace: str
    name: str
    uid: str
    kind: str = "Pod"
    api_version: str = "v1"

    def as_json(self) -> dict[str, str]:
        ref = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            ref["namespace"] = self.namespace
        if self.uid:
            ref["uid"] = self.uid
        return ref


@dataclass(frozen=True, slots=True)
class _Pending:
    regarding: ObjectRef
    type: EventType
    reason: str
    action: str
    note: str
    observed: float  # wall clock, seconds since the epoch


_Key = tuple[ObjectRef, str, str, str]


@dataclass(slots=True)
class _Series:
    namespace: str
    name: str  # the Event object's name
    count: int
    last_observed: float  # monotonic, for the window


@dataclass(slots=True)
class _KeyLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class EventRecorder:
    def __init__(
        self,
        api: ApiClient,
        reporting_instance: str,
        *,
        metrics: Metrics | None = None,
        buffer_size: int = 4096,
        concurrency: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1 (got {buffer_size})")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {concurrency})")
        self._concurrency = concurrency
        self._api = api
        self._instance = reporting_instance[:_MAX_FIELD]
        self._metrics = metrics
        self._buffer: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=buffer_size)
        self._clock = clock
        self._series: dict[_Key, _Series] = {}
        # Writes for one key are serialised, so repeats extend one series instead of racing to
        # create several events.
        self._key_locks: dict[_Key, _KeyLock] = {}
        self._last_purge = clock()
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        self.written = 0

    # -- producers (never block) ----------------------------------------------------------------

    def record(
        self, regarding: ObjectRef, type: EventType, reason: str, action: str, note: str
    ) -> None:
        """Queue one event for writing. Drops (and counts) it when the buffer is full."""
        pending = _Pending(
            regarding, type, reason[:_MAX_FIELD], action[:_MAX_FIELD], _truncate(note), time.time()
        )
        try:
            self._buffer.put_nowait(pending)
        except asyncio.QueueFull:
            self._drop("buffer full")

    def scheduled(self, pod: ObjectRef, node: str) -> None:
        self.record(
            pod,
            "Normal",
            "Scheduled",
            "Binding",
            f"Successfully assigned {pod.namespace}/{pod.name} to {node}",
        )

    def failed_scheduling(self, pod: ObjectRef, message: str) -> None:
        self.record(pod, "Warning", "FailedScheduling", "Scheduling", message)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, supervisor: Supervisor | None = None) -> None:
        """Start the writers, in ``supervisor``'s group (a leadership term's); without one, as
        tasks of their own that ``stop`` awaits (tests, tools)."""
        if any(not task.done() for task in self._tasks):
            return
        self._tasks = []
        for i in range(self._concurrency):
            name = f"podium-event-writer-{i}"
            if supervisor is None:
                self._tasks.append(asyncio.create_task(self._run(), name=name))
            elif (task := supervisor.spawn(self._run(), name=name)) is not None:
                self._tasks.append(task)

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (or dropped)."""
        await self._buffer.join()

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Write what is buffered (for at most ``flush_timeout`` seconds), then stop."""
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout):
                await self._buffer.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            # A writer that failed raises here: stopped or not, a failure is never swallowed.
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # -- the writer -----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            pending = await self._buffer.get()
            try:
                await self._write_with_retries(pending)
            except asyncio.CancelledError:
                raise
            except (ApiStatusError, aiohttp.ClientError, TimeoutError) as e:
                self._drop(str(e))
            except Exception:
                # A bug in here must not kill the writer and silently stop all events.
                log.exception("event writer failed")
                self._drop("internal error")
            finally:
                self._buffer.task_done()

    async def _write_with_retries(self, pending: _Pending) -> None:
        # A busy apiserver (5xx, 429) or a blip gets a couple of short retries; beyond that the
        # event is not worth holding a writer for.
        for attempt in range(_RETRIES + 1):
            try:
                await self._write(pending)
            except ApiStatusError as e:
                if attempt == _RETRIES or not (e.status == 429 or e.status >= 500):
                    raise
            except (aiohttp.ClientError, TimeoutError):
                if attempt == _RETRIES:
                    raise
            else:
                return
            await asyncio.sleep(random.uniform(0, _RETRY_DELAY * 2**attempt))

    async def _write(self, pending: _Pending) -> None:
        key: _Key = (pending.regarding, pending.reason, pending.action, pending.note)
        lock = self._key_locks.get(key)
        if lock is None:
            lock = self._key_locks[key] = _KeyLock()
        lock.users += 1
        try:
            async with lock.lock:
                await self._write_locked(key, pending)
        finally:
            lock.users -= 1
            if lock.users == 0:
                del self._key_locks[key]

    async def _write_locked(self, key: _Key, pending: _Pending) -> None:
        now = self._clock()
        self._purge(now)
        series = self._series.get(key)
        if series is not None and now - series.last_observed <= SERIES_WINDOW_SECONDS:
            try:
                await self._patch_series(series, series.count + 1, pending.observed)
            except ApiStatusError as e:
                if e.status != 404:
                    raise  # the count stays as written, so a retry does not count twice
                # Someone deleted the event (or it expired): start over with a fresh one.
                del self._series[key]
            else:
                series.count += 1
                series.last_observed = now
                self.written += 1
                return
        name = await self._create(pending)
        self._series[key] = _Series(pending.regarding.namespace or "default", name, 1, now)
        self.written += 1

    async def _create(self, pending: _Pending) -> str:
        regarding = pending.regarding
        namespace = regarding.namespace or "default"
        # Same naming as client-go: unique per object and moment, readable in `kubectl get`.
        name = f"{regarding.name}.{time.time_ns():x}"
        body: dict[str, Any] = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "eventTime": _micro_time(pending.observed),
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": self._instance,
            "action": pending.action,
            "reason": pending.reason,
            "regarding": regarding.as_json(),
            "note": pending.note,
            "type": pending.type,
        }
        await request_bytes(
            self._api,
            "POST",
            f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
            body=body,
            timeout=_REQUEST_TIMEOUT,
        )
        return name

    async def _patch_series(self, series: _Series, count: int, observed: float) -> None:
        await request_bytes(
            self._api,
            "PATCH",
            f"/apis/events.k8s.io/v1/namespaces/{series.namespace}/events/{series.name}",
            body={"series": {"count": count, "lastObservedTime": _micro_time(observed)}},
            content_type="application/merge-patch+json",
            timeout=_REQUEST_TIMEOUT,
        )

    def _purge(self, now: float) -> None:
        # Finished series only matter for their window; sweep at most once a minute.
        if now - self._last_purge < 60:
            return
        self._last_purge = now
        expired = [
            k for k, s in self._series.items() if now - s.last_observed > SERIES_WINDOW_SECONDS
        ]
        for k in expired:
            del self._series[k]

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if self._metrics is not None:
            self._metrics.events_dropped.inc()
        log.debug("event dropped: %s", why)


def _micro_time(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _truncate(note: str) -> str:
    return bound(note, _MAX_NOTE_BYTES)
