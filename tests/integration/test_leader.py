"""Leader election against the real kube-apiserver.

Durations are short (lease 2 s, renew deadline 1.5 s, retry 0.2 s) so that expiry happens within
the test. Every check of "who leads" samples both electors' ``is_leader`` all along, and term
boundaries are stamped with the monotonic clock inside the callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.kubeclient import api_client
from podium.leader import LeaderElector, format_micro_time
from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster

pytestmark = pytest.mark.integration

LEASE = 2.0
RENEW = 1.5
RETRY = 0.2
MICRO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


class Term:
    """One elector's term boundaries, stamped by its callbacks."""

    def __init__(self, on_start: Callable[[], None] | None = None) -> None:
        self.started: list[float] = []
        self.stopped: list[float] = []
        self._on_start = on_start
        self.has_stopped = asyncio.Event()

    async def on_started(self) -> None:
        self.started.append(time.monotonic())
        if self._on_start is not None:
            self._on_start()

    async def on_stopped(self) -> None:
        self.stopped.append(time.monotonic())
        self.has_stopped.set()


class Sampler:
    """Samples is_leader of every elector until stopped; remembers any moment two led at once."""

    def __init__(self, *electors: LeaderElector) -> None:
        self._electors = electors
        self.samples = 0
        self.overlaps: list[tuple[str, ...]] = []
        self.led: set[str] = set()
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            leaders = tuple(e.identity for e in self._electors if e.is_leader)
            self.samples += 1
            self.led.update(leaders)
            if len(leaders) > 1:
                self.overlaps.append(leaders)
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
async def spawn() -> AsyncIterator[Callable[[LeaderElector, Term], asyncio.Task[None]]]:
    """Runs electors as tasks; cancels them all (releasing held leases) at the end."""
    tasks: list[asyncio.Task[None]] = []

    def start(elector: LeaderElector, term: Term) -> asyncio.Task[None]:
        task = asyncio.create_task(elector.run(term.on_started, term.on_stopped))
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def own_api(cluster: LocalCluster) -> AsyncIterator[ApiClient]:
    """A client of its own, whose host a test may point elsewhere to cut it off."""
    client = await api_client(cluster.kubeconfig, qps=0.0, burst=16)
    async with client:
        yield client


def elector(
    api: ApiClient,
    namespace: str,
    identity: str,
    *,
    lease: float = LEASE,
    renew: float = RENEW,
    retry: float = RETRY,
) -> LeaderElector:
    return LeaderElector(
        api,
        name="podium",
        namespace=namespace,
        identity=identity,
        lease_duration=lease,
        renew_deadline=renew,
        retry_period=retry,
    )


