"""SchedulingQueue: ordering, backoff, parking and moves, and no pod in two places at once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from podium.queue import SchedulingQueue


@dataclass(frozen=True)
class Pod:
    uid: str
    priority: int = 0
    created: float = 0.0
    namespace: str = "ns"
    name: str = "p"
    pod_group: str | None = None
    claims_pending: bool = False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue[Pod]:
    return SchedulingQueue(
        initial_backoff=1.0, max_backoff=10.0, unschedulable_timeout=300.0, clock=clock
    )


async def pop_all(queue: SchedulingQueue[Pod]) -> list[str]:
    return [p.uid for p in await queue.pop_batch(1000)]


async def test_priority_then_creation_order(queue: SchedulingQueue[Pod]) -> None:
    queue.add(Pod("low-old", priority=0, created=1))
    queue.add(Pod("high-new", priority=10, created=5))
    queue.add(Pod("low-new", priority=0, created=3))
    queue.add(Pod("high-old", priority=10, created=2))
    assert [p.uid for p in await queue.pop_batch(2)] == ["high-old", "high-new"]
    assert await pop_all(queue) == ["low-old", "low-new"]


async def test_priority_update_reorders(queue: SchedulingQueue[Pod]) -> None:
    queue.add(Pod("a", priority=5))
    queue.add(Pod("b", priority=1))
    queue.update(Pod("b", priority=9))
    assert await pop_all(queue) == ["b", "a"]


def test_backoff_grows_and_caps(queue: SchedulingQueue[Pod]) -> None:
    assert [queue.backoff_seconds(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert queue.backoff_seconds(10_000) == 10


async def test_failed_pod_waits_out_its_backoff(queue: SchedulingQueue[Pod], clock: Clock) -> None:
    queue.add(Pod("a"))
    for expected_backoff in (1, 2, 4, 8, 10, 10):
        (pod,) = await queue.pop_batch(10)
        queue.requeue(pod, unschedulable=False)
        assert queue.pending_counts() == {"active": 0, "backoff": 1, "unschedulable": 0}
        clock.now += expected_backoff - 0.01
        queue.flush()
        assert queue.pending_counts()["backoff"] == 1
        clock.now += 0.01
        queue.flush()
        assert queue.pending_counts() == {"active": 1, "backoff": 0, "unschedulable": 0}


async def test_unschedulable_parks_until_moved(queue: SchedulingQueue[Pod], clock: Clock) -> None:
    queue.add(Pod("a"))
    queue.add(Pod("b"))
    for pod in await queue.pop_batch(10):
        queue.requeue(pod, unschedulable=True)
    clock.now += 100
    queue.flush()
    assert queue.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 2}
    assert queue.move_all_to_active_or_backoff("NodeAdd") == 2
    # Backoff (1 s) long expired: straight to active.
    assert queue.pending_counts() == {"active": 2, "backoff": 0, "unschedulable": 0}
    assert sorted(await pop_all(queue)) == ["a", "b"]


def _gang_queue(clock: Clock) -> SchedulingQueue[Pod]:
    return SchedulingQueue(
        initial_backoff=1.0,
        max_backoff=10.0,
        clock=clock,
        group_of=lambda p: (p.namespace, p.pod_group) if p.pod_group else None,
    )


async def test_a_podgroup_change_moves_its_own_parked_members_only(clock: Clock) -> None:
    """Gangs' queueing hint: another group's change (its status written as it is placed) moves
    neither this gang nor plain pods; its own group's change and a cluster event do."""
    queue = _gang_queue(clock)
    queue.add(Pod("a0", pod_group="a"))
    queue.add(Pod("a1", pod_group="a"))
    queue.add(Pod("plain"))
    for pod in await queue.pop_batch(10):
        queue.requeue(pod, unschedulable=True)  # no room
    clock.now += 100
    assert queue.move_group(("ns", "b"), "WORKLOAD_POD_GROUPModified") == 0
    assert queue.pending_counts()["unschedulable"] == 3
    assert queue.move_group(("ns", "a"), "WORKLOAD_POD_GROUPModified") == 2
    assert sorted(await pop_all(queue)) == ["a0", "a1"]
    assert queue.attempts("a0") == 2 and queue.attempts("plain") == 1
    for uid in ("a0", "a1"):
        queue.requeue(Pod(uid, pod_group="a"), unschedulable=True)
    clock.now += 100
    assert queue.move_all_to_active_or_backoff("AssignedPodDelete") == 3


