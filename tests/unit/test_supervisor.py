"""The supervisor owns its tasks: stop cancels and awaits every one; a failure ends the group
and is reported, never swallowed."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from podium.supervisor import Supervisor


async def test_stop_cancels_every_task_and_waits_for_its_undoing() -> None:
    undone: list[str] = []

    async def work(name: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)  # undoing that takes a moment (a bind's requeue)
            undone.append(name)
            raise

    supervisor = Supervisor("test")
    await supervisor.start()
    assert supervisor.spawn(work("a"), name="a") is not None
    assert supervisor.spawn(work("b"), name="b") is not None
    await asyncio.sleep(0)
    await supervisor.stop()
    assert sorted(undone) == ["a", "b"]
    assert not supervisor.running


async def test_spawn_when_not_running_closes_the_coroutine_unrun() -> None:
    ran: list[bool] = []

    async def work() -> None:
        ran.append(True)

    supervisor = Supervisor("test")
    coro = work()
    assert supervisor.spawn(coro, name="w") is None
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED, "no 'never awaited' warning"
    async with supervisor:
        pass
    assert supervisor.spawn(work(), name="w") is None
    assert ran == []


async def test_a_failure_cancels_the_siblings_and_stop_raises_it() -> None:
    cancelled = asyncio.Event()

    async def sibling() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def broken() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("bug")

    supervisor = Supervisor("test")
    await supervisor.start()
    supervisor.spawn(sibling(), name="sibling")
    supervisor.spawn(broken(), name="broken")
    await asyncio.wait_for(cancelled.wait(), 5)
    with pytest.raises(BaseExceptionGroup) as raised:
        await supervisor.stop()
    assert raised.group_contains(RuntimeError, match="bug")


async def test_a_failure_is_handed_to_on_failure_at_once() -> None:
    failures: list[BaseException] = []

    async def broken() -> None:
        raise RuntimeError("bug")

    supervisor = Supervisor("test", on_failure=failures.append)
    await supervisor.start()
    supervisor.spawn(broken(), name="broken")
    for _ in range(100):
        if failures:
            break
        await asyncio.sleep(0.01)
    assert len(failures) == 1
    assert not supervisor.running, "a failed group starts nothing more"
    await supervisor.stop()  # reported already: stop does not raise it again


async def test_a_stopped_supervisor_starts_again() -> None:
    supervisor = Supervisor("test")
    for _ in range(2):
        await supervisor.start()
        done = supervisor.spawn(asyncio.sleep(0, "x"), name="x")
        assert done is not None
        assert await done == "x"
        await supervisor.stop()
