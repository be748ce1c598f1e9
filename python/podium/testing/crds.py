"""Installs CustomResourceDefinitions (podium's ``deploy/crds``) into a local cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from podium.rawapi import ApiStatusError, request_bytes
from podium.testing.manifests import deploy_dir

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

_CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
_HTTP_CONFLICT = 409
_HTTP_NOT_FOUND = 404
_POLL_SECONDS = 0.1


class CrdError(RuntimeError):
    """A CRD manifest is invalid or its API did not come up."""


def deploy_crds_dir() -> Path:
    """``deploy/crds`` of the repository checkout."""
    return deploy_dir() / "crds"


def load_crds(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition document in the YAML files ``paths``."""
    crds = []
    for path in paths:
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is None:
                continue
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                raise CrdError(f"{path}: document {index} is not a CustomResourceDefinition")
            crds.append(document)
    return crds


async def install_crds(api: ApiClient, paths: Iterable[Path] | None = None) -> list[str]:
    """Creates the CRDs in ``paths`` (default: every file in ``deploy/crds``) unless present,
    and waits until their APIs are served (bound it with ``asyncio.timeout``). Returns the CRD
    names."""
    if paths is None:
        paths = sorted(deploy_crds_dir().glob("*.yaml"))
    crds = load_crds(paths)
    for crd in crds:
        try:
            await request_bytes(api, "POST", _CRDS_PATH, body=crd)
        except ApiStatusError as error:
            if error.status != _HTTP_CONFLICT:
                raise
    for crd in crds:
        await _wait_served(api, crd)
    return [str(crd["metadata"]["name"]) for crd in crds]


async def _wait_served(api: ApiClient, crd: Mapping[str, Any]) -> None:
    # The apiserver's own controllers act on the CRD: poll, there is no event to wait on.
    name = crd["metadata"]["name"]
    while True:
        stored = orjson.loads(await request_bytes(api, "GET", f"{_CRDS_PATH}/{name}"))
        if _established(stored):
            break
        await asyncio.sleep(_POLL_SECONDS)
    # Established is set before the resource is served: list it to be sure.
    spec = crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v.get("served", True))
    scope_prefix = "" if spec["scope"] == "Cluster" else "namespaces/default/"
    path = f"/apis/{spec['group']}/{version}/{scope_prefix}{spec['names']['plural']}"
    while True:
        if await _served(api, path):
            return
        await asyncio.sleep(_POLL_SECONDS)


async def _served(api: ApiClient, path: str) -> bool:
    try:
        await request_bytes(api, "GET", path, query={"limit": 1})
    except ApiStatusError as error:
        if error.status != _HTTP_NOT_FOUND:
            raise
        return False
    return True


def _established(crd: Mapping[str, Any]) -> bool:
    conditions = crd.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def delete_elastic_quotas(api: ApiClient, namespace: str) -> None:
    """Deletes the namespace's ElasticQuotas, if the CRD is installed. No namespace controller
    runs in the local cluster: a quota left behind would go on lending its min to every later
    test's quotas (borrowing is bounded by the sum of all quotas' mins)."""
    path = f"/apis/scheduling.x-k8s.io/v1alpha1/namespaces/{namespace}/elasticquotas"
    try:
        await request_bytes(api, "DELETE", path)
    except ApiStatusError as e:
        if e.status != _HTTP_NOT_FOUND:
            raise
