"""PodGroup builders (``scheduling.x-k8s.io/v1alpha1``) for tests, the demo and benchmarks."""

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
    "PodGroupSpecError",
    "create_pod_group",
    "get_pod_group",
    "make_pod_group",
    "pod_groups_path",
]

API_VERSION = "scheduling.x-k8s.io/v1alpha1"
RACK_ANNOTATION = "podium.dev/rack"
DISTINCT_HOSTS_ANNOTATION = "podium.dev/distinct-hosts"
JOB_ANNOTATION = "podium.dev/job"


class PodGroupSpecError(ValueError):
    """A PodGroup builder argument is invalid; the message names the group and the field."""


def pod_groups_path(namespace: str) -> str:
    return f"/apis/{API_VERSION}/namespaces/{namespace}/podgroups"


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
) -> dict[str, Any]:
    """A PodGroup; ``rack`` (``required``/``preferred``), ``distinct_hosts`` and ``job`` set
    podium's annotations."""
    if min_member < 1:
        raise PodGroupSpecError(f"PodGroup {namespace}/{name}: min_member must be >= 1")
    annotations: dict[str, str] = {}
    if rack is not None:
        annotations[RACK_ANNOTATION] = rack
    if distinct_hosts:
        annotations[DISTINCT_HOSTS_ANNOTATION] = "true"
    if job is not None:
        annotations[JOB_ANNOTATION] = job
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
