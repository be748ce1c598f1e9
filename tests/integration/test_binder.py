"""Binder against the real kube-apiserver, with the real ClusterState doing the assuming."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium._core import ClusterState, EventType, Kind, PendingPod
from podium.binder import ALLOCATION_ANNOTATION, Binder
from podium.events import EventRecorder
from podium.queue import SchedulingQueue
from podium.rawapi import request_bytes
from podium.supervisor import Supervisor
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod


@dataclass(frozen=True)
class Decision:
    uid: str
    namespace: str
    name: str
    node: str | None
    allocation: str | None = None


@dataclass
class World:
    api: ApiClient
    namespace: str
    scheduler_name: str
    node: str
    state: ClusterState
    queue: SchedulingQueue[PendingPod]
    recorder: EventRecorder
    binder: Binder[PendingPod]
    term: Supervisor

    async def pending_pod(self, name: str) -> PendingPod:
        """Create a pod, load it into the state, pop it from the queue and assume it."""
        await create_pod(self.api, self.namespace, name, self.scheduler_name)
        self.state.apply_list(
            Kind.POD,
            await request_bytes(self.api, "GET", f"/api/v1/namespaces/{self.namespace}/pods"),
        )
        (pending,) = [p for p in self.state.pending() if p.name == name]
        self.queue.add(pending)
        (popped,) = await self.queue.pop_batch(1)
        assert popped.uid == pending.uid
        self.state.assume(popped.uid, self.node, None)
        return popped

    def decision(self, pod: PendingPod, allocation: str | None = None) -> Decision:
        return Decision(pod.uid, pod.namespace, pod.name, self.node, allocation)

    async def read_pod(self, name: str) -> dict[str, Any]:
        body = await request_bytes(
            self.api, "GET", f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        )
        pod: dict[str, Any] = orjson.loads(body)
        return pod


async def create_pod(api: ApiClient, namespace: str, name: str, scheduler_name: str) -> None:
    body = make_pod(name, namespace, scheduler_name=scheduler_name, requests={"cpu": "1"})
    await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=body)


async def delete_pod(api: ApiClient, namespace: str, name: str) -> None:
    await request_bytes(
        api,
        "DELETE",
        f"/api/v1/namespaces/{namespace}/pods/{name}",
        query={"gracePeriodSeconds": 0},
    )


@pytest.fixture
async def world(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> AsyncIterator[World]:
    scheduler_name = f"podium-binder-{uuid.uuid4().hex[:8]}"
    node = f"bind-{uuid.uuid4().hex[:8]}"
    await create_nodes(api, [make_node(node, labels=node_labels)])
    state = ClusterState([scheduler_name])
    selector = ",".join(f"{k}={v}" for k, v in node_labels.items())
    state.apply_list(
        Kind.NODE,
        await request_bytes(api, "GET", "/api/v1/nodes", query={"labelSelector": selector}),
    )
    queue: SchedulingQueue[PendingPod] = SchedulingQueue()
    recorder = EventRecorder(api, "binder-test")
    recorder.start()
    term = Supervisor("binder test")
    await term.start()
    binder: Binder[PendingPod] = Binder(
        api, state, queue, recorder, supervisor=term, concurrency=8, retries=2
    )
    try:
        yield World(api, namespace, scheduler_name, node, state, queue, recorder, binder, term)
    finally:
        await binder.stop()
        await term.stop()
        await recorder.stop()


async def test_bind_sets_node_and_allocation(world: World) -> None:
    pod = await world.pending_pod("gpu-0")
    allocation = '{"zones":[0],"nvidia.com/gpu":[0,1]}'
    assert world.binder.submit(world.decision(pod, allocation), pod)
    await world.binder.drain()

    bound = await world.read_pod("gpu-0")
    assert bound["spec"]["nodeName"] == world.node
    assert bound["metadata"]["annotations"][ALLOCATION_ANNOTATION] == allocation
    scheduled = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [c["status"] for c in scheduled] == ["True"]
    assert pod.uid not in world.queue
    assert len(world.binder) == 0

    await world.recorder.flush()
    events = orjson.loads(
        await request_bytes(
            world.api, "GET", f"/apis/events.k8s.io/v1/namespaces/{world.namespace}/events"
        )
    )["items"]
    assert [(e["reason"], e["note"]) for e in events] == [
        ("Scheduled", f"Successfully assigned {world.namespace}/gpu-0 to {world.node}")
    ]


async def test_bind_without_allocation_adds_no_annotation(world: World) -> None:
    pod = await world.pending_pod("cpu-0")
    world.binder.submit(world.decision(pod), pod)
    await world.binder.drain()
    bound = await world.read_pod("cpu-0")
    assert bound["spec"]["nodeName"] == world.node
    assert ALLOCATION_ANNOTATION not in (bound["metadata"].get("annotations") or {})


async def test_deleted_pod_is_forgotten_and_dropped(world: World) -> None:
    pod = await world.pending_pod("gone")
    await delete_pod(world.api, world.namespace, "gone")
    world.binder.submit(world.decision(pod), pod)
    await world.binder.drain()
    assert not world.state.is_assumed(pod.uid)
    assert pod.uid not in world.queue
    assert len(world.binder) == 0


async def test_replaced_pod_is_not_bound(world: World) -> None:
    pod = await world.pending_pod("web")
    # Same name, new uid: the binding's uid precondition must refuse it.
    await delete_pod(world.api, world.namespace, "web")
    await create_pod(world.api, world.namespace, "web", world.scheduler_name)
    world.binder.submit(world.decision(pod), pod)
    await world.binder.drain()
    replacement = await world.read_pod("web")
    assert replacement["metadata"]["uid"] != pod.uid
    assert "nodeName" not in replacement["spec"]
    assert not world.state.is_assumed(pod.uid)
    assert pod.uid not in world.queue


async def test_pod_bound_by_someone_else_is_dropped(world: World) -> None:
    pod = await world.pending_pod("raced")
    await request_bytes(
        world.api,
        "POST",
        f"/api/v1/namespaces/{world.namespace}/pods/raced/binding",
        body={
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "raced"},
            "target": {"kind": "Node", "name": "someone-elses-node"},
        },
    )
    world.binder.submit(world.decision(pod), pod)
    await world.binder.drain()
    assert (await world.read_pod("raced"))["spec"]["nodeName"] == "someone-elses-node"
    assert not world.state.is_assumed(pod.uid)
    assert pod.uid not in world.queue


async def test_node_deleted_mid_flight_requeues(world: World) -> None:
    # The apiserver binds to a node that no longer exists without complaint, so the binder asks
    # the cache before each attempt. Here the cache's node names follow the watch's changes.
    live_nodes = {world.node}
    binder: Binder[PendingPod] = Binder(
        world.api,
        world.state,
        world.queue,
        supervisor=world.term,
        node_exists=live_nodes.__contains__,
    )
    pod = await world.pending_pod("orphan")
    node = orjson.loads(await request_bytes(world.api, "GET", f"/api/v1/nodes/{world.node}"))
    await request_bytes(world.api, "DELETE", f"/api/v1/nodes/{world.node}")
    # What the node watch delivers to the cache.
    change = world.state.apply_event(Kind.NODE, orjson.dumps({"type": "DELETED", "object": node}))
    assert (change.event, change.name) == (EventType.DELETED, world.node)
    live_nodes.discard(change.name)
    binder.submit(world.decision(pod), pod)
    await binder.drain()
    assert "nodeName" not in (await world.read_pod("orphan"))["spec"]
    assert not world.state.is_assumed(pod.uid)
    assert world.queue.pending_counts()["backoff"] == 1
    assert len(binder) == 0


async def test_many_concurrent_binds_all_land(world: World) -> None:
    pods = [await world.pending_pod(f"many-{i}") for i in range(40)]
    for pod in pods:
        assert world.binder.submit(world.decision(pod), pod)
    await world.binder.drain()
    listed = orjson.loads(
        await request_bytes(world.api, "GET", f"/api/v1/namespaces/{world.namespace}/pods")
    )["items"]
    assert sorted(p["metadata"]["name"] for p in listed if p["spec"].get("nodeName")) == sorted(
        p.name for p in pods
    )
    assert len(world.binder) == 0
    assert len(world.queue) == 0
