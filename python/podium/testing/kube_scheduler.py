"""The upstream kube-scheduler, run against a ``LocalCluster`` for side-by-side comparisons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from podium.testing.binaries import Binaries, ensure_binaries
from podium.testing.cluster import LocalCluster
from podium.testing.ports import LOOPBACK
from podium.testing.server import LocalServer, http_ok

DEFAULT_PROFILES: tuple[Mapping[str, Any], ...] = ({"schedulerName": "default-scheduler"},)


class KubeScheduler(LocalServer):
    """``with KubeScheduler(cluster, profiles=[...]):`` runs kube-scheduler until the block ends.

    ``profiles`` are KubeSchedulerConfiguration profiles as plain data; ``config`` adds or
    overrides other top-level fields (``parallelism``, ``percentageOfNodesToScore``, ...).
    Leader election is always off: one scheduler per cluster here."""

    name = "kube-scheduler"

    def __init__(
        self,
        cluster: LocalCluster,
        *,
        profiles: Sequence[Mapping[str, Any]] = DEFAULT_PROFILES,
        config: Mapping[str, Any] | None = None,
        qps: float = 5000.0,
        burst: int = 10000,
        verbosity: int = 1,
        binaries: Binaries | None = None,
        workdir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir=workdir, start_timeout=start_timeout)
        if not profiles:
            raise ValueError("KubeScheduler: profiles must name at least one schedulerName")
        for index, profile in enumerate(profiles):
            if not isinstance(profile.get("schedulerName"), str):
                raise TypeError(f"KubeScheduler: profiles[{index}].schedulerName must be a string")
        self.cluster = cluster
        self.profiles = [dict(profile) for profile in profiles]
        self.extra_config = dict(config or {})
        self.qps = qps
        self.burst = burst
        self.verbosity = verbosity
        self._binaries = binaries
        self.config_path = self.workdir / "config.yaml"

    def configuration(self) -> dict[str, Any]:
        """The KubeSchedulerConfiguration this runner writes, as plain data."""
        return {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {
                "kubeconfig": str(self.cluster.kubeconfig),
                "qps": self.qps,
                "burst": self.burst,
            },
            "leaderElection": {"leaderElect": False},
            "profiles": self.profiles,
            **self.extra_config,
        }

    def _prepare(self) -> None:
        if self._binaries is None:
            self._binaries = ensure_binaries()
        if not self.cluster.token:
            raise RuntimeError("KubeScheduler: start the LocalCluster before the scheduler")
        self.config_path.write_text(yaml.safe_dump(self.configuration(), sort_keys=False))

    def _argv(self, ports: Sequence[int]) -> list[str]:
        assert self._binaries is not None, "_prepare runs first"
        (port,) = ports
        return [
            str(self._binaries.kube_scheduler),
            f"--config={self.config_path}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'certs'}",
            # No delegated authn/authz (the local apiserver has no front-proxy CA to look up):
            # only the always-allowed paths answer, and benchmarks read /metrics.
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            f"--v={self.verbosity}",
        ]

    @property
    def url(self) -> str:
        """Base URL of the scheduler's HTTPS endpoints (self-signed): /readyz, /metrics."""
        return f"https://{LOOPBACK}:{self.ports[0]}"

    def _ready(self) -> bool:
        return http_ok(f"{self.url}/readyz", expect=b"ok")
