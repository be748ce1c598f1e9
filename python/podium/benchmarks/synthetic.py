"""Seeded generators of realistic Kubernetes JSON: nodes, bound pods and pending podium pods.

The objects look like what a kube-apiserver serves (standard labels, managedFields, conditions,
images, default tolerations, status), so the core parses as much per object as it would in
production; a benchmark fed trimmed objects would flatter the load time. Everything is derived
from ``(seed, stream)`` so the same seed gives byte-identical output, and nodes, bound pods and
each workload draw from independent streams (changing one never shifts the others).

A cluster is planned first (cheap records: names, zones, racks, instance types, taints), then
rendered lazily object by object, so a 20,000-node cluster never sits in memory as Python dicts.
"""

from __future__ import annotations

import base64
import functools
import random
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from podium.benchmarks.dra_workloads import (
    DRA_WORKLOADS,
    EXT_WORKLOADS,
    gpus_of,
    is_dra,
    nics_for,
    on_gpu_cluster,
    pod_claims,
)
from podium.benchmarks.quota_workloads import QUOTA_WORKLOAD, is_quota

__all__ = [
    "GPU",
    "GPU_TAINT_KEY",
    "HOSTNAME_LABEL",
    "RACK_LABEL",
    "RDMA",
    "SCHEDULER_NAME",
    "WORKLOADS",
    "ZONE_LABEL",
    "Cluster",
    "ClusterShape",
    "InstanceType",
    "NodeInfo",
    "PendingRecord",
    "bound_pods",
    "list_pages",
    "node_objects",
    "pending_object",
    "pending_records",
    "plan_cluster",
    "watch_lines",
]

Json = dict[str, Any]

SCHEDULER_NAME: Final = "podium"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
RACK_LABEL: Final = "topology.kubernetes.io/rack"
HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
GPU: Final = "nvidia.com/gpu"
RDMA: Final = "rdma/hca"
GPU_TAINT_KEY: Final = "nvidia.com/gpu"
DEDICATED_TAINT_KEY: Final = "dedicated"
UNSCHEDULABLE_TAINT_KEY: Final = "node.kubernetes.io/unschedulable"

WORKLOADS: Final = (
    "plain",
    QUOTA_WORKLOAD,
    "gpu",
    "anti_affinity",
    "spread",
    "preferred_affinity",
    *DRA_WORKLOADS,
    *EXT_WORKLOADS,
)

_REGION = "us-east-1"
_EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z: creation times are offsets from it
_KI = 1024
_MI = 1024 * 1024
_GI = 1024 * _MI


@dataclass(frozen=True, slots=True)
class InstanceType:
    """A node shape: allocatable in canonical units (millicores, bytes, counts)."""

    name: str
    cpu_millis: int
    memory_bytes: int
    ephemeral_bytes: int
    pods: int
    gpus: int = 0
    rdma: int = 0
    gpu_product: str = ""

    def allocatable(self) -> dict[str, int]:
        out = {
            "cpu": self.cpu_millis,
            "memory": self.memory_bytes,
            "ephemeral-storage": self.ephemeral_bytes,
            "pods": self.pods,
        }
        if self.gpus:
            out[GPU] = self.gpus
            out[RDMA] = self.rdma
        return out


# Allocatable as kubelet reports it on these EC2 shapes (capacity minus system/kube reserved).
CPU_TYPES: Final = (
    InstanceType("m6i.16xlarge", 63_770, 257_490 * _MI, 95_491_281_146, 110),
    InstanceType("c6i.8xlarge", 31_850, 60_152 * _MI, 95_491_281_146, 110),
    InstanceType("r6i.8xlarge", 31_850, 249_298 * _MI, 95_491_281_146, 110),
)
GPU_TYPES: Final = (
    InstanceType(
        "p4d.24xlarge",
        95_690,
        1_125_375 * _MI,
        7_448_452_012_032,
        250,
        gpus=8,
        rdma=4,
        gpu_product="NVIDIA-A100-SXM4-40GB",
    ),
    InstanceType(
        "p5.48xlarge",
        191_450,
        2_000_000 * _MI,
        7_448_452_012_032,
        250,
        gpus=8,
        rdma=32,
        gpu_product="NVIDIA-H100-80GB-HBM3",
    ),
)


@dataclass(frozen=True, slots=True)
class ClusterShape:
    """What to generate. ``pods_per_node`` bound pods per node (30 gives 150,000 at 5,000 nodes)."""

    nodes: int
    pods_per_node: int = 30
    gpu_share: float = 0.5
    zones: int = 3
    nodes_per_rack: int = 32
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str = "NoSchedule"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A planned node: what the benchmark needs to check decisions, without the JSON."""

    name: str
    zone: str
    rack: str
    itype: InstanceType
    taints: tuple[Taint, ...]
    unschedulable: bool

    @property
    def gpu(self) -> bool:
        return self.itype.gpus > 0

    @property
    def general(self) -> bool:
        """Takes untolerating workload pods: a CPU node, neither dedicated nor cordoned."""
        return not self.taints


@dataclass(frozen=True, slots=True)
class ZoneApp:
    """An app whose bound pods all run in one zone: the target of preferred pod affinity."""

    namespace: str
    app: str
    zone: str


@dataclass(frozen=True, slots=True)
class Cluster:
    shape: ClusterShape
    nodes: tuple[NodeInfo, ...]
    zones: tuple[str, ...]
    zone_apps: tuple[ZoneApp, ...]

    @property
    def pod_count(self) -> int:
        return self.shape.nodes * self.shape.pods_per_node


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """One pending podium pod, complete enough to render it and to check where it landed."""

    uid: str
    namespace: str
    name: str
    workload: str
    app: str
    cpu_millis: int
    memory_mi: int
    gpus: int = 0
    rdma: int = 0
    # preferred_affinity: the app (same namespace) it prefers to share a zone with, and its zone.
    target_app: str = ""
    target_zone: str = ""


def _rng(seed: int, stream: str) -> random.Random:
    # String seeds are hashed with SHA-512 by random.seed: stable across runs and platforms.
    return random.Random(f"podium-bench:{seed}:{stream}")


def _uid(rng: random.Random) -> str:
    # A version-4 UUID string; formatted by hand because uuid.UUID costs more than the pod dict.
    h = f"{rng.getrandbits(122):031x}"
    return f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[int(h[15], 16) & 3]}{h[16:19]}-{h[19:31]}"


@functools.lru_cache(maxsize=100_000)
def _timestamp(offset_seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_EPOCH + offset_seconds))


def _suffix(rng: random.Random, k: int) -> str:
    bits = rng.getrandbits(5 * k)
    return "".join(_SUFFIX_ALPHABET[(bits >> (5 * j)) & 31] for j in range(k))


# The apiserver's generateName alphabet has 27 letters; 32 (padded) keeps the draw one getrandbits.
_SUFFIX_ALPHABET: Final = "bcdfghjklmnpqrstvwxz245678924567"


def _template_hash(app: str) -> str:
    return f"{zlib.crc32(app.encode()):08x}"[:8] + "5d"


@functools.lru_cache(maxsize=10_000)
def _owner_uid(owner_name: str) -> str:
    return str(uuid.UUID(int=zlib.crc32(owner_name.encode()), version=4))


def _cpu(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _memory_mi(mi: int) -> str:
    return f"{mi // 1024}Gi" if mi % 1024 == 0 else f"{mi}Mi"


# ---------------------------------------------------------------------------------------------
# Cluster plan


def plan_cluster(shape: ClusterShape) -> Cluster:
    """Lay out nodes over zones and racks, pick instance types and taints."""
    if shape.nodes < 1 or shape.zones < 1 or shape.nodes_per_rack < 1:
        raise ValueError(f"invalid cluster shape: {shape}")
    rng = _rng(shape.seed, "plan")
    zones = tuple(f"{_REGION}{chr(ord('a') + z)}" for z in range(shape.zones))
    nodes: list[NodeInfo] = []
    for i in range(shape.nodes):
        # Consecutive nodes share a rack; racks are dealt round-robin over zones.
        rack_index = i // shape.nodes_per_rack
        zone = zones[rack_index % len(zones)]
        gpu = rng.random() < shape.gpu_share
        itype = rng.choice(GPU_TYPES if gpu else CPU_TYPES)
        taints: list[Taint] = []
        if gpu:
            taints.append(Taint(GPU_TAINT_KEY, "present"))
        elif rng.random() < 0.05:
            taints.append(Taint(DEDICATED_TAINT_KEY, "infra"))
        unschedulable = rng.random() < 0.01
        if unschedulable:
            taints.append(Taint(UNSCHEDULABLE_TAINT_KEY, ""))
        prefix = "gpu" if gpu else "cpu"
        nodes.append(
            NodeInfo(
                name=f"{prefix}-{zone[-1]}-{i:06d}",
                zone=zone,
                rack=f"rack-{zone[-1]}-{rack_index:04d}",
                itype=itype,
                taints=tuple(taints),
                unschedulable=unschedulable,
            )
        )
    zone_apps = tuple(
        ZoneApp(namespace=f"team-{k % _TEAMS:02d}", app=f"cache-{zone[-1]}-{k}", zone=zone)
        for zone in zones
        for k in range(_ZONE_APPS_PER_ZONE)
    )
    return Cluster(shape=shape, nodes=tuple(nodes), zones=zones, zone_apps=zone_apps)


_TEAMS = 40
_ZONE_APPS_PER_ZONE = 10
_SERVICE_APPS = 2000
_HA_APPS = 300

# ---------------------------------------------------------------------------------------------
# Shared sub-objects (orjson serialises a shared dict each time it appears, like distinct ones)

_NODE_MANAGED_FIELDS: Final[list[Json]] = [
    {
        "manager": "kubelet",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2025-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {
                "f:annotations": {".": {}, "f:node.alpha.kubernetes.io/ttl": {}},
                "f:labels": {
                    ".": {},
                    "f:beta.kubernetes.io/arch": {},
                    "f:beta.kubernetes.io/os": {},
                    "f:kubernetes.io/arch": {},
                    "f:kubernetes.io/hostname": {},
                    "f:kubernetes.io/os": {},
                },
            },
            "f:spec": {"f:providerID": {}},
        },
    },
    {
        "manager": "kubelet",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2025-01-01T00:10:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:status": {
                "f:allocatable": {"f:cpu": {}, "f:ephemeral-storage": {}, "f:memory": {}},
                "f:capacity": {"f:cpu": {}, "f:ephemeral-storage": {}, "f:memory": {}},
                "f:conditions": {
                    'k:{"type":"DiskPressure"}': {"f:lastHeartbeatTime": {}},
                    'k:{"type":"MemoryPressure"}': {"f:lastHeartbeatTime": {}},
                    'k:{"type":"PIDPressure"}': {"f:lastHeartbeatTime": {}},
                    'k:{"type":"Ready"}': {"f:lastHeartbeatTime": {}},
                },
                "f:images": {},
                "f:nodeInfo": {"f:bootID": {}},
            }
        },
        "subresource": "status",
    },
]

_POD_MANAGED_FIELDS: Final[list[Json]] = [
    {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2025-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {
                "f:generateName": {},
                "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                "f:ownerReferences": {".": {}, 'k:{"uid":"0"}': {}},
            },
            "f:spec": {
                "f:containers": {
                    'k:{"name":"main"}': {
                        ".": {},
                        "f:image": {},
                        "f:imagePullPolicy": {},
                        "f:name": {},
                        "f:resources": {".": {}, "f:limits": {}, "f:requests": {}},
                        "f:terminationMessagePath": {},
                        "f:terminationMessagePolicy": {},
                    }
                },
                "f:dnsPolicy": {},
                "f:enableServiceLinks": {},
                "f:restartPolicy": {},
                "f:schedulerName": {},
                "f:securityContext": {},
                "f:terminationGracePeriodSeconds": {},
            },
        },
    }
]

_DEFAULT_TOLERATIONS: Final[list[Json]] = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]
_GPU_TOLERATION: Final[Json] = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
_DEDICATED_TOLERATION: Final[Json] = {
    "key": DEDICATED_TAINT_KEY,
    "operator": "Equal",
    "value": "infra",
    "effect": "NoSchedule",
}
_TOLERATE_ALL: Final[list[Json]] = [{"operator": "Exists"}]

_IMAGES: Final = tuple(
    f"registry.example.com/{name}:v{major}.{minor}"
    for name in ("api", "worker", "cache", "proxy", "batch", "trainer", "inference", "etl")
    for major, minor in ((1, 4), (1, 5), (2, 0))
)
_SYSTEM_IMAGES: Final = (
    "registry.k8s.io/kube-proxy:v1.31.2",
    "quay.io/prometheus/node-exporter:v1.8.2",
    "cr.fluentbit.io/fluent/fluent-bit:3.1.9",
    "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.5",
    "nvcr.io/nvidia/k8s-device-plugin:v0.16.2",
)
_TRAINER_IMAGE: Final = "nvcr.io/nvidia/pytorch:24.10-py3"


def _image_entry(name: str, rng: random.Random) -> Json:
    digest = f"{rng.getrandbits(256):064x}"
    repo = name.rsplit(":", 1)[0]
    return {"names": [f"{repo}@sha256:{digest}", name], "sizeBytes": rng.randrange(20, 900) * _MI}


# ---------------------------------------------------------------------------------------------
# Nodes


def node_objects(cluster: Cluster) -> Iterator[Json]:
    """The cluster's Node objects, as list items (no per-item kind/apiVersion)."""
    rng = _rng(cluster.shape.seed, "nodes")
    for index, node in enumerate(cluster.nodes):
        yield _node_object(node, index, rng)


