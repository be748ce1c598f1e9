"""``MostAvailableCPU``: prefer the node with the most cpu left once the pod is on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.plugins import PluginContext, PluginNode, PluginPod


class MostAvailableCPU:
    """Score: free millicores after placing the pod (podium scales it over the nodes)."""

    def __init__(self, args: Mapping[str, Any], context: PluginContext) -> None:
        if args:
            raise ValueError(f"takes no args, got {sorted(args)}")

    def score(self, pod: PluginPod, node: PluginNode) -> float:
        free = node.allocatable.get("cpu", 0) - node.requested.get("cpu", 0)
        return float(free - pod.requests.get("cpu", 0))
