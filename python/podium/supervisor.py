"""Structured concurrency: every background task of a replica runs in a TaskGroup that someone
owns and awaits.

A ``Supervisor`` holds one ``asyncio.TaskGroup`` open, in a task of its own, from ``start`` to
``stop``, so synchronous code (a scheduling cycle handing a pod to the binder) can start tasks in
it, and one ``stop`` cancels them all and waits until each has finished (a cancelled bind forgets
its pod and requeues it before ``stop`` returns). A task that fails (raises anything but
``CancelledError``) ends the group, as TaskGroup does: its siblings are cancelled, the failure is
logged at once and handed to ``on_failure`` (the replica stops on it), or raised by ``stop`` when
no one asked for it. Nothing runs unowned, and no failure goes unseen.

The runner keeps two: the replica's (the cache, the Python plugins' background sources, warm on
followers too) and one per leadership term (the cycle loop, binds, preemptions, events,
conditions, PodGroup status), which ends when leadership does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Supervisor"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Supervisor:
    def __init__(
        self, name: str, *, on_failure: Callable[[BaseException], None] | None = None
    ) -> None:
        """``on_failure``: told the failure that ended the group (after it is logged); without
        it, ``stop`` raises it."""
        self.name = name
        self._on_failure = on_failure
        self._group: asyncio.TaskGroup | None = None
        self._holder: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether ``spawn`` starts tasks now (started, not stopping, not failed)."""
        return self._group is not None

    async def start(self) -> None:
        """Open the group; returns once tasks can be spawned. A no-op while it is open."""
        if self._holder is not None and not self._holder.done():
            return
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._holder = asyncio.create_task(self._hold(opened), name=f"supervisor {self.name}")
        self._holder.add_done_callback(self._ended)
        await opened

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T] | None:
        """Run ``coro`` as a task of the group (it inherits the caller's context: its spans are
        children of the caller's). None, with ``coro`` closed unrun, when the group is not open:
        the caller undoes what it prepared for the task."""
        group = self._group
        if group is not None:
            try:
                return group.create_task(coro, name=name)
            except RuntimeError:
                pass  # the group is shutting down (stop, or a sibling failed)
        coro.close()
        return None

    async def stop(self) -> None:
        """Cancel every task and wait until all have finished."""
        holder, self._holder = self._holder, None
        if holder is None:
            return
        holder.cancel()
        await asyncio.wait([holder])
        if holder.cancelled() or self._on_failure is not None:
            return
        failure = holder.exception()
        if failure is not None:
            raise failure

    async def __aenter__(self) -> Supervisor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _hold(self, opened: asyncio.Future[None]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                opened.set_result(None)
                # Until stop() cancels this, or a failed task makes the group cancel it.
                await asyncio.get_running_loop().create_future()
        finally:
            self._group = None

    def _ended(self, holder: asyncio.Task[None]) -> None:
        if holder.cancelled():
            return
        failure = holder.exception()
        if failure is None:
            return
        log.error(
            "%s: a supervised task failed; the others were cancelled", self.name, exc_info=failure
        )
        if self._on_failure is not None:
            self._on_failure(failure)
