"""Assembles a podium scheduler process from its parts and runs it.

``Podium`` is the in-process scheduler (cache, queue, core, binder, events): the CLI, the demo,
the tests and the benchmarks all run this same object. ``run_scheduler`` adds what a deployed
replica needs around it: health and metrics endpoints, tracing and leader election.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from podium import _core
from podium.binder import Binder
from podium.cache import Cache
from podium.conditions import ConditionWriter
from podium.dynamic_resources import ClaimBinder
from podium.events import EventRecorder, ObjectRef
from podium.health import DebugExplain, HealthServer, HealthState
from podium.kubeclient import api_client
from podium.metrics import Metrics
from podium.plugins import PluginSet, load_plugins
from podium.podgroup_status import GROUP_API, PodGroupStatusWriter
from podium.pods import gang_key
from podium.preemption import Preemptor
from podium.queue import SchedulingQueue
from podium.quota_view import publish as publish_quotas
from podium.quota_view import quota_rows
from podium.scheduler import CycleOptions, Scheduler
from podium.supervisor import Supervisor
from podium.tracing import Tracing, TracingOptions
from podium.volume_binding import VolumeBinder

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.config import SchedulerConfig

log = logging.getLogger(__name__)
# Event reason for a pod on a node that podium could not read whole (the note names the pod and
# the field, and what podium does instead).
MALFORMED = "Malformed"


def default_identity() -> str:
    """Unique per process, readable per host: kube-scheduler's hostname_uuid form."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4()}"


class FailureReporter:
    """A pod fits nowhere: a FailedScheduling event and the PodScheduled=False condition."""

    def __init__(self, recorder: EventRecorder, conditions: ConditionWriter) -> None:
        self._recorder = recorder
        self._conditions = conditions

    def unschedulable(self, pod: _core.PendingPod, message: str) -> None:
        self._recorder.failed_scheduling(_pod_ref(pod), message)
        self._conditions.set_unschedulable(pod.namespace, pod.name, message)


def _pod_ref(pod: _core.PendingPod) -> ObjectRef:
    return ObjectRef(namespace=pod.namespace, name=pod.name, uid=pod.uid)


class GroupEventWriter:
    """PodGroup events through the scheduler's event recorder."""

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder

    def __call__(
        self,
        namespace: str,
        name: str,
        uid: str,
        warning: bool,
        reason: str,
        note: str,
        api_version: str = GROUP_API,
    ) -> None:
        ref = ObjectRef(namespace, name, uid, kind="PodGroup", api_version=api_version)
        self._recorder.record(ref, "Warning" if warning else "Normal", reason, "Scheduling", note)


