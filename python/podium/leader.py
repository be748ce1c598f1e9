"""Lease-based leader election on ``coordination.k8s.io/v1``, with kube-scheduler's semantics.

Safety never depends on comparing clocks across machines. A follower judges a lease expired by
its own monotonic clock, counting ``leaseDurationSeconds`` from the moment it last saw the record
change. The leader counts its renew deadline from the moment it *sent* its last successful
renewal, which is no later than any follower can have seen that renewal. Since
renewDeadline < leaseDuration, a leader that cannot renew has stopped leading (and, through
``on_stopped_leading``, stopped binding) before any follower may take the lease over.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from podium.bounded import quoted
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

log = logging.getLogger(__name__)

DEFAULT_LEASE_DURATION = 15.0
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0
DEFAULT_NAME = "podium"
DEFAULT_NAMESPACE = "kube-system"

# client-go waits retryPeriod * (1 + rand * 1.2) between acquire attempts, so that replicas
# started together do not hit the apiserver in lock step.
_ACQUIRE_JITTER = 1.2

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")

Hook = Callable[[], Awaitable[None]]


def default_identity() -> str:
    """hostname + unique suffix, like kube-scheduler: two replicas on one host stay distinct."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def format_micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with exactly six fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (MicroTime or Time). Raises ValueError when it is not one."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {quoted(value)}")
    fraction = match.group(1) or ""
    # fromisoformat wants at most six fractional digits; the apiserver may send up to nine.
    trimmed = value.replace(fraction, fraction[:7], 1) if fraction else value
    return datetime.fromisoformat(trimmed.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The election fields of a Lease spec, as far as they could be read.

    ``holder`` is "" when nobody holds the lease and None when the field was unreadable (then the
    lease counts as held by someone unknown). ``problems`` names each malformed field."""

    holder: str | None
    lease_duration: int | None
    acquire_time: str | None
    transitions: int
    problems: tuple[str, ...]

    def effective_duration(self, fallback: float) -> float:
        """How long after its last observed change the lease stays held by its holder.

        For a malformed record we wait at least our own lease duration: its holder may be alive
        and renewing with a client that writes what we cannot read."""
        if self.problems or self.lease_duration is None:
            return max(float(self.lease_duration or 0), fallback)
        return float(self.lease_duration)


def _whole(value: object, minimum: int) -> int | None:
    """``value`` if it is an integer (JSON number without fraction, not a bool) >= ``minimum``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    return None


def _time_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"expected an RFC 3339 string, got {quoted(value)}"
    try:
        parse_micro_time(value)
    except ValueError as err:
        return str(err)
    return None


def parse_record(spec: object) -> LeaseRecord:
    """Read the election fields of a Lease ``spec``; never raises."""
    if not isinstance(spec, dict):
        return LeaseRecord(None, None, None, 0, (f"spec: expected an object, got {quoted(spec)}",))
    problems: list[str] = []

    raw_holder = spec.get("holderIdentity")
    holder: str | None
    if raw_holder is None:
        holder = ""
    elif isinstance(raw_holder, str):
        holder = raw_holder
    else:
        holder = None
        problems.append(f"spec.holderIdentity: expected a string, got {quoted(raw_holder)}")

    raw_duration = spec.get("leaseDurationSeconds")
    duration = _whole(raw_duration, 1)
    if raw_duration is not None and duration is None:
        problems.append(
            f"spec.leaseDurationSeconds: expected a positive integer, got {quoted(raw_duration)}"
        )
    elif raw_duration is None and holder != "":
        problems.append("spec.leaseDurationSeconds: missing while the lease has a holder")

    times: dict[str, str | None] = {}
    for field in ("acquireTime", "renewTime"):
        raw_time = spec.get(field)
        problem = None if raw_time is None else _time_problem(raw_time)
        if problem is not None:
            problems.append(f"spec.{field}: {problem}")
        times[field] = raw_time if raw_time is not None and problem is None else None

    raw_transitions = spec.get("leaseTransitions")
    transitions = _whole(raw_transitions, 0)
    if raw_transitions is not None and transitions is None:
        problems.append(
            f"spec.leaseTransitions: expected a non-negative integer, got {quoted(raw_transitions)}"
        )

    return LeaseRecord(holder, duration, times["acquireTime"], transitions or 0, tuple(problems))


class LeaseObserver:
    """The Lease record as this process last saw it, and when it last saw it change (by its own
    clock). Expiry is counted from that moment, never from the renewTime another machine wrote."""

    def __init__(self) -> None:
        self._raw: object = None
        self._seen = False
        self.record: LeaseRecord = parse_record({})
        self.observed_at = 0.0

    def observe(self, spec: object, now: float) -> bool:
        """Record a read of the lease spec; True when it differs from the previous read."""
        if self._seen and spec == self._raw:
            return False
        self._raw = spec
        self._seen = True
        self.record = parse_record(spec)
        self.observed_at = now
        return True

    def may_acquire(self, identity: str, now: float, fallback_duration: float) -> bool:
        """Whether ``identity`` may write itself in as holder now."""
        record = self.record
        if record.holder in ("", identity):
            return True
        expires_at = self.observed_at + record.effective_duration(fallback_duration)
        return now >= expires_at

    def held_by_other(self, identity: str) -> bool:
        return self.record.holder not in ("", identity)


class LeaderElector:
    """Campaigns for a Lease and leads while it holds it.

    ``run`` never returns on its own: after losing the lease it campaigns again (caches stay warm,
    so a regained lease schedules at once). Cancel it to stop; if leading, it then calls
    ``on_stopped_leading`` and releases the lease so a follower takes over without waiting."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        name: str = DEFAULT_NAME,
        namespace: str = DEFAULT_NAMESPACE,
        identity: str | None = None,
        lease_duration: float = DEFAULT_LEASE_DURATION,
        renew_deadline: float = DEFAULT_RENEW_DEADLINE,
        retry_period: float = DEFAULT_RETRY_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        identity = default_identity() if identity is None else identity
        for field, text in (("name", name), ("namespace", namespace), ("identity", identity)):
            if not text:
                raise ValueError(f"LeaderElector: {field} must not be empty")
        for field, seconds in (
            ("lease_duration", lease_duration),
            ("renew_deadline", renew_deadline),
            ("retry_period", retry_period),
        ):
            if not seconds > 0:
                raise ValueError(f"LeaderElector: {field} must be positive, got {seconds}")
        if lease_duration <= renew_deadline:
            raise ValueError(
                f"LeaderElector: lease_duration ({lease_duration}) must be greater than "
                f"renew_deadline ({renew_deadline})"
            )
        if renew_deadline <= retry_period * _ACQUIRE_JITTER:
            raise ValueError(
                f"LeaderElector: renew_deadline ({renew_deadline}) must be greater than "
                f"retry_period*{_ACQUIRE_JITTER} ({retry_period * _ACQUIRE_JITTER})"
            )
        self._api = api_client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._clock = clock
        self._observer = LeaseObserver()
        self._lease: dict[str, Any] | None = None  # the Lease as we last wrote it
        self._renewed_at = 0.0  # when the last successful acquire/renew was sent
        self.leading = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        return self.leading.is_set()

    def holds_lease(self) -> bool:
        """Whether this replica may act as leader at this very moment, by its own clock.

        Stricter than ``is_leader``: a process frozen (SIGSTOP, a stalled VM) past its renew
        deadline still has ``is_leader`` set when it resumes, until its renew loop runs again;
        anything it does meanwhile must first ask this."""
        return self.is_leader and self._clock() < self._renewed_at + self.renew_deadline

    @property
    def _ref(self) -> str:
        return f"Lease {self.namespace}/{self.name}"

    @property
    def _collection(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"

    async def run(self, on_started_leading: Hook, on_stopped_leading: Hook) -> None:
        """Campaign, lead, and campaign again after a loss, until cancelled.

        ``on_started_leading`` should return promptly (start long work as tasks): renewals wait
        for it. ``on_stopped_leading`` must stop binding; it is called once per term, before the
        lease can expire for anyone else. If it raises after a lost lease, the error propagates
        (the caller cannot know binding stopped, so it must not carry on)."""
        while True:
            await self._acquire()
            await self._lead(on_started_leading, on_stopped_leading)

    async def _acquire(self) -> None:
        log.info("%s: %s is campaigning for leadership", self._ref, self.identity)
        while True:
            if await self._attempt():
                return
            await asyncio.sleep(self.retry_period * (1 + random.random() * _ACQUIRE_JITTER))

    async def _lead(self, on_started_leading: Hook, on_stopped_leading: Hook) -> None:
        self.leading.set()
        log.info("%s: %s became the leader", self._ref, self.identity)
        try:
            await on_started_leading()
            await self._renew_until_lost()
        except BaseException:
            # Cancelled (graceful shutdown) or on_started_leading failed: stop binding first,
            # then hand the lease back so a follower need not wait for it to expire.
            self.leading.clear()
            try:
                await on_stopped_leading()
            except Exception:
                log.exception("%s: on_stopped_leading failed", self._ref)
            await self._release()
            raise
        self.leading.clear()
        log.error("%s: %s lost leadership; stopping", self._ref, self.identity)
        await on_stopped_leading()

    async def _renew_until_lost(self) -> None:
        while True:
            deadline = self._renewed_at + self.renew_deadline
            await asyncio.sleep(max(0.0, min(self.retry_period, deadline - self._clock())))
            now = self._clock()
            if now >= deadline:
                log.error(
                    "%s: no successful renewal within renewDeadline (%.1fs)",
                    self._ref,
                    self.renew_deadline,
                )
                return
            try:
                async with asyncio.timeout(deadline - now):
                    renewed = await self._attempt()
            except TimeoutError:
                continue  # the loop head sees the deadline has passed
            if not renewed and self._observer.held_by_other(self.identity):
                log.error(
                    "%s: now held by %r", self._ref, self._observer.record.holder or "<unknown>"
                )
                return

    async def _attempt(self) -> bool:
        """One try to acquire or renew the lease; False when it is held elsewhere or the
        apiserver could not be reached. Never raises for apiserver or network trouble."""
        started = self._clock()
        try:
            async with asyncio.timeout(self.renew_deadline):
                acquired = await self._try_acquire_or_renew(started)
        except (ApiStatusError, aiohttp.ClientError, OSError, TimeoutError, NotALeaseError) as err:
            log.warning("%s: acquire/renew failed: %s", self._ref, err or type(err).__name__)
            return False
        if acquired:
            self._renewed_at = started
        return acquired

    async def _try_acquire_or_renew(self, started: float) -> bool:
        path = f"{self._collection}/{self.name}"
        try:
            lease = _decode_lease(await request_bytes(self._api, "GET", path), self._ref)
        except ApiStatusError as err:
            if err.status != 404:
                raise
            return await self._create()

        if self._observer.observe(lease.get("spec"), self._clock()):
            problems = self._observer.record.problems
            if problems:
                log.error(
                    "%s is malformed (%s); treating it as held by its holder for %.0fs from now",
                    self._ref,
                    "; ".join(problems),
                    self._observer.record.effective_duration(self.lease_duration),
                )
        if not self._observer.may_acquire(self.identity, started, self.lease_duration):
            return False

        record = self._observer.record
        now = format_micro_time(datetime.now(UTC))
        ours = record.holder == self.identity
        lease["spec"] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(self.lease_duration),
            "acquireTime": record.acquire_time if ours and record.acquire_time else now,
            "renewTime": now,
            "leaseTransitions": record.transitions if ours else record.transitions + 1,
        }
        try:
            written = await request_bytes(self._api, "PUT", path, body=lease)
        except ApiStatusError as err:
            if err.status == 409:  # changed since our read: someone else won this round
                return False
            raise
        self._remember(_decode_lease(written, self._ref))
        return True

    async def _create(self) -> bool:
        now = format_micro_time(datetime.now(UTC))
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        try:
            written = await request_bytes(self._api, "POST", self._collection, body=lease)
        except ApiStatusError as err:
            if err.status == 409:  # another replica created it first
                return False
            raise
        self._remember(_decode_lease(written, self._ref))
        return True

    def _remember(self, lease: dict[str, Any]) -> None:
        self._lease = lease
        self._observer.observe(lease.get("spec"), self._clock())

    async def _release(self) -> None:
        """Clear holderIdentity, guarded by resourceVersion so that a lease someone else has
        taken meanwhile is left alone."""
        lease = self._lease
        if lease is None or self._observer.record.holder != self.identity:
            return
        try:
            async with asyncio.timeout(self.retry_period):
                released = await self._clear_holder(lease)
        except (ApiStatusError, aiohttp.ClientError, OSError, TimeoutError, NotALeaseError) as err:
            log.warning("%s: release failed (it will expire instead): %s", self._ref, err)
            return
        if not released:
            return
        log.info("%s: %s released the lease", self._ref, self.identity)

    async def _clear_holder(self, lease: dict[str, Any]) -> bool:
        """PUT ``lease`` with no holder; False when it turns out to be someone else's.

        A 409 may mean our own renewal landed while its answer was lost (cancelled in flight, as
        a SIGTERM does): the lease, read afresh, still names us and is released in that form."""
        path = f"{self._collection}/{self.name}"
        for _ in range(2):
            now = format_micro_time(datetime.now(UTC))
            lease["spec"] = {
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": self._observer.record.transitions,
            }
            try:
                written = await request_bytes(self._api, "PUT", path, body=lease)
            except ApiStatusError as err:
                if err.status != 409:
                    raise
                lease = _decode_lease(await request_bytes(self._api, "GET", path), self._ref)
                self._observer.observe(lease.get("spec"), self._clock())
                if self._observer.record.holder != self.identity:
                    return False
                continue
            self._remember(_decode_lease(written, self._ref))
            return True
        log.warning("%s: release failed (it will expire instead): it kept changing", self._ref)
        return False


class NotALeaseError(Exception):
    """The apiserver answered a Lease request with something that is not a Lease object."""


def _decode_lease(body: bytes, ref: str) -> dict[str, Any]:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise NotALeaseError(f"{ref}: the apiserver sent invalid JSON: {err}") from err
    if not isinstance(decoded, dict) or not isinstance(decoded.get("metadata"), dict):
        raise NotALeaseError(f"{ref}: the apiserver sent something that is not a Lease object")
    return decoded
