"""A local cluster whose objects live: the apiserver with kube-controller-manager and KWOK.

Deployments get their ReplicaSets and pods, Jobs their pods, and finish; deleted owners and
namespaces are garbage-collected; KWOK's nodes heartbeat (Leases, status) and run the pods
bound to them (``podium.testing.kwok``). Static nodes (``podium.testing.nodes``) may stand beside
KWOK's, as long as the node lifecycle controller is off: nothing heartbeats for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from podium.testing.cluster import LocalCluster
from podium.testing.controller_manager import KubeControllerManager
from podium.testing.kwok.controller import NODE_LEASE_SECONDS, Kwok
from podium.testing.server import LocalServer


class LiveCluster(LocalCluster):
    """``with LiveCluster() as cluster:`` runs the apiserver, then the controller-manager and
    KWOK (each may be turned off), and stops them in reverse order.

    ``node_lifecycle`` runs kube's node lifecycle controller (default: when both the
    controller-manager and KWOK run, since only KWOK's nodes heartbeat); ``node_lease_seconds``
    is the KWOK nodes' Lease duration (renewed every quarter of it). ``LocalCluster``'s
    arguments pass through (``binaries``, ``apiserver_args``, ...)."""

    def __init__(
        self,
        *,
        controller_manager: bool = True,
        kwok: bool = True,
        node_lifecycle: bool | None = None,
        controller_manager_args: Sequence[str] = (),
        kwok_binary: Path | None = None,
        kwok_parallelism: int = 16,
        node_lease_seconds: int = NODE_LEASE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if node_lifecycle is None:
            node_lifecycle = controller_manager and kwok
        if node_lifecycle and not controller_manager:
            raise ValueError("LiveCluster: node_lifecycle needs the controller-manager")
        self.controller_manager: KubeControllerManager | None = None
        self.kwok: Kwok | None = None
        if controller_manager:
            self.controller_manager = KubeControllerManager(
                self,
                node_lifecycle=node_lifecycle,
                extra_args=controller_manager_args,
                binaries=self._binaries,
                workdir=self.workdir / "controller-manager",
            )
        if kwok:
            self.kwok = Kwok(
                self,
                parallelism=kwok_parallelism,
                node_lease_seconds=node_lease_seconds,
                binary=kwok_binary,
                workdir=self.workdir / "kwok",
            )

    @property
    def companions(self) -> list[LocalServer]:
        """The servers started after the apiserver, in start order."""
        return [server for server in (self.controller_manager, self.kwok) if server is not None]

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
