"""``podium dev`` end to end, small: on its own live cluster (controller-manager, KWOK nodes),
the Deployments' pods run, the Jobs' pods succeed, and the workload settles."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from podium.config import default_config
from podium.demo import DemoOptions, demo_workload, run_demo
from podium.testing.binaries import Binaries

pytestmark = pytest.mark.timeout(240)


async def test_demo_runs_deployments_jobs_and_gangs_on_kwok_nodes(
    binaries: Binaries, kwok_binary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The fixtures build the binaries outside this test's timeout; run_demo finds them cached.
    config = dataclasses.replace(default_config(), qps=2000.0, burst=4000)
    options = DemoOptions(nodes=24, pods=120, timeout=150.0)
    result = await run_demo(config, options)
    out = capsys.readouterr().out
    assert result.settled, out
    controllers = result.controllers
    assert controllers.deployments == 2
    assert controllers.available == 2, out
    assert controllers.ready == controllers.replicas
    # Every Job but the gangs that cannot run (too big for the cluster, missing a member)
    # completes: its pods ran on KWOK nodes and succeeded.
    workload = demo_workload(options.pods, random.Random(options.seed))
    assert controllers.jobs == len(workload.jobs)
    assert controllers.complete >= controllers.jobs - 2, out
    assert result.phases["Running"] == controllers.replicas
    assert result.phases["Succeeded"] > 0
    assert "podium dev: summary" in out
