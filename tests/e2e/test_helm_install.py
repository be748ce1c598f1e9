"""``helm install`` of deploy/helm/podium against the local apiserver, then ``podium run`` with the
chart's ServiceAccount token and configuration: it schedules, reports, and is refused everything
outside its role (``podium.testing.identity``, as for deploy/)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
import yaml
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.helm import helm, install, uninstall
from podium.testing.identity import Installation, check_schedules_as_its_identity
from podium.testing.serviceaccounts import service_account_token, token_kubeconfig

pytestmark = pytest.mark.timeout(300)


@pytest_asyncio.fixture
async def release(
    api: ApiClient, cluster: LocalCluster, crds: list[str], helm_binary: Path, tmp_path: Path
) -> AsyncIterator[Installation]:
    """The chart installed under a private release name, in a namespace of its own."""
    name = f"podium-{uuid.uuid4().hex[:8]}"
    namespace = f"{name}-system"
    try:
        install(helm_binary, cluster.kubeconfig, release=name, namespace=namespace)
        manifest = helm(
            helm_binary,
            "get",
            "manifest",
            name,
            f"--namespace={namespace}",
            kubeconfig=cluster.kubeconfig,
        )
        objects = [d for d in yaml.safe_load_all(manifest) if d]
        # What helm created, as the apiserver has it.
        account = next(o for o in objects if o["kind"] == "ServiceAccount")["metadata"]["name"]
        body = await request_bytes(
            api, "GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}"
        )
        assert orjson.loads(body)["metadata"]["labels"]["app.kubernetes.io/instance"] == name
        token = await service_account_token(api, namespace, account)
        kubeconfig = token_kubeconfig(cluster.kubeconfig, token, tmp_path / "podium.kubeconfig")
        yield Installation(namespace, objects, kubeconfig)
    finally:
        with contextlib.suppress(Exception):
            uninstall(helm_binary, cluster.kubeconfig, release=name, namespace=namespace)
        with contextlib.suppress(ApiStatusError):
            await request_bytes(api, "DELETE", f"/api/v1/namespaces/{namespace}")


async def test_podium_schedules_as_the_charts_service_account_and_nothing_more(
    api: ApiClient,
    release: Installation,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    await check_schedules_as_its_identity(api, release, namespace, node_labels, tmp_path)