async def test_an_incomplete_gang_waits_for_its_group_not_for_the_cluster(clock: Clock) -> None:
    """kube's GangScheduling PreEnqueue: a gang short of members is not retried on a node
    added or a pod deleted (neither adds members), only when its group changes, a member
    arrives (popped with it), or a relist of the groups."""
    queue = _gang_queue(clock)
    queue.add(Pod("a0", pod_group="a"))
    for pod in await queue.pop_batch(10):
        queue.requeue(pod, unschedulable=True, gang_incomplete=True)
    clock.now += 100
    assert queue.move_all_to_active_or_backoff("NodeAdded") == 0
    assert queue.move_all_to_active_or_backoff("AssignedPodDelete") == 0
    assert queue.pending_counts()["unschedulable"] == 1
    assert queue.move_groups("WORKLOAD_POD_GROUPRelist") == 1
    for pod in await queue.pop_batch(10):
        queue.requeue(pod, unschedulable=True, gang_incomplete=True)
    queue.add(Pod("a1", pod_group="a"))
    assert sorted(await pop_all(queue)) == ["a0", "a1"]
    # Complete now, it lacks room: parked for the cluster's events again.
    for uid in ("a0", "a1"):
        queue.requeue(Pod(uid, pod_group="a"), unschedulable=True)
    clock.now += 100
    assert queue.move_all_to_active_or_backoff("NodeAdded") == 2


async def test_move_respects_unexpired_backoff(queue: SchedulingQueue[Pod], clock: Clock) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    queue.requeue(pod, unschedulable=True)
    queue.move_all_to_active_or_backoff("PodDelete")
    assert queue.pending_counts() == {"active": 0, "backoff": 1, "unschedulable": 0}
    clock.now += 1
    assert await pop_all(queue) == ["a"]


async def test_activate_skips_the_backoff_of_one_pod(queue: SchedulingQueue[Pod]) -> None:
    for uid in ("held", "other"):
        queue.add(Pod(uid))
    for pod in await queue.pop_batch(2):
        queue.requeue(pod, unschedulable=True)
    assert queue.activate("held")
    assert not queue.activate("held"), "already active"
    assert not queue.activate("unknown")
    assert queue.pending_counts() == {"active": 1, "backoff": 0, "unschedulable": 1}
    # Its backoff has not expired, yet it comes out at once; the other stays parked.
    assert [pod.uid for pod in await queue.pop_batch(10)] == ["held"]
    queue.move_all_to_active_or_backoff("NodeAdd")
    assert queue.activate("other"), "from backoff too"
    assert [pod.uid for pod in await queue.pop_batch(10)] == ["other"]


async def test_unschedulable_timeout_releases(queue: SchedulingQueue[Pod], clock: Clock) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    queue.requeue(pod, unschedulable=True)
    clock.now += 299
    queue.flush()
    assert queue.pending_counts()["unschedulable"] == 1
    clock.now += 1
    assert await pop_all(queue) == ["a"]


async def test_event_during_flight_prevents_parking(queue: SchedulingQueue[Pod]) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    queue.move_all_to_active_or_backoff("NodeAdd")
    queue.requeue(pod, unschedulable=True)
    assert queue.pending_counts() == {"active": 0, "backoff": 1, "unschedulable": 0}


async def test_update_of_parked_pod_gives_it_another_chance(
    queue: SchedulingQueue[Pod], clock: Clock
) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    queue.requeue(pod, unschedulable=True)
    clock.now += 5
    queue.update(Pod("a", priority=3))
    popped = await queue.pop_batch(1)
    assert popped == [Pod("a", priority=3)]


