"""Node and pod builders of podium.testing: shapes the apiserver expects, clear input errors."""

from __future__ import annotations

import pytest

from podium.testing.nodes import (
    GPU_RESOURCE,
    HOSTNAME_LABEL,
    RACK_LABEL,
    RDMA_RESOURCE,
    ZONE_LABEL,
    NodeCreateError,
    NodeSpecError,
    Taint,
    make_node,
    make_nodes,
)
from podium.testing.pods import PodSpecError, make_pod, make_priority_class
from podium.testing.topology import NumaZone, make_node_resource_topology, make_numa_gpu_node


def test_node_has_capacity_labels_taints_and_ready_condition() -> None:
    node = make_node(
        "gpu-1",
        cpu=64,
        memory="512Gi",
        gpus=8,
        rdma=2,
        extended={"example.com/fpga": "1"},
        zone="z1",
        rack="r7",
        labels={"team": "ml"},
        taints=[Taint("gpu", "NoSchedule", "true")],
        unschedulable=True,
    )
    status = node["status"]
    assert status["capacity"] == status["allocatable"]
    assert status["allocatable"] == {
        "cpu": "64",
        "memory": "512Gi",
        "pods": "110",
        "ephemeral-storage": "1Ti",
        GPU_RESOURCE: "8",
        RDMA_RESOURCE: "2",
        "example.com/fpga": "1",
    }
    labels = node["metadata"]["labels"]
    assert labels[HOSTNAME_LABEL] == "gpu-1"
    assert labels[ZONE_LABEL] == "z1"
    assert labels[RACK_LABEL] == "r7"
    assert labels["team"] == "ml"
    assert node["spec"] == {
        "taints": [{"key": "gpu", "effect": "NoSchedule", "value": "true"}],
        "unschedulable": True,
    }
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [("Ready", "True")]


def test_node_without_gpus_has_no_gpu_resource_and_custom_rack_label() -> None:
    node = make_node("cpu-1", rack="r1", rack_label="topology.corp.com/rack-id", ready=False)
    assert GPU_RESOURCE not in node["status"]["allocatable"]
    assert node["metadata"]["labels"]["topology.corp.com/rack-id"] == "r1"
    assert RACK_LABEL not in node["metadata"]["labels"]
    assert node["status"]["conditions"][0]["status"] == "False"
    assert node["spec"] == {}


def test_make_nodes_names_and_spreads_over_racks() -> None:
    nodes = make_nodes(5, prefix="n", racks=2, gpus=4)
    assert [n["metadata"]["name"] for n in nodes] == [f"n-{i:05d}" for i in range(5)]
    assert [n["metadata"]["labels"][RACK_LABEL] for n in nodes] == [
        "rack-0",
        "rack-1",
        "rack-0",
        "rack-1",
        "rack-0",
    ]
    assert {n["status"]["allocatable"][GPU_RESOURCE] for n in nodes} == {"4"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpu": -1}, "node 'bad': cpu must not be negative"),
        ({"memory": "-1Gi"}, "node 'bad': memory must be a non-negative quantity"),
        ({"pods": True}, "node 'bad': pods must be a quantity string or an integer"),
        ({"extended": {"x/y": ""}}, "node 'bad': extended['x/y'] must be a non-negative"),
        ({"taints": [Taint("k", "NoRun")]}, "node 'bad': taints[0].effect must be one of"),
    ],
)
def test_bad_node_input_names_the_node_and_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(NodeSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_node("bad", **kwargs)  # type: ignore[arg-type]


def test_node_create_error_lists_failures() -> None:
    error = NodeCreateError({f"n{i}": "HTTP 409: exists" for i in range(7)})
    assert "7 node(s) not created" in str(error)
    assert "node 'n0': HTTP 409: exists" in str(error)
    assert "(and 2 more)" in str(error)
    assert len(error.failures) == 7


def test_pod_carries_every_requested_field() -> None:
    pod = make_pod(
        "p",
        "ns",
        scheduler_name="podium",
        requests={"cpu": "1", GPU_RESOURCE: 2},
        limits={GPU_RESOURCE: 2},
        init_requests={"cpu": "2"},
        overhead={"cpu": "100m"},
        node_selector={"zone": "a"},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
        priority_class_name="high",
        labels={"app": "x"},
        host_ports=[8080],
        scheduling_gates=["wait"],
    )
    spec = pod["spec"]
    assert pod["metadata"] == {"name": "p", "namespace": "ns", "labels": {"app": "x"}}
    assert spec["schedulerName"] == "podium"
    container = spec["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "1", GPU_RESOURCE: "2"},
        "limits": {GPU_RESOURCE: "2"},
    }
    assert container["ports"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]
    assert spec["initContainers"][0]["resources"] == {"requests": {"cpu": "2"}}
    assert spec["overhead"] == {"cpu": "100m"}
    assert spec["nodeSelector"] == {"zone": "a"}
    assert spec["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert spec["priorityClassName"] == "high"
    assert spec["schedulingGates"] == [{"name": "wait"}]


def test_plain_pod_has_no_optional_fields() -> None:
    spec = make_pod("p")["spec"]
    assert set(spec) == {"schedulerName", "containers"}
    assert "resources" not in spec["containers"][0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests": {"cpu": "-1"}}, r"pod 'bad': requests\['cpu'\] must be a non-negative"),
        ({"limits": {"memory": 1.5}}, r"pod 'bad': limits\['memory'\] must be a quantity"),
        ({"host_ports": [0]}, r"pod 'bad': host_ports\[0\] must be 1..65535"),
    ],
)
def test_bad_pod_input_names_the_pod_and_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PodSpecError, match=message):
        make_pod("bad", **kwargs)  # type: ignore[arg-type]