def _node_object(node: NodeInfo, index: int, rng: random.Random) -> Json:
    it = node.itype
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": it.name,
        "beta.kubernetes.io/os": "linux",
        "failure-domain.beta.kubernetes.io/region": _REGION,
        "failure-domain.beta.kubernetes.io/zone": node.zone,
        "kubernetes.io/arch": "amd64",
        HOSTNAME_LABEL: node.name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": it.name,
        "topology.kubernetes.io/region": _REGION,
        ZONE_LABEL: node.zone,
        RACK_LABEL: node.rack,
    }
    allocatable: Json = {
        "cpu": _cpu(it.cpu_millis),
        "ephemeral-storage": str(it.ephemeral_bytes),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{it.memory_bytes // _KI}Ki",
        "pods": str(it.pods),
    }
    capacity: Json = {
        "cpu": str(-(-it.cpu_millis // 1000)),
        "ephemeral-storage": f"{(it.ephemeral_bytes * 11 // 10) // _KI}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{(it.memory_bytes * 21 // 20) // _KI}Ki",
        "pods": str(it.pods),
    }
    if it.gpus:
        labels["nvidia.com/gpu.product"] = it.gpu_product
        labels["nvidia.com/gpu.count"] = str(it.gpus)
        for res in (allocatable, capacity):
            res[GPU] = str(it.gpus)
            res[RDMA] = str(it.rdma)
    spec: Json = {
        "podCIDR": f"10.{index // 65536 % 256}.{index // 256 % 256}.0/24",
        "podCIDRs": [f"10.{index // 65536 % 256}.{index // 256 % 256}.0/24"],
        "providerID": f"aws:///{node.zone}/i-{rng.getrandbits(60):015x}",
    }
    if node.taints:
        spec["taints"] = [
            {"key": t.key, "effect": t.effect, **({"value": t.value} if t.value else {})}
            for t in node.taints
        ]
    if node.unschedulable:
        spec["unschedulable"] = True
    ip = f"10.{64 + index // 65536 % 64}.{index // 256 % 256}.{index % 256}"
    heartbeat = _timestamp(86_400)
    conditions = [
        {
            "type": kind,
            "status": "False",
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": _timestamp(60),
            "reason": f"KubeletHasNo{kind}" if kind != "PIDPressure" else "KubeletHasSufficientPID",
            "message": f"kubelet has no {kind.lower()}",
        }
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True",
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": _timestamp(90),
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }
    )
    images = [_image_entry(name, rng) for name in rng.sample(_IMAGES, 10)]
    images.extend(_image_entry(name, rng) for name in _SYSTEM_IMAGES[: 5 if it.gpus else 4])
    if it.gpus:
        images.append(_image_entry(_TRAINER_IMAGE, rng))
    return {
        "metadata": {
            "name": node.name,
            "uid": _uid(rng),
            "resourceVersion": str(1000 + index),
            "creationTimestamp": _timestamp(index % 3600),
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "managedFields": _NODE_MANAGED_FIELDS,
        },
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": node.name},
                {"type": "InternalDNS", "address": f"ip-{ip.replace('.', '-')}.ec2.internal"},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": f"{rng.getrandbits(128):032x}",
                "systemUUID": _uid(rng),
                "bootID": _uid(rng),
                "kernelVersion": "6.1.112-124.190.amzn2023.x86_64",
                "osImage": "Amazon Linux 2023.6.20241031",
                "containerRuntimeVersion": "containerd://1.7.22",
                "kubeletVersion": "v1.31.2-eks-94953ac",
                "kubeProxyVersion": "v1.31.2-eks-94953ac",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": images,
        },
    }


# ---------------------------------------------------------------------------------------------
# Bound pods


@dataclass(frozen=True, slots=True)
class _PodSpec:
    """The varying parts of a generated pod."""

    namespace: str
    app: str
    image: str
    cpu_millis: int
    memory_mi: int
    gpus: int = 0
    rdma: int = 0
    tolerations: tuple[Json, ...] = ()
    host_port: int = 0
    anti_affinity: bool = False
    owner_kind: str = "ReplicaSet"


# (cpu millicores, memory MiB) of service pods, with weights: mostly small, a few large.
_APP_SIZES: Final = ((100, 128), (250, 256), (250, 512), (500, 512), (500, 1024), (1000, 2048))
_APP_SIZE_WEIGHTS: Final = (20, 25, 20, 15, 12, 8)
_DAEMONS: Final = (
    _PodSpec("kube-system", "kube-proxy", _SYSTEM_IMAGES[0], 100, 128, owner_kind="DaemonSet"),
    _PodSpec(
        "monitoring",
        "node-exporter",
        _SYSTEM_IMAGES[1],
        50,
        64,
        host_port=9100,
        owner_kind="DaemonSet",
    ),
    _PodSpec("logging", "fluent-bit", _SYSTEM_IMAGES[2], 100, 200, owner_kind="DaemonSet"),
    _PodSpec("kube-system", "aws-node", _SYSTEM_IMAGES[3], 25, 64, owner_kind="DaemonSet"),
)
_GPU_DAEMON: Final = _PodSpec(
    "kube-system", "nvidia-device-plugin", _SYSTEM_IMAGES[4], 50, 64, owner_kind="DaemonSet"
)


def bound_pods(cluster: Cluster) -> Iterator[Json]:
    """``pods_per_node`` pods bound to each node, as list items.

    Daemon pods on every node; GPU training pods filling part of each GPU node; service pods
    elsewhere: most from a large pool of apps, some of zone-local apps (targets of preferred
    affinity), some of apps with required anti-affinity on the hostname. About 2% are finished
    (Succeeded), which use no resources but are still cached."""
    rng = _rng(cluster.shape.seed, "pods")
    rv = 100_000
    for node in cluster.nodes:
        for spec in _node_pods(node, cluster, rng):
            rv += 1
            terminal = spec.owner_kind == "ReplicaSet" and rng.random() < 0.02
            yield _pod_object(spec, rng, node=node.name, rv=rv, terminal=terminal)


def _node_pods(node: NodeInfo, cluster: Cluster, rng: random.Random) -> list[_PodSpec]:
    budget = cluster.shape.pods_per_node
    specs = list(_DAEMONS[: min(budget, len(_DAEMONS))])
    if node.gpu and len(specs) < budget:
        specs.append(_GPU_DAEMON)
    extra: tuple[Json, ...] = ()
    if node.gpu:
        extra = (_GPU_TOLERATION,)
        # Training jobs fill part of the node: some nodes idle, some full, most in between.
        remaining = rng.choice((0, 2, 4, 6, 8, 8))
        while remaining and len(specs) < budget:
            gpus = rng.choice([g for g in (1, 2, 4, 8) if g <= remaining])
            remaining -= gpus
            team = rng.randrange(_TEAMS)
            specs.append(
                _PodSpec(
                    f"ml-{team:02d}",
                    f"train-{team:02d}-{rng.randrange(50)}",
                    _TRAINER_IMAGE,
                    10_000 * gpus,
                    96 * 1024 * gpus,
                    gpus=gpus,
                    rdma=node.itype.rdma * gpus // 8,
                    tolerations=extra,
                    owner_kind="Job",
                )
            )
    elif any(t.key == DEDICATED_TAINT_KEY for t in node.taints):
        extra = (_DEDICATED_TOLERATION,)
    ha_apps = rng.sample(range(_HA_APPS), 2)
    # Bound pods never overcommit the node (kubelet would reject them): a size that no longer
    # fits falls back to the smallest.
    free_cpu = node.itype.cpu_millis - sum(s.cpu_millis for s in specs)
    free_memory = node.itype.memory_bytes // _MI - sum(s.memory_mi for s in specs)
    while len(specs) < budget:
        cpu, memory = rng.choices(_APP_SIZES, _APP_SIZE_WEIGHTS)[0]
        left = budget - len(specs) - 1
        if (
            cpu + left * _APP_SIZES[0][0] > free_cpu
            or memory + left * _APP_SIZES[0][1] > free_memory
        ):
            cpu, memory = _APP_SIZES[0]
        free_cpu -= cpu
        free_memory -= memory
        image = rng.choice(_IMAGES)
        roll = rng.random()
        if roll < 0.1 and node.general:
            k = rng.randrange(_ZONE_APPS_PER_ZONE)
            zapp = cluster.zone_apps[cluster.zones.index(node.zone) * _ZONE_APPS_PER_ZONE + k]
            specs.append(_PodSpec(zapp.namespace, zapp.app, image, cpu, memory, tolerations=extra))
        elif roll < 0.14 and ha_apps:
            # Distinct per node, as their own required anti-affinity demands.
            k = ha_apps.pop()
            specs.append(
                _PodSpec(
                    f"team-{k % _TEAMS:02d}",
                    f"ha-{k}",
                    image,
                    cpu,
                    memory,
                    tolerations=extra,
                    anti_affinity=True,
                )
            )
        else:
            k = rng.randrange(_SERVICE_APPS)
            specs.append(
                _PodSpec(
                    f"team-{k % _TEAMS:02d}", f"svc-{k}", image, cpu, memory, tolerations=extra
                )
            )
    return specs


def _resources(spec: _PodSpec) -> Json:
    requests: Json = {"cpu": _cpu(spec.cpu_millis), "memory": _memory_mi(spec.memory_mi)}
    limits: Json = {"cpu": _cpu(spec.cpu_millis * 2), "memory": _memory_mi(spec.memory_mi)}
    if spec.gpus:
        for res in (requests, limits):
            res[GPU] = str(spec.gpus)
            if spec.rdma:
                res[RDMA] = str(spec.rdma)
    return {"requests": requests, "limits": limits}


def _anti_affinity_on_host(app: str) -> Json:
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": HOSTNAME_LABEL}
            ]
        }
    }


def _pod_object(
    spec: _PodSpec,
    rng: random.Random,
    *,
    node: str | None,
    rv: int,
    terminal: bool = False,
    uid: str | None = None,
    name: str | None = None,
    scheduler: str = "default-scheduler",
    extra_spec: Json | None = None,
    extra_labels: Json | None = None,
    created: int | None = None,
) -> Json:
    pod_hash = _template_hash(spec.app)
    if name is None:
        if spec.owner_kind == "DaemonSet":
            name = f"{spec.app}-{_suffix(rng, 5)}"
        else:
            name = f"{spec.app}-{pod_hash}-{_suffix(rng, 5)}"
    uid = uid or _uid(rng)
    created = rv % 86_400 if created is None else created
    container: Json = {
        "name": "main",
        "image": spec.image,
        "resources": _resources(spec),
        "volumeMounts": [
            {
                "name": "kube-api-access",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            }
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    if spec.host_port:
        container["ports"] = [
            {"containerPort": spec.host_port, "hostPort": spec.host_port, "protocol": "TCP"}
        ]
    tolerations = list(spec.tolerations)
    tolerations.extend(_TOLERATE_ALL if spec.owner_kind == "DaemonSet" else _DEFAULT_TOLERATIONS)
    pod_spec: Json = {
        "volumes": [
            {
                "name": "kube-api-access",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt"}]}},
                    ],
                    "defaultMode": 420,
                },
            }
        ],
        "containers": [container],
        "restartPolicy": "Never" if spec.owner_kind == "Job" else "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "securityContext": {},
        "schedulerName": scheduler,
        "tolerations": tolerations,
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    if spec.host_port:
        pod_spec["hostNetwork"] = True
    if spec.anti_affinity:
        pod_spec["affinity"] = _anti_affinity_on_host(spec.app)
    if extra_spec:
        pod_spec.update(extra_spec)
    labels: Json = {"app": spec.app}
    if spec.owner_kind == "ReplicaSet":
        labels["pod-template-hash"] = pod_hash
    if extra_labels:
        labels.update(extra_labels)
    owner_name = spec.app if spec.owner_kind != "ReplicaSet" else f"{spec.app}-{pod_hash}"
    started = _timestamp(created)
    status: Json
    qos = "Burstable"
    if node is None:
        status = {"phase": "Pending", "qosClass": qos}
    else:
        pod_spec["nodeName"] = node
        phase = "Succeeded" if terminal else "Running"
        status = {
            "phase": phase,
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": started}
                for kind in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")
            ],
            "hostIP": "10.64.0.1",
            "podIP": f"100.{rv // 65536 % 256}.{rv // 256 % 256}.{rv % 256}",
            "startTime": started,
            "containerStatuses": [
                {
                    "name": "main",
                    "state": {"running": {"startedAt": started}},
                    "ready": True,
                    "restartCount": 0,
                    "image": spec.image,
                    "imageID": f"{spec.image.rsplit(':', 1)[0]}@sha256:{pod_hash * 8}",
                    "containerID": f"containerd://{uid.replace('-', '')}{pod_hash * 4}",
                    "started": True,
                }
            ],
            "qosClass": qos,
        }
    return {
        "metadata": {
            "name": name,
            "generateName": name[: name.rfind("-") + 1],
            "namespace": spec.namespace,
            "uid": uid,
            "resourceVersion": str(rv),
            "creationTimestamp": _timestamp(created),
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1" if spec.owner_kind == "Job" else "apps/v1",
                    "kind": spec.owner_kind,
                    "name": owner_name,
                    "uid": _owner_uid(owner_name),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": _POD_MANAGED_FIELDS,
        },
        "spec": pod_spec,
        "status": status,
    }


