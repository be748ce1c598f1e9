"""DynamicResources under failing writes: a pod is never bound without its claim allocated and
reserved for it, a failed Binding takes the reservation back (Unreserve), a refused claim write
binds nothing, and once the apiserver accepts again the pod lands with its devices, each device
in one claim only."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.dra import (
    RESOURCE_API,
    create,
    delete_cluster_objects,
    device_class,
    exact_request,
    gpu_slice,
    resource_claim,
    with_claims,
)
from podium.testing.faultproxy import FaultProxy, Respond, Rule
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod

from .harness import create_pods, list_items, podium_behind, scheduler_name, wait_idle

pytestmark = pytest.mark.timeout(200)

WAIT_SECONDS = 90.0


async def _claims(api: ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    items = await list_items(api, f"{RESOURCE_API}/namespaces/{namespace}/resourceclaims")
    return {c["metadata"]["name"]: c for c in items}


async def _wait_fired(rule: Rule, times: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while rule.fired < times:
        assert time.monotonic() < deadline, f"fault fired {rule.fired}/{times}"
        await asyncio.sleep(0.2)


async def test_failed_writes_bind_nothing_and_a_failed_binding_is_unreserved(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    suffix = node_labels[next(iter(node_labels))]
    driver, gpu_class = f"gpu.{suffix}.example.com", f"gpu-{suffix}"
    node = f"dra-faults-{suffix}"
    slices = [gpu_slice(f"{node}-gpu", node, driver)]
    await create_nodes(api, [make_node(node, labels=node_labels)])
    try:
        await create(
            api,
            [
                device_class(gpu_class, driver),
                *slices,
                resource_claim("first", namespace, [exact_request("gpu", gpu_class, count=4)]),
                resource_claim("second", namespace, [exact_request("gpu", gpu_class, count=4)]),
            ],
        )
        name = scheduler_name()

        def pod(pod_name: str, claim: str) -> dict[str, Any]:
            body = make_pod(pod_name, namespace, scheduler_name=name, node_selector=node_labels)
            return with_claims(body, {"gpus": claim})

        # 1. The claim's status write is refused: nothing is bound, the claim stays unallocated.
        refused = proxy.add(Rule(Respond(500), method="PUT", path="/resourceclaims/first/status$"))
        # 2. The other pod's Binding fails after its claim was written: Unreserve.
        doomed = proxy.add(Rule(Respond(500), method="POST", path="/pods/uses-second/binding$"))
        async with podium_behind(proxy, tmp_path, name, {"bindRetries": 0}) as podium:
            await create_pods(
                api, namespace, [pod("uses-first", "first"), pod("uses-second", "second")]
            )
            await _wait_fired(refused, 2)
            await _wait_fired(doomed, 2)
            pods = {
                p["metadata"]["name"]: p
                for p in await list_items(api, f"/api/v1/namespaces/{namespace}/pods")
            }
            assert not any(p["spec"].get("nodeName") for p in pods.values()), "bound blindly"
            claims = await _claims(api, namespace)
            assert claims["first"].get("status", {}).get("allocation") is None
            # Written, then taken back: allocated, reserved for nobody.
            second = claims["second"]["status"]
            assert second.get("allocation") is not None
            doomed_uid = pods["uses-second"]["metadata"]["uid"]
            assert doomed_uid not in [r["uid"] for r in second.get("reservedFor") or []]

            proxy.remove(refused)
            proxy.remove(doomed)
            listed = await wait_idle(podium, api, namespace, expect_bound=2, within=WAIT_SECONDS)
        # As kube-scheduler, PreBind reads no claim before writing it (no conflict arose): the
        # apiserver took the finalizer and reservation patches as they were sent.
        claim_path = f"{RESOURCE_API}/namespaces/{namespace}/resourceclaims/"
        on_claims = [(e.method, e.upstream_status) for e in proxy.exchanges if claim_path in e.path]
        assert ("PATCH", 200) in on_claims, on_claims
        assert not [m for m, _ in on_claims if m == "GET"], on_claims
        claims = await _claims(api, namespace)
        owners: dict[tuple[str, str], str] = {}
        for p in listed:
            (status,) = (
                c
                for c in claims.values()
                if c["metadata"]["name"] == p["spec"]["resourceClaims"][0]["resourceClaimName"]
            )
            reserved = [r["uid"] for r in status["status"]["reservedFor"]]
            assert reserved == [p["metadata"]["uid"]], reserved
            for r in status["status"]["allocation"]["devices"]["results"]:
                key = (r["pool"], r["device"])
                assert key not in owners, f"{key} in two claims"
                owners[key] = p["metadata"]["name"]
        assert len(owners) == 8
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )


async def test_a_claim_made_for_extended_resources_is_deleted_when_its_pod_does_not_bind(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    """DRA-backed extended resources: PreBind creates the pod's claim, writes it, records it in
    the pod's status; if that record or the Binding fails, Unreserve deletes the claim (its
    finalizer lifted first), so no devices stay held by a pod that did not bind."""
    suffix = node_labels[next(iter(node_labels))]
    driver, gpu_class = f"gpu.{suffix}.example.com", f"gpu-{suffix}"
    resource = f"{suffix}.example.com/gpu"
    node = f"dra-ext-faults-{suffix}"
    slices = [gpu_slice(f"{node}-gpu", node, driver)]
    await create_nodes(api, [make_node(node, labels=node_labels)])
    try:
        await create(
            api, [device_class(gpu_class, driver, extended_resource_name=resource), *slices]
        )
        name = scheduler_name()

        def pod(pod_name: str) -> dict[str, Any]:
            return make_pod(
                pod_name,
                namespace,
                scheduler_name=name,
                node_selector=node_labels,
                requests={resource: 4},
                limits={resource: 4},
            )

        # 1. The pod's extendedResourceClaimStatus is refused after its claim was written.
        unrecorded = proxy.add(
            Rule(Respond(500), method="PATCH", path="/pods/ext-unrecorded/status$")
        )
        # 2. The other pod's Binding fails after all of it was written.
        doomed = proxy.add(Rule(Respond(500), method="POST", path="/pods/ext-doomed/binding$"))
        async with podium_behind(proxy, tmp_path, name, {"bindRetries": 0}) as podium:
            await create_pods(api, namespace, [pod("ext-unrecorded"), pod("ext-doomed")])
            await _wait_fired(unrecorded, 2)
            await _wait_fired(doomed, 2)
            pods = await list_items(api, f"/api/v1/namespaces/{namespace}/pods")
            assert not any(p["spec"].get("nodeName") for p in pods), "bound blindly"
            proxy.remove(unrecorded)
            proxy.remove(doomed)
            listed = await wait_idle(podium, api, namespace, expect_bound=2, within=WAIT_SECONDS)
        claims = await _claims(api, namespace)
        # One claim a pod, the one its status names: the earlier attempts' were deleted.
        assert len(claims) == 2, sorted(claims)
        owners: dict[tuple[str, str], str] = {}
        for p in listed:
            named = p["status"]["extendedResourceClaimStatus"]["resourceClaimName"]
            status = claims[named]["status"]
            assert [r["uid"] for r in status["reservedFor"]] == [p["metadata"]["uid"]]
            for r in status["allocation"]["devices"]["results"]:
                key = (r["pool"], r["device"])
                assert key not in owners, f"{key} in two claims"
                owners[key] = p["metadata"]["name"]
        assert len(owners) == 8
        # Deleted pods' claims go with them (owner references): nothing left holds devices.
        for p in listed:
            await request_bytes(
                api,
                "DELETE",
                f"/api/v1/namespaces/{namespace}/pods/{p['metadata']['name']}",
                query={"gracePeriodSeconds": 0},
            )
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )
