"""`podium bench queue` at a small size: both orders pop every pod."""

from __future__ import annotations

from podium.benchmarks.queue_bench import run_queue_bench


def test_both_orders_pop_every_pod() -> None:
    figures = run_queue_bench(pending=200, namespaces=7, batch=16, nodes=4, rounds=1)
    assert [f.order for f in figures] == ["kube", "fair"]
    assert all(f.pods_per_second > 0 and f.pending == 200 for f in figures)
