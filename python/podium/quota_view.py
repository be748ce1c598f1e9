"""Quotas as operators read them: each ElasticQuota's min, max and use per resource (its
subtree's, with ``podium.dev/parent``), what it borrows and lends, its parent, weight and
fair-share key, and its pending pods; published as metrics at each scrape and printed by
``podium quotas`` as the tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from podium.metrics import Metrics

__all__ = ["QuotaRow", "ResourceUse", "amount", "publish", "quota_path", "quota_rows", "tree_order"]


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
    @property
    def parent(self) -> str | None: ...
    @property
    def weight(self) -> float: ...
    @property
    def share(self) -> float: ...
    @property
    def error(self) -> str | None: ...


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
    # The namespace of its parent's ElasticQuota; None for a root.
    parent: str | None = None
    weight: float = 1.0
    # Weighted dominant share beyond its guarantee (the fair-share order serves lower first).
    share: float = 0.0
    error: str | None = None


def quota_rows(quotas: Iterable[QuotaUsageLike], pending: Mapping[str, int]) -> list[QuotaRow]:
    """Each quota with its resources and the pending pods of its namespace (``pending``: pods
    waiting per namespace, as the scheduling queue counts them)."""
    return [
        QuotaRow(
            namespace=q.namespace,
            name=q.name,
            resources=tuple(
                ResourceUse(r, used, q.min.get(r), q.max.get(r)) for r, used in q.used.items()
            ),
            pending_pods=pending.get(q.namespace, 0),
            parent=q.parent,
            weight=q.weight,
            share=q.share,
            error=q.error,
        )
        for q in quotas
    ]


def tree_order(rows: Sequence[QuotaRow]) -> list[tuple[int, QuotaRow]]:
    """The rows depth first from the roots (children by namespace), each with its depth."""
    children: dict[str | None, list[QuotaRow]] = {}
    known = {r.namespace for r in rows}
    for row in rows:
        parent = row.parent if row.parent in known else None
        children.setdefault(parent, []).append(row)
    out: list[tuple[int, QuotaRow]] = []

    def walk(parent: str | None, depth: int) -> None:
        for row in sorted(children.get(parent, ()), key=lambda r: (r.namespace, r.name)):
            out.append((depth, row))
            walk(row.namespace, depth + 1)

    walk(None, 0)
    return out


def amount(resource: str, value: int | None) -> str:
    """An amount as a quantity: cpu in cores or millicores, memory in Gi when whole."""
    if value is None:
        return "-"
    if resource == "cpu":
        return f"{value // 1000}" if value % 1000 == 0 else f"{value}m"
    if resource == "memory" and value and value % (1 << 30) == 0:
        return f"{value >> 30}Gi"
    return str(value)


def quota_path(quotas: Iterable[QuotaUsageLike], namespace: str) -> list[str]:
    """The quota of ``namespace`` and its ancestors', nearest first, one line each: use, min
    and max per resource, weight and fair-share key (``podium explain``'s quota view)."""
    by_namespace = {q.namespace: q for q in quotas}
    lines: list[str] = []
    at: str | None = namespace
    while at is not None and at in by_namespace and len(lines) < len(by_namespace):
        q = by_namespace[at]
        uses = ", ".join(
            f"{r} {amount(r, used)} used (min {amount(r, q.min.get(r))}, "
            f"max {amount(r, q.max.get(r))})"
            for r, used in q.used.items()
        )
        line = f"{q.namespace}/{q.name}: {uses or 'no resources'}; weight {q.weight:g}, "
        line += f"fair-share key {q.share:.3f}"
        lines.append(f"{line}; {q.error}" if q.error else line)
        at = q.parent
    return lines


def publish(metrics: Metrics, rows: Sequence[QuotaRow]) -> None:
    """Sets the per-quota gauges to ``rows`` (quotas gone since the last scrape disappear)."""
    gauges = (
        metrics.quota_min,
        metrics.quota_max,
        metrics.quota_used,
        metrics.quota_borrowed,
        metrics.quota_lent,
        metrics.quota_pending_pods,
        metrics.quota_info,
        metrics.quota_weight,
        metrics.quota_share,
    )
    for gauge in gauges:
        gauge.clear()
    for row in rows:
        quota = {"namespace": row.namespace, "elasticquota": row.name}
        metrics.quota_pending_pods.labels(**quota).set(row.pending_pods)
        # The tree as kube-state-metrics shows relations: one info series per quota naming its
        # parent, joined on (namespace, elasticquota), so a move in the tree renames no series.
        metrics.quota_info.labels(**quota, parent=row.parent or "").set(1)
        metrics.quota_weight.labels(**quota).set(row.weight)
        metrics.quota_share.labels(**quota).set(row.share)
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
