"""Dynamic Resource Allocation objects for tests: what a GPU driver and an RDMA NIC driver
publish as ResourceSlices (8 GPUs and 4 NICs a node, two GPUs and one NIC behind each PCIe root),
their DeviceClasses, and ResourceClaims. No kubelet or driver runs here, so tests publish the
slices themselves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubernetes_asyncio.client import ApiClient

from podium.rawapi import ApiStatusError, request_bytes

RESOURCE_API = "/apis/resource.k8s.io/v1"
DEVICE_CLASSES_PATH = f"{RESOURCE_API}/deviceclasses"
RESOURCE_SLICES_PATH = f"{RESOURCE_API}/resourceslices"
PCIE_ROOT = "resource.kubernetes.io/pcieRoot"
_NOT_FOUND = 404


def gpu_slice(
    name: str, node: str, driver: str, *, gpus: int = 8, roots: int = 4, memory: str = "80Gi"
) -> dict[str, Any]:
    """GPUs ``gpu-0..`` of ``driver`` on ``node`` (pool ``node``), spread evenly over PCIe roots
    ``pci-0..``, with a product name, an index and their memory."""
    per_root = max(1, -(-gpus // max(roots, 1)))
    devices = [
        {
            "name": f"gpu-{i}",
            "attributes": {
                "productName": {"string": "H100"},
                "index": {"int": i},
                "driverVersion": {"version": "1.2.3"},
                PCIE_ROOT: {"string": f"pci-{i // per_root}"},
            },
            "capacity": {"memory": {"value": memory}},
        }
        for i in range(gpus)
    ]
    return _slice(name, node, driver, devices)


def nic_slice(name: str, node: str, driver: str, *, nics: int = 4) -> dict[str, Any]:
    """RDMA NICs ``nic-0..`` of ``driver`` on ``node``, one behind each PCIe root ``pci-j``."""
    devices = [
        {
            "name": f"nic-{j}",
            "attributes": {"rdma": {"bool": True}, PCIE_ROOT: {"string": f"pci-{j}"}},
            "capacity": {"bandwidth": {"value": "400G"}},
        }
        for j in range(nics)
    ]
    return _slice(name, node, driver, devices)


def _slice(name: str, node: str, driver: str, devices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": name},
        "spec": {
            "driver": driver,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "nodeName": node,
            "devices": devices,
        },
    }


def device_class(
    name: str, driver: str, *, extended_resource_name: str | None = None
) -> dict[str, Any]:
    """A class of every device of ``driver``; with ``extended_resource_name``, pods asking that
    extended resource are served by its devices where no device plugin offers it."""
    spec: dict[str, Any] = {"selectors": [{"cel": {"expression": f"device.driver == {driver!r}"}}]}
    if extended_resource_name is not None:
        spec["extendedResourceName"] = extended_resource_name
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": spec,
    }


def exact_request(
    name: str, device_class_name: str, *, count: int = 1, selectors: Sequence[str] = ()
) -> dict[str, Any]:
    """A request for ``count`` devices of the class, each satisfying every CEL selector."""
    exactly: dict[str, Any] = {"deviceClassName": device_class_name, "count": count}
    if selectors:
        exactly["selectors"] = [{"cel": {"expression": s}} for s in selectors]
    return {"name": name, "exactly": exactly}


def resource_claim(
    name: str,
    namespace: str,
    requests: Sequence[Mapping[str, Any]],
    *,
    match_attributes: Sequence[str] = (),
) -> dict[str, Any]:
    """A claim for ``requests``, all of whose devices share each of ``match_attributes``."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "devices": {
                "requests": list(requests),
                "constraints": [{"matchAttribute": a} for a in match_attributes],
            }
        },
    }


def resource_claim_template(
    name: str,
    namespace: str,
    requests: Sequence[Mapping[str, Any]],
    *,
    match_attributes: Sequence[str] = (),
) -> dict[str, Any]:
    """A template from which kube-controller-manager creates one claim per pod."""
    claim = resource_claim(name, namespace, requests, match_attributes=match_attributes)
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"spec": claim["spec"]},
    }


def with_claim_templates(pod: dict[str, Any], templates: Mapping[str, str]) -> dict[str, Any]:
    """``pod`` asking for a claim from each template (``{pod claim name: template name}``)."""
    pod["spec"]["resourceClaims"] = [
        {"name": k, "resourceClaimTemplateName": v} for k, v in templates.items()
    ]
    for container in pod["spec"]["containers"]:
        container.setdefault("resources", {})["claims"] = [{"name": k} for k in templates]
    return pod


def with_claims(pod: dict[str, Any], claims: Mapping[str, str]) -> dict[str, Any]:
    """``pod`` asking for the named claims (``{pod claim name: ResourceClaim name}``), its
    container using them all."""
    pod["spec"]["resourceClaims"] = [{"name": k, "resourceClaimName": v} for k, v in claims.items()]
    for container in pod["spec"]["containers"]:
        container.setdefault("resources", {})["claims"] = [{"name": k} for k in claims]
    return pod


async def create(api: ApiClient, objects: Iterable[Mapping[str, Any]]) -> None:
    """Creates DeviceClasses, ResourceSlices, ResourceClaims and ResourceClaimTemplates."""
    for obj in objects:
        kind = obj["kind"]
        if kind == "DeviceClass":
            path = DEVICE_CLASSES_PATH
        elif kind == "ResourceSlice":
            path = RESOURCE_SLICES_PATH
        elif kind == "ResourceClaimTemplate":
            namespace = obj["metadata"]["namespace"]
            path = f"{RESOURCE_API}/namespaces/{namespace}/resourceclaimtemplates"
        else:
            path = f"{RESOURCE_API}/namespaces/{obj['metadata']['namespace']}/resourceclaims"
        await request_bytes(api, "POST", path, body=dict(obj))


async def delete_cluster_objects(
    api: ApiClient, classes: Iterable[str] = (), slices: Iterable[str] = ()
) -> None:
    """Deletes the named DeviceClasses and ResourceSlices (claims go with their namespace)."""
    paths = [f"{DEVICE_CLASSES_PATH}/{c}" for c in classes]
    paths += [f"{RESOURCE_SLICES_PATH}/{s}" for s in slices]
    for path in paths:
        try:
            await request_bytes(api, "DELETE", path)
        except ApiStatusError as err:
            if err.status != _NOT_FOUND:
                raise
