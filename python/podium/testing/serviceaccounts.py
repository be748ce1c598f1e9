"""Acting as a ServiceAccount: a token from the TokenRequest API, in a kubeconfig of its own.

What a pod's projected token gives a deployed podium, for a process started outside a pod.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import yaml

from podium.rawapi import request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient


async def service_account_token(
    api: ApiClient, namespace: str, name: str, *, expiration_seconds: int = 3600
) -> str:
    """A bearer token for ServiceAccount ``namespace/name`` (``POST .../token``)."""
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": expiration_seconds},
    }
    answer = orjson.loads(
        await request_bytes(
            api, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body=body
        )
    )
    token = answer.get("status", {}).get("token")
    if not isinstance(token, str) or not token:
        raise RuntimeError(f"TokenRequest for {namespace}/{name} returned no token: {answer}")
    return token


def token_kubeconfig(admin_kubeconfig: Path, token: str, path: Path) -> Path:
    """``admin_kubeconfig``'s cluster and context with ``token`` as the only user credential."""
    document = yaml.safe_load(admin_kubeconfig.read_text())
    for user in document["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return path
