"""Extended resources backed by DRA (kube's DRAExtendedResource) on the real apiserver: a
DeviceClass names ``nvidia.com/gpu`` as its ``extendedResourceName``, a node has no device
plugin (no ``nvidia.com/gpu`` in its allocatable) but a driver's ResourceSlice of 8 GPUs, and
pods ask ``nvidia.com/gpu`` in their containers. podium places them there, creates the claim
kube-scheduler would (owner, annotation, one request per container), writes its allocation
and reservation, and records it in the pod's ``status.extendedResourceClaimStatus``, all
before the Binding; a pod whose GPUs are not there stays pending, and no claim is left. A claim
an earlier attempt left behind (its Binding failed and it could not be deleted) is deleted when
the pod next fits nowhere (kube's PostFilter), or before the pod is bound elsewhere."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.dra import create, delete_cluster_objects, device_class, gpu_slice
from podium.testing.nodes import create_nodes, make_node
from podium.testing.podgroups import POD_GROUP_LABEL, create_pod_group, make_pod_group
from podium.testing.pods import make_pod

from .test_dra import _pods, _schedule, _scheduled_message

pytestmark = pytest.mark.timeout(180)

GPU = "nvidia.com/gpu"


async def _claims(api: ApiClient, namespace: str) -> list[dict[str, Any]]:
    body = orjson.loads(
        await request_bytes(
            api, "GET", f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims"
        )
    )
    return list(body["items"])


async def test_a_pod_asking_gpus_gets_them_from_dra_on_a_node_without_a_device_plugin(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    driver, gpu_class = f"gpu.{namespace}.example.com", f"gpu-{namespace}"
    node = f"dra-only-{node_labels[next(iter(node_labels))]}"
    slices = [gpu_slice(f"{node}-gpu", node, driver, gpus=8)]
    await create_nodes(api, [make_node(node, labels=node_labels)])
    try:
        await create(api, [device_class(gpu_class, driver, extended_resource_name=GPU), *slices])

        def pod(name: str, gpus: int) -> dict[str, Any]:
            return make_pod(
                name,
                namespace,
                scheduler_name="podium",
                node_selector=node_labels,
                requests={"cpu": "1", GPU: gpus},
                limits={GPU: gpus},
            )

        stored = await _schedule(api, namespace, [pod("two", 2), pod("seven", 7)])
        bound = {name for name, p in stored.items() if p["spec"].get("nodeName")}
        assert len(bound) == 1, {n: _scheduled_message(p) for n, p in stored.items()}
        (name,) = bound
        waiting = "seven" if name == "two" else "two"
        placed = stored[name]
        assert placed["spec"]["nodeName"] == node
        count = 2 if name == "two" else 7
        # The claim kube-scheduler would have made, allocated and reserved before the Binding.
        claims = await _claims(api, namespace)
        assert len(claims) == 1, [c["metadata"]["name"] for c in claims]
        claim = claims[0]
        meta = claim["metadata"]
        assert meta["name"].startswith(f"{name}-extended-resources-")
        assert meta["annotations"] == {"resource.kubernetes.io/extended-resource-claim": "true"}
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "Pod",
            placed["metadata"]["uid"],
            True,
        )
        assert "resource.kubernetes.io/delete-protection" in meta["finalizers"]
        # cpu comes before nvidia.com/gpu among the container's requests: request 1.
        assert claim["spec"]["devices"]["requests"] == [
            {
                "name": "container-0-request-1",
                "exactly": {
                    "deviceClassName": gpu_class,
                    "allocationMode": "ExactCount",
                    "count": count,
                },
            }
        ]
        allocation = claim["status"]["allocation"]
        results = allocation["devices"]["results"]
        assert len(results) == count
        assert {(r["driver"], r["pool"], r["request"]) for r in results} == {
            (driver, node, "container-0-request-1")
        }
        assert allocation["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0]["values"] == [
            node
        ]
        assert [r["uid"] for r in claim["status"]["reservedFor"]] == [placed["metadata"]["uid"]]
        assert placed["status"]["extendedResourceClaimStatus"] == {
            "resourceClaimName": meta["name"],
            "requestMappings": [
                {
                    "containerName": "main",
                    "resourceName": GPU,
                    "requestName": "container-0-request-1",
                }
            ],
        }
        # Only 8 GPUs: the other pod waits, with no claim of its own.
        assert "cannot allocate all claims" in _scheduled_message(stored[waiting])
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )


async def _leave_claim(
    api: ApiClient, namespace: str, pod: dict[str, Any], node: str, driver: str, gpus: int
) -> dict[str, Any]:
    """The claim an earlier attempt's PreBind made for ``pod``'s extended resources, allocated
    ``gpus`` GPUs of ``node`` and reserved for the pod, as if its Binding then failed and the
    claim could not be deleted (or podium stopped before the Binding)."""
    gpu_class = f"gpu-{namespace}"
    request = "container-0-request-1"
    path = f"/apis/resource.k8s.io/v1/namespaces/{namespace}/resourceclaims"
    claim = orjson.loads(
        await request_bytes(
            api,
            "POST",
            path,
            body={
                "metadata": {
                    "generateName": f"{pod['metadata']['name']}-extended-resources-",
                    "namespace": namespace,
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": pod["metadata"]["name"],
                            "uid": pod["metadata"]["uid"],
                            "controller": True,
                        }
                    ],
                    "annotations": {"resource.kubernetes.io/extended-resource-claim": "true"},
                    "finalizers": ["resource.kubernetes.io/delete-protection"],
                },
                "spec": {
                    "devices": {
                        "requests": [
                            {
                                "name": request,
                                "exactly": {"deviceClassName": gpu_class, "count": gpus},
                            }
                        ]
                    }
                },
            },
        )
    )
    claim["status"] = {
        "allocation": {
            "devices": {
                "results": [
                    {"request": request, "driver": driver, "pool": node, "device": f"gpu-{i}"}
                    for i in range(gpus)
                ]
            },
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
                ]
            },
        },
        "reservedFor": [
            {"resource": "pods", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
        ],
    }
    name = claim["metadata"]["name"]
    return dict(orjson.loads(await request_bytes(api, "PUT", f"{path}/{name}/status", body=claim)))


async def _run_podium_until_bound(
    api: ApiClient, namespace: str, name: str, also: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Runs podium until pod ``name`` (and those ``also`` named) is bound and no claim is being
    deleted (or 45 s passed); the pod as stored then."""
    async with Podium(default_config(), api, identity="dra-leftover-test") as podium:
        await podium.start_scheduling()
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            stored = await _pods(api, namespace)
            claims = await _claims(api, namespace)
            bound = all(stored[n]["spec"].get("nodeName") for n in (name, *also))
            if bound and not any(c["metadata"].get("deletionTimestamp") for c in claims):
                break
        await podium.conditions.flush()
    return (await _pods(api, namespace))[name]


