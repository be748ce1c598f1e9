"""Binder against a real HTTP peer on loopback that answers as scripted (5xx, 429, hangs, ...).

The apiserver-backed behaviour (the pod really gets its node) is in tests/integration."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from podium.binder import ALLOCATION_ANNOTATION, Binder
from podium.logs import record_fields
from podium.metrics import Metrics
from podium.queue import SchedulingQueue
from podium.supervisor import Supervisor
from podium.volume_binding import VolumeBinder

# The binds' supervisor, as a replica's leadership term is theirs.
_TERM = Supervisor("binder test")


@pytest.fixture(autouse=True)
async def term() -> AsyncIterator[None]:
    async with _TERM:
        yield


@dataclass(frozen=True)
class Pod:
    uid: str
    namespace: str = "ns"
    name: str = "p"
    priority: int = 0
    created: float = 0.0
    pod_group: str | None = None


@dataclass(frozen=True)
class Claim:
    claim: str
    volume: str | None


@dataclass(frozen=True)
class Decision:
    uid: str
    namespace: str = "ns"
    name: str = "p"
    node: str | None = "node-1"
    allocation: str | None = None
    volumes: tuple[Claim, ...] = ()


class NoVolumes:
    """A cache that has no claim and no PV: PreBind fails at once."""

    def claim(self, namespace: str, name: str) -> None:
        return None

    def volume(self, name: str) -> None:
        return None

    def volume_fits_node(self, volume: str, node: str) -> bool | None:
        return None

    def is_assumed(self, uid: str) -> bool:
        return True

    def has_node(self, node: str) -> bool:
        return True


@dataclass
class FakeState:
    """ClusterState's assume bookkeeping, nothing more."""

    assumed: set[str] = field(default_factory=set)
    forgotten: list[str] = field(default_factory=list)

    def forget(self, uid: str) -> None:
        self.forgotten.append(uid)
        self.assumed.discard(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self.assumed


@dataclass
class Peer:
    """Answers binding POSTs from a script: an int status, or "hang" (no answer until
    ``release`` is set, then 201); 201 once the script is exhausted.

    A GET of a pod answers ``pods[name]`` (an int: that status) if set, else the pod as the last
    binding POST for it named it (uid), still pending."""

    script: list[int | str] = field(default_factory=list)
    pods: dict[str, dict[str, Any] | int] = field(default_factory=dict)
    reads: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    retry_after: str | None = None
    hanging: int = 0
    hang_changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    active: int = 0
    max_active: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            return await self._answer(request)
        finally:
            self.active -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests.append(orjson.loads(await request.read()))
        step = self.script.pop(0) if self.script else 201
        if step == "hang":
            async with self.hang_changed:
                self.hanging += 1
                self.hang_changed.notify_all()
            await self.release.wait()
            step = 201
        assert isinstance(step, int)
        headers = {"Retry-After": self.retry_after} if step == 429 and self.retry_after else {}
        body = orjson.dumps({"kind": "Status", "code": step, "message": f"scripted {step}"})
        return web.Response(status=step, body=body, headers=headers)

    async def read_pod(self, request: web.Request) -> web.Response:
        self.reads += 1
        name = request.match_info["name"]
        answer = self.pods.get(name)
        if isinstance(answer, int):
            body = orjson.dumps({"kind": "Status", "code": answer, "message": "scripted"})
            return web.Response(status=answer, body=body)
        if answer is None:
            uid = next(r["metadata"]["uid"] for r in self.requests if r["metadata"]["name"] == name)
            answer = {"metadata": {"name": name, "uid": uid}, "spec": {}, "status": {}}
        return web.Response(status=200, body=orjson.dumps(answer))


async def wait_hanging(peer: Peer, count: int) -> None:
    async with peer.hang_changed:
        await peer.hang_changed.wait_for(lambda: peer.hanging >= count)


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Peer, ApiClient]]:
    peer = Peer()
    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{ns}/pods/{name}/binding", peer.handle)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}", peer.read_pod)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    api = ApiClient(Configuration(host=f"http://{host}:{port}"))
    try:
        yield peer, api
    finally:
        peer.release.set()
        await api.close()
        await runner.cleanup()


def make(
    api: ApiClient,
    retries: int = 3,
    timeout: float = 5.0,
    nodes: set[str] | None = None,
    may_bind: Callable[[], bool] | None = None,
    tracer: trace.Tracer | None = None,
    on_failed: Callable[[Pod, str], None] | None = None,
    volumes: VolumeBinder | None = None,
) -> tuple[Binder[Pod], FakeState, SchedulingQueue[Pod], Metrics]:
    state = FakeState()
    queue: SchedulingQueue[Pod] = SchedulingQueue()
    metrics = Metrics()
    binder = Binder[Pod](
        api,
        state,
        queue,
        supervisor=_TERM,
        concurrency=4,
        retries=retries,
        request_timeout=timeout,
        initial_retry_delay=0.001,
        max_retry_delay=0.005,
        metrics=metrics,
        node_exists=None if nodes is None else nodes.__contains__,
        may_bind=may_bind,
        tracer=tracer,
        on_failed=on_failed,
        volumes=volumes,
    )
    return binder, state, queue, metrics


