"""The Python boundary of the Rust core: parsing pages and watch lines, malformed objects,
scheduling a small batch, assume/forget. The logic itself is unit-tested in Rust."""

from __future__ import annotations

import threading
from typing import Any, cast

import orjson
import pytest

from podium._core import ClusterState, Code, CoreError, EventType, Kind, Profile

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
        "scores": {"NodeResourcesFit": 1, "TaintToleration": 3, "NodeAffinity": 2},
        "fit": {"strategy": "LeastAllocated", "resources": [], "shape": []},
        "percentageOfNodesToScore": 0,
        "parallelism": 2,
        "podium": {},
    }
)


def node(
    name: str, cpu: str = "4", gpus: int = 0, taints: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"},
        "spec": {"taints": taints or []},
        "status": {
            "allocatable": {
                "cpu": cpu,
                "memory": "16Gi",
                "pods": "110",
                "nvidia.com/gpu": str(gpus),
            }
        },
    }


def pod(
    uid: str,
    cpu: str = "1",
    node_name: str | None = None,
    scheduler: str = "podium",
    gpus: int = 0,
) -> dict[str, Any]:
    requests = {"cpu": cpu}
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
    spec: dict[str, Any] = {
        "schedulerName": scheduler,
        "containers": [{"name": "c", "resources": {"requests": requests}}],
    }
    if node_name:
        spec["nodeName"] = node_name
    return {
        "metadata": {
            "name": f"pod-{uid}",
            "namespace": "ns",
            "uid": uid,
            "resourceVersion": "2",
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def page(kind: str, items: list[dict[str, Any]], rv: str = "10", cont: str = "") -> bytes:
    return orjson.dumps(
        {"kind": kind, "metadata": {"resourceVersion": rv, "continue": cont}, "items": items}
    )


def line(event: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": event, "object": obj})


@pytest.fixture
def state() -> ClusterState:
    s = ClusterState(["podium"])
    s.apply_list(Kind.NODE, page("NodeList", [node("n1"), node("n2", gpus=8)]))
    return s


def test_list_page_and_pending(state: ClusterState) -> None:
    result = state.apply_list(
        Kind.POD,
        page("PodList", [pod("a"), pod("b", node_name="n1", scheduler="other")], "42", "tok"),
    )
    assert (result.resource_version, result.continue_token, result.items) == ("42", "tok", 2)
    assert result.errors == []
    assert state.node_count == 2
    assert state.pod_count == 2
    pending = state.pending()
    assert [p.uid for p in pending] == ["a"]
    assert pending[0].scheduler_name == "podium"
    assert pending[0].created == 1_704_067_200.0
    assert state.node_usage("n1")["cpu"] == 1000
    assert state.node_usage("n1")["pods"] == 1
    last = state.apply_list(Kind.POD, page("PodList", []))
    assert last.continue_token is None


def test_watch_lines(state: ClusterState) -> None:
    added = state.apply_event(Kind.POD, line("ADDED", pod("a")))
    assert (added.event, added.kind, added.uid, added.name) == (
        EventType.ADDED,
        Kind.POD,
        "a",
        "pod-a",
    )
    assert isinstance(added.kind, Kind)
    assert state.pending_pod("a") is not None
    bound = state.apply_event(Kind.POD, line("MODIFIED", pod("a", node_name="n2")))
    assert bound.node_name == "n2"
    assert state.pending_pod("a") is None
    assert state.node_usage("n2")["cpu"] == 1000
    state.apply_event(Kind.POD, line("DELETED", pod("a", node_name="n2")))
    assert state.node_usage("n2")["cpu"] == 0
    bookmark = state.apply_event(
        Kind.POD, b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"99"}}}'
    )
    assert (bookmark.event, bookmark.resource_version) == (EventType.BOOKMARK, "99")
    gone = state.apply_event(
        Kind.POD, b'{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}'
    )
    assert (gone.event, gone.status_code) == (EventType.ERROR, 410)


