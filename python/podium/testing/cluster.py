"""A throwaway Kubernetes control plane: embedded etcd + kube-apiserver on loopback.

No kubelet, controller-manager or scheduler runs: nodes are plain API objects (see
``podium.testing.nodes``) and pods stay where the scheduler under test puts them.
``podium.testing.live_cluster`` adds kube-controller-manager and KWOK around the same apiserver.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from podium.testing.binaries import Binaries, ensure_binaries
from podium.testing.ports import LOOPBACK
from podium.testing.server import LocalServer, ServerStartError, http_ok


class LocalCluster(LocalServer):
    """``with LocalCluster() as cluster:`` (or ``async with``) runs a fresh apiserver.

    ``kubeconfig``, ``server`` and ``token`` are set once it is ready. ``apiserver_args`` are
    extra kube-apiserver flags (``--feature-gates=...``, ``--runtime-config=...``)."""

    name = "apiserver"
    port_count = 3  # apiserver, etcd client, etcd peer

    def __init__(
        self,
        *,
        binaries: Binaries | None = None,
        workdir: Path | None = None,
        start_timeout: float = 120.0,
        apiserver_args: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir=workdir, start_timeout=start_timeout)
        self._binaries = binaries
        self.apiserver_args = list(apiserver_args)
        self.state_dir = self.workdir / "state"
        self.kubeconfig = self.state_dir / "kubeconfig"
        #: The key the apiserver verifies ServiceAccount tokens with (and signs its own).
        self.service_account_key = self.state_dir / "sa.key"
        #: The apiserver's self-signed serving certificate (with its CA), written at start.
        self.serving_certificate = self.state_dir / "certs" / "apiserver.crt"
        self.server = ""
        self.token = ""

    def _prepare(self) -> None:
        if self._binaries is None:
            self._binaries = ensure_binaries()

    def _argv(self, ports: Sequence[int]) -> list[str]:
        assert self._binaries is not None, "_prepare runs first"
        api_port, etcd_port, etcd_peer_port = ports
        self.server = f"https://{LOOPBACK}:{api_port}"
        self.token = ""
        # A retry must not find the previous attempt's kubeconfig (it names the old port).
        self.kubeconfig.unlink(missing_ok=True)
        return [
            str(self._binaries.apiserver),
            f"--dir={self.state_dir}",
            f"--port={api_port}",
            f"--etcd-port={etcd_port}",
            f"--etcd-peer-port={etcd_peer_port}",
            "--",
            *self.apiserver_args,
        ]

    def _ready(self) -> bool:
        if not self.token:
            if not self.kubeconfig.is_file():
                return False
            self.token = _admin_token(self.kubeconfig)
        return http_ok(f"{self.server}/readyz", token=self.token, expect=b"ok")


def _admin_token(kubeconfig: Path) -> str:
    """The bearer token podium-apiserver wrote into its kubeconfig."""
    document = yaml.safe_load(kubeconfig.read_text())
    try:
        token = document["users"][0]["user"]["token"]
    except (KeyError, IndexError, TypeError) as error:
        raise ServerStartError(f"kubeconfig {kubeconfig}: no users[0].user.token") from error
    if not isinstance(token, str) or not token:
        raise ServerStartError(f"kubeconfig {kubeconfig}: users[0].user.token is not a string")
    return token
