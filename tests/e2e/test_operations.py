"""``podium run`` as it is deployed: a separate process with leader election, its /metrics
scraped over HTTP and its scheduling cycles traced into a real Jaeger over OTLP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.jaeger import Jaeger
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.replica import Replica, scheduler_config

pytestmark = pytest.mark.timeout(420)

OK_PODS = 12


async def _until(
    predicate: Callable[[], bool], what: str, replica: Replica, limit: float = 60
) -> None:
    deadline = time.monotonic() + limit
    while not await asyncio.to_thread(predicate):
        assert replica.exit_code() is None, replica.log_tail()
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{replica.log_tail()}"
        await asyncio.sleep(0.3)


async def test_podium_run_metrics_traces_and_leader_lease(
    cluster: LocalCluster,
    api: ApiClient,
    namespace: str,
    node_labels: dict[str, str],
    jaeger: Jaeger,
    tmp_path: Path,
) -> None:
    await create_nodes(
        api,
        [make_node(f"ops-{i}", cpu="8", memory="32Gi", labels=node_labels) for i in range(5)],
    )
    replica = Replica(
        "ops",
        cluster.kubeconfig,
        scheduler_config(namespace, podium_args={"traceSampleRatio": 1.0}),
        tmp_path,
        trace_endpoint=f"{jaeger.otlp_endpoint}/v1/traces",
    )
    try:
        await _until(replica.ready, "/readyz", replica)
        await _until(replica.leads, "leadership", replica)
        pods = [
            make_pod(f"ok-{i}", namespace, scheduler_name="podium", requests={"cpu": "500m"})
            for i in range(OK_PODS)
        ]
        pods.append(make_pod("too-big", namespace, scheduler_name="podium", requests={"cpu": "64"}))
        for pod in pods:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)

        async def bound() -> int:
            body = orjson.loads(
                await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods")
            )
            return sum(1 for p in body["items"] if p["spec"].get("nodeName"))

        deadline = time.monotonic() + 60
        while await bound() < OK_PODS:
            assert time.monotonic() < deadline, "pods not bound"
            assert replica.exit_code() is None, replica.log_tail()
            await asyncio.sleep(0.3)

        await _check_metrics(api, replica)
        await _check_traces(jaeger, replica)

        # A graceful stop releases the Lease so a standby takes over at once.
        replica.signal(signal.SIGINT)
        await _until(lambda: replica.exit_code() is not None, "exit", replica, limit=30)
        assert replica.exit_code() == 0, replica.log_tail()
        lease = orjson.loads(
            await request_bytes(
                api,
                "GET",
                f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/podium",
            )
        )
        assert not lease["spec"].get("holderIdentity"), lease
    finally:
        replica.stop()


async def _check_metrics(api: ApiClient, replica: Replica) -> None:
    """/metrics counts exactly what happened, as the apiserver and the decision log tell it."""

    def unschedulable_logged() -> int:
        return sum(1 for d in replica.events("decision") if d["result"] == "unschedulable")

    def settled() -> bool:
        # The too-big pod is retried with backoff: compare while no attempt slips in between.
        before = replica.metric("scheduler_schedule_attempts_total", result="unschedulable")
        logged = unschedulable_logged()
        after = replica.metric("scheduler_schedule_attempts_total", result="unschedulable")
        bound = replica.metric("podium_bind_duration_seconds_count", result="bound")
        return before == logged == after >= 1 and bound == OK_PODS

    await _until(settled, "metrics to match the decision log", replica)
    assert replica.metric("scheduler_schedule_attempts_total", result="scheduled") == OK_PODS
    assert sum(1 for d in replica.events("decision") if d["result"] == "scheduled") == OK_PODS
    assert replica.metric("scheduler_schedule_attempts_total", result="error") == 0
    attempts = replica.metric("scheduler_schedule_attempts_total")
    assert replica.metric("scheduler_scheduling_attempt_duration_seconds_count") == attempts
    assert replica.metric("podium_bind_duration_seconds_count") == OK_PODS
    assert replica.metric("podium_bind_retries_total") == 0
    # Decisions reused from an earlier pod of the same shape are counted as the log shows them.
    reused = sum(1 for d in replica.events("decision") if d.get("reused"))
    assert replica.metric("podium_reused_decisions_total") == reused
    assert replica.metric("scheduler_pod_scheduling_sli_duration_seconds_count") == OK_PODS
    assert replica.metric("scheduler_pod_scheduling_attempts_count") == OK_PODS
    # Only too-big is still pending, in whichever sub-queue its backoff has it now.
    assert replica.metric("scheduler_pending_pods") == 1
    nodes = orjson.loads(await request_bytes(api, "GET", "/api/v1/nodes"))["items"]
    assert replica.metric("podium_cache_objects", kind="node") == len(nodes)
    assert replica.metric("podium_is_leader") == 1


async def _check_traces(jaeger: Jaeger, replica: Replica) -> None:
    """A cycle's trace in Jaeger: queue wait, snapshot, the core call and one decision per pod,
    each with the core's filter/score/placement phases and its bind with one span per request."""

    def spans() -> list[dict[str, Any]]:
        return [s for t in jaeger.traces("podium", limit=1000) for s in t["spans"]]

    wanted = {"scheduling_cycle", "queue_wait", "snapshot", "schedule", "decision", "filter"}
    wanted |= {"score", "placement", "bind", "bind_attempt"}

    def complete() -> bool:
        found = spans()
        names = {s["operationName"] for s in found}
        bound = {_tag(s, "k8s.pod.name") for s in found if s["operationName"] == "bind"}
        return wanted <= names and len(bound) == OK_PODS

    await _until(complete, "traces in Jaeger", replica, limit=90)
    found = spans()
    by_id = {s["spanID"]: s for s in found}

    def parent(span: dict[str, Any]) -> dict[str, Any]:
        (ref,) = [r for r in span["references"] if r["refType"] == "CHILD_OF"]
        return by_id[ref["spanID"]]

    def children(span: dict[str, Any]) -> list[str]:
        return sorted(
            s["operationName"]
            for s in found
            if s["references"] and s["references"][0]["spanID"] == span["spanID"]
        )

    decisions = {_tag(s, "k8s.pod.name"): s for s in found if s["operationName"] == "decision"}
    ok = decisions["ok-0"]
    assert _tag(ok, "podium.code") == "SUCCESS"
    assert _tag(ok, "podium.result") == "scheduled"
    assert _tag(ok, "podium.profile") == "podium"
    assert _tag(ok, "k8s.node.name").startswith("ops-")
    assert children(ok) == ["bind", "filter", "placement", "score"]
    cycle = parent(ok)
    assert cycle["operationName"] == "scheduling_cycle"
    assert not cycle["references"], "the cycle is the root of its trace"
    assert {"queue_wait", "snapshot", "schedule", "decision"} <= set(children(cycle))
    assert _tag(cycle, "podium.profile") == "podium"
    # The core's phases follow one another inside the decision.
    phases = sorted(
        (s for s in found if s["references"] and s["references"][0]["spanID"] == ok["spanID"]),
        key=lambda s: int(s["startTime"]),
    )
    assert [s["operationName"] for s in phases[:3]] == ["filter", "score", "placement"]
    assert int(phases[0]["startTime"]) >= int(ok["startTime"])
    bind = next(s for s in found if s["operationName"] == "bind" and parent(s) is ok)
    assert _tag(bind, "podium.bind.result") == "bound"
    assert children(bind) == ["bind_attempt"]

    too_big = decisions["too-big"]
    assert _tag(too_big, "podium.result") == "unschedulable"
    assert "Insufficient cpu" in _tag(too_big, "podium.reason")
    assert "Insufficient cpu" in _tag(too_big, "podium.diagnosis")
    assert "bind" not in children(too_big)


def test_bad_config_fails_fast_naming_the_field(tmp_path: Path) -> None:
    """A misconfigured ``podium run`` fails fast with the field named, not a traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "profiles:\n- schedulerName: podium\n  percentageOfNodesToScor: 5\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "podium", "run", f"--config={bad}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "profiles[0].percentageOfNodesToScor" in result.stderr
    assert "Traceback" not in result.stderr


def _tag(span: dict[str, Any], key: str) -> str:
    for tag in span.get("tags", []):
        if tag["key"] == key:
            return str(tag["value"])
    raise AssertionError(f"span {span['operationName']} has no tag {key}: {span.get('tags')}")
