"""DRA workloads of ``podium bench core`` (issue 17): GPU jobs asking for k GPUs and their RDMA
NICs through a ResourceClaim (``dra_<k>gpu``), next to the same jobs asking ``nvidia.com/gpu``
and ``rdma/hca`` as extended resources (``ext_<k>gpu``), on the same GPU-only cluster.

Each node is a p4d-like host: 8 GPUs and 4 RDMA NICs, two GPUs and one NIC behind each PCIe root
(``resource.kubernetes.io/pcieRoot``), as a GPU driver and an RDMA NIC driver publish them in
ResourceSlices (one pool per driver and node). A claim keeps each GPU pair with its NIC, as
GPUDirect RDMA wants: 1 or 2 GPUs and one NIC on one root; 4 and 8 GPUs as 2 and 4 pairs, each
pair's GPUs and NIC on one root (``matchAttribute`` per pair). Its extended-resource twin asks
the same counts (k GPUs, max(1, k/2) NICs) without alignment, which extended resources cannot
express.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

Json = dict[str, Any]

GPU_SIZES: Final = (1, 2, 4, 8)
DRA_WORKLOADS: Final = tuple(f"dra_{k}gpu" for k in GPU_SIZES)
EXT_WORKLOADS: Final = tuple(f"ext_{k}gpu" for k in GPU_SIZES)
GPU_DRIVER: Final = "gpu.nvidia.com"
NIC_DRIVER: Final = "rdma.mellanox.com"
GPU_CLASS: Final = "gpu.nvidia.com"
NIC_CLASS: Final = "rdma-nic.mellanox.com"
PCIE_ROOT: Final = "resource.kubernetes.io/pcieRoot"
GPUS_PER_NODE: Final = 8
NICS_PER_NODE: Final = 4
CLAIM_NAME: Final = "gpus"

_SIZE = re.compile(r"^(?:dra|ext)_(\d)gpu$")


def is_dra(workload: str) -> bool:
    return workload in DRA_WORKLOADS


def on_gpu_cluster(workload: str) -> bool:
    """Runs on the GPU-only cluster (DRA workloads and their extended-resource twins)."""
    return workload in DRA_WORKLOADS or workload in EXT_WORKLOADS


def gpus_of(workload: str) -> int:
    m = _SIZE.match(workload)
    if m is None:
        raise ValueError(f"not a DRA or extended-resource GPU workload: {workload!r}")
    return int(m.group(1))


def nics_for(gpus: int) -> int:
    """One NIC per GPU pair, at least one."""
    return max(1, gpus // 2)


def device_classes() -> list[Json]:
    return [
        _device_class(GPU_CLASS, f"device.driver == '{GPU_DRIVER}'"),
        _device_class(
            NIC_CLASS, f"device.driver == '{NIC_DRIVER}' && device.attributes['{NIC_DRIVER}'].rdma"
        ),
    ]


def _device_class(name: str, expression: str) -> Json:
    return {
        "metadata": {"name": name, "uid": f"class-{name}", "resourceVersion": "1"},
        "spec": {"selectors": [{"cel": {"expression": expression}}]},
    }


def node_slices(node_names: list[str]) -> Iterator[Json]:
    """Per node, the GPU driver's slice and the NIC driver's slice."""
    per_root = GPUS_PER_NODE // NICS_PER_NODE
    gpus = [
        {
            "name": f"gpu-{i}",
            "attributes": {
                "productName": {"string": "NVIDIA A100-SXM4-40GB"},
                "index": {"int": i},
                "driverVersion": {"version": "550.90.7"},
                PCIE_ROOT: {"string": f"pci0000:{i // per_root:02x}"},
            },
            "capacity": {"memory": {"value": "40Gi"}},
        }
        for i in range(GPUS_PER_NODE)
    ]
    nics = [
        {
            "name": f"nic-{j}",
            "attributes": {
                "rdma": {"bool": True},
                "linkType": {"string": "infiniband"},
                PCIE_ROOT: {"string": f"pci0000:{j:02x}"},
            },
            "capacity": {"bandwidth": {"value": "200G"}},
        }
        for j in range(NICS_PER_NODE)
    ]
    for node in node_names:
        yield _slice(f"{node}-gpu", node, GPU_DRIVER, gpus)
        yield _slice(f"{node}-nic", node, NIC_DRIVER, nics)


def republished_slices(node: str, generation: int) -> list[Json]:
    """The node's slices as its drivers publish them again (a restart): the same devices under
    a newer pool generation."""
    slices = list(node_slices([node]))
    for s in slices:
        s["spec"]["pool"]["generation"] = generation
        s["metadata"]["resourceVersion"] = str(generation)
    return slices


def _slice(name: str, node: str, driver: str, devices: list[Json]) -> Json:
    return {
        "metadata": {"name": name, "uid": f"slice-{name}", "resourceVersion": "1"},
        "spec": {
            "driver": driver,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "nodeName": node,
            "devices": devices,
        },
    }


def claim_requests(gpus: int) -> tuple[list[Json], list[Json]]:
    """(requests, constraints) of a claim for ``gpus`` GPUs, each pair with its NIC."""

    def gpu(name: str, count: int) -> Json:
        return {"name": name, "exactly": {"deviceClassName": GPU_CLASS, "count": count}}

    def nic(name: str) -> Json:
        return {"name": name, "exactly": {"deviceClassName": NIC_CLASS}}

    if gpus <= 2:
        requests = [gpu("gpu", gpus), nic("nic")]
        return requests, [{"requests": ["gpu", "nic"], "matchAttribute": PCIE_ROOT}]
    requests, constraints = [], []
    for p in range(gpus // 2):
        requests += [gpu(f"gpu-{p}", 2), nic(f"nic-{p}")]
        constraints.append({"requests": [f"gpu-{p}", f"nic-{p}"], "matchAttribute": PCIE_ROOT})
    return requests, constraints


def claim_name(pod_name: str) -> str:
    return f"{pod_name}-{CLAIM_NAME}"


def claim_object(namespace: str, pod_name: str, uid: str, gpus: int, rv: int) -> Json:
    """The pod's ResourceClaim, unallocated (as the claim controller creates it from a template)."""
    requests, constraints = claim_requests(gpus)
    return {
        "metadata": {
            "name": claim_name(pod_name),
            "namespace": namespace,
            "uid": f"claim-{uid}",
            "resourceVersion": str(rv),
        },
        "spec": {"devices": {"requests": requests, "constraints": constraints}},
        "status": {},
    }


def pod_claims(pod_name: str) -> list[Json]:
    """``spec.resourceClaims`` of a DRA pod."""
    return [{"name": CLAIM_NAME, "resourceClaimName": claim_name(pod_name)}]
