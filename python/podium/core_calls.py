"""The core's calls from the event loop: one at a time, on a thread of their own.

The core releases the GIL and parallelises over nodes itself, so one thread is enough, and it
keeps cycles ordered; the event loop meanwhile keeps applying watch events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace

from podium._core import CoreError

if TYPE_CHECKING:
    from podium._core import Decision, PendingPod, PodGroup, Profile
    from podium.outcomes import CycleResult
    from podium.sinks import Requeue

__all__ = ["CoreCalls"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="podium-core")


class CoreCalls:
    def __init__(self, queue: Requeue, tracer: trace.Tracer) -> None:
        self._queue = queue
        self._tracer = tracer
        self._executor = _executor()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def decide(
        self,
        schedule: Callable[..., list[Decision]],
        pods: list[PendingPod],
        profile: Profile,
        result: CycleResult,
        *args: object,
    ) -> list[Decision] | None:
        """One scheduling call (``Snapshot.schedule``); a CoreError
        requeues ``pods`` (None)."""
        with self._tracer.start_as_current_span("schedule") as span:
            uids = [pod.uid for pod in pods]
            try:
                return await self.call(schedule, uids, profile, *args)
            except CoreError as err:
                # A core bug or an input it rejects wholesale: the pods go back, none is lost.
                log.exception("core rejected a batch of %d pods", len(pods))
                span.record_exception(err)
                for pod in pods:
                    self._queue.requeue(pod, unschedulable=False)
                result.errors += len(pods)
                return None

    async def decide_gangs(
        self,
        schedule_gangs: Callable[..., list[list[Decision]]],
        gangs: list[tuple[list[PendingPod], PodGroup, list[str]]],
        profile: Profile,
        result: CycleResult,
        *args: object,
    ) -> list[list[Decision]] | None:
        """One call placing several gangs (``Snapshot.schedule_gangs``: (members, group, job
        groups) each); a CoreError requeues every member (None)."""
        with self._tracer.start_as_current_span("schedule") as span:
            asked = [([pod.uid for pod in pods], group, job) for pods, group, job in gangs]
            try:
                return await self.call(schedule_gangs, asked, profile, *args)
            except CoreError as err:
                members = [pod for pods, _, _ in gangs for pod in pods]
                log.exception("core rejected %d gangs of %d pods", len(gangs), len(members))
                span.record_exception(err)
                for pod in members:
                    self._queue.requeue(pod, unschedulable=False)
                result.errors += len(members)
                return None

    def restart(self) -> None:
        """Drop what is queued and start afresh: a replica that loses leadership may regain it
        (threads start on first use, so an idle executor costs nothing)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = _executor()
