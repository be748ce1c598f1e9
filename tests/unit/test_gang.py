"""Gang logic without a cluster: splitting a batch, readiness, PodGroup status, and the queue
handing a gang over whole."""

from __future__ import annotations

from dataclasses import dataclass

from podium.gang import (
    WORKLOAD_GROUP_API,
    Attempt,
    assess,
    gang_status,
    initially_scheduled,
    job_groups,
    split_gangs,
)
from podium.queue import SchedulingQueue


@dataclass(frozen=True)
class Pod:
    uid: str
    namespace: str = "ns"
    pod_group: str | None = None
    priority: int = 0
    created: float = 0.0
    name: str = "p"


@dataclass(frozen=True)
class Group:
    name: str = "g"
    namespace: str = "ns"
    uid: str = "uid-g"
    min_member: int = 3
    schedule_timeout_seconds: int | None = None
    job: str | None = None
    error: str | None = None
    api_version: str = "scheduling.x-k8s.io/v1alpha1"
    generation: int = 0
    initially_scheduled: bool = False


@dataclass(frozen=True)
class Member:
    uid: str
    node: str | None = None
    running: bool = False
    terminal: bool = False
    owner: str | None = None


def test_split_keeps_singles_apart_and_groups_by_namespace() -> None:
    pods = [Pod("a"), Pod("b", pod_group="g"), Pod("c", "other", "g"), Pod("d", pod_group="g")]
    singles, gangs = split_gangs(pods)
    assert [p.uid for p in singles] == ["a"]
    assert {k: [p.uid for p in v] for k, v in gangs.items()} == {
        ("ns", "g"): ["b", "d"],
        ("other", "g"): ["c"],
    }


def test_a_gang_waits_for_its_group_and_its_members() -> None:
    key = ("ns", "g")
    # A group or members still being created: reported only if the wait lasts (transient).
    missing = assess(key, None, [Pod("a")], [])
    assert (missing.ready, missing.message, missing.transient) == (
        False,
        "PodGroup ns/g not found; waiting for it",
        True,
    )
    # A bad group does not mend itself: reported at once.
    broken = assess(key, Group(error="PodGroup ns/g: spec.minMember: bad"), [Pod("a")], [])
    assert not broken.ready and not broken.transient and "spec.minMember" in broken.message
    short = assess(key, Group(), [Pod("a")], [Member("a"), Member("x", node="n1")])
    assert (short.ready, short.message, short.transient) == (
        False,
        "PodGroup ns/g: waiting for members: 2 of minMember 3 present",
        True,
    )
    # Placed members count toward minMember: a replacement pod is tried alone.
    assert assess(key, Group(), [Pod("a")], [Member("x", "n1"), Member("y", "n2")]).ready


def test_job_groups_share_a_job_in_one_namespace() -> None:
    groups = [Group("g1", job="j"), Group("g2", job="j"), Group("g3"), Group("g4", "x", job="j")]
    assert job_groups(groups[0], groups) == ["g1", "g2"]
    assert job_groups(groups[2], groups) == ["g3"]


def test_status_phases() -> None:
    group = Group(schedule_timeout_seconds=30)
    two = [Member("a"), Member("b")]
    three = [*two, Member("c")]
    assert gang_status(group, two, first_attempt=None, now=0).phase == "Pending"
    assert gang_status(group, three, first_attempt=None, now=0).phase == "PreScheduling"
    assert gang_status(group, three, first_attempt=10, now=20).phase == "Scheduling"
    assert gang_status(group, three, first_attempt=10, now=40).phase == "Failed"
    placed = [Member(m, node="n", owner="job-1") for m in "abc"]
    status = gang_status(group, placed, first_attempt=10, now=40)
    assert (status.phase, status.scheduled, status.occupied_by) == ("Scheduled", 3, "ns/job-1")
    running = [Member(m, node="n", running=True) for m in "abc"]
    assert gang_status(group, running, first_attempt=10, now=40).phase == "Running"
    assert gang_status(group, running, first_attempt=0, now=1).as_json() == {
        "phase": "Running",
        "scheduled": 3,
        "running": 3,
        "occupiedBy": "",
        "scheduleStartTime": "1970-01-01T00:00:00Z",
    }


def test_a_workload_groups_condition_as_kube_scheduler_writes_it() -> None:
    group = Group(api_version=WORKLOAD_GROUP_API, generation=2)
    two = [Member("a", node="n"), Member("b", node="n"), Member("c")]
    # Not tried yet (too few members: kube's PreEnqueue), so nothing to say.
    assert initially_scheduled(group, two, None) is None
    tried = Attempt("Unschedulable", "PodGroup ns/g: the 3 pod(s) do not all fit at once")
    waiting = initially_scheduled(group, two, tried)
    assert waiting is not None
    assert waiting.as_json(0) == {
        "type": "PodGroupInitiallyScheduled",
        "status": "False",
        "observedGeneration": 2,
        "lastTransitionTime": "1970-01-01T00:00:00Z",
        "reason": "Unschedulable",
        "message": "PodGroup ns/g: the 3 pod(s) do not all fit at once",
    }
    error = initially_scheduled(group, two, Attempt("SchedulerError", "boom"))
    assert error is not None and error.reason == "SchedulerError"
    placed = [Member(m, node="n") for m in "abc"]
    scheduled = initially_scheduled(group, placed, tried)
    assert scheduled is not None
    assert (scheduled.status, scheduled.reason) == (True, "Scheduled")
    # Once True, never False again: members evicted later change nothing.
    done = Group(api_version=WORKLOAD_GROUP_API, initially_scheduled=True)
    assert initially_scheduled(done, [], tried) is None


def _key(pod: Pod) -> tuple[str, str] | None:
    return (pod.namespace, pod.pod_group) if pod.pod_group else None


async def test_popping_one_member_brings_the_whole_gang() -> None:
    queue: SchedulingQueue[Pod] = SchedulingQueue(group_of=_key)
    queue.add(Pod("a", pod_group="g"))
    [a] = await queue.pop_batch(1)
    queue.requeue(a, unschedulable=True)
    assert queue.pending_counts()["unschedulable"] == 1
    queue.add(Pod("single", created=1))
    # New members arrive: popping one brings the parked one and the other along, beyond
    # max_pods; the single pod waits for the next batch.
    queue.add(Pod("b", pod_group="g", created=2))
    queue.add(Pod("c", pod_group="g", created=3))
    queue.add(Pod("other-ns", "x", pod_group="g", created=4))
    batch = await queue.pop_batch(1)
    assert batch[0].uid == "single"
    batch = await queue.pop_batch(2)
    assert sorted(p.uid for p in batch) == ["a", "b", "c"]
    assert [p.uid for p in await queue.pop_batch(5)] == ["other-ns"]
    for uid in ("single", "a", "b", "c", "other-ns"):
        queue.done(uid)
    assert len(queue) == 0
    assert queue.pending_counts() == {"active": 0, "backoff": 0, "unschedulable": 0}
