"""Workload files for ``podium simulate``: the pods a user asks "where would these go?" about.

A YAML stream (``---``-separated documents) of:
- ``Pod`` objects;
- ``List`` objects whose ``items`` are any of these;
- ``Deployment``, ``ReplicaSet``, ``StatefulSet`` (``spec.replicas``, default 1) and ``Job``
  (``spec.parallelism``, default 1): their ``spec.template`` stamped out as that many pods named
  ``<name>-<i>``, labelled with the template's labels.

Pods get what the apiserver would give them: namespace ``default``, a uid, a creation time, phase
Pending, and the first profile's schedulerName when they name none. Anything malformed stops the
load with one message naming the document, the object and the field.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = ["WorkloadError", "load_workload", "parse_workload"]

_REPLICATED = {"Deployment": "replicas", "ReplicaSet": "replicas", "StatefulSet": "replicas"}
_MAX_REPLICAS = 100_000
_UID_NAMESPACE = uuid.UUID("0d6c3f4e-7a55-4c1e-9a3a-2f1b5f0c9e21")
# Placeholder creation time: order among workload pods is the file's, kept by the caller.
_CREATED = "2000-01-01T00:00:00Z"


class WorkloadError(ValueError):
    """The workload file cannot be used; the message names the document and the field."""


def load_workload(path: Path, scheduler_name: str) -> list[dict[str, Any]]:
    try:
        text = path.read_text()
    except OSError as err:
        raise WorkloadError(f"{path}: cannot read: {err.strerror}") from err
    return parse_workload(text, scheduler_name, str(path))


def parse_workload(
    text: str, scheduler_name: str, source: str = "workload"
) -> list[dict[str, Any]]:
    """The pods the documents in ``text`` describe, in order."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as err:
        raise WorkloadError(f"{source}: not valid YAML: {err}") from err
    pods: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for index, document in enumerate(documents):
        where = f"{source}: document {index + 1}"
        for pod in _pods_of(document, where):
            _complete(pod, scheduler_name, where)
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            if key in seen:
                raise WorkloadError(f"{where}: Pod {key[0]}/{key[1]}: duplicate name")
            seen.add(key)
            pods.append(pod)
    if not pods:
        raise WorkloadError(f"{source}: no pods in the workload")
    return pods


def _pods_of(obj: object, where: str) -> Iterator[dict[str, Any]]:
    if not isinstance(obj, dict):
        raise WorkloadError(f"{where}: expected an object, got {type(obj).__name__}")
    kind = obj.get("kind")
    if kind == "List" or (isinstance(kind, str) and kind.endswith("List")):
        items = obj.get("items")
        if not isinstance(items, list):
            raise WorkloadError(f"{where}: {kind}: items: must be a list")
        for i, item in enumerate(items):
            yield from _pods_of(item, f"{where}: items[{i}]")
        return
    name = _name(obj, where, str(kind))
    if kind == "Pod":
        yield copy.deepcopy(obj)
        return
    if kind in _REPLICATED or kind == "Job":
        field = _REPLICATED.get(str(kind), "parallelism")
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            raise WorkloadError(f"{where}: {kind} {name}: spec: must be an object")
        count = spec.get(field, 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= _MAX_REPLICAS:
            raise WorkloadError(
                f"{where}: {kind} {name}: spec.{field}: must be an integer in 0..{_MAX_REPLICAS}"
            )
        template = spec.get("template")
        if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
            raise WorkloadError(f"{where}: {kind} {name}: spec.template.spec: must be an object")
        meta = template.get("metadata") or {}
        if not isinstance(meta, dict):
            raise WorkloadError(f"{where}: {kind} {name}: spec.template.metadata: not an object")
        namespace = (obj.get("metadata") or {}).get("namespace")
        for i in range(count):
            pod_meta = copy.deepcopy(meta)
            pod_meta["name"] = f"{name}-{i}"
            if namespace:
                pod_meta["namespace"] = namespace
            yield {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": pod_meta,
                "spec": copy.deepcopy(template["spec"]),
            }
        return
    raise WorkloadError(
        f"{where}: kind: {kind!r} is not a Pod, List, Deployment, ReplicaSet, StatefulSet or Job"
    )


def _name(obj: dict[str, Any], where: str, kind: str) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise WorkloadError(f"{where}: {kind}: metadata.name: missing")
    return name


def _complete(pod: dict[str, Any], scheduler_name: str, where: str) -> None:
    """What the apiserver would add to a created pod."""
    meta = pod.setdefault("metadata", {})
    name = meta["name"]
    namespace = meta.get("namespace") or "default"
    if not isinstance(namespace, str):
        raise WorkloadError(f"{where}: Pod {name}: metadata.namespace: must be a string")
    meta["namespace"] = namespace
    meta["uid"] = str(uuid.uuid5(_UID_NAMESPACE, f"{namespace}/{name}"))
    meta.setdefault("creationTimestamp", _CREATED)
    meta.setdefault("resourceVersion", "1")
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        raise WorkloadError(f"{where}: Pod {namespace}/{name}: spec: must be an object")
    if spec.get("nodeName"):
        raise WorkloadError(
            f"{where}: Pod {namespace}/{name}: spec.nodeName: set; "
            "a workload pod must be unscheduled"
        )
    spec.setdefault("schedulerName", scheduler_name)
    pod["status"] = {"phase": "Pending"}
