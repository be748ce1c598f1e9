"""Applies podium's ``deploy/`` manifests to a cluster, as ``kubectl apply --server-side`` would.

There is no kubectl here: ``apply`` finds each object's REST path by API discovery and sends a
server-side apply patch, optionally as a dry run (the apiserver runs admission and validation,
and stores nothing). ``isolate`` renames podium's namespaces and cluster-wide RBAC objects so a
test can install a private copy on a cluster it shares with other tests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from podium.rawapi import request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "podium-testing"
# Cluster-wide objects that belong to one installation (CRDs are shared by every installation).
_RENAMED_CLUSTER_KINDS = frozenset({"ClusterRole", "ClusterRoleBinding"})


class ManifestError(RuntimeError):
    """A manifest is malformed or names an API the cluster does not serve."""


def deploy_dir() -> Path:
    """``deploy/`` of the repository checkout."""
    # python/podium/testing/manifests.py -> repository root
    return Path(__file__).resolve().parents[3] / "deploy"


def load_documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every non-empty YAML document of ``paths``, in order; each must be a Kubernetes object."""
    objects = []
    for path in paths:
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is None:
                continue
            if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= set(
                document
            ):
                raise ManifestError(f"{path}: document {index} is not a Kubernetes object")
            objects.append(document)
    return objects


def kustomization_paths(directory: Path) -> list[Path]:
    """The files ``directory/kustomization.yaml`` lists under ``resources``, in order."""
    document = yaml.safe_load((directory / "kustomization.yaml").read_text())
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise ManifestError(f"{directory}/kustomization.yaml: resources must be a list of paths")
    return [directory / resource for resource in resources]


def isolate(objects: Sequence[Mapping[str, Any]], suffix: str) -> list[dict[str, Any]]:
    """Copies of ``objects`` for a private installation: every namespace they create or live in
    and every ClusterRole/ClusterRoleBinding gets ``-suffix``, and the references between them
    follow (role bindings' ``roleRef`` and ``subjects``)."""
    namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    namespaces |= {o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")}

    def namespace(name: str) -> str:
        return f"{name}-{suffix}" if name in namespaces else name

    out = []
    for original in objects:
        obj = copy.deepcopy(dict(original))
        metadata = obj["metadata"]
        if obj["kind"] == "Namespace":
            metadata["name"] = namespace(metadata["name"])
        elif obj["kind"] in _RENAMED_CLUSTER_KINDS:
            metadata["name"] = f"{metadata['name']}-{suffix}"
        if "namespace" in metadata:
            metadata["namespace"] = namespace(metadata["namespace"])
        if obj["kind"] in {"RoleBinding", "ClusterRoleBinding"}:
            if obj["roleRef"]["kind"] == "ClusterRole":
                obj["roleRef"]["name"] = f"{obj['roleRef']['name']}-{suffix}"
            for subject in obj.get("subjects", []):
                if "namespace" in subject:
                    subject["namespace"] = namespace(subject["namespace"])
        out.append(obj)
    return out


@dataclass(frozen=True)
class ApiResource:
    """Where the objects of one kind live."""

    group_version: str
    plural: str
    namespaced: bool

    def collection(self, namespace: str | None) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced:
            if not namespace:
                raise ManifestError(f"{self.plural} ({self.group_version}) need a namespace")
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


class Discovery:
    """Maps (apiVersion, kind) to its REST resource, one discovery request per group version."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api
        self._served: dict[str, dict[str, ApiResource]] = {}

    async def resource(self, api_version: str, kind: str) -> ApiResource:
        kinds = self._served.get(api_version)
        if kinds is None:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = orjson.loads(await request_bytes(self._api, "GET", path))
            kinds = {
                r["kind"]: ApiResource(api_version, r["name"], bool(r["namespaced"]))
                for r in listing["resources"]
                if "/" not in r["name"]  # subresources (pods/status, ...)
            }
            self._served[api_version] = kinds
        try:
            return kinds[kind]
        except KeyError:
            raise ManifestError(f"{kind} is not served by {api_version}") from None

    def forget(self, api_version: str) -> None:
        """Look ``api_version`` up again next time (a CRD was just installed)."""
        self._served.pop(api_version, None)


async def apply(
    api: ApiClient,
    discovery: Discovery,
    obj: Mapping[str, Any],
    *,
    dry_run: bool = False,
    field_manager: str = FIELD_MANAGER,
) -> dict[str, Any]:
    """Server-side apply of ``obj`` (created if absent); returns the object the server answers.

    ``dry_run``: validated and admitted by the apiserver, stored nowhere."""
    metadata = obj["metadata"]
    resource = await discovery.resource(obj["apiVersion"], obj["kind"])
    path = f"{resource.collection(metadata.get('namespace'))}/{metadata['name']}"
    query: dict[str, str | int | bool] = {"fieldManager": field_manager, "force": True}
    if dry_run:
        query["dryRun"] = "All"
    answer: dict[str, Any] = orjson.loads(
        await request_bytes(api, "PATCH", path, query=query, body=obj, content_type=APPLY_PATCH)
    )
    return answer
