"""Prometheus metrics, named like kube-scheduler's where the two overlap.

Every metric lives in a ``Metrics`` object with its own ``CollectorRegistry`` rather than the
process-wide default, so two schedulers (or two tests) in one process never share counters.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# kube-scheduler's buckets: exponential from 1 ms, doubling, 15 buckets (~16 s).
_LATENCY_BUCKETS = tuple(0.001 * 2**i for i in range(15))
# Extension points are much faster than a whole attempt: from 0.1 ms, doubling, 12 buckets.
_EXTENSION_POINT_BUCKETS = tuple(0.0001 * 2**i for i in range(12))
# The SLI spans queueing and retries, so it reaches further: from 10 ms, x1.5, 20 buckets.
_SLI_BUCKETS = tuple(0.01 * 1.5**i for i in range(20))
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)

QUEUES = ("active", "backoff", "unschedulable")


class Metrics:
    """All of podium's metrics, registered in ``self.registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry

        self.schedule_attempts = Counter(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod "
            "could not be scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"],
            registry=r,
        )
        self.scheduling_attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding).",
            ["result", "profile"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.pending_pods = Gauge(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type.",
            ["queue"],
            registry=r,
        )
        self.pod_scheduling_sli_duration = Histogram(
            "scheduler_pod_scheduling_sli_duration_seconds",
            "E2e latency for a pod being scheduled, from the time the pod enters the scheduling "
            "queue, and might involve multiple scheduling attempts.",
            ["attempts"],
            buckets=_SLI_BUCKETS,
            registry=r,
        )
        self.pod_scheduling_attempts = Histogram(
            "scheduler_pod_scheduling_attempts",
            "Number of attempts to successfully schedule a pod.",
            buckets=(1, 2, 4, 8, 16),
            registry=r,
        )
        self.framework_extension_point_duration = Histogram(
            "scheduler_framework_extension_point_duration_seconds",
            "Latency for running all plugins of a specific extension point.",
            ["extension_point", "status", "profile"],
            buckets=_EXTENSION_POINT_BUCKETS,
            registry=r,
        )

        self.bind_retries = Counter(
            "podium_bind_retries",
            "Binding requests retried after a transient failure (5xx, 429, timeout, connection).",
            registry=r,
        )
        self.bind_duration = Histogram(
            "podium_bind_duration_seconds",
            "Time from submitting a bind to its final outcome, retries included.",
            ["result"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.reused_decisions = Counter(
            "podium_reused_decisions",
            "Decisions taken from what an earlier pod of the same shape left in the batch "
            "(opportunistic batching), by result.",
            ["result", "profile"],
            registry=r,
        )
        self.batch_size = Histogram(
            "podium_batch_size",
            "Pods handed to the core in one scheduling cycle.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.cache_objects = Gauge(
            "podium_cache_objects",
            "Objects held in the cluster cache, by kind.",
            ["kind"],
            registry=r,
        )
        self.events_dropped = Counter(
            "podium_events_dropped",
            "Events not written because the recorder's buffer was full or the write failed.",
            registry=r,
        )
        self.watch_relists = Counter(
            "podium_watch_relists",
            "Full relists of a watched kind (start-up, 410 Gone, broken stream).",
            ["kind"],
            registry=r,
        )
        quota_labels = ["namespace", "elasticquota", "resource"]
        self.quota_min = Gauge(
            "podium_elastic_quota_min",
            "An ElasticQuota's guaranteed amount (cpu in cores, memory in bytes).",
            quota_labels,
            registry=r,
        )
        self.quota_max = Gauge(
            "podium_elastic_quota_max",
            "An ElasticQuota's upper limit (cpu in cores, memory in bytes).",
            quota_labels,
            registry=r,
        )
        self.quota_used = Gauge(
            "podium_elastic_quota_used",
            "What the bound and assumed pods of the quota's namespace and of its descendants' "
            "request.",
            quota_labels,
            registry=r,
        )
        self.quota_borrowed = Gauge(
            "podium_elastic_quota_borrowed",
            "Used beyond the quota's min: borrowed from what other quotas leave unused.",
            quota_labels,
            registry=r,
        )
        self.quota_lent = Gauge(
            "podium_elastic_quota_lent",
            "The quota's min left unused: what other quotas may borrow.",
            quota_labels,
            registry=r,
        )
        self.quota_pending_pods = Gauge(
            "podium_elastic_quota_pending_pods",
            "Pods of the quota's namespace waiting to be scheduled.",
            ["namespace", "elasticquota"],
            registry=r,
        )
        self.quota_info = Gauge(
            "podium_elastic_quota_info",
            "1 per ElasticQuota; parent: the namespace of its parent's quota (podium.dev/parent), "
            "empty for a root.",
            ["namespace", "elasticquota", "parent"],
            registry=r,
        )
        self.quota_weight = Gauge(
            "podium_elastic_quota_weight",
            "An ElasticQuota's weight in sharing idle capacity (podium.dev/weight).",
            ["namespace", "elasticquota"],
            registry=r,
        )
        self.quota_share = Gauge(
            "podium_elastic_quota_fair_share_key",
            "Its dominant share of the cluster beyond its min, divided by its weight: the "
            "fair-share order serves the lowest first.",
            ["namespace", "elasticquota"],
            registry=r,
        )
        self.is_leader = Gauge(
            "podium_is_leader",
            "1 while this replica holds the leader lease, else 0.",
            registry=r,
        )
        for queue in QUEUES:
            self.pending_pods.labels(queue=queue).set(0)
        self.is_leader.set(0)
        self._refreshers: list[Callable[[], None]] = []

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Call ``refresh`` before every exposition: gauges of state that changes anywhere (the
        queue, the cache) are read when asked for, not updated on every change."""
        self._refreshers.append(refresh)

    def set_pending(self, counts: dict[str, int]) -> None:
        """Publish ``SchedulingQueue.pending_counts()``."""
        for queue, count in counts.items():
            self.pending_pods.labels(queue=queue).set(count)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        for refresh in self._refreshers:
            refresh()
        return generate_latest(self.registry)
