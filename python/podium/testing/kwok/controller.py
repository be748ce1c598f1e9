"""KWOK's controller, run against a ``LocalCluster``: the kubelet of every KWOK node."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from podium.testing.binaries import ensure_kwok
from podium.testing.kwok.nodes import KWOK_NODE_SELECTOR
from podium.testing.ports import LOOPBACK
from podium.testing.server import LocalServer, http_ok

if TYPE_CHECKING:
    from podium.testing.cluster import LocalCluster

STAGES_DIR = Path(__file__).parent / "stages"
"""The Stages KWOK plays (package data): node registration and heartbeats, pods starting,
completing and being deleted."""

NODE_IP = "192.0.2.1"
"""The address every KWOK node reports (TEST-NET-1: documentation only, never routed): nothing
connects to a fake node, the field must merely be there."""

POD_CIDR = "10.64.0.0/10"
"""Where KWOK takes pod IPs from: room for millions of pods (KWOK's default /24 has 256),
apart from the apiserver's service range 10.0.0.0/16."""

NODE_LEASE_SECONDS = 40
"""A KWOK node's Lease duration, the kubelet's default; KWOK renews it every quarter of that."""


def stage_files() -> list[Path]:
    """Every Stage file shipped in ``stages/``, in name order."""
    return sorted(STAGES_DIR.glob("*.yaml"))


class Kwok(LocalServer):
    """``with Kwok(cluster):`` runs KWOK's controller until the block ends.

    It manages the nodes annotated ``kwok.x-k8s.io/node=fake`` (``make_kwok_node``) and the pods
    bound to them, and only those. ``stages`` replaces the shipped Stage files;
    ``parallelism`` is how many nodes' and pods' Stages, and Lease renewals, KWOK plays at once
    (its default is 4, too few for thousands of nodes)."""

    name = "kwok"

    def __init__(
        self,
        cluster: LocalCluster,
        *,
        stages: Sequence[Path] | None = None,
        node_lease_seconds: int = NODE_LEASE_SECONDS,
        parallelism: int = 16,
        binary: Path | None = None,
        workdir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir=workdir, start_timeout=start_timeout)
        if node_lease_seconds < 1:
            raise ValueError(
                f"Kwok: node_lease_seconds must be at least 1, got {node_lease_seconds}"
            )
        if parallelism < 1:
            raise ValueError(f"Kwok: parallelism must be at least 1, got {parallelism}")
        self.cluster = cluster
        self.stages = list(stage_files() if stages is None else stages)
        if not self.stages:
            raise ValueError("Kwok: no Stage files (KWOK refuses to start without stages)")
        self.node_lease_seconds = node_lease_seconds
        self.parallelism = parallelism
        self._binary = binary
        self.config_path = self.workdir / "kwok.yaml"

    def configuration(self) -> dict[str, object]:
        """The KwokConfiguration this runner writes (the options no flag sets), as plain data."""
        return {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokConfiguration",
            "options": {
                "podPlayStageParallelism": self.parallelism,
                "nodePlayStageParallelism": self.parallelism,
                "nodeLeaseParallelism": self.parallelism,
            },
        }

    def _prepare(self) -> None:
        if self._binary is None:
            self._binary = ensure_kwok()
        if not self.cluster.token:
            raise RuntimeError("Kwok: start the LocalCluster first")
        self.config_path.write_text(yaml.safe_dump(self.configuration(), sort_keys=False))

    def _argv(self, ports: Sequence[int]) -> list[str]:
        assert self._binary is not None, "_prepare runs first"
        (port,) = ports
        configs = [self.config_path, *self.stages]
        return [
            str(self._binary),
            f"--kubeconfig={self.cluster.kubeconfig}",
            f"--config={','.join(str(path) for path in configs)}",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_SELECTOR}",
            f"--node-lease-duration-seconds={self.node_lease_seconds}",
            f"--node-ip={NODE_IP}",
            f"--cidr={POD_CIDR}",
            # One log line per node and pod patched at INFO: thousands a second in a benchmark.
            "--v=WARN",
            # Serves /healthz (plain HTTP) for the readiness probe; nothing else is used.
            f"--server-address={LOOPBACK}:{port}",
        ]

    @property
    def url(self) -> str:
        """Base URL of KWOK's HTTP server: /healthz, /metrics."""
        return f"http://{LOOPBACK}:{self.ports[0]}"

    def _ready(self) -> bool:
        return http_ok(f"{self.url}/healthz", expect=b"ok")
