"""Reclaim and the quotas' tree on the real apiserver, at the issue's size: two teams of min 16
GPUs on 32, one borrowing all of them, the other taking back its 16 (exactly the borrowed pods
go, lowest priority and whole gangs, nothing within the borrower's min), and a team at its max
waiting with the quota's reason; then two departments (``podium.dev/parent``) whose teams
borrow from each other before from the other department, and take back from each other only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.crds import delete_elastic_quotas
from podium.testing.nodes import create_nodes, make_node
from podium.testing.podgroups import POD_GROUP_LABEL, create_pod_group, make_pod_group
from podium.testing.pods import make_pod, make_priority_class
from podium.testing.terminator import Terminator
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(300)

WAIT_SECONDS = 90
GPU = "nvidia.com/gpu"


def _quota(
    namespace: str, min_gpus: int, max_gpus: int | None = None, parent: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"min": {GPU: min_gpus}}
    if max_gpus is not None:
        spec["max"] = {GPU: max_gpus}
    metadata: dict[str, Any] = {"name": "gpus", "namespace": namespace}
    if parent is not None:
        metadata["annotations"] = {"podium.dev/parent": parent}
    return {
        "apiVersion": "scheduling.x-k8s.io/v1alpha1",
        "kind": "ElasticQuota",
        "metadata": metadata,
        "spec": spec,
    }


async def _create_quota(api: ApiClient, body: dict[str, Any]) -> None:
    ns = body["metadata"]["namespace"]
    path = f"/apis/scheduling.x-k8s.io/v1alpha1/namespaces/{ns}/elasticquotas"
    await request_bytes(api, "POST", path, body=body)


@contextlib.asynccontextmanager
async def _namespaces(api: ApiClient, names: Sequence[str]) -> AsyncIterator[None]:
    for name in names:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await request_bytes(api, "POST", "/api/v1/namespaces", body=body)
    try:
        yield
    finally:
        for name in names:
            await request_bytes(
                api,
                "DELETE",
                f"/api/v1/namespaces/{name}/pods",
                query={"gracePeriodSeconds": 0},
            )
            await delete_elastic_quotas(api, name)
            await request_bytes(api, "DELETE", f"/api/v1/namespaces/{name}")


async def _pods(api: ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    path = f"/api/v1/namespaces/{namespace}/pods"
    items = orjson.loads(await request_bytes(api, "GET", path))["items"]
    return {p["metadata"]["name"]: p for p in items if "deletionTimestamp" not in p["metadata"]}


async def _bound(api: ApiClient, namespace: str) -> set[str]:
    return {n for n, p in (await _pods(api, namespace)).items() if p["spec"].get("nodeName")}


async def _told(api: ApiClient, namespace: str, reason: str) -> set[str]:
    """The pods told ``reason`` in a FailedScheduling event."""
    path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    events = orjson.loads(await request_bytes(api, "GET", path))["items"]
    return {
        e["regarding"]["name"]
        for e in events
        if e["reason"] == "FailedScheduling" and reason in e.get("note", "")
    }


def _gpu_pod(
    name: str,
    namespace: str,
    labels: dict[str, str],
    priority_class: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    return make_pod(
        name,
        namespace,
        scheduler_name="podium",
        requests={GPU: "1"},
        limits={GPU: "1"},
        node_selector=labels,
        priority_class_name=priority_class,
        labels={POD_GROUP_LABEL: group} if group else None,
    )


async def _submit(api: ApiClient, pods: Sequence[dict[str, Any]]) -> None:
    for body in pods:
        ns = body["metadata"]["namespace"]
        await request_bytes(api, "POST", f"/api/v1/namespaces/{ns}/pods", body=body)


async def test_reclaim_at_the_issues_size(
    api: ApiClient, namespace: str, node_labels: dict[str, str], crds: list[str]
) -> None:
    """Teams A and B of min 16 GPUs on 4 nodes of 8. A runs 16 pods of high priority, then
    borrows all of B's 16 with low-priority pods: 8 alone and two gangs of 4. B submits 16 pods
    of A's low priority: reclaim evicts exactly A's 16 borrowed pods (both gangs whole) and B's
    bind; A's 16 within its min are untouched. B at its max (16) then waits with the quota's
    reason."""
    assert "elasticquotas.scheduling.x-k8s.io" in crds
    team_a, team_b = namespace, f"{namespace}-b"
    suffix = node_labels[next(iter(node_labels))]
    low, high = f"quota-low-{suffix}", f"quota-high-{suffix}"
    nodes = [f"quota-size-{suffix}-{i}" for i in range(4)]
    await create_nodes(api, [make_node(n, gpus=8, labels=node_labels) for n in nodes])
    classes = {low: 10, high: 1000}
    for name, value in classes.items():
        body = make_priority_class(name, value)
        await request_bytes(api, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses", body=body)
    try:
        async with _namespaces(api, [team_b]):
            await _create_quota(api, _quota(team_a, 16, 32))
            await _create_quota(api, _quota(team_b, 16, 16))
            for group in ("gang-0", "gang-1"):
                await create_pod_group(api, make_pod_group(group, team_a, min_member=4))
            async with (
                Terminator(api, team_a) as terminator,
                Podium(default_config(), api, identity="quota-size") as podium,
            ):
                await podium.start_scheduling()
                within = [_gpu_pod(f"a-min-{i:02}", team_a, node_labels, high) for i in range(16)]
                await _submit(api, within)

                async def a_within_min_bound() -> bool:
                    return len(await _bound(api, team_a)) == 16

                await until(a_within_min_bound, "A's 16 pods within its min bound", WAIT_SECONDS)
                borrowed = [_gpu_pod(f"a-more-{i}", team_a, node_labels, low) for i in range(8)]
                borrowed += [
                    _gpu_pod(f"{group}-{i}", team_a, node_labels, low, group)
                    for group in ("gang-0", "gang-1")
                    for i in range(4)
                ]
                await _submit(api, borrowed)

                async def a_fills_the_cluster() -> bool:
                    return len(await _bound(api, team_a)) == 32

                await until(a_fills_the_cluster, "A borrowing all 32 GPUs", WAIT_SECONDS)
                await _submit(
                    api, [_gpu_pod(f"b-{i:02}", team_b, node_labels, low) for i in range(16)]
                )

                async def b_reclaimed() -> bool:
                    return len(await _bound(api, team_b)) == 16

                await until(b_reclaimed, "B's 16 pods bound after reclaim", WAIT_SECONDS)
                left = set(await _pods(api, team_a))
                assert left == {p["metadata"]["name"] for p in within}, sorted(left)
                assert sorted(terminator.finished) == sorted(
                    p["metadata"]["name"] for p in borrowed
                ), "exactly the borrowed pods were evicted, the gangs whole"
                # B at its max: one more waits, told why.
                await _submit(api, [_gpu_pod("b-over", team_b, node_labels, low)])
                reason = f"quota {team_b}/gpus: would exceed max {GPU} (16/16 used, 1 requested)"

                async def b_over_told() -> bool:
                    return "b-over" in await _told(api, team_b, reason)

                await until(b_over_told, "B's 17th pod refused by its max", WAIT_SECONDS)
                assert "b-over" not in await _bound(api, team_b)
                assert len(await _bound(api, team_a)) == 16
                rows = {q.namespace: q for q in podium.state.quotas()}
                assert rows[team_a].used[GPU] == 16 and rows[team_b].used[GPU] == 16
    finally:
        for name in classes:
            await request_bytes(api, "DELETE", f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")


async def test_teams_of_a_department_borrow_from_each_other_before_from_another(
    api: ApiClient, namespace: str, node_labels: dict[str, str], crds: list[str]
) -> None:
    """Departments X and Y of min 8 GPUs on 16, each with two teams of min 4. y1 runs 8 (its
    sibling's 4 borrowed, Y at its min). x1 submits 10: 8 bind (x2's 4 borrowed within X), 2
    wait: Y lends nothing. x2 then asks its own 2: reclaim takes 2 of x1's pods (its sibling),
    none of y1's, which borrows only within Y."""
    assert "elasticquotas.scheduling.x-k8s.io" in crds
    suffix = node_labels[next(iter(node_labels))]
    dept_x, dept_y = f"{namespace}-x", f"{namespace}-y"
    x1, x2, y1, y2 = f"{dept_x}1", f"{dept_x}2", f"{dept_y}1", f"{dept_y}2"
    nodes = [f"quota-tree-{suffix}-{i}" for i in range(2)]
    await create_nodes(api, [make_node(n, gpus=8, labels=node_labels) for n in nodes])
    async with _namespaces(api, [dept_x, dept_y, x1, x2, y1, y2]):
        for dept, teams in ((dept_x, (x1, x2)), (dept_y, (y1, y2))):
            await _create_quota(api, _quota(dept, 8))
            for team in teams:
                await _create_quota(api, _quota(team, 4, 16, parent=dept))
        async with (
            Terminator(api, x1) as terminator,
            Podium(default_config(), api, identity="quota-tree") as podium,
        ):
            await podium.start_scheduling()
            await _submit(api, [_gpu_pod(f"y1-{i}", y1, node_labels) for i in range(8)])

            async def y1_bound() -> bool:
                return len(await _bound(api, y1)) == 8

            await until(y1_bound, "y1 borrowing its sibling's 4", WAIT_SECONDS)
            await _submit(api, [_gpu_pod(f"x1-{i}", x1, node_labels) for i in range(10)])
            reason = f"quota {x1}/gpus: would borrow {GPU} beyond what other quotas leave unused"

            async def x1_borrows_within_x() -> bool:
                bound = await _bound(api, x1)
                return len(bound) == 8 and len(await _told(api, x1, reason)) == 2

            await until(x1_borrows_within_x, "x1 at 8 (x2's 4 borrowed), 2 told", WAIT_SECONDS)
            tree = {q.namespace: q for q in podium.state.quotas()}
            assert (tree[x1].parent, tree[dept_x].used[GPU], tree[dept_y].used[GPU]) == (
                dept_x,
                8,
                8,
            )
            await _submit(api, [_gpu_pod(f"x2-{i}", x2, node_labels) for i in range(2)])

            async def x2_took_back() -> bool:
                return len(await _bound(api, x2)) == 2

            await until(x2_took_back, "x2's 2 pods bound after reclaim", WAIT_SECONDS)
            assert len(terminator.finished) == 2, terminator.finished
            assert len(await _bound(api, y1)) == 8, "y1 borrows only within Y: untouched"
