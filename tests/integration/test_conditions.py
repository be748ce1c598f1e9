"""ConditionWriter against the real kube-apiserver."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api

from podium.conditions import ConditionWriter
from podium.rawapi import request_bytes
from podium.testing.pods import make_pod


async def create_pod(api: ApiClient, namespace: str, name: str) -> None:
    body = make_pod(name, namespace, scheduler_name="podium-test-nobody")
    await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=body)


async def pod_scheduled(api: ApiClient, namespace: str, name: str) -> Any:
    pod = await CoreV1Api(api).read_namespaced_pod_status(name, namespace)
    matches = [c for c in pod.status.conditions or () if c.type == "PodScheduled"]
    assert len(matches) <= 1
    return matches[0] if matches else None


async def test_sets_and_updates_the_condition(api: ApiClient, namespace: str) -> None:
    await create_pod(api, namespace, "web-0")
    writer = ConditionWriter(api)
    writer.start()
    try:
        writer.set_unschedulable(namespace, "web-0", "0/3 nodes are available: 3 Insufficient cpu.")
        await writer.flush()
        first = await pod_scheduled(api, namespace, "web-0")
        assert (first.status, first.reason, first.message) == (
            "False",
            "Unschedulable",
            "0/3 nodes are available: 3 Insufficient cpu.",
        )
        assert first.last_transition_time is not None

        # Identical again: nothing is written.
        assert writer.writes == 1
        writer.set_unschedulable(namespace, "web-0", "0/3 nodes are available: 3 Insufficient cpu.")
        await writer.flush()
        assert writer.writes == 1

        writer.set_unschedulable(namespace, "web-0", "0/4 nodes are available: 4 Insufficient cpu.")
        await writer.flush()
        second = await pod_scheduled(api, namespace, "web-0")
        assert second.message == "0/4 nodes are available: 4 Insufficient cpu."
        # Still False: the transition time is the first one.
        assert second.last_transition_time == first.last_transition_time
        assert writer.failures == 0
    finally:
        await writer.stop()


async def test_burst_coalesces_to_the_latest(api: ApiClient, namespace: str) -> None:
    await create_pod(api, namespace, "web-0")
    writer = ConditionWriter(api, concurrency=1)
    # Not started yet: the three requests pile up and only the last survives.
    for i in range(3):
        writer.set_unschedulable(namespace, "web-0", f"attempt {i}")
    writer.start()
    try:
        await writer.flush()
    finally:
        await writer.stop()
    assert (await pod_scheduled(api, namespace, "web-0")).message == "attempt 2"


async def test_deleted_pod_is_not_a_failure(api: ApiClient, namespace: str) -> None:
    writer = ConditionWriter(api)
    writer.start()
    try:
        writer.set_unschedulable(namespace, "never-existed", "nope")
        await writer.flush()
    finally:
        await writer.stop()
    assert writer.failures == 0


async def test_forgetting_the_oldest_beyond_the_cap(api: ApiClient, namespace: str) -> None:
    await create_pod(api, namespace, "a")
    await create_pod(api, namespace, "b")
    writer = ConditionWriter(api, concurrency=1, max_remembered=1)
    writer.start()
    try:
        writer.set_unschedulable(namespace, "a", "m")
        await writer.flush()
        writer.set_unschedulable(namespace, "b", "m")
        await writer.flush()
        # "a" was pushed out of memory: the same message is written again (harmlessly).
        writer.set_unschedulable(namespace, "a", "m")
        await writer.flush()
        assert writer.writes == 3
        # "b" was pushed out in turn; "a" is remembered.
        writer.set_unschedulable(namespace, "a", "m")
        await writer.flush()
        assert writer.writes == 3
    finally:
        await writer.stop()
    assert (await pod_scheduled(api, namespace, "a")).message == "m"
