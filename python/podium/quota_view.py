"""Quotas as operators read them: each ElasticQuota's min, max and use per resource, what it
borrows and lends, and its pending pods; published as metrics at each scrape and printed by
``podium quotas``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from podium.metrics import Metrics

__all__ = ["QuotaRow", "ResourceUse", "publish", "quota_rows"]


class QuotaUsageLike(Protocol):
    """``podium._core.QuotaUsage``."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def min(self) -> dict[str, int]: ...
    @property
    def max(self) -> dict[str, int]: ...
    @property
    def used(self) -> dict[str, int]: ...


class PendingLike(Protocol):
    @property
    def namespace(self) -> str: ...


@dataclass(frozen=True)
class ResourceUse:
    """One resource of a quota, in its base unit (cpu in millicores). ``min``/``max`` are None
    when the quota does not name the resource there."""

    resource: str
    used: int
    min: int | None
    max: int | None

    @property
    def borrowed(self) -> int:
        """Used beyond the guaranteed ``min`` (taken from what other quotas leave unused)."""
        return max(0, self.used - self.min) if self.min is not None else 0

    @property
    def lent(self) -> int:
        """Guaranteed but unused: what other quotas may borrow."""
        return max(0, self.min - self.used) if self.min is not None else 0


@dataclass(frozen=True)
class QuotaRow:
    namespace: str
    name: str
    resources: tuple[ResourceUse, ...]
    pending_pods: int


def quota_rows(quotas: Iterable[QuotaUsageLike], pending: Iterable[PendingLike]) -> list[QuotaRow]:
    """Each quota with its resources and the pending pods of its namespace."""
    waiting = Counter(p.namespace for p in pending)
    return [
        QuotaRow(
            namespace=q.namespace,
            name=q.name,
            resources=tuple(
                ResourceUse(r, used, q.min.get(r), q.max.get(r)) for r, used in q.used.items()
            ),
            pending_pods=waiting.get(q.namespace, 0),
        )
        for q in quotas
    ]


def publish(metrics: Metrics, rows: Sequence[QuotaRow]) -> None:
    """Sets the per-quota gauges to ``rows`` (quotas gone since the last scrape disappear)."""
    gauges = (
        metrics.quota_min,
        metrics.quota_max,
        metrics.quota_used,
        metrics.quota_borrowed,
        metrics.quota_lent,
        metrics.quota_pending_pods,
    )
    for gauge in gauges:
        gauge.clear()
    for row in rows:
        metrics.quota_pending_pods.labels(namespace=row.namespace, elasticquota=row.name).set(
            row.pending_pods
        )
        for r in row.resources:
            labels = {"namespace": row.namespace, "elasticquota": row.name, "resource": r.resource}
            metrics.quota_used.labels(**labels).set(_unit(r.resource, r.used))
            metrics.quota_borrowed.labels(**labels).set(_unit(r.resource, r.borrowed))
            metrics.quota_lent.labels(**labels).set(_unit(r.resource, r.lent))
            if r.min is not None:
                metrics.quota_min.labels(**labels).set(_unit(r.resource, r.min))
            if r.max is not None:
                metrics.quota_max.labels(**labels).set(_unit(r.resource, r.max))


def _unit(resource: str, value: int) -> float:
    """Prometheus base units, as kube-state-metrics: cpu in cores."""
    return value / 1000 if resource == "cpu" else float(value)