async def pop_assumed(queue: SchedulingQueue[Pod], state: FakeState, pod: Pod) -> Pod:
    """The scheduler's side: the pod is popped (in flight) and assumed."""
    queue.add(pod)
    (popped,) = await queue.pop_batch(1)
    state.assumed.add(popped.uid)
    return popped


def retries(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("podium_bind_retries_total")
    assert value is not None
    return value


async def test_success_posts_a_binding(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    binder, state, queue, _ = make(api)
    pod = await pop_assumed(queue, state, Pod("u1", name="web-0"))
    assert binder.submit(Decision("u1", name="web-0", allocation='{"gpu":[0,1]}'), pod)
    await binder.drain()
    assert server.requests == [
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {
                "name": "web-0",
                "namespace": "ns",
                "uid": "u1",
                "annotations": {ALLOCATION_ANNOTATION: '{"gpu":[0,1]}'},
            },
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
        }
    ]
    assert "u1" not in queue
    assert state.forgotten == []
    assert len(binder) == 0


async def test_5xx_is_retried_until_success(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [500, 503, 502]
    binder, state, queue, metrics = make(api, retries=3)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert len(server.requests) == 4
    assert retries(metrics) == 3
    assert "u1" not in queue
    assert state.forgotten == []
    sli = metrics.registry.get_sample_value(
        "scheduler_pod_scheduling_sli_duration_seconds_count", {"attempts": "1"}
    )
    assert sli == 1


async def test_429_is_retried(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [429]
    server.retry_after = "0"
    binder, state, queue, metrics = make(api)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert len(server.requests) == 2
    assert retries(metrics) == 1
    assert "u1" not in queue


async def test_timeout_is_retried(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = ["hang"]
    binder, state, queue, metrics = make(api, timeout=0.2)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert len(server.requests) == 2
    assert retries(metrics) == 1
    assert "u1" not in queue


async def test_exhausted_retries_forget_and_requeue(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [503, 503, 503]
    binder, state, queue, _ = make(api, retries=2)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert len(server.requests) == 3
    # Read back: still pending.
    assert server.reads == 1
    assert state.forgotten == ["u1"]
    assert queue.pending_counts()["backoff"] == 1
    assert not queue.in_flight("u1")


async def test_a_bind_that_fails_for_good_is_reported(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [503, 503, 503, 201]
    failed: list[tuple[str, str]] = []
    binder, state, queue, _ = make(
        api, retries=2, on_failed=lambda pod, node: failed.append((pod.uid, node))
    )
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert failed == [("u1", Decision("u1").node)]
    # A bind that succeeds is not reported.
    pod = await pop_assumed(queue, state, Pod("u2"))
    binder.submit(Decision("u2"), pod)
    await binder.drain()
    assert failed == [("u1", Decision("u1").node)]


GONE: dict[str, Any] | int = 404
REPLACED: dict[str, Any] | int = {"metadata": {"uid": "u2"}, "spec": {}}
BOUND_ELSEWHERE: dict[str, Any] | int = {"metadata": {"uid": "u1"}, "spec": {"nodeName": "n9"}}
FINISHED: dict[str, Any] | int = {"metadata": {"uid": "u1"}, "status": {"phase": "Succeeded"}}


@pytest.mark.parametrize("status", [404, 409])
@pytest.mark.parametrize("truth", [GONE, REPLACED, BOUND_ELSEWHERE, FINISHED])
async def test_conflict_or_gone_drops_when_the_pod_is_out_of_reach(
    peer: tuple[Peer, ApiClient], status: int, truth: dict[str, Any] | int
) -> None:
    server, api = peer
    server.script = [status]
    server.pods["p"] = truth
    binder, state, queue, _ = make(api)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert len(server.requests) == 1
    assert server.reads == 1
    assert state.forgotten == ["u1"]
    assert "u1" not in queue


async def test_spurious_conflict_requeues_a_pod_that_still_waits(
    peer: tuple[Peer, ApiClient],
) -> None:
    # Dropping it would lose it: the pod did not change, so no watch event would bring it back.
    server, api = peer
    server.script = [409]
    binder, state, queue, _ = make(api)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert state.forgotten == ["u1"]
    assert queue.pending_counts()["backoff"] == 1


async def test_conflict_after_a_lost_answer_is_a_bind(peer: tuple[Peer, ApiClient]) -> None:
    # The first attempt bound the pod but its answer was lost (here: 503); the retry conflicts.
    # The pod is on our node: bound, and its assumption stays until the watch confirms it, so
    # the node is not under-counted meanwhile.
    server, api = peer
    server.script = [503, 409]
    server.pods["p"] = {"metadata": {"uid": "u1"}, "spec": {"nodeName": "node-1"}}
    binder, state, queue, _ = make(api)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert state.forgotten == []
    assert state.is_assumed("u1")
    assert "u1" not in queue


async def test_unreadable_pod_after_conflict_requeues(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [409]
    server.pods["p"] = 500
    binder, state, queue, _ = make(api)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert server.reads == 3
    assert state.forgotten == ["u1"]
    assert queue.pending_counts()["backoff"] == 1


async def test_other_client_error_requeues_without_retry(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = [422]
    binder, state, queue, _ = make(api)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert len(server.requests) == 1
    assert state.forgotten == ["u1"]
    assert queue.pending_counts()["backoff"] == 1


async def test_connection_refused_is_retried_then_requeued() -> None:
    # A port nothing listens on: bind to 0, learn the port, close.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    api = ApiClient(Configuration(host=f"http://127.0.0.1:{port}"))
    try:
        binder, state, queue, metrics = make(api, retries=2)
        pod = await pop_assumed(queue, state, Pod("u1"))
        binder.submit(Decision("u1"), pod)
        await binder.drain()
        assert retries(metrics) == 2
        assert state.forgotten == ["u1"]
        assert queue.pending_counts()["backoff"] == 1
    finally:
        await api.close()


async def test_second_submit_for_same_pod_is_refused(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = ["hang"]
    binder, state, queue, _ = make(api, timeout=30)
    pod = await pop_assumed(queue, state, Pod("u1"))
    assert binder.submit(Decision("u1"), pod)
    assert not binder.submit(Decision("u1"), pod)
    await wait_hanging(server, 1)
    assert len(server.requests) == 1
    await binder.stop()


async def test_stop_cancels_forgets_and_requeues(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = ["hang"]
    binder, state, queue, _ = make(api, timeout=30)
    pod = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), pod)
    await wait_hanging(server, 1)
    await binder.stop()
    assert len(binder) == 0
    assert state.forgotten == ["u1"]
    assert queue.pending_counts()["backoff"] == 1
    # A stopped binder takes nothing new.
    other = await pop_assumed(queue, state, Pod("u2", name="q"))
    assert not binder.submit(Decision("u2", name="q"), other)
    assert state.forgotten == ["u1", "u2"]


async def test_pod_no_longer_assumed_is_not_bound(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    binder, state, queue, _ = make(api)
    pod = await pop_assumed(queue, state, Pod("u1"))
    state.assumed.clear()
    binder.submit(Decision("u1"), pod)
    await binder.drain()
    assert server.requests == []
    assert queue.pending_counts()["backoff"] == 1


async def test_concurrency_is_bounded(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    server.script = ["hang"] * 10
    binder, state, queue, _ = make(api, timeout=30)
    for i in range(10):
        pod = await pop_assumed(queue, state, Pod(f"u{i}", name=f"p{i}"))
        binder.submit(Decision(f"u{i}", name=f"p{i}"), pod)
    await wait_hanging(server, 4)
    assert len(binder) == 10
    server.release.set()
    await binder.drain()
    assert len(server.requests) == 10
    assert server.max_active == 4  # concurrency=4
    assert state.forgotten == []
    assert len(queue) == 0


async def test_node_gone_is_not_bound(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    nodes = {"node-1"}
    binder, state, queue, _ = make(api, nodes=nodes)
    kept = await pop_assumed(queue, state, Pod("u1", name="a"))
    binder.submit(Decision("u1", name="a"), kept)
    await binder.drain()
    nodes.clear()
    orphan = await pop_assumed(queue, state, Pod("u2", name="b"))
    binder.submit(Decision("u2", name="b"), orphan)
    await binder.drain()
    assert [r["metadata"]["name"] for r in server.requests] == ["a"]
    assert state.forgotten == ["u2"]
    assert queue.pending_counts()["backoff"] == 1


async def test_lost_lease_sends_nothing_and_requeues(peer: tuple[Peer, ApiClient]) -> None:
    server, api = peer
    leading = [True]
    binder, state, queue, metrics = make(api, may_bind=lambda: leading[0])
    first = await pop_assumed(queue, state, Pod("u1"))
    binder.submit(Decision("u1"), first)
    await binder.drain()
    leading[0] = False
    second = await pop_assumed(queue, state, Pod("u2", name="q"))
    binder.submit(Decision("u2", name="q"), second)
    await binder.drain()
    assert [r["metadata"]["uid"] for r in server.requests] == ["u1"]
    assert state.forgotten == ["u2"]
    assert queue.pending_counts()["backoff"] == 1
    value = metrics.registry.get_sample_value(
        "podium_bind_duration_seconds_count", {"result": "not_leader"}
    )
    assert value == 1


async def test_lease_is_checked_after_the_rate_limit_wait(peer: tuple[Peer, ApiClient]) -> None:
    """The lease may pass to another replica while a bind waits for a client-side token."""
    from podium.kubeclient import RateLimitedApiClient, TokenBucket

    server, plain = peer
    leading = [True]

    async def lose_lease_while_waiting(seconds: float) -> None:
        leading[0] = False
        await asyncio.sleep(0)

    limiter = TokenBucket(1.0, 1, sleep=lose_lease_while_waiting)
    api = RateLimitedApiClient(plain.configuration, limiter)
    try:
        binder, state, queue, _ = make(api, may_bind=lambda: leading[0])
        pods = [await pop_assumed(queue, state, Pod(f"u{i}", name=f"p{i}")) for i in range(2)]
        for pod in pods:
            binder.submit(Decision(pod.uid, name=pod.name), pod)
        await binder.drain()
    finally:
        await api.close()
    # The first took the one token at once; the second waited, and by then the lease was gone.
    assert [r["metadata"]["uid"] for r in server.requests] == ["u0"]
    assert state.forgotten == ["u1"]


async def test_each_request_is_a_span_and_the_outcome_a_log_line(
    peer: tuple[Peer, ApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    server, api = peer
    server.script = [503, 201]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    binder, state, queue, _ = make(api, tracer=provider.get_tracer("test"))
    pod = await pop_assumed(queue, state, Pod("u1", name="web-0"))
    with caplog.at_level(logging.INFO, logger="podium.binder"):
        binder.submit(Decision("u1", name="web-0"), pod)
        await binder.drain()

    spans = exporter.get_finished_spans()
    attempts = [s for s in spans if s.name == "bind_attempt"]
    (bind,) = [s for s in spans if s.name == "bind"]
    assert [s.attributes and s.attributes["podium.bind.attempt"] for s in attempts] == [1, 2]
    assert all(s.parent is not None and s.parent.span_id == bind.context.span_id for s in attempts)
    assert attempts[0].status.status_code == trace.StatusCode.ERROR
    assert [e.name for e in attempts[0].events] == ["exception"]
    assert bind.attributes is not None
    assert bind.attributes["podium.bind.result"] == "bound"
    assert bind.attributes["podium.bind.attempts"] == 2

    lines = [record_fields(r) for r in caplog.records if record_fields(r).get("event") == "bind"]
    assert [(line["result"], line["attempts"]) for line in lines] == [("retry", 1), ("bound", 2)]
    assert lines[-1]["pod"] == "ns/web-0"
    assert lines[-1]["node"] == "node-1"
    sent_at = lines[-1]["sent_at"]
    assert isinstance(sent_at, str)
    assert datetime.fromisoformat(sent_at).tzinfo is not None


async def test_a_failed_pre_bind_sends_no_binding_and_requeues(
    peer: tuple[Peer, ApiClient],
) -> None:
    server, api = peer
    binder, state, queue, metrics = make(api, volumes=VolumeBinder(api, NoVolumes()))
    pod = await pop_assumed(queue, state, Pod("u1"))
    assert binder.submit(Decision("u1", volumes=(Claim("data", "pv-1"),)), pod)
    await binder.drain()
    assert server.requests == [], "no Binding before the volumes are bound"
    assert state.forgotten == ["u1"]
    assert "u1" in queue
    errors = metrics.registry.get_sample_value(
        "podium_bind_duration_seconds_count", {"result": "error"}
    )
    assert errors == 1
    # A decision without claims binds as before.
    pod = await pop_assumed(queue, state, Pod("u2"))
    assert binder.submit(Decision("u2"), pod)
    await binder.drain()
    assert len(server.requests) == 1


async def test_a_bind_is_a_child_of_its_decision_span_that_ended_before_it_ran(
    peer: tuple[Peer, ApiClient],
) -> None:
    server, api = peer
    server.script = [201]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    binder, state, queue, _ = make(api, tracer=tracer)
    pod = await pop_assumed(queue, state, Pod("u1", name="web-0"))
    # As in a cycle: the decision span ends once the bind is handed off, before the bind runs.
    with tracer.start_as_current_span("decision") as decision:
        binder.submit(Decision("u1", name="web-0"), pod)
    assert not decision.is_recording()
    await binder.drain()

    (bind,) = [s for s in exporter.get_finished_spans() if s.name == "bind"]
    assert bind.parent is not None
    assert bind.parent.span_id == decision.get_span_context().span_id
