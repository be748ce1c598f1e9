"""A Python plugin from the example package, enabled by the config, steering real bindings:
MostAllocated alone would pack the pod on the small node; MostAvailableCPU (weight 5) spreads it
to the large one."""

from __future__ import annotations

import asyncio
import time

import orjson
import yaml
from kubernetes_asyncio.client import ApiClient

from podium.config import parse_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod

CONFIG = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: podium-plugins
  plugins:
    score:
      enabled: [{name: MostAvailableCPU, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
"""


async def test_a_python_score_plugin_decides_the_binding(
    api: ApiClient, namespace: str, node_labels: dict[str, str]
) -> None:
    suffix = node_labels["podium.dev/test"]
    small, large = f"plug-small-{suffix}", f"plug-large-{suffix}"
    await create_nodes(
        api,
        [
            make_node(small, cpu="4", labels=node_labels),
            make_node(large, cpu="32", labels=node_labels),
        ],
    )
    config = parse_config(yaml.safe_load(CONFIG))
    async with Podium(config, api, identity="plugins-test") as podium:
        await podium.start_scheduling()
        await request_bytes(
            api,
            "POST",
            f"/api/v1/namespaces/{namespace}/pods",
            body=make_pod(
                "p",
                namespace,
                scheduler_name="podium-plugins",
                requests={"cpu": "2"},
                node_selector=node_labels,
            ),
        )
        path = f"/api/v1/namespaces/{namespace}/pods/p"
        deadline = time.monotonic() + 30
        while True:
            pod = orjson.loads(await request_bytes(api, "GET", path))
            if pod["spec"].get("nodeName"):
                break
            assert time.monotonic() < deadline, "not bound"
            await asyncio.sleep(0.1)
    assert pod["spec"]["nodeName"] == large
