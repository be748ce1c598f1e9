"""The scheduling queue, shaped like kube-scheduler's.

Three places a waiting pod can be:

- **active**: a heap ordered by priority (highest first), then creation time (oldest first);
  ``pop_batch`` takes from here.
- **backoff**: pods that failed recently wait ``initial * 2^(attempts-1)`` seconds (capped) before
  they become active again, so one hopeless pod cannot hog the cycles.
- **unschedulable**: pods no node could take. Retrying them is pointless until the cluster
  changes, so they stay parked until ``move_all_to_active_or_backoff`` (a node was added, a pod
  was deleted, ...) or until ``unschedulable_timeout`` passes.

A pod that has been popped is *in flight* until ``requeue`` or ``done``; it is never queued twice.

Claims not made yet (kube's DynamicResources PreEnqueue): a pod whose ResourceClaim template the
controller-manager has not made into a claim yet (``claims_pending``) cannot be scheduled, and
only its own update (the claim's name in its status) changes that. Found so, it is parked
without the attempt counting and is left out of cluster-wide moves; its update makes it active
at once, without backoff. A pod failing again and again while the controller catches up would
otherwise back off for seconds after its claim exists.

Gangs: with ``group_of``, popping a pod of a group pops every other queued member of that group
with it (whichever sub-queue it waits in), so a gang reaches the scheduler whole. Gangs have
their own queueing hints (kube's GangScheduling): a PodGroup's change concerns its members alone
(``move_group``; ``move_groups`` after a relist), never the other parked pods; and a gang parked
because it is incomplete (fewer members than its minimum, no PodGroup: kube's PreEnqueue would
not have let it in, ``requeue(..., gang_incomplete=True)``) waits for its own group's events (a
member arriving pops it along; its PodGroup changing), not for the cluster-wide moves a gang
that lacked room waits for (a node added or changed, a pod deleted).

Fair share: with ``fair_share`` (the core's ``ClusterState.fair_share``: None without
ElasticQuotas), pods of one priority are served team by team, the team furthest below its
weighted fair share first (DRF through the quotas' tree, from the core's ledger), each team's
own pods oldest first. Active pods are also kept per namespace for this. A batch ranks the
namespaces once by their oldest pod (priority, fair-share key, age: O(namespaces) keys, never a
look at every pending pod), then each pop serves the first and charges its team with what it
hands out (a gang whole), so one batch already alternates. Charging only raises keys, so a
namespace's rank is checked again when it comes first (lazily, as for any key that only grows).
``add``/``update``/``delete`` for an in-flight pod are remembered and applied when it comes back.

Everything runs on the event loop's thread; there is no locking. Time comes from an injected
monotonic clock so tests can step it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from podium.pods import PodLike

__all__ = ["Completed", "FairShareLike", "SchedulingQueue"]

log = logging.getLogger(__name__)

# Upper bound on one idle sleep, so a clock that jumps (or a lost wake-up) costs at most this.
_MAX_IDLE_SLEEP = 1.0


P = TypeVar("P", bound=PodLike)
P_contra = TypeVar("P_contra", bound=PodLike, contravariant=True)

# An active heap item: (-priority, created, token, uid).
_Item = tuple[int, float, int, str]
# A namespace's rank in a fair-share batch: (-priority, fair-share key, created) of its oldest
# pod, and the namespace.
_Rank = tuple[int, tuple[float, ...], float, str]


class FairShareLike(Protocol[P_contra]):
    """``podium._core.FairShare``: the quotas' ledger as the fair-share order reads it."""

    def key(self, pod: P_contra) -> Sequence[float]:
        """The fair-share key of ``pod``'s team with ``pod`` counted as placed: lower is served
        first (empty without a quota)."""
        ...

    def charge(self, pod: P_contra) -> None:
        """``pod`` was handed out: its team counts it from now on."""
        ...


