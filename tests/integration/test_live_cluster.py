"""The live local cluster: kube-controller-manager around the real apiserver."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(180)

WAIT_SECONDS = 60
NODE_LEASE_NAMESPACE = "kube-node-lease"


async def _get(api: ApiClient, path: str) -> Any:
    return orjson.loads(await request_bytes(api, "GET", path))


async def _post(api: ApiClient, path: str, body: dict[str, Any]) -> Any:
    return orjson.loads(await request_bytes(api, "POST", path, body=body))


async def _missing(api: ApiClient, path: str) -> bool:
    try:
        await request_bytes(api, "GET", path)
    except ApiStatusError as error:
        if error.status == 404:
            return True
        raise
    return False


async def _pods(api: ApiClient, namespace: str, selector: str | None = None) -> list[Any]:
    query: dict[str, str | int | bool] = {} if selector is None else {"labelSelector": selector}
    body = orjson.loads(
        await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods", query=query)
    )
    items: list[Any] = body["items"]
    return items


def _condition(obj: Any, kind: str) -> str | None:
    for condition in obj.get("status", {}).get("conditions") or ():
        if condition["type"] == kind:
            status: str = condition["status"]
            return status
    return None


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def test_controller_manager_sets_up_every_namespace(
    live_api: ApiClient, live_namespace: str
) -> None:
    # The ServiceAccount and token controllers, and the root CA publisher, act on a new namespace.
    async def set_up() -> bool:
        return not await _missing(
            live_api, f"/api/v1/namespaces/{live_namespace}/serviceaccounts/default"
        ) and not await _missing(
            live_api, f"/api/v1/namespaces/{live_namespace}/configmaps/kube-root-ca.crt"
        )

    await until(set_up, "the default ServiceAccount and kube-root-ca.crt", WAIT_SECONDS)
    ca = await _get(live_api, f"/api/v1/namespaces/{live_namespace}/configmaps/kube-root-ca.crt")
    assert "BEGIN CERTIFICATE" in ca["data"]["ca.crt"]
