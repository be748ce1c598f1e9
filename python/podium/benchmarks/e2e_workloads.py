"""The load benchmark's cluster and workloads: KWOK GPU nodes in zones, and the pods (or Jobs)
of each workload, identical for every scheduler under test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.benchmarks import dra_workloads
from podium.benchmarks.e2e_schedulers import CEILINGS
from podium.testing.kwok.nodes import make_kwok_node
from podium.testing.nodes import GPU_RESOURCE, HOSTNAME_LABEL, ZONE_LABEL
from podium.testing.podgroups import make_workload_pod_group
from podium.testing.pods import make_pod
from podium.testing.workloads import make_job

PLAIN = "plain"
GPU = "gpu"
ANTI_AFFINITY = "anti_affinity"
SPREAD = "spread"
GANG = "gang"
DEEP_QUEUE = "deep_queue"
CHURN = "churn"
# GPU jobs through ResourceClaimTemplates (1/2/4/8 GPUs, each pair with its RDMA NIC on one PCIe
# root) on the nodes' driver ResourceSlices: kube-controller-manager makes each pod's claim, the
# scheduler allocates it before the Binding.
DRA = "dra"
WORKLOADS = (PLAIN, GPU, ANTI_AFFINITY, SPREAD, GANG, DEEP_QUEUE, CHURN, DRA)
# What runs when none is chosen: DRA needs slices on every node, asked for by name.
DEFAULT_WORKLOADS = (PLAIN, GPU, ANTI_AFFINITY, SPREAD, GANG, DEEP_QUEUE, CHURN)
# The bind ceiling binds without allocating claims (DRA) or waiting for a gang's quorum (gang: the
# Workload API's PodGroups, which kube-scheduler 1.37's GangScheduling places as podium does):
# not the same work, so it sits these out.
DECIDING_ONLY_WORKLOADS = frozenset({DRA, GANG})
# Jobs arriving at a steady rate while earlier ones complete: its own creation mode.
CHURN_MODE = "steady"
# Members per gang, one GPU each: a gang fills a node's GPUs or spreads over several.
GANG_SIZE = 8
ZONES = 10
GPUS_PER_NODE = 8
# Pods sharing an app label (anti-affinity and spread groups): at most one per node.
GROUP_SIZE = 50
_GPU_SIZES = (1, 1, 2, 4, 8)
# deep_queue: every fifth pod (20% of the backlog) asks for more GPUs than any node has.
UNPLACEABLE_EVERY = 5
UNPLACEABLE_GPUS = 2 * GPUS_PER_NODE
UNPLACEABLE_LABEL = "podium.dev/bench-unplaceable"
"""On the pods no node can take; the bind ceiling leaves them alone (it decides nothing, so it
would bind them), and the bench waits only for the others."""
# churn: pods per Job.
JOB_PODS = 4


def bench_node(index: int, labels: Mapping[str, str]) -> dict[str, Any]:
    """A large GPU node (64 CPUs, 512 GiB, 8 GPUs) in one of ``ZONES`` zones, run by KWOK
    (it registers, heartbeats, and runs the pods bound to it)."""
    return make_kwok_node(
        bench_node_name(index),
        cpu=64,
        memory="512Gi",
        gpus=GPUS_PER_NODE,
        zone=f"zone-{index % ZONES}",
        labels=labels,
    )


def bench_node_name(index: int) -> str:
    return f"bench-{index:05d}"


def placeable(workload: str, index: int) -> bool:
    """Whether pod ``index`` of ``workload`` fits some node of an empty bench cluster."""
    return not (workload == DEEP_QUEUE and index % UNPLACEABLE_EVERY == UNPLACEABLE_EVERY - 1)


def bench_pod(
    workload: str,
    index: int,
    *,
    namespace: str,
    scheduler_name: str,
    node_selector: Mapping[str, str],
    nodes: int,
) -> dict[str, Any]:
    """Pod ``index`` of ``workload`` (not churn: its pods come from ``bench_job``); every pod
    fits the cluster but deep_queue's unplaceable fifth."""
    name = f"{workload.replace('_', '-')}-{index:06d}"
    common: dict[str, Any] = {"scheduler_name": scheduler_name, "node_selector": node_selector}
    group = {"app": f"{workload.replace('_', '-')}-{index // min(GROUP_SIZE, nodes)}"}
    if workload == PLAIN:
        return make_pod(name, namespace, requests={"cpu": "100m", "memory": "256Mi"}, **common)
    if workload in (GPU, DEEP_QUEUE):
        if not placeable(workload, index):
            gpus = UNPLACEABLE_GPUS
            common["labels"] = {UNPLACEABLE_LABEL: "true"}
        else:
            gpus = _GPU_SIZES[index % len(_GPU_SIZES)]
        requests: dict[str, str | int] = {
            "cpu": 4 * gpus,
            "memory": f"{32 * gpus}Gi",
            GPU_RESOURCE: gpus,
        }
        # Extended resources need limits equal to requests.
        return make_pod(name, namespace, requests=requests, limits={GPU_RESOURCE: gpus}, **common)
    if workload == ANTI_AFFINITY:
        # Required anti-affinity alone: at most one pod of a group per node (kube-scheduler's
        # slowest common constraint; groups no larger than the node count, so always met).
        return make_pod(
            name,
            namespace,
            requests={"cpu": "500m", "memory": "1Gi"},
            labels=group,
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": HOSTNAME_LABEL, "labelSelector": {"matchLabels": group}}
                    ]
                }
            },
            **common,
        )
    if workload == SPREAD:
        # Topology spread alone: each group even over the zones (max skew 1, hard).
        return make_pod(
            name,
            namespace,
            requests={"cpu": "500m", "memory": "1Gi"},
            labels=group,
            topology_spread_constraints=[
                {
                    "maxSkew": 1,
                    "topologyKey": ZONE_LABEL,
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": group},
                }
            ],
            **common,
        )
    if workload == DRA:
        gpus = dra_workloads.GPU_SIZES[index % len(dra_workloads.GPU_SIZES)]
        pod = make_pod(
            name, namespace, requests={"cpu": 4 * gpus, "memory": f"{32 * gpus}Gi"}, **common
        )
        pod["spec"]["resourceClaims"] = [
            {"name": dra_workloads.CLAIM_NAME, "resourceClaimTemplateName": dra_template(gpus)}
        ]
        pod["spec"]["containers"][0]["resources"]["claims"] = [{"name": dra_workloads.CLAIM_NAME}]
        return pod
    if workload == GANG:
        # Joined through spec.schedulingGroup (the Workload API), which kube-scheduler reads too.
        gpu: dict[str, str | int] = {"cpu": 4, "memory": "32Gi", GPU_RESOURCE: 1}
        return make_pod(
            name,
            namespace,
            requests=gpu,
            limits={GPU_RESOURCE: 1},
            pod_group=_gang_name(index // GANG_SIZE),
            **common,
        )
    raise ValueError(f"unknown pod workload {workload!r}; choose from {', '.join(WORKLOADS)}")


def bench_job(
    index: int,
    *,
    namespace: str,
    scheduler_name: str,
    node_selector: Mapping[str, str],
    run_for: str,
) -> dict[str, Any]:
    """Job ``index`` of the churn workload: ``JOB_PODS`` plain pods at once, each running
    ``run_for`` on its KWOK node before it succeeds (KWOK's pod-complete Stage)."""
    pod = make_pod(
        "template",
        namespace,
        requests={"cpu": "500m", "memory": "1Gi"},
        scheduler_name=scheduler_name,
        node_selector=node_selector,
    )
    return make_job(f"churn-{index:06d}", namespace, pod, completions=JOB_PODS, run_for=run_for)


def dra_template(gpus: int) -> str:
    return f"gpus-{gpus}"


def bench_claim_templates(workload: str, *, namespace: str) -> list[dict[str, Any]]:
    """The ResourceClaimTemplates the pods of ``workload`` use (none but for DRA): one per GPU
    count, each GPU pair with its NIC on one PCIe root."""
    if workload != DRA:
        return []
    templates = []
    for gpus in dra_workloads.GPU_SIZES:
        requests, constraints = dra_workloads.claim_requests(gpus)
        templates.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaimTemplate",
                "metadata": {"name": dra_template(gpus), "namespace": namespace},
                "spec": {"spec": {"devices": {"requests": requests, "constraints": constraints}}},
            }
        )
    return templates


