"""Jaeger v2 on loopback: an OTLP/HTTP receiver into in-memory storage, and the query API.

For the tracing end-to-end test: point podium's OTLP exporter at ``otlp_endpoint`` and read
the traces back with ``traces(service)`` (``GET /api/traces?service=...``).
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from podium.testing.binaries import ensure_jaeger
from podium.testing.ports import LOOPBACK
from podium.testing.server import LocalServer, http_ok

_QUERY_TIMEOUT_SECONDS = 10.0


class Jaeger(LocalServer):
    """``with Jaeger() as jaeger:`` runs an all-in-memory Jaeger until the block ends."""

    name = "jaeger"
    port_count = 4  # OTLP/HTTP, query HTTP, query gRPC, health check

    def __init__(
        self,
        *,
        binary: Path | None = None,
        workdir: Path | None = None,
        start_timeout: float = 60.0,
        max_traces: int = 100_000,
        ui_assets: Path | None = None,
    ) -> None:
        """``ui_assets``: a jaeger-ui build (``packages/jaeger-ui/build``) for the query service
        to serve; a Jaeger built from its Go module embeds only a placeholder page."""
        super().__init__(workdir=workdir, start_timeout=start_timeout)
        self._binary = binary
        self.max_traces = max_traces
        self.ui_assets = ui_assets
        self.config_path = self.workdir / "config.yaml"

    @property
    def otlp_endpoint(self) -> str:
        """Base URL of the OTLP/HTTP receiver (traces go to ``<this>/v1/traces``)."""
        return f"http://{LOOPBACK}:{self.ports[0]}"

    @property
    def query_url(self) -> str:
        """Base URL of the query API (``/api/services``, ``/api/traces``) and UI."""
        return f"http://{LOOPBACK}:{self.ports[1]}"

    def configuration(self, ports: Sequence[int]) -> dict[str, Any]:
        """The collector configuration for ``ports`` (OTLP, query HTTP, query gRPC, health)."""
        otlp, query_http, query_grpc, health = ports
        storage = "memstore"
        query: dict[str, Any] = {
            "storage": {"traces": storage},
            # Jaeger traces itself to localhost:4317 by default: into whatever collector
            # listens there, and its shutdown then waits for the export to time out.
            "enable_tracing": False,
            "http": {"endpoint": f"{LOOPBACK}:{query_http}"},
            "grpc": {"endpoint": f"{LOOPBACK}:{query_grpc}"},
        }
        if self.ui_assets is not None:
            query["ui"] = {"assets_path": str(self.ui_assets)}
        return {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
                "pipelines": {
                    "traces": {"receivers": ["otlp"], "exporters": ["jaeger_storage_exporter"]}
                },
                # No self-metrics: their default Prometheus port would clash between runs.
                "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "info"}},
            },
            "extensions": {
                "jaeger_storage": {
                    "backends": {storage: {"memory": {"max_traces": self.max_traces}}}
                },
                "jaeger_query": query,
                "healthcheckv2": {
                    "use_v2": True,
                    "http": {"endpoint": f"{LOOPBACK}:{health}"},
                },
            },
            "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"{LOOPBACK}:{otlp}"}}}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": storage}},
        }

    def _prepare(self) -> None:
        if self._binary is None:
            self._binary = ensure_jaeger()

    def _argv(self, ports: Sequence[int]) -> list[str]:
        assert self._binary is not None, "_prepare runs first"
        self.config_path.write_text(yaml.safe_dump(self.configuration(ports), sort_keys=False))
        return [str(self._binary), f"--config={self.config_path}"]

    def _ready(self) -> bool:
        return http_ok(f"http://{LOOPBACK}:{self.ports[3]}/status") and http_ok(
            f"{self.query_url}/api/services"
        )

    def serves_real_ui(self) -> bool:
        """Whether ``/`` is the Jaeger UI rather than the placeholder of a UI-less build."""
        with urllib.request.urlopen(f"{self.query_url}/", timeout=_QUERY_TIMEOUT_SECONDS) as r:
            page: bytes = r.read()
        return b"not the Jaeger UI you are looking for" not in page

    def services(self) -> list[str]:
        """Names of the services that reported spans."""
        data = self._get("/api/services", {})
        return [str(name) for name in data or []]

    def traces(self, service: str, *, operation: str | None = None, limit: int = 100) -> list[Any]:
        """Traces of ``service`` as the query API returns them (``data`` of the answer)."""
        query: dict[str, str] = {"service": service, "limit": str(limit)}
        if operation is not None:
            query["operation"] = operation
        return list(self._get("/api/traces", query) or [])

    def _get(self, path: str, query: dict[str, str]) -> Any:
        url = f"{self.query_url}{path}"
        if query:
            url = f"{url}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=_QUERY_TIMEOUT_SECONDS) as response:
            body = orjson.loads(response.read())
        if body.get("errors"):
            raise RuntimeError(f"jaeger query {url}: {body['errors']}")
        return body.get("data")
