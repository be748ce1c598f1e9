"""Assembles ``podium extender``: the informer cache, the extender endpoints, and the health
server, run until cancelled. No queue and no scheduling loop: kube-scheduler drives."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podium._core import PendingPod, Profile
from podium.cache import Cache
from podium.extender import Extender, ExtenderServer, TlsFiles
from podium.health import HealthServer, HealthState, parse_address
from podium.kubeclient import api_client
from podium.metrics import Metrics
from podium.plugins import load_plugins

if TYPE_CHECKING:
    from podium.config import Profile as ConfigProfile
    from podium.config import SchedulerConfig

__all__ = ["ExtenderOptions", "NoQueue", "run_extender"]

log = logging.getLogger(__name__)


class NoQueue:
    """The cache's queue sink when nothing is queued: kube-scheduler owns the pods."""

    def add(self, pod: PendingPod) -> None:
        pass

    def update(self, pod: PendingPod) -> None:
        pass

    def delete(self, uid: str) -> None:
        pass

    def move_all_to_active_or_backoff(self, reason: str) -> None:
        pass

    def move_group(self, key: tuple[str, str], reason: str) -> None:
        pass

    def move_groups(self, reason: str) -> None:
        pass

    def activate(self, uid: str) -> None:
        pass


@dataclass(frozen=True)
class ExtenderOptions:
    listen: str = "0.0.0.0:8888"
    url_prefix: str = ""
    # The profile whose filters and scores judge kube-scheduler's pods (default: the first).
    profile: str | None = None
    tls: TlsFiles | None = None
    kubeconfig: Path | None = None
    health_listen: str | None = None


def choose_profile(config: SchedulerConfig, name: str | None) -> ConfigProfile:
    settings = config.profile(name) if name is not None else config.profiles[0]
    if settings is None:
        known = ", ".join(config.scheduler_names)
        raise ValueError(f"--profile: no profile {name!r} in the config (profiles: {known})")
    return settings


async def run_extender(config: SchedulerConfig, options: ExtenderOptions) -> None:
    settings = choose_profile(config, options.profile)
    profile = Profile(settings.core_spec())
    plugins = load_plugins(settings.scheduler_name, settings.python_plugins)
    host, port = parse_address(options.listen)
    api = await api_client(options.kubeconfig, config.qps, config.burst)
    cache = Cache(api, config.scheduler_names, NoQueue())
    health_state = HealthState()
    health = HealthServer(
        Metrics(), health_state, options.health_listen or config.podium.health_bind_address
    )
    server = ExtenderServer(
        Extender(cache.state, profile, api, plugins),
        host,
        port,
        prefix=options.url_prefix,
        tls=options.tls,
    )
    try:
        await plugins.start()
        async with asyncio.TaskGroup() as group:
            group.create_task(cache.run(), name="extender-cache")
            await health.start()
            await cache.wait_synced()
            health_state.synced = True
            health_state.leader = True
            log.info(
                "cache synced: %d nodes, %d pods; serving profile %r",
                cache.state.node_count,
                cache.state.pod_count,
                profile.scheduler_name,
            )
            await server.start()
    finally:
        await plugins.stop()
        await server.stop()
        await health.stop()
        await api.close()
