"""podium under Kueue's admission, by the protocol Kueue's pod integration uses: Kueue's webhook
gates each pod it manages (`kueue.x-k8s.io/admission`); when its ClusterQueue admits the
workload it injects the ResourceFlavor's node labels into the pod's nodeSelector and removes the
gate, in one update (Kubernetes allows adding node selection to a gated pod). Until then podium
does not schedule the pod; afterwards it places it like any other, on the flavor's nodes.

Kueue itself is not run here: its controller needs its admission webhooks served over TLS to
the apiserver, which this test tooling does not provide; the test plays Kueue's two writes."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(120)

KUEUE_GATE = "kueue.x-k8s.io/admission"
FLAVOR_LABEL = "cloud.example.com/gpu-flavor"
WAIT_SECONDS = 60


async def test_a_pod_gated_by_kueue_is_placed_once_admitted_on_its_flavor(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels[next(iter(node_labels))]
    h100, a100 = f"kueue-h100-{suffix}", f"kueue-a100-{suffix}"
    await create_nodes(
        api,
        [
            make_node(h100, gpus=8, labels={**node_labels, FLAVOR_LABEL: "h100"}),
            make_node(a100, gpus=8, labels={**node_labels, FLAVOR_LABEL: "a100"}),
        ],
    )
    path = f"/api/v1/namespaces/{namespace}/pods/train"
    pod = make_pod(
        "train",
        namespace,
        scheduler_name="podium",
        requests={"nvidia.com/gpu": "4"},
        limits={"nvidia.com/gpu": "4"},
        node_selector=node_labels,
        scheduling_gates=[KUEUE_GATE],
    )
    pod["metadata"]["labels"] = {"kueue.x-k8s.io/queue-name": "team-a"}
    async with Podium(default_config(), api, identity="kueue-gate") as podium:
        await podium.start_scheduling()
        await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
        await asyncio.sleep(3)
        stored: dict[str, Any] = orjson.loads(await request_bytes(api, "GET", path))
        assert not stored["spec"].get("nodeName"), "scheduled while Kueue held it"
        assert podium.queue.pending_counts()["active"] == 0
        # Kueue admits it on the A100 flavor: node selection added and the gate removed.
        stored["spec"]["nodeSelector"] = {**node_labels, FLAVOR_LABEL: "a100"}
        stored["spec"]["schedulingGates"] = []
        await request_bytes(api, "PUT", path, body=stored)

        async def placed() -> bool:
            current = orjson.loads(await request_bytes(api, "GET", path))
            return bool(current["spec"].get("nodeName"))

        await until(placed, "the admitted pod bound", WAIT_SECONDS)
        current = orjson.loads(await request_bytes(api, "GET", path))
        assert current["spec"]["nodeName"] == a100
