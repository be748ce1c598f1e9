"""``podium run`` as an installation's ServiceAccount: its token, not admin's.

An installation (deploy/ applied by ``kubectl apply -k``, or the Helm chart installed) gives podium
a ServiceAccount, RBAC and a configuration. ``check_schedules_as_its_identity`` runs podium as a
process with a kubeconfig holding only that ServiceAccount's token (TokenRequest API): it must
cache, lead, bind, write events and pod conditions; and the same token must be refused secrets
and every write outside its role.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from podium.kubeclient import api_client
from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.nodes import create_nodes, make_node
from podium.testing.pods import make_pod
from podium.testing.ports import free_ports
from podium.testing.waiting import until

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

HTTP_FORBIDDEN = 403
_MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Installation:
    """What an installation put in the cluster, as podium's pods would see it."""

    namespace: str
    # Its objects as installed (rendered manifests).
    objects: Sequence[Mapping[str, Any]]
    kubeconfig: Path  # the ServiceAccount's token, nothing else

    def one(self, kind: str) -> Mapping[str, Any]:
        (found,) = (o for o in self.objects if o["kind"] == kind)
        return found


def scheduler_config(installation: Installation, scheduler_name: str, path: Path) -> Path:
    """The installation's own configuration, electing in its namespace (an isolated copy of
    deploy/ keeps the original name in the config), scheduling the pods of ``scheduler_name``
    (private: the cluster is shared)."""
    document = yaml.safe_load(installation.one("ConfigMap")["data"]["config.yaml"])
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


async def _status(call: Awaitable[bytes]) -> int:
    try:
        await call
    except ApiStatusError as error:
        return error.status
    return 200


async def check_schedules_as_its_identity(
    api: ApiClient,
    installation: Installation,
    namespace: str,
    node_labels: dict[str, str],
    work_dir: Path,
) -> None:
    """Runs podium with the installation's token and configuration: it leads, binds six pods in
    ``namespace``, reports the seventh unschedulable, writes events; its token is refused
    outside its role; it exits cleanly on SIGINT and never met a 403."""
    scheduler_name = f"podium-{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)
    listen = f"127.0.0.1:{port}"
    log = work_dir / "podium.log"
    config = scheduler_config(installation, scheduler_name, work_dir / "config.yaml")
    command = [
        sys.executable,
        "-m",
        "podium",
        "run",
        f"--config={config}",
        f"--kubeconfig={installation.kubeconfig}",
        f"--listen={listen}",
        "--log-format=json",
    ]
    tag = uuid.uuid4().hex[:6]
    nodes = [
        make_node(f"sa-{tag}-{i}", cpu="4", memory="16Gi", labels=node_labels) for i in range(3)
    ]
    await create_nodes(api, nodes)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=asyncio.subprocess.STDOUT
        )

    async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
        try:
            await until(check, what)
        except AssertionError as error:
            raise AssertionError(f"{error}:\n{log.read_text()}") from None

    try:
        # Ready: every reflector listed and watches with this identity. Leading: the Lease in
        # its own namespace was created and renewed.
        async def leading() -> bool:
            assert process.returncode is None, log.read_text()
            metrics = await asyncio.to_thread(_get, f"http://{listen}/metrics")
            return bool(metrics and b"podium_is_leader 1.0" in metrics)

        await eventually(leading, "podium ready and leading")

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
        await eventually(bound_and_reported, "6 pods bound and one reported unschedulable")

        async def events_written() -> bool:
            body = await request_bytes(
                api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
            )
            reasons = {e["reason"] for e in orjson.loads(body)["items"]}
            return {"Scheduled", "FailedScheduling"} <= reasons

        await eventually(events_written, "Scheduled and FailedScheduling events")

        await assert_refused_outside_its_role(installation, namespace, nodes[0]["metadata"]["name"])

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log.read_text()
        assert "forbidden" not in log.read_text().lower(), log.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def assert_refused_outside_its_role(
    installation: Installation, namespace: str, node: str
) -> None:
    """The installation's token is refused secrets, workloads, nodes, its own configuration,
    other Leases and RBAC."""
    own = installation.namespace
    leases = "/apis/coordination.k8s.io/v1/namespaces"
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"}}
    deployment = installation.one("Deployment")
    config_map = installation.one("ConfigMap")["metadata"]["name"]
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
            "delete a node": request_bytes(client, "DELETE", f"/api/v1/nodes/{node}"),
            "patch a node": request_bytes(
                client,
                "PATCH",
                f"/api/v1/nodes/{node}",
                body={"metadata": {"labels": {"x": "y"}}},
                content_type=_MERGE_PATCH,
            ),
            "patch its own config": request_bytes(
                client,
                "PATCH",
                f"/api/v1/namespaces/{own}/configmaps/{config_map}",
                body={"data": {"x": "y"}},
                content_type=_MERGE_PATCH,
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
