"""Preemption, the API side (kube-scheduler's DefaultPreemption PostFilter).

The core (``Snapshot.preempt``) chooses the victims and the nominated nodes; this module makes
it so, off the scheduling path:

- the nominated node is held in the cache at once (``ClusterState.nominate``), so no pod of
  lower or equal priority takes the room while the victims go, then written to the preemptor's
  ``status.nominatedNodeName``;
- each victim gets the ``DisruptionTarget`` condition (reason ``PreemptionByScheduler``) through
  ``pods/status``, then is deleted with its uid as precondition (a pod recreated under the same
  name is never hit), and a ``Preempted`` event says by whom and where.

A pod that fits nowhere is preempted for as a set with the other pods of its gang (label
``scheduling.x-k8s.io/pod-group``) that failed in the same batch: all of them get room, or none
does. At most one preemption per pod is in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import aiohttp

from podium.events import ObjectRef
from podium.pods import GangKey, PodLike, gang_key
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium._core import Preemption, Victim
    from podium.events import EventRecorder
    from podium.supervisor import Supervisor

__all__ = ["DISRUPTION_TARGET", "PREEMPTION_REASON", "Preemptor", "preemption_sets"]

log = logging.getLogger(__name__)

DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_REASON = "PreemptionByScheduler"
_REQUEST_TIMEOUT = 10.0


class NominationCache(Protocol):
    """The part of ``podium._core.ClusterState`` preemption uses."""

    def nominate(self, uid: str, node: str | None) -> None: ...
    def nominated_node(self, uid: str) -> str | None: ...


P = TypeVar("P", bound=PodLike)


def preemption_sets(pods: Iterable[P]) -> list[list[P]]:
    """Pods to preempt for, grouped: a gang's pods (same namespace and pod group) form one set,
    any other pod is a set of its own. Sets keep the order of their first pod."""
    sets: list[list[P]] = []
    gangs: dict[GangKey, list[P]] = {}
    for pod in pods:
        key = gang_key(pod)
        if key is None:
            sets.append([pod])
            continue
        members = gangs.get(key)
        if members is None:
            members = gangs[key] = []
            sets.append(members)
        members.append(pod)
    return sets


class Preemptor:
    def __init__(
        self,
        api: ApiClient,
        state: NominationCache,
        recorder: EventRecorder | None = None,
        *,
        supervisor: Supervisor,
        concurrency: int = 16,
        request_timeout: float = _REQUEST_TIMEOUT,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1 (got {concurrency})")
        self._api = api
        self._state = state
        self._supervisor = supervisor
        self._recorder = recorder
        self._semaphore = asyncio.Semaphore(concurrency)
        self._timeout = request_timeout
        # Preemptor uid -> the task carrying out its preemption.
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.evicted = 0
        self.failures = 0

    def in_flight(self, uid: str) -> bool:
        return uid in self._tasks

    def carry_out(
        self, scheduler_name: str, pods: Sequence[PodLike], preemption: Preemption
    ) -> None:
        """Hold the nominated nodes now; evict the victims and write the nominations in the
        background. ``pods``: the set ``preemption`` was planned for."""
        by_uid = {pod.uid: pod for pod in pods}
        nominated: list[tuple[PodLike, str]] = []
        for uid, node in preemption.nominations:
            pod = by_uid.get(uid)
            if pod is None:
                log.error("preemption nominated unknown pod %s", uid)
                continue
            self._state.nominate(uid, node)
            nominated.append((pod, node))
        if not nominated:
            return
        task = self._supervisor.spawn(
            self._run(scheduler_name, nominated, preemption.victims),
            name=f"preempt-{nominated[0][0].uid}",
        )
        if task is None:
            # Not scheduling any more: the held nodes stay held in this cache only; the next
            # leader plans again from what it finds.
            log.warning("preemption for %d pod(s) not carried out: not scheduling", len(nominated))
            return
        for pod, _ in nominated:
            self._tasks[pod.uid] = task
        task.add_done_callback(lambda _: self._done([pod.uid for pod, _ in nominated], task))

    def hold(self, pod: PodLike, node: str) -> None:
        """Hold ``node`` for ``pod`` with no victims (a whole-node reservation): in the cache
        at once, then in the pod's ``status.nominatedNodeName``."""
        self._state.nominate(pod.uid, node)
        self._write_in_background(pod, node, f"hold-{pod.uid}")
        log.info("holding node %s for %s/%s while its pods finish", node, pod.namespace, pod.name)

    def release(self, pod: PodLike) -> None:
        """No room was found for ``pod``: give up the node it was nominated to, if any."""
        if self._state.nominated_node(pod.uid) is None:
            return
        self._state.nominate(pod.uid, None)
        self._write_in_background(pod, None, f"unnominate-{pod.uid}")

    def _write_in_background(self, pod: PodLike, node: str | None, name: str) -> None:
        task = self._supervisor.spawn(self._write_nomination(pod, node), name=name)
        if task is None:
            return  # not scheduling: the cache holds the change, the next leader writes its own
        self._tasks.setdefault(pod.uid, task)
        task.add_done_callback(lambda _: self._done([pod.uid], task))

    async def drain(self) -> None:
        """Wait for every preemption in flight."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks.values()), return_exceptions=True)

    async def stop(self) -> None:
        """Leadership lost: cancel what is in flight (a victim may be left undeleted; the next
        leader preempts again if it still must)."""
        tasks = set(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self, uids: list[str], task: asyncio.Task[None]) -> None:
        for uid in uids:
            if self._tasks.get(uid) is task:
                del self._tasks[uid]
        # A failure also ends the supervisor's group, which logs it; nothing more to do here.

    async def _run(
        self,
        scheduler_name: str,
        nominated: list[tuple[PodLike, str]],
        victims: Sequence[Victim],
    ) -> None:
        # The nomination first: it tells users (and other replicas) why pods are about to go.
        await asyncio.gather(*(self._write_nomination(pod, node) for pod, node in nominated))
        # A gang victim elsewhere is named after the first pod of the set.
        by_node = {node: (pod, node) for pod, node in nominated}
        await asyncio.gather(
            *(
                self._evict(scheduler_name, victim, *by_node.get(victim.node, nominated[0]))
                for victim in victims
            )
        )
        log.info(
            "preempted %d pod(s) for %s",
            len(victims),
            ", ".join(f"{pod.namespace}/{pod.name} on {node}" for pod, node in nominated),
        )

    async def _write_nomination(self, pod: PodLike, node: str | None) -> None:
        path = f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/status"
        body = {"metadata": {"uid": pod.uid}, "status": {"nominatedNodeName": node}}
        try:
            async with self._semaphore:
                await self._request("PATCH", path, body, "application/merge-patch+json")
        except (ApiStatusError, aiohttp.ClientError, TimeoutError) as e:
            # The cache holds the node regardless; only the visible status is missing.
            self.failures += 1
            log.warning("cannot set nominatedNodeName of %s/%s: %s", pod.namespace, pod.name, e)

    async def _evict(
        self, scheduler_name: str, victim: Victim, preemptor: PodLike, node: str
    ) -> None:
        base = f"/api/v1/namespaces/{victim.namespace}/pods/{victim.name}"
        condition = {
            "type": DISRUPTION_TARGET,
            "status": "True",
            "reason": PREEMPTION_REASON,
            "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
            "lastTransitionTime": datetime.fromtimestamp(time.time(), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
        try:
            async with self._semaphore:
                await self._request(
                    "PATCH",
                    f"{base}/status",
                    # metadata.uid: a precondition, the patch fails on a recreated namesake.
                    {"metadata": {"uid": victim.uid}, "status": {"conditions": [condition]}},
                    "application/strategic-merge-patch+json",
                )
                await self._request(
                    "DELETE",
                    base,
                    {
                        "apiVersion": "v1",
                        "kind": "DeleteOptions",
                        "preconditions": {"uid": victim.uid},
                    },
                )
        except ApiStatusError as e:
            if e.status in (404, 409):
                # Gone already, or replaced by a namesake: nothing of the victim to evict.
                log.info("victim %s/%s already gone: %s", victim.namespace, victim.name, e)
                return
            self.failures += 1
            log.warning("cannot preempt %s/%s: %s", victim.namespace, victim.name, e)
            return
        except (aiohttp.ClientError, TimeoutError) as e:
            self.failures += 1
            log.warning("cannot preempt %s/%s: %s", victim.namespace, victim.name, e)
            return
        self.evicted += 1
        if self._recorder is not None:
            self._recorder.record(
                ObjectRef(victim.namespace, victim.name, victim.uid),
                "Normal",
                "Preempted",
                "Preempting",
                f"Preempted by pod {preemptor.uid} on node {node}",
            )

    async def _request(
        self, method: str, path: str, body: dict[str, Any], content_type: str = "application/json"
    ) -> None:
        await request_bytes(
            self._api, method, path, body=body, content_type=content_type, timeout=self._timeout
        )
