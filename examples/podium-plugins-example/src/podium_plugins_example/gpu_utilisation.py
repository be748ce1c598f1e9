"""``LowestGPUUtilisation``: prefer the node whose GPUs are least busy.

Utilisation (percent per node) comes from a metrics source that a background task polls every
``refreshSeconds``; ``score`` only reads the last answer, so scheduling never waits on it. A node
the source does not mention counts as ``unknownUtilisation`` percent busy.

args (all optional but one source):
- ``prometheusURL`` + ``query`` (+ ``nodeLabel``, the label naming the node in the result), or
- ``file``: a JSON object ``{"node-name": percent, ...}``;
- ``refreshSeconds`` (default 15), ``unknownUtilisation`` (default 100).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from podium.plugins import PluginContext, PluginNode, PluginPod

log = logging.getLogger(__name__)

DEFAULT_QUERY = "avg by (node) (DCGM_FI_DEV_GPU_UTIL)"
_ARGS = {"prometheusURL", "query", "nodeLabel", "file", "refreshSeconds", "unknownUtilisation"}


class MetricsError(Exception):
    """The source answered something that is not per-node utilisation."""


def _percent(value: object, where: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise MetricsError(f"{where}: {value!r} is not a number") from err
    return min(max(number, 0.0), 100.0)


def parse_prometheus(body: bytes, node_label: str) -> dict[str, float]:
    """An instant-query answer (``resultType: vector``) as node -> percent."""
    data = orjson.loads(body)
    if not isinstance(data, dict) or data.get("status") != "success":
        raise MetricsError(
            f"prometheus: status {data.get('status') if isinstance(data, dict) else data!r}"
        )
    result = (data.get("data") or {}).get("result")
    if not isinstance(result, list):
        raise MetricsError("prometheus: data.result: not a list")
    out: dict[str, float] = {}
    for i, sample in enumerate(result):
        node = (sample.get("metric") or {}).get(node_label)
        value = sample.get("value")
        if not isinstance(node, str) or not isinstance(value, list) or len(value) != 2:
            raise MetricsError(f"prometheus: data.result[{i}]: no {node_label} label or value")
        out[node] = _percent(value[1], f"prometheus: data.result[{i}].value")
    return out


def parse_file(body: bytes) -> dict[str, float]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise MetricsError("file: must be a JSON object of node -> percent")
    return {str(node): _percent(value, f"file: {node}") for node, value in data.items()}


class LowestGPUUtilisation:
    def __init__(self, args: Mapping[str, Any], context: PluginContext) -> None:
        unknown = set(args) - _ARGS
        if unknown:
            raise ValueError(f"unknown args {sorted(unknown)} (known: {sorted(_ARGS)})")
        self._url = args.get("prometheusURL")
        self._query = str(args.get("query", DEFAULT_QUERY))
        self._node_label = str(args.get("nodeLabel", "node"))
        file = args.get("file")
        self._file = Path(file) if file else None
        if (self._url is None) == (self._file is None):
            raise ValueError("give exactly one source: prometheusURL or file")
        self._every = float(args.get("refreshSeconds", 15))
        if self._every <= 0:
            raise ValueError("refreshSeconds: must be > 0")
        self._unknown = _percent(args.get("unknownUtilisation", 100), "unknownUtilisation")
        # Replaced whole by the refresher, read by the scheduling thread: never mutated in place.
        self.utilisation: Mapping[str, float] = {}
        self.refreshed = asyncio.Event()

    def score(self, pod: PluginPod, node: PluginNode) -> float:
        return 100.0 - self.utilisation.get(node.name, self._unknown)

    async def refresh(self) -> None:
        """Read the source once; on failure the last values stay."""
        if self._file is not None:
            body = await asyncio.to_thread(self._file.read_bytes)
            self.utilisation = parse_file(body)
        else:
            url = f"{str(self._url).rstrip('/')}/api/v1/query"
            timeout = aiohttp.ClientTimeout(total=min(self._every, 10.0))
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, params={"query": self._query}) as response,
            ):
                response.raise_for_status()
                self.utilisation = parse_prometheus(await response.read(), self._node_label)
        self.refreshed.set()

    async def run(self) -> None:
        """Refresh every ``refreshSeconds`` until cancelled (podium runs this, supervised)."""
        while True:
            try:
                await self.refresh()
            except (OSError, aiohttp.ClientError, MetricsError, orjson.JSONDecodeError) as err:
                log.warning("GPU utilisation: refresh failed, keeping the last values: %s", err)
            await asyncio.sleep(self._every)