# ---------------------------------------------------------------------------------------------
# Pending podium pods


# GPU job sizes and their weights: many small jobs, some whole-node jobs.
_GPU_SIZES: Final = (1, 2, 4, 8)
_GPU_SIZE_WEIGHTS: Final = (40, 25, 20, 15)
_ANTI_AFFINITY_REPLICAS: Final = 4
_SPREAD_REPLICAS: Final = 24


def pending_records(cluster: Cluster, workload: str, count: int) -> list[PendingRecord]:
    """``count`` pending pods of ``workload`` (one of ``WORKLOADS``), in creation order."""
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; expected one of {', '.join(WORKLOADS)}")
    # The quota workload is plain's very pods: the gap between the two is the accounting.
    rng = _rng(cluster.shape.seed, f"pending:{'plain' if is_quota(workload) else workload}")
    out: list[PendingRecord] = []
    # A plain app's 50 pods are replicas of one template (one size, one team), as a
    # Deployment's or a Job's are.
    templates: dict[str, tuple[int, int, str]] = {}
    for i in range(count):
        cpu, memory = rng.choices(_APP_SIZES, _APP_SIZE_WEIGHTS)[0]
        team = f"team-{rng.randrange(_TEAMS):02d}"
        gpus = rdma = 0
        target_app = target_zone = ""
        if workload == "plain" or is_quota(workload):
            app = f"batch-{i // 50}"
            cpu, memory, team = templates.setdefault(app, (cpu, memory, team))
        elif on_gpu_cluster(workload):
            # DRA claims, or the same counts as extended resources (dra_workloads).
            gpus = gpus_of(workload)
            rdma = 0 if is_dra(workload) else nics_for(gpus)
            cpu, memory = 8_000 * gpus, 64 * 1024 * gpus
            team = f"ml-{rng.randrange(_TEAMS):02d}"
            app = f"job-{i}"
        elif workload == "gpu":
            gpus = rng.choices(_GPU_SIZES, _GPU_SIZE_WEIGHTS)[0]
            # Whole-node jobs take one RDMA NIC per GPU pair; smaller jobs none.
            rdma = 4 if gpus == 8 else 0
            cpu, memory = 8_000 * gpus, 64 * 1024 * gpus
            team = f"ml-{rng.randrange(_TEAMS):02d}"
            app = f"job-{i}"
        elif workload == "anti_affinity":
            # Many small apps: each app's replicas must land on distinct hosts.
            app = f"aa-{i // _ANTI_AFFINITY_REPLICAS}"
            team = f"team-{(i // _ANTI_AFFINITY_REPLICAS) % _TEAMS:02d}"
        elif workload == "spread":
            app = f"sp-{i // _SPREAD_REPLICAS}"
            team = f"team-{(i // _SPREAD_REPLICAS) % _TEAMS:02d}"
        else:
            target = rng.choice(cluster.zone_apps)
            team, target_app, target_zone = target.namespace, target.app, target.zone
            app = f"client-{target.app}"
        out.append(
            PendingRecord(
                uid=_uid(rng),
                namespace=team,
                name=f"{workload.replace('_', '-')}-{i:06d}",
                workload=workload,
                app=app,
                cpu_millis=cpu,
                memory_mi=memory,
                gpus=gpus,
                rdma=rdma,
                target_app=target_app,
                target_zone=target_zone,
            )
        )
    return out


