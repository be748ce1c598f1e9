"""The load benchmark's side of a case: create the pods (at a fixed rate or as one burst),
note when each creation was sent and when each binding was seen, clean up.

Times are the bench's own monotonic clock: a pod's creationTimestamp has one-second resolution,
far too coarse for latencies of milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.benchmarks.podwatch import watch
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient


@dataclass(slots=True)
class CaseTimes:
    created: dict[str, float] = field(default_factory=dict)  # pod name -> creation sent
    bound: dict[str, float] = field(default_factory=dict)  # pod name -> binding seen


async def create_pods(
    api: ApiClient,
    namespace: str,
    pods: Sequence[dict[str, Any]],
    *,
    rate: float | None,
    concurrency: int,
    times: CaseTimes,
) -> None:
    """Creates ``pods``: pod i at ``i / rate`` seconds after the start, or all as fast as
    ``concurrency`` requests in flight allow when ``rate`` is None."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    limit = asyncio.Semaphore(concurrency)
    start = time.monotonic()

    async def create(index: int, pod: dict[str, Any]) -> None:
        if rate is not None:
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        async with limit:
            times.created[pod["metadata"]["name"]] = time.monotonic()
            await request_bytes(api, "POST", path, body=pod)

    async with asyncio.TaskGroup() as group:
        for index, pod in enumerate(pods):
            group.create_task(create(index, pod))


async def record_bindings(
    api: ApiClient, namespace: str, times: CaseTimes, opened: asyncio.Event
) -> None:
    """Notes the moment each pod of ``namespace`` is first seen with ``spec.nodeName``; runs
    until cancelled."""
    async for arrived, _, pod in watch(api, f"/api/v1/namespaces/{namespace}/pods", opened=opened):
        name = pod["metadata"]["name"]
        if pod["spec"].get("nodeName") and name not in times.bound:
            times.bound[name] = arrived


async def delete_namespace(api: ApiClient, namespace: str) -> None:
    """Deletes the case's pods at once (no kubelet would confirm a graceful stop) and its
    namespace."""
    with contextlib.suppress(ApiStatusError):
        await request_bytes(
            api,
            "DELETE",
            f"/api/v1/namespaces/{namespace}/pods",
            query={"gracePeriodSeconds": 0},
        )
        await request_bytes(api, "DELETE", f"/api/v1/namespaces/{namespace}")
