"""The load benchmark's pure parts: its workloads, how a case is summarised, the bind ceiling's
byte-level parsing and bodies, the targets and the ceiling-beaten flags. No apiserver."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from podium.benchmarks.ceiling import (
    Binder,
    Endpoint,
    Reporter,
    binding,
    pod_keys,
    read_kubeconfig,
)
from podium.benchmarks.e2e_load import (
    BACKLOG,
    RATE,
    READY,
    CaseResult,
    LoadOptions,
    LoadReport,
    _summarise,
    case_namespace,
    grace_seconds,
    lease_seconds,
    node_state,
)
from podium.benchmarks.e2e_pods import CaseTimes
from podium.benchmarks.e2e_schedulers import (
    CEILING,
    KUBE_SCHEDULER,
    PODIUM,
    REPORTING_CEILING,
    SCHEDULERS,
)
from podium.benchmarks.e2e_targets import ceiling_beaten, evaluate
from podium.benchmarks.e2e_workloads import (
    CHURN,
    CHURN_MODE,
    DEEP_QUEUE,
    DRA,
    GANG,
    GANG_SIZE,
    GPU,
    UNPLACEABLE_GPUS,
    UNPLACEABLE_LABEL,
    WORKLOADS,
    bench_claim_templates,
    bench_job,
    bench_node,
    bench_pod,
    bench_pod_groups,
    case_modes,
    ceiling_selector,
    dra_cluster_objects,
    placeable,
    runs,
)
from podium.benchmarks.procstat import Usage
from podium.testing.kwok.nodes import KWOK_NODE_ANNOTATION
from podium.testing.nodes import GPU_RESOURCE

COMMON: dict[str, Any] = {"namespace": "ns", "scheduler_name": "s", "node_selector": {"bench": "x"}}


def test_bench_nodes_are_kwok_nodes_with_gpus_in_zones() -> None:
    node = bench_node(3, {"bench": "x"})
    assert node["metadata"]["annotations"][KWOK_NODE_ANNOTATION] == "fake"
    assert node["metadata"]["labels"]["bench"] == "x"
    assert node["status"]["capacity"][GPU_RESOURCE] == "8"
    assert "conditions" not in node["status"]  # KWOK registers it Ready


def test_deep_queue_has_a_fifth_of_its_pods_unplaceable_and_labelled() -> None:
    pods = [bench_pod(DEEP_QUEUE, i, nodes=100, **COMMON) for i in range(100)]
    unplaceable = [p for p in pods if p["metadata"].get("labels", {}).get(UNPLACEABLE_LABEL)]
    assert len(unplaceable) == 20 == sum(not placeable(DEEP_QUEUE, i) for i in range(100))
    for pod in unplaceable:
        requests = pod["spec"]["containers"][0]["resources"]["requests"]
        assert int(requests[GPU_RESOURCE]) == UNPLACEABLE_GPUS > 8
    assert ceiling_selector(DEEP_QUEUE) == f"!{UNPLACEABLE_LABEL}"
    assert ceiling_selector("plain") is None


def test_anti_affinity_and_spread_are_each_alone() -> None:
    anti = bench_pod("anti_affinity", 0, nodes=100, **COMMON)["spec"]
    spread = bench_pod("spread", 0, nodes=100, **COMMON)["spec"]
    assert "podAntiAffinity" in anti["affinity"] and "topologySpreadConstraints" not in anti
    assert spread["topologySpreadConstraints"] and "affinity" not in spread


def test_every_pod_workload_builds_and_churn_builds_jobs() -> None:
    for workload in WORKLOADS:
        if workload == CHURN:
            job = bench_job(0, run_for="5s", **COMMON)
            assert job["kind"] == "Job" and job["spec"]["completions"] == 4
            assert job["spec"]["template"]["spec"]["schedulerName"] == "s"
        else:
            assert bench_pod(workload, 0, nodes=10, **COMMON)["spec"]["schedulerName"] == "s"
    assert case_modes(CHURN, (BACKLOG, RATE)) == (CHURN_MODE,)
    assert case_modes("plain", (BACKLOG, RATE)) == (BACKLOG, RATE)


def test_dra_pods_use_claim_templates_on_driver_slices_and_the_ceiling_sits_out() -> None:
    pods = [bench_pod(DRA, i, nodes=10, **COMMON) for i in range(4)]
    templates = {t["metadata"]["name"]: t for t in bench_claim_templates(DRA, namespace="ns")}
    asked = [p["spec"]["resourceClaims"][0]["resourceClaimTemplateName"] for p in pods]
    assert asked == ["gpus-1", "gpus-2", "gpus-4", "gpus-8"] and set(asked) == set(templates)
    for pod in pods:
        assert pod["spec"]["containers"][0]["resources"]["claims"] == [{"name": "gpus"}]
    eight = templates["gpus-8"]["spec"]["spec"]["devices"]
    assert sum(r["exactly"]["count"] for r in eight["requests"] if "gpu" in r["name"]) == 8
    assert len(eight["constraints"]) == 4  # each GPU pair with its NIC on one PCIe root
    assert bench_claim_templates("plain", namespace="ns") == []
    objects = dra_cluster_objects(3)
    kinds = [o["kind"] for o in objects]
    assert kinds.count("DeviceClass") == 2 and kinds.count("ResourceSlice") == 6
    assert all("uid" not in o["metadata"] for o in objects)
    assert {o["spec"]["nodeName"] for o in objects if o["kind"] == "ResourceSlice"} == {
        bench_node(i, {})["metadata"]["name"] for i in range(3)
    }
    assert not runs(CEILING, DRA) and runs(KUBE_SCHEDULER, DRA) and runs(PODIUM, DRA)
    assert DRA not in LoadOptions().workloads, "asked for by name"


def test_gang_pods_join_workload_api_pod_groups_kube_scheduler_places_too() -> None:
    pods = [bench_pod(GANG, i, nodes=10, **COMMON) for i in range(GANG_SIZE + 1)]
    groups = bench_pod_groups(GANG, GANG_SIZE + 1, namespace="ns")
    assert [g["apiVersion"] for g in groups] == ["scheduling.k8s.io/v1beta1"] * 2
    assert [g["spec"]["schedulingPolicy"]["gang"]["minCount"] for g in groups] == [GANG_SIZE, 1]
    linked = [p["spec"]["schedulingGroup"]["podGroupName"] for p in pods]
    assert linked == [groups[0]["metadata"]["name"]] * GANG_SIZE + [groups[1]["metadata"]["name"]]
    assert all(p["spec"]["containers"][0]["resources"]["limits"][GPU_RESOURCE] for p in pods)
    assert bench_pod_groups("plain", 8, namespace="ns") == []
    assert not runs(CEILING, GANG) and runs(KUBE_SCHEDULER, GANG) and runs(PODIUM, GANG)


def test_lease_grows_with_the_cluster_beyond_5000_nodes() -> None:
    assert lease_seconds(20) == lease_seconds(5_000) == 40
    assert lease_seconds(20_000) == 160


def test_grace_period_outlasts_two_leases_so_registration_does_not_taint_early_nodes() -> None:
    assert grace_seconds(lease_seconds(5_000)) == 120
    assert grace_seconds(lease_seconds(20_000)) == 320


def test_backlog_rate_is_the_drain_and_latency_counts_from_the_scheduler_launch() -> None:
    times = CaseTimes(
        created={f"p-{i}": 1.0 for i in range(5)},
        bound={f"p-{i}": 12.0 + i * 0.5 for i in range(5)},  # 4 gaps of 0.5 s
    )
    case = CaseResult(PODIUM, "plain", BACKLOG, pods=5)
    _summarise(case, times, Usage(0, 0, 0), Usage(3.0, 100, 120), clock_start=10.0)
    assert case.status == "ok" and case.bound == 5
    assert case.pods_per_s == pytest.approx(4 / 2.0)
    assert case.latency_ms_p50 == pytest.approx(3000)  # 13.0 - 10.0
    assert case.seconds == pytest.approx(4.0)
    assert (case.cpu_seconds, case.peak_rss_mib) == (3.0, 120)


def test_rate_latency_is_from_creation_and_unplaceable_pods_bound_are_flagged() -> None:
    names = [f"deep-queue-{i:06d}" for i in range(5)]  # index 4 is unplaceable
    times = CaseTimes(
        created={n: float(i) for i, n in enumerate(names)},
        bound={n: i + 0.1 for i, n in enumerate(names)},
    )
    case = CaseResult(KUBE_SCHEDULER, DEEP_QUEUE, RATE, pods=4, unplaceable=1)
    _summarise(case, times, Usage(1, 0, 0), Usage(2, 0, 0), clock_start=0.0)
    assert case.bound == 4 and case.unplaceable_bound == 1
    assert case.status == "incomplete" and "no node can take" in case.note
    assert case.latency_ms_p99 == pytest.approx(100)
    assert case.pods_per_s == pytest.approx(4 / 3.1)


def test_ceiling_finds_pod_keys_in_raw_lists_and_events() -> None:
    listed = orjson.dumps(
        {
            "kind": "PodList",
            "metadata": {"resourceVersion": "7"},
            "items": [
                {"metadata": {"name": "a", "namespace": "n1", "uid": "u"}, "spec": {}},
                {
                    "metadata": {"name": "job-x-abc", "generateName": "job-x-", "namespace": "n2"},
                    "spec": {"containers": [{"name": "c"}]},
                },
            ],
        }
    )
    assert list(pod_keys(listed)) == [("n1", "a"), ("n2", "job-x-abc")]
    event = orjson.dumps(
        {"type": "ADDED", "object": {"kind": "Pod", "metadata": {"name": "b", "namespace": "n"}}}
    )
    assert list(pod_keys(event)) == [("n", "b")]
    path, body = binding("n", "b", "node-1")
    assert path == "/api/v1/namespaces/n/pods/b/binding"
    assert orjson.loads(body) == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "b", "namespace": "n"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }


def test_ceiling_reads_the_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443/\n"
        "    insecure-skip-tls-verify: true\n"
        "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
        "users:\n- name: u\n  user:\n    token: secret\n"
    )
    endpoint = read_kubeconfig(kubeconfig)
    assert endpoint.server == "https://127.0.0.1:6443"
    assert endpoint.ssl is False
    assert endpoint.headers == {"Authorization": "Bearer secret"}


def _report(
    rates: dict[tuple[str, str, str], tuple[float, float]],
    workloads: tuple[str, ...] = ("plain", "anti_affinity", DEEP_QUEUE, GANG),
) -> LoadReport:
    """A report whose cases have the given (pods/s, p99 ms)."""
    options = LoadOptions(workloads=workloads, modes=(BACKLOG, RATE))
    report = LoadReport(options=options, started="", machine={})
    for (scheduler, workload, mode), (rate, p99) in rates.items():
        case = CaseResult(scheduler, workload, mode, pods=100, bound=100)
        case.pods_per_s, case.latency_ms_p99 = rate, p99
        report.cases.append(case)
    return report


def test_targets_compare_podium_with_the_ceiling_and_kube() -> None:
    report = _report(
        {
            (CEILING, "plain", BACKLOG): (1000, 500),
            (KUBE_SCHEDULER, "plain", BACKLOG): (400, 900),
            (PODIUM, "plain", BACKLOG): (950, 400),
            (CEILING, "anti_affinity", BACKLOG): (1000, 500),
            (KUBE_SCHEDULER, "anti_affinity", BACKLOG): (100, 5000),
            (PODIUM, "anti_affinity", BACKLOG): (850, 600),
            (CEILING, DEEP_QUEUE, BACKLOG): (1000, 500),
            (KUBE_SCHEDULER, DEEP_QUEUE, BACKLOG): (300, 900),
            (PODIUM, DEEP_QUEUE, BACKLOG): (500, 800),
            (PODIUM, GANG, BACKLOG): (700, 300),
        }
    )
    checks = {c.name: c.status for c in evaluate(report)}
    assert checks["plain, backlog: podium pods/s >= 0.9 x bind ceiling"] == "met"
    assert checks["anti_affinity, backlog: podium pods/s >= 0.9 x bind ceiling"] == "missed"
    assert checks["plain, backlog: podium drain >= 2 x kube-scheduler"] == "met"
    assert checks["anti_affinity, backlog: podium drain >= 10 x kube-scheduler"] == "missed"
    assert checks["anti_affinity, backlog: podium p99 latency < kube-scheduler"] == "met"
    deep = next(name for name in checks if name.startswith("deep_queue, backlog: with 20%"))
    assert checks[deep] == "missed"
    # Rate mode ran for nobody: every check that needs it is absent or not measured.
    assert checks["plain, rate: podium pods/s >= 0.9 x bind ceiling"] == "not measured"
    # Without gpu pods to compare with: the p99 bound alone (none in backlog), and kube's.
    assert checks["gang, backlog: podium drain > kube-scheduler (GangScheduling)"] == (
        "not measured"
    )
    assert not any(name.startswith("gang, backlog: podium gang") for name in checks)


def test_gang_targets_compare_with_podiums_own_gpu_pods_and_kube() -> None:
    report = _report(
        {
            (KUBE_SCHEDULER, GANG, BACKLOG): (40, 20000),
            (PODIUM, GANG, BACKLOG): (95, 9000),
            (PODIUM, GPU, BACKLOG): (100, 8000),
            (KUBE_SCHEDULER, GANG, RATE): (30, 9000),
            (PODIUM, GANG, RATE): (50, 2500),
            (PODIUM, GPU, RATE): (60, 1000),
        },
        workloads=(GPU, GANG),
    )
    checks = {c.name: c.status for c in evaluate(report)}
    assert checks["gang, backlog: podium gang pods/s >= 0.9 x podium gpu pods/s"] == "met"
    assert checks["gang, rate: podium gang pods/s >= 0.9 x podium gpu pods/s"] == "missed"
    assert checks["gang, rate: podium gang p99 < 2,000 ms"] == "missed"
    assert "gang, backlog: podium gang p99 < 2,000 ms" not in checks
    assert checks["gang, backlog: podium drain > kube-scheduler (GangScheduling)"] == "met"


def test_a_scheduler_above_the_ceiling_is_flagged() -> None:
    report = _report(
        {
            (CEILING, "plain", BACKLOG): (300, 500),
            (PODIUM, "plain", BACKLOG): (310, 400),
            (KUBE_SCHEDULER, "plain", BACKLOG): (200, 900),
            (CEILING, "plain", RATE): (200, 10),
            (PODIUM, "plain", RATE): (205, 9),  # within the noise of a creation-held rate
            (KUBE_SCHEDULER, "plain", RATE): (230, 12),
        }
    )
    beaten = ceiling_beaten(report)
    assert [(b.scheduler, b.mode) for b in beaten] == [(PODIUM, BACKLOG), (KUBE_SCHEDULER, RATE)]
    assert "1.03 x" in str(beaten[0])


def test_the_reporting_ceiling_is_a_second_yardstick_and_is_flagged_when_beaten() -> None:
    report = _report(
        {
            (CEILING, "plain", BACKLOG): (1000, 500),
            (REPORTING_CEILING, "plain", BACKLOG): (700, 600),
            (KUBE_SCHEDULER, "plain", BACKLOG): (300, 900),
            (PODIUM, "plain", BACKLOG): (650, 400),
            (CEILING, DEEP_QUEUE, BACKLOG): (1000, 500),
            (REPORTING_CEILING, DEEP_QUEUE, BACKLOG): (500, 600),
            (KUBE_SCHEDULER, DEEP_QUEUE, BACKLOG): (100, 900),
            (PODIUM, DEEP_QUEUE, BACKLOG): (520, 800),
        },
        workloads=("plain", DEEP_QUEUE),
    )
    report.options = dataclasses.replace(report.options, schedulers=SCHEDULERS)
    checks = {c.name: c.status for c in evaluate(report)}
    assert checks["plain, backlog: podium pods/s >= 0.9 x bind ceiling"] == "missed"
    assert checks["plain, backlog: podium pods/s >= 0.9 x reporting ceiling"] == "met"
    deep = {n: s for n, s in checks.items() if n.startswith("deep_queue, backlog: with 20%")}
    assert sorted(deep.values()) == ["met", "missed"]
    assert deep[next(n for n in deep if n.endswith("x reporting ceiling"))] == "met"
    beaten = ceiling_beaten(report)
    # podium above the reporting ceiling on deep_queue; the reporting ceiling itself is held to
    # the bind ceiling only.
    assert [(b.scheduler, b.workload, b.ceiling) for b in beaten] == [
        (PODIUM, DEEP_QUEUE, REPORTING_CEILING)
    ]
    assert str(beaten[0]).startswith("podium beat the reporting ceiling on deep_queue")


def test_rounds_stand_for_a_ceiling_by_its_fastest_and_a_scheduler_by_its_median() -> None:
    report = _report({})
    for round_, (ceiling_rate, podium_rate) in enumerate(((500, 480), (900, 300), (700, 650))):
        for scheduler, rate in ((CEILING, ceiling_rate), (PODIUM, podium_rate)):
            case = CaseResult(scheduler, "plain", BACKLOG, pods=100, bound=100, round=round_)
            case.pods_per_s, case.latency_ms_p99 = rate, 100.0 + round_
            report.cases.append(case)
    failed = CaseResult(PODIUM, "plain", BACKLOG, pods=100, status="failed", round=3)
    failed.pods_per_s = 10_000
    report.cases.append(failed)
    ceiling, podium = report.case(CEILING, "plain", BACKLOG), report.case(PODIUM, "plain", BACKLOG)
    assert ceiling is not None and ceiling.pods_per_s == 900
    assert podium is not None and (podium.pods_per_s, podium.round) == (480, 0)
    checks = {c.name: c for c in evaluate(report)}
    check = checks["plain, backlog: podium pods/s >= 0.9 x bind ceiling"]
    assert check.status == "missed" and "480" in check.measured
    assert report.case(KUBE_SCHEDULER, "plain", BACKLOG) is None


def test_each_round_of_a_case_has_its_own_namespace() -> None:
    names = {
        case_namespace("0ef698a2", CaseResult(PODIUM, DEEP_QUEUE, BACKLOG, pods=8, round=r))
        for r in range(3)
    }
    assert len(names) == 3
    assert "bench-0ef698a2-podium-deep-queue-backlog-r1" in names


def test_an_incomplete_case_is_not_measured() -> None:
    report = _report({(CEILING, "plain", BACKLOG): (300, 500), (PODIUM, "plain", BACKLOG): (1, 1)})
    report.cases[1].status = "incomplete"
    report.cases[1].pods_per_s = math.nan
    checks = {c.name: c.status for c in evaluate(report)}
    assert checks["plain, backlog: podium pods/s >= 0.9 x bind ceiling"] == "not measured"


def test_a_backlog_bound_all_at_once_has_a_rate_from_the_launch() -> None:
    times = CaseTimes(created={"p-0": 0.0, "p-1": 0.0}, bound={"p-0": 4.0, "p-1": 4.0})
    case = CaseResult(PODIUM, "plain", BACKLOG, pods=2)
    _summarise(case, times, Usage(0, 0, 0), Usage(0, 0, 0), clock_start=3.0)
    assert case.pods_per_s == pytest.approx(2.0)


def test_node_state_says_what_a_node_waits_for() -> None:
    node = bench_node(0, {})
    assert node_state(node) == "no Ready condition"
    node["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
    assert node_state(node) == "Ready=Unknown"
    node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    node["spec"]["taints"] = [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
    assert node_state(node) == "tainted node.kubernetes.io/not-ready"
    node["spec"]["taints"] = [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    assert node_state(node) == READY


class _Response:
    status = 201

    async def read(self) -> bytes:
        return b"{}"


class _Session:
    """Records each request's path when it is sent; every request yields to the loop first."""

    def __init__(self, expected: int) -> None:
        self.sent: list[str] = []
        self.expected = expected
        self.all_sent = asyncio.Event()

    @contextlib.asynccontextmanager
    async def request(self, method: str, url: str, **_: object) -> AsyncIterator[_Response]:
        self.sent.append(f"{method} {url.rsplit('/', 1)[-1]}")
        if len(self.sent) >= self.expected:
            self.all_sent.set()
        await asyncio.sleep(0)
        yield _Response()

    def post(self, url: str, **kwargs: object) -> contextlib.AbstractAsyncContextManager[_Response]:
        return self.request("POST", url, **kwargs)


async def test_the_reporting_ceilings_reports_wait_while_any_bind_is_queued_or_in_flight() -> None:
    session = _Session(expected=3 + 3 + 2)  # 3 binds, 3 Scheduled, 1 FailedScheduling, 1 patch
    endpoint = Endpoint("https://apiserver", None, False)
    idle = asyncio.Event()
    reporter = Reporter(session, endpoint, 2, idle)  # type: ignore[arg-type]
    binder = Binder(session, endpoint, ["n0", "n1"], reporter, idle)  # type: ignore[arg-type]
    reporter.unschedulable("ns", "big")  # an event and a condition, queued before any bind
    for i in range(3):
        binder.add("ns", f"p-{i}")
    tasks = [
        asyncio.create_task(binder.worker()),
        asyncio.create_task(reporter.event_writer()),
        asyncio.create_task(reporter.condition_writer()),
    ]
    try:
        async with asyncio.timeout(5):
            await session.all_sent.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert session.sent[:3] == ["POST binding"] * 3
    assert sorted(session.sent[3:]) == ["PATCH status"] + ["POST events"] * 4
    assert binder.bound == 3