def pending_object(record: PendingRecord, rv: int) -> Json:
    """Render a pending pod (``schedulerName: podium``); a pure function of the record."""
    tolerations: tuple[Json, ...] = (_GPU_TOLERATION,) if record.gpus else ()
    dra = is_dra(record.workload)
    spec = _PodSpec(
        record.namespace,
        record.app,
        _TRAINER_IMAGE if record.gpus else _IMAGES[zlib.crc32(record.app.encode()) % len(_IMAGES)],
        record.cpu_millis,
        record.memory_mi,
        # A DRA pod's GPUs come with its claim, not as an extended resource.
        gpus=0 if dra else record.gpus,
        rdma=record.rdma,
        tolerations=tolerations,
        owner_kind="Job" if record.gpus else "ReplicaSet",
    )
    extra: Json = {}
    if dra:
        extra["resourceClaims"] = pod_claims(record.name)
    if record.workload == "anti_affinity":
        extra["affinity"] = _anti_affinity_on_host(record.app)
    elif record.workload == "spread":
        extra["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": record.app}},
            }
        ]
    elif record.workload == "preferred_affinity":
        extra["affinity"] = {
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": record.target_app}},
                            "topologyKey": ZONE_LABEL,
                        },
                    }
                ]
            }
        }
    # The rng only fills fields the record fixes already (name, uid): seed it from the uid.
    rng = random.Random(record.uid)
    return _pod_object(
        spec,
        rng,
        node=None,
        rv=rv,
        uid=record.uid,
        name=record.name,
        scheduler=SCHEDULER_NAME,
        extra_spec=extra,
        created=86_400 + rv % 3600,
    )


