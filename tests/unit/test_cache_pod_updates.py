"""A pod parked as unschedulable stays parked when only its status conditions change (the
PodScheduled=False podium itself writes), as kube-scheduler ignores such updates
(``isPodUpdated``); a change to what it asks for brings it back."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock

import orjson

from podium._core import Kind, PendingPod
from podium.cache import Cache
from podium.queue import SchedulingQueue


def _pod(version: str, cpu: str, conditions: list[dict[str, str]] | None = None) -> bytes:
    status: dict[str, Any] = {"phase": "Pending"}
    if conditions is not None:
        status["conditions"] = conditions
    body = {
        "metadata": {"name": "web-0", "namespace": "ns", "uid": "u1", "resourceVersion": version},
        "spec": {
            "schedulerName": "podium",
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
        },
        "status": status,
    }
    return orjson.dumps({"type": "MODIFIED" if version != "1" else "ADDED", "object": body})


async def test_a_condition_written_does_not_unpark_the_pod() -> None:
    queue: SchedulingQueue[PendingPod] = SchedulingQueue()
    cache = Cache(MagicMock(), ["podium"], queue)
    cache._on_change(cache.state.apply_event(Kind.POD, _pod("1", "64")))
    [pod] = await queue.pop_batch(1)
    queue.requeue(pod, unschedulable=True)
    assert queue.pending_counts()["unschedulable"] == 1

    unschedulable = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    cache._on_change(cache.state.apply_event(Kind.POD, _pod("2", "64", unschedulable)))
    assert queue.pending_counts()["unschedulable"] == 1, "its own condition is no reason"

    cache._on_change(cache.state.apply_event(Kind.POD, _pod("3", "1", unschedulable)))
    assert queue.pending_counts()["unschedulable"] == 0, "it asks for less now"