class Podium:
    """One scheduler: cache + queue + core + binder + event and condition writers.

    Two supervisors own every task it runs: the replica's (list+watch, the Python plugins'
    background sources) from ``start_cache`` to ``close``, and the leadership term's (the cycle
    loop, binds, Permit waits, preemptions, events, conditions, PodGroup status) from
    ``start_scheduling`` to ``stop_scheduling``. A task that fails ends its supervisor's tasks
    and ``failed()`` raises it: a replica that stopped scheduling must not keep the lease."""

    def __init__(
        self,
        config: SchedulerConfig,
        api: ApiClient,
        *,
        identity: str | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        may_bind: Callable[[], bool] | None = None,
    ) -> None:
        """``may_bind``: asked right before every bind request (leader election's lease check);
        None binds whenever scheduling runs."""
        podium_args = config.podium
        self.replica = Supervisor("replica", on_failure=self._supervision_failed)
        self.term = Supervisor("leadership term", on_failure=self._supervision_failed)
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        self.config = config
        self.identity = identity or default_identity()
        self.metrics = metrics or Metrics()
        self.tracing = tracing or Tracing(TracingOptions())
        self.queue: SchedulingQueue[_core.PendingPod] = SchedulingQueue(
            initial_backoff=config.pod_initial_backoff_seconds,
            max_backoff=config.pod_max_backoff_seconds,
            unschedulable_timeout=podium_args.unschedulable_timeout,
            group_of=gang_key,
            fair_share=self._fair_share,
        )
        self.cache = Cache(
            api,
            config.scheduler_names,
            self.queue,
            on_group_change=self._group_changed,
            on_bound_pod_error=self._bound_pod_error,
        )
        self.state = self.cache.state
        self.recorder = EventRecorder(api, self.identity, metrics=self.metrics)
        self.gangs = PodGroupStatusWriter(api, self.state, GroupEventWriter(self.recorder))
        self.conditions = ConditionWriter(api)
        # Process-wide, as the Podium args: the first profile's bindTimeoutSeconds.
        self.volume_binder = VolumeBinder(
            api,
            self.state,
            bind_timeout=config.profiles[0].volume_bind_timeout,
            request_timeout=podium_args.bind_timeout,
            may_bind=may_bind,
        )
        self.cache.observers.append(self.volume_binder.observe)
        self.claim_binder = ClaimBinder(
            api, self.state, request_timeout=podium_args.bind_timeout, may_bind=may_bind
        )
        self.cache.observers.append(self.claim_binder.observe)
        self.binder: Binder[_core.PendingPod] = Binder(
            api,
            self.state,
            self.queue,
            self.recorder,
            self.conditions,
            concurrency=podium_args.bind_concurrency,
            retries=podium_args.bind_retries,
            request_timeout=podium_args.bind_timeout,
            supervisor=self.term,
            metrics=self.metrics,
            tracer=self.tracing.tracer,
            node_exists=self.state.has_node,
            may_bind=may_bind,
            on_failed=self._bind_failed,
            volumes=self.volume_binder,
            claims=self.claim_binder,
        )
        profiles = {p.scheduler_name: _core.Profile(p.core_spec()) for p in config.profiles}
        self.plugins = {
            p.scheduler_name: load_plugins(p.scheduler_name, p.python_plugins)
            for p in config.profiles
        }
        self.preemptor = Preemptor(api, self.state, self.recorder, supervisor=self.term)
        self.scheduler = Scheduler(
            state=self.state,
            queue=self.queue,
            binder=self.binder,
            failures=FailureReporter(self.recorder, self.conditions),
            profiles=profiles,
            metrics=self.metrics,
            tracer=self.tracing.tracer,
            options=CycleOptions(
                batch_size=podium_args.batch_size, batch_wait=podium_args.batch_wait
            ),
            plugins=self.plugins,
            gangs=self.gangs,
            preemptor=self.preemptor,
            preempting=frozenset(p.scheduler_name for p in config.profiles if p.preemption),
            reserving=frozenset(
                p.scheduler_name for p in config.profiles if p.podium.reservation.max_node_share > 0
            ),
            supervisor=self.term,
            claims=self.claim_binder,
        )
        self._cycles: asyncio.Task[None] | None = None
        self.metrics.on_scrape(self._refresh_gauges)

    def _fair_share(self) -> _core.FairShare | None:
        """The queue's fair-share order reads the core's quota ledger at each pop."""
        return self.state.fair_share()

    def _supervision_failed(self, failure: BaseException) -> None:
        if self._failure is None:
            self._failure = failure
        self._failed.set()

    async def failed(self) -> None:
        """Returns only by raising what ended a supervisor: a supervised task's failure."""
        await self._failed.wait()
        assert self._failure is not None
        raise self._failure

    def _group_changed(self, key: tuple[str, str]) -> None:
        self.gangs.changed(key)

    def _bound_pod_error(self, namespace: str, name: str, uid: str, message: str) -> None:
        # The leader tells the pod's owner; a follower's cache keeps it for when it leads.
        if self.term.running:
            ref = ObjectRef(namespace=namespace, name=name, uid=uid)
            self.recorder.record(ref, "Warning", MALFORMED, "Scheduling", message)

    def _bind_failed(self, pod: _core.PendingPod, node: str) -> None:
        key = gang_key(pod)
        if key is not None:
            self.gangs.bind_failed(key, pod.name, f"binding to node {node} failed")

    async def start_cache(self) -> None:
        """Start list+watch (followers do this too, so a failover starts with a warm cache),
        and the Python plugins' background sources (warm for the same reason)."""
        if not self.replica.running:
            await self.replica.start()
            self.replica.spawn(self.cache.run(), name="podium-cache")
            for name, plugins in self.plugins.items():
                self.replica.spawn(plugins.run(), name=f"plugins {name}")
        await self.cache.wait_synced()

    async def start_scheduling(self) -> None:
        await self.start_cache()
        if not self.term.running:
            await self.term.start()
            self.binder.resume()
            # Only the leader writes: events, conditions, PodGroup status.
            self.recorder.start(self.term)
            self.conditions.start(self.term)
            self.gangs.start(self.term)
            self._cycles = self.term.spawn(self.scheduler.run(), name="podium-cycles")
            for uid, (namespace, name, message) in list(self.cache.bound_pod_errors.items()):
                self._bound_pod_error(namespace, name, uid, message)
            log.info(
                "scheduling as %s: %d nodes, %d pods cached",
                self.identity,
                self.state.node_count,
                self.state.pod_count,
            )

    async def stop_scheduling(self, *, flush_events: bool = False) -> None:
        """Stop deciding and binding at once (leadership lost); assumed pods are forgotten.
        ``flush_events``: write the buffered events first (shutting down, not stepping down:
        a replica that lost its lease must not hold up the handover)."""
        if self._cycles is not None:
            # The cycle loop first, then the binds: nothing new is handed to a stopped binder.
            self._cycles.cancel()
            await asyncio.wait([self._cycles])
            self._cycles = None
        await self.binder.stop()
        await self.preemptor.stop()
        await self.gangs.stop()
        await self.conditions.stop()
        await self.recorder.stop(flush_timeout=5.0 if flush_events else 0.0)
        # Whatever is left of the term (Permit waits) is cancelled and awaited here.
        await self.term.stop()

    async def close(self) -> None:
        await self.stop_scheduling(flush_events=True)
        await self.replica.stop()
        self.tracing.shutdown()

    async def __aenter__(self) -> Podium:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _refresh_gauges(self) -> None:
        """Gauges of state that changes outside scheduling cycles, read at each scrape."""
        self.metrics.cache_objects.labels(kind="node").set(self.state.node_count)
        self.metrics.cache_objects.labels(kind="pod").set(self.state.pod_count)
        self.metrics.set_pending(self.queue.pending_counts())
        quotas = self.state.quotas()
        # The queue counts its pods per namespace as they come and go: no walk over them here.
        pending = self.queue.pending_by_namespace() if quotas else {}
        publish_quotas(self.metrics, quota_rows(quotas, pending))


