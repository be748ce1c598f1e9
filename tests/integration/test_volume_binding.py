"""Volume binding that completes, with the real PV controller (kube-controller-manager).

Local PVs sit on chosen nodes (their nodeAffinity), their StorageClass is WaitForFirstConsumer
with no provisioner, and pods use unbound claims. podium must put each pod where a PV for its
claim is, bind that PV to the claim before the pod (PreBind: the PV's claimRef), and the PV
controller then binds the claim: every claim ends Bound to the PV on its pod's node. A second
pod whose claim only the same single PV could satisfy is not bound. Without PreBind the claims
stay Pending (the PV controller never binds a WaitForFirstConsumer claim by itself), so this
test fails.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.kwok.nodes import make_kwok_node
from podium.testing.nodes import create_nodes
from podium.testing.pods import make_pod
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(180)

WAIT_SECONDS = 60
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def _local_pv(name: str, node: str, size: str, storage_class: str) -> dict[str, Any]:
    term = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": storage_class,
            "local": {"path": f"/mnt/disks/{name}"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [term]}]}},
        },
    }


def _claim(name: str, namespace: str, size: str, storage_class: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def _pod_using(name: str, namespace: str, claim: str, labels: dict[str, str]) -> dict[str, Any]:
    pod = make_pod(
        name, namespace, scheduler_name="podium", requests={"cpu": "1"}, node_selector=labels
    )
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return pod


async def test_pods_land_where_their_data_is_and_their_claims_end_bound(
    live_api: ApiClient, live_namespace: str, live_node_labels: dict[str, str]
) -> None:
    """``live_cluster`` runs kube-controller-manager: its PersistentVolume binder binds the
    claims once podium's PreBind has set the PVs' claimRef. Its nodes are KWOK's."""
    api, namespace, node_labels = live_api, live_namespace, live_node_labels
    suffix = node_labels["podium.dev/test"]
    small_node, big_node, empty_node = (f"vb-{n}-{suffix}" for n in ("a", "b", "c"))
    await create_nodes(
        api, [make_kwok_node(n, labels=node_labels) for n in (small_node, big_node, empty_node)]
    )
    # A class per kind of disk, so each claim has one PV it can take.
    fast, bulk = f"local-fast-{suffix}", f"local-bulk-{suffix}"
    for storage_class in (fast, bulk):
        await request_bytes(
            api,
            "POST",
            "/apis/storage.k8s.io/v1/storageclasses",
            body={
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": storage_class},
                "provisioner": NO_PROVISIONER,
                "volumeBindingMode": "WaitForFirstConsumer",
            },
        )
    pvs = {
        f"pv-small-{suffix}": _local_pv(f"pv-small-{suffix}", small_node, "10Gi", fast),
        f"pv-big-{suffix}": _local_pv(f"pv-big-{suffix}", big_node, "100Gi", bulk),
    }
    try:
        for pv in pvs.values():
            await request_bytes(api, "POST", "/api/v1/persistentvolumes", body=pv)
        claims = {
            "small": _claim("small", namespace, "5Gi", fast),
            "big": _claim("big", namespace, "50Gi", bulk),
            # Only the big PV can hold it or the big claim: one of the two gets it.
            "big-too": _claim("big-too", namespace, "50Gi", bulk),
        }
        for body in claims.values():
            await request_bytes(
                api, "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=body
            )
        pods_path = f"/api/v1/namespaces/{namespace}/pods"
        async with Podium(default_config(), api, identity="volume-binding-test") as podium:
            await podium.start_scheduling()
            # All at once: the two pods wanting the one big PV are decided and bound while
            # each other's binding may be in flight.
            users = {"uses-small": "small", "uses-big": "big", "wants-big-too": "big-too"}
            for name, claim_name in users.items():
                await request_bytes(
                    api,
                    "POST",
                    pods_path,
                    body=_pod_using(name, namespace, claim_name, node_labels),
                )

            async def listed(path: str) -> dict[str, dict[str, Any]]:
                items = orjson.loads(await request_bytes(api, "GET", path))["items"]
                return {o["metadata"]["name"]: o for o in items}

            claims_path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"
            events_path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"

            def refused_for_want_of_a_pv(events: dict[str, dict[str, Any]], pod: str) -> bool:
                return any(
                    e["regarding"]["name"] == pod
                    and e["reason"] == "FailedScheduling"
                    and "didn't find available persistent volumes to bind" in e["note"]
                    for e in events.values()
                )

            async def settled() -> bool:
                pods = await listed(pods_path)
                current = await listed(claims_path)
                events = await listed(events_path)
                placed = {n for n, p in pods.items() if p["spec"].get("nodeName")}
                bound = {c for c, o in current.items() if o["status"].get("phase") == "Bound"}
                waiting = set(users) - placed
                return (
                    len(placed) == 2
                    and bound == {users[n] for n in placed}
                    and all(refused_for_want_of_a_pv(events, w) for w in waiting)
                )

            await until(settled, "two pods bound, their claims Bound, one refused", WAIT_SECONDS)
            pods = await listed(pods_path)
            current = await listed(claims_path)
            (winner,) = (
                n for n in ("uses-big", "wants-big-too") if pods[n]["spec"].get("nodeName")
            )
            loser = "wants-big-too" if winner == "uses-big" else "uses-big"
            # Each pod where its data is, each claim bound to the PV there.
            expected = {
                "uses-small": (small_node, f"pv-small-{suffix}"),
                winner: (big_node, f"pv-big-{suffix}"),
            }
            for pod, (node, pv_name) in expected.items():
                claim = users[pod]
                assert pods[pod]["spec"]["nodeName"] == node
                assert current[claim]["spec"]["volumeName"] == pv_name
                pv = orjson.loads(
                    await request_bytes(api, "GET", f"/api/v1/persistentvolumes/{pv_name}")
                )
                assert pv["status"]["phase"] == "Bound"
                assert pv["spec"]["claimRef"]["name"] == claim
                assert pv["spec"]["claimRef"]["uid"] == current[claim]["metadata"]["uid"]
            # The other pod wanting the one big PV: not bound, its claim still Pending.
            assert not pods[loser]["spec"].get("nodeName")
            assert current[users[loser]]["status"].get("phase") == "Pending"
            assert empty_node not in {p["spec"].get("nodeName") for p in pods.values()}
            assert podium.state.assumed_count == 0
    finally:
        for name in pvs:
            await request_bytes(api, "DELETE", f"/api/v1/persistentvolumes/{name}")
        for storage_class in (fast, bulk):
            await request_bytes(
                api, "DELETE", f"/apis/storage.k8s.io/v1/storageclasses/{storage_class}"
            )