async def test_a_pod_waiting_for_its_claims_to_be_made_goes_at_once_when_they_are(
    queue: SchedulingQueue[Pod], clock: Clock
) -> None:
    """kube's DynamicResources PreEnqueue: tries that found the claim not made yet are no
    attempts, cluster-wide moves and other updates leave the pod parked, and its own update
    (the claim made) makes it active without backoff."""
    waiting = Pod("a", claims_pending=True)
    queue.add(waiting)
    for _ in range(3):
        (pod,) = await queue.pop_batch(1)
        queue.requeue(pod, unschedulable=True)
        assert queue.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 1}
        assert queue.move_all_to_active_or_backoff("ResourceClaimAdd") == 0
        queue.update(waiting)  # another change, claims still not made: still parked
        assert queue.pending_counts()["unschedulable"] == 1
        assert queue.activate("a")
    (pod,) = await queue.pop_batch(1)
    queue.requeue(pod, unschedulable=True)
    queue.update(Pod("a"))  # the controller-manager wrote the claim's name in its status
    assert queue.pending_counts() == {"active": 1, "backoff": 0, "unschedulable": 0}
    (pod,) = await queue.pop_batch(1)
    queue.requeue(pod, unschedulable=False)
    # Its first real attempt: 1 s of backoff, not the 16 s of a fifth.
    clock.now += 1
    assert await pop_all(queue) == ["a"]
    # Made while it was being tried: it goes again at once.
    queue.add(Pod("b", claims_pending=True))
    (pod,) = await queue.pop_batch(1)
    queue.update(Pod("b"))
    queue.requeue(pod, unschedulable=True)
    assert await pop_all(queue) == ["b"]


async def test_in_flight_pod_is_never_queued_twice(queue: SchedulingQueue[Pod]) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    assert queue.in_flight("a")
    queue.add(Pod("a", priority=7))
    queue.update(Pod("a", priority=8))
    assert queue.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 0}
    assert len(queue) == 1
    # The update is applied on requeue, and a changed pod is not parked.
    queue.requeue(pod, unschedulable=True)
    assert queue.pending_counts() == {"active": 0, "backoff": 1, "unschedulable": 0}
    queue.requeue(pod, unschedulable=False)  # not in flight any more: ignored
    assert len(queue) == 1


async def test_update_while_in_flight_is_applied_on_requeue(
    queue: SchedulingQueue[Pod], clock: Clock
) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    queue.update(Pod("a", priority=8))
    queue.requeue(pod, unschedulable=False)
    clock.now += 1
    assert await queue.pop_batch(1) == [Pod("a", priority=8)]


async def test_delete_while_in_flight_drops_on_requeue(queue: SchedulingQueue[Pod]) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    queue.delete("a")
    queue.requeue(pod, unschedulable=False)
    assert "a" not in queue
    assert len(queue) == 0


async def test_delete_from_each_sub_queue(queue: SchedulingQueue[Pod]) -> None:
    queue.add(Pod("backoff"))
    queue.add(Pod("parked"))
    popped = {p.uid: p for p in await queue.pop_batch(10)}
    queue.add(Pod("active"))
    queue.requeue(popped["backoff"], unschedulable=False)
    queue.requeue(popped["parked"], unschedulable=True)
    for uid in ("active", "backoff", "parked"):
        queue.delete(uid)
    assert len(queue) == 0
    assert queue.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 0}
    queue.add(Pod("x"))
    assert await pop_all(queue) == ["x"]


async def test_done_reports_attempts_and_forgets(queue: SchedulingQueue[Pod], clock: Clock) -> None:
    queue.add(Pod("a"))
    (pod,) = await queue.pop_batch(1)
    queue.requeue(pod, unschedulable=False)
    clock.now += 1
    (pod,) = await queue.pop_batch(1)
    clock.now += 0.5
    completed = queue.done("a")
    assert completed is not None
    assert completed.attempts == 2
    assert completed.seconds_since_enqueued == pytest.approx(1.5)
    assert "a" not in queue
    assert queue.done("a") is None


