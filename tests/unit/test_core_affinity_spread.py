"""InterPodAffinity and PodTopologySpread through the Python boundary: small batches whose pods
must see each other's placements, namespace labels from Namespace objects, config args."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import yaml

from podium._core import ClusterState, Code, Kind, Profile
from podium.config import parse_config

if TYPE_CHECKING:
    from podium._core import ProfileSpec

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def profile(plugin_args: dict[str, Any] | None = None) -> Profile:
    spec: ProfileSpec = {
        "schedulerName": "podium",
        "parallelism": 2,
        "percentageOfNodesToScore": 100,
        "filters": ["NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"],
        "scores": {"PodTopologySpread": 2, "InterPodAffinity": 2, "NodeResourcesFit": 1},
        "pluginArgs": plugin_args or {},
    }
    return Profile(spec)


def node(name: str, zone: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": name, "labels": {ZONE: zone, HOST: name}},
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}},
    }


def pod(uid: str, ns: str = "default", labels: dict[str, str] | None = None, **spec: Any) -> bytes:
    body = {
        "metadata": {"name": uid, "namespace": ns, "uid": uid, "labels": labels or {}},
        "spec": {"schedulerName": "podium", "containers": [{"name": "c"}], **spec},
    }
    return orjson.dumps({"type": "ADDED", "object": body})


def cluster(zones: dict[str, int]) -> ClusterState:
    state = ClusterState(["podium"])
    for zone, count in zones.items():
        for i in range(count):
            obj = node(f"{zone}-{i}", zone)
            state.apply_event(Kind.NODE, orjson.dumps({"type": "ADDED", "object": obj}))
    return state


def anti_affinity(app: str, key: str) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def test_anti_affine_pods_of_one_batch_never_share_a_domain() -> None:
    state = cluster({"a": 2, "b": 2, "c": 2})
    uids = [f"web-{i}" for i in range(4)]
    for uid in uids:
        state.apply_event(
            Kind.POD, pod(uid, labels={"app": "web"}, affinity=anti_affinity("web", ZONE))
        )
    decisions = state.snapshot().schedule(uids, profile())
    placed = [d.node for d in decisions if d.code == Code.SUCCESS]
    assert len(placed) == 3, [d.message for d in decisions]
    assert len({n.split("-")[0] for n in placed if n}) == 3, placed
    last = decisions[3]
    assert last.code == Code.UNSCHEDULABLE
    assert (
        last.message == "0/6 nodes are available: 6 node(s) didn't match pod anti-affinity rules."
    )


def test_spread_across_a_batch_stays_within_max_skew() -> None:
    state = cluster({"a": 3, "b": 1, "c": 1})
    constraint = {
        "maxSkew": 1,
        "topologyKey": ZONE,
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "sp"}},
    }
    uids = [f"sp-{i}" for i in range(9)]
    for uid in uids:
        state.apply_event(
            Kind.POD, pod(uid, labels={"app": "sp"}, topologySpreadConstraints=[constraint])
        )
    decisions = state.snapshot().schedule(uids, profile())
    assert all(d.code == Code.SUCCESS for d in decisions), [d.message for d in decisions]
    per_zone = Counter(d.node.split("-")[0] for d in decisions if d.node)
    assert per_zone == {"a": 3, "b": 3, "c": 3}


def test_affinity_by_namespace_selector_uses_namespace_labels() -> None:
    state = cluster({"a": 1, "b": 1})
    namespace = {"metadata": {"name": "data", "uid": "ns1", "labels": {"team": "storage"}}}
    state.apply_event(Kind.NAMESPACE, orjson.dumps({"type": "ADDED", "object": namespace}))
    db = orjson.loads(pod("db", ns="data", labels={"app": "db"}))
    db["object"]["spec"]["nodeName"] = "b-0"
    state.apply_event(Kind.POD, orjson.dumps(db))
    term = {
        "labelSelector": {"matchLabels": {"app": "db"}},
        "namespaceSelector": {"matchLabels": {"team": "storage"}},
        "topologyKey": ZONE,
    }
    affinity = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    state.apply_event(Kind.POD, pod("web", affinity=affinity))
    [decision] = state.snapshot().schedule(["web"], profile())
    assert (decision.code, decision.node) == (Code.SUCCESS, "b-0")

    relabelled = {"metadata": {"name": "data", "uid": "ns1", "labels": {"team": "other"}}}
    state.apply_event(Kind.NAMESPACE, orjson.dumps({"type": "MODIFIED", "object": relabelled}))
    [decision] = state.snapshot().schedule(["web"], profile())
    assert decision.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert "didn't match pod affinity rules" in decision.message


def test_malformed_constraint_fails_the_pod_naming_the_field() -> None:
    state = cluster({"a": 1})
    bad = [{"maxSkew": 0, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}]
    change = state.apply_event(Kind.POD, pod("bad", topologySpreadConstraints=bad))
    assert change.error is not None and "spec.topologySpreadConstraints[0].maxSkew" in change.error
    [decision] = state.snapshot().schedule(["bad"], profile())
    assert decision.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert "spec.topologySpreadConstraints[0].maxSkew" in decision.message


def test_list_default_constraints_spread_pods_without_their_own() -> None:
    args = {
        "PodTopologySpread": {
            "defaultingType": "List",
            "defaultConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
            ],
        }
    }
    state = cluster({"a": 2, "b": 1})
    uids = [f"d-{i}" for i in range(4)]
    for uid in uids:
        state.apply_event(Kind.POD, pod(uid, labels={"app": "d"}))
    decisions = state.snapshot().schedule(uids, profile(args))
    assert Counter(d.node.split("-")[0] for d in decisions if d.node) == {"a": 2, "b": 2}


def test_config_passes_plugin_args_to_the_core() -> None:
    text = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: podium
  pluginConfig:
  - name: InterPodAffinity
    args: {hardPodAffinityWeight: 5}
  - name: PodTopologySpread
    args:
      defaultingType: List
      defaultConstraints:
      - {maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}
"""
    config = parse_config(yaml.safe_load(text))
    [p] = config.profiles
    assert "InterPodAffinity" in p.filters and "PodTopologySpread" in p.filters
    assert p.scores["InterPodAffinity"] == 2 and p.scores["PodTopologySpread"] == 2
    spec = p.core_spec()
    assert spec["pluginArgs"]["InterPodAffinity"]["hardPodAffinityWeight"] == 5
    Profile(p.core_spec())


def test_bad_plugin_args_are_named() -> None:
    with pytest.raises(ValueError, match=r"defaultConstraints\[0\]\.maxSkew"):
        profile(
            {
                "PodTopologySpread": {
                    "defaultingType": "List",
                    "defaultConstraints": [
                        {"maxSkew": 0, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
                    ],
                }
            }
        )
