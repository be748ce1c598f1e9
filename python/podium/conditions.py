"""Writes the ``PodScheduled=False, reason=Unschedulable`` condition on pods podium cannot place.

Like events, the writes happen in the background so a scheduling cycle never waits for them.
Pending writes are kept per pod, latest message wins: a pod that fails ten times while the
apiserver is slow costs one PATCH, and the backlog is bounded by the number of pods. A message
identical to the one last written for that pod is not written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

from podium.bounded import MAX_CONDITION_BYTES, bound
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.supervisor import Supervisor

__all__ = ["ConditionWriter"]

log = logging.getLogger(__name__)

_REQUEST_TIMEOUT = 10.0
_PodKey = tuple[str, str]


class ConditionWriter:
    def __init__(
        self, api: ApiClient, *, concurrency: int = 4, max_remembered: int = 200_000
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {concurrency})")
        if max_remembered < 1:
            raise ValueError(f"max_remembered must be >= 1 (got {max_remembered})")
        self._max_remembered = max_remembered
        self._api = api
        self._concurrency = concurrency
        # Insertion-ordered: writes go out oldest first.
        self._pending: dict[_PodKey, str] = {}
        # The message currently on each pod, as far as podium wrote it.
        self._written: dict[_PodKey, str] = {}
        self._in_progress: set[_PodKey] = set()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task[None]] = []
        self.failures = 0
        self.writes = 0

    def set_unschedulable(self, namespace: str, name: str, message: str) -> None:
        """Ask for the condition to be written; returns at once."""
        key = (namespace, name)
        message = bound(message, MAX_CONDITION_BYTES)
        if self._written.get(key) == message and key not in self._in_progress:
            self._pending.pop(key, None)
            return
        self._pending[key] = message
        self._idle.clear()
        self._wakeup.set()

    def forget(self, namespace: str, name: str) -> None:
        """The pod was bound or deleted: drop what is remembered and any pending write."""
        key = (namespace, name)
        self._pending.pop(key, None)
        self._written.pop(key, None)
        self._update_idle()

    def start(self, supervisor: Supervisor | None = None) -> None:
        """Start the workers, in ``supervisor``'s group (a leadership term's); without one, as
        tasks of their own that ``stop`` awaits (tests, tools)."""
        if any(not worker.done() for worker in self._workers):
            return
        self._workers = []
        for i in range(self._concurrency):
            name = f"podium-conditions-{i}"
            if supervisor is None:
                self._workers.append(asyncio.create_task(self._work(), name=name))
            elif (worker := supervisor.spawn(self._work(), name=name)) is not None:
                self._workers.append(worker)

    async def flush(self) -> None:
        """Wait until every requested write has been attempted."""
        await self._idle.wait()

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []

    async def _work(self) -> None:
        while True:
            key = next((k for k in self._pending if k not in self._in_progress), None)
            if key is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            message = self._pending.pop(key)
            self._in_progress.add(key)
            try:
                if self._written.get(key) != message:
                    await self._patch(key, message)
            except asyncio.CancelledError:
                raise
            except ApiStatusError as e:
                if e.status != 404:  # a deleted pod needs no condition
                    self.failures += 1
                    log.warning("cannot set PodScheduled on %s/%s: %s", *key, e)
            except (aiohttp.ClientError, TimeoutError) as e:
                self.failures += 1
                log.warning("cannot set PodScheduled on %s/%s: %s", *key, e)
            except Exception:
                self.failures += 1
                log.exception("condition writer failed for %s/%s", *key)
            finally:
                self._in_progress.discard(key)
                self._update_idle()

    async def _patch(self, key: _PodKey, message: str) -> None:
        namespace, name = key
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
        }
        # lastTransitionTime marks the change of *status*; when podium already wrote False,
        # leaving it out keeps the original time (conditions merge by type).
        if key not in self._written:
            condition["lastTransitionTime"] = datetime.fromtimestamp(time.time(), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        await request_bytes(
            self._api,
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            body={"status": {"conditions": [condition]}},
            content_type="application/strategic-merge-patch+json",
            timeout=_REQUEST_TIMEOUT,
        )
        self.writes += 1
        self._written.pop(key, None)
        self._written[key] = message
        if len(self._written) > self._max_remembered:
            # Pods deleted without a ``forget`` would otherwise pile up; forgetting the oldest
            # costs at most one redundant PATCH later.
            del self._written[next(iter(self._written))]

    def _update_idle(self) -> None:
        if not self._pending and not self._in_progress:
            self._idle.set()
