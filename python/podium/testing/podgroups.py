"""PodGroup builders for tests, the demo and benchmarks: scheduler-plugins'
(``scheduling.x-k8s.io/v1alpha1``, pods join with a label) and the Workload API's
(``scheduling.k8s.io/v1beta1``, pods join with ``make_pod(pod_group=...)``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from podium.gang import POD_GROUP_LABEL
from podium.rawapi import request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

__all__ = [
    "POD_GROUP_LABEL",
    "WORKLOAD_API_VERSION",
    "PodGroupSpecError",
    "create_pod_group",
    "create_workload_pod_group",
    "get_pod_group",
    "get_workload_pod_group",
    "make_pod_group",
    "make_workload_pod_group",
    "pod_groups_path",
]

API_VERSION = "scheduling.x-k8s.io/v1alpha1"
WORKLOAD_API_VERSION = "scheduling.k8s.io/v1beta1"
RACK_ANNOTATION = "podium.dev/rack"
DISTINCT_HOSTS_ANNOTATION = "podium.dev/distinct-hosts"
JOB_ANNOTATION = "podium.dev/job"
TOPOLOGY_LEVEL_ANNOTATION = "podium.dev/topology-level"
TOPOLOGY_MODE_ANNOTATION = "podium.dev/topology-mode"
SLICE_SIZE_ANNOTATION = "podium.dev/slice-size"
SLICE_LEVEL_ANNOTATION = "podium.dev/slice-level"


class PodGroupSpecError(ValueError):
    """A PodGroup builder argument is invalid; the message names the group and the field."""


def pod_groups_path(namespace: str, api_version: str = API_VERSION) -> str:
    return f"/apis/{api_version}/namespaces/{namespace}/podgroups"


def make_pod_group(
    name: str,
    namespace: str = "default",
    *,
    min_member: int,
    rack: str | None = None,
    distinct_hosts: bool = False,
    job: str | None = None,
    schedule_timeout_seconds: int | None = None,
    min_resources: Mapping[str, str | int] | None = None,
    topology_level: str | None = None,
    topology_mode: str | None = None,
    slice_size: int | None = None,
    slice_level: str | None = None,
) -> dict[str, Any]:
    """A PodGroup; ``rack`` (``required``/``preferred``), ``distinct_hosts``, ``job`` and the
    topology request (``topology_level``, ``topology_mode``, ``slice_size``, ``slice_level``)
    set podium's annotations."""
    if min_member < 1:
        raise PodGroupSpecError(f"PodGroup {namespace}/{name}: min_member must be >= 1")
    annotations: dict[str, str] = {}
    if rack is not None:
        annotations[RACK_ANNOTATION] = rack
    if distinct_hosts:
        annotations[DISTINCT_HOSTS_ANNOTATION] = "true"
    if job is not None:
        annotations[JOB_ANNOTATION] = job
    for key, value in (
        (TOPOLOGY_LEVEL_ANNOTATION, topology_level),
        (TOPOLOGY_MODE_ANNOTATION, topology_mode),
        (SLICE_SIZE_ANNOTATION, None if slice_size is None else str(slice_size)),
        (SLICE_LEVEL_ANNOTATION, slice_level),
    ):
        if value is not None:
            annotations[key] = value
    spec: dict[str, Any] = {"minMember": min_member}
    if schedule_timeout_seconds is not None:
        spec["scheduleTimeoutSeconds"] = schedule_timeout_seconds
    if min_resources:
        spec["minResources"] = {k: str(v) for k, v in min_resources.items()}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": "PodGroup", "metadata": metadata, "spec": spec}


async def create_pod_group(api: ApiClient, group: Mapping[str, Any]) -> dict[str, Any]:
    namespace = group["metadata"]["namespace"]
    body = await request_bytes(api, "POST", pod_groups_path(namespace), body=dict(group))
    created: dict[str, Any] = orjson.loads(body)
    return created


async def get_pod_group(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    body = await request_bytes(api, "GET", f"{pod_groups_path(namespace)}/{name}")
    stored: dict[str, Any] = orjson.loads(body)
    return stored


def make_workload_pod_group(
    name: str,
    namespace: str = "default",
    *,
    min_count: int | None,
    topology_key: str | None = None,
    priority_class_name: str | None = None,
    preemption_policy: str | None = None,
    disruption_mode: str | None = None,
    workload: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A Workload API PodGroup: a gang of ``min_count`` (``None``: the ``basic`` policy), all
    in one domain of ``topology_key`` if given; ``workload``: (workloadName, templateName)."""
    if min_count is not None and min_count < 1:
        raise PodGroupSpecError(f"PodGroup {namespace}/{name}: min_count must be >= 1")
    policy: dict[str, Any] = (
        {"basic": {}} if min_count is None else {"gang": {"minCount": min_count}}
    )
    spec: dict[str, Any] = {"schedulingPolicy": policy}
    if topology_key is not None:
        spec["schedulingConstraints"] = {"topology": [{"key": topology_key}]}
    if priority_class_name is not None:
        spec["priorityClassName"] = priority_class_name
    if preemption_policy is not None:
        spec["preemptionPolicy"] = preemption_policy
    if disruption_mode is not None:
        if disruption_mode not in ("Single", "All"):
            raise PodGroupSpecError(
                f"PodGroup {namespace}/{name}: disruption_mode must be Single or All"
            )
        spec["disruptionMode"] = {disruption_mode.lower(): {}}
    if workload is not None:
        spec["workloadRef"] = {"workloadName": workload[0], "templateName": workload[1]}
    return {
        "apiVersion": WORKLOAD_API_VERSION,
        "kind": "PodGroup",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def create_workload_pod_group(api: ApiClient, group: Mapping[str, Any]) -> dict[str, Any]:
    namespace = group["metadata"]["namespace"]
    path = pod_groups_path(namespace, WORKLOAD_API_VERSION)
    body = await request_bytes(api, "POST", path, body=dict(group))
    created: dict[str, Any] = orjson.loads(body)
    return created


async def get_workload_pod_group(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    path = f"{pod_groups_path(namespace, WORKLOAD_API_VERSION)}/{name}"
    stored: dict[str, Any] = orjson.loads(await request_bytes(api, "GET", path))
    return stored