async def test_pop_waits_for_the_first_pod(queue: SchedulingQueue[Pod]) -> None:
    popping = asyncio.create_task(queue.pop_batch(10))
    await asyncio.sleep(0)
    assert not popping.done()
    queue.add(Pod("a"))
    assert [p.uid for p in await popping] == ["a"]


async def test_pop_collects_more_during_wait(queue: SchedulingQueue[Pod]) -> None:
    queue.add(Pod("a", created=1))

    async def add_later() -> None:
        await asyncio.sleep(0)
        queue.add(Pod("b", created=2))

    adder = asyncio.create_task(add_later())
    # max_pods reached as soon as "b" arrives, so this returns without sleeping the full wait.
    batch = await queue.pop_batch(2, wait=60)
    await adder
    assert [p.uid for p in batch] == ["a", "b"]


async def test_close_releases_a_waiting_pop(queue: SchedulingQueue[Pod]) -> None:
    popping = asyncio.create_task(queue.pop_batch(10))
    await asyncio.sleep(0)
    queue.close()
    assert await popping == []


async def test_pop_rejects_empty_batch(queue: SchedulingQueue[Pod]) -> None:
    with pytest.raises(ValueError, match="max_pods"):
        await queue.pop_batch(0)


def test_rejects_inverted_backoff() -> None:
    with pytest.raises(ValueError, match="backoff"):
        SchedulingQueue[Pod](initial_backoff=5, max_backoff=1)


@pytest.mark.parametrize("seed", range(20))
async def test_random_operations_keep_every_pod_in_one_place(seed: int) -> None:
    """Random adds, updates, deletes, pops, requeues, moves and clock steps: a pod is never
    handed out while in flight, and the counts always add up."""
    rng = random.Random(seed)
    clock = Clock()
    queue: SchedulingQueue[Pod] = SchedulingQueue(unschedulable_timeout=30, clock=clock)
    exists: set[str] = set()
    in_flight: dict[str, Pod] = {}
    for _ in range(400):
        op = rng.randrange(7)
        uid = f"p{rng.randrange(25)}"
        if op == 0:
            queue.add(Pod(uid, rng.randrange(3), rng.random()))
            exists.add(uid)
        elif op == 1 and uid in exists:
            queue.update(Pod(uid, rng.randrange(3), rng.random()))
        elif op == 2:
            queue.delete(uid)
            exists.discard(uid)
        elif op == 3:
            queue.flush()
            if queue.pending_counts()["active"]:
                for pod in await queue.pop_batch(rng.randrange(1, 5)):
                    assert pod.uid not in in_flight, "handed out twice"
                    assert pod.uid in exists, "deleted pod handed out"
                    in_flight[pod.uid] = pod
        elif op == 4 and in_flight:
            pod = in_flight.pop(rng.choice(sorted(in_flight)))
            if rng.random() < 0.3:
                queue.done(pod.uid)
                exists.discard(pod.uid)
            else:
                queue.requeue(pod, unschedulable=rng.random() < 0.5)
        elif op == 5:
            queue.move_all_to_active_or_backoff("event")
        else:
            clock.now += rng.choice((0.5, 3.0, 40.0))
        waiting = sum(queue.pending_counts().values())
        flying = sum(1 for u in in_flight if queue.in_flight(u))
        assert waiting + flying == len(queue)
        assert all(queue.in_flight(u) for u in in_flight)
        assert {u for u in exists if u not in in_flight} <= {u for u in exists if u in queue}


class _Fair:
    """A fair share over one resource (pods), weighted: ``FairShareLike`` without the core."""

    def __init__(self, weights: dict[str, float], used: dict[str, int] | None = None) -> None:
        self.weights = weights
        self.used = dict(used or {})

    def key(self, pod: Pod) -> Sequence[float]:
        return (self.used.get(pod.namespace, 0) / self.weights[pod.namespace],)

    def charge(self, pod: Pod) -> None:
        self.used[pod.namespace] = self.used.get(pod.namespace, 0) + 1


