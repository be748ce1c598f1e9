"""DynamicResources on the real apiserver: DeviceClasses, ResourceSlices and ResourceClaims
(resource.k8s.io/v1) published as GPU and NIC drivers would, podium in-process, and what it
says on the pods. A pod whose claim fits is bound only after its claim's allocation and its
reservation are written (DynamicResources' PreBind); the others stay pending with the reason
naming their claim (and request)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.dra import (
    PCIE_ROOT,
    create,
    delete_cluster_objects,
    device_class,
    exact_request,
    gpu_slice,
    nic_slice,
    resource_claim,
    with_claims,
)
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod

pytestmark = pytest.mark.timeout(180)

SETTLE_SECONDS = 60


async def _pods(api: ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    body = orjson.loads(await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods"))
    return {p["metadata"]["name"]: p for p in body["items"]}


def _scheduled_message(pod: Mapping[str, Any]) -> str:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled":
            return str(condition.get("message", ""))
    return ""


async def _schedule(
    api: ApiClient, namespace: str, pods: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Runs podium until every pod is bound or parked unschedulable, its condition written."""
    async with Podium(default_config(), api, identity="dra-test") as podium:
        await podium.start_scheduling()
        for pod in pods:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
        deadline = time.monotonic() + SETTLE_SECONDS
        settled = False
        while not settled and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            stored = await _pods(api, namespace)
            bound = sum(1 for p in stored.values() if p["spec"].get("nodeName"))
            counts = podium.queue.pending_counts()
            written = all(
                _scheduled_message(p) for p in stored.values() if not p["spec"].get("nodeName")
            )
            settled = (
                counts["active"] == 0
                and counts["backoff"] == 0
                and bound + counts["unschedulable"] == len(pods)
                and written
            )
        await podium.conditions.flush()
    assert settled, f"pods did not settle: {podium.queue.pending_counts()}"
    return await _pods(api, namespace)


def _root(slices: list[dict[str, Any]], pool: str, device: str) -> str:
    for s in slices:
        if s["spec"]["pool"]["name"] != pool:
            continue
        for d in s["spec"]["devices"]:
            if d["name"] == device:
                return str(d["attributes"][PCIE_ROOT]["string"])
    raise AssertionError(f"device {pool}/{device} is in no slice")


async def test_claims_are_allocated_before_binding_and_never_bound_blindly(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    gpu_driver, nic_driver = f"gpu.{namespace}.example.com", f"nic.{namespace}.example.com"
    gpu_class, nic_class = f"gpu-{namespace}", f"nic-{namespace}"
    nodes = [f"dra-{node_labels[next(iter(node_labels))]}-{i}" for i in range(2)]
    slices = [
        s
        for node in nodes
        for s in (
            gpu_slice(f"{node}-gpu", node, gpu_driver),
            nic_slice(f"{node}-nic", node, nic_driver),
        )
    ]
    await create_nodes(api, [make_node(n, labels=node_labels) for n in nodes])
    try:
        memory = f"device.capacity[{gpu_driver!r}].memory.compareTo(quantity('40Gi')) >= 0"
        # The apiserver refuses a selector that does not compile; this one fails on every GPU.
        missing = f"device.attributes[{gpu_driver!r}].noSuchAttribute == 'x'"
        await create(
            api,
            [
                device_class(gpu_class, gpu_driver),
                device_class(nic_class, nic_driver),
                *slices,
                resource_claim(
                    "aligned",
                    namespace,
                    [
                        exact_request("gpu", gpu_class, count=2, selectors=[memory]),
                        exact_request("nic", nic_class),
                    ],
                    match_attributes=[PCIE_ROOT],
                ),
                resource_claim("nine", namespace, [exact_request("gpu", gpu_class, count=9)]),
                resource_claim(
                    "broken",
                    namespace,
                    [exact_request("gpu", gpu_class, selectors=[missing])],
                ),
            ],
        )

        def pod(name: str, claim: str) -> dict[str, Any]:
            body = make_pod(name, namespace, scheduler_name="podium", node_selector=node_labels)
            return with_claims(body, {"devices": claim})

        stored = await _schedule(
            api,
            namespace,
            [
                pod("fits", "aligned"),
                pod("too-big", "nine"),
                pod("bad-selector", "broken"),
                pod("no-claim", "missing"),
            ],
        )
        bound = {name for name, p in stored.items() if p["spec"].get("nodeName")}
        assert bound == {"fits"}, "bound blindly"
        messages = {name: _scheduled_message(p) for name, p in stored.items()}
        # The claim: allocated on the pod's node (two GPUs and the NIC of one PCIe root),
        # reserved for the pod, protected by kube's finalizer.
        claim = orjson.loads(
            await request_bytes(
                api,
                "GET",
                f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims/aligned",
            )
        )
        node = stored["fits"]["spec"]["nodeName"]
        allocation = claim["status"]["allocation"]
        results = allocation["devices"]["results"]
        assert sorted(r["request"] for r in results) == ["gpu", "gpu", "nic"], results
        assert {r["pool"] for r in results} == {node}
        assert {r["driver"] for r in results} == {gpu_driver, nic_driver}
        terms = allocation["nodeSelector"]["nodeSelectorTerms"]
        assert terms[0]["matchFields"][0]["values"] == [node]
        reserved_for = claim["status"]["reservedFor"]
        assert [r["uid"] for r in reserved_for] == [stored["fits"]["metadata"]["uid"]]
        assert "resource.kubernetes.io/delete-protection" in claim["metadata"]["finalizers"]
        # One PCIe root for all three, as the slices say.
        roots = {_root(slices, r["pool"], r["device"]) for r in results}
        assert len(roots) == 1, roots
        assert "cannot allocate all claims" in messages["too-big"], messages
        assert f"claim {namespace}/broken, request gpu" in messages["bad-selector"], messages
        assert "CEL runtime error" in messages["bad-selector"], messages
        assert '"missing" not found' in messages["no-claim"], messages
    finally:
        await delete_cluster_objects(
            api,
            classes=[gpu_class, nic_class],
            slices=[s["metadata"]["name"] for s in slices],
        )