class _Where(Enum):
    ACTIVE = "active"
    BACKOFF = "backoff"
    UNSCHEDULABLE = "unschedulable"
    IN_FLIGHT = "in_flight"


@dataclass(slots=True)
class _Entry(Generic[P]):
    pod: P
    where: _Where
    # Pops so far; drives the backoff.
    attempts: int
    first_enqueued: float
    backoff_until: float = 0.0
    parked_at: float = 0.0
    # Identifies this entry's current heap item; older items with another token are stale.
    token: int = 0
    # Value of the queue's move counter when the pod was popped (see ``requeue``).
    popped_at_move: int = 0
    # While in flight: the latest add/update seen, or ``deleted``.
    pending_update: P | None = None
    deleted: bool = False
    # Parked as a member of an incomplete gang: only its group's events move it.
    gang_incomplete: bool = False


@dataclass(frozen=True, slots=True)
class Completed:
    """What ``done`` reports about a pod that was bound."""

    attempts: int
    # From the pod's first arrival in the queue to now: kube's pod_scheduling_sli_duration.
    seconds_since_enqueued: float


class _ActiveQ(Generic[P]):
    """kube's activeQ: the pods ready to be tried, highest priority then oldest; with the fair
    share, the same items per namespace too. Items are never taken out in place: one whose entry
    has moved on (``live`` answers None) is stale, skipped when reached or compacted away. As
    kube's, it wakes whoever waits for a pod when one is pushed, and when it is closed."""

    def __init__(self, live: Callable[[_Item], _Entry[P] | None], *, per_namespace: bool) -> None:
        self._live = live
        self._per_namespace = per_namespace
        # (-priority, created, token, uid)
        self._heap: list[_Item] = []
        # The same items per namespace, for the fair-share order (only ``per_namespace``).
        self._by_namespace: dict[str, list[_Item]] = {}
        self._by_namespace_items = 0
        self._wakeup = asyncio.Event()
        self.closed = False

    def push(self, entry: _Entry[P], live: int) -> None:
        """``entry`` (its token just renewed) is active; ``live``: how many are."""
        item = (-entry.pod.priority, entry.pod.created, entry.token, entry.pod.uid)
        heapq.heappush(self._heap, item)
        if self._per_namespace:
            heapq.heappush(self._by_namespace.setdefault(entry.pod.namespace, []), item)
            self._by_namespace_items += 1
            self._compact(live)
        self._wakeup.set()

    def wake(self) -> None:
        """Something a waiter counts on changed (a backoff started: its wait is shorter)."""
        self._wakeup.set()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()

    async def wait(self, seconds: float) -> None:
        """Until woken, or ``seconds`` passed."""
        self._wakeup.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        except TimeoutError:
            pass

    def pop(self) -> _Entry[P] | None:
        """kube's order: highest priority, then oldest."""
        while self._heap:
            entry = self._live(heapq.heappop(self._heap))
            if entry is not None:
                return entry
        return None

    def ranks(self, fair: FairShareLike[P]) -> list[_Rank]:
        """Every namespace with an active pod, ranked for ``pop_fair``."""
        ranks = [r for ns in list(self._by_namespace) if (r := self.rank(fair, ns)) is not None]
        heapq.heapify(ranks)
        return ranks

    def rank(self, fair: FairShareLike[P], namespace: str) -> _Rank | None:
        head = self._head(namespace)
        if head is None:
            return None
        pod = head.pod
        return (-pod.priority, tuple(fair.key(pod)), pod.created, namespace)

    def pop_fair(self, fair: FairShareLike[P], ranks: list[_Rank]) -> _Entry[P] | None:
        """The highest priority first; among the namespaces with a pod of it, the one the
        fair share serves first; its oldest pod. The namespace leaves ``ranks`` until the
        caller has charged it and ranks it again."""
        while ranks:
            namespace = ranks[0][3]
            now = self.rank(fair, namespace)
            if now is None:
                heapq.heappop(ranks)
            elif now != ranks[0]:
                # Charged (or its head changed) since ranked: ranked again, in its place.
                heapq.heapreplace(ranks, now)
            else:
                heapq.heappop(ranks)
                head = self._head(namespace)
                heapq.heappop(self._by_namespace[namespace])
                self._by_namespace_items -= 1
                return head
        return None

    def _head(self, namespace: str) -> _Entry[P] | None:
        """The namespace's oldest pod of its highest priority (stale items dropped)."""
        heap = self._by_namespace.get(namespace)
        while heap:
            head = self._live(heap[0])
            if head is not None:
                return head
            heapq.heappop(heap)
            self._by_namespace_items -= 1
        self._by_namespace.pop(namespace, None)
        return None

    def _compact(self, live: int) -> None:
        """Pods popped through one order leave stale items in the other's heaps: drop them once
        they outnumber the live ones (amortised O(1) a push)."""
        if len(self._heap) > 2 * live + 64:
            self._heap = [i for i in self._heap if self._live(i) is not None]
            heapq.heapify(self._heap)
        if self._by_namespace_items > 2 * live + 64:
            for namespace, heap in list(self._by_namespace.items()):
                kept = [i for i in heap if self._live(i) is not None]
                if kept:
                    heapq.heapify(kept)
                    self._by_namespace[namespace] = kept
                else:
                    del self._by_namespace[namespace]
            self._by_namespace_items = sum(len(h) for h in self._by_namespace.values())


