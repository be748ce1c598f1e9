"""The load benchmark's whole code path at a tiny size on the session's apiserver: every
scheduler binds every pod of every workload, and the report is complete. No timing asserted."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.benchmarks.e2e_load import BENCH_LABEL, LoadOptions, run_load
from podium.benchmarks.e2e_report import plot_load, write_json
from podium.benchmarks.e2e_schedulers import PODIUM, SCHEDULERS
from podium.benchmarks.e2e_targets import evaluate
from podium.benchmarks.e2e_workloads import PODIUM_ONLY_WORKLOADS, WORKLOADS, runs
from podium.rawapi import request_bytes
from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster


async def test_every_scheduler_binds_every_workload_and_the_report_is_written(
    cluster: LocalCluster, binaries: Binaries, api: ApiClient, tmp_path: Path
) -> None:
    options = LoadOptions(nodes=6, pods=6, modes=("burst",), case_timeout=60.0)
    report = await run_load(options, cluster=cluster, binaries=binaries)

    cases = {(c.scheduler, c.workload, c.mode): c for c in report.cases}
    assert set(cases) == {(s, w, "burst") for s in SCHEDULERS for w in WORKLOADS if runs(s, w)}
    assert PODIUM_ONLY_WORKLOADS and all(
        (PODIUM, w, "burst") in cases for w in PODIUM_ONLY_WORKLOADS
    )
    for case in report.cases:
        assert (case.status, case.bound) == ("ok", 6), case
        assert 0 < case.latency_ms_p50 <= case.latency_ms_p99 <= case.latency_ms_max, case
        assert case.pods_per_s > 0, case
        assert case.cpu_seconds >= 0 and case.peak_rss_mib >= case.rss_mib > 0, case
    checks = evaluate(report)
    assert len(checks) == 3 * len(set(WORKLOADS) - PODIUM_ONLY_WORKLOADS)
    assert all(check.status in {"met", "missed"} for check in checks)

    written = orjson.loads(write_json(report, checks, tmp_path).read_bytes())
    assert len(written["cases"]) == len(report.cases)
    assert written["options"] == orjson.loads(orjson.dumps(dataclasses.asdict(options)))
    assert plot_load(report, tmp_path / "load.png").stat().st_size > 0
    # The bench's nodes are gone: later tests must not find their capacity.
    nodes = orjson.loads(
        await request_bytes(api, "GET", "/api/v1/nodes", query={"labelSelector": BENCH_LABEL})
    )
    assert nodes["items"] == []
    assert not math.isnan(report.node_create_seconds)
