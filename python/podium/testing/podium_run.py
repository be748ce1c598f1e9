"""``podium run`` as a separate process against a ``LocalCluster``, the way it is deployed."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from podium.testing.cluster import LocalCluster
from podium.testing.ports import LOOPBACK
from podium.testing.server import LocalServer, http_ok


class PodiumRun(LocalServer):
    """``async with PodiumRun(cluster, config=...):`` runs ``python -m podium run`` until the
    block ends; ready once ``/readyz`` says its caches are synced (and, with
    ``wait_for_leadership``, that it leads).

    ``config`` is a KubeSchedulerConfiguration as plain data; ``kubeconfig`` defaults to the
    cluster's admin one."""

    name = "podium"

    def __init__(
        self,
        cluster: LocalCluster,
        config: Mapping[str, Any],
        *,
        kubeconfig: Path | None = None,
        log_level: str = "WARNING",
        wait_for_leadership: bool = True,
        workdir: Path | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        super().__init__(workdir=workdir, start_timeout=start_timeout)
        self.cluster = cluster
        self.config = dict(config)
        self.kubeconfig = kubeconfig
        self.log_level = log_level
        self._ready_body = b"ok: leader" if wait_for_leadership else None
        self.config_path = self.workdir / "config.yaml"

    def _prepare(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    def _argv(self, ports: Sequence[int]) -> list[str]:
        (port,) = ports
        return [
            sys.executable,
            "-m",
            "podium",
            "run",
            f"--config={self.config_path}",
            f"--kubeconfig={self.kubeconfig or self.cluster.kubeconfig}",
            f"--listen={LOOPBACK}:{port}",
            f"--log-level={self.log_level}",
        ]

    @property
    def url(self) -> str:
        """Base URL of ``/metrics``, ``/livez`` and ``/readyz``."""
        return f"http://{LOOPBACK}:{self.ports[0]}"

    def _ready(self) -> bool:
        if self._ready_body is None:
            return http_ok(f"{self.url}/readyz")
        return http_ok(f"{self.url}/readyz", expect=self._ready_body)
