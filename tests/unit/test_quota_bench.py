"""The quota workload of `podium bench core`: plain's pods under 50 quotas that admit them all."""

from __future__ import annotations

import orjson

from podium._core import ClusterState, Kind
from podium.benchmarks.quota_workloads import QUOTA_WORKLOAD, QUOTAS, quota_objects
from podium.benchmarks.synthetic import ClusterShape, list_pages, pending_records, plan_cluster


def test_the_quota_workload_is_plains_pods_under_fifty_quotas() -> None:
    cluster = plan_cluster(ClusterShape(nodes=20, pods_per_node=2, seed=3))
    plain = pending_records(cluster, "plain", 50)
    quota = pending_records(cluster, QUOTA_WORKLOAD, 50)
    assert [(r.namespace, r.cpu_millis, r.memory_mi) for r in plain] == [
        (r.namespace, r.cpu_millis, r.memory_mi) for r in quota
    ]
    state = ClusterState(["podium"])
    (page,) = list_pages("ElasticQuota", quota_objects(), page_size=100)
    listed = state.apply_list(Kind.ELASTIC_QUOTA, page)
    assert not listed.errors, listed.errors
    quotas = state.quotas()
    assert len(quotas) == QUOTAS
    namespaces = {q.namespace for q in quotas}
    assert {r.namespace for r in plain} <= namespaces, "every pod's namespace has a quota"
    team = next(q for q in quotas if q.namespace == plain[0].namespace)
    assert team.min["cpu"] == 10_000 and team.max["cpu"] == 10_000_000_000
    assert orjson.loads(page)["kind"] == "ElasticQuotaList"
