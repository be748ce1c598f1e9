"""EventRecorder's retry and aggregation against a scripted HTTP peer on loopback.

Real event objects on the real apiserver are checked in tests/integration/test_events.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration

from podium.events import EventRecorder, ObjectRef
from podium.metrics import Metrics

POD = ObjectRef("ns", "web-0", "uid-1")


@dataclass
class Peer:
    """Fails the first requests with the scripted statuses, then accepts."""

    script: list[int] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((request.method, orjson.loads(await request.read())))
        status = self.script.pop(0) if self.script else 201
        return web.Response(status=status, body=orjson.dumps({"kind": "Status", "code": status}))


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Peer, ApiClient]]:
    peer = Peer()
    app = web.Application()
    app.router.add_post("/apis/events.k8s.io/v1/namespaces/{ns}/events", peer.handle)
    app.router.add_patch("/apis/events.k8s.io/v1/namespaces/{ns}/events/{name}", peer.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    api = ApiClient(Configuration(host=f"http://{host}:{port}"))
    try:
        yield peer, api
    finally:
        await api.close()
        await runner.cleanup()


async def record(api: ApiClient, notes: list[str], metrics: Metrics | None = None) -> EventRecorder:
    recorder = EventRecorder(api, "holder", metrics=metrics, concurrency=1)
    recorder.start()
    try:
        for note in notes:
            recorder.failed_scheduling(POD, note)
        await recorder.flush()
    finally:
        await recorder.stop()
    return recorder


async def test_transient_failures_are_retried(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [503, 429]
    recorder = await record(api, ["n"])
    assert [m for m, _ in server.calls] == ["POST", "POST", "POST"]
    assert (recorder.written, recorder.dropped) == (1, 0)


async def test_failed_series_patch_does_not_count_twice(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [201, 500]
    await record(api, ["n", "n", "n"])
    patches = [body["series"]["count"] for method, body in server.calls if method == "PATCH"]
    # The failed PATCH (count 2) is retried with count 2, then the third repeat makes 3.
    assert patches == [2, 2, 3]


async def test_persistent_failure_drops_and_counts(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [503, 503, 503]
    metrics = Metrics()
    recorder = await record(api, ["n"], metrics)
    assert len(server.calls) == 3
    assert recorder.dropped == 1
    assert metrics.registry.get_sample_value("podium_events_dropped_total") == 1


async def test_client_errors_are_not_retried(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [422]
    recorder = await record(api, ["n"])
    assert len(server.calls) == 1
    assert recorder.dropped == 1


async def test_long_notes_are_truncated_to_the_api_limit(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    await record(api, ["é" * 2000])
    ((_, body),) = server.calls
    assert len(body["note"].encode()) <= 1024
    assert body["note"].endswith("… (4000 bytes)")
