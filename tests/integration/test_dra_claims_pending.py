"""A pod whose ResourceClaimTemplate the controller-manager has not made into a claim yet, on
the real apiserver (no controller-manager runs here: the test makes the claim, as the
resourceclaim controller would). As kube-scheduler's DynamicResources PreEnqueue, podium reports
nothing while the claim follows the pod within moments, then binds the pod: no FailedScheduling
event and no PodScheduled condition are written for it (two writes per pod on an apiserver busy
creating pods and claims); nor while the claim its status names has not reached podium's
claims watch: its arrival brings the pod back at once. A pod whose claim is never made is
reported, naming it, a few seconds later."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.deferred_reports import WAIT_REPORT_SECONDS
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.dra import (
    create,
    delete_cluster_objects,
    device_class,
    exact_request,
    gpu_slice,
    resource_claim,
    resource_claim_template,
    with_claim_templates,
)
from podium.testing.nodes import create_nodes, make_node
from podium.testing.podgroups import POD_GROUP_LABEL, create_pod_group, make_pod_group
from podium.testing.pods import make_pod

from .test_dra import _pods, _scheduled_message
from .test_events import list_events

pytestmark = pytest.mark.timeout(120)


async def _make_claim(
    api: ApiClient,
    namespace: str,
    pod: dict[str, Any],
    gpu_class: str,
    *,
    status_first: bool = False,
) -> None:
    """What the resourceclaim controller does for the pod's template: the claim, owned by the
    pod, then its name in the pod's ``status.resourceClaimStatuses``. With ``status_first``,
    the other way round, as podium sees them when its pods watch runs ahead of its claims
    watch."""
    name = pod["metadata"]["name"]
    claim = resource_claim(f"{name}-gpus-x1", namespace, [exact_request("gpu", gpu_class)])
    claim["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": name,
            "uid": pod["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    claim["metadata"]["annotations"] = {"resource.kubernetes.io/pod-claim-name": "gpus"}
    if not status_first:
        await create(api, [claim])
    await request_bytes(
        api,
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/{name}/status",
        body={
            "status": {
                "resourceClaimStatuses": [{"name": "gpus", "resourceClaimName": f"{name}-gpus-x1"}]
            }
        },
        content_type="application/strategic-merge-patch+json",
    )
    if status_first:
        # podium tries the pod, finds the claim it names missing, and waits for it.
        await asyncio.sleep(1.0)
        await create(api, [claim])


async def test_a_pod_is_not_reported_while_its_claim_follows_it_and_is_when_it_never_comes(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    driver, gpu_class = f"gpu.{namespace}.example.com", f"gpu-{namespace}"
    node = f"dra-pending-{node_labels[next(iter(node_labels))]}"
    slices = [gpu_slice(f"{node}-gpu", node, driver, gpus=8)]
    await create_nodes(api, [make_node(node, labels=node_labels)])
    try:
        template = resource_claim_template("one-gpu", namespace, [exact_request("gpu", gpu_class)])
        await create(api, [device_class(gpu_class, driver), *slices, template])

        def pod(name: str) -> dict[str, Any]:
            return with_claim_templates(
                make_pod(
                    name,
                    namespace,
                    scheduler_name="podium",
                    node_selector=node_labels,
                    requests={"cpu": "1"},
                ),
                {"gpus": "one-gpu"},
            )

        async with Podium(default_config(), api, identity="dra-pending-test") as podium:
            await podium.start_scheduling()
            path = f"/api/v1/namespaces/{namespace}/pods"
            made = orjson.loads(await request_bytes(api, "POST", path, body=pod("made")))
            late = orjson.loads(await request_bytes(api, "POST", path, body=pod("late")))
            await request_bytes(api, "POST", path, body=pod("never"))
            # podium tries them and finds their claims not made yet; two follow a moment later,
            # one named in the pod's status a second before the claim itself exists.
            await asyncio.sleep(1.0)
            await _make_claim(api, namespace, made, gpu_class)
            await _make_claim(api, namespace, late, gpu_class, status_first=True)
            deadline = time.monotonic() + WAIT_REPORT_SECONDS + 20
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                stored = await _pods(api, namespace)
                bound = all(stored[n]["spec"].get("nodeName") for n in ("made", "late"))
                if bound and _scheduled_message(stored["never"]):
                    break
            await podium.conditions.flush()
            await podium.recorder.flush()
        stored = await _pods(api, namespace)
        assert [stored[n]["spec"].get("nodeName") for n in ("made", "late")] == [node, node]
        notes = {
            (e["regarding"]["name"], e["reason"], e["note"])
            for e in await list_events(api, namespace)
        }
        assert {(n, r) for n, r, _ in notes if r == "FailedScheduling"} == {
            ("never", "FailedScheduling")
        }, notes
        for name in ("made", "late"):
            conditions = stored[name]["status"].get("conditions", [])
            assert not [c for c in conditions if c["status"] == "False"], conditions
        assert "ResourceClaim not created yet" in _scheduled_message(stored["never"])
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )


async def test_a_gang_waits_unreported_while_a_members_claim_follows_it(
    api: ApiClient, crds: list[str], namespace: str, node_labels: dict[str, str]
) -> None:
    """A gang of two whose members' claims come from a template: podium finds them not made
    yet, and waits with the whole gang, reporting nothing (no FailedScheduling for the members,
    no event on the PodGroup), then binds both once the claims exist. A gang whose member's
    claim never comes is reported, naming the member, a few seconds later."""
    driver, gpu_class = f"gpu.{namespace}.example.com", f"gpu-{namespace}"
    node = f"dra-gang-{node_labels[next(iter(node_labels))]}"
    slices = [gpu_slice(f"{node}-gpu", node, driver, gpus=8)]
    await create_nodes(api, [make_node(node, labels=node_labels)])
    try:
        template = resource_claim_template("one-gpu", namespace, [exact_request("gpu", gpu_class)])
        await create(api, [device_class(gpu_class, driver), *slices, template])
        for group in ("made", "never"):
            await create_pod_group(api, make_pod_group(group, namespace, min_member=2))

        def member(name: str, group: str) -> dict[str, Any]:
            return with_claim_templates(
                make_pod(
                    name,
                    namespace,
                    scheduler_name="podium",
                    node_selector=node_labels,
                    requests={"cpu": "1"},
                    labels={POD_GROUP_LABEL: group},
                ),
                {"gpus": "one-gpu"},
            )

        async with Podium(default_config(), api, identity="dra-gang-pending-test") as podium:
            await podium.start_scheduling()
            path = f"/api/v1/namespaces/{namespace}/pods"
            made = [
                orjson.loads(await request_bytes(api, "POST", path, body=member(n, "made")))
                for n in ("made-0", "made-1")
            ]
            never = orjson.loads(
                await request_bytes(api, "POST", path, body=member("never-0", "never"))
            )
            await request_bytes(api, "POST", path, body=member("never-1", "never"))
            await asyncio.sleep(1.0)
            await _make_claim(api, namespace, made[0], gpu_class)
            await _make_claim(api, namespace, made[1], gpu_class, status_first=True)
            # One member of the other gang gets its claim; the other's never comes.
            await _make_claim(api, namespace, never, gpu_class)
            deadline = time.monotonic() + WAIT_REPORT_SECONDS + 20
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                stored = await _pods(api, namespace)
                bound = all(stored[n]["spec"].get("nodeName") for n in ("made-0", "made-1"))
                if bound and all(_scheduled_message(stored[f"never-{i}"]) for i in (0, 1)):
                    break
            await podium.conditions.flush()
            await podium.recorder.flush()
        stored = await _pods(api, namespace)
        assert [stored[n]["spec"].get("nodeName") for n in ("made-0", "made-1")] == [node, node]
        events = await list_events(api, namespace)
        warnings = [
            (e["regarding"]["kind"], e["regarding"]["name"], e["reason"], e["note"])
            for e in events
            if e["type"] == "Warning"
        ]
        failed = {(kind, name) for kind, name, _, _ in warnings}
        assert failed >= {("Pod", "never-0"), ("Pod", "never-1")}, warnings
        assert not {name for kind, name in failed if name.startswith("made")}, warnings
        for name in ("made-0", "made-1"):
            conditions = stored[name]["status"].get("conditions", [])
            assert not [c for c in conditions if c["status"] == "False"], conditions
        for i in (0, 1):
            message = _scheduled_message(stored[f"never-{i}"])
            assert "waiting for the ResourceClaims of 1 of 2 members" in message, message
            assert f"pod {namespace}/never-1" in message, message
            assert not stored[f"never-{i}"]["spec"].get("nodeName")
    finally:
        await delete_cluster_objects(
            api, classes=[gpu_class], slices=[s["metadata"]["name"] for s in slices]
        )
