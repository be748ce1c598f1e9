"""Extended resources backed by DRA (kube's DRAExtendedResource) on the real apiserver: a
DeviceClass names ``nvidia.com/gpu`` as its ``extendedResourceName``, a node has no device
plugin (no ``nvidia.com/gpu`` in its allocatable) but a driver's ResourceSlice of 8 GPUs, and
pods ask ``nvidia.com/gpu`` in their containers. podium places them there, creates the claim
kube-scheduler would (owner, annotation, one request per container), writes its allocation
and reservation, and records it in the pod's ``status.extendedResourceClaimStatus``, all
before the Binding; a pod whose GPUs are not there stays pending, and no claim is left."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.dra import create, delete_cluster_objects, device_class, gpu_slice
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod

from .test_dra import _schedule, _scheduled_message

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