def test_malformed_objects_name_object_and_field(state: ClusterState) -> None:
    bad = pod("bad", cpu="1x")
    result = state.apply_list(Kind.POD, page("PodList", [bad]))
    assert result.errors == [
        'Pod ns/pod-bad: spec.containers[0].resources.requests.cpu: invalid quantity "1x": '
        "unknown suffix"
    ]
    wrong_type = pod("wt")
    wrong_type["spec"]["priority"] = "high"
    change = state.apply_event(Kind.POD, line("ADDED", wrong_type))
    assert change.error is not None
    assert change.error.startswith("Pod ns/pod-wt: spec.priority: invalid type")
    decisions = state.snapshot().schedule(["bad", "wt"], PROFILE)
    assert [d.code for d in decisions] == [Code.UNSCHEDULABLE_AND_UNRESOLVABLE] * 2
    assert "spec.containers[0].resources.requests.cpu" in decisions[0].message

    broken = node("broken", cpu="lots")
    node_change = state.apply_event(Kind.NODE, line("ADDED", broken))
    assert node_change.error == (
        'Node broken: status.allocatable.cpu: invalid quantity "lots": no digits'
    )
    with pytest.raises(CoreError, match="PodList"):
        state.apply_list(Kind.POD, b'{"items": 5}')
    with pytest.raises(CoreError, match="unknown event type"):
        state.apply_event(Kind.POD, b'{"type":"WHAT","object":{}}')
    with pytest.raises(CoreError, match="unknown object kind"):
        state.apply_event(cast(Kind, 99), line("ADDED", pod("x")))


def test_schedule_batch_sees_its_own_placements(state: ClusterState) -> None:
    state.apply_list(Kind.POD, page("PodList", [pod(u, gpus=4) for u in ("g1", "g2", "g3")]))
    snapshot = state.snapshot()
    assert snapshot.node_count == 2
    decisions = snapshot.schedule(["g1", "g2", "g3", "missing"], PROFILE)
    assert [d.code for d in decisions] == [
        Code.SUCCESS,
        Code.SUCCESS,
        Code.UNSCHEDULABLE,
        Code.ERROR,
    ]
    assert decisions[0].node == decisions[1].node == "n2"
    third = decisions[2]
    assert third.message == "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    assert third.reasons == {"Insufficient nvidia.com/gpu": 2}
    assert (third.evaluated_nodes, third.feasible_nodes) == (2, 0)
    # The snapshot kept its placements; the cache did not.
    assert state.node_usage("n2").get("nvidia.com/gpu", 0) == 0
    assert len(state.pending()) == 3


def test_pods_of_one_shape_reuse_the_first_ones_work(state: ClusterState) -> None:
    # g1 ranks the nodes, g2 reuses that ranking; g3 fails, g4 reuses that refusal; the odd
    # one out (another size) is decided afresh.
    pods = [pod(u, gpus=4) for u in ("g1", "g2", "g3", "g4")] + [pod("big", cpu="3", gpus=8)]
    state.apply_list(Kind.POD, page("PodList", pods))
    decisions = state.snapshot().schedule(["g1", "g2", "g3", "g4", "big"], PROFILE)
    assert [(d.code, d.reused) for d in decisions] == [
        (Code.SUCCESS, False),
        (Code.SUCCESS, True),
        (Code.UNSCHEDULABLE, False),
        (Code.UNSCHEDULABLE, True),
        (Code.UNSCHEDULABLE, False),
    ]
    assert decisions[3].message == decisions[2].message


def test_one_call_places_several_gangs_each_seeing_those_before(state: ClusterState) -> None:
    # n2's 8 GPUs take the first gang of two 4-GPU members; the second, alike, finds none left.
    groups = [
        {
            "apiVersion": "scheduling.k8s.io/v1beta1",
            "kind": "PodGroup",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
            "spec": {"schedulingPolicy": {"gang": {"minCount": 2}}},
        }
        for name in ("a", "b")
    ]
    state.apply_list(Kind.WORKLOAD_POD_GROUP, page("PodGroupList", groups))
    pods = []
    for name in ("a", "b"):
        for i in range(2):
            member = pod(f"{name}{i}", gpus=4)
            member["spec"]["schedulingGroup"] = {"podGroupName": name}
            pods.append(member)
    state.apply_list(Kind.POD, page("PodList", pods))
    a, b = state.pod_group("ns", "a"), state.pod_group("ns", "b")
    assert a is not None and b is not None
    decided = state.snapshot().schedule_gangs(
        [(["a0", "a1"], a, ["a"]), (["b0", "b1"], b, ["b"])], PROFILE
    )
    assert [[(d.code, d.node) for d in gang] for gang in decided] == [
        [(Code.SUCCESS, "n2"), (Code.SUCCESS, "n2")],
        [(Code.UNSCHEDULABLE, None), (Code.UNSCHEDULABLE, None)],
    ]


