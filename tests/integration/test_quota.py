"""CapacityScheduling on the real apiserver: scheduler-plugins' ElasticQuota (podium's
deploy/crds) limits what a namespace's pods use. A team at its max stays pending with the quota
named in its FailedScheduling message (and in the scraped metrics and `podium quotas`), and is
admitted again when one of its pods goes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.quota_view import quota_rows
from podium.quotas_cli import to_json
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.crds import delete_elastic_quotas
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.terminator import Terminator
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(180)

WAIT_SECONDS = 60
QUOTAS_PATH = "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/{}/elasticquotas"


def _quota(namespace: str, min_gpus: int, max_gpus: int) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.x-k8s.io/v1alpha1",
        "kind": "ElasticQuota",
        "metadata": {"name": "gpus", "namespace": namespace},
        "spec": {"min": {"nvidia.com/gpu": min_gpus}, "max": {"nvidia.com/gpu": max_gpus}},
    }


async def test_a_team_at_its_max_waits_with_the_quota_reason(
    api: ApiClient, namespace: str, node_labels: dict[str, str], crds: list[str]
) -> None:
    assert "elasticquotas.scheduling.x-k8s.io" in crds
    nodes = [f"quota-{node_labels[next(iter(node_labels))]}-{i}" for i in range(2)]
    await create_nodes(api, [make_node(n, gpus=8, labels=node_labels) for n in nodes])
    await request_bytes(
        api, "POST", QUOTAS_PATH.format(namespace), body=_quota(namespace, min_gpus=4, max_gpus=4)
    )
    pods_path = f"/api/v1/namespaces/{namespace}/pods"
    events_path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"

    async def listed(path: str) -> dict[str, dict[str, Any]]:
        items = orjson.loads(await request_bytes(api, "GET", path))["items"]
        return {o["metadata"]["name"]: o for o in items}

    async with Podium(default_config(), api, identity="quota-test") as podium:
        await podium.start_scheduling()
        for i in range(6):
            body = make_pod(
                f"train-{i}",
                namespace,
                scheduler_name="podium",
                requests={"nvidia.com/gpu": "1"},
                limits={"nvidia.com/gpu": "1"},
                node_selector=node_labels,
            )
            await request_bytes(api, "POST", pods_path, body=body)
        reason = f"quota {namespace}/gpus: would exceed max nvidia.com/gpu (4/4 used, 1 requested)"

        async def four_bound_two_refused() -> bool:
            pods = await listed(pods_path)
            events = await listed(events_path)
            waiting = {n for n, p in pods.items() if not p["spec"].get("nodeName")}
            told = {
                e["regarding"]["name"]
                for e in events.values()
                if e["reason"] == "FailedScheduling" and reason in e["note"]
            }
            return len(pods) - len(waiting) == 4 and len(waiting) == 2 and waiting <= told

        await until(four_bound_two_refused, "4 pods bound, 2 refused by the quota", WAIT_SECONDS)
        # What operators see: the metrics scraped, and `podium quotas`.
        scraped = podium.metrics.exposition().decode()
        labels = f'elasticquota="gpus",namespace="{namespace}",resource="nvidia.com/gpu"'
        for metric, value in (("used", 4), ("min", 4), ("max", 4), ("borrowed", 0), ("lent", 0)):
            assert f"podium_elastic_quota_{metric}{{{labels}}} {value}.0" in scraped, metric
        pending = (
            f'podium_elastic_quota_pending_pods{{elasticquota="gpus",namespace="{namespace}"}}'
        )
        assert f"{pending} 2.0" in scraped
        rows = to_json(quota_rows(podium.state.quotas(), podium.queue.pending_by_namespace()))
        (row,) = (r for r in rows if r["namespace"] == namespace)
        assert row["pendingPods"] == 2
        assert row["resources"]["nvidia.com/gpu"] == {
            "used": 4,
            "min": 4,
            "max": 4,
            "borrowed": 0,
            "lent": 0,
        }
        pods = await listed(pods_path)
        bound = sorted(n for n, p in pods.items() if p["spec"].get("nodeName"))
        await request_bytes(
            api, "DELETE", f"{pods_path}/{bound[0]}", query={"gracePeriodSeconds": 0}
        )

        async def five_bound() -> bool:
            pods = await listed(pods_path)
            return (
                sum(1 for p in pods.values() if p["spec"].get("nodeName")) == 4 and len(pods) == 5
            )

        # One of the two waiting takes the freed share; the other still waits.
        await until(five_bound, "a waiting pod bound once a bound one is gone", WAIT_SECONDS)
        pods = await listed(pods_path)
        assert sum(1 for p in pods.values() if not p["spec"].get("nodeName")) == 1


async def test_a_team_within_its_min_reclaims_what_another_borrowed(
    api: ApiClient, namespace: str, node_labels: dict[str, str], crds: list[str]
) -> None:
    """Two teams of min 4 / max 8 GPUs on 8 GPUs. Team A runs 8 (4 borrowed); team B submits 4
    pods of A's priority: reclaim evicts exactly 4 of A's pods, B's bind, A keeps its min."""
    team_a, team_b = namespace, f"{namespace}-b"
    await request_bytes(
        api,
        "POST",
        "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": team_b}},
    )
    try:
        nodes = [f"reclaim-{node_labels[next(iter(node_labels))]}-{i}" for i in range(2)]
        await create_nodes(api, [make_node(n, gpus=4, labels=node_labels) for n in nodes])
        for team in (team_a, team_b):
            await request_bytes(
                api, "POST", QUOTAS_PATH.format(team), body=_quota(team, min_gpus=4, max_gpus=8)
            )

        def gpu_pod(name: str, team: str, node: str | None = None) -> dict[str, Any]:
            return make_pod(
                name,
                team,
                scheduler_name="podium",
                requests={"nvidia.com/gpu": "1"},
                limits={"nvidia.com/gpu": "1"},
                node_selector=node_labels,
                node_name=node,
            )

        for i in range(8):
            body = gpu_pod(f"a-{i}", team_a, nodes[i % 2])
            await request_bytes(api, "POST", f"/api/v1/namespaces/{team_a}/pods", body=body)

        async def listed(team: str) -> dict[str, dict[str, Any]]:
            path = f"/api/v1/namespaces/{team}/pods"
            items = orjson.loads(await request_bytes(api, "GET", path))["items"]
            return {p["metadata"]["name"]: p for p in items}

        async with (
            Terminator(api, team_a),
            Podium(default_config(), api, identity="reclaim-test") as podium,
        ):
            await podium.start_scheduling()
            for i in range(4):
                body = gpu_pod(f"b-{i}", team_b)
                await request_bytes(api, "POST", f"/api/v1/namespaces/{team_b}/pods", body=body)

            async def reclaimed() -> bool:
                b = await listed(team_b)
                return sum(1 for p in b.values() if p["spec"].get("nodeName")) == 4

            await until(reclaimed, "team B's 4 pods bound after reclaim", WAIT_SECONDS)
            a = await listed(team_a)
            assert len(a) == 4, sorted(a)  # exactly the 4 borrowed were evicted
    finally:
        await request_bytes(
            api,
            "DELETE",
            f"/api/v1/namespaces/{team_b}/pods",
            query={"gracePeriodSeconds": 0},
        )
        await delete_elastic_quotas(api, team_b)
        await request_bytes(api, "DELETE", f"/api/v1/namespaces/{team_b}")