def test_priority_class() -> None:
    assert make_priority_class("high", 1000)["value"] == 1000
    with pytest.raises(PodSpecError, match="priorityclass 'x': preemptionPolicy"):
        make_priority_class("x", 1, preemption_policy="Sometimes")


def test_numa_gpu_node_capacity_is_the_sum_of_its_zones() -> None:
    zones = [NumaZone(cpu=8, memory="512Mi", gpus=2, extended={"x/y": 1})] * 2
    node, topology = make_numa_gpu_node("n", zones, rack="r1")
    allocatable = node["status"]["allocatable"]
    assert (allocatable["cpu"], allocatable["memory"], allocatable[GPU_RESOURCE]) == (
        "16",
        "1Gi",
        "4",
    )
    assert allocatable["x/y"] == "2"
    assert node["metadata"]["labels"][RACK_LABEL] == "r1"
    assert topology["metadata"]["name"] == "n"
    assert [z["costs"][1]["value"] for z in topology["zones"]] == [21, 10]


@pytest.mark.parametrize(
    ("zones", "costs", "message"),
    [
        ([], None, "zones must not be empty"),
        ([NumaZone()], [[10, 20]], "costs must be a 1x1 matrix"),
        ([NumaZone(gpus=2, used={GPU_RESOURCE: 3})], None, r"zones\[0\].used\['nvidia.com/gpu'\]"),
    ],
)
def test_bad_topology_input_names_the_field(
    zones: list[NumaZone], costs: list[list[int]] | None, message: str
) -> None:
    with pytest.raises(NodeSpecError, match=f"noderesourcetopology 'n': {message}"):
        make_node_resource_topology("n", zones, costs=costs)


def test_zone_memory_must_be_binary_units() -> None:
    with pytest.raises(NodeSpecError, match=r"node 'n': zones\[0\].memory"):
        make_numa_gpu_node("n", [NumaZone(memory="1G")])


def test_pod_group_builder_writes_the_topology_annotations() -> None:
    from podium.testing.podgroups import make_pod_group

    group = make_pod_group(
        "train",
        "ml",
        min_member=4,
        topology_level="topology.kubernetes.io/block",
        topology_mode="preferred",
        slice_size=2,
        slice_level="topology.kubernetes.io/rack",
    )
    assert group["metadata"]["annotations"] == {
        "podium.dev/topology-level": "topology.kubernetes.io/block",
        "podium.dev/topology-mode": "preferred",
        "podium.dev/slice-size": "2",
        "podium.dev/slice-level": "topology.kubernetes.io/rack",
    }
