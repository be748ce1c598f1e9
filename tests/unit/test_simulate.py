"""``podium simulate`` on generated clusters: placements, pending reasons, utilisation, and bad
snapshot/workload files named precisely."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from podium._core import Kind
from podium.config import default_config
from podium.simulate import simulate
from podium.snapshotfile import ClusterSnapshot, SnapshotError
from podium.testing.nodes import Taint, make_node
from podium.testing.pods import make_pod
from podium.workload import WorkloadError, parse_workload

PODIUM = str(Path(sys.executable).parent / "podium")


def _with_uid(obj: dict[str, Any]) -> dict[str, Any]:
    obj["metadata"]["uid"] = str(uuid.uuid4())
    return obj


def generated_cluster() -> ClusterSnapshot:
    """Four 8-cpu nodes, two with 4 GPUs; one GPU node tainted; 2 cpus used on cpu-0."""
    nodes = [
        make_node("cpu-0", cpu="8", memory="32Gi"),
        make_node("cpu-1", cpu="8", memory="32Gi"),
        make_node("gpu-0", cpu="8", memory="64Gi", gpus=4),
        make_node(
            "gpu-1", cpu="8", memory="64Gi", gpus=4, taints=[Taint("dedicated", "NoSchedule", "x")]
        ),
    ]
    running = make_pod("running", "prod", node_name="cpu-0", requests={"cpu": "2"})
    running["status"] = {"phase": "Running"}
    return ClusterSnapshot(
        {Kind.NODE: [_with_uid(n) for n in nodes], Kind.POD: [_with_uid(running)]},
        "2026-01-01T00:00:00Z",
    )


WORKLOAD = """
apiVersion: v1
kind: Pod
metadata: {name: trainer, namespace: ml}
spec:
  containers:
  - name: c
    resources: {requests: {cpu: "2", nvidia.com/gpu: "4"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        resources: {requests: {cpu: "3", memory: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: greedy}
spec:
  containers:
  - name: c
    resources: {requests: {nvidia.com/gpu: "2"}}
"""


def test_places_the_workload_and_explains_what_stays_pending() -> None:
    pods = parse_workload(WORKLOAD, "podium")
    assert [p["metadata"]["name"] for p in pods] == ["trainer", "web-0", "web-1", "web-2", "greedy"]
    report = simulate(generated_cluster(), pods, default_config())
    placed = {p.pod: p.node for p in report.placed}
    assert placed["ml/trainer"] == "gpu-0", "the only untainted node with 4 GPUs"
    assert {placed[f"default/web-{i}"] for i in range(3)} <= {"cpu-0", "cpu-1", "gpu-0"}
    assert [u.pod for u in report.pending] == ["default/greedy"]
    message = report.pending[0].message
    assert message.startswith("0/4 nodes are available:"), message
    assert "1 node(s) had untolerated taint(s)" in message
    assert "Insufficient nvidia.com/gpu" in message

    assert report.before["cpu"] == (2000, 32000)
    assert report.after["cpu"] == (2000 + 2000 + 3 * 3000, 32000)
    assert report.before["nvidia.com/gpu"] == (0, 8)
    assert report.after["nvidia.com/gpu"] == (4, 8)
    as_json = orjson.loads(report.to_json())
    assert as_json["utilisation"]["after"]["nvidia.com/gpu"]["percent"] == 50.0


def test_cli_table_and_json(tmp_path: Path) -> None:
    snap = tmp_path / "cluster.json"
    snap.write_bytes(generated_cluster().to_json())
    work = tmp_path / "work.yaml"
    work.write_text(WORKLOAD)
    out = subprocess.run(
        [PODIUM, "simulate", "--snapshot", str(snap), "--workload", str(work), "-o", "json"],
        capture_output=True,
        check=True,
    )
    result = orjson.loads(out.stdout)
    assert {p["pod"] for p in result["placed"]} == {
        "ml/trainer",
        "default/web-0",
        "default/web-1",
        "default/web-2",
    }
    assert result["pending"][0]["pod"] == "default/greedy"
    table = subprocess.run(
        [PODIUM, "simulate", "--snapshot", str(snap), "--workload", str(work)],
        capture_output=True,
        check=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    ).stdout.decode()
    assert "4 placed, 1 pending on 4 nodes" in table
    assert "default/greedy" in table and "Insufficient nvidia.com/gpu" in table
    assert "nvidia.com/gpu" in table and "0/8 (0.0%)" in table and "4/8 (50.0%)" in table

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: Pod\nmetadata: {name: p}\n"
        "spec:\n  containers:\n  - resources: {requests: {cpu: 1x}}\n"
    )
    out = subprocess.run(
        [PODIUM, "simulate", "--snapshot", str(snap), "--workload", str(bad), "-o", "json"],
        capture_output=True,
        check=True,
    )
    (pending,) = orjson.loads(out.stdout)["pending"]
    assert "spec.containers[0].resources.requests.cpu" in pending["message"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- 1\n", "document 1: expected an object, got list"),
        ("kind: Pod\nspec: {}\n", "document 1: Pod: metadata.name: missing"),
        ("kind: Service\nmetadata: {name: s}\n", "kind: 'Service' is not a Pod"),
        (
            "kind: Deployment\nmetadata: {name: d}\nspec: {replicas: -1, template: {spec: {}}}\n",
            "Deployment d: spec.replicas: must be an integer",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {nodeName: n}\n",
            "Pod default/p: spec.nodeName: set",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {}\n---\n"
            "kind: Pod\nmetadata: {name: p}\nspec: {}\n",
            "document 2: Pod default/p: duplicate name",
        ),
        ("a: [\n", "not valid YAML"),
        ("", "no pods in the workload"),
    ],
)
def test_bad_workloads_are_named(text: str, expected: str) -> None:
    with pytest.raises(WorkloadError, match=None) as info:
        parse_workload(text, "podium", "w.yaml")
    assert expected in str(info.value)
    assert str(info.value).startswith("w.yaml")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{", "not valid JSON"),
        (b'{"kind":"Other"}', "apiVersion/kind: expected podium.dev/v1alpha1 ClusterSnapshot"),
        (
            b'{"apiVersion":"podium.dev/v1alpha1","kind":"ClusterSnapshot","objects":{"Nod":[]}}',
            "objects.Nod: unknown kind",
        ),
        (
            b'{"apiVersion":"podium.dev/v1alpha1","kind":"ClusterSnapshot","objects":{"Node":[1]}}',
            "objects.Node[0]: must be an object",
        ),
    ],
)
def test_bad_snapshots_are_named(data: bytes, expected: str) -> None:
    with pytest.raises(SnapshotError) as info:
        ClusterSnapshot.parse(data, "s.json")
    assert expected in str(info.value)


def test_snapshot_round_trips_and_reports_malformed_objects() -> None:
    taken = generated_cluster()
    broken = make_node("broken", cpu="8")
    broken["status"]["allocatable"]["cpu"] = "8x"
    objects = dict(taken.objects)
    objects[Kind.NODE] = [*objects[Kind.NODE], _with_uid(broken)]
    again = ClusterSnapshot.parse(ClusterSnapshot(objects).to_json())
    state, errors = again.state(["podium"])
    assert state.node_count == 5
    assert len(errors) == 1 and "Node broken" in errors[0] and "allocatable" in errors[0]
