"""podium schedules a mixed workload end to end on the real apiserver.

100 nodes (CPU and GPU, tainted, cordoned, labelled), pods already bound by someone else, 1,000
podium pods with mixed requests, selectors, affinity, tolerations and GPUs, and pods for another
scheduler. Every placement is checked by an oracle written apart from the core.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.nodes import Taint, create_nodes, make_node
from podium.testing.pods import make_pod

from .feasibility import held_for, quantity, reasons_infeasible, usage_by_node

SEED = 20261123
GPU = "nvidia.com/gpu"
ZONES = ("zone-a", "zone-b", "zone-c", "zone-d")
DEDICATED = Taint(key="dedicated", value="infra", effect="NoSchedule")
GPU_TAINT = Taint(key=GPU, value="present", effect="NoSchedule")
GPU_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
INFRA_TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "infra"}

pytestmark = pytest.mark.timeout(600)


def _nodes(rng: random.Random, labels: dict[str, str]) -> list[dict[str, Any]]:
    nodes = []
    for i in range(100):
        node_labels = {**labels, "disktype": rng.choice(("ssd", "hdd"))}
        taints: tuple[Taint, ...] = ()
        gpus = 0
        if i < 20:
            gpus = rng.choice((4, 8))
            taints = (GPU_TAINT,)
        elif i < 30:
            taints = (DEDICATED,)
        nodes.append(
            make_node(
                f"e2e-{i:03d}",
                cpu=rng.choice(("8", "16", "32")),
                memory=rng.choice(("32Gi", "64Gi", "128Gi")),
                pods=rng.choice((20, 110)),
                gpus=gpus,
                zone=ZONES[i % len(ZONES)],
                labels=node_labels,
                taints=taints,
                unschedulable=i >= 95,
            )
        )
    return nodes


def _podium_pod(i: int, namespace: str, rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    requests: dict[str, str] = {
        "cpu": rng.choice(("100m", "250m", "500m", "1", "2")),
        "memory": rng.choice(("128Mi", "512Mi", "1Gi", "2Gi")),
    }
    extra: dict[str, Any] = {}
    if kind < 0.15:
        extra["node_selector"] = {"disktype": rng.choice(("ssd", "hdd"))}
    elif kind < 0.25:
        zones = rng.sample(ZONES, 2)
        extra["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "topology.kubernetes.io/zone",
                                    "operator": "In",
                                    "values": zones,
                                }
                            ]
                        }
                    ]
                }
            }
        }
    elif kind < 0.32:
        extra["tolerations"] = (INFRA_TOLERATION,)
    elif kind < 0.50:
        gpus = rng.choice((1, 2, 4, 8))
        requests[GPU] = str(gpus)
        extra["limits"] = {GPU: str(gpus)}
        if rng.random() < 0.9:
            extra["tolerations"] = (GPU_TOLERATION,)
    elif kind < 0.53:
        requests["cpu"] = "64"  # larger than any node
    return make_pod(f"p-{i:04d}", namespace, scheduler_name="podium", requests=requests, **extra)


async def _list(api: ApiClient, path: str, query: dict[str, str | int | bool]) -> list[Any]:
    body = orjson.loads(await request_bytes(api, "GET", path, query=query))
    items: list[Any] = body["items"]
    return items


async def _create_pods(api: ApiClient, namespace: str, pods: list[dict[str, Any]]) -> None:
    it = iter(pods)

    async def worker() -> None:
        for pod in it:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)

    async with asyncio.TaskGroup() as group:
        for _ in range(16):
            group.create_task(worker())


# kube-scheduler's reason strings for the filters whose outcome does not depend on load.
STATIC_REASONS = {
    "unschedulable": "node(s) were unschedulable",
    "selector": "node(s) didn't match Pod's node affinity/selector",
}


def _first_static_reason(reasons: list[str]) -> str | None:
    """The message kube-scheduler reports for the first failing load-independent filter, in its
    plugin order (NodeUnschedulable, TaintToleration, NodeAffinity)."""
    if "unschedulable" in reasons:
        return STATIC_REASONS["unschedulable"]
    if any(r.startswith("taint ") for r in reasons):
        return "node(s) had untolerated taint(s)"
    if "selector" in reasons:
        return STATIC_REASONS["selector"]
    return None


def _parse_note(note: str) -> tuple[int, Counter[str]]:
    # As kube-scheduler, podium appends what preemption found: " preemption: 0/N nodes ...".
    match = re.match(r"^0/(\d+) nodes are available: (.*?)\.(?: preemption: .*)?$", note)
    assert match, f"not kube-scheduler's message form: {note!r}"
    histogram: Counter[str] = Counter()
    for part in re.split(r", (?=\d+ )", match.group(2)):
        count, reason = part.split(" ", 1)
        histogram[reason] += int(count)
    return int(match.group(1)), histogram


async def test_mixed_workload_end_to_end(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    rng = random.Random(SEED)
    nodes = _nodes(rng, node_labels)
    await create_nodes(api, nodes)
    # Bound by someone else: they occupy their nodes and podium must count them.
    others_bound = [
        make_pod(
            f"bound-{i:03d}",
            namespace,
            node_name=f"e2e-{rng.randrange(100):03d}",
            requests={"cpu": rng.choice(("1", "4")), "memory": "4Gi"},
        )
        for i in range(60)
    ]
    other_scheduler = [
        make_pod(
            f"other-{i:03d}", namespace, scheduler_name="someone-else", requests={"cpu": "10m"}
        )
        for i in range(20)
    ]
    mine = [_podium_pod(i, namespace, rng) for i in range(1000)]
    await _create_pods(api, namespace, others_bound)

    async with Podium(default_config(), api, identity="e2e") as podium:
        await podium.start_scheduling()
        await _create_pods(api, namespace, other_scheduler + mine)
        settled = False
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not settled:
            await asyncio.sleep(0.5)
            pods = await _list(api, f"/api/v1/namespaces/{namespace}/pods", {})
            bound = sum(
                1
                for p in pods
                if p["spec"].get("schedulerName") == "podium" and p["spec"].get("nodeName")
            )
            counts = podium.queue.pending_counts()
            settled = (
                counts["active"] == 0
                and counts["backoff"] == 0
                and bound + counts["unschedulable"] == len(mine)
            )
        await podium.recorder.flush()
        await podium.conditions.flush()
        # Nominations (whole-node reservations) written before the pods are read.
        await podium.preemptor.drain()
    assert settled, f"workload did not settle: queue {counts}, bound {bound}"

    pods = await _list(api, f"/api/v1/namespaces/{namespace}/pods", {})
    node_objects = {
        n["metadata"]["name"]: n
        for n in await _list(
            api,
            "/api/v1/nodes",
            {"labelSelector": ",".join(f"{k}={v}" for k, v in node_labels.items())},
        )
    }
    assert len(node_objects) == 100
    used, counts_on_node = usage_by_node(pods)

    # Nothing over-committed, counting everything bound (podium's and the others').
    for name, node in node_objects.items():
        allocatable = node["status"]["allocatable"]
        assert counts_on_node.get(name, 0) <= quantity(allocatable["pods"]), name
        for resource, amount in used.get(name, {}).items():
            assert amount <= quantity(allocatable.get(resource, "0")), (name, resource, amount)

    by_name = {p["metadata"]["name"]: p for p in pods}
    # Other schedulers' pods are untouched.
    for pod in other_scheduler:
        assert not by_name[pod["metadata"]["name"]]["spec"].get("nodeName")

    events = await _list(
        api,
        f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
        {"fieldSelector": "reason=FailedScheduling"},
    )
    notes: dict[str, str] = {}
    for event in sorted(
        events, key=lambda e: e.get("series", {}).get("lastObservedTime") or e["eventTime"]
    ):
        notes[event["regarding"]["name"]] = event["note"]

    placed = unplaced = 0
    for pod in mine:
        name = pod["metadata"]["name"]
        live = by_name[name]
        node_name = live["spec"].get("nodeName")
        if node_name:
            placed += 1
            node = node_objects[node_name]
            # Feasible where it landed: static filters pass; resources are checked above.
            static = [
                r
                for r in reasons_infeasible(live, node, {}, 0)
                if not r.startswith(("insufficient", "pods"))
            ]
            assert not static, f"{name} on {node_name}: {static}"
            continue
        unplaced += 1
        # Unplaced: the oracle agrees it fits nowhere now, counting what nominated pods of its
        # priority or higher hold (nodes reserved for waiting whole-node GPU pods).
        held, held_counts = held_for(pods, live)
        for node_name, node in node_objects.items():
            with_held = dict(used.get(node_name, {}))
            for resource, amount in held.get(node_name, {}).items():
                with_held[resource] = with_held.get(resource, Decimal(0)) + amount
            why = reasons_infeasible(
                live,
                node,
                with_held,
                counts_on_node.get(node_name, 0) + held_counts.get(node_name, 0),
            )
            assert why, f"{name} left pending but fits {node_name}"
        assert name in notes, f"{name} pending without a FailedScheduling event"
        total, histogram = _parse_note(notes[name])
        assert total == 100
        expected_static: Counter[str] = Counter()
        for node in node_objects.values():
            reason = _first_static_reason(reasons_infeasible(live, node, {}, 0))
            if reason is not None:
                expected_static[reason] += 1
        reported_static = Counter(
            {
                r: c
                for r, c in histogram.items()
                # Load and holds change as pods come and go; the rest is the node's own.
                if not r.startswith(("Insufficient", "Too many pods"))
                and r != "node(s) were reserved for nominated pods"
            }
        )
        assert reported_static == expected_static, (name, notes[name])
        requested = set(pod["spec"]["containers"][0]["resources"]["requests"])
        for reason in histogram:
            if reason.startswith("Insufficient "):
                assert reason.removeprefix("Insufficient ") in requested, (name, reason)
        condition = next(
            (c for c in live["status"].get("conditions", []) if c["type"] == "PodScheduled"), None
        )
        assert condition is not None and condition["status"] == "False"
        assert condition["reason"] == "Unschedulable"
    # The workload is built so that both outcomes occur in numbers.
    assert placed > 500 and unplaced > 30, (placed, unplaced)
