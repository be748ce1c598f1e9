"""``podium run`` with the identity deploy/ gives it: the ServiceAccount's token, not admin's.

deploy/'s Namespace, ServiceAccount and RBAC are installed for real (under private names: the
cluster is shared), a token is minted with the TokenRequest API, and podium runs as a process
with a kubeconfig holding only that token (``podium.testing.identity``, shared with the Helm
chart's test).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.identity import Installation, check_schedules_as_its_identity
from podium.testing.manifests import (
    Discovery,
    apply,
    deploy_dir,
    isolate,
    kustomization_paths,
    load_documents,
)
from podium.testing.serviceaccounts import service_account_token, token_kubeconfig

pytestmark = pytest.mark.timeout(300)

# What a real installation creates before the Deployment's pods start (the CRDs come from the
# session's `crds` fixture; the Deployment itself needs a kubelet to run).
INSTALLED_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
}


async def _delete(api: ApiClient, path: str) -> None:
    with contextlib.suppress(ApiStatusError):
        await request_bytes(api, "DELETE", path)


@pytest_asyncio.fixture
async def installation(
    api: ApiClient, cluster: LocalCluster, crds: list[str], tmp_path: Path
) -> AsyncIterator[Installation]:
    objects = isolate(
        load_documents(kustomization_paths(deploy_dir())), f"id{uuid.uuid4().hex[:8]}"
    )
    installed = [o for o in objects if o["kind"] in INSTALLED_KINDS]
    namespace = next(o for o in installed if o["kind"] == "Namespace")["metadata"]["name"]
    discovery = Discovery(api)
    try:
        for obj in installed:
            await apply(api, discovery, obj)
        token = await service_account_token(api, namespace, "podium")
        kubeconfig = token_kubeconfig(cluster.kubeconfig, token, tmp_path / "podium.kubeconfig")
        yield Installation(namespace, objects, kubeconfig)
    finally:
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        for obj in installed:
            if obj["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
                plural = obj["kind"].lower() + "s"
                await _delete(api, f"{rbac}/{plural}/{obj['metadata']['name']}")
        await _delete(api, f"/api/v1/namespaces/{namespace}")


async def test_podium_schedules_as_its_service_account_and_nothing_more(
    api: ApiClient,
    installation: Installation,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    await check_schedules_as_its_identity(api, installation, namespace, node_labels, tmp_path)
