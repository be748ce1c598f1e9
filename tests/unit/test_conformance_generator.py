"""The conformance generator (seeded, feature-gated, sound by construction) and its checker."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest
from tests.integration.conformance.check import Outcome, disagreements
from tests.integration.conformance.generator import (
    ANTI_LABEL,
    COLO_LABEL,
    DB_LABEL,
    PORTS,
    SPREAD_LABEL,
    Options,
    Scenario,
    generate,
    parse_seeds,
)

from podium.testing.nodes import Taint, make_node
from podium.testing.pods import make_pod

JSON = dict[str, Any]
NODE_LOCAL = frozenset(
    {"NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts"}
    | {"NodeResourcesFit"}
)
EVERYTHING = NODE_LOCAL | {"InterPodAffinity", "PodTopologySpread"}


def _scenario(seed: int = 3, plugins: frozenset[str] = EVERYTHING) -> Scenario:
    return generate(seed, Options(plugins=plugins, namespace="ns", runtime_class="rc"))


def _required(pod: JSON, kind: str) -> Any:
    return (
        pod["spec"]
        .get("affinity", {})
        .get(kind, {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )


def test_same_seed_same_scenario_other_seed_another() -> None:
    assert _scenario(5) == _scenario(5)
    assert _scenario(5).pending != _scenario(6).pending


def test_default_size_meets_the_brief() -> None:
    scenario = _scenario()
    assert len(scenario.nodes) >= 50
    assert len(scenario.pending) >= 500
    assert scenario.bound
    names = [n["metadata"]["name"] for n in scenario.nodes]
    assert len(set(names)) == len(names)
    pods = [p["metadata"]["name"] for p in scenario.bound + scenario.pending]
    assert len(set(pods)) == len(pods)


def test_node_local_features_all_appear() -> None:
    scenario = _scenario()
    nodes, pods = scenario.nodes, scenario.pending
    effects = {t["effect"] for n in nodes for t in n["spec"].get("taints", [])}
    assert effects == {"NoSchedule", "NoExecute", "PreferNoSchedule"}
    assert any(n["spec"].get("unschedulable") for n in nodes)
    assert any("nvidia.com/gpu" in n["status"]["allocatable"] for n in nodes)
    assert len({n["status"]["allocatable"]["cpu"] for n in nodes}) > 2
    assert len({n["status"]["allocatable"]["pods"] for n in nodes}) > 2
    operators = {
        e["operator"]
        for p in pods
        for term in (_required(p, "nodeAffinity") or {}).get("nodeSelectorTerms", [])
        for e in term["matchExpressions"]
    }
    assert operators == {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
    specs = [p["spec"] for p in pods]
    assert any(s.get("nodeSelector") for s in specs)
    assert any(s.get("tolerations") for s in specs)
    assert any(s.get("runtimeClassName") == "rc" for s in specs)
    assert any(len(s["containers"]) > 1 for s in specs)
    inits = [c for s in specs for c in s.get("initContainers", [])]
    assert any(c.get("restartPolicy") == "Always" for c in inits)
    assert any("restartPolicy" not in c for c in inits)
    assert any(c.get("ports") for s in specs for c in s["containers"])
    assert any(
        "nvidia.com/gpu" in c["resources"]["requests"] for s in specs for c in s["containers"]
    )
    assert any(c.get("ports") for p in scenario.bound for c in p["spec"]["containers"])


def test_pod_to_pod_features_follow_the_implemented_plugins() -> None:
    plain = _scenario(plugins=NODE_LOCAL)
    for pod in plain.pending:
        affinity = pod["spec"].get("affinity", {})
        assert "podAffinity" not in affinity and "podAntiAffinity" not in affinity
        assert "topologySpreadConstraints" not in pod["spec"]
    full = _scenario(plugins=EVERYTHING)
    assert "pod-affinity" in full.features and "topology-spread" in full.features
    assert any(_required(p, "podAntiAffinity") for p in full.pending)
    assert any(_required(p, "podAffinity") for p in full.pending)
    assert any(p["spec"].get("topologySpreadConstraints") for p in full.pending)
    only_affinity = _scenario(plugins=NODE_LOCAL | {"InterPodAffinity"})
    assert not any(p["spec"].get("topologySpreadConstraints") for p in only_affinity.pending)


def _millis(cpu: str) -> int:
    return int(cpu[:-1]) if cpu.endswith("m") else int(cpu) * 1000


def test_pre_bound_pods_fit_their_nodes_and_carry_no_pod_terms() -> None:
    scenario = _scenario()
    nodes = {n["metadata"]["name"]: n for n in scenario.nodes}
    cpu: Counter[str] = Counter()
    count: Counter[str] = Counter()
    ports: dict[str, list[int]] = {}
    for pod in scenario.bound:
        node = pod["spec"]["nodeName"]
        assert "affinity" not in pod["spec"]
        assert not {ANTI_LABEL, COLO_LABEL, SPREAD_LABEL} & pod["metadata"]["labels"].keys()
        for container in pod["spec"]["containers"]:
            cpu[node] += _millis(container["resources"]["requests"]["cpu"])
            ports.setdefault(node, []).extend(p["hostPort"] for p in container.get("ports", []))
        count[node] += 1
    for node, used in cpu.items():
        allocatable = nodes[node]["status"]["allocatable"]
        assert used <= _millis(allocatable["cpu"])
        assert count[node] < int(allocatable["pods"])
        assert len(ports[node]) == len(set(ports[node])) and set(ports[node]) <= set(PORTS)
    assert any(DB_LABEL in p["metadata"]["labels"] for p in scenario.bound)


@pytest.mark.parametrize("seed", range(5))
def test_groups_are_homogeneous_so_the_final_state_check_is_sound(seed: int) -> None:
    pods = _scenario(seed).pending
    spread: dict[str, list[JSON]] = {}
    colo: dict[str, list[JSON]] = {}
    anti: dict[str, list[JSON]] = {}
    for pod in pods:
        labels = pod["metadata"]["labels"]
        spec = pod["spec"]
        constraints = spec.get("topologySpreadConstraints")
        if SPREAD_LABEL in labels:
            assert not spec.get("nodeSelector") and not _required(pod, "nodeAffinity")
            spread.setdefault(labels[SPREAD_LABEL], []).append(constraints)
        else:
            assert constraints is None
        if COLO_LABEL in labels:
            colo.setdefault(labels[COLO_LABEL], []).append(_required(pod, "podAffinity"))
        if ANTI_LABEL in labels:
            anti.setdefault(labels[ANTI_LABEL], []).append(_required(pod, "podAntiAffinity"))
        for term in _required(pod, "podAffinity") or []:
            selector = orjson.dumps(term["labelSelector"]).decode()
            # Affinity only to a co-location group of its own or to pre-bound pods.
            assert (COLO_LABEL in labels and labels[COLO_LABEL] in selector) or DB_LABEL in selector
    for groups in (spread, colo, anti):
        assert groups
        for members in groups.values():
            assert all(m == members[0] and m for m in members)


def test_parse_seeds() -> None:
    assert parse_seeds("7") == [7]
    assert parse_seeds("1-3, 5,2-4") == [1, 2, 3, 5, 4]
    for bad in ("", "x", "3-1", "1-"):
        with pytest.raises(ValueError, match="seed"):
            parse_seeds(bad)


def _page(kind: str, items: list[JSON]) -> bytes:
    return orjson.dumps(
        {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}
    )


def _pod(name: str, **kwargs: Any) -> JSON:
    pod = make_pod(name, "ns", scheduler_name="kube", **kwargs)
    pod["metadata"]["uid"] = f"uid-{name}"
    return pod


def test_checker_reports_both_kinds_of_disagreement() -> None:
    nodes = [make_node("small", cpu="1"), make_node("big", cpu="8")]
    pods = [
        _pod("overcommitted", node_name="small", requests={"cpu": "2"}),
        _pod("fine", node_name="big", requests={"cpu": "2"}),
        _pod("fits-big", requests={"cpu": "1"}),
        _pod("fits-nowhere", requests={"cpu": "16"}),
    ]
    outcome = Outcome([_page("NodeList", nodes)], [_page("PodList", pods)])
    names = [p["metadata"]["name"] for p in pods]
    mismatches, placed, pending = disagreements("kube", outcome, names)
    assert (placed, pending) == (2, 2)
    described = {m.pod["metadata"]["name"]: m.describe() for m in mismatches}
    assert described.keys() == {"overcommitted", "fits-big"}
    assert "infeasible on small" in described["overcommitted"]
    assert "Insufficient cpu" in described["overcommitted"]
    assert "feasible on 1 node(s): big" in described["fits-big"]


def test_local_volumes_only_with_volume_binding_and_each_pv_pinned_to_one_node() -> None:
    assert not _scenario(plugins=EVERYTHING).volumes
    scenario = _scenario(plugins=EVERYTHING | {"VolumeBinding"})
    assert scenario.storage_class is not None and scenario.volumes
    nodes = {n["metadata"]["name"] for n in scenario.nodes}
    claims = set()
    for volume in scenario.volumes:
        terms = volume.pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert len(terms) == 1 and terms[0]["matchExpressions"][0]["values"][0] in nodes
        assert volume.claim["spec"]["volumeName"] == volume.pv["metadata"]["name"]
        assert volume.pv["spec"]["claimRef"]["name"] == volume.claim["metadata"]["name"]
        claims.add(volume.claim["metadata"]["name"])
    used = {
        v["persistentVolumeClaim"]["claimName"]
        for p in scenario.pending
        for v in p["spec"].get("volumes", [])
    }
    assert used and used <= claims


def test_checker_compares_the_messages_of_pods_both_leave_pending() -> None:
    nodes = [
        make_node("tainted", cpu="8", taints=[Taint("dedicated", "NoSchedule", "infra")]),
        make_node("small", cpu="1"),
    ]

    def pending(name: str, message: str) -> JSON:
        pod = _pod(name, requests={"cpu": "2"})
        condition = {"type": "PodScheduled", "status": "False", "message": message}
        pod["status"] = {"conditions": [condition]}
        return pod

    agreed = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s)."
    pods = [
        pending("agreed", agreed + " preemption: not eligible"),
        pending("drifted", agreed.replace("taint(s)", "taint {dedicated: infra}")),
    ]
    outcome = Outcome([_page("NodeList", nodes)], [_page("PodList", pods)])
    mismatches, _, pending_count = disagreements("kube", outcome, ["agreed", "drifted"])
    assert pending_count == 2
    assert [m.pod["metadata"]["name"] for m in mismatches] == ["drifted"]
    assert "'node(s) had untolerated taint(s)': kube 0 node(s), podium 1" in mismatches[0].podium
