"""What `podium quotas` and the quota metrics derive from the core's quota usage."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from rich.console import Console

from podium.metrics import Metrics
from podium.quota_view import publish, quota_rows, tree_order
from podium.quotas_cli import render, to_json


@dataclass
class _Usage:
    namespace: str
    name: str
    min: dict[str, int]
    max: dict[str, int]
    used: dict[str, int] = field(default_factory=dict)
    parent: str | None = None
    weight: float = 1.0
    share: float = 0.0
    error: str | None = None


def test_borrowed_and_lent_per_resource_and_pending_per_namespace() -> None:
    usages = [
        _Usage("a", "q", {"nvidia.com/gpu": 16}, {"nvidia.com/gpu": 32}, {"nvidia.com/gpu": 20}),
        _Usage("b", "q", {"cpu": 8000}, {}, {"cpu": 2500}),
    ]
    rows = quota_rows(usages, {"a": 2, "c": 1})
    (gpu,) = rows[0].resources
    assert (gpu.borrowed, gpu.lent, rows[0].pending_pods) == (4, 0, 2)
    (cpu,) = rows[1].resources
    assert (cpu.borrowed, cpu.lent, cpu.max, rows[1].pending_pods) == (0, 5500, None, 0)

    metrics = Metrics(CollectorRegistry())
    publish(metrics, rows)
    text = metrics.exposition().decode()
    assert 'podium_elastic_quota_lent{elasticquota="q",namespace="b",resource="cpu"} 5.5' in text
    gpu_labels = 'elasticquota="q",namespace="a",resource="nvidia.com/gpu"'
    assert f"podium_elastic_quota_borrowed{{{gpu_labels}}} 4.0" in text
    # A quota gone disappears from the next scrape.
    publish(metrics, rows[:1])
    assert 'namespace="b"' not in metrics.exposition().decode()

    console = Console(record=True, width=120)
    render(console, rows)
    table = console.export_text()
    assert "a/q" in table and "2500m" in table and "5500m" in table


def test_the_tree_prints_departments_above_their_teams_with_parent_metrics() -> None:
    gpu = "nvidia.com/gpu"
    usages = [
        _Usage("team-b", "q", {gpu: 8}, {gpu: 32}, {gpu: 2}, parent="dept", share=-0.1),
        _Usage("dept", "q", {gpu: 16}, {}, {gpu: 14}),
        _Usage("team-a", "q", {gpu: 8}, {gpu: 32}, {gpu: 12}, parent="dept", weight=2),
        _Usage("lost", "q", {gpu: 1}, {}, {}, error="ElasticQuota lost/q: bad parent"),
    ]
    rows = quota_rows(usages, {"team-a": 3})
    assert [(depth, row.namespace) for depth, row in tree_order(rows)] == [
        (0, "dept"),
        (1, "team-a"),
        (1, "team-b"),
        (0, "lost"),
    ]
    assert [r["namespace"] for r in to_json(rows)] == ["dept", "team-a", "team-b", "lost"]
    console = Console(record=True, width=160)
    render(console, rows)
    table = console.export_text()
    assert "└─ team-a/q" in table and "ElasticQuota lost/q: bad parent" in table
    metrics = Metrics(CollectorRegistry())
    publish(metrics, rows)
    text = metrics.exposition().decode()
    assert (
        'podium_elastic_quota_info{elasticquota="q",namespace="team-a",parent="dept"} 1.0' in text
    )
    assert 'podium_elastic_quota_info{elasticquota="q",namespace="dept",parent=""} 1.0' in text
    assert 'podium_elastic_quota_weight{elasticquota="q",namespace="team-a"} 2.0' in text
