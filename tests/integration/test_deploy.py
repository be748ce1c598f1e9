"""deploy/ against the real apiserver (RBAC on): every object is admitted, and podium's roles
grant nothing kube-scheduler's own roles do not, beyond the CRDs and PriorityClasses it reads."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import orjson
import pytest
import pytest_asyncio
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.manifests import (
    Discovery,
    apply,
    deploy_dir,
    isolate,
    kustomization_paths,
    load_documents,
)

# Read by podium, not by kube-scheduler: the CRDs it schedules with, and PriorityClasses.
EXTRA_READS = {
    ("topology.node.k8s.io", "noderesourcetopologies"),
    ("scheduling.x-k8s.io", "podgroups"),
    ("scheduling.x-k8s.io", "elasticquotas"),
    ("scheduling.k8s.io", "priorityclasses"),
}
EXTRA_WRITES = {("scheduling.x-k8s.io", "podgroups/status")}
READ_VERBS = {"get", "list", "watch"}


def _every_manifest() -> list[dict[str, Any]]:
    paths = [*kustomization_paths(deploy_dir()), deploy_dir() / "jaeger.yaml"]
    return load_documents(paths)


async def _delete(api: ApiClient, path: str) -> None:
    with contextlib.suppress(ApiStatusError):
        await request_bytes(api, "DELETE", path)


@pytest_asyncio.fixture
async def isolated(api: ApiClient, crds: list[str]) -> AsyncIterator[list[dict[str, Any]]]:
    """Every manifest under private names, with its namespaces created for real (objects in a
    namespace are admitted only once it exists); the namespaces are deleted after."""
    objects = isolate(_every_manifest(), uuid.uuid4().hex[:8])
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    discovery = Discovery(api)
    for namespace in namespaces:
        await apply(api, discovery, namespace)
    yield objects
    for namespace in namespaces:
        await _delete(api, f"/api/v1/namespaces/{namespace['metadata']['name']}")


async def test_every_manifest_applies_with_server_side_dry_run(
    api: ApiClient, isolated: list[dict[str, Any]]
) -> None:
    discovery = Discovery(api)
    kinds = set()
    for obj in isolated:
        answer = await apply(api, discovery, obj, dry_run=True)
        assert answer["kind"] == obj["kind"]
        assert answer["metadata"]["name"] == obj["metadata"]["name"]
        kinds.add(obj["kind"])
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "CustomResourceDefinition",
        "Service",
    } <= kinds
    # A dry run stores nothing.
    deployment = next(o for o in isolated if o["kind"] == "Deployment")["metadata"]
    with pytest.raises(ApiStatusError) as missing:
        await request_bytes(
            api,
            "GET",
            f"/apis/apps/v1/namespaces/{deployment['namespace']}/deployments/{deployment['name']}",
        )
    assert missing.value.status == 404


async def test_an_invalid_manifest_is_refused_by_the_dry_run(
    api: ApiClient, isolated: list[dict[str, Any]]
) -> None:
    """The dry run really validates: the same Deployment with a bad probe port is refused."""
    deployment = next(o for o in isolated if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"]["httpGet"]["port"] = "no-such-port-name-is-far-too-long"
    with pytest.raises(ApiStatusError) as refused:
        await apply(api, Discovery(api), deployment, dry_run=True)
    assert refused.value.status == 422


def _grants(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str, str]]:
    """(apiGroup, resource, verb, resourceName or "") for every combination a rule set grants."""
    out = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule["verbs"]:
                    for name in rule.get("resourceNames") or [""]:
                        out.add((group, resource, verb, name))
    return out


def _covered(grant: tuple[str, str, str, str], allowed: set[tuple[str, str, str, str]]) -> bool:
    group, resource, verb, name = grant
    return any(
        g in (group, "*") and r in (resource, "*") and v in (verb, "*") and n in (name, "")
        for g, r, v, n in allowed
    )


async def _cluster_role(api: ApiClient, name: str) -> list[dict[str, Any]]:
    path = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"
    rules: list[dict[str, Any]] = orjson.loads(await request_bytes(api, "GET", path))["rules"]
    return rules


async def test_roles_grant_no_more_than_kube_schedulers_own(api: ApiClient) -> None:
    kube = _grants(await _cluster_role(api, "system:kube-scheduler"))
    kube |= _grants(await _cluster_role(api, "system:volume-scheduler"))
    objects = load_documents(kustomization_paths(deploy_dir()))
    lease_name = "kube-scheduler"  # kube-scheduler may touch only its own Lease by name
    beyond = []
    for role in (o for o in objects if o["kind"] in {"ClusterRole", "Role"}):
        for grant in _grants(role["rules"]):
            group, resource, verb, name = grant
            if (group, resource) in EXTRA_READS and verb in READ_VERBS:
                continue
            if (group, resource) in EXTRA_WRITES:
                continue
            as_kube = (group, resource, verb, lease_name if resource == "leases" and name else name)
            if not _covered(as_kube, kube):
                beyond.append(grant)
    assert beyond == []
