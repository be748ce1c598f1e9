"""Gangs of Kubernetes' Workload API (``scheduling.k8s.io/v1beta1`` PodGroups, pods linked with
``spec.schedulingGroup.podGroupName``) on the real apiserver, podium in-process.

A gang of ``minCount`` binds whole or not at all, and its PodGroup's ``PodGroupInitiallyScheduled``
condition says so as kube-scheduler 1.37 writes it; a gang whose PodGroup names a topology key
lands in one domain of that key, or waits with the reason naming the key; a ``basic`` group is
no gang. On an apiserver that does not serve the API, podium runs and the linked pods wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes
from podium.runner import Podium
from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster
from podium.testing.nodes import GPU_RESOURCE, create_nodes, make_node
from podium.testing.podgroups import (
    create_workload_pod_group,
    get_workload_pod_group,
    make_workload_pod_group,
)
from podium.testing.pods import make_pod
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(180)

WAIT_SECONDS = 60
BLOCK_LABEL = "topology.kubernetes.io/block"


def _member(
    name: str, namespace: str, group: str, labels: Mapping[str, str], gpus: int
) -> dict[str, Any]:
    return make_pod(
        name,
        namespace,
        scheduler_name="podium",
        requests={"cpu": "100m", GPU_RESOURCE: gpus},
        limits={GPU_RESOURCE: gpus},
        node_selector=dict(labels),
        pod_group=group,
    )


async def _pods(api: ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    body = orjson.loads(await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods"))
    return {p["metadata"]["name"]: p for p in body["items"]}


async def _create_pods(api: ApiClient, namespace: str, pods: list[dict[str, Any]]) -> None:
    for pod in pods:
        await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)


def _bound(pods: Mapping[str, dict[str, Any]], prefix: str) -> dict[str, str]:
    return {
        name: pod["spec"]["nodeName"]
        for name, pod in pods.items()
        if name.startswith(prefix) and pod["spec"].get("nodeName")
    }


async def _notes(api: ApiClient, namespace: str, pod: str) -> list[str]:
    body = orjson.loads(
        await request_bytes(api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")
    )
    return [
        e["note"]
        for e in body["items"]
        if e["regarding"].get("kind") == "Pod"
        and e["regarding"].get("name") == pod
        and e["reason"] == "FailedScheduling"
    ]


async def _condition(api: ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    group = await get_workload_pod_group(api, namespace, name)
    for condition in group.get("status", {}).get("conditions", []):
        if condition["type"] == "PodGroupInitiallyScheduled":
            found: dict[str, Any] = condition
            return found
    return None


async def test_a_workload_gang_binds_whole_or_waits_whole_and_its_condition_says_so(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    await create_nodes(
        api, [make_node(f"wgang-{i}-{suffix}", gpus=8, labels=node_labels) for i in range(2)]
    )
    await create_workload_pod_group(api, make_workload_pod_group("small", namespace, min_count=2))
    await create_workload_pod_group(api, make_workload_pod_group("big", namespace, min_count=3))
    async with Podium(default_config(), api, identity="workload-gang-test") as podium:
        await podium.start_scheduling()
        await _create_pods(
            api,
            namespace,
            [_member(f"small-{i}", namespace, "small", node_labels, 8) for i in (0, 1)],
        )

        async def small_bound() -> bool:
            return len(_bound(await _pods(api, namespace), "small-")) == 2

        await until(small_bound, "the gang that fits to bind whole", WAIT_SECONDS)
        await podium.gangs.flush()
        scheduled = await _condition(api, namespace, "small")
        assert scheduled is not None
        assert (scheduled["status"], scheduled["reason"]) == ("True", "Scheduled"), scheduled
        # The group's metadata.generation, as kube-scheduler writes it (1.37's PodGroup strategy
        # sets none, so both are 0 and the field is left out).
        stored = await get_workload_pod_group(api, namespace, "small")
        generation = stored["metadata"].get("generation", 0)
        assert scheduled.get("observedGeneration", 0) == generation, scheduled

        # Three 8-GPU members and no GPU left: none binds.
        await _create_pods(
            api,
            namespace,
            [_member(f"big-{i}", namespace, "big", node_labels, 8) for i in range(3)],
        )

        async def big_parked() -> bool:
            return podium.queue.pending_counts()["unschedulable"] == 3

        await until(big_parked, "the gang that does not fit to wait whole", WAIT_SECONDS)
        assert _bound(await _pods(api, namespace), "big-") == {}, "not one member binds"
        await podium.recorder.flush()
        await podium.gangs.flush()
        notes = await _notes(api, namespace, "big-0")
        assert any(
            f"PodGroup {namespace}/big: the 3 pod(s) do not all fit at once" in n for n in notes
        ), notes
        waiting = await _condition(api, namespace, "big")
        assert waiting is not None
        assert (waiting["status"], waiting["reason"]) == ("False", "Unschedulable"), waiting
        assert f"PodGroup {namespace}/big" in waiting["message"], waiting

        # Room for the whole gang appears: it binds whole, and the condition turns True.
        await create_nodes(
            api,
            [make_node(f"wgang-more-{i}-{suffix}", gpus=8, labels=node_labels) for i in range(3)],
        )

        async def big_bound() -> bool:
            return len(_bound(await _pods(api, namespace), "big-")) == 3

        await until(big_bound, "the gang to bind once it fits", WAIT_SECONDS)
        await podium.gangs.flush()

        async def big_scheduled() -> bool:
            condition = await _condition(api, namespace, "big")
            return condition is not None and condition["status"] == "True"

        await until(big_scheduled, "PodGroupInitiallyScheduled=True", WAIT_SECONDS)


async def test_a_waiting_gang_is_retried_only_on_events_that_could_let_it_fit(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    """Gangs' queueing hints: a gang that lacks room is not retried when other PodGroups change
    (their status written as their gangs are placed), and is when a node is added; a gang short
    of members is not retried on a node added, and is placed when its last member arrives."""
    suffix = node_labels["podium.dev/test"]
    await create_nodes(api, [make_node(f"whint-0-{suffix}", gpus=8, labels=node_labels)])
    await create_workload_pod_group(api, make_workload_pod_group("big", namespace, min_count=2))
    await create_workload_pod_group(api, make_workload_pod_group("short", namespace, min_count=2))
    async with Podium(default_config(), api, identity="workload-hint-test") as podium:
        await podium.start_scheduling()
        # Two 8-GPU members on one 8-GPU node: no room. One member of two: incomplete.
        await _create_pods(
            api,
            namespace,
            [_member(f"big-{i}", namespace, "big", node_labels, 8) for i in range(2)]
            + [_member("short-0", namespace, "short", node_labels, 0)],
        )

        async def parked() -> bool:
            return podium.queue.pending_counts()["unschedulable"] == 3

        await until(parked, "both gangs to wait", WAIT_SECONDS)
        # Their own PodGroups' status, written now, moves them once: let that settle.
        await podium.gangs.flush()
        await asyncio.sleep(3)
        await until(parked, "both gangs to wait again", WAIT_SECONDS)
        uids = {name: pod["metadata"]["uid"] for name, pod in (await _pods(api, namespace)).items()}

        def attempts(name: str) -> int | None:
            return podium.queue.attempts(uids[name])

        big, short = attempts("big-0"), attempts("short-0")
        # Other gangs placed: their PodGroups are created and their status written. None of it
        # gives the waiting gangs room or members.
        for i in range(3):
            name = f"other-{i}"
            await create_workload_pod_group(
                api, make_workload_pod_group(name, namespace, min_count=1)
            )
            await _create_pods(api, namespace, [_member(name, namespace, name, node_labels, 0)])

        async def others_scheduled() -> bool:
            for i in range(3):
                condition = await _condition(api, namespace, f"other-{i}")
                if condition is None or condition["status"] != "True":
                    return False
            return True

        await until(others_scheduled, "the other gangs' PodGroups to say Scheduled", WAIT_SECONDS)
        await podium.gangs.flush()
        # Longer than the backoff (1 s) a moved pod waits out before it is tried again.
        await asyncio.sleep(3)
        assert (attempts("big-0"), attempts("short-0")) == (big, short)

        # A node is added: room for the big gang; still no member for the short one.
        await create_nodes(api, [make_node(f"whint-1-{suffix}", gpus=8, labels=node_labels)])

        async def big_bound() -> bool:
            return len(_bound(await _pods(api, namespace), "big-")) == 2

        await until(big_bound, "the big gang to bind on the node added", WAIT_SECONDS)
        await asyncio.sleep(3)
        assert attempts("short-0") == short
        await _create_pods(api, namespace, [_member("short-1", namespace, "short", node_labels, 0)])

        async def short_bound() -> bool:
            return len(_bound(await _pods(api, namespace), "short-")) == 2

        await until(short_bound, "the short gang to bind once whole", WAIT_SECONDS)


async def test_a_workload_gang_with_a_topology_key_lands_in_one_domain_or_not_at_all(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]

    def block(name: str, count: int) -> list[dict[str, Any]]:
        return [
            make_node(
                f"{name}-{i}-{suffix}",
                gpus=8,
                labels=node_labels,
                rack=f"{name}-{suffix}",
                rack_label=BLOCK_LABEL,
            )
            for i in range(count)
        ]

    # Block a: 2 hosts, block b: 3 hosts, and one host in no block.
    await create_nodes(
        api,
        block("a", 2) + block("b", 3) + [make_node(f"loose-{suffix}", gpus=8, labels=node_labels)],
    )
    for name in ("first", "second"):
        await create_workload_pod_group(
            api, make_workload_pod_group(name, namespace, min_count=3, topology_key=BLOCK_LABEL)
        )
    async with Podium(default_config(), api, identity="workload-topology-test") as podium:
        await podium.start_scheduling()
        await _create_pods(
            api,
            namespace,
            [_member(f"first-{i}", namespace, "first", node_labels, 8) for i in range(3)],
        )

        async def first_bound() -> bool:
            return len(_bound(await _pods(api, namespace), "first-")) == 3

        await until(first_bound, "the first gang to bind", WAIT_SECONDS)
        nodes = set(_bound(await _pods(api, namespace), "first-").values())
        assert nodes == {f"b-{i}-{suffix}" for i in range(3)}, "the one block with room for 3"

        # Block a and the loose host could hold 3 between them, but no one block can.
        await _create_pods(
            api,
            namespace,
            [_member(f"second-{i}", namespace, "second", node_labels, 8) for i in range(3)],
        )

        async def second_parked() -> bool:
            return podium.queue.pending_counts()["unschedulable"] == 3

        await until(second_parked, "the second gang to wait", WAIT_SECONDS)
        assert _bound(await _pods(api, namespace), "second-") == {}
        await podium.recorder.flush()
        notes = await _notes(api, namespace, "second-0")
        # Two blocks, neither holds the three.
        assert any(
            n.startswith(
                f"PodGroup {namespace}/second: no {BLOCK_LABEL} domain (of 2) fits the 3 pod(s)"
            )
            for n in notes
        ), notes


async def test_a_basic_workload_group_is_no_gang(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    await create_nodes(api, [make_node(f"wbasic-{suffix}", gpus=8, labels=node_labels)])
    await create_workload_pod_group(api, make_workload_pod_group("web", namespace, min_count=None))
    async with Podium(default_config(), api, identity="workload-basic-test") as podium:
        await podium.start_scheduling()
        # Two of three 4-GPU members fit: they bind, the third waits on its own.
        await _create_pods(
            api,
            namespace,
            [_member(f"web-{i}", namespace, "web", node_labels, 4) for i in range(3)],
        )

        async def two_bound() -> bool:
            return len(_bound(await _pods(api, namespace), "web-")) == 2

        await until(two_bound, "the members that fit to bind", WAIT_SECONDS)


async def test_without_the_workload_api_podium_runs_and_linked_pods_wait(
    binaries: Binaries,
) -> None:
    # The API version off again (the flag's values merge: the last one wins); the gate stays
    # on, so pods keep their spec.schedulingGroup.
    with LocalCluster(
        binaries=binaries, apiserver_args=["--runtime-config=scheduling.k8s.io/v1beta1=false"]
    ) as cluster:
        client = await api_client(cluster.kubeconfig, qps=0.0, burst=64)
        async with client as api:
            path = "/apis/scheduling.k8s.io/v1beta1/podgroups"
            with pytest.raises(ApiStatusError) as not_served:
                await request_bytes(api, "GET", path)
            assert not_served.value.status == 404
            await create_nodes(api, [make_node("plain-node", gpus=8)])
            pods = [
                make_pod("linked", scheduler_name="podium", pod_group="train"),
                make_pod("plain", scheduler_name="podium"),
            ]
            async with Podium(default_config(), api, identity="no-workload-api") as podium:
                await podium.start_scheduling()
                await _create_pods(api, "default", pods)

                async def settled() -> bool:
                    stored = await _pods(api, "default")
                    return (
                        "plain" in _bound(stored, "plain")
                        and podium.queue.pending_counts()["unschedulable"] == 1
                    )

                await until(settled, "the plain pod to bind and the linked one to wait", 60)

                # Reported once the PodGroup has stayed missing a few seconds.
                async def reported() -> bool:
                    await podium.recorder.flush()
                    notes = await _notes(api, "default", "linked")
                    return "PodGroup default/train not found; waiting for it" in notes

                await until(reported, "the linked pod to be reported", 60)


async def test_the_controller_manager_lifts_the_podgroup_protection_finalizer(
    live_api: ApiClient, live_namespace: str
) -> None:
    """kube-controller-manager runs with the local cluster's gates too: its PodGroupProtection
    controller (GenericWorkload only) lifts the finalizer the admission plugin adds, so a
    deleted PodGroup with no pods goes."""
    created = await create_workload_pod_group(
        live_api, make_workload_pod_group("protected", live_namespace, min_count=2)
    )
    assert "scheduling.k8s.io/podgroup-protection" in created["metadata"].get("finalizers", [])
    path = f"/apis/scheduling.k8s.io/v1beta1/namespaces/{live_namespace}/podgroups"
    await request_bytes(live_api, "DELETE", f"{path}/protected")

    async def gone() -> bool:
        names = orjson.loads(await request_bytes(live_api, "GET", path))["items"]
        return not names

    await until(gone, "the deleted PodGroup to go", WAIT_SECONDS)
