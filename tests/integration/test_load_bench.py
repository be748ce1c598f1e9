"""The load benchmark's whole code path at a tiny size on the session's live cluster (KWOK
nodes heartbeating, the controller-manager running Jobs): every scheduler binds every pod it
should in backlog and rate mode and in churn, none binds deep_queue's unplaceable pods, and the
report is complete. No timing asserted."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import orjson
from kubernetes_asyncio.client import ApiClient

from podium.benchmarks.e2e_load import BACKLOG, BENCH_LABEL, RATE, LoadOptions, run_load
from podium.benchmarks.e2e_report import plot_load, write_json
from podium.benchmarks.e2e_schedulers import PODIUM, SCHEDULERS
from podium.benchmarks.e2e_targets import ceiling_beaten, evaluate
from podium.benchmarks.e2e_workloads import CHURN, DEEP_QUEUE, GANG, case_modes, runs
from podium.rawapi import request_bytes
from podium.testing.binaries import Binaries
from podium.testing.live_cluster import LiveCluster


async def test_every_scheduler_binds_every_workload_and_the_report_is_written(
    live_cluster: LiveCluster, binaries: Binaries, live_api: ApiClient, tmp_path: Path
) -> None:
    workloads = ("plain", DEEP_QUEUE, GANG, CHURN)
    options = LoadOptions(
        nodes=20,
        pods=8,
        workloads=workloads,
        modes=(BACKLOG, RATE),
        rate=50.0,
        churn_seconds=2.0,
        churn_jobs_per_s=2.0,
        churn_run_for="1s",
        case_timeout=90.0,
        schedulers=SCHEDULERS,
    )
    report = await run_load(options, cluster=live_cluster, binaries=binaries)

    assert not report.failures
    cases = {(c.scheduler, c.workload, c.mode): c for c in report.cases}
    assert set(cases) == {
        (s, w, m)
        for s in SCHEDULERS
        for w in workloads
        if runs(s, w)
        for m in case_modes(w, options.modes)
    }
    assert (PODIUM, GANG, BACKLOG) in cases
    # deep_queue: 8 pods, the fifth unplaceable; churn: 2 s x 2 Jobs/s x 4 pods.
    expected = {DEEP_QUEUE: 7, CHURN: 16}
    for case in report.cases:
        assert case.status == "ok", case
        assert case.bound == case.pods == expected.get(case.workload, 8), case
        assert case.unplaceable_bound == 0, case
        assert 0 < case.latency_ms_p50 <= case.latency_ms_p99 <= case.latency_ms_max, case
        assert case.pods_per_s > 0, case
        assert case.cpu_seconds >= 0 and case.peak_rss_mib >= case.rss_mib > 0, case
        assert case.apiserver_cpu_seconds > 0 and not math.isnan(case.load_end), case
    checks = evaluate(report)
    assert checks and all(check.status in {"met", "missed"} for check in checks)

    beaten = ceiling_beaten(report)
    written = orjson.loads(write_json(report, checks, beaten, tmp_path).read_bytes())
    assert len(written["cases"]) == len(report.cases)
    assert written["options"] == orjson.loads(orjson.dumps(dataclasses.asdict(options)))
    assert plot_load(report, tmp_path / "load.png").stat().st_size > 0
    # The bench's nodes are gone: later tests must not find their capacity.
    nodes = orjson.loads(
        await request_bytes(live_api, "GET", "/api/v1/nodes", query={"labelSelector": BENCH_LABEL})
    )
    assert nodes["items"] == []
    assert not math.isnan(report.node_ready_seconds)