def test_untolerated_taint_message() -> None:
    s = ClusterState(["podium"])
    taint = [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]
    s.apply_list(Kind.NODE, page("NodeList", [node("t1", taints=taint), node("small", cpu="1")]))
    s.apply_event(Kind.POD, line("ADDED", pod("p", cpu="2")))
    (decision,) = s.snapshot().schedule(["p"], PROFILE)
    # 2 CPUs on a node of 1 and a taint: nothing any eviction could change (kube 1.37).
    assert decision.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert decision.message == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s)."
    )


def test_assume_and_forget(state: ClusterState) -> None:
    state.apply_event(Kind.POD, line("ADDED", pod("a", cpu="3")))
    generation = state.generation
    state.assume("a", "n1", '{"zones":[0]}')
    assert state.generation > generation
    assert state.is_assumed("a")
    assert state.pending_pod("a") is None
    assert state.node_usage("n1")["cpu"] == 3000
    # The next snapshot sees the assumed pod: a second 3-cpu pod cannot go on n1.
    state.apply_event(Kind.POD, line("ADDED", pod("b", cpu="3")))
    (b,) = state.snapshot().schedule(["b"], PROFILE)
    assert b.node == "n2"
    state.forget("a")
    assert not state.is_assumed("a")
    assert state.node_usage("n1")["cpu"] == 0
    assert state.pending_pod("a") is not None
    state.forget("a")  # no-op
    with pytest.raises(CoreError, match="unknown node"):
        state.assume("a", "nowhere", None)
    with pytest.raises(CoreError, match="unknown pod"):
        state.assume("nobody", "n1", None)


def test_confirmed_bind_counts_once(state: ClusterState) -> None:
    state.apply_event(Kind.POD, line("ADDED", pod("a", cpu="2")))
    state.assume("a", "n1", None)
    state.apply_event(Kind.POD, line("MODIFIED", pod("a", cpu="2", node_name="n1")))
    assert not state.is_assumed("a")
    assert state.node_usage("n1")["cpu"] == 2000


def test_relist_reports_vanished_pending_pods(state: ClusterState) -> None:
    state.apply_list(Kind.POD, page("PodList", [pod("a"), pod("b")]))
    state.begin_relist(Kind.POD)
    state.apply_list(Kind.POD, page("PodList", [pod("b")]))
    assert state.end_relist(Kind.POD) == ["a"]
    assert [p.uid for p in state.pending()] == ["b"]


def test_profile_errors_name_the_plugin() -> None:
    with pytest.raises(CoreError, match="NodeMagic"):
        Profile({"schedulerName": "podium", "filters": ["NodeMagic"]})
    with pytest.raises(CoreError, match="schedulerName"):
        Profile({})  # type: ignore[typeddict-item]  # what the check is for
    with pytest.raises(CoreError, match=r"podium\.reservation\.minShare"):
        Profile({"schedulerName": "p", "podium": {"reservation": {"minShare": "all"}}})  # type: ignore[typeddict-item]
    with pytest.raises(TypeError, match=r"filters\[0\]"):
        Profile({"schedulerName": "p", "filters": [object()]})  # type: ignore[list-item]
    assert PROFILE.scheduler_name == "podium"


def test_schedule_runs_without_the_gil(state: ClusterState) -> None:
    # Many threads scheduling on their own snapshots at once: results stay consistent.
    state.apply_list(Kind.POD, page("PodList", [pod(f"p{i}", cpu="100m") for i in range(20)]))
    results: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        decisions = state.snapshot().schedule([f"p{i}" for i in range(20)], PROFILE)
        with lock:
            results.append(sum(d.code == Code.SUCCESS for d in decisions))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [20, 20, 20, 20]
