"""ResourceClaims through their whole life on a live cluster (kube-controller-manager and KWOK):
template -> claim (created by the controller-manager's resourceclaim controller) -> allocation
and reservation (podium's PreBind) -> Binding -> the pod runs -> the pod is deleted -> its
claim goes and its devices serve the next pod.

Three KWOK nodes of 8 GPUs and 4 RDMA NICs (two GPUs and one NIC behind each PCIe root) take
twelve pods asking two GPUs and a NIC on one PCIe root; a thirteenth waits. podium is restarted
half way: the second instance learns what the first allocated from the claims alone and hands
out no device twice. Every claim is checked by the test itself (not by podium): allocated on its
pod's node, reserved for its pod, no device in two claims, one PCIe root per claim."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.dra import (
    PCIE_ROOT,
    RESOURCE_API,
    create,
    delete_cluster_objects,
    device_class,
    exact_request,
    gpu_slice,
    nic_slice,
    resource_claim_template,
    with_claim_templates,
)
from podium.testing.kwok.nodes import make_kwok_node
from podium.testing.nodes import create_nodes
from podium.testing.pods import make_pod, make_priority_class
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(300)

WAIT_SECONDS = 90
NODES = 3
PODS_PER_NODE = 4  # one per PCIe root


async def _listed(api: ApiClient, path: str) -> dict[str, dict[str, Any]]:
    items = orjson.loads(await request_bytes(api, "GET", path))["items"]
    return {o["metadata"]["name"]: o for o in items}


def _roots(slices: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """(driver, pool, device) -> PCIe root, from the published slices."""
    out: dict[tuple[str, str, str], str] = {}
    for s in slices:
        spec = s["spec"]
        for d in spec["devices"]:
            out[(spec["driver"], spec["pool"]["name"], d["name"])] = d["attributes"][PCIE_ROOT][
                "string"
            ]
    return out


def _check_claims(
    pods: dict[str, dict[str, Any]],
    claims: dict[str, dict[str, Any]],
    roots: dict[tuple[str, str, str], str],
) -> int:
    """The independent checker; returns how many bound pods it checked."""
    owner_of: dict[tuple[str, str, str], str] = {}
    checked = 0
    for name, pod in pods.items():
        node = pod["spec"].get("nodeName")
        if not node:
            continue
        statuses = pod.get("status", {}).get("resourceClaimStatuses") or []
        assert len(statuses) == 1, f"{name}: {statuses}"
        claim = claims[statuses[0]["resourceClaimName"]]
        status = claim.get("status", {})
        allocation = status.get("allocation")
        assert allocation is not None, f"{name} bound on {node} without its allocation"
        reserved = [r["uid"] for r in status.get("reservedFor", [])]
        assert pod["metadata"]["uid"] in reserved, f"{name}: claim not reserved for it"
        results = allocation["devices"]["results"]
        assert Counter(r["request"] for r in results) == {"gpu": 2, "nic": 1}, results
        devices = [(r["driver"], r["pool"], r["device"]) for r in results]
        assert {d[1] for d in devices} == {node}, f"{name}: devices not on {node}: {devices}"
        assert len({roots[d] for d in devices}) == 1, f"{name}: devices on several roots"
        for d in devices:
            assert d not in owner_of, f"{d} allocated to {owner_of[d]} and {name}"
            owner_of[d] = name
        checked += 1
    return checked


async def test_template_claims_are_allocated_reserved_and_released_across_a_restart(
    live_api: ApiClient, live_namespace: str, live_node_labels: dict[str, str]
) -> None:
    api, namespace, labels = live_api, live_namespace, live_node_labels
    suffix = labels["podium.dev/test"]
    gpu_driver, nic_driver = f"gpu.{suffix}.example.com", f"nic.{suffix}.example.com"
    gpu_class, nic_class = f"gpu-{suffix}", f"nic-{suffix}"
    nodes = [f"dra-{suffix}-{i}" for i in range(NODES)]
    slices = [
        s
        for node in nodes
        for s in (
            gpu_slice(f"{node}-gpu", node, gpu_driver),
            nic_slice(f"{node}-nic", node, nic_driver),
        )
    ]
    roots = _roots(slices)
    await create_nodes(api, [make_kwok_node(n, labels=labels) for n in nodes])
    pods_path = f"/api/v1/namespaces/{namespace}/pods"
    claims_path = f"{RESOURCE_API}/namespaces/{namespace}/resourceclaims"
    try:
        await create(
            api,
            [
                device_class(gpu_class, gpu_driver),
                device_class(nic_class, nic_driver),
                *slices,
                resource_claim_template(
                    "aligned",
                    namespace,
                    [exact_request("gpu", gpu_class, count=2), exact_request("nic", nic_class)],
                    match_attributes=[PCIE_ROOT],
                ),
            ],
        )

        def pod(i: int) -> dict[str, Any]:
            body = make_pod(f"train-{i}", namespace, scheduler_name="podium", node_selector=labels)
            return with_claim_templates(body, {"devices": "aligned"})

        async def submit(indices: range) -> None:
            for i in indices:
                await request_bytes(api, "POST", pods_path, body=pod(i))

        async def bound() -> dict[str, dict[str, Any]]:
            pods = await _listed(api, pods_path)
            return {n: p for n, p in pods.items() if p["spec"].get("nodeName")}

        capacity = NODES * PODS_PER_NODE
        half = capacity // 2
        async with Podium(default_config(), api, identity="dra-lifecycle-1") as podium:
            await podium.start_scheduling()
            await submit(range(half))

            async def first_half() -> bool:
                return len(await bound()) == half

            await until(first_half, f"{half} pods bound by the first podium", WAIT_SECONDS)
        # A new podium: what is allocated is known from the claims only.
        async with Podium(default_config(), api, identity="dra-lifecycle-2") as podium:
            await podium.start_scheduling()
            await submit(range(half, capacity + 1))

            async def full() -> bool:
                return len(await bound()) == capacity

            await until(full, f"{capacity} pods bound, one waiting", WAIT_SECONDS)
            pods = await _listed(api, pods_path)
            claims = await _listed(api, claims_path)
            assert _check_claims(pods, claims, roots) == capacity
            (waiting,) = (n for n, p in pods.items() if not p["spec"].get("nodeName"))

            # Running (KWOK) pods; one deleted: the controller-manager deletes its claim, and
            # its devices go to the pod that waited.
            async def running() -> bool:
                current = await bound()
                return all(p["status"].get("phase") == "Running" for p in current.values())

            await until(running, "bound pods Running on KWOK nodes", WAIT_SECONDS)
            gone = next(iter(sorted(await bound())))
            await request_bytes(
                api, "DELETE", f"{pods_path}/{gone}", query={"gracePeriodSeconds": 0}
            )

            async def replaced() -> bool:
                current = await bound()
                return waiting in current and gone not in current

            await until(replaced, f"{waiting} bound on the devices {gone} freed", WAIT_SECONDS)

            async def settled() -> bool:
                pods = await _listed(api, pods_path)
                claims = await _listed(api, claims_path)
                try:
                    return _check_claims(pods, claims, roots) == capacity
                except KeyError:
                    return False  # a claim deleted with its pod, not yet gone from the list

            await until(settled, "every bound pod's claim valid", WAIT_SECONDS)
            assert podium.state.assumed_count == 0
    finally:
        await delete_cluster_objects(
            api,
            classes=[gpu_class, nic_class],
            slices=[s["metadata"]["name"] for s in slices],
        )


async def test_a_pod_preempts_for_the_devices_a_lower_priority_pod_holds(
    live_api: ApiClient, live_namespace: str, live_node_labels: dict[str, str]
) -> None:
    """One KWOK node of 8 GPUs, held by a low-priority pod's claim. A high-priority pod asking 8
    GPUs preempts it (kube-scheduler would not: it does not count devices in preemption); the
    controller-manager deletes the victim's claim with it, and the preemptor binds on the freed
    devices."""
    api, namespace, labels = live_api, live_namespace, live_node_labels
    suffix = labels["podium.dev/test"]
    gpu_driver, gpu_class = f"gpu.{suffix}.example.com", f"gpu-{suffix}"
    node = f"dra-preempt-{suffix}"
    slices = [gpu_slice(f"{node}-gpu", node, gpu_driver)]
    classes = {f"low-{suffix}": 10, f"high-{suffix}": 1000}
    await create_nodes(api, [make_kwok_node(node, labels=labels)])
    pods_path = f"/api/v1/namespaces/{namespace}/pods"
    try:
        for name, value in classes.items():
            await request_bytes(
                api,
                "POST",
                "/apis/scheduling.k8s.io/v1/priorityclasses",
                body=make_priority_class(name, value),
            )
        await create(
            api,
            [
                device_class(gpu_class, gpu_driver),
                *slices,
                resource_claim_template(
                    "all-gpus", namespace, [exact_request("gpu", gpu_class, count=8)]
                ),
            ],
        )

        def pod(name: str, priority_class: str) -> dict[str, Any]:
            body = make_pod(
                name,
                namespace,
                scheduler_name="podium",
                node_selector=labels,
                priority_class_name=priority_class,
            )
            return with_claim_templates(body, {"gpus": "all-gpus"})

        async with Podium(default_config(), api, identity="dra-preempt") as podium:
            await podium.start_scheduling()
            await request_bytes(api, "POST", pods_path, body=pod("low", f"low-{suffix}"))

            async def low_bound() -> bool:
                return "low" in await _bound(api, pods_path)

            await until(low_bound, "the low-priority pod bound with 8 GPUs", WAIT_SECONDS)
            await request_bytes(api, "POST", pods_path, body=pod("high", f"high-{suffix}"))

            async def high_bound() -> bool:
                bound = await _bound(api, pods_path)
                return "high" in bound and "low" not in bound

            await until(high_bound, "the high-priority pod bound after preempting", WAIT_SECONDS)
            claims = await _listed(api, f"{RESOURCE_API}/namespaces/{namespace}/resourceclaims")
            pods = await _listed(api, pods_path)
            (claim_name,) = (
                s["resourceClaimName"] for s in pods["high"]["status"]["resourceClaimStatuses"]
            )
            allocation = claims[claim_name]["status"]["allocation"]
            assert len(allocation["devices"]["results"]) == 8
    finally:
        for name in classes:
            await request_bytes(api, "DELETE", f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )


async def _bound(api: ApiClient, pods_path: str) -> set[str]:
    pods = await _listed(api, pods_path)
    return {n for n, p in pods.items() if p["spec"].get("nodeName")}
