"""Gang scheduling's pure logic: which pods form a gang, whether a gang is ready to be tried, and
what its PodGroup's status says.

A gang is the pending members of one PodGroup: scheduler-plugins' (``scheduling.x-k8s.io/v1alpha1``,
pods join with the label ``scheduling.x-k8s.io/pod-group``) or the Workload API's
(``scheduling.k8s.io/v1beta1``, pods join with ``spec.schedulingGroup.podGroupName``; ``minMember``
is ``schedulingPolicy.gang.minCount``). It is tried only once ``minMember`` pods exist, and then
placed whole by the core (``Snapshot.schedule_gang``) or not at all.

A Workload API PodGroup's status is its ``PodGroupInitiallyScheduled`` condition, as
kube-scheduler writes it (``initially_scheduled``); a scheduler-plugins PodGroup's status follows
the phases users of that CRD know:

- ``Pending``: fewer than ``minMember`` pods exist;
- ``PreScheduling``: enough pods exist, podium has not tried them yet;
- ``Scheduling``: tried, not (all) placed yet;
- ``Scheduled``: at least ``minMember`` members are placed (bound, or assumed while binding);
- ``Running``: at least ``minMember`` members run;
- ``Failed``: ``scheduleTimeoutSeconds`` passed since the first attempt without the gang being
  placed. podium keeps trying such a gang: it becomes ``Scheduled`` if it fits later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar

from podium.pods import GangKey, PodLike, gang_key

__all__ = [
    "INITIALLY_SCHEDULED",
    "POD_GROUP_LABEL",
    "WORKLOAD_GROUP_API",
    "Attempt",
    "GangKey",
    "GangPhase",
    "GangStatus",
    "InitiallyScheduled",
    "Readiness",
    "assess",
    "gang_status",
    "initially_scheduled",
    "job_groups",
    "split_gangs",
]

POD_GROUP_LABEL: Final = "scheduling.x-k8s.io/pod-group"
WORKLOAD_GROUP_API: Final = "scheduling.k8s.io/v1beta1"
"""The Workload API's group version: its PodGroups report a condition, not a phase."""
INITIALLY_SCHEDULED: Final = "PodGroupInitiallyScheduled"


class GroupLike(Protocol):
    """What this module reads of ``podium._core.PodGroup``."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def min_member(self) -> int: ...
    @property
    def schedule_timeout_seconds(self) -> int | None: ...
    @property
    def job(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def api_version(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def initially_scheduled(self) -> bool: ...


class MemberLike(Protocol):
    """What this module reads of ``podium._core.GroupMember``."""

    @property
    def uid(self) -> str: ...
    @property
    def node(self) -> str | None: ...
    @property
    def running(self) -> bool: ...
    @property
    def terminal(self) -> bool: ...
    @property
    def owner(self) -> str | None: ...


T = TypeVar("T", bound=PodLike)


def split_gangs(pods: Iterable[T]) -> tuple[list[T], dict[GangKey, list[T]]]:
    """Pods without a group, and the grouped ones by (namespace, group), in arrival order."""
    singles: list[T] = []
    gangs: dict[GangKey, list[T]] = defaultdict(list)
    for pod in pods:
        key = gang_key(pod)
        if key is None:
            singles.append(pod)
        else:
            gangs[key].append(pod)
    return singles, dict(gangs)


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether a gang can be tried now; if not, the message its pods and group are told.
    ``transient``: the wait usually ends by itself within moments (the group or its members
    are still being created), so it is reported only if it lasts."""

    ready: bool
    message: str = ""
    transient: bool = False


def assess(
    key: GangKey,
    group: GroupLike | None,
    pending: Sequence[object],
    members: Sequence[MemberLike],
) -> Readiness:
    """``pending``: the gang's members popped for this cycle; ``members``: every pod labelled
    with the group, as the cache knows them (``pending`` among them)."""
    namespace, name = key
    if group is None:
        return Readiness(
            False, f"PodGroup {namespace}/{name} not found; waiting for it", transient=True
        )
    if group.error:
        return Readiness(False, f"{group.error}; waiting for the PodGroup to be fixed")
    placed = sum(1 for m in members if m.node is not None and not m.terminal)
    present = placed + len(pending)
    if present < group.min_member:
        return Readiness(
            False,
            f"PodGroup {namespace}/{name}: waiting for members: {present} of minMember "
            f"{group.min_member} present",
            transient=True,
        )
    return Readiness(True)