async def test_a_claim_left_by_an_earlier_attempt_is_deleted_when_the_pod_fits_nowhere(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    """kube's PostFilter: the leftover claim holds 7 of the node's 8 GPUs, so the pod (asking 2)
    fits nowhere while it exists. It is deleted, and the pod placed on a fresh claim; without
    that, the pod waited for ever behind its own claim."""
    driver, gpu_class = f"gpu.{namespace}.example.com", f"gpu-{namespace}"
    node = f"dra-left-{node_labels[next(iter(node_labels))]}"
    slices = [gpu_slice(f"{node}-gpu", node, driver, gpus=8)]
    await create_nodes(api, [make_node(node, labels=node_labels)])
    try:
        await create(api, [device_class(gpu_class, driver, extended_resource_name=GPU), *slices])
        pod = orjson.loads(
            await request_bytes(
                api,
                "POST",
                f"/api/v1/namespaces/{namespace}/pods",
                body=make_pod(
                    "two",
                    namespace,
                    scheduler_name="podium",
                    node_selector=node_labels,
                    requests={"cpu": "1", GPU: 2},
                    limits={GPU: 2},
                ),
            )
        )
        left = await _leave_claim(api, namespace, pod, node, driver, gpus=7)
        placed = await _run_podium_until_bound(api, namespace, "two")
        assert placed["spec"].get("nodeName") == node, _scheduled_message(placed)
        claims = await _claims(api, namespace)
        assert [
            c["metadata"]["uid"] for c in claims if c["metadata"]["uid"] == left["metadata"]["uid"]
        ] == []
        (claim,) = claims
        assert len(claim["status"]["allocation"]["devices"]["results"]) == 2
        assert (
            placed["status"]["extendedResourceClaimStatus"]["resourceClaimName"]
            == (claim["metadata"]["name"])
        )
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )


