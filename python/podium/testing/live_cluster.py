"""A local cluster whose objects live: the apiserver with kube-controller-manager.

Deployments get their ReplicaSets and pods, Jobs their pods; deleted owners and namespaces are
garbage-collected; the PersistentVolume binder binds claims. No kubelet runs: nodes are static
API objects (``podium.testing.nodes``), so the node lifecycle controller stays off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from podium.testing.cluster import LocalCluster
from podium.testing.controller_manager import KubeControllerManager
from podium.testing.server import LocalServer


class LiveCluster(LocalCluster):
    """``with LiveCluster() as cluster:`` runs the apiserver, then the controller-manager, and
    stops them in reverse order. ``LocalCluster``'s arguments pass through (``binaries``,
    ``apiserver_args``, ...)."""

    def __init__(self, *, controller_manager_args: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.controller_manager = KubeControllerManager(
            self,
            extra_args=controller_manager_args,
            binaries=self._binaries,
            workdir=self.workdir / "controller-manager",
        )

    @property
    def companions(self) -> list[LocalServer]:
        """The servers started after the apiserver, in start order."""
        return [self.controller_manager]

    def start(self) -> Self:
        super().start()
        try:
            for server in self.companions:
                server.start()
        except BaseException:
            self.stop(remove_workdir=False)
            raise
        return self

    async def start_async(self) -> Self:
        await super().start_async()
        try:
            for server in self.companions:
                await server.start_async()
        except BaseException:
            self.stop(remove_workdir=False)
            raise
        return self

    def stop(self, *, remove_workdir: bool = True) -> None:
        for server in reversed(self.companions):
            server.stop(remove_workdir=False)
        super().stop(remove_workdir=remove_workdir)
