"""Metrics: kube-scheduler's names, an isolated registry per Metrics object."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from podium.metrics import Metrics


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_kube_scheduler_names_are_exposed() -> None:
    m = Metrics()
    m.schedule_attempts.labels(result="scheduled", profile="podium").inc()
    m.scheduling_attempt_duration.labels(result="scheduled", profile="podium").observe(0.01)
    m.pod_scheduling_sli_duration.labels(attempts="1").observe(0.5)
    m.framework_extension_point_duration.labels(
        extension_point="Filter", status="Success", profile="podium"
    ).observe(0.001)
    names = {name for name, _ in _samples(m)}
    for expected in (
        "scheduler_schedule_attempts_total",
        "scheduler_scheduling_attempt_duration_seconds_count",
        "scheduler_pending_pods",
        "scheduler_pod_scheduling_sli_duration_seconds_count",
        "scheduler_framework_extension_point_duration_seconds_count",
        "podium_bind_retries_total",
        "podium_events_dropped_total",
        "podium_is_leader",
    ):
        assert expected in names, expected


def test_set_pending_publishes_each_queue() -> None:
    m = Metrics()
    m.set_pending({"active": 3, "backoff": 2, "unschedulable": 7})
    samples = _samples(m)
    for queue, count in (("active", 3), ("backoff", 2), ("unschedulable", 7)):
        assert samples[("scheduler_pending_pods", frozenset({("queue", queue)}))] == count


def test_registries_are_isolated() -> None:
    a, b = Metrics(), Metrics()
    a.bind_retries.inc(5)
    assert _samples(a)[("podium_bind_retries_total", frozenset())] == 5
    assert _samples(b)[("podium_bind_retries_total", frozenset())] == 0


def test_gauges_are_refreshed_at_each_scrape() -> None:
    m = Metrics()
    pending = {"active": 0, "backoff": 0, "unschedulable": 0}
    m.on_scrape(lambda: m.set_pending(pending))
    pending["active"] = 7
    assert _samples(m)[("scheduler_pending_pods", frozenset({("queue", "active")}))] == 7
    pending["active"] = 2
    assert _samples(m)[("scheduler_pending_pods", frozenset({("queue", "active")}))] == 2
