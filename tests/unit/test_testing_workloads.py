"""Builders of the live cluster (KWOK nodes, Deployments, Jobs) and KWOK's shipped Stages."""

from __future__ import annotations

import pytest
import yaml

from podium.testing.kwok.controller import stage_files
from podium.testing.kwok.nodes import (
    COMPLETE_AFTER_ANNOTATION,
    KWOK_NODE_ANNOTATION,
    KWOK_NODE_SELECTOR,
    make_kwok_node,
    make_kwok_nodes,
)
from podium.testing.nodes import GPU_RESOURCE, RACK_LABEL, NodeSpecError, Taint
from podium.testing.pods import make_pod
from podium.testing.workloads import WorkloadSpecError, make_deployment, make_job


def test_kwok_node_carries_the_selector_kwok_manages_and_no_conditions() -> None:
    node = make_kwok_node("k-1", gpus=8, labels={"team": "ml"}, taints=[Taint("gpu")])
    key, value = KWOK_NODE_SELECTOR.split("=")
    assert node["metadata"]["annotations"] == {KWOK_NODE_ANNOTATION: value}
    assert key == KWOK_NODE_ANNOTATION
    assert node["metadata"]["labels"]["team"] == "ml"
    assert node["metadata"]["labels"]["type"] == "kwok"
    assert node["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}]
    # KWOK registers the node Ready with this capacity; until then it has no conditions.
    assert node["status"]["capacity"][GPU_RESOURCE] == "8"
    assert "conditions" not in node["status"]
    with pytest.raises(TypeError, match="KWOK decides readiness"):
        make_kwok_node("k-2", ready=False)


def test_kwok_nodes_are_numbered_and_spread_over_racks() -> None:
    nodes = make_kwok_nodes(4, prefix="g", racks=2)
    assert [n["metadata"]["name"] for n in nodes] == ["g-00000", "g-00001", "g-00002", "g-00003"]
    assert [n["metadata"]["labels"][RACK_LABEL] for n in nodes] == ["rack-0", "rack-1"] * 2
    with pytest.raises(NodeSpecError, match="count must not be negative"):
        make_kwok_nodes(-1)


def test_deployment_selects_its_template_labels() -> None:
    pod = make_pod("x", "ns", scheduler_name="podium", labels={"app": "web"})
    deployment = make_deployment("web", "ns", pod, replicas=3)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    template = deployment["spec"]["template"]
    assert template["metadata"] == {"labels": {"app": "web"}}
    assert template["spec"]["schedulerName"] == "podium"
    unlabelled = make_deployment("api", "ns", make_pod("y", "ns"), replicas=1)
    assert unlabelled["spec"]["selector"] == {"matchLabels": {"app": "api"}}
    assert unlabelled["spec"]["template"]["metadata"]["labels"] == {"app": "api"}
    with pytest.raises(WorkloadSpecError, match="replicas must be an integer of at least 0"):
        make_deployment("bad", "ns", pod, replicas=-1)


def test_job_never_restarts_its_pods_and_says_how_long_they_run() -> None:
    pod = make_pod("x", "ns", labels={"app": "train"})
    job = make_job("train", "ns", pod, completions=4, parallelism=2, run_for="3s")
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (4, 2, 0)
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["metadata"]["annotations"] == {COMPLETE_AFTER_ANNOTATION: "3s"}
    # The pod given is not changed.
    assert "restartPolicy" not in pod["spec"]
    assert make_job("all", "ns", pod, completions=3)["spec"]["parallelism"] == 3
    with pytest.raises(WorkloadSpecError, match="completions must be an integer of at least 1"):
        make_job("bad", "ns", pod, completions=0)


def test_shipped_stages_cover_nodes_and_pods() -> None:
    stages = [yaml.safe_load(path.read_text()) for path in stage_files()]
    assert {stage["kind"] for stage in stages} == {"Stage"}
    names = {stage["metadata"]["name"] for stage in stages}
    assert names == {
        "node-initialize",
        "node-heartbeat",
        "pod-ready",
        "pod-complete",
        "pod-complete-standalone",
        "pod-delete",
    }
    kinds = {stage["spec"]["resourceRef"]["kind"] for stage in stages}
    assert kinds == {"Node", "Pod"}