class _Gangs(Generic[P]):
    """The queued members of each gang (any sub-queue, in flight included): popping one member
    pops them all."""

    def __init__(self, group_of: Callable[[P], Hashable | None] | None) -> None:
        self._group_of = group_of
        self._members: dict[Hashable, set[str]] = {}

    def _key(self, pod: P) -> Hashable | None:
        return self._group_of(pod) if self._group_of is not None else None

    def others(self, pod: P) -> list[str]:
        """The uids of ``pod``'s gang but its own."""
        key = self._key(pod)
        if key is None:
            return []
        return [uid for uid in self._members.get(key, ()) if uid != pod.uid]

    def members(self, key: Hashable) -> set[str]:
        """The uids of gang ``key``'s queued members."""
        return self._members.get(key, set())

    def in_one(self, pod: P) -> bool:
        return self._key(pod) is not None

    def replace(self, old: P, new: P) -> None:
        """``old``'s newer version ``new`` (its group may have changed)."""
        self.leave(old)
        self.join(new)

    def join(self, pod: P) -> None:
        key = self._key(pod)
        if key is not None:
            self._members.setdefault(key, set()).add(pod.uid)

    def leave(self, pod: P) -> None:
        key = self._key(pod)
        if key is None:
            return
        members = self._members.get(key)
        if members is not None:
            members.discard(pod.uid)
            if not members:
                del self._members[key]


class _Census:
    """How many pods each place holds (kube's ``scheduler_pending_pods`` by queue), and how many
    are queued per namespace, in flight included (they are not bound yet), for the quota
    metrics."""

    def __init__(self) -> None:
        self.places = dict.fromkeys(_Where, 0)
        self._namespaces: dict[str, int] = {}

    def joined(self, namespace: str) -> None:
        """A pod was queued, active."""
        self.places[_Where.ACTIVE] += 1
        self._namespaces[namespace] = self._namespaces.get(namespace, 0) + 1

    def moved(self, old: _Where, new: _Where) -> None:
        self.places[old] -= 1
        self.places[new] += 1

    def left(self, where: _Where, namespace: str) -> None:
        self.places[where] -= 1
        left = self._namespaces[namespace] - 1
        if left:
            self._namespaces[namespace] = left
        else:
            del self._namespaces[namespace]

    def pending(self) -> dict[str, int]:
        """Pods waiting in each sub-queue (in-flight pods excluded)."""
        return {
            w.value: self.places[w] for w in (_Where.ACTIVE, _Where.BACKOFF, _Where.UNSCHEDULABLE)
        }

    def by_namespace(self) -> dict[str, int]:
        return dict(self._namespaces)


class _BackoffQ:
    """kube's podBackoffQ: pods waiting out their backoff, the soonest done first; and the
    backoff itself, ``initial * 2^(attempts-1)`` seconds, capped. Items are never taken out in
    place: one whose entry has moved on (another token) is stale, skipped when it comes due."""

    def __init__(self, initial: float, maximum: float) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"backoff must satisfy 0 < initial ({initial}) <= max ({maximum})")
        self._initial = initial
        self._max = maximum
        # (backoff_until, token, uid)
        self._heap: list[tuple[float, int, str]] = []

    def seconds(self, attempts: int) -> float:
        if attempts <= 0:
            return 0.0
        # Cap the exponent first: 2**attempts must not overflow a float for absurd counts.
        exponent = min(attempts - 1, 62)
        return float(min(self._initial * 2**exponent, self._max))

    def push(self, until: float, token: int, uid: str) -> None:
        heapq.heappush(self._heap, (until, token, uid))

    def due(self, now: float) -> Iterator[tuple[int, str]]:
        """``(token, uid)`` of each item whose backoff has ended by ``now``, taken out."""
        while self._heap and self._heap[0][0] <= now:
            _, token, uid = heapq.heappop(self._heap)
            yield token, uid

    def idle(self, now: float) -> float:
        """How long nothing comes due: until the first backoff ends, at most
        ``_MAX_IDLE_SLEEP`` (a clock that jumps, or a lost wake-up, costs no more)."""
        timeout = _MAX_IDLE_SLEEP
        if self._heap:
            timeout = min(timeout, self._heap[0][0] - now)
        return max(timeout, 0.0)


class _Unschedulable(Generic[P]):
    """kube's unschedulablePods: the parked pods, oldest first (insertion order = parking
    time), so moves and the timeout sweep cost O(parked), not O(queue), however often nodes
    change."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._entries: dict[str, _Entry[P]] = {}

    def add(self, entry: _Entry[P]) -> None:
        self._entries[entry.pod.uid] = entry

    def remove(self, uid: str) -> None:
        del self._entries[uid]

    def movable(self) -> list[_Entry[P]]:
        """The parked pods a cluster event may help: neither a pod waiting for its claims to be
        made (its own update moves it) nor a member of an incomplete gang (its group's events
        do; no cluster change adds members)."""
        return [
            e for e in self._entries.values() if not (_claims_pending(e.pod) or e.gang_incomplete)
        ]

    def of(self, uids: Iterable[str]) -> list[_Entry[P]]:
        """The parked ones among ``uids``."""
        return [self._entries[u] for u in uids if u in self._entries]

    def where(self, keep: Callable[[P], bool]) -> list[_Entry[P]]:
        return [e for e in self._entries.values() if keep(e.pod)]

    def expired(self, now: float) -> list[_Entry[P]]:
        """The pods parked longer than the timeout."""
        expired = []
        for entry in self._entries.values():
            if now - entry.parked_at < self._timeout:
                break
            expired.append(entry)
        return expired


class SchedulingQueue(Generic[P]):
    def __init__(
        self,
        *,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        unschedulable_timeout: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        group_of: Callable[[P], Hashable | None] | None = None,
        fair_share: Callable[[], FairShareLike[P] | None] | None = None,
    ) -> None:
        self._backoff = _BackoffQ(initial_backoff, max_backoff)
        self._clock = clock
        self._fair_share = fair_share
        self._gangs: _Gangs[P] = _Gangs(group_of)
        self._entries: dict[str, _Entry[P]] = {}
        self._active: _ActiveQ[P] = _ActiveQ(self._live, per_namespace=fair_share is not None)
        self._parked: _Unschedulable[P] = _Unschedulable(unschedulable_timeout)
        self._census = _Census()
        self._tokens = itertools.count(1)
        self._moves = 0

    # -- feeding ------------------------------------------------------------------------------

    def add(self, pod: P) -> None:
        """A pending pod appeared (or reappeared). Same as ``update`` if the uid is known."""
        if pod.uid in self._entries:
            self.update(pod)
            return
        entry = _Entry(pod=pod, where=_Where.ACTIVE, attempts=0, first_enqueued=self._clock())
        self._entries[pod.uid] = entry
        self._census.joined(pod.namespace)
        self._gangs.join(pod)
        self._push_active(entry)

    def update(self, pod: P) -> None:
        """The pod changed. A parked unschedulable pod gets another chance: the change may be
        what it needed (kube-scheduler does the same)."""
        entry = self._entries.get(pod.uid)
        if entry is None:
            self.add(pod)
            return
        if entry.where is _Where.IN_FLIGHT:
            entry.pending_update = pod
            entry.deleted = False
            return
        old_priority = entry.pod.priority
        claims_made = _claims_pending(entry.pod) and not _claims_pending(pod)
        self._gangs.replace(entry.pod, pod)
        entry.pod = pod
        if entry.where is _Where.ACTIVE and pod.priority != old_priority:
            self._push_active(entry)
        elif claims_made and entry.where in (_Where.UNSCHEDULABLE, _Where.BACKOFF):
            # What it waited for: tried at once (its waits were no attempts).
            entry.backoff_until = self._clock()
            self._set_where(entry, _Where.ACTIVE)
            self._push_active(entry)
        elif entry.where is _Where.UNSCHEDULABLE and not _claims_pending(pod):
            self._move_out_of_unschedulable(entry, self._clock())

    def delete(self, uid: str) -> None:
        """The pod is gone (deleted, bound by someone else, or no longer ours)."""
        entry = self._entries.get(uid)
        if entry is None:
            return
        if entry.where is _Where.IN_FLIGHT:
            entry.deleted = True
            entry.pending_update = None
            return
        self._remove(entry)

    def move_all_to_active_or_backoff(self, reason: str) -> int:
        """A cluster event may have made parked pods schedulable: release them all. Those whose
        backoff has not expired go to backoff. Returns how many moved."""
        self._moves += 1
        return self._move_parked(self._parked.movable(), reason)

    def move_group(self, key: Hashable, reason: str) -> int:
        """A PodGroup changed (added, updated, deleted): its parked members may fit now (a
        minimum lowered, the group created or fixed); no other pod can. Returns how many moved."""
        self._moves += 1
        return self._move_parked(self._parked.of(self._gangs.members(key)), reason)

    def move_groups(self, reason: str) -> int:
        """PodGroups were relisted: every parked gang member may fit now. Returns how many
        moved."""
        self._moves += 1
        return self._move_parked(self._parked.where(self._gangs.in_one), reason)

    def _move_parked(self, parked: list[_Entry[P]], reason: str) -> int:
        now = self._clock()
        for entry in parked:
            self._move_out_of_unschedulable(entry, now)
        if parked:
            log.debug("moved %d unschedulable pod(s) on %s", len(parked), reason)
        return len(parked)

    def activate(self, uid: str) -> bool:
        """kube's pod activation: a parked or backing-off pod goes to active at once, for a
        change that concerns it alone (its nominated node changed). True if it moved."""
        entry = self._entries.get(uid)
        if entry is None or entry.where not in (_Where.UNSCHEDULABLE, _Where.BACKOFF):
            return False
        self._set_where(entry, _Where.ACTIVE)
        # A backoff heap item left behind is stale (its token no longer matches) and skipped.
        self._push_active(entry)
        return True

    # -- scheduling cycle ---------------------------------------------------------------------

    async def pop_batch(self, max_pods: int, wait: float = 0.0) -> list[P]:
        """Wait for the first active pod, then give it and up to ``max_pods - 1`` more. If fewer
        are ready, wait up to ``wait`` seconds for others to arrive. Returns ``[]`` once closed."""
        if max_pods < 1:
            raise ValueError(f"max_pods must be >= 1 (got {max_pods})")
        active = self._census.places
        while not self._active.closed:
            self.flush()
            if active[_Where.ACTIVE]:
                break
            await self._active.wait(self._backoff.idle(self._clock()))
        if self._active.closed:
            return []
        if wait > 0 and active[_Where.ACTIVE] < max_pods:
            deadline = asyncio.get_running_loop().time() + wait
            while not self._active.closed and active[_Where.ACTIVE] < max_pods:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                await self._active.wait(left)
                self.flush()
        fair = self._fair_share() if self._fair_share is not None else None
        ranks = self._active.ranks(fair) if fair is not None else []
        batch: list[P] = []
        while len(batch) < max_pods:
            entry = self._active.pop() if fair is None else self._active.pop_fair(fair, ranks)
            if entry is None:
                break
            taken = len(batch)
            self._take(entry, batch)
            # The rest of its gang comes along, wherever it waits (a batch may run over
            # ``max_pods`` by the gang's size: a gang is never split).
            for member in (self._entries[uid] for uid in self._gangs.others(entry.pod)):
                if member.where is not _Where.IN_FLIGHT:
                    self._take(member, batch)
            if fair is not None:
                # A gang counts whole against its team's share.
                for pod in batch[taken:]:
                    fair.charge(pod)
                rank = self._active.rank(fair, entry.pod.namespace)
                if rank is not None:
                    heapq.heappush(ranks, rank)
        return batch

    def _live(self, item: _Item) -> _Entry[P] | None:
        """The entry ``item`` stands for, None if the item is stale."""
        entry = self._entries.get(item[3])
        if entry is None or entry.where is not _Where.ACTIVE or entry.token != item[2]:
            return None
        return entry

    def _take(self, entry: _Entry[P], batch: list[P]) -> None:
        self._set_where(entry, _Where.IN_FLIGHT)
        entry.attempts += 1
        entry.popped_at_move = self._moves
        batch.append(entry.pod)

    def requeue(self, pod: P, unschedulable: bool, *, gang_incomplete: bool = False) -> None:
        """A popped pod was not bound. ``unschedulable``: no node fits it, so park it until the
        cluster changes; otherwise (an error, a failed bind) retry after its backoff.
        ``gang_incomplete``: it is a member of a gang that cannot be tried yet (members or its
        PodGroup missing), parked until its group's events rather than the cluster's."""
        entry = self._entries.get(pod.uid)
        if entry is None or entry.where is not _Where.IN_FLIGHT:
            log.warning("requeue of pod %s that is not in flight; ignored", pod.uid)
            return
        if entry.deleted:
            self._remove(entry)
            return
        updated = entry.pending_update is not None
        latest = entry.pending_update if entry.pending_update is not None else pod
        self._gangs.replace(entry.pod, latest)
        entry.pod = latest
        entry.pending_update = None
        entry.gang_incomplete = unschedulable and gang_incomplete
        now = self._clock()
        if unschedulable and _claims_pending(pod):
            # Its claims were not made yet (kube's PreEnqueue would not have let it be tried):
            # not an attempt; it waits for its own update, or goes at once if that came.
            entry.attempts -= 1
            entry.backoff_until = now
            if _claims_pending(entry.pod):
                entry.parked_at = now
                self._set_where(entry, _Where.UNSCHEDULABLE)
            else:
                self._set_where(entry, _Where.ACTIVE)
                self._push_active(entry)
            return
        entry.backoff_until = now + self.backoff_seconds(entry.attempts)
        # If the cluster changed while this pod was being decided, the decision may already be
        # stale: parking it would lose that event, so it waits out its backoff instead.
        moved_meanwhile = self._moves != entry.popped_at_move
        if unschedulable and not moved_meanwhile and not updated:
            entry.parked_at = now
            self._set_where(entry, _Where.UNSCHEDULABLE)
        else:
            self._push_backoff(entry)

    def done(self, uid: str) -> Completed | None:
        """The pod was bound: forget it. Returns its attempt count and time in the queue."""
        entry = self._entries.get(uid)
        if entry is None:
            return None
        if entry.where is not _Where.IN_FLIGHT:
            log.warning("done for pod %s that is not in flight (%s)", uid, entry.where.value)
        self._remove(entry)
        return Completed(entry.attempts, self._clock() - entry.first_enqueued)

    def flush(self) -> None:
        """Make expired backoffs active and release pods parked longer than the timeout."""
        now = self._clock()
        for token, uid in self._backoff.due(now):
            entry = self._entries.get(uid)
            if entry is not None and entry.where is _Where.BACKOFF and entry.token == token:
                self._set_where(entry, _Where.ACTIVE)
                self._push_active(entry)
        for entry in self._parked.expired(now):
            self._move_out_of_unschedulable(entry, now)

    def close(self) -> None:
        """Wake a waiting ``pop_batch`` and make it (and later calls) return ``[]``."""
        self._active.close()

    # -- inspection ---------------------------------------------------------------------------

    def backoff_seconds(self, attempts: int) -> float:
        """The backoff after ``attempts`` failed attempts: initial * 2^(attempts-1), capped."""
        return self._backoff.seconds(attempts)

    def pending_counts(self) -> dict[str, int]:
        """Pods waiting in each sub-queue (in-flight pods excluded), for scheduler_pending_pods."""
        return self._census.pending()

    def pending_by_namespace(self) -> dict[str, int]:
        """Queued pods per namespace, in flight included (they are not bound yet)."""
        return self._census.by_namespace()

    def attempts(self, uid: str) -> int | None:
        """How often the pod was popped so far (None: not queued)."""
        entry = self._entries.get(uid)
        return None if entry is None else entry.attempts

    def in_flight(self, uid: str) -> bool:
        entry = self._entries.get(uid)
        return entry is not None and entry.where is _Where.IN_FLIGHT

    def __contains__(self, uid: object) -> bool:
        return uid in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    # -- internals ----------------------------------------------------------------------------

    def _set_where(self, entry: _Entry[P], where: _Where) -> None:
        if entry.where is _Where.UNSCHEDULABLE:
            self._parked.remove(entry.pod.uid)
        if where is _Where.UNSCHEDULABLE:
            self._parked.add(entry)
        self._census.moved(entry.where, where)
        entry.where = where

    def _remove(self, entry: _Entry[P]) -> None:
        self._gangs.leave(entry.pod)
        if entry.where is _Where.UNSCHEDULABLE:
            self._parked.remove(entry.pod.uid)
        self._census.left(entry.where, entry.pod.namespace)
        del self._entries[entry.pod.uid]
        # Heap items left behind are stale (no entry) and skipped when reached.

    def _push_active(self, entry: _Entry[P]) -> None:
        entry.token = next(self._tokens)
        self._active.push(entry, self._census.places[_Where.ACTIVE])

    def _push_backoff(self, entry: _Entry[P]) -> None:
        self._set_where(entry, _Where.BACKOFF)
        entry.token = next(self._tokens)
        self._backoff.push(entry.backoff_until, entry.token, entry.pod.uid)
        self._active.wake()

    def _move_out_of_unschedulable(self, entry: _Entry[P], now: float) -> None:
        if entry.backoff_until > now:
            self._push_backoff(entry)
        else:
            self._set_where(entry, _Where.ACTIVE)
            self._push_active(entry)


def _claims_pending(pod: object) -> bool:
    """``PendingPod.claims_pending``; pods that do not say (tests' fakes) have their claims."""
    return bool(getattr(pod, "claims_pending", False))
