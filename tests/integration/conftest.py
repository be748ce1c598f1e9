"""Fixtures for tests against the local kube-apiserver (see tests/conftest.py for the cluster)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster
from podium.testing.kube_scheduler import KubeScheduler

StartKubeScheduler = Callable[..., KubeScheduler]


@pytest.fixture
def kube_scheduler(cluster: LocalCluster, binaries: Binaries) -> Iterator[StartKubeScheduler]:
    """Starts upstream kube-scheduler(s) on the session cluster, stopped after the test.

    Called with no arguments it runs one profile under a unique schedulerName (read it from
    ``.profiles[0]["schedulerName"]``), so it never takes pods meant for another test."""
    started: list[KubeScheduler] = []

    def start(**kwargs: Any) -> KubeScheduler:
        kwargs.setdefault("profiles", [{"schedulerName": f"kube-{uuid.uuid4().hex[:8]}"}])
        scheduler = KubeScheduler(cluster, binaries=binaries, **kwargs)
        started.append(scheduler)
        return scheduler.start()

    yield start
    for scheduler in started:
        scheduler.stop()
