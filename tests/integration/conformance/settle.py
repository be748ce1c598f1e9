"""Puts a generated scenario on the apiserver and lets the real kube-scheduler place it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.kube_scheduler import KubeScheduler
from podium.testing.nodes import create_nodes

from .check import Outcome
from .generator import Scenario

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.testing.binaries import Binaries
    from podium.testing.cluster import LocalCluster

# Nothing bound and every pending pod marked Unschedulable for this long, with kube-scheduler
# retrying each pod at least every second (its backoff is set to 1 s), means it is done.
QUIET_SECONDS = 5.0
_POLL_SECONDS = 0.5
_PAGE = 250
_STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"


async def create_scenario(api: ApiClient, scenario: Scenario, namespace: str) -> None:
    await create_nodes(api, scenario.nodes)
    if scenario.storage_class is not None:
        await request_bytes(api, "POST", _STORAGE_CLASSES, body=scenario.storage_class)
    for volume in scenario.volumes:
        await _create_bound(api, "/api/v1/persistentvolumes", volume.pv)
        await _create_bound(
            api, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", volume.claim
        )
    await _create_pods(api, namespace, scenario.bound)
    await _create_pods(api, namespace, scenario.pending)


async def _create_bound(api: ApiClient, collection: str, obj: Any) -> None:
    # No PV controller runs: the binding it would record is written here.
    await request_bytes(api, "POST", collection, body=obj)
    await request_bytes(
        api,
        "PATCH",
        f"{collection}/{obj['metadata']['name']}/status",
        body={"status": {"phase": "Bound"}},
        content_type="application/merge-patch+json",
    )


async def delete_volumes(api: ApiClient, scenario: Scenario, namespace: str) -> None:
    """Removes the run's PVs, claims and StorageClass (with no controller to clear finalizers)."""
    unfinalize = {"metadata": {"finalizers": None}}
    for volume in scenario.volumes:
        claims = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"
        for path in (
            f"{claims}/{volume.claim['metadata']['name']}",
            f"/api/v1/persistentvolumes/{volume.pv['metadata']['name']}",
        ):
            await _gone(api, "PATCH", path, unfinalize)
            await _gone(api, "DELETE", path)
    if scenario.storage_class is not None:
        name = scenario.storage_class["metadata"]["name"]
        await _gone(api, "DELETE", f"{_STORAGE_CLASSES}/{name}")


async def _gone(api: ApiClient, method: str, path: str, body: Any = None) -> None:
    # Cleanup after a run that may have stopped half way: what was never created is fine.
    try:
        await request_bytes(
            api, method, path, body=body, content_type="application/merge-patch+json"
        )
    except ApiStatusError as error:
        if error.status != 404:
            raise


async def _create_pods(api: ApiClient, namespace: str, pods: Sequence[Any]) -> None:
    queue = iter(pods)

    async def worker() -> None:
        for pod in queue:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)

    async with asyncio.TaskGroup() as group:
        for _ in range(16):
            group.create_task(worker())


async def run_kube_scheduler(
    api: ApiClient,
    cluster: LocalCluster,
    binaries: Binaries,
    scheduler_name: str,
    namespace: str,
) -> None:
    """Runs kube-scheduler until it has placed all it can, then stops it."""
    scheduler = KubeScheduler(
        cluster,
        binaries=binaries,
        profiles=[{"schedulerName": scheduler_name}],
        # Fast retries: a pod made feasible by a later placement (a spread minimum rising) is
        # tried again within a second, well inside the quiet window.
        config={"podInitialBackoffSeconds": 1, "podMaxBackoffSeconds": 1},
    )
    await scheduler.start_async()
    try:
        await wait_settled(api, namespace)
    finally:
        scheduler.stop()


async def wait_settled(api: ApiClient, namespace: str) -> None:
    """Returns once kube-scheduler has placed all it can of the namespace's pods."""
    last_bound = -1
    quiet_since = time.monotonic()
    while True:
        await asyncio.sleep(_POLL_SECONDS)
        pods = orjson.loads(
            await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods")
        )["items"]
        bound = sum(1 for pod in pods if pod["spec"].get("nodeName"))
        undecided = sum(
            1 for pod in pods if not pod["spec"].get("nodeName") and not _unschedulable(pod)
        )
        if bound != last_bound or undecided:
            last_bound = bound
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            return


def _unschedulable(pod: Any) -> bool:
    return any(
        c.get("type") == "PodScheduled"
        and c.get("status") == "False"
        and c.get("reason") == "Unschedulable"
        for c in pod.get("status", {}).get("conditions", [])
    )


async def list_outcome(api: ApiClient) -> Outcome:
    """Everything kube-scheduler saw: all nodes and all pods, as raw list pages."""
    return Outcome(
        node_pages=await list_pages(api, "/api/v1/nodes"),
        pod_pages=await list_pages(api, "/api/v1/pods"),
        volume_pages={
            "PERSISTENT_VOLUME": await list_pages(api, "/api/v1/persistentvolumes"),
            "PERSISTENT_VOLUME_CLAIM": await list_pages(api, "/api/v1/persistentvolumeclaims"),
            "STORAGE_CLASS": await list_pages(api, _STORAGE_CLASSES),
        },
    )


async def list_pages(api: ApiClient, path: str) -> list[bytes]:
    """Every object at ``path``, as the raw list pages the apiserver gives."""
    pages: list[bytes] = []
    token: str | None = None
    while True:
        query: dict[str, str | int | bool] = {"limit": _PAGE}
        if token:
            query["continue"] = token
        body = await request_bytes(api, "GET", path, query=query)
        pages.append(body)
        token = orjson.loads(body)["metadata"].get("continue")
        if not token:
            return pages
