"""What the scheduling cycle hands its results to, declared once: the queue, the binder, the
failure reporter, the gang status writer and the preemptor (``podium.runner`` wires the real
ones; tests hand in fakes)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from podium._core import Decision, PendingPod, PluginNode, PluginPod, Preemption
    from podium.pods import GangKey

__all__ = [
    "BindSink",
    "FailureSink",
    "GangSink",
    "Judge",
    "LeftoverClaims",
    "NoGangs",
    "PreemptionSink",
    "Queue",
    "Requeue",
]

# Python plugins' verdicts on the nodes the core keeps (``PluginSet.judge``).
Judge = Callable[["PluginPod", "list[PluginNode]"], Sequence[int | str]]


class Requeue(Protocol):
    """Sends a popped pod back (``podium.queue.SchedulingQueue``)."""

    def requeue(
        self, pod: PendingPod, unschedulable: bool, *, gang_incomplete: bool = False
    ) -> None: ...
    def in_flight(self, uid: str) -> bool: ...


class Queue(Requeue, Protocol):
    async def pop_batch(self, max_pods: int, wait: float) -> list[PendingPod]: ...


class BindSink(Protocol):
    def submit(self, decision: Decision, pod: PendingPod) -> bool: ...


class FailureSink(Protocol):
    """Records why a pod was not scheduled: event and PodScheduled condition."""

    def unschedulable(self, pod: PendingPod, message: str) -> None: ...


class LeftoverClaims(Protocol):
    """DynamicResources' PostFilter (``podium.dynamic_resources.ClaimBinder``): for a pod that
    fits nowhere, the deletion of the claim an earlier attempt made for its extended resources,
    or None."""

    def leftover(self, pod: PendingPod) -> Coroutine[Any, Any, None] | None: ...


class GangSink(Protocol):
    """Told what happened to each gang: its PodGroup's status and events follow."""

    def waiting(self, key: GangKey, message: str, tried: bool, error: bool = False) -> None: ...
    def placed(self, key: GangKey, nodes: Sequence[str]) -> None: ...


class NoGangs:
    def waiting(self, key: GangKey, message: str, tried: bool, error: bool = False) -> None:
        pass

    def placed(self, key: GangKey, nodes: Sequence[str]) -> None:
        pass


class PreemptionSink(Protocol):
    """Carries out what ``Snapshot.preempt`` decided (``podium.preemption.Preemptor``)."""

    def in_flight(self, uid: str) -> bool: ...
    def carry_out(
        self, scheduler_name: str, pods: Sequence[PendingPod], preemption: Preemption
    ) -> None: ...
    def release(self, pod: PendingPod) -> None: ...
    def hold(self, pod: PendingPod, node: str) -> None: ...