def job_groups(group: GroupLike, groups: Iterable[GroupLike]) -> list[str]:
    """Names of the groups of ``group``'s job in its namespace (itself included), whose pods the
    core balances over topology domains."""
    if group.job is None:
        return [group.name]
    return sorted(
        g.name for g in groups if g.namespace == group.namespace and g.job == group.job
    ) or [group.name]


class GangPhase(StrEnum):
    """A PodGroup's ``status.phase``, as scheduler-plugins spells it (see the module's doc)."""

    PENDING = "Pending"
    PRE_SCHEDULING = "PreScheduling"
    SCHEDULING = "Scheduling"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    FAILED = "Failed"

    @property
    def placing(self) -> bool:
        """Not placed yet, so ``scheduleTimeoutSeconds`` may still run out."""
        return self in (GangPhase.PENDING, GangPhase.PRE_SCHEDULING, GangPhase.SCHEDULING)


@dataclass(frozen=True, slots=True)
class GangStatus:
    phase: GangPhase
    scheduled: int
    running: int
    occupied_by: str
    schedule_start_time: float | None

    def as_json(self) -> dict[str, Any]:
        """The ``status`` of a PodGroup, its field names."""
        status: dict[str, Any] = {
            "phase": self.phase.value,
            "scheduled": self.scheduled,
            "running": self.running,
            "occupiedBy": self.occupied_by,
        }
        if self.schedule_start_time is not None:
            status["scheduleStartTime"] = rfc3339(self.schedule_start_time)
        return status


def gang_status(
    group: GroupLike,
    members: Sequence[MemberLike],
    *,
    first_attempt: float | None,
    now: float,
) -> GangStatus:
    """The status ``group`` should show. ``first_attempt``: when podium first tried the gang
    (seconds since the epoch), or None."""
    live = [m for m in members if not m.terminal]
    scheduled = sum(1 for m in live if m.node is not None)
    running = sum(1 for m in live if m.running)
    owners = sorted({f"{group.namespace}/{m.owner}" for m in live if m.owner})
    need = group.min_member
    timeout = group.schedule_timeout_seconds
    if running >= need:
        phase = GangPhase.RUNNING
    elif scheduled >= need:
        phase = GangPhase.SCHEDULED
    elif timeout is not None and first_attempt is not None and now - first_attempt >= timeout:
        phase = GangPhase.FAILED
    elif len(live) < need:
        phase = GangPhase.PENDING
    elif first_attempt is None:
        phase = GangPhase.PRE_SCHEDULING
    else:
        phase = GangPhase.SCHEDULING
    return GangStatus(phase, scheduled, running, ",".join(owners), first_attempt)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Attempt:
    """How podium's last try of a gang ended, when it was not placed: kube-scheduler's reason
    (``Unschedulable``, or ``SchedulerError`` for an internal error) and the message."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class InitiallyScheduled:
    """A Workload API PodGroup's ``PodGroupInitiallyScheduled`` condition, as kube-scheduler
    1.37 words it (``lastTransitionTime`` is the writer's)."""

    status: bool
    reason: str
    message: str
    observed_generation: int

    def as_json(self, transition: float) -> dict[str, Any]:
        return {
            "type": INITIALLY_SCHEDULED,
            "status": "True" if self.status else "False",
            "observedGeneration": self.observed_generation,
            "lastTransitionTime": rfc3339(transition),
            "reason": self.reason,
            "message": self.message,
        }


def initially_scheduled(
    group: GroupLike, members: Sequence[MemberLike], attempt: Attempt | None
) -> InitiallyScheduled | None:
    """The condition ``group`` should show, or None when there is nothing to say yet (no try,
    or already True: the API's rule is that it never turns False again)."""
    if group.initially_scheduled:
        return None
    placed = sum(1 for m in members if m.node is not None and not m.terminal)
    if placed >= group.min_member:
        return InitiallyScheduled(True, "Scheduled", "", group.generation)
    if attempt is None:
        return None
    return InitiallyScheduled(False, attempt.reason, attempt.message, group.generation)
