"""Keeps PodGroups' ``status`` and their events in step with what podium does with their gangs:
phase, scheduled, running, occupiedBy and scheduleStartTime for scheduler-plugins' PodGroups;
the ``PodGroupInitiallyScheduled`` condition, as kube-scheduler 1.37 writes it, for the Workload
API's (``scheduling.k8s.io/v1beta1``).

The scheduler reports what happened (``waiting``, ``placed``, ``bind_failed``); this writer
recomputes the group's status from the cache and PATCHes the ``status`` subresource in the
background, only when it changed, so a scheduling cycle never waits for the apiserver. Once a
second it also looks for gangs whose ``scheduleTimeoutSeconds`` ran out: their group turns
``Failed`` with a ``Timeout`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import aiohttp

from podium.gang import (
    WORKLOAD_GROUP_API,
    Attempt,
    GangKey,
    GangPhase,
    GangStatus,
    GroupLike,
    InitiallyScheduled,
    MemberLike,
    gang_status,
    initially_scheduled,
)
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.supervisor import Supervisor

__all__ = ["GROUP_API", "PodGroupStatusWriter"]

log = logging.getLogger(__name__)

GROUP_API = "scheduling.x-k8s.io/v1alpha1"
_REQUEST_TIMEOUT = 10.0
_TIMEOUT_SWEEP_SECONDS = 1.0
_HTTP_NOT_FOUND = 404


class GroupCache(Protocol):
    """The part of ``podium._core.ClusterState`` this writer reads."""

    def pod_group(self, namespace: str, name: str) -> GroupLike | None: ...
    def group_members(self, namespace: str, name: str) -> Sequence[MemberLike]: ...


class GroupEvents(Protocol):
    """Writes an event about a PodGroup (``podium.events.EventRecorder`` adapted)."""

    def __call__(
        self,
        namespace: str,
        name: str,
        uid: str,
        warning: bool,
        reason: str,
        note: str,
        api_version: str = GROUP_API,
    ) -> None: ...


def status_path(namespace: str, name: str, api_version: str = GROUP_API) -> str:
    return f"/apis/{api_version}/namespaces/{namespace}/podgroups/{name}/status"


class PodGroupStatusWriter:
    def __init__(
        self,
        api: ApiClient,
        cache: GroupCache,
        events: GroupEvents,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._cache = cache
        self._events = events
        self._clock = clock
        # When podium first tried each gang (scheduleStartTime); kept while the group exists.
        self._first_attempt: dict[GangKey, float] = {}
        self._written: dict[GangKey, GangStatus] = {}
        # Workload API groups: how the last try ended, and the condition last written with its
        # lastTransitionTime (kept while the status stays the same, as kube's SetStatusCondition).
        self._attempts: dict[GangKey, Attempt] = {}
        self._conditions: dict[GangKey, tuple[InitiallyScheduled, float]] = {}
        self._dirty: dict[GangKey, None] = {}
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.writes = 0
        self.failures = 0

    # -- what the scheduler reports (never blocks) ---------------------------------------------

    def waiting(self, key: GangKey, message: str, tried: bool, error: bool = False) -> None:
        """The gang was not placed: ``message`` says why. ``tried``: the core tried to place it
        (enough members were present); ``error``: it failed on an internal error."""
        group = self._group(key)
        if tried:
            self._first_attempt.setdefault(key, self._clock())
            # kube-scheduler writes the condition only after a pod group scheduling cycle; a gang
            # still short of minCount waits in PreEnqueue and gets none.
            self._attempts[key] = Attempt("SchedulerError" if error else "Unschedulable", message)
        if group is not None:
            self._events(
                group.namespace,
                group.name,
                group.uid,
                True,
                "FailedScheduling",
                message,
                group.api_version,
            )
        self._mark(key)

    def placed(self, key: GangKey, nodes: Sequence[str]) -> None:
        """The gang's pending pods were placed together, on ``nodes`` (one entry per pod)."""
        self._first_attempt.setdefault(key, self._clock())
        group = self._group(key)
        if group is not None:
            self._events(
                group.namespace,
                group.name,
                group.uid,
                False,
                "Scheduled",
                f"{len(nodes)} pod(s) placed together on {len(set(nodes))} node(s)",
                group.api_version,
            )
        self._attempts.pop(key, None)
        self._mark(key)

    def bind_failed(self, key: GangKey, pod: str, reason: str) -> None:
        """A member's bind failed for good (it is requeued and placed again when it fits)."""
        group = self._group(key)
        if group is not None:
            self._events(
                group.namespace,
                group.name,
                group.uid,
                True,
                "FailedBinding",
                f"pod {pod} could not be bound ({reason}); it is retried, the gang is incomplete "
                "until then",
                group.api_version,
            )
        self._mark(key)

    def changed(self, key: GangKey) -> None:
        """A member or the group changed: its counts may have."""
        if self._cache.pod_group(*key) is None:
            self._first_attempt.pop(key, None)
            self._written.pop(key, None)
            self._attempts.pop(key, None)
            self._conditions.pop(key, None)
            return
        self._mark(key)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, supervisor: Supervisor | None = None) -> None:
        """Start writing, in ``supervisor``'s group (a leadership term's); without one, as a
        task of its own that ``stop`` awaits (tests, tools)."""
        if self._task is not None and not self._task.done():
            return
        if supervisor is None:
            self._task = asyncio.create_task(self._run(), name="podgroup-status")
        else:
            self._task = supervisor.spawn(self._run(), name="podgroup-status")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self) -> None:
        """Wait until every status asked for so far is written (or failed)."""
        while self._dirty or not self._idle.is_set():
            self._wakeup.set()
            await asyncio.sleep(0.01)

    # -- internals -----------------------------------------------------------------------------

    def _group(self, key: GangKey) -> GroupLike | None:
        return self._cache.pod_group(*key)

    def _mark(self, key: GangKey) -> None:
        self._dirty[key] = None
        self._idle.clear()
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_TIMEOUT_SWEEP_SECONDS):
                    await self._wakeup.wait()
            self._wakeup.clear()
            self._sweep_timeouts()
            while self._dirty:
                key = next(iter(self._dirty))
                del self._dirty[key]
                try:
                    await self._sync(key)
                except (ApiStatusError, aiohttp.ClientError, TimeoutError) as err:
                    self.failures += 1
                    log.warning("PodGroup %s/%s: status not written: %s", *key, err)
                except Exception:
                    self.failures += 1
                    log.exception("PodGroup %s/%s: status update failed", *key)
            self._idle.set()

    def _sweep_timeouts(self) -> None:
        now = self._clock()
        for key, started in list(self._first_attempt.items()):
            group = self._group(key)
            if group is None:
                del self._first_attempt[key]
                continue
            timeout = group.schedule_timeout_seconds
            written = self._written.get(key)
            if (
                timeout is not None
                and now - started >= timeout
                and written is not None
                and written.phase.placing
            ):
                self._mark(key)

    async def _sync(self, key: GangKey) -> None:
        group = self._group(key)
        if group is None:
            return
        members = self._cache.group_members(*key)
        if group.api_version == WORKLOAD_GROUP_API:
            await self._sync_condition(key, group, members)
            return
        status = gang_status(
            group, members, first_attempt=self._first_attempt.get(key), now=self._clock()
        )
        previous = self._written.get(key)
        if status == previous:
            return
        if status.phase is GangPhase.FAILED and (
            previous is None or previous.phase is not GangPhase.FAILED
        ):
            self._events(
                group.namespace,
                group.name,
                group.uid,
                True,
                "Timeout",
                f"scheduleTimeoutSeconds ({group.schedule_timeout_seconds}s) passed with "
                f"{status.scheduled} of minMember {group.min_member} pod(s) placed; podium keeps "
                "trying",
            )
        try:
            await request_bytes(
                self._api,
                "PATCH",
                status_path(*key),
                body={"status": status.as_json()},
                content_type="application/merge-patch+json",
                timeout=_REQUEST_TIMEOUT,
            )
        except ApiStatusError as err:
            if err.status == _HTTP_NOT_FOUND:
                return  # deleted meanwhile
            raise
        self._written[key] = status
        self.writes += 1

    async def _sync_condition(
        self, key: GangKey, group: GroupLike, members: Sequence[MemberLike]
    ) -> None:
        condition = initially_scheduled(group, members, self._attempts.get(key))
        if condition is None:
            return
        previous = self._conditions.get(key)
        if previous is not None and previous[0] == condition:
            return
        transition = (
            previous[1]
            if previous is not None and previous[0].status == condition.status
            else self._clock()
        )
        try:
            # A strategic merge patch keyed by the condition's type, as kube-scheduler's
            # PatchPodGroupStatus: other conditions (DisruptionTarget) are left alone.
            await request_bytes(
                self._api,
                "PATCH",
                status_path(*key, api_version=WORKLOAD_GROUP_API),
                body={"status": {"conditions": [condition.as_json(transition)]}},
                content_type="application/strategic-merge-patch+json",
                timeout=_REQUEST_TIMEOUT,
            )
        except ApiStatusError as err:
            if err.status == _HTTP_NOT_FOUND:
                return  # deleted meanwhile
            raise
        self._conditions[key] = (condition, transition)
        self.writes += 1