def _fair_queue(clock: Clock, fair: _Fair | None) -> SchedulingQueue[Pod]:
    return SchedulingQueue(
        initial_backoff=1.0,
        max_backoff=10.0,
        clock=clock,
        group_of=lambda p: (p.namespace, p.pod_group) if p.pod_group else None,
        fair_share=lambda: fair,
    )


async def test_fair_share_serves_the_team_furthest_below_its_weighted_share(
    clock: Clock,
) -> None:
    fair = _Fair({"a": 1, "b": 2})
    queue = _fair_queue(clock, fair)
    # Team a submitted long before team b: kube's order would give a everything first.
    for i in range(6):
        queue.add(Pod(f"a{i}", created=i, namespace="a"))
    for i in range(6):
        queue.add(Pod(f"b{i}", created=100 + i, namespace="b"))
    # Ties (both at 0) go to the oldest; then b until it holds twice a's share.
    assert [p.uid for p in await queue.pop_batch(6)] == ["a0", "b0", "b1", "a1", "b2", "b3"]
    # The next batch reads the ledger afresh (here: what the first one charged).
    assert [p.uid for p in await queue.pop_batch(3)] == ["a2", "b4", "b5"]
    assert await pop_all(queue) == ["a3", "a4", "a5"]


async def test_fair_share_keeps_priorities_first_and_counts_a_gang_whole(clock: Clock) -> None:
    fair = _Fair({"a": 1, "b": 1}, used={"a": 0, "b": 0})
    queue = _fair_queue(clock, fair)
    for i in range(3):
        queue.add(Pod(f"g{i}", created=i, namespace="a", pod_group="job"))
    queue.add(Pod("a-solo", created=5, namespace="a"))
    queue.add(Pod("b0", created=10, namespace="b"))
    queue.add(Pod("b1", created=11, namespace="b"))
    queue.add(Pod("b-urgent", priority=10, created=50, namespace="b"))
    order = [p.uid for p in await queue.pop_batch(100)]
    # The urgent pod first whatever b's share; then a's gang whole (3 pods charged, members in
    # no particular order), so b's two go before a's next pod.
    assert order[0] == "b-urgent" and set(order[1:4]) == {"g0", "g1", "g2"}
    assert order[4:] == ["b0", "b1", "a-solo"]


async def test_without_quotas_the_fair_queue_keeps_kubes_order(clock: Clock) -> None:
    queue = _fair_queue(clock, None)
    queue.add(Pod("b-old", created=1, namespace="b"))
    queue.add(Pod("a-new", created=2, namespace="a"))
    queue.add(Pod("a-high", priority=5, created=3, namespace="a"))
    assert await pop_all(queue) == ["a-high", "b-old", "a-new"]


async def test_stale_items_of_the_other_order_are_compacted(clock: Clock) -> None:
    fair: _Fair | None = None
    queue = SchedulingQueue[Pod](clock=clock, fair_share=lambda: fair)
    for round_ in range(50):
        for i in range(10):
            queue.add(Pod(f"p{round_}-{i}", created=i, namespace=f"ns{i % 3}"))
        # Popped in kube's order: the per-namespace heaps keep stale items until compacted.
        for pod in await queue.pop_batch(10):
            queue.done(pod.uid)
    assert queue._active._by_namespace_items <= 64 + 2 * 10
    fair = _Fair({"ns0": 1, "ns1": 1, "ns2": 1})
    queue.add(Pod("last", namespace="ns1"))
    assert await pop_all(queue) == ["last"]


def test_pending_pods_are_counted_per_namespace(clock: Clock) -> None:
    queue = _fair_queue(clock, None)
    queue.add(Pod("a0", namespace="a"))
    queue.add(Pod("a1", namespace="a"))
    queue.add(Pod("b0", namespace="b"))
    queue.delete("a0")
    assert queue.pending_by_namespace() == {"a": 1, "b": 1}
    queue.delete("b0")
    assert queue.pending_by_namespace() == {"a": 1}
