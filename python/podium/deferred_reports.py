"""Reports due later, unless what they wait for comes first.

A pod or a gang that cannot be tried yet, for a reason that usually passes within a moment (its
ResourceClaims not made from their templates yet; its gang's other members or PodGroup still
being created by their controller), waits without a report, as kube-scheduler's PreEnqueue
plugins keep such pods without one. It is reported (FailedScheduling event, PodScheduled
condition, PodGroup event) only if it still waits ``delay`` seconds later: a job of 64 pods
created one by one, or a pod whose claim follows it, costs the apiserver no event and no
condition write, and the user sees no warning for a wait that ended by itself. Whoever asks
for a report says, when it is due, whether the wait is still on: the report checks again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

__all__ = ["WAIT_REPORT_SECONDS", "DeferredReports"]

# How long a pod or gang may wait for what usually follows it within a second (its claims, its
# gang's members) before it is reported unschedulable.
WAIT_REPORT_SECONDS = 5.0


class DeferredReports:
    """At most one report due per key (a pod's uid, a gang's key); all dropped when the
    leadership term ends, since a replica that no longer leads must not write them."""

    def __init__(self, delay: float = WAIT_REPORT_SECONDS) -> None:
        self._delay = delay
        self._due: dict[Hashable, asyncio.TimerHandle] = {}

    def due(self, key: Hashable, report: Callable[[], None]) -> None:
        """``report`` runs ``delay`` seconds from now, unless one is already due for ``key``
        (the first wait counts: asking again while waiting does not put the report off)."""
        if key in self._due:
            return

        def run() -> None:
            del self._due[key]
            report()

        self._due[key] = asyncio.get_running_loop().call_later(self._delay, run)

    def cancel_all(self) -> None:
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()