def live_explainer(
    api: ApiClient,
    state: _core.ClusterState,
    config: SchedulerConfig,
    plugins: Mapping[str, PluginSet] | None = None,
) -> DebugExplain:
    """The health server's ``/debug/explain`` handler over this replica's cache."""
    import orjson

    from podium.explain import ExplainError, PodNotFound, Target, explain_live

    async def answer(namespace: str, name: str, top: int) -> tuple[int, bytes]:
        try:
            target = Target(namespace, name)
            result = await explain_live(api, state, config, target, top, plugins)
        except ExplainError as err:
            status = 404 if isinstance(err, PodNotFound) else 422
            return status, orjson.dumps({"error": str(err)})
        return 200, result.to_json()

    return answer


@dataclass(frozen=True)
class RunOptions:
    kubeconfig: Path | None = None
    listen: str | None = None
    tracing: TracingOptions = field(default_factory=TracingOptions)  # see .resolve
    identity: str | None = None


async def serve(config: SchedulerConfig, options: RunOptions) -> None:
    """``run_scheduler`` until SIGTERM or SIGINT, then a graceful stop: binding stops, the lease
    is released (a follower takes over at once, not after leaseDuration), caches close."""
    loop = asyncio.get_running_loop()
    main = asyncio.create_task(run_scheduler(config, options), name="podium")
    received: list[str] = []

    def stop(signum: signal.Signals) -> None:
        received.append(signum.name)
        main.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    try:
        await main
    except asyncio.CancelledError:
        if not received:
            raise
        log.info("%s received; stopped", received[0])
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def run_scheduler(config: SchedulerConfig, options: RunOptions) -> None:
    """Run one replica until cancelled: endpoints, cache, and scheduling while leader."""
    from podium.leader import LeaderElector

    api = await api_client(options.kubeconfig, config.qps, config.burst)
    identity = options.identity or default_identity()
    metrics = Metrics()
    tracing = Tracing(dataclasses.replace(options.tracing, instance=identity))
    health_state = HealthState()
    election = config.leader_election
    election_api: ApiClient | None = None
    elector: LeaderElector | None = None
    if election.leader_elect:
        # The lease has a client of its own, as kube-scheduler's: renewals never queue behind
        # binds for a rate-limit token or a pooled connection.
        election_api = await api_client(options.kubeconfig, config.qps, config.burst)
        elector = LeaderElector(
            election_api,
            name=election.resource_name,
            namespace=election.resource_namespace,
            identity=identity,
            lease_duration=election.lease_duration,
            renew_deadline=election.renew_deadline,
            retry_period=election.retry_period,
        )
    podium = Podium(
        config,
        api,
        identity=identity,
        metrics=metrics,
        tracing=tracing,
        may_bind=None if elector is None else elector.holds_lease,
    )
    health = HealthServer(
        metrics,
        health_state,
        options.listen or config.podium.health_bind_address,
        debug_explain=live_explainer(api, podium.state, config, podium.plugins),
    )
    await health.start()
    try:
        await podium.start_cache()
        health_state.synced = True
        if elector is None:
            health_state.leader = True
            metrics.is_leader.set(1)
            await podium.start_scheduling()
            await podium.failed()
            return

        async def started() -> None:
            health_state.leader = True
            metrics.is_leader.set(1)
            await podium.start_scheduling()

        async def stopped() -> None:
            await podium.stop_scheduling()
            health_state.leader = False
            metrics.is_leader.set(0)

        # A supervised task's failure ends the election too: the lease is released and the
        # process exits, so the standby takes over instead of a leader that schedules nothing.
        async with asyncio.TaskGroup() as group:
            group.create_task(elector.run(started, stopped), name="leader election")
            group.create_task(podium.failed(), name="supervision")
    finally:
        await podium.close()
        await health.stop()
        await api.close()
        if election_api is not None:
            await election_api.close()