def lease_path(namespace: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/podium"


async def get_lease(api: ApiClient, namespace: str) -> dict[str, Any]:
    lease: dict[str, Any] = orjson.loads(await request_bytes(api, "GET", lease_path(namespace)))
    return lease


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_creates_the_lease_and_renews_it(
    api: ApiClient, namespace: str, spawn: Callable[[LeaderElector, Term], asyncio.Task[None]]
) -> None:
    solo = elector(api, namespace, "solo")
    spawn(solo, Term())
    await asyncio.wait_for(solo.leading.wait(), timeout=10)

    first = (await get_lease(api, namespace))["spec"]
    assert first["holderIdentity"] == "solo"
    assert first["leaseDurationSeconds"] == 2
    assert first["leaseTransitions"] == 0
    assert MICRO_TIME.fullmatch(first["acquireTime"])
    assert MICRO_TIME.fullmatch(first["renewTime"])

    await asyncio.sleep(RETRY * 4)
    later = (await get_lease(api, namespace))["spec"]
    assert later["holderIdentity"] == "solo"
    assert later["renewTime"] > first["renewTime"]
    assert later["acquireTime"] == first["acquireTime"]
    assert later["leaseTransitions"] == 0
    assert solo.is_leader


async def test_one_leader_at_a_time_across_a_handover(
    api: ApiClient, namespace: str, spawn: Callable[[LeaderElector, Term], asyncio.Task[None]]
) -> None:
    a, b = elector(api, namespace, "a"), elector(api, namespace, "b")
    terms = {"a": Term(), "b": Term()}
    sampler = Sampler(a, b)
    tasks = {"a": spawn(a, terms["a"]), "b": spawn(b, terms["b"])}

    done, _ = await asyncio.wait(
        [asyncio.create_task(a.leading.wait()), asyncio.create_task(b.leading.wait())],
        timeout=10,
        return_when=asyncio.FIRST_COMPLETED,
    )
    assert done, "nobody became leader"
    await asyncio.sleep(LEASE * 1.5)  # long enough for a wrongly expired lease to be taken
    first, second = ("a", "b") if a.is_leader else ("b", "a")
    assert sampler.led == {first}
    assert (await get_lease(api, namespace))["spec"]["holderIdentity"] == first

    tasks[first].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tasks[first]
    follower = b if second == "b" else a
    await asyncio.wait_for(follower.leading.wait(), timeout=10)
    await asyncio.sleep(LEASE)
    await sampler.stop()

    assert sampler.overlaps == []
    assert sampler.led == {"a", "b"}
    assert terms[first].stopped[0] < terms[second].started[0]
    assert sampler.samples > 100


async def test_graceful_release_hands_over_without_waiting_for_expiry(
    api: ApiClient, namespace: str, spawn: Callable[[LeaderElector, Term], asyncio.Task[None]]
) -> None:
    # A long lease makes the difference plain: without the release, b would wait 10 s.
    a = elector(api, namespace, "a", lease=10.0, renew=5.0)
    b = elector(api, namespace, "b", lease=10.0, renew=5.0)
    term_a, term_b = Term(), Term()
    task_a = spawn(a, term_a)
    await asyncio.wait_for(a.leading.wait(), timeout=10)
    spawn(b, term_b)
    await asyncio.sleep(RETRY * 5)  # b is following and has seen a's renewals
    assert not b.is_leader

    task_a.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task_a
    assert term_a.stopped, "on_stopped_leading was not called on shutdown"
    await asyncio.wait_for(b.leading.wait(), timeout=5.0)
    assert term_a.stopped[0] < term_b.started[0]

    spec = (await get_lease(api, namespace))["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["leaseDurationSeconds"] == 10


@pytest.mark.parametrize("failure", ["refused", "hanging"])
async def test_leader_that_cannot_renew_stops_before_anyone_starts(
    api: ApiClient,
    own_api: ApiClient,
    namespace: str,
    spawn: Callable[[LeaderElector, Term], asyncio.Task[None]],
    failure: str,
) -> None:
    a = elector(own_api, namespace, "a")
    b = elector(api, namespace, "b")
    a_led_when_b_started: list[bool] = []
    term_a = Term()
    term_b = Term(on_start=lambda: a_led_when_b_started.append(a.is_leader))
    sampler = Sampler(a, b)
    spawn(a, term_a)
    await asyncio.wait_for(a.leading.wait(), timeout=10)
    spawn(b, term_b)
    await asyncio.sleep(RETRY * 5)
    assert not b.is_leader

    release_hung = asyncio.Event()

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release_hung.wait()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1] if failure == "hanging" else closed_port()
        own_api.configuration.host = f"https://127.0.0.1:{port}"

        await asyncio.wait_for(b.leading.wait(), timeout=15)
        await asyncio.sleep(LEASE)
        await sampler.stop()
    finally:
        release_hung.set()
        server.close()
        await server.wait_closed()

    assert term_a.stopped, "the cut-off leader never called on_stopped_leading"
    assert term_a.stopped[0] < term_b.started[0]
    assert a_led_when_b_started == [False]
    assert sampler.overlaps == []
    assert not a.is_leader
    assert (await get_lease(api, namespace))["spec"]["holderIdentity"] == "b"


async def test_leader_steps_down_when_someone_else_holds_the_lease(
    api: ApiClient, namespace: str, spawn: Callable[[LeaderElector, Term], asyncio.Task[None]]
) -> None:
    a = elector(api, namespace, "a", lease=10.0, renew=5.0)
    term_a = Term()
    spawn(a, term_a)
    await asyncio.wait_for(a.leading.wait(), timeout=10)

    lease = await get_lease(api, namespace)
    lease["spec"]["holderIdentity"] = "intruder"
    await request_bytes(api, "PUT", lease_path(namespace), body=lease)

    # Well before the 5 s renew deadline: the first renewal sees the lease is not ours.
    await asyncio.wait_for(term_a.has_stopped.wait(), timeout=2.5)
    assert not a.is_leader
    await asyncio.sleep(RETRY * 3)
    assert not a.is_leader  # and it does not grab the intruder's live lease back
    assert (await get_lease(api, namespace))["spec"]["holderIdentity"] == "intruder"


async def test_malformed_lease_is_reported_and_taken_over_only_after_lease_duration(
    api: ApiClient,
    namespace: str,
    spawn: Callable[[LeaderElector, Term], asyncio.Task[None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The apiserver type-checks every field, so "malformed" on the wire means missing: a holder
    # with no leaseDurationSeconds and no times.
    await request_bytes(
        api,
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
        body={
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "podium"},
            "spec": {"holderIdentity": "ghost"},
        },
    )
    caplog.set_level(logging.ERROR, logger="podium.leader")
    solo = elector(api, namespace, "solo")
    term = Term()
    began = time.monotonic()
    task = spawn(solo, term)

    await asyncio.wait_for(solo.leading.wait(), timeout=10)
    assert not task.done()
    assert term.started[0] - began >= LEASE
    reports = [
        r.getMessage()
        for r in caplog.records
        if f"Lease {namespace}/podium" in r.getMessage()
        and "spec.leaseDurationSeconds" in r.getMessage()
    ]
    assert len(reports) == 1, caplog.text

    spec = (await get_lease(api, namespace))["spec"]
    assert spec["holderIdentity"] == "solo"
    assert spec["leaseTransitions"] == 1
    assert spec["leaseDurationSeconds"] == 2


async def test_holds_lease_ends_at_the_renew_deadline_before_the_loop_notices(
    api: ApiClient, namespace: str, spawn: Callable[[LeaderElector, Term], asyncio.Task[None]]
) -> None:
    """A leader frozen past its renew deadline wakes with ``is_leader`` still set; binds must
    ask ``holds_lease``, which judges by the clock alone."""
    skew = [0.0]
    frozen = LeaderElector(
        api,
        name="podium",
        namespace=namespace,
        identity="frozen",
        lease_duration=60.0,
        renew_deadline=30.0,
        retry_period=10.0,
        clock=lambda: time.monotonic() + skew[0],
    )
    spawn(frozen, Term())
    await asyncio.wait_for(frozen.leading.wait(), timeout=10)
    assert frozen.holds_lease()
    skew[0] = 30.0  # as if the process had been stopped for the whole renew deadline
    assert frozen.is_leader
    assert not frozen.holds_lease()


async def test_release_after_a_renewal_whose_answer_was_lost(
    api: ApiClient, namespace: str, spawn: Callable[[LeaderElector, Term], asyncio.Task[None]]
) -> None:
    """SIGTERM can cancel a renewal the apiserver has already applied: the elector's copy of
    the lease is then one version behind, and the release must still go through."""
    a = elector(api, namespace, "a", lease=30.0, renew=20.0, retry=5.0)
    task = spawn(a, Term())
    await asyncio.wait_for(a.leading.wait(), timeout=10)
    lease = await get_lease(api, namespace)
    lease["spec"]["renewTime"] = format_micro_time(datetime.now(UTC))  # "a"'s lost renewal
    await request_bytes(api, "PUT", lease_path(namespace), body=lease)

    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert (await get_lease(api, namespace))["spec"]["holderIdentity"] == ""