async def test_a_claim_left_by_an_earlier_attempt_is_deleted_when_a_device_plugin_serves_the_pod(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    """The pod goes where a device plugin offers nvidia.com/gpu (no claim to write this time):
    the claim an earlier attempt left on the DRA node is deleted all the same, before the
    Binding, or it would hold 7 GPUs for as long as the pod runs."""
    driver, gpu_class = f"gpu.{namespace}.example.com", f"gpu-{namespace}"
    suffix = node_labels[next(iter(node_labels))]
    dra_node, plugin_node = f"dra-left-{suffix}", f"plugin-{suffix}"
    slices = [gpu_slice(f"{dra_node}-gpu", dra_node, driver, gpus=8)]
    await create_nodes(
        api,
        [
            make_node(dra_node, labels=node_labels),
            make_node(plugin_node, gpus=8, labels=node_labels),
        ],
    )
    try:
        await create(api, [device_class(gpu_class, driver, extended_resource_name=GPU), *slices])
        pod = orjson.loads(
            await request_bytes(
                api,
                "POST",
                f"/api/v1/namespaces/{namespace}/pods",
                body=make_pod(
                    "two",
                    namespace,
                    scheduler_name="podium",
                    node_selector=node_labels,
                    requests={"cpu": "1", GPU: 2},
                    limits={GPU: 2},
                ),
            )
        )
        await _leave_claim(api, namespace, pod, dra_node, driver, gpus=7)
        placed = await _run_podium_until_bound(api, namespace, "two")
        assert placed["spec"].get("nodeName") == plugin_node, _scheduled_message(placed)
        assert await _claims(api, namespace) == []
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )


async def test_a_gang_members_leftover_claim_is_deleted_when_the_gang_fits_nowhere(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    """A gang of two asking 2 GPUs each on a node of 8; the claim an earlier attempt left for
    one member holds 7, so the gang fits nowhere while it exists. kube's PostFilter deletes it
    for a gang member as for a lone pod, and the gang is placed whole on fresh claims."""
    driver, gpu_class = f"gpu.{namespace}.example.com", f"gpu-{namespace}"
    node = f"dra-gang-left-{node_labels[next(iter(node_labels))]}"
    slices = [gpu_slice(f"{node}-gpu", node, driver, gpus=8)]
    await create_nodes(api, [make_node(node, labels=node_labels)])
    try:
        await create(api, [device_class(gpu_class, driver, extended_resource_name=GPU), *slices])
        await create_pod_group(api, make_pod_group("pair", namespace, min_member=2))
        pods = [
            orjson.loads(
                await request_bytes(
                    api,
                    "POST",
                    f"/api/v1/namespaces/{namespace}/pods",
                    body=make_pod(
                        name,
                        namespace,
                        scheduler_name="podium",
                        node_selector=node_labels,
                        requests={"cpu": "1", GPU: 2},
                        limits={GPU: 2},
                        labels={POD_GROUP_LABEL: "pair"},
                    ),
                )
            )
            for name in ("a", "b")
        ]
        left = await _leave_claim(api, namespace, pods[0], node, driver, gpus=7)
        await _run_podium_until_bound(api, namespace, "a", also=("b",))
        stored = await _pods(api, namespace)
        assert [stored[n]["spec"].get("nodeName") for n in ("a", "b")] == [node, node], {
            n: _scheduled_message(p) for n, p in stored.items()
        }
        claims = await _claims(api, namespace)
        assert left["metadata"]["uid"] not in {c["metadata"]["uid"] for c in claims}
        assert sorted(len(c["status"]["allocation"]["devices"]["results"]) for c in claims) == [
            2,
            2,
        ]
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )
