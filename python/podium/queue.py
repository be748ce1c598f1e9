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
from collections.abc import Callable, Hashable, Sequence
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
    has moved on (``live`` answers None) is stale, skipped when reached or compacted away."""

    def __init__(self, live: Callable[[_Item], _Entry[P] | None], *, per_namespace: bool) -> None:
        self._live = live
        self._per_namespace = per_namespace
        # (-priority, created, token, uid)
        self._heap: list[_Item] = []
        # The same items per namespace, for the fair-share order (only ``per_namespace``).
        self._by_namespace: dict[str, list[_Item]] = {}
        self._by_namespace_items = 0

    def push(self, entry: _Entry[P], live: int) -> None:
        """``entry`` (its token just renewed) is active; ``live``: how many are."""
        item = (-entry.pod.priority, entry.pod.created, entry.token, entry.pod.uid)
        heapq.heappush(self._heap, item)
        if self._per_namespace:
            heapq.heappush(self._by_namespace.setdefault(entry.pod.namespace, []), item)
            self._by_namespace_items += 1
            self._compact(live)

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
        if initial_backoff <= 0 or max_backoff < initial_backoff:
            raise ValueError(
                f"backoff must satisfy 0 < initial ({initial_backoff}) <= max ({max_backoff})"
            )
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._unschedulable_timeout = unschedulable_timeout
        self._clock = clock
        self._fair_share = fair_share
        self._gangs: _Gangs[P] = _Gangs(group_of)
        self._entries: dict[str, _Entry[P]] = {}
        self._active: _ActiveQ[P] = _ActiveQ(self._live, per_namespace=fair_share is not None)
        # (backoff_until, token, uid)
        self._backoff: list[tuple[float, int, str]] = []
        # Parked pods, oldest first (insertion order = parking time): moves and the timeout
        # sweep cost O(parked), not O(queue), however often nodes change.
        self._parked: dict[str, _Entry[P]] = {}
        self._counts = dict.fromkeys(_Where, 0)
        # Queued pods per namespace (in flight included: not bound yet), for the quota metrics.
        self._per_namespace: dict[str, int] = {}
        self._tokens = itertools.count(1)
        self._moves = 0
        self._wakeup = asyncio.Event()
        self._closed = False

    # -- feeding ------------------------------------------------------------------------------

    def add(self, pod: P) -> None:
        """A pending pod appeared (or reappeared). Same as ``update`` if the uid is known."""
        if pod.uid in self._entries:
            self.update(pod)
            return
        entry = _Entry(pod=pod, where=_Where.ACTIVE, attempts=0, first_enqueued=self._clock())
        self._entries[pod.uid] = entry
        self._per_namespace[pod.namespace] = self._per_namespace.get(pod.namespace, 0) + 1
        self._gangs.join(pod)
        self._counts[_Where.ACTIVE] += 1
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
        self._gangs.leave(entry.pod)
        entry.pod = pod
        self._gangs.join(pod)
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
        # A pod waiting for its claims to be made moves on its own update only; a member of an
        # incomplete gang on its group's events only (no cluster change adds members).
        parked = [
            e for e in self._parked.values() if not (_claims_pending(e.pod) or e.gang_incomplete)
        ]
        return self._move_parked(parked, reason)

    def move_group(self, key: Hashable, reason: str) -> int:
        """A PodGroup changed (added, updated, deleted): its parked members may fit now (a
        minimum lowered, the group created or fixed); no other pod can. Returns how many moved."""
        self._moves += 1
        members = self._gangs.members(key)
        return self._move_parked([self._parked[u] for u in members if u in self._parked], reason)

    def move_groups(self, reason: str) -> int:
        """PodGroups were relisted: every parked gang member may fit now. Returns how many
        moved."""
        self._moves += 1
        parked = [e for e in self._parked.values() if self._gangs.in_one(e.pod)]
        return self._move_parked(parked, reason)

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
        while not self._closed:
            self.flush()
            if self._counts[_Where.ACTIVE]:
                break
            await self._sleep(self._idle_timeout())
        if self._closed:
            return []
        if wait > 0 and self._counts[_Where.ACTIVE] < max_pods:
            deadline = asyncio.get_running_loop().time() + wait
            while not self._closed and self._counts[_Where.ACTIVE] < max_pods:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                await self._sleep(left)
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
        self._gangs.leave(entry.pod)
        entry.pod = entry.pending_update if entry.pending_update is not None else pod
        self._gangs.join(entry.pod)
        updated = entry.pending_update is not None
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
        while self._backoff and self._backoff[0][0] <= now:
            _, token, uid = heapq.heappop(self._backoff)
            entry = self._entries.get(uid)
            if entry is not None and entry.where is _Where.BACKOFF and entry.token == token:
                self._set_where(entry, _Where.ACTIVE)
                self._push_active(entry)
        expired = []
        for entry in self._parked.values():
            if now - entry.parked_at < self._unschedulable_timeout:
                break
            expired.append(entry)
        for entry in expired:
            self._move_out_of_unschedulable(entry, now)

    def close(self) -> None:
        """Wake a waiting ``pop_batch`` and make it (and later calls) return ``[]``."""
        self._closed = True
        self._wakeup.set()

    # -- inspection ---------------------------------------------------------------------------

    def backoff_seconds(self, attempts: int) -> float:
        """The backoff after ``attempts`` failed attempts: initial * 2^(attempts-1), capped."""
        if attempts <= 0:
            return 0.0
        # Cap the exponent first: 2**attempts must not overflow a float for absurd counts.
        exponent = min(attempts - 1, 62)
        return float(min(self._initial_backoff * 2**exponent, self._max_backoff))

    def pending_counts(self) -> dict[str, int]:
        """Pods waiting in each sub-queue (in-flight pods excluded), for scheduler_pending_pods."""
        return {
            w.value: self._counts[w] for w in (_Where.ACTIVE, _Where.BACKOFF, _Where.UNSCHEDULABLE)
        }

    def pending_by_namespace(self) -> dict[str, int]:
        """Queued pods per namespace, in flight included (they are not bound yet)."""
        return dict(self._per_namespace)

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
            del self._parked[entry.pod.uid]
        if where is _Where.UNSCHEDULABLE:
            self._parked[entry.pod.uid] = entry
        self._counts[entry.where] -= 1
        self._counts[where] += 1
        entry.where = where

    def _remove(self, entry: _Entry[P]) -> None:
        self._gangs.leave(entry.pod)
        if entry.where is _Where.UNSCHEDULABLE:
            del self._parked[entry.pod.uid]
        self._counts[entry.where] -= 1
        del self._entries[entry.pod.uid]
        left = self._per_namespace[entry.pod.namespace] - 1
        if left:
            self._per_namespace[entry.pod.namespace] = left
        else:
            del self._per_namespace[entry.pod.namespace]
        # Heap items left behind are stale (no entry) and skipped when reached.

    def _push_active(self, entry: _Entry[P]) -> None:
        entry.token = next(self._tokens)
        self._active.push(entry, self._counts[_Where.ACTIVE])
        self._wakeup.set()

    def _push_backoff(self, entry: _Entry[P]) -> None:
        self._set_where(entry, _Where.BACKOFF)
        entry.token = next(self._tokens)
        heapq.heappush(self._backoff, (entry.backoff_until, entry.token, entry.pod.uid))
        self._wakeup.set()

    def _move_out_of_unschedulable(self, entry: _Entry[P], now: float) -> None:
        if entry.backoff_until > now:
            self._push_backoff(entry)
        else:
            self._set_where(entry, _Where.ACTIVE)
            self._push_active(entry)

    def _idle_timeout(self) -> float:
        now = self._clock()
        timeout = _MAX_IDLE_SLEEP
        if self._backoff:
            timeout = min(timeout, self._backoff[0][0] - now)
        return max(timeout, 0.0)

    async def _sleep(self, seconds: float) -> None:
        self._wakeup.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        except TimeoutError:
            pass


def _claims_pending(pod: object) -> bool:
    """``PendingPod.claims_pending``; pods that do not say (tests' fakes) have their claims."""
    return bool(getattr(pod, "claims_pending", False))
