"""``podium run`` with the identity deploy/ gives it: the ServiceAccount's token, not admin's.

deploy/'s Namespace, ServiceAccount and RBAC are installed for real (under private names: the
cluster is shared), a token is minted with the TokenRequest API, and podium runs as a process
with a kubeconfig holding only that token. It must cache, lead, bind, write events and pod
conditions; and the same token must be refused secrets and every write outside its role.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
import yaml
from kubernetes_asyncio.client import ApiClient

from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.cluster import LocalCluster
from podium.testing.manifests import (
    Discovery,
    apply,
    deploy_dir,
    isolate,
    kustomization_paths,
    load_documents,
)
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.ports import free_ports
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
HTTP_FORBIDDEN = 403


@dataclass(frozen=True)
class Installation:
    namespace: str
    objects: list[dict[str, Any]]
    kubeconfig: Path  # the ServiceAccount's token, nothing else


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


def _config(installation: Installation, scheduler_name: str, path: Path) -> Path:
    """deploy/'s own configuration, electing in the private namespace under a private name."""
    config_map = next(o for o in installation.objects if o["kind"] == "ConfigMap")
    document = yaml.safe_load(config_map["data"]["config.yaml"])
    document["leaderElection"]["resourceNamespace"] = installation.namespace
    document["profiles"][0]["schedulerName"] = scheduler_name
    path.write_text(yaml.safe_dump(document))
    return path


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body: bytes = response.read()
            return body if response.status == 200 else None
    except OSError:
        return None


def _log(path: Path) -> str:
    return path.read_text()


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{_log(log)}"
        await asyncio.sleep(0.3)


async def _status(call: Awaitable[bytes]) -> int:
    try:
        await call
    except ApiStatusError as error:
        return error.status
    return 200


async def test_podium_schedules_as_its_service_account_and_nothing_more(
    api: ApiClient,
    installation: Installation,
    namespace: str,
    node_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    scheduler_name = f"podium-{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    listen = f"127.0.0.1:{port}"
    log = tmp_path / "podium.log"
    command = [
        sys.executable,
        "-m",
        "podium",
        "run",
        f"--config={_config(installation, scheduler_name, tmp_path / 'config.yaml')}",
        f"--kubeconfig={installation.kubeconfig}",
        f"--listen={listen}",
        "--log-format=json",
    ]
    nodes = [make_node(f"sa-{i}", cpu="4", memory="16Gi", labels=node_labels) for i in range(3)]
    await create_nodes(api, nodes)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        # Ready: every reflector listed and watches with this identity. Leading: the Lease in
        # its own namespace was created and renewed.
        async def leading() -> bool:
            assert process.returncode is None, log.read_text()
            metrics = await asyncio.to_thread(_get, f"http://{listen}/metrics")
            return bool(metrics and b"podium_is_leader 1.0" in metrics)

        await _eventually(leading, "podium ready and leading", log)

        selector = {next(iter(node_labels)): next(iter(node_labels.values()))}
        pods = [
            make_pod(
                f"fits-{i}",
                namespace,
                scheduler_name=scheduler_name,
                requests={"cpu": "1"},
                node_selector=selector,
            )
            for i in range(6)
        ]
        pods.append(
            make_pod(
                "too-big",
                namespace,
                scheduler_name=scheduler_name,
                requests={"cpu": "64"},
                node_selector=selector,
            )
        )
        for pod in pods:
            await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)

        async def listed() -> dict[str, Any]:
            body = await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods")
            return {p["metadata"]["name"]: p for p in orjson.loads(body)["items"]}

        async def bound_and_reported() -> bool:
            current = await listed()
            bound = sum(1 for p in current.values() if p["spec"].get("nodeName"))
            conditions = current["too-big"].get("status", {}).get("conditions") or []
            refused = any(
                c["type"] == "PodScheduled" and c["reason"] == "Unschedulable" for c in conditions
            )
            return bound == 6 and refused

        # Bound: pods/binding. The unschedulable pod's condition: pods/status.
        await _eventually(bound_and_reported, "6 pods bound and one reported unschedulable", log)

        async def events_written() -> bool:
            body = await request_bytes(
                api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
            )
            reasons = {e["reason"] for e in orjson.loads(body)["items"]}
            return {"Scheduled", "FailedScheduling"} <= reasons

        await _eventually(events_written, "Scheduled and FailedScheduling events", log)

        await _assert_refused_outside_its_role(installation, namespace, nodes[0]["metadata"])

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log.read_text()
        assert "forbidden" not in log.read_text().lower(), log.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _assert_refused_outside_its_role(
    installation: Installation, namespace: str, node: dict[str, Any]
) -> None:
    own = installation.namespace
    leases = "/apis/coordination.k8s.io/v1/namespaces"
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"}}
    deployment = next(o for o in installation.objects if o["kind"] == "Deployment")
    merge = "application/merge-patch+json"
    client = await api_client(installation.kubeconfig, qps=0.0, burst=16)
    async with client:
        attempts = {
            "read secrets in its namespace": request_bytes(
                client, "GET", f"/api/v1/namespaces/{own}/secrets"
            ),
            "read secrets cluster-wide": request_bytes(client, "GET", "/api/v1/secrets"),
            "create a deployment": request_bytes(
                client,
                "POST",
                f"/apis/apps/v1/namespaces/{namespace}/deployments",
                body={**deployment, "metadata": {"name": "x", "namespace": namespace}},
            ),
            "create a pod": request_bytes(
                client,
                "POST",
                f"/api/v1/namespaces/{namespace}/pods",
                body=make_pod("x", namespace),
            ),
            "delete a node": request_bytes(client, "DELETE", f"/api/v1/nodes/{node['name']}"),
            "patch a node": request_bytes(
                client,
                "PATCH",
                f"/api/v1/nodes/{node['name']}",
                body={"metadata": {"labels": {"x": "y"}}},
                content_type=merge,
            ),
            "patch its own config": request_bytes(
                client,
                "PATCH",
                f"/api/v1/namespaces/{own}/configmaps/podium-config",
                body={"data": {"x": "y"}},
                content_type=merge,
            ),
            "create a lease in another namespace": request_bytes(
                client, "POST", f"{leases}/{namespace}/leases", body=lease
            ),
            "read another lease in its namespace": request_bytes(
                client, "GET", f"{leases}/{own}/leases/kube-scheduler"
            ),
            "create a role in its namespace": request_bytes(
                client,
                "POST",
                f"/apis/rbac.authorization.k8s.io/v1/namespaces/{own}/roles",
                body={"metadata": {"name": "x"}, "rules": []},
            ),
        }
        statuses = {what: await _status(call) for what, call in attempts.items()}
    assert statuses == dict.fromkeys(attempts, HTTP_FORBIDDEN)
