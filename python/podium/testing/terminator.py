"""Stands in for the kubelets the local cluster does not have, for one thing only: finishing
graceful deletions.

A bound pod deleted normally gets a ``deletionTimestamp`` and stays until its kubelet confirms
the containers stopped (a delete with grace period 0). Without kubelets such pods would stay
terminating forever; ``Terminator`` confirms them, as a kubelet would once they stopped. Pods
that still carry finalizers are left alone: the apiserver removes them once the last goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import orjson

from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient


class Terminator:
    """Finishes the graceful deletion of every terminating pod in ``namespace``, polling."""

    def __init__(self, api: ApiClient, namespace: str, *, interval: float = 0.2) -> None:
        self._api = api
        self._namespace = namespace
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.finished: list[str] = []

    async def __aenter__(self) -> Terminator:
        self._task = asyncio.create_task(self._run(), name=f"terminator-{self._namespace}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        base = f"/api/v1/namespaces/{self._namespace}/pods"
        while True:
            pods: list[dict[str, Any]] = orjson.loads(await request_bytes(self._api, "GET", base))[
                "items"
            ]
            for pod in pods:
                meta = pod["metadata"]
                if "deletionTimestamp" not in meta or meta.get("finalizers"):
                    continue
                options = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
                try:
                    await request_bytes(self._api, "DELETE", f"{base}/{meta['name']}", body=options)
                except ApiStatusError as e:
                    if e.status not in (404, 409):
                        raise
                else:
                    self.finished.append(meta["name"])
            await asyncio.sleep(self._interval)
