"""A 250 KiB annotation value is never echoed whole: the PodScheduled condition, the
FailedScheduling event and every log line about the pod stay small, and say how long the value
was. Real apiserver, podium in-process."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import default_config
from podium.logs import JsonFormatter, TextFormatter
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.nodes import GPU_RESOURCE, create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(120)

VALUE_BYTES = 250 * 1024
# What the value becomes in a message: its head, an ellipsis and its length.
MARK = f'…" ({VALUE_BYTES} bytes)'
# Bounds with room for the rest of the message, far below the value.
MAX_MESSAGE_BYTES = 1024
MAX_LOG_LINE_BYTES = 8 * 1024


async def _pod(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    body = await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    pod: dict[str, Any] = orjson.loads(body)
    return pod


def _condition_message(pod: dict[str, Any]) -> str | None:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled":
            return str(condition.get("message", ""))
    return None


async def test_a_250_kib_annotation_is_quoted_bounded_everywhere(
    api: ApiClient,
    namespace: str,
    node_labels: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    suffix = node_labels["podium.dev/test"]
    await create_nodes(api, [make_node(f"bounded-{suffix}", gpus=8, labels=node_labels)])
    pod = make_pod(
        "huge",
        namespace,
        scheduler_name="podium",
        requests={"cpu": "100m", GPU_RESOURCE: 1},
        limits={GPU_RESOURCE: 1},
        node_selector=node_labels,
        annotations={"podium.dev/numa": "s" * VALUE_BYTES},
    )
    caplog.set_level(logging.DEBUG, logger="podium")
    async with Podium(default_config(), api, identity="bounded-test") as podium:
        await podium.start_scheduling()
        await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)

        async def refused() -> bool:
            await podium.conditions.flush()
            return _condition_message(await _pod(api, namespace, "huge")) is not None

        await until(refused, "the pod's PodScheduled condition", 60)
        await podium.recorder.flush()

    message = _condition_message(await _pod(api, namespace, "huge")) or ""
    assert MARK in message, message[:400]
    assert "annotation podium.dev/numa: unknown policy" in message, message[:400]
    assert len(message.encode()) < MAX_MESSAGE_BYTES, len(message.encode())

    path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    events = orjson.loads(await request_bytes(api, "GET", path))["items"]
    notes = [
        e["note"]
        for e in events
        if e["regarding"].get("name") == "huge" and e["reason"] == "FailedScheduling"
    ]
    assert notes, "a FailedScheduling event"
    for note in notes:
        assert MARK in note and len(note.encode()) < MAX_MESSAGE_BYTES, note[:400]

    about = [r for r in caplog.records if "huge" in r.getMessage() or "huge" in str(vars(r))]
    assert about, "podium logged the pod's decision"
    for record in about:
        for formatter in (JsonFormatter(), TextFormatter()):
            line = formatter.format(record)
            assert len(line.encode()) < MAX_LOG_LINE_BYTES, (len(line.encode()), line[:300])
