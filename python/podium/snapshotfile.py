"""Cluster snapshot files: what ``podium snapshot`` saves and ``simulate``/``explain`` load.

A snapshot holds every object the scheduler's cache reads (the cache's own resource list: nodes,
pods, namespaces, NodeResourceTopology objects, PVs, PVCs, StorageClasses), as the apiserver
listed them, in one JSON document::

    {"apiVersion": "podium.dev/v1alpha1", "kind": "ClusterSnapshot", "createdAt": "...",
     "objects": {"Node": [...], "Pod": [...], ...}}

Loading it into a ``ClusterState`` goes through the same parsing as the live cache
(``apply_list``), so a simulation judges exactly what the scheduler would have seen.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from podium._core import ClusterState, Kind
from podium.cache import CORE_RESOURCES
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium.watch import Resource

__all__ = [
    "API_VERSION",
    "KIND",
    "ClusterSnapshot",
    "SnapshotError",
    "kind_key",
    "take_snapshot",
]

API_VERSION = "podium.dev/v1alpha1"
KIND = "ClusterSnapshot"
PAGE_SIZE = 500
HTTP_NOT_FOUND = 404


class SnapshotError(ValueError):
    """A snapshot file cannot be used; the message names the file and the field."""


def kind_key(kind: Kind) -> str:
    """The Kubernetes kind name a Kind is stored under (NODE_RESOURCE_TOPOLOGY →
    NodeResourceTopology)."""
    return "".join(part.title() for part in kind.name.split("_"))


_KINDS_BY_KEY = {kind_key(kind): kind for kind in Kind}


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Objects by kind, as listed; ``created_at`` is an RFC 3339 time."""

    objects: Mapping[Kind, Sequence[Any]]
    created_at: str = ""

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "createdAt": self.created_at,
                "objects": {kind_key(k): list(items) for k, items in self.objects.items()},
            }
        )

    @classmethod
    def parse(cls, data: bytes, source: str = "snapshot") -> ClusterSnapshot:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise SnapshotError(f"{source}: not valid JSON: {err}") from err
        if not isinstance(doc, dict):
            raise SnapshotError(f"{source}: top level must be an object")
        if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
            raise SnapshotError(
                f"{source}: apiVersion/kind: expected {API_VERSION} {KIND}, got "
                f"{doc.get('apiVersion')!r} {doc.get('kind')!r}"
            )
        raw = doc.get("objects")
        if not isinstance(raw, dict):
            raise SnapshotError(f"{source}: objects: must be an object of kind -> list")
        objects: dict[Kind, list[Any]] = {}
        for key, items in raw.items():
            kind = _KINDS_BY_KEY.get(key)
            if kind is None:
                known = ", ".join(sorted(_KINDS_BY_KEY))
                raise SnapshotError(f"{source}: objects.{key}: unknown kind (known: {known})")
            if not isinstance(items, list):
                raise SnapshotError(f"{source}: objects.{key}: must be a list")
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise SnapshotError(f"{source}: objects.{key}[{index}]: must be an object")
            objects[kind] = items
        created = doc.get("createdAt")
        return cls(objects, created if isinstance(created, str) else "")

    @classmethod
    def read(cls, path: Path) -> ClusterSnapshot:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise SnapshotError(f"{path}: cannot read: {err.strerror}") from err
        return cls.parse(data, str(path))

    def load_into(self, state: ClusterState) -> list[str]:
        """Apply every object to ``state``; returns the core's messages for malformed objects
        (they are kept as invalid records, as the live cache keeps them)."""
        errors: list[str] = []
        for kind, items in self.objects.items():
            body = orjson.dumps({"kind": "List", "metadata": {}, "items": list(items)})
            errors.extend(state.apply_list(kind, body).errors)
        return errors

    def state(self, scheduler_names: Iterable[str]) -> tuple[ClusterState, list[str]]:
        """A fresh ClusterState holding this snapshot, and the malformed objects' messages."""
        state = ClusterState(list(scheduler_names))
        return state, self.load_into(state)


async def list_objects(api: ApiClient, resource: Resource) -> list[Any] | None:
    """Every object of ``resource``, page by page; None if an optional CRD is not served."""
    items: list[Any] = []
    continue_token: str | None = None
    while True:
        query: dict[str, str | int | bool] = {"limit": PAGE_SIZE}
        if continue_token:
            query["continue"] = continue_token
        try:
            page = orjson.loads(await request_bytes(api, "GET", resource.path, query=query))
        except ApiStatusError as err:
            if err.status == HTTP_NOT_FOUND and resource.optional:
                return None
            raise
        items.extend(page.get("items") or ())
        continue_token = (page.get("metadata") or {}).get("continue")
        if not continue_token:
            return items


async def take_snapshot(
    api: ApiClient, resources: Iterable[Resource] = CORE_RESOURCES
) -> ClusterSnapshot:
    """List what the scheduler's cache reads."""
    objects: dict[Kind, list[Any]] = {}
    for resource in resources:
        items = await list_objects(api, resource)
        if items is not None:
            objects[resource.kind] = items
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ClusterSnapshot(objects, created)
