"""The live local cluster: kube-controller-manager and KWOK around the real apiserver, with
podium scheduling what users submit.

A Deployment's ReplicaSet creates pods that podium binds and KWOK runs; a Job's pods succeed
after their run time and the Job completes; a deleted owner's and a deleted namespace's objects
are garbage-collected; KWOK registers its nodes and renews their Leases, and leaves static
nodes alone; the node lifecycle controller taints a node that stopped reporting, never KWOK's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes
from podium.runner import Podium
from podium.testing.binaries import Binaries
from podium.testing.kwok.nodes import KWOK_NODE_ANNOTATION, make_kwok_node
from podium.testing.live_cluster import LiveCluster
from podium.testing.nodes import GPU_RESOURCE, create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.waiting import until
from podium.testing.workloads import make_deployment, make_job

pytestmark = pytest.mark.timeout(180)

WAIT_SECONDS = 60
NODE_LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


async def _get(api: ApiClient, path: str) -> Any:
    return orjson.loads(await request_bytes(api, "GET", path))


async def _post(api: ApiClient, path: str, body: dict[str, Any]) -> Any:
    return orjson.loads(await request_bytes(api, "POST", path, body=body))


async def _missing(api: ApiClient, path: str) -> bool:
    try:
        await request_bytes(api, "GET", path)
    except ApiStatusError as error:
        if error.status == 404:
            return True
        raise
    return False


async def _pods(api: ApiClient, namespace: str, selector: str | None = None) -> list[Any]:
    query: dict[str, str | int | bool] = {} if selector is None else {"labelSelector": selector}
    body = orjson.loads(
        await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods", query=query)
    )
    items: list[Any] = body["items"]
    return items


def _condition(obj: Any, kind: str) -> str | None:
    for condition in obj.get("status", {}).get("conditions") or ():
        if condition["type"] == kind:
            status: str = condition["status"]
            return status
    return None


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest_asyncio.fixture
async def podium(live_api: ApiClient) -> AsyncIterator[Podium]:
    async with Podium(default_config(), live_api, identity="live-cluster-test") as running:
        await running.start_scheduling()
        yield running


async def _kwok_nodes(
    api: ApiClient, labels: dict[str, str], count: int, gpus: int = 8
) -> list[str]:
    names = await create_nodes(
        api,
        [
            make_kwok_node(f"kwok-{labels['podium.dev/test']}-{i}", gpus=gpus, labels=labels)
            for i in range(count)
        ],
    )

    async def ready() -> bool:
        nodes = [await _get(api, f"/api/v1/nodes/{name}") for name in names]
        return all(_condition(node, "Ready") == "True" for node in nodes)

    await until(ready, "KWOK to register its nodes Ready", WAIT_SECONDS)
    return names


async def test_controller_manager_sets_up_every_namespace(
    live_api: ApiClient, live_namespace: str
) -> None:
    # The ServiceAccount and token controllers, and the root CA publisher, act on a new namespace.
    async def set_up() -> bool:
        return not await _missing(
            live_api, f"/api/v1/namespaces/{live_namespace}/serviceaccounts/default"
        ) and not await _missing(
            live_api, f"/api/v1/namespaces/{live_namespace}/configmaps/kube-root-ca.crt"
        )

    await until(set_up, "the default ServiceAccount and kube-root-ca.crt", WAIT_SECONDS)
    ca = await _get(live_api, f"/api/v1/namespaces/{live_namespace}/configmaps/kube-root-ca.crt")
    assert "BEGIN CERTIFICATE" in ca["data"]["ca.crt"]


async def test_kwok_registers_its_nodes_renews_their_leases_and_leaves_static_nodes_alone(
    live_api: ApiClient, live_node_labels: dict[str, str]
) -> None:
    kwok = await _kwok_nodes(live_api, live_node_labels, count=2)
    static = f"static-{live_node_labels['podium.dev/test']}"
    await create_nodes(live_api, [make_node(static, labels=live_node_labels)])

    for name in kwok:
        node = await _get(live_api, f"/api/v1/nodes/{name}")
        assert node["metadata"]["annotations"][KWOK_NODE_ANNOTATION] == "fake"
        # KWOK keeps the capacity the node was created with.
        assert node["status"]["capacity"][GPU_RESOURCE] == "8"
        assert node["status"]["allocatable"][GPU_RESOURCE] == "8"
        assert {address["type"] for address in node["status"]["addresses"]} >= {
            "InternalIP",
            "Hostname",
        }
        assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("kwok-")

    leases = f"/apis/coordination.k8s.io/v1/namespaces/{NODE_LEASE_NAMESPACE}/leases"

    async def leased() -> bool:
        return all([not await _missing(live_api, f"{leases}/{name}") for name in kwok])

    await until(leased, "KWOK to create the nodes' Leases", WAIT_SECONDS)
    first = {name: await _get(live_api, f"{leases}/{name}") for name in kwok}
    for lease in first.values():
        # Held by KWOK's controller, as a node's Lease is by its kubelet.
        assert lease["spec"]["holderIdentity"]
        assert lease["spec"]["leaseDurationSeconds"] == 40

    async def renewed() -> bool:
        for name, lease in first.items():
            now = await _get(live_api, f"{leases}/{name}")
            if now["spec"]["renewTime"] == lease["spec"]["renewTime"]:
                return False
        return True

    # KWOK renews every quarter of the 40 s Lease, as the kubelet does.
    await until(renewed, "KWOK to renew the nodes' Leases", WAIT_SECONDS, every=1.0)

    # The node lifecycle controller sees the heartbeats: the nodes stay Ready and untainted.
    for name in kwok:
        node = await _get(live_api, f"/api/v1/nodes/{name}")
        assert _condition(node, "Ready") == "True"
        assert not node["spec"].get("taints")
    # The static node is not KWOK's: no Lease, and the status it was created with.
    assert await _missing(live_api, f"{leases}/{static}")
    node = await _get(live_api, f"/api/v1/nodes/{static}")
    assert "nodeInfo" not in node["status"] or not node["status"]["nodeInfo"].get("kubeletVersion")


async def test_deployment_pods_are_scheduled_by_podium_and_run_on_kwok_nodes(
    live_api: ApiClient,
    live_namespace: str,
    live_node_labels: dict[str, str],
    podium: Podium,
) -> None:
    nodes = set(await _kwok_nodes(live_api, live_node_labels, count=3))
    pod = make_pod(
        "ignored",
        scheduler_name="podium",
        requests={"cpu": "1", GPU_RESOURCE: 2},
        limits={GPU_RESOURCE: 2},
        node_selector=live_node_labels,
        labels={"app": "web"},
    )
    path = f"/apis/apps/v1/namespaces/{live_namespace}/deployments"
    await _post(live_api, path, make_deployment("web", live_namespace, pod, replicas=6))

    async def available() -> bool:
        status = (await _get(live_api, f"{path}/web")).get("status", {})
        return bool(status.get("availableReplicas") == 6)

    await until(available, "the Deployment's 6 pods to be available", WAIT_SECONDS)
    pods = await _pods(live_api, live_namespace, "app=web")
    assert len(pods) == 6
    for running in pods:
        assert running["spec"]["nodeName"] in nodes
        assert running["status"]["phase"] == "Running"
        assert running["status"]["podIP"]
        assert _condition(running, "Ready") == "True"
        (owner,) = running["metadata"]["ownerReferences"]
        assert owner["kind"] == "ReplicaSet"
    # 6 pods of 2 GPUs on 3 nodes of 8: podium counted the GPUs of the pods it bound.
    assert podium.queue.pending_counts().get("unschedulable", 0) == 0

    # Scaling down: the ReplicaSet deletes pods, KWOK finishes their deletion.
    await request_bytes(
        live_api,
        "PATCH",
        f"{path}/web",
        body={"spec": {"replicas": 2}},
        content_type="application/merge-patch+json",
    )

    async def scaled_down() -> bool:
        return len(await _pods(live_api, live_namespace, "app=web")) == 2

    await until(scaled_down, "the scaled-down pods to be gone", WAIT_SECONDS)

    # Deleting the owner: the garbage collector removes the ReplicaSet, then its pods.
    await request_bytes(live_api, "DELETE", f"{path}/web")
    replica_sets = f"/apis/apps/v1/namespaces/{live_namespace}/replicasets"

    async def collected() -> bool:
        left = await _get(live_api, replica_sets)
        return not left["items"] and not await _pods(live_api, live_namespace, "app=web")

    await until(collected, "the garbage collector to remove the ReplicaSet and pods", WAIT_SECONDS)


async def test_job_pods_succeed_after_their_run_time_and_the_job_completes(
    live_api: ApiClient,
    live_namespace: str,
    live_node_labels: dict[str, str],
    podium: Podium,
) -> None:
    await _kwok_nodes(live_api, live_node_labels, count=2)
    pod = make_pod(
        "ignored",
        scheduler_name="podium",
        requests={"cpu": "1", GPU_RESOURCE: 4},
        limits={GPU_RESOURCE: 4},
        node_selector=live_node_labels,
    )
    path = f"/apis/batch/v1/namespaces/{live_namespace}/jobs"
    # 4 pods of 4 GPUs on 2 nodes of 8 GPUs, all at once; each runs 3 seconds.
    job = make_job("train", live_namespace, pod, completions=6, parallelism=4, run_for="3s")
    await _post(live_api, path, job)

    async def complete() -> bool:
        return _condition(await _get(live_api, f"{path}/train"), "Complete") == "True"

    await until(complete, "the Job to complete", WAIT_SECONDS)
    status = (await _get(live_api, f"{path}/train"))["status"]
    assert status["succeeded"] == 6
    assert not status.get("failed")
    pods = await _pods(live_api, live_namespace, "batch.kubernetes.io/job-name=train")
    assert len(pods) == 6
    for finished in pods:
        assert finished["status"]["phase"] == "Succeeded"
        (container,) = finished["status"]["containerStatuses"]
        terminated = container["state"]["terminated"]
        assert terminated["exitCode"] == 0
        # Timestamps have whole seconds: a 3 s run never shows as less than 3.
        ran = _seconds(terminated["finishedAt"]) - _seconds(finished["status"]["startTime"])
        assert ran >= 3, f"pod {finished['metadata']['name']} ran {ran}s"


async def test_deleted_namespace_is_emptied_and_removed(
    live_api: ApiClient, live_node_labels: dict[str, str], podium: Podium
) -> None:
    await _kwok_nodes(live_api, live_node_labels, count=1)
    namespace = f"doomed-{live_node_labels['podium.dev/test']}"
    await _post(live_api, "/api/v1/namespaces", {"metadata": {"name": namespace}})
    pod = make_pod("ignored", scheduler_name="podium", node_selector=live_node_labels)
    await _post(
        live_api,
        f"/apis/apps/v1/namespaces/{namespace}/deployments",
        make_deployment("app", namespace, pod, replicas=3),
    )

    async def running() -> bool:
        pods = await _pods(live_api, namespace)
        return len(pods) == 3 and all(p["status"].get("phase") == "Running" for p in pods)

    await until(running, "the namespace's pods to run", WAIT_SECONDS)
    await request_bytes(live_api, "DELETE", f"/api/v1/namespaces/{namespace}")

    async def gone() -> bool:
        return await _missing(live_api, f"/api/v1/namespaces/{namespace}")

    await until(gone, "the namespace controller to empty and remove the namespace", WAIT_SECONDS)


async def test_node_lifecycle_controller_taints_silent_nodes_not_kwoks(
    binaries: Binaries, kwok_binary: Path
) -> None:
    # Its own cluster, with a short grace period so a node that never heartbeats is caught
    # within the test: the static node, while KWOK's node, whose Lease KWOK renews, stays Ready
    # and untainted, and its pod keeps running. KWOK renews its 8 s Leases every 2 s: missing
    # the 20 s grace would take a 10 times longer stall than the renewal period.
    async with LiveCluster(
        binaries=binaries,
        kwok_binary=kwok_binary,
        controller_manager_args=["--node-monitor-grace-period=20s"],
        node_lease_seconds=8,
    ) as cluster:
        api = await api_client(cluster.kubeconfig, qps=0.0, burst=64)
        async with api:
            labels = {"podium.dev/test": "lifecycle"}
            (kwok,) = await _kwok_nodes(api, labels, count=1)
            await create_nodes(api, [make_node("silent", labels=labels)])
            pods = "/api/v1/namespaces/default/pods"
            await _post(api, pods, make_pod("work", node_name=kwok))

            async def silent_tainted() -> bool:
                node = await _get(api, "/api/v1/nodes/silent")
                keys = {taint["key"] for taint in node["spec"].get("taints") or ()}
                return UNREACHABLE_TAINT in keys

            await until(silent_tainted, "the silent node to be tainted unreachable", WAIT_SECONDS)
            node = await _get(api, f"/api/v1/nodes/{kwok}")
            assert _condition(node, "Ready") == "True"
            assert not node["spec"].get("taints")
            pod = await _get(api, f"{pods}/work")
            assert pod["status"]["phase"] == "Running"
            assert not pod["metadata"].get("deletionTimestamp")


async def test_resourceclaim_controller_makes_a_pods_claim_from_its_template(
    live_api: ApiClient, live_namespace: str
) -> None:
    # DRA (resource.k8s.io/v1, on by default in 1.36): the claim podium will allocate exists
    # only once the controller made it from the template, owned by the pod.
    device_class = f"gpu.{live_namespace}.example.com"
    await _post(
        live_api,
        "/apis/resource.k8s.io/v1/deviceclasses",
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": device_class},
            "spec": {"selectors": [{"cel": {"expression": f"device.driver == '{device_class}'"}}]},
        },
    )
    try:
        template = {
            "devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": device_class}}]}
        }
        await _post(
            live_api,
            f"/apis/resource.k8s.io/v1/namespaces/{live_namespace}/resourceclaimtemplates",
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaimTemplate",
                "metadata": {"name": "one-gpu"},
                "spec": {"spec": template},
            },
        )
        pod = make_pod("train", live_namespace)
        pod["spec"]["resourceClaims"] = [{"name": "gpu", "resourceClaimTemplateName": "one-gpu"}]
        pod["spec"]["containers"][0]["resources"] = {"claims": [{"name": "gpu"}]}
        await _post(live_api, f"/api/v1/namespaces/{live_namespace}/pods", pod)
        claims = f"/apis/resource.k8s.io/v1/namespaces/{live_namespace}/resourceclaims"

        async def made() -> bool:
            return bool((await _get(live_api, claims))["items"])

        await until(made, "the ResourceClaim made from the template", WAIT_SECONDS)
        (claim,) = (await _get(live_api, claims))["items"]
        (owner,) = claim["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"]) == ("Pod", "train")
        (request,) = claim["spec"]["devices"]["requests"]
        assert request["exactly"]["deviceClassName"] == device_class

        async def recorded() -> bool:
            stored = await _get(live_api, f"/api/v1/namespaces/{live_namespace}/pods/train")
            return bool(stored["status"].get("resourceClaimStatuses"))

        await until(recorded, "the pod's resourceClaimStatuses", WAIT_SECONDS)
        stored = await _get(live_api, f"/api/v1/namespaces/{live_namespace}/pods/train")
        assert stored["status"]["resourceClaimStatuses"] == [
            {"name": "gpu", "resourceClaimName": claim["metadata"]["name"]}
        ]
    finally:
        await request_bytes(
            live_api, "DELETE", f"/apis/resource.k8s.io/v1/deviceclasses/{device_class}"
        )
