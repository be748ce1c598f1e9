"""A replica that loses leadership and regains it runs the same Scheduler again: it must decide."""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from podium import _core
from podium.config import Profile as ConfigProfile
from podium.scheduler import Scheduler
from podium.testing.pods import make_pod


class OnePodQueue:
    """Hands out one pod per ``give``; otherwise waits, as an empty queue does."""

    def __init__(self) -> None:
        self.ready: asyncio.Queue[_core.PendingPod] = asyncio.Queue()

    async def pop_batch(self, max_pods: int, wait: float) -> list[_core.PendingPod]:
        return [await self.ready.get()]

    def requeue(
        self, pod: _core.PendingPod, unschedulable: bool, *, gang_incomplete: bool = False
    ) -> None:
        return

    def in_flight(self, uid: str) -> bool:
        return False


class Failures:
    def __init__(self) -> None:
        self.messages: asyncio.Queue[str] = asyncio.Queue()

    def unschedulable(self, pod: _core.PendingPod, message: str) -> None:
        self.messages.put_nowait(message)


class NoBinds:
    def submit(self, decision: _core.Decision, pod: _core.PendingPod) -> bool:
        raise AssertionError("no node exists: nothing may be bound")


async def test_scheduler_decides_again_after_being_stopped_and_restarted() -> None:
    state = _core.ClusterState(["podium"])
    pod = make_pod("p", "default", scheduler_name="podium", requests={"cpu": "1"})
    pod["metadata"]["uid"] = "uid-p"
    state.apply_event(_core.Kind.POD, orjson.dumps({"type": "ADDED", "object": pod}))
    (pending,) = state.pending()
    queue, failures = OnePodQueue(), Failures()
    scheduler = Scheduler(
        state=state,
        queue=queue,
        binder=NoBinds(),
        failures=failures,
        profiles={"podium": _core.Profile(ConfigProfile(scheduler_name="podium").core_spec())},
    )
    for term in range(2):
        task = asyncio.create_task(scheduler.run())
        queue.ready.put_nowait(pending)
        message = await asyncio.wait_for(failures.messages.get(), timeout=10)
        assert message == "no nodes available to schedule pods", (term, message)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
