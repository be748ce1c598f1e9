"""``Snapshot.explain`` / ``explain_bound`` across the Python boundary: per-node reasons for one
pod, every node and every filter, nothing placed. The logic is unit-tested in Rust
(``rust/src/explain.rs``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from podium._core import ClusterState, CoreError, Kind, Profile

PROFILE = Profile(
    {
        "schedulerName": "podium",
        "filters": [
            "NodeUnschedulable",
            "NodeName",
            "TaintToleration",
            "NodeAffinity",
            "NodePorts",
            "NodeResourcesFit",
        ],
        "scores": {"NodeResourcesFit": 1},
        "parallelism": 2,
    }
)


def node(name: str, cpu: str, *, unschedulable: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"},
        "spec": {"unschedulable": unschedulable},
        "status": {"allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"}},
    }


def pod(
    uid: str, cpu: str, node_name: str | None = None, scheduler: str = "podium"
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schedulerName": scheduler,
        "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
    }
    if node_name is not None:
        spec["nodeName"] = node_name
    return {
        "metadata": {"name": f"pod-{uid}", "namespace": "ns", "uid": uid, "resourceVersion": "2"},
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def state(*pods: dict[str, Any]) -> ClusterState:
    s = ClusterState(["podium"])
    nodes = [node("small", "2"), node("big", "8"), node("cordoned", "16", unschedulable=True)]
    s.apply_list(Kind.NODE, orjson.dumps({"metadata": {"resourceVersion": "1"}, "items": nodes}))
    s.apply_list(
        Kind.POD, orjson.dumps({"metadata": {"resourceVersion": "2"}, "items": list(pods)})
    )
    return s


def test_pending_pod_gets_reasons_for_every_node() -> None:
    snap = state(pod("p", "4"), pod("huge", "32")).snapshot()
    assert snap.explain("p", PROFILE) == {
        "big": [],
        "cordoned": ["node(s) were unschedulable"],
        "small": ["Insufficient cpu"],
    }
    # Every failing filter, not only the first.
    assert snap.explain("huge", PROFILE)["cordoned"] == [
        "node(s) were unschedulable",
        "Insufficient cpu",
    ]


def test_explain_does_not_place_the_pod() -> None:
    snap = state(pod("p", "6"), pod("q", "6")).snapshot()
    assert snap.explain("p", PROFILE)["big"] == []
    assert snap.explain("q", PROFILE)["big"] == [], "p was not placed by explain"
    [decision] = snap.schedule(["p"], PROFILE)
    assert decision.node == "big"
    # Placements made by schedule on this snapshot count.
    assert snap.explain("q", PROFILE)["big"] == ["Insufficient cpu"]
    with pytest.raises(CoreError, match="not pending"):
        snap.explain("p", PROFILE)
    assert snap.explain_bound("p", PROFILE)["big"] == []


def test_bound_pod_is_checked_as_if_pending() -> None:
    s = state(pod("k", "8", node_name="big", scheduler="default-scheduler"), pod("o", "1", "small"))
    snap = s.snapshot()
    reasons = snap.explain_bound("k", PROFILE)
    # Without itself the pod fits its own node again; its nodeName does not pin it.
    assert reasons["big"] == []
    assert reasons["small"] == ["Insufficient cpu"]
    assert reasons["cordoned"] == ["node(s) were unschedulable"]
    # The snapshot still counts it.
    assert snap.explain_bound("o", PROFILE)["big"] == ["Insufficient cpu"]


def test_errors_name_the_pod() -> None:
    snap = state(pod("k", "1", node_name="big", scheduler="x"), pod("p", "1")).snapshot()
    with pytest.raises(CoreError, match='"k" is not pending'):
        snap.explain("k", PROFILE)
    with pytest.raises(CoreError, match='"p" is not on any node'):
        snap.explain_bound("p", PROFILE)
    with pytest.raises(CoreError, match='"missing"'):
        snap.explain("missing", PROFILE)
