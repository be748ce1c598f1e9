"""Objects the apiserver accepts but that are wrong or hostile: each gets an error naming the
object and the field (in the log, or in the pod's FailedScheduling event), the loop goes on, and
the good objects around them are scheduled as if nothing happened.

(PodGroup objects are decoded by the gang work; their bad-input cases join here once it lands.)
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.faultproxy import FaultProxy
from podium.testing.nodes import GPU_RESOURCE, create_nodes
from podium.testing.pods import make_pod
from podium.testing.topology import (
    NRT_PATH,
    NumaZone,
    create_topologies,
    make_numa_gpu_node,
)

from .harness import create_pods, list_items, podium_behind, scheduler_name, wait_idle

pytestmark = pytest.mark.timeout(180)

# Quantities the CRD's own pattern lets through, at and past the int64 edge.
EDGE_QUANTITIES = (
    "2E6024865272343",
    "1e9223372036854775807",
    "1e4294967297",
    "9223372036854775807",
)
BIG_ANNOTATION = 256 * 1024 - 1024


async def test_hostile_objects_are_named_and_contained(
    api: ApiClient,
    proxy: FaultProxy,
    namespace: str,
    node_labels: dict[str, str],
    crds: list[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    zones = (NumaZone(gpus=4), NumaZone(gpus=4))
    good_node, good_nrt = make_numa_gpu_node(f"bi-good-{namespace}", zones, labels=node_labels)
    bad_node, bad_nrt = make_numa_gpu_node(f"bi-bad-{namespace}", zones, labels=node_labels)
    for i, text in enumerate(EDGE_QUANTITIES):
        bad_nrt["zones"][i % 2]["resources"][i // 2]["available"] = text
    await create_nodes(api, [good_node, bad_node])
    await create_topologies(api, [good_nrt, bad_nrt])
    name = scheduler_name()
    gpu = {"cpu": "1", GPU_RESOURCE: "1"}
    good = [
        make_pod(
            f"good-{i}",
            namespace,
            scheduler_name=name,
            requests=gpu,
            limits={GPU_RESOURCE: "1"},
            node_selector=node_labels,
        )
        for i in range(6)
    ]
    hostile = [
        make_pod(
            "numa-garbage",
            namespace,
            scheduler_name=name,
            requests=gpu,
            limits={GPU_RESOURCE: "1"},
            node_selector=node_labels,
            annotations={"podium.dev/numa": "\u202e\x00sometimes"},
        ),
        make_pod(
            "huge-annotation",
            namespace,
            scheduler_name=name,
            requests={"cpu": "1"},
            node_selector=node_labels,
            annotations={"podium.dev/numa": "x" * BIG_ANNOTATION},
        ),
        make_pod(
            "many-labels",
            namespace,
            scheduler_name=name,
            requests={"cpu": "1"},
            node_selector=node_labels,
            labels={f"l{i}.example.com/k{i}": f"v{i}" for i in range(3000)},
        ),
        # Bound by someone else with an allocation podium cannot read: still counted.
        make_pod(
            "allocation-garbage",
            namespace,
            node_name=good_node["metadata"]["name"],
            requests={"cpu": "1"},
            annotations={"podium.dev/allocation": '{"zones": "everywhere"'},
        ),
    ]
    caplog.set_level(logging.INFO)
    async with podium_behind(proxy, tmp_path, name) as podium:
        await create_pods(api, namespace, hostile + good)
        listed = await wait_idle(podium, api, namespace, expect_bound=len(good) + 3)
        await podium.recorder.flush()
        # The loop went on: a pod created after all that is placed too.
        await create_pods(
            api,
            namespace,
            [
                make_pod(
                    "after",
                    namespace,
                    scheduler_name=name,
                    requests={"cpu": "1"},
                    node_selector=node_labels,
                )
            ],
        )
        listed = await wait_idle(podium, api, namespace, expect_bound=len(good) + 4)
        await podium.recorder.flush()
    by_name = {p["metadata"]["name"]: p for p in listed}
    assert all(by_name[p["metadata"]["name"]]["spec"].get("nodeName") for p in good)
    assert by_name["many-labels"]["spec"].get("nodeName")
    assert by_name["after"]["spec"].get("nodeName")

    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    bad_name = bad_nrt["metadata"]["name"]
    assert f"NodeResourceTopology {bad_name}" in logged, logged[-2000:]
    assert "available" in logged
    events = await list_items(
        api,
        f"/apis/events.k8s.io/v1/namespaces/{namespace}/events",
        {"fieldSelector": "reason=FailedScheduling"},
    )
    notes = {e["regarding"]["name"]: e["note"] for e in events}
    assert "podium.dev/numa" in notes.get("numa-garbage", ""), notes
    assert f"Pod {namespace}/numa-garbage" in notes["numa-garbage"]
    assert not by_name["numa-garbage"]["spec"].get("nodeName")
    # The oversized annotation is one more bad value, reported with its pod, bounded in size.
    huge_note = notes.get("huge-annotation", "")
    if not by_name["huge-annotation"]["spec"].get("nodeName"):
        assert "podium.dev/numa" in huge_note and len(huge_note) <= 1024, len(huge_note)
    # The hostile topology object is still in the apiserver as written.
    stored = await request_bytes(api, "GET", f"{NRT_PATH}/{bad_name}")
    assert all(text.encode() in stored for text in EDGE_QUANTITIES)
