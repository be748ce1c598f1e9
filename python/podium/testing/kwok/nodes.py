"""Nodes that KWOK manages: ``podium.testing.nodes``' builders plus KWOK's annotation.

They are created without conditions, as a kubelet's Node is before it first reports: KWOK then
registers them Ready (its node-initialize Stage) with the capacity asked for here.
"""

from __future__ import annotations

from typing import Any

from podium.testing.nodes import NodeSpecError, make_node

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"
KWOK_NODE_SELECTOR = f"{KWOK_NODE_ANNOTATION}={KWOK_NODE_VALUE}"
"""The annotation selector KWOK is started with (``--manage-nodes-with-annotation-selector``):
it leaves every other node (the static ones of ``podium.testing.nodes``) alone."""

KWOK_TYPE_LABEL = "type"
KWOK_TYPE_VALUE = "kwok"

COMPLETE_AFTER_ANNOTATION = "pod-complete.stage.kwok.x-k8s.io/delay"
"""On a pod (or a Job's pod template): how long it runs before it succeeds, a Go duration
("30s"). Job pods without it run 10 seconds; other pods without it run until deleted."""


def make_kwok_node(name: str, **kwargs: Any) -> dict[str, Any]:
    """A node for KWOK to manage: ``make_node``'s arguments (capacity, GPUs, labels, zone,
    rack, taints, ...), the KWOK annotation and ``type=kwok`` label, and no status conditions."""
    if "ready" in kwargs:
        raise TypeError("make_kwok_node: KWOK decides readiness; do not pass ready=")
    node = make_node(name, **kwargs)
    node["metadata"].setdefault("annotations", {})[KWOK_NODE_ANNOTATION] = KWOK_NODE_VALUE
    node["metadata"]["labels"].setdefault(KWOK_TYPE_LABEL, KWOK_TYPE_VALUE)
    del node["status"]["conditions"]
    return node


def make_kwok_nodes(
    count: int, *, prefix: str = "kwok", racks: int = 0, **kwargs: Any
) -> list[dict[str, Any]]:
    """``count`` KWOK nodes named ``<prefix>-00000``...; with ``racks``, spread round-robin over
    racks ``rack-0``... (``kwargs`` go to ``make_kwok_node``)."""
    if count < 0:
        raise NodeSpecError(f"make_kwok_nodes: count must not be negative, got {count}")
    if racks < 0:
        raise NodeSpecError(f"make_kwok_nodes: racks must not be negative, got {racks}")
    return [
        make_kwok_node(
            f"{prefix}-{index:05d}", rack=f"rack-{index % racks}" if racks else None, **kwargs
        )
        for index in range(count)
    ]
