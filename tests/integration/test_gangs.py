"""Gangs and racks end to end: PodGroups and their pods on the real apiserver, podium in-process.

The acceptance of gang scheduling: two gangs that each need 60% of the cluster never deadlock
(one runs whole, the other waits with no member bound, then runs once the first is gone); a gang
of 8 that must share a rack lands in one rack on 8 distinct hosts, or not at all; a gang that
must share a block with slices of 2 per rack lands so, or waits with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config, parse_config
from podium.rawapi import ApiStatusError, request_bytes
from podium.runner import Podium
from podium.testing.nodes import GPU_RESOURCE, RACK_LABEL, create_nodes, make_node
from podium.testing.podgroups import (
    POD_GROUP_LABEL,
    create_pod_group,
    get_pod_group,
    make_pod_group,
)
from podium.testing.pods import make_pod
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(180)

WAIT_SECONDS = 60
CORP_RACK_LABEL = "topology.corp.com/rack-id"


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
        labels={POD_GROUP_LABEL: group},
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


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    await until(check, what, WAIT_SECONDS)


async def _events(api: ApiClient, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
    body = orjson.loads(
        await request_bytes(api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")
    )
    return [
        e
        for e in body["items"]
        if e["regarding"].get("kind") == kind and e["regarding"].get("name") == name
    ]


async def test_two_gangs_each_needing_60_percent_never_deadlock(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    await create_nodes(
        api, [make_node(f"gang60-{i}-{suffix}", gpus=8, labels=node_labels) for i in range(5)]
    )
    for group in ("a", "b"):
        await create_pod_group(api, make_pod_group(group, namespace, min_member=3))
    # Interleaved: neither gang is complete before the other has started arriving.
    pods = [
        _member(f"{group}-{i}", namespace, group, node_labels, gpus=8)
        for i in range(3)
        for group in ("a", "b")
    ]
    async with Podium(default_config(), api, identity="gang-test") as podium:
        await podium.start_scheduling()
        await _create_pods(api, namespace, pods)

        async def one_gang_placed() -> bool:
            stored = await _pods(api, namespace)
            counts = podium.queue.pending_counts()
            return (
                sorted((len(_bound(stored, "a-")), len(_bound(stored, "b-")))) == [0, 3]
                and counts["active"] == counts["backoff"] == 0
                and counts["unschedulable"] == 3
            )

        await _until(one_gang_placed, "one gang to be placed and the other parked")
        stored = await _pods(api, namespace)
        winner, loser = ("a", "b") if _bound(stored, "a-") else ("b", "a")
        assert len(set(_bound(stored, f"{winner}-").values())) == 3
        assert _bound(stored, f"{loser}-") == {}, "no member of the waiting gang is bound"

        await podium.gangs.flush()
        await podium.recorder.flush()
        won = await get_pod_group(api, namespace, winner)
        assert won["status"]["phase"] == "Scheduled"
        assert won["status"]["scheduled"] == 3
        assert "scheduleStartTime" in won["status"]
        lost = await get_pod_group(api, namespace, loser)
        assert lost["status"]["phase"] == "Scheduling"
        assert lost["status"]["scheduled"] == 0
        reasons = {e["reason"]: e["note"] for e in await _events(api, namespace, "PodGroup", loser)}
        assert "do not all fit at once" in reasons["FailedScheduling"], reasons

        for i in range(3):
            await request_bytes(
                api,
                "DELETE",
                f"/api/v1/namespaces/{namespace}/pods/{winner}-{i}",
                query={"gracePeriodSeconds": 0},
            )

        async def loser_placed() -> bool:
            return len(_bound(await _pods(api, namespace), f"{loser}-")) == 3

        await _until(loser_placed, "the waiting gang to be placed once the first is gone")
        await podium.gangs.flush()
        assert (await get_pod_group(api, namespace, loser))["status"]["phase"] == "Scheduled"


async def test_gang_of_8_with_same_rack_lands_in_one_rack_on_distinct_hosts_or_not_at_all(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    config = parse_config(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "profiles": [
                {
                    "schedulerName": "podium",
                    "pluginConfig": [{"name": "Podium", "args": {"rackLabel": CORP_RACK_LABEL}}],
                }
            ],
        }
    )

    def rack_nodes(rack: str, count: int) -> list[dict[str, Any]]:
        return [
            make_node(
                f"{rack}-{i}-{suffix}",
                gpus=8,
                labels=node_labels,
                rack=rack,
                rack_label=CORP_RACK_LABEL,
            )
            for i in range(count)
        ]

    # 11 hosts, but no rack with 8 of them; each node alone could hold all 8 one-GPU members.
    await create_nodes(api, rack_nodes("r1", 6) + rack_nodes("r2", 5))
    await create_pod_group(
        api,
        make_pod_group("train", namespace, min_member=8, rack="required", distinct_hosts=True),
    )
    pods = [_member(f"train-{i}", namespace, "train", node_labels, gpus=1) for i in range(8)]
    async with Podium(config, api, identity="rack-test") as podium:
        await podium.start_scheduling()
        await _create_pods(api, namespace, pods)

        async def parked() -> bool:
            return podium.queue.pending_counts()["unschedulable"] == 8

        await _until(parked, "the gang to wait")
        assert _bound(await _pods(api, namespace), "train-") == {}, "not at all"
        await podium.recorder.flush()
        notes = [e["note"] for e in await _events(api, namespace, "PodGroup", "train")]
        want = f"no {CORP_RACK_LABEL} domain (of 2) fits the 8 pod(s): 2 lack hosts"
        assert any(want in n for n in notes), notes

        # A rack with 8 hosts appears: the gang lands there, whole.
        await create_nodes(api, rack_nodes("r3", 8))

        async def placed() -> bool:
            return len(_bound(await _pods(api, namespace), "train-")) == 8

        await _until(placed, "the gang to land in the new rack")
        bound = _bound(await _pods(api, namespace), "train-")
        assert len(set(bound.values())) == 8, "8 distinct hosts"
        assert all(node.startswith("r3-") for node in bound.values()), bound
        await podium.gangs.flush()
        status = (await get_pod_group(api, namespace, "train"))["status"]
        assert (status["phase"], status["scheduled"]) == ("Scheduled", 8)


BLOCK_LABEL = "topology.kubernetes.io/block"


async def test_a_block_gang_with_slices_per_rack_lands_so_or_waits_with_the_reason(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]

    def hosts(block: str, rack: str, count: int, first: int = 0) -> list[dict[str, Any]]:
        return [
            make_node(
                f"{rack}-{i}-{suffix}",
                gpus=8,
                labels={**node_labels, BLOCK_LABEL: f"{block}-{suffix}"},
                rack=f"{rack}-{suffix}",
            )
            for i in range(first, first + count)
        ]

    # Block b1: racks of 2 and 2 hosts (two slices of 2 fit). Block b2: racks of 3 and 1 (as
    # many hosts, but one slice of 2 only).
    await create_nodes(
        api,
        hosts("b1", "r1", 2) + hosts("b1", "r2", 2) + hosts("b2", "r3", 3) + hosts("b2", "r4", 1),
    )
    for group in ("first", "second"):
        await create_pod_group(
            api,
            make_pod_group(
                group,
                namespace,
                min_member=4,
                topology_level=BLOCK_LABEL,
                slice_size=2,
                slice_level=RACK_LABEL,
            ),
        )
    # Whole-host members: 8 GPUs each.
    first = [_member(f"first-{i}", namespace, "first", node_labels, gpus=8) for i in range(4)]
    second = [_member(f"second-{i}", namespace, "second", node_labels, gpus=8) for i in range(4)]

    def racks(bound: Mapping[str, str], prefix: str) -> list[str]:
        return [bound[f"{prefix}-{i}"].split("-")[0] for i in range(4)]

    async with Podium(default_config(), api, identity="block-test") as podium:
        await podium.start_scheduling()
        await _create_pods(api, namespace, first)

        async def first_placed() -> bool:
            return len(_bound(await _pods(api, namespace), "first-")) == 4

        await _until(first_placed, "the first gang to land in block b1")
        assert sorted(racks(_bound(await _pods(api, namespace), "first-"), "first")) == [
            "r1",
            "r1",
            "r2",
            "r2",
        ], "two slices of 2, each inside one rack of block b1"

        # b1 is full; b2 has four free hosts but room for one slice of 2 only.
        await _create_pods(api, namespace, second)

        async def parked() -> bool:
            return podium.queue.pending_counts()["unschedulable"] == 4

        await _until(parked, "the second gang to wait")
        assert _bound(await _pods(api, namespace), "second-") == {}, "not at all"
        await podium.recorder.flush()
        notes = [e["note"] for e in await _events(api, namespace, "PodGroup", "second")]
        want = (
            f"PodGroup {namespace}/second: no {BLOCK_LABEL} domain (of 2) fits the 4 pod(s): "
            f"1 lacks nvidia.com/gpu (need 32, 0 free), 1 lacks room for the slices "
            f"(2 slice(s) of 2 pod(s) each in one {RACK_LABEL} domain, room for at most 1)"
        )
        assert any(want in n for n in notes), notes

        # A second host in rack r4: b2 now takes two slices (r3 and r4).
        await create_nodes(api, hosts("b2", "r4", 1, first=1))

        async def second_placed() -> bool:
            return len(_bound(await _pods(api, namespace), "second-")) == 4

        await _until(second_placed, "the second gang to land in block b2")
        assert sorted(racks(_bound(await _pods(api, namespace), "second-"), "second")) == [
            "r3",
            "r3",
            "r4",
            "r4",
        ]


async def test_a_malformed_pod_group_is_named_and_its_pods_wait(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    await create_nodes(api, [make_node(f"gangbad-{suffix}", gpus=8, labels=node_labels)])
    # The CRD cannot check podium's annotations; podium names the bad one.
    await create_pod_group(api, make_pod_group("bad", namespace, min_member=1, rack="same-rack"))
    pods = [_member(f"bad-{i}", namespace, "bad", node_labels, gpus=1) for i in range(2)]
    pods.append(_member("orphan-0", namespace, "missing", node_labels, gpus=1))
    pods.append(make_pod("plain", namespace, scheduler_name="podium", node_selector=node_labels))
    async with Podium(default_config(), api, identity="gang-bad-test") as podium:
        await podium.start_scheduling()
        await _create_pods(api, namespace, pods)

        async def settled() -> bool:
            stored = await _pods(api, namespace)
            return podium.queue.pending_counts()["unschedulable"] == 3 and "plain" in _bound(
                stored, "plain"
            )

        await _until(settled, "the grouped pods to wait and the plain pod to bind")
        await podium.recorder.flush()
        notes = {e["note"] for e in await _events(api, namespace, "Pod", "bad-0")}
        assert any(
            f"PodGroup {namespace}/bad: metadata.annotations[podium.dev/rack]" in n for n in notes
        ), notes

        # A missing PodGroup may still be on its way: reported only if it stays missing.
        async def orphan_reported() -> bool:
            await podium.recorder.flush()
            orphan = {e["note"] for e in await _events(api, namespace, "Pod", "orphan-0")}
            return f"PodGroup {namespace}/missing not found; waiting for it" in orphan

        await _until(orphan_reported, "the pod of the missing PodGroup to be reported")


async def test_the_crd_and_podium_agree_on_zero_and_negative_counts(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    """What podium's CRD admits, podium schedules (0 as scheduler-plugins reads it); what podium
    would refuse, the CRD refuses first."""
    suffix = node_labels["podium.dev/test"]
    await create_nodes(api, [make_node(f"gangzero-{suffix}", gpus=8, labels=node_labels)])
    for field in ("minMember", "scheduleTimeoutSeconds"):
        negative = make_pod_group(f"negative-{field.lower()}", namespace, min_member=1)
        negative["spec"][field] = -1
        with pytest.raises(ApiStatusError) as refused:
            await create_pod_group(api, negative)
        assert refused.value.status == 422, refused.value
        assert f"spec.{field}" in str(refused.value), refused.value
    zero = make_pod_group("zero", namespace, min_member=1)
    zero["spec"] = {"minMember": 0, "scheduleTimeoutSeconds": 0}
    await create_pod_group(api, zero)
    defaulted = make_pod_group("defaulted", namespace, min_member=1)
    del defaulted["spec"]["minMember"]
    created = await create_pod_group(api, defaulted)
    assert created["spec"]["minMember"] == 1, "the CRD's default"
    pods = [_member(f"zero-{i}", namespace, "zero", node_labels, gpus=1) for i in range(2)]
    async with Podium(default_config(), api, identity="gang-zero-test") as podium:
        await podium.start_scheduling()
        await _create_pods(api, namespace, pods)

        async def bound() -> bool:
            return len(_bound(await _pods(api, namespace), "zero-")) == 2

        await _until(bound, "the members of a minMember 0 group to bind")
        await podium.gangs.flush()
        status = (await get_pod_group(api, namespace, "zero"))["status"]
        assert (status["phase"], status["scheduled"]) == ("Scheduled", 2), status
