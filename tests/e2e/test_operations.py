"""``podium run`` as it is deployed: a separate process with leader election, its /metrics
scraped over HTTP and its scheduling cycles traced into a real Jaeger over OTLP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.jaeger import Jaeger
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.ports import free_ports

pytestmark = pytest.mark.timeout(420)


def _config(path: Path, lease_namespace: str) -> Path:
    document: dict[str, Any] = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "leaderElection": {
            "leaderElect": True,
            "leaseDuration": "4s",
            "renewDeadline": "3s",
            "retryPeriod": "500ms",
            "resourceName": "podium",
            "resourceNamespace": lease_namespace,
        },
        "clientConnection": {"qps": 500, "burst": 1000},
        "profiles": [
            {
                "schedulerName": "podium",
                "pluginConfig": [{"name": "Podium", "args": {"traceSampleRatio": 1.0}}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(document))
    return path


def _scrape(url: str) -> dict[str, float]:
    """Prometheus text → {'name{labels}': value} (labels as exposed)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def _sample(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    total = 0.0
    for key, value in samples.items():
        metric, _, rest = key.partition("{")
        if metric != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def _wait_for(predicate: Any, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


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
    (port,) = free_ports(1)
    listen = f"127.0.0.1:{port}"
    log_path = tmp_path / "podium.log"
    command = [
        sys.executable,
        "-m",
        "podium",
        "run",
        f"--config={_config(tmp_path / 'config.yaml', namespace)}",
        f"--kubeconfig={cluster.kubeconfig}",
        f"--listen={listen}",
        f"--trace-endpoint={jaeger.otlp_endpoint}/v1/traces",
        "--log-format=json",
    ]
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    try:
        await _wait_for(lambda: _ok(f"http://{listen}/readyz"), "podium /readyz")
        await _wait_for(
            lambda: _sample(_scrape(f"http://{listen}/metrics"), "podium_is_leader") == 1,
            "leadership",
        )
        pods = [
            make_pod(f"ok-{i}", namespace, scheduler_name="podium", requests={"cpu": "500m"})
            for i in range(12)
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
        while await bound() < 12:
            assert time.monotonic() < deadline, "pods not bound"
            assert process.returncode is None, log_path.read_text()
            await asyncio.sleep(0.3)

        def metrics_settled() -> bool:
            samples = _scrape(f"http://{listen}/metrics")
            scheduled = _sample(samples, "scheduler_schedule_attempts_total", result="scheduled")
            failed = _sample(samples, "scheduler_schedule_attempts_total", result="unschedulable")
            return scheduled >= 12 and failed >= 1

        await _wait_for(metrics_settled, "schedule attempt counters")
        samples = _scrape(f"http://{listen}/metrics")
        assert _sample(samples, "scheduler_pending_pods", queue="unschedulable") >= 1
        assert _sample(samples, "podium_bind_duration_seconds_count") >= 12

        # Traces: a cycle with its queue wait, snapshot and decisions, and binds below them.
        def traced() -> bool:
            traces = jaeger.traces("podium", limit=500)
            names = {span["operationName"] for trace in traces for span in trace["spans"]}
            return {"scheduling_cycle", "snapshot", "schedule", "decision", "bind"} <= names

        await _wait_for(traced, "traces in Jaeger", limit=90)
        spans = [span for trace in jaeger.traces("podium", limit=500) for span in trace["spans"]]
        decisions = {
            _tag(span, "k8s.pod.name"): span
            for span in spans
            if span["operationName"] == "decision"
        }
        assert _tag(decisions["ok-0"], "podium.code") == "SUCCESS"
        assert _tag(decisions["ok-0"], "k8s.node.name", default="").startswith("ops-")
        assert "Insufficient cpu" in _tag(decisions["too-big"], "podium.reason")
        bind = next(
            s for s in spans if s["operationName"] == "bind" and _tag(s, "k8s.pod.name") == "ok-0"
        )
        assert _tag(bind, "podium.bind.result") == "bound"
        # The bind span is a child of the decision that made it, in the same trace.
        assert bind["traceID"] == decisions["ok-0"]["traceID"]

        # A graceful stop releases the Lease so a standby takes over at once.
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log_path.read_text()
        lease = orjson.loads(
            await request_bytes(
                api,
                "GET",
                f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/podium",
            )
        )
        assert not lease["spec"].get("holderIdentity"), lease
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _tag(span: dict[str, Any], key: str, default: str | None = None) -> str:
    for tag in span.get("tags", []):
        if tag["key"] == key:
            return str(tag["value"])
    if default is not None:
        return default
    raise AssertionError(f"span {span['operationName']} has no tag {key}: {span.get('tags')}")


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
