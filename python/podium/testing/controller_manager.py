"""The upstream kube-controller-manager, run against a ``LocalCluster``.

It makes the local cluster behave like a real one around podium: Deployments create ReplicaSets
and their pods, Jobs create pods and complete, the garbage collector removes what lost its
owner, deleted namespaces are emptied, the PersistentVolume binder binds claims, ResourceClaim
templates become claims (DRA), pod GC removes orphaned pods, and every namespace gets its
``default`` ServiceAccount. It signs ServiceAccount tokens with the apiserver's own key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from podium.testing.binaries import Binaries, ensure_binaries
from podium.testing.ports import LOOPBACK
from podium.testing.server import LocalServer, http_ok

if TYPE_CHECKING:
    from podium.testing.cluster import LocalCluster

SERVICE_ACCOUNT_CONTROLLER = "serviceaccount-controller"
NODE_LIFECYCLE_CONTROLLERS = ("node-lifecycle-controller",)
"""Off unless asked: it marks nodes whose kubelet (or KWOK) stopped reporting unreachable and
taints them, so on static nodes, which never report, it would evict every pod."""

NODE_MONITOR_GRACE_PERIOD = "120s"
"""How long a node may go without a heartbeat before it is marked unreachable: above kube's
50 s, so a 2-core machine under a benchmark's load does not make KWOK's nodes look dead."""


class KubeControllerManager(LocalServer):
    """``with KubeControllerManager(cluster):`` runs kube-controller-manager until the block ends.

    All of kube's default controllers run except ``disabled`` (by name, as
    ``--controllers=-name``) and the node lifecycle controller, which runs only with
    ``node_lifecycle=True`` (for clusters whose nodes heartbeat: KWOK's). Leader election is off:
    one controller-manager per cluster here."""

    name = "kube-controller-manager"

    def __init__(
        self,
        cluster: LocalCluster,
        *,
        node_lifecycle: bool = False,
        disabled: Sequence[str] = (),
        qps: float = 5000.0,
        burst: int = 10000,
        extra_args: Sequence[str] = (),
        verbosity: int = 1,
        binaries: Binaries | None = None,
        workdir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir=workdir, start_timeout=start_timeout)
        self.cluster = cluster
        self.node_lifecycle = node_lifecycle
        self.disabled = list(disabled)
        if not node_lifecycle:
            self.disabled.extend(NODE_LIFECYCLE_CONTROLLERS)
        self.qps = qps
        self.burst = burst
        self.extra_args = list(extra_args)
        self.verbosity = verbosity
        self._binaries = binaries

    def _prepare(self) -> None:
        if self._binaries is None:
            self._binaries = ensure_binaries()
        if not self.cluster.token:
            raise RuntimeError("KubeControllerManager: start the LocalCluster first")

    def _argv(self, ports: Sequence[int]) -> list[str]:
        assert self._binaries is not None, "_prepare runs first"
        (port,) = ports
        controllers = ",".join(["*", *(f"-{name}" for name in self.disabled)])
        return [
            str(self._binaries.controller_manager),
            f"--kubeconfig={self.cluster.kubeconfig}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'certs'}",
            # No delegated authn/authz (the local apiserver has no front-proxy CA to look up):
            # only the always-allowed paths answer.
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            "--leader-elect=false",
            f"--controllers={controllers}",
            # The apiserver verifies ServiceAccount tokens with this key; the token controller
            # signs with it, and the root CA is published as each namespace's kube-root-ca.crt.
            f"--service-account-private-key-file={self.cluster.service_account_key}",
            f"--root-ca-file={self.cluster.serving_certificate}",
            # kube's default of 20 requests/s would make a ReplicaSet of a thousand pods take
            # a minute to create: the benchmarks measure the scheduler, not this client.
            f"--kube-api-qps={self.qps}",
            f"--kube-api-burst={self.burst}",
            f"--node-monitor-grace-period={NODE_MONITOR_GRACE_PERIOD}",
            f"--v={self.verbosity}",
            *self.extra_args,
        ]

    @property
    def url(self) -> str:
        """Base URL of the controller-manager's HTTPS endpoints (self-signed): /healthz."""
        return f"https://{LOOPBACK}:{self.ports[0]}"

    def _ready(self) -> bool:
        if not http_ok(f"{self.url}/healthz", expect=b"ok"):
            return False
        if SERVICE_ACCOUNT_CONTROLLER in self.disabled:
            return True
        # Healthy is not enough: the default ServiceAccount of "default" appears once the
        # controllers run against the apiserver.
        return http_ok(
            f"{self.cluster.server}/api/v1/namespaces/default/serviceaccounts/default",
            token=self.cluster.token,
        )
