"""The load benchmark's cluster and workloads: fake GPU nodes in zones, and the pods of each
workload, identical for every scheduler under test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.benchmarks.e2e_schedulers import PODIUM
from podium.gang import POD_GROUP_LABEL
from podium.testing.nodes import GPU_RESOURCE, HOSTNAME_LABEL, ZONE_LABEL, make_node
from podium.testing.podgroups import make_pod_group
from podium.testing.pods import make_pod

WORKLOADS = ("plain", "gpu", "spread", "gang")
# Neither kube-scheduler nor the bind ceiling knows PodGroups: they would bind gang members one
# by one, which is not the same work, so only podium runs these.
PODIUM_ONLY_WORKLOADS = frozenset({"gang"})
# Members per gang, one GPU each: a gang fills a node's GPUs or spreads over several.
GANG_SIZE = 8
ZONES = 10
GPUS_PER_NODE = 8
# Anti-affinity groups: at most this many pods share an app label (one per node at most).
SPREAD_GROUP = 50
_GPU_SIZES = (1, 1, 2, 4, 8)


def bench_node(index: int, labels: Mapping[str, str]) -> dict[str, Any]:
    """A large GPU node (64 CPUs, 512 GiB, 8 GPUs) in one of ``ZONES`` zones."""
    return make_node(
        f"bench-{index:05d}",
        cpu=64,
        memory="512Gi",
        gpus=GPUS_PER_NODE,
        zone=f"zone-{index % ZONES}",
        labels=labels,
    )


def bench_pod(
    workload: str,
    index: int,
    *,
    namespace: str,
    scheduler_name: str,
    node_selector: Mapping[str, str],
    nodes: int,
) -> dict[str, Any]:
    """Pod ``index`` of ``workload``; every pod fits (the cluster is large enough for all)."""
    name = f"{workload}-{index:06d}"
    common: dict[str, Any] = {"scheduler_name": scheduler_name, "node_selector": node_selector}
    if workload == "plain":
        return make_pod(name, namespace, requests={"cpu": "100m", "memory": "256Mi"}, **common)
    if workload == "gpu":
        gpus = _GPU_SIZES[index % len(_GPU_SIZES)]
        requests: dict[str, str | int] = {
            "cpu": 4 * gpus,
            "memory": f"{32 * gpus}Gi",
            GPU_RESOURCE: gpus,
        }
        # Extended resources need limits equal to requests.
        return make_pod(name, namespace, requests=requests, limits={GPU_RESOURCE: gpus}, **common)
    if workload == "spread":
        # Consecutive pods share an app label, in groups no larger than the node count, so each
        # group's hostname anti-affinity and zone spread can always be met.
        app = {"app": f"spread-{index // min(SPREAD_GROUP, nodes)}"}
        return make_pod(
            name,
            namespace,
            requests={"cpu": "500m", "memory": "1Gi"},
            labels=app,
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": HOSTNAME_LABEL, "labelSelector": {"matchLabels": app}}
                    ]
                }
            },
            topology_spread_constraints=[
                {
                    "maxSkew": 1,
                    "topologyKey": ZONE_LABEL,
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": app},
                }
            ],
            **common,
        )
    if workload == "gang":
        group = {POD_GROUP_LABEL: _gang_name(index // GANG_SIZE)}
        gpu: dict[str, str | int] = {"cpu": 4, "memory": "32Gi", GPU_RESOURCE: 1}
        return make_pod(
            name, namespace, requests=gpu, limits={GPU_RESOURCE: 1}, labels=group, **common
        )
    raise ValueError(f"unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")


def bench_pod_groups(workload: str, pods: int, *, namespace: str) -> list[dict[str, Any]]:
    """The PodGroups ``pods`` pods of ``workload`` join (none but for gangs); the last gang is
    smaller when ``pods`` is not a multiple of ``GANG_SIZE``, and waits for no one."""
    if workload != "gang":
        return []
    return [
        make_pod_group(_gang_name(g), namespace, min_member=min(GANG_SIZE, pods - g * GANG_SIZE))
        for g in range(-(-pods // GANG_SIZE))
    ]


def runs(scheduler: str, workload: str) -> bool:
    """Whether ``scheduler`` takes part in ``workload``."""
    return scheduler == PODIUM or workload not in PODIUM_ONLY_WORKLOADS


def _gang_name(group: int) -> str:
    return f"gang-{group:05d}"
