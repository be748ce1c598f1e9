"""The load benchmark's side of a case: create the pods (at a fixed rate or as one burst) or
the Jobs (at a steady rate), note when each creation was sent (or, for a Job's pods, first
seen) and when each binding was seen, clean up.

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

import aiohttp
import orjson

from podium.benchmarks.podwatch import watch
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient


@dataclass(slots=True)
class CaseTimes:
    created: dict[str, float] = field(default_factory=dict)  # pod name -> creation sent
    bound: dict[str, float] = field(default_factory=dict)  # pod name -> binding seen
    create_errors: list[str] = field(default_factory=list)


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
        name = pod["metadata"]["name"]
        async with limit:
            times.created[name] = time.monotonic()
            try:
                await request_bytes(api, "POST", path, body=pod)
            except (ApiStatusError, aiohttp.ClientError, TimeoutError) as error:
                # Counted, not fatal: the case reports fewer pods bound than asked for.
                del times.created[name]
                times.create_errors.append(f"{name}: {error!r}")

    async with asyncio.TaskGroup() as group:
        for index, pod in enumerate(pods):
            group.create_task(create(index, pod))


async def create_jobs(
    api: ApiClient,
    namespace: str,
    jobs: Sequence[dict[str, Any]],
    *,
    rate: float,
    concurrency: int,
    errors: list[str],
) -> int:
    """Creates ``jobs``, job i at ``i / rate`` seconds after the start; returns how many were
    created (a failure is noted in ``errors``, not fatal)."""
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    limit = asyncio.Semaphore(concurrency)
    start = time.monotonic()
    created = 0

    async def create(index: int, job: dict[str, Any]) -> None:
        nonlocal created
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        async with limit:
            try:
                await request_bytes(api, "POST", path, body=job)
                created += 1
            except (ApiStatusError, aiohttp.ClientError, TimeoutError) as error:
                errors.append(f"{job['metadata']['name']}: {error!r}")

    async with asyncio.TaskGroup() as group:
        for index, job in enumerate(jobs):
            group.create_task(create(index, job))
    return created


async def record_bindings(
    api: ApiClient,
    namespace: str,
    times: CaseTimes,
    opened: asyncio.Event,
    *,
    note_creation: bool = False,
) -> None:
    """Notes the moment each pod of ``namespace`` is first seen with ``spec.nodeName`` (and,
    with ``note_creation``, first seen at all: for pods a controller creates); runs until
    cancelled."""
    async for arrived, _, pod in watch(api, f"/api/v1/namespaces/{namespace}/pods", opened=opened):
        name = pod["metadata"]["name"]
        if note_creation:
            times.created.setdefault(name, arrived)
        if pod["spec"].get("nodeName") and name not in times.bound:
            times.bound[name] = arrived


async def delete_namespace(
    api: ApiClient, namespace: str, *, limit: float = 300.0, concurrency: int = 64
) -> None:
    """Deletes the case's Jobs and pods (at once: no kubelet would confirm a graceful stop) and
    waits until they are gone, so the next case starts on empty nodes; then the namespace.

    One request per object, ``concurrency`` in flight: the apiserver deletes a collection one
    object at a time (``--delete-collection-workers=1``), each waiting for its etcd commit, which
    on a busy machine is slower than the request timeout for a thousand pods."""
    deadline = time.monotonic() + limit
    # Jobs first, or their controller would make new pods for the ones deleted below.
    jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    await _delete_each(api, jobs, {"propagationPolicy": "Background"}, concurrency)
    pods = f"/api/v1/namespaces/{namespace}/pods"
    while time.monotonic() < deadline:
        # A Job's pod keeps its tracking finalizer until the Job controller lifts it: waited for.
        if not await _delete_each(api, pods, {"gracePeriodSeconds": 0}, concurrency):
            break
        await asyncio.sleep(1.0)
    # ResourceClaims (DRA): their devices are free once they are gone. The controller-manager
    # lifts the finalizer of a deleted claim no pod reserves any more.
    claims = f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims"
    while time.monotonic() < deadline:
        if not await _delete_each(api, claims, {}, concurrency):
            break
        await asyncio.sleep(1.0)
    with contextlib.suppress(ApiStatusError, aiohttp.ClientError, TimeoutError):
        await request_bytes(api, "DELETE", f"/api/v1/namespaces/{namespace}")


async def _delete_each(
    api: ApiClient, path: str, query: dict[str, str | int | bool], concurrency: int
) -> int:
    """Deletes every object listed at ``path`` not already being deleted; returns how many
    objects were listed (0: none left). Failures are retried by the caller's next round."""
    try:
        listed = orjson.loads(await request_bytes(api, "GET", path))
    except (ApiStatusError, aiohttp.ClientError, TimeoutError):
        return -1
    names = [
        item["metadata"]["name"]
        for item in listed["items"]
        if not item["metadata"].get("deletionTimestamp")
    ]
    limit = asyncio.Semaphore(concurrency)

    async def delete(name: str) -> None:
        async with limit:
            with contextlib.suppress(ApiStatusError, aiohttp.ClientError, TimeoutError):
                await request_bytes(api, "DELETE", f"{path}/{name}", query=query)

    async with asyncio.TaskGroup() as group:
        for name in names:
            group.create_task(delete(name))
    return len(listed["items"])
