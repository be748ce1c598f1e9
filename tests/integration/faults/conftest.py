"""Fixtures for the fault tests: a fault-injecting proxy in front of the session apiserver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from podium.testing.cluster import LocalCluster
from podium.testing.faultproxy import FaultProxy


@pytest_asyncio.fixture
async def proxy(cluster: LocalCluster) -> AsyncIterator[FaultProxy]:
    """A proxy to the session apiserver, no rules yet (seeded: a failure can be replayed)."""
    async with FaultProxy(cluster.server, cluster.token, seed=9) as running:
        yield running
