"""``podium explain``'s pieces without an apiserver: target parsing, explaining against a state
built from list pages, the table and the JSON."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from rich.console import Console

from podium._core import ClusterState, Kind
from podium.config import default_config
from podium.explain import (
    ExplainError,
    Explanation,
    PodFacts,
    Target,
    explain_in,
    explain_snapshot,
    render,
)
from podium.snapshotfile import ClusterSnapshot


def node(name: str, cpu: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"},
        "status": {"allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"}},
    }


def pod(uid: str, cpu: str, scheduler: str, node_name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schedulerName": scheduler,
        "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
    }
    if node_name:
        spec["nodeName"] = node_name
    return {
        "metadata": {"name": uid, "namespace": "ns", "uid": uid, "resourceVersion": "2"},
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def state(names: list[str], *pods: dict[str, Any]) -> ClusterState:
    s = ClusterState(names)
    s.apply_list(Kind.NODE, orjson.dumps({"items": [node("a", "2"), node("b", "8")]}))
    s.apply_list(Kind.POD, orjson.dumps({"items": list(pods)}))
    return s


def test_target_parsing() -> None:
    assert Target.parse("ns/web") == Target("ns", "web")
    assert Target.parse("web") == Target("default", "web")
    for bad in ("/web", "ns/", "a/b/c"):
        with pytest.raises(ExplainError, match="NAMESPACE/NAME"):
            Target.parse(bad)


def test_pending_pod_of_podium() -> None:
    p = pod("p", "4", "podium")
    facts = PodFacts.of(Target("ns", "p"), p)
    result = explain_in(state(["podium"], p), Target("ns", "p"), facts, default_config())
    assert result.nodes == {"a": ["Insufficient cpu"], "b": []}
    assert (result.profile, result.foreign, result.feasible) == ("podium", False, ["b"])
    assert result.summary() == "1/2 nodes are available: 1 Insufficient cpu."
    decoded = orjson.loads(result.to_json())
    assert decoded["nodes"] == {"a": ["Insufficient cpu"], "b": []}
    assert decoded["pod"] == "ns/p"


def test_bound_pod_of_another_scheduler_is_judged_as_if_pending() -> None:
    p = pod("k", "2", "default-scheduler", node_name="a")
    facts = PodFacts.of(Target("ns", "k"), p)
    s = state(["podium", "default-scheduler"], p)
    result = explain_in(s, Target("ns", "k"), facts, default_config())
    assert result.nodes == {"a": [], "b": []}
    assert result.foreign
    console = Console(record=True, width=120)
    render(console, result)
    text = console.export_text()
    assert "bound to a" in text
    assert "has no podium profile" in text
    assert "2/2 nodes are available." in text


def test_finished_and_gated_pods_are_refused() -> None:
    done = pod("d", "1", "podium")
    done["status"]["phase"] = "Succeeded"
    with pytest.raises(ExplainError, match="has finished"):
        explain_in(
            state(["podium"], done),
            Target("ns", "d"),
            PodFacts.of(Target("ns", "d"), done),
            default_config(),
        )
    gated = pod("g", "1", "podium")
    gated["spec"]["schedulingGates"] = [{"name": "wait"}]
    with pytest.raises(ExplainError, match="schedulingGates"):
        explain_in(
            state(["podium"], gated),
            Target("ns", "g"),
            PodFacts.of(Target("ns", "g"), gated),
            default_config(),
        )
    with pytest.raises(ExplainError, match=r"metadata\.uid"):
        PodFacts.of(Target("ns", "x"), {"metadata": {}})


def generated_state(count: int) -> tuple[ClusterState, dict[str, Any]]:
    """``count`` nodes: a third too small, a third cordoned, a third free (cpu 4..); one pod
    of another scheduler pending, wanting 3 cpus."""
    nodes = []
    for i in range(count):
        n = node(f"n{i:02d}", "2" if i % 3 == 0 else str(4 + i))
        if i % 3 == 1:
            n["spec"] = {"unschedulable": True}
        nodes.append(n)
    s = ClusterState(["podium"])
    s.apply_list(Kind.NODE, orjson.dumps({"items": nodes}))
    return s, pod("w", "3", "someone-else")


def test_groups_nodes_by_reason_and_shows_the_best_scores() -> None:
    s, p = generated_state(12)
    facts = PodFacts.of(Target("ns", "w"), p)
    result = explain_in(s, Target("ns", "w"), facts, default_config(), raw=orjson.dumps(p), top=3)
    groups = dict(result.groups())
    assert groups[("NodeResourcesFit: Insufficient cpu",)] == ["n00", "n03", "n06", "n09"]
    assert groups[("NodeUnschedulable: node(s) were unschedulable",)] == [
        "n01",
        "n04",
        "n07",
        "n10",
    ]
    assert len(result.feasible) == 4
    assert [b.node for b in result.best] == ["n11", "n08", "n05"], "emptiest first"
    best = result.best[0]
    weights = {name: weight for name, _, weight in best.plugins}
    assert weights["NodeResourcesFit"] == 1
    assert best.total == sum(score * weight for _, score, weight in best.plugins)

    decoded = orjson.loads(result.to_json())
    assert decoded["groups"][0]["nodes"] == ["n00", "n03", "n06", "n09"]
    assert decoded["best"][0]["node"] == "n11"
    assert Explanation.from_dict(decoded) == result

    console = Console(record=True, width=160)
    render(console, result)
    text = console.export_text()
    assert "n00, n03, n06, n09" in text and "NodeResourcesFit: Insufficient cpu" in text
    assert "scores (normalized x weight)" in text and "NodeResourcesFit" in text
    assert "4/12 nodes are available: 4 Insufficient cpu, 4 node(s) were unschedulable." in text


def test_explain_from_a_snapshot_file() -> None:
    _, p = generated_state(6)
    taken = ClusterSnapshot(
        {Kind.NODE: [node("a", "2"), node("b", "8")], Kind.POD: [p]}, "2026-01-01T00:00:00Z"
    )
    result = explain_snapshot(taken, Target("ns", "w"), default_config())
    assert result.nodes == {"a": ["Insufficient cpu"], "b": []}
    assert result.foreign
    with pytest.raises(ExplainError, match="not in the snapshot"):
        explain_snapshot(taken, Target("ns", "nope"), default_config())


def test_the_quota_view_shows_the_pods_quota_and_its_ancestors() -> None:
    p = pod("q", "1", "podium")
    s = state(["podium"], p)
    quotas = [
        {
            "metadata": {"name": "cpus", "namespace": "dept"},
            "spec": {"min": {"cpu": "4"}},
        },
        {
            "metadata": {
                "name": "cpus",
                "namespace": "ns",
                "annotations": {"podium.dev/parent": "dept", "podium.dev/weight": "2"},
            },
            "spec": {"min": {"cpu": "500m"}, "max": {"cpu": "3"}},
        },
    ]
    s.apply_list(Kind.ELASTIC_QUOTA, orjson.dumps({"items": quotas}))
    facts = PodFacts.of(Target("ns", "q"), p)
    result = explain_in(s, Target("ns", "q"), facts, default_config())
    assert result.quotas == (
        "ns/cpus: cpu 0 used (min 500m, max 3); weight 2, fair-share key -0.050",
        "dept/cpus: cpu 0 used (min 4, max -); weight 1, fair-share key -0.400",
    )
    assert Explanation.from_dict(orjson.loads(result.to_json())).quotas == result.quotas
    console = Console(record=True, width=160)
    render(console, result)
    assert "quota dept/cpus: cpu 0 used" in console.export_text()