# ---------------------------------------------------------------------------------------------
# Wire format: list pages and watch lines


def list_pages(
    kind: str, items: Iterable[Json], *, page_size: int = 500, resource_version: str = "1"
) -> Iterator[bytes]:
    """``items`` as the apiserver's paginated list responses (``limit``/``continue``).

    ``kind`` is the item kind (``Node``); pages are ``{kind}List``. Every page but the last carries
    a ``continue`` token and ``remainingItemCount`` is omitted, as for a list whose total the
    server does not know up front. An empty list is one page with no items."""
    if page_size < 1:
        raise ValueError("page_size must be positive")
    iterator = iter(items)
    page = _take(iterator, page_size)
    while True:
        following = _take(iterator, page_size)
        metadata: Json = {"resourceVersion": resource_version}
        if following:
            metadata["continue"] = _continue_token(page[-1], resource_version)
        yield orjson.dumps(
            {"kind": f"{kind}List", "apiVersion": "v1", "metadata": metadata, "items": page}
        )
        if not following:
            return
        page = following


def _take(iterator: Iterator[Json], n: int) -> list[Json]:
    out: list[Json] = []
    for item in iterator:
        out.append(item)
        if len(out) == n:
            break
    return out


def _continue_token(last: Json, resource_version: str) -> str:
    # The apiserver's token: base64 of the etcd key to resume after, at the list's revision.
    meta = last["metadata"]
    key = f"/{meta['namespace']}/{meta['name']}" if "namespace" in meta else f"/{meta['name']}"
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": int(resource_version), "start": key + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def watch_lines(kind: str, items: Iterable[Json], event: str = "ADDED") -> Iterator[bytes]:
    """``items`` as watch event lines; watch objects carry their kind and apiVersion."""
    for item in items:
        yield orjson.dumps({"type": event, "object": {"kind": kind, "apiVersion": "v1", **item}})
