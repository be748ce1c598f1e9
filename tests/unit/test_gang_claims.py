"""Gangs decided by the real core through the Scheduler, where they cannot be tried yet: a gang
with a member whose claim is not made yet, or short of its members or its PodGroup, waits
untried and unreported, as kube-scheduler's PreEnqueue keeps such pods (DynamicResources,
GangScheduling), and is reported, with what it waits for then, only if it still waits a while
later; a malformed PodGroup is reported at once. A member of a gang that fits nowhere has the
claim an earlier attempt left for its extended resources deleted (kube's DynamicResources
PostFilter), as a lone pod has."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from typing import Any

import orjson

from podium import _core
from podium.config import Profile as ConfigProfile
from podium.pods import GangKey
from podium.scheduler import Scheduler
from podium.testing.dra import device_class, gpu_slice, with_claim_templates
from podium.testing.nodes import make_node
from podium.testing.podgroups import POD_GROUP_LABEL, make_pod_group
from podium.testing.pods import make_pod

NS = "team"
GPU = "nvidia.com/gpu"
DRIVER = "gpu.example.com"


class Queue:
    """Records requeues; hands out nothing (the test calls ``schedule_batch``)."""

    def __init__(self) -> None:
        self.requeued: dict[str, tuple[bool, bool]] = {}

    async def pop_batch(self, max_pods: int, wait: float) -> list[_core.PendingPod]:
        await asyncio.Event().wait()
        return []

    def requeue(
        self, pod: _core.PendingPod, unschedulable: bool, *, gang_incomplete: bool = False
    ) -> None:
        self.requeued[pod.name] = (unschedulable, gang_incomplete)

    def in_flight(self, uid: str) -> bool:
        return True


class Failures:
    def __init__(self) -> None:
        self.messages: dict[str, str] = {}

    def unschedulable(self, pod: _core.PendingPod, message: str) -> None:
        self.messages[pod.name] = message


class Gangs:
    def __init__(self) -> None:
        self.waiting_told: list[tuple[GangKey, str, bool]] = []
        self.placed_on: list[Sequence[str]] = []

    def waiting(self, key: GangKey, message: str, tried: bool, error: bool = False) -> None:
        self.waiting_told.append((key, message, tried))

    def placed(self, key: GangKey, nodes: Sequence[str]) -> None:
        self.placed_on.append(nodes)


class NoBinds:
    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, decision: _core.Decision, pod: _core.PendingPod) -> bool:
        self.submitted.append(pod.name)
        return True


class Leftovers:
    """DynamicResources' PostFilter as the Scheduler sees it: asked for each pod that fits
    nowhere; here it only records what it would delete."""

    def __init__(self, state: _core.ClusterState) -> None:
        self._state = state
        self.deleted: list[tuple[str, str]] = []

    def leftover(self, pod: _core.PendingPod) -> Coroutine[Any, Any, None] | None:
        left = self._state.extended_claim_of(pod.uid)
        if left is not None:
            self.deleted.append((pod.name, left[0]))
        return None


def _apply(state: _core.ClusterState, kind: _core.Kind, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    meta.setdefault("uid", f"uid-{meta['name']}")
    meta.setdefault("resourceVersion", "1")
    change = state.apply_event(kind, orjson.dumps({"type": "ADDED", "object": obj}))
    assert change.error is None, change.error


def _member(name: str, group: str, **kwargs: Any) -> dict[str, Any]:
    return make_pod(name, NS, scheduler_name="podium", labels={POD_GROUP_LABEL: group}, **kwargs)


def _scheduler(
    state: _core.ClusterState, report_after: float = 60.0
) -> tuple[Scheduler, Queue, Failures, Gangs, NoBinds, Leftovers]:
    queue, failures, gangs, binds = Queue(), Failures(), Gangs(), NoBinds()
    leftovers = Leftovers(state)
    scheduler = Scheduler(
        state=state,
        queue=queue,
        binder=binds,
        failures=failures,
        profiles={"podium": _core.Profile(ConfigProfile(scheduler_name="podium").core_spec())},
        gangs=gangs,
        claims=leftovers,
        wait_report=report_after,
    )
    return scheduler, queue, failures, gangs, binds, leftovers


def _claims_cluster() -> _core.ClusterState:
    state = _core.ClusterState(["podium"])
    _apply(state, _core.Kind.NODE, make_node("node-0"))
    _apply(state, _core.Kind.POD_GROUP, make_pod_group("g", NS, min_member=2))
    return state


async def test_a_gang_waits_unreported_for_a_members_claim_then_is_reported() -> None:
    state = _claims_cluster()
    _apply(state, _core.Kind.POD, _member("ready", "g", requests={"cpu": "1"}))
    late = with_claim_templates(_member("late", "g", requests={"cpu": "1"}), {"gpus": "one-gpu"})
    _apply(state, _core.Kind.POD, late)
    pods = state.pending()
    assert {p.name: p.claims_pending for p in pods} == {"ready": False, "late": True}
    scheduler, queue, failures, gangs, binds, _ = _scheduler(state, report_after=0.2)

    result = await scheduler.schedule_batch(pods)

    # Not tried: nothing reported, nothing placed, no PodGroup status; both wait with the gang
    # (the late member for its own update, which pops its gang along).
    assert failures.messages == {}
    assert gangs.waiting_told == []
    assert binds.submitted == []
    assert queue.requeued == {"ready": (True, True), "late": (True, True)}
    assert result.unschedulable == 2
    # Tried again before the claim is made: still one report due, not two.
    await scheduler.schedule_batch(state.pending())
    await asyncio.sleep(0.4)
    assert set(failures.messages) == {"ready", "late"}
    message = failures.messages["late"]
    assert message.startswith(f"PodGroup {NS}/g: waiting for the ResourceClaims of 1 of 2")
    assert f"pod {NS}/late" in message
    assert gangs.waiting_told == [((NS, "g"), message, False)]


async def test_a_gang_whose_claims_were_made_meanwhile_is_not_reported() -> None:
    state = _claims_cluster()
    _apply(state, _core.Kind.POD, _member("ready", "g", requests={"cpu": "1"}))
    late = with_claim_templates(_member("late", "g", requests={"cpu": "1"}), {"gpus": "one-gpu"})
    _apply(state, _core.Kind.POD, late)
    scheduler, _, failures, gangs, _, _ = _scheduler(state, report_after=0.2)
    await scheduler.schedule_batch(state.pending())
    # The controller-manager made no claim, but the pod stopped asking for one: not waiting.
    late["spec"].pop("resourceClaims")
    late["metadata"]["resourceVersion"] = "2"
    state.apply_event(_core.Kind.POD, orjson.dumps({"type": "MODIFIED", "object": late}))
    await asyncio.sleep(0.4)
    assert failures.messages == {}
    assert gangs.waiting_told == []


async def test_a_gang_short_of_members_is_reported_only_if_it_stays_short() -> None:
    """A job's controller creates its pods one by one: a gang tried while its members are still
    coming is not reported; once it has stayed short past the delay, its members and group are
    told how many are present then."""
    state = _claims_cluster()
    _apply(state, _core.Kind.POD, _member("first", "g", requests={"cpu": "1"}))
    scheduler, queue, failures, gangs, binds, _ = _scheduler(state, report_after=0.2)

    await scheduler.schedule_batch(state.pending())

    assert (failures.messages, gangs.waiting_told, binds.submitted) == ({}, [], [])
    assert queue.requeued == {"first": (True, True)}
    await asyncio.sleep(0.4)
    message = f"PodGroup {NS}/g: waiting for members: 1 of minMember 2 present"
    assert failures.messages == {"first": message}
    assert gangs.waiting_told == [((NS, "g"), message, False)]


async def test_a_gang_whose_members_came_meanwhile_is_not_reported() -> None:
    state = _claims_cluster()
    _apply(state, _core.Kind.POD, _member("first", "g", requests={"cpu": "1"}))
    scheduler, _, failures, gangs, binds, _ = _scheduler(state, report_after=0.2)
    await scheduler.schedule_batch(state.pending())
    _apply(state, _core.Kind.POD, _member("second", "g", requests={"cpu": "1"}))
    await scheduler.schedule_batch(state.pending())
    assert sorted(binds.submitted) == ["first", "second"]
    await asyncio.sleep(0.4)
    assert failures.messages == {}
    assert [tried for _, _, tried in gangs.waiting_told] == []


async def test_a_gang_whose_podgroup_is_missing_waits_and_a_malformed_one_is_reported_at_once() -> (
    None
):
    state = _core.ClusterState(["podium"])
    _apply(state, _core.Kind.NODE, make_node("node-0"))
    bad = make_pod_group("bad", NS, min_member=1, rack="same")
    bad["metadata"]["uid"] = "uid-bad"
    change = state.apply_event(_core.Kind.POD_GROUP, orjson.dumps({"type": "ADDED", "object": bad}))
    assert change.error is not None and "podium.dev/rack" in change.error
    _apply(state, _core.Kind.POD, _member("orphan", "missing", requests={"cpu": "1"}))
    _apply(state, _core.Kind.POD, _member("bad-0", "bad", requests={"cpu": "1"}))
    scheduler, _, failures, gangs, _, _ = _scheduler(state, report_after=0.2)

    await scheduler.schedule_batch(state.pending())

    assert set(failures.messages) == {"bad-0"}
    assert "metadata.annotations[podium.dev/rack]" in failures.messages["bad-0"]
    assert [key for key, _, _ in gangs.waiting_told] == [(NS, "bad")]
    await asyncio.sleep(0.4)
    assert failures.messages["orphan"] == f"PodGroup {NS}/missing not found; waiting for it"


async def test_reports_put_off_are_dropped_when_the_term_ends() -> None:
    """A replica that stopped scheduling writes no report for what it saw while leading."""
    state = _claims_cluster()
    _apply(state, _core.Kind.POD, _member("first", "g", requests={"cpu": "1"}))
    scheduler, _, failures, gangs, _, _ = _scheduler(state, report_after=0.2)
    await scheduler.schedule_batch(state.pending())
    term = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.05)
    term.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await term
    await asyncio.sleep(0.4)
    assert (failures.messages, gangs.waiting_told) == ({}, [])


async def test_a_gang_member_that_fits_nowhere_has_its_leftover_claim_deleted() -> None:
    """Two members asking 2 GPUs each, served by DRA on a node without a device plugin; the
    claim an earlier attempt left for one holds 7 of the node's 8 GPUs, so the gang fits nowhere
    while it exists: the PostFilter deletes it, as for a lone pod."""
    state = _core.ClusterState(["podium"])
    _apply(state, _core.Kind.DEVICE_CLASS, device_class(DRIVER, DRIVER, extended_resource_name=GPU))
    _apply(state, _core.Kind.NODE, make_node("node-0"))
    _apply(state, _core.Kind.RESOURCE_SLICE, gpu_slice("node-0-gpu", "node-0", DRIVER, gpus=8))
    _apply(state, _core.Kind.POD_GROUP, make_pod_group("g", NS, min_member=2))
    for name in ("a", "b"):
        pod = _member(name, "g", requests={"cpu": "1", GPU: 2}, limits={GPU: 2})
        _apply(state, _core.Kind.POD, pod)
    request = "container-0-request-1"
    left = {
        "metadata": {
            "namespace": NS,
            "name": "a-extended-resources-old",
            "uid": "uid-old",
            "annotations": {"resource.kubernetes.io/extended-resource-claim": "true"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "a", "uid": "uid-a", "controller": True}
            ],
        },
        "spec": {
            "devices": {
                "requests": [{"name": request, "exactly": {"deviceClassName": DRIVER, "count": 7}}]
            }
        },
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {
                            "request": request,
                            "driver": DRIVER,
                            "pool": "node-0",
                            "device": f"gpu-{i}",
                        }
                        for i in range(7)
                    ]
                }
            }
        },
    }
    _apply(state, _core.Kind.RESOURCE_CLAIM, left)
    assert state.extended_claim_of("uid-a") == ("a-extended-resources-old", "uid-old")
    scheduler, _, _, gangs, binds, leftovers = _scheduler(state)

    await scheduler.schedule_batch(state.pending())

    assert binds.submitted == []
    assert [tried for _, _, tried in gangs.waiting_told] == [True]
    assert leftovers.deleted == [("a", "a-extended-resources-old")]
