"""EventRecorder against the real kube-apiserver: events.k8s.io/v1 objects and series."""

from __future__ import annotations

from typing import Any

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.events import SERIES_WINDOW_SECONDS, EventRecorder, ObjectRef
from podium.metrics import Metrics
from podium.rawapi import request_bytes
from podium.testing.pods import make_pod


async def create_pod(api: ApiClient, namespace: str, name: str) -> ObjectRef:
    body = make_pod(name, namespace, scheduler_name="podium-test-nobody")
    created = orjson.loads(
        await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=body)
    )
    return ObjectRef(namespace, name, created["metadata"]["uid"])


async def list_events(api: ApiClient, namespace: str) -> list[dict[str, Any]]:
    body = await request_bytes(api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")
    items: list[dict[str, Any]] = orjson.loads(body)["items"]
    return sorted(items, key=lambda e: str(e["eventTime"]))


async def test_scheduled_and_failed_events_are_written(api: ApiClient, namespace: str) -> None:
    pod = await create_pod(api, namespace, "web-0")
    recorder = EventRecorder(api, "podium-test-holder")
    recorder.start()
    try:
        recorder.failed_scheduling(pod, "0/3 nodes are available: 3 Insufficient cpu.")
        recorder.scheduled(pod, "node-7")
        await recorder.flush()
    finally:
        await recorder.stop()
    events = await list_events(api, namespace)
    assert [(e["reason"], e["type"], e["action"]) for e in events] == [
        ("FailedScheduling", "Warning", "Scheduling"),
        ("Scheduled", "Normal", "Binding"),
    ]
    failed, scheduled = events
    assert failed["note"] == "0/3 nodes are available: 3 Insufficient cpu."
    assert scheduled["note"] == f"Successfully assigned {namespace}/web-0 to node-7"
    for event in events:
        assert event["reportingController"] == "podium"
        assert event["reportingInstance"] == "podium-test-holder"
        assert event["regarding"] == {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": "web-0",
            "namespace": namespace,
            "uid": pod.uid,
        }
        assert "series" not in event
    assert recorder.dropped == 0


async def test_repeats_become_a_series(api: ApiClient, namespace: str) -> None:
    pod = await create_pod(api, namespace, "web-0")
    other = await create_pod(api, namespace, "web-1")
    recorder = EventRecorder(api, "holder")
    recorder.start()
    try:
        for _ in range(3):
            recorder.failed_scheduling(pod, "0/1 nodes are available: 1 Insufficient cpu.")
        # A different note is a different event, as is the same note about another pod.
        recorder.failed_scheduling(pod, "0/2 nodes are available: 2 Insufficient cpu.")
        recorder.failed_scheduling(other, "0/1 nodes are available: 1 Insufficient cpu.")
        await recorder.flush()
    finally:
        await recorder.stop()
    events = await list_events(api, namespace)
    by_key = {(e["regarding"]["name"], e["note"]): e for e in events}
    assert len(events) == 3
    repeated = by_key[("web-0", "0/1 nodes are available: 1 Insufficient cpu.")]
    assert repeated["series"]["count"] == 3
    assert repeated["series"]["lastObservedTime"] >= repeated["eventTime"]
    assert "series" not in by_key[("web-0", "0/2 nodes are available: 2 Insufficient cpu.")]
    assert "series" not in by_key[("web-1", "0/1 nodes are available: 1 Insufficient cpu.")]


async def test_series_restarts_when_the_event_was_deleted(api: ApiClient, namespace: str) -> None:
    pod = await create_pod(api, namespace, "web-0")
    recorder = EventRecorder(api, "holder")
    recorder.start()
    try:
        recorder.failed_scheduling(pod, "nope")
        await recorder.flush()
        (first,) = await list_events(api, namespace)
        await request_bytes(
            api,
            "DELETE",
            f"/apis/events.k8s.io/v1/namespaces/{namespace}/events/{first['metadata']['name']}",
        )
        recorder.failed_scheduling(pod, "nope")
        await recorder.flush()
    finally:
        await recorder.stop()
    (second,) = await list_events(api, namespace)
    assert second["metadata"]["name"] != first["metadata"]["name"]
    assert "series" not in second
    assert recorder.dropped == 0


async def test_full_buffer_drops_and_counts(api: ApiClient, namespace: str) -> None:
    pod = await create_pod(api, namespace, "web-0")
    metrics = Metrics()
    # Not started: nothing drains the buffer, so the third event has no room.
    recorder = EventRecorder(api, "holder", metrics=metrics, buffer_size=2)
    for i in range(3):
        recorder.failed_scheduling(pod, f"attempt {i}")
    assert recorder.dropped == 1
    assert metrics.registry.get_sample_value("podium_events_dropped_total") == 1
    recorder.start()
    await recorder.flush()
    await recorder.stop()
    assert sorted(e["note"] for e in await list_events(api, namespace)) == [
        "attempt 0",
        "attempt 1",
    ]


async def test_rejected_event_is_dropped_not_fatal(api: ApiClient, namespace: str) -> None:
    recorder = EventRecorder(api, "holder")
    recorder.start()
    try:
        # The namespace does not exist: the apiserver refuses, the writer carries on.
        recorder.failed_scheduling(ObjectRef("no-such-namespace-x", "p", "u"), "lost")
        pod = await create_pod(api, namespace, "web-0")
        recorder.failed_scheduling(pod, "kept")
        await recorder.flush()
    finally:
        await recorder.stop()
    assert recorder.dropped == 1
    assert [e["note"] for e in await list_events(api, namespace)] == ["kept"]


async def test_stop_flushes_what_is_buffered(api: ApiClient, namespace: str) -> None:
    pod = await create_pod(api, namespace, "web-0")
    recorder = EventRecorder(api, "holder")
    recorder.start()
    for i in range(5):
        recorder.failed_scheduling(pod, f"n{i}")
    await recorder.stop()
    assert len(await list_events(api, namespace)) == 5


async def test_repeat_after_the_window_starts_a_new_event(api: ApiClient, namespace: str) -> None:
    pod = await create_pod(api, namespace, "web-0")
    now = [0.0]
    recorder = EventRecorder(api, "holder", clock=lambda: now[0])
    recorder.start()
    try:
        recorder.failed_scheduling(pod, "same")
        await recorder.flush()
        now[0] += SERIES_WINDOW_SECONDS - 1
        recorder.failed_scheduling(pod, "same")
        await recorder.flush()
        now[0] += SERIES_WINDOW_SECONDS + 1
        recorder.failed_scheduling(pod, "same")
        await recorder.flush()
    finally:
        await recorder.stop()
    events = await list_events(api, namespace)
    assert [e.get("series", {}).get("count") for e in events] == [2, None]
