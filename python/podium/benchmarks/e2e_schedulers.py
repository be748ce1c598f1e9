"""The schedulers the load benchmark compares, each a process of its own on the same apiserver,
with the same client limits: the bind ceiling, the upstream kube-scheduler, and ``podium run``."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.config import PodiumArgs
from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster
from podium.testing.kube_scheduler import KubeScheduler
from podium.testing.podium_run import PodiumRun
from podium.testing.server import LocalServer

CEILING = "ceiling"
REPORTING_CEILING = "reporting-ceiling"
KUBE_SCHEDULER = "kube-scheduler"
PODIUM = "podium"
SCHEDULERS = (CEILING, REPORTING_CEILING, KUBE_SCHEDULER, PODIUM)
# The reporting ceiling is asked for by name: it measured below podium in every workload of
# its first runs, so it is not yet the ceiling its name promises (bench/README.md).
DEFAULT_SCHEDULERS = (CEILING, KUBE_SCHEDULER, PODIUM)
CEILINGS = (CEILING, REPORTING_CEILING)
TITLES = {
    CEILING: "bind ceiling",
    REPORTING_CEILING: "reporting ceiling",
    KUBE_SCHEDULER: "kube-scheduler",
    PODIUM: "podium",
}


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """client-go's qps/burst, raised so no scheduler is throttled by its own client."""

    qps: float = 5000.0
    burst: int = 10000
    # podium's binds in flight (its default).
    bind_concurrency: int = PodiumArgs().bind_concurrency
    # The bind ceiling's binds in flight, one per connection: tuned on this machine
    # (bench/README.md), not tied to podium's.
    ceiling_connections: int = 64


class BindCeiling(LocalServer):
    """``python -m podium.benchmarks.ceiling``: ready once its watch is open (its pods already
    pending are listed and queued by then). With ``report_pods`` (a label selector, or "" for
    none) it is the reporting ceiling: those pods are reported unschedulable, not bound, and
    every bound pod gets its ``Scheduled`` event."""

    name = "bind-ceiling"
    port_count = 0

    def __init__(
        self,
        cluster: LocalCluster,
        scheduler_name: str,
        node_selector: str,
        limits: ClientLimits,
        *,
        pod_selector: str | None = None,
        report_pods: str | None = None,
        workdir: Path | None = None,
    ) -> None:
        super().__init__(workdir=workdir, start_timeout=60.0)
        self.cluster = cluster
        self.scheduler_name = scheduler_name
        self.node_selector = node_selector
        self.limits = limits
        self.pod_selector = pod_selector
        self.report_pods = report_pods
        self.ready_file = self.workdir / "ready"

    def _argv(self, ports: Sequence[int]) -> list[str]:
        self.ready_file.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "podium.benchmarks.ceiling",
            f"--kubeconfig={self.cluster.kubeconfig}",
            f"--scheduler-name={self.scheduler_name}",
            f"--ready-file={self.ready_file}",
            f"--node-selector={self.node_selector}",
            f"--connections={self.limits.ceiling_connections}",
        ]
        if self.pod_selector:
            argv.append(f"--label-selector={self.pod_selector}")
        if self.report_pods is not None:
            argv.append("--report")
            if self.report_pods:
                argv.append(f"--report-label-selector={self.report_pods}")
        return argv

    def _ready(self) -> bool:
        return self.ready_file.is_file()


def podium_config(scheduler_name: str, limits: ClientLimits) -> dict[str, Any]:
    """podium's defaults, one profile, no leader election (kube-scheduler runs without too)."""
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"qps": limits.qps, "burst": limits.burst},
        "leaderElection": {"leaderElect": False},
        "profiles": [{"schedulerName": scheduler_name}],
    }


def scheduler_process(
    kind: str,
    cluster: LocalCluster,
    scheduler_name: str,
    node_labels: Mapping[str, str],
    limits: ClientLimits,
    binaries: Binaries | None = None,
    *,
    ceiling_pods: str | None = None,
    unplaceable_pods: str | None = None,
) -> LocalServer:
    """The (not yet started) process of scheduler ``kind``, taking pods of ``scheduler_name``
    (the ceilings bind only those matching the label selector ``ceiling_pods``; the reporting
    ceiling reports those matching ``unplaceable_pods`` unschedulable)."""
    if kind in CEILINGS:
        selector = ",".join(f"{k}={v}" for k, v in node_labels.items())
        report = (unplaceable_pods or "") if kind == REPORTING_CEILING else None
        return BindCeiling(
            cluster, scheduler_name, selector, limits, pod_selector=ceiling_pods, report_pods=report
        )
    if kind == KUBE_SCHEDULER:
        return KubeScheduler(
            cluster,
            profiles=[{"schedulerName": scheduler_name}],
            qps=limits.qps,
            burst=limits.burst,
            binaries=binaries,
        )
    if kind == PODIUM:
        return PodiumRun(cluster, podium_config(scheduler_name, limits))
    raise ValueError(f"unknown scheduler {kind!r}; choose from {', '.join(SCHEDULERS)}")
