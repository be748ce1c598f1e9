"""podium agrees with the real kube-scheduler on randomly generated clusters.

kube-scheduler places a seeded random workload (see ``conformance.generator``); then podium's
core judges every pod against the final state: a pod kube-scheduler bound to node N must be
feasible on N (with its own placement taken off), a pod it left pending must be infeasible on
every node, and its FailedScheduling message must give the same reasons as kube-scheduler's
(``conformance.messages``). The features generated follow ``podium.config.IMPLEMENTED``.

CI runs one seed at the default size. A sweep, by hand::

    PODIUM_CONFORMANCE_SEEDS=1-20 .venv/bin/python -m pytest tests/integration/test_conformance.py

(``PODIUM_CONFORMANCE_NODES`` / ``PODIUM_CONFORMANCE_PODS`` change the size.)
"""

from __future__ import annotations

import os
import uuid

import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import IMPLEMENTED
from podium.rawapi import request_bytes
from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster

from .conformance.check import disagreements
from .conformance.generator import Options, generate, parse_seeds, runtime_class
from .conformance.settle import (
    create_scenario,
    delete_volumes,
    list_outcome,
    run_kube_scheduler,
)

SEEDS = parse_seeds(os.environ.get("PODIUM_CONFORMANCE_SEEDS", "1"))
NODES = int(os.environ.get("PODIUM_CONFORMANCE_NODES", "60"))
PODS = int(os.environ.get("PODIUM_CONFORMANCE_PODS", "500"))

pytestmark = pytest.mark.timeout(600)


def _rerun(seed: int) -> str:
    return (
        f"PODIUM_CONFORMANCE_SEEDS={seed} PODIUM_CONFORMANCE_NODES={NODES} "
        f"PODIUM_CONFORMANCE_PODS={PODS} .venv/bin/python -m pytest "
        "tests/integration/test_conformance.py"
    )


@pytest.mark.parametrize("seed", SEEDS)
async def test_podium_agrees_with_kube_scheduler(
    seed: int,
    api: ApiClient,
    cluster: LocalCluster,
    binaries: Binaries,
    namespace: str,
    node_labels: dict[str, str],
) -> None:
    scheduler_name = f"conformance-{uuid.uuid4().hex[:8]}"
    overhead_class = f"conformance-{namespace}"
    options = Options(
        plugins=IMPLEMENTED,
        namespace=namespace,
        scheduler_name=scheduler_name,
        node_prefix=f"cf-{next(iter(node_labels.values()))}",
        node_labels=node_labels,
        nodes=NODES,
        pods=PODS,
        runtime_class=overhead_class,
        storage_class=f"conformance-{namespace}",
    )
    scenario = generate(seed, options)
    path = "/apis/node.k8s.io/v1/runtimeclasses"
    await request_bytes(api, "POST", path, body=runtime_class(overhead_class))
    try:
        await create_scenario(api, scenario, namespace)
        await run_kube_scheduler(api, cluster, binaries, scheduler_name, namespace)
        outcome = await list_outcome(api)
    finally:
        await request_bytes(api, "DELETE", f"{path}/{overhead_class}")
        await delete_volumes(api, scenario, namespace)

    judged = [pod["metadata"]["name"] for pod in scenario.pending]
    mismatches, placed, pending = disagreements(scheduler_name, outcome, judged)
    header = (
        f"seed {seed}: {NODES} nodes, {len(scenario.bound)} pre-bound pods, {PODS} pods "
        f"({placed} placed, {pending} left pending by kube-scheduler); "
        f"features: {', '.join(sorted(scenario.features))}"
    )
    print(header)
    # Both verdicts must be exercised, or the comparison proves little.
    assert placed + pending == PODS, f"{header}: some pods were not listed back"
    assert placed >= PODS // 2, f"{header}: kube-scheduler placed too few to compare"
    assert pending > 0, f"{header}: nothing left pending, the infeasible side is untested"
    if mismatches:
        details = "\n".join(m.describe() for m in mismatches[:20])
        more = f"\n... and {len(mismatches) - 20} more" if len(mismatches) > 20 else ""
        pytest.fail(
            f"{header}\n{len(mismatches)} disagreement(s) between podium and kube-scheduler:\n"
            f"{details}{more}\nrerun: {_rerun(seed)}",
            pytrace=False,
        )