def dra_cluster_objects(nodes: int) -> list[dict[str, Any]]:
    """The DeviceClasses, and each bench node's GPU and NIC driver slices (8 GPUs, 4 NICs)."""
    objects = [
        *dra_workloads.device_classes(),
        *dra_workloads.node_slices([bench_node_name(i) for i in range(nodes)]),
    ]
    for obj in objects:
        # As the API takes them: the core bench's fixtures carry a uid and resourceVersion.
        meta = obj["metadata"]
        meta.pop("uid", None)
        meta.pop("resourceVersion", None)
        obj["apiVersion"] = "resource.k8s.io/v1"
        obj["kind"] = "ResourceSlice" if "driver" in obj["spec"] else "DeviceClass"
    return objects


def bench_pod_groups(workload: str, pods: int, *, namespace: str) -> list[dict[str, Any]]:
    """The Workload API PodGroups (``scheduling.k8s.io/v1beta1``, gang policy) ``pods`` pods of
    ``workload`` join (none but for gangs); the last gang is smaller when ``pods`` is not a
    multiple of ``GANG_SIZE``, and waits for no one."""
    if workload != GANG:
        return []
    return [
        make_workload_pod_group(
            _gang_name(g), namespace, min_count=min(GANG_SIZE, pods - g * GANG_SIZE)
        )
        for g in range(-(-pods // GANG_SIZE))
    ]


def runs(scheduler: str, workload: str) -> bool:
    """Whether ``scheduler`` takes part in ``workload``."""
    return not (scheduler in CEILINGS and workload in DECIDING_ONLY_WORKLOADS)


def case_modes(workload: str, modes: tuple[str, ...]) -> tuple[str, ...]:
    """The creation modes ``workload`` runs in: churn has its own."""
    return (CHURN_MODE,) if workload == CHURN else modes


def ceiling_selector(workload: str) -> str | None:
    """The label selector of the pods the bind ceiling binds in ``workload`` (None: all)."""
    return f"!{UNPLACEABLE_LABEL}" if workload == DEEP_QUEUE else None


def unplaceable_selector(workload: str) -> str | None:
    """The label selector of ``workload``'s pods no node can take (None: there are none)."""
    return UNPLACEABLE_LABEL if workload == DEEP_QUEUE else None


def _gang_name(group: int) -> str:
    return f"gang-{group:05d}"
