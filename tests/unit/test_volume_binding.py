"""VolumeBinding's PreBind against a scripted apiserver on loopback that keeps PVs and claims,
applies merge patches with their resourceVersion preconditions, and a cache that mirrors it.

The test plays the PV controller. The same flow against the real one (kube-controller-manager)
is tests/e2e/test_volume_binding.py."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration

from podium._core import EventType, Kind
from podium.volume_binding import (
    BIND_COMPLETED_ANNOTATION,
    BOUND_BY_CONTROLLER_ANNOTATION,
    SELECTED_NODE_ANNOTATION,
    NotLeading,
    PreBindError,
    VolumeBinder,
)

NS = "ns"
NODE = "node-1"


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 merge patch."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


@dataclass
class Store:
    """PVs and claims by path, with resourceVersions; every write bumps the version."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    version: int = 100
    # Statuses to answer the next patches with instead of applying them.
    refuse: list[int] = field(default_factory=list)
    patched: asyncio.Condition = field(default_factory=asyncio.Condition)

    def put(self, path: str, obj: dict[str, Any]) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[path] = obj

    async def patch(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/merge-patch+json"
        patch = orjson.loads(await request.read())
        path = request.path
        async with self.patched:
            self.patches.append((path, patch))
            self.patched.notify_all()
        if self.refuse:
            status = self.refuse.pop(0)
            return web.Response(status=status, body=orjson.dumps({"message": f"refused {status}"}))
        current = self.objects[path]
        wanted = patch.get("metadata", {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            message = (
                "the object has been modified; please apply your changes to the latest version"
            )
            return web.Response(status=409, body=orjson.dumps({"message": message}))
        updated = _merge(copy.deepcopy(current), patch)
        self.put(path, updated)
        return web.Response(status=200, body=orjson.dumps(updated))


def pv_path(name: str) -> str:
    return f"/api/v1/persistentvolumes/{name}"


def pvc_path(name: str) -> str:
    return f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{name}"


@dataclass(frozen=True)
class ClaimView:
    uid: str
    resource_version: int
    volume_name: str | None
    selected_node: str | None
    fully_bound: bool


@dataclass(frozen=True)
class VolumeView:
    resource_version: int
    claim: tuple[str, str, str] | None


@dataclass
class Cache:
    """What podium's cache would say, read straight from the store (no lag)."""

    store: Store
    assumed: set[str] = field(default_factory=lambda: {"pod-uid"})
    nodes: set[str] = field(default_factory=lambda: {NODE})
    # PV name -> the nodes its affinity admits (absent: any).
    affinity: dict[str, set[str]] = field(default_factory=dict)

    def claim(self, namespace: str, name: str) -> ClaimView | None:
        obj = self.store.objects.get(
            f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"
        )
        if obj is None:
            return None
        annotations = obj["metadata"].get("annotations") or {}
        volume = obj["spec"].get("volumeName") or None
        return ClaimView(
            uid=obj["metadata"]["uid"],
            resource_version=int(obj["metadata"]["resourceVersion"]),
            volume_name=volume,
            selected_node=annotations.get(SELECTED_NODE_ANNOTATION),
            fully_bound=volume is not None and BIND_COMPLETED_ANNOTATION in annotations,
        )

    def volume(self, name: str) -> VolumeView | None:
        obj = self.store.objects.get(pv_path(name))
        if obj is None:
            return None
        ref = obj["spec"].get("claimRef")
        claim = (ref["namespace"], ref["name"], ref.get("uid", "")) if ref else None
        return VolumeView(int(obj["metadata"]["resourceVersion"]), claim)

    def volume_fits_node(self, volume: str, node: str) -> bool | None:
        return node in self.affinity.get(volume, {node})

    def is_assumed(self, uid: str) -> bool:
        return uid in self.assumed

    def has_node(self, node: str) -> bool:
        return node in self.nodes


@dataclass(frozen=True)
class Pod:
    uid: str = "pod-uid"
    namespace: str = NS
    name: str = "p"


@dataclass(frozen=True)
class Binding:
    claim: str
    volume: str | None


@dataclass(frozen=True)
class Change:
    kind: Kind
    namespace: str
    name: str
    uid: str = ""
    event: EventType = EventType.MODIFIED


@pytest.fixture
async def world() -> AsyncIterator[tuple[Store, ApiClient]]:
    store = Store()
    store.put(pv_path("pv-1"), {"metadata": {"name": "pv-1"}, "spec": {}})
    store.put(pvc_path("data"), {"metadata": {"name": "data", "uid": "claim-uid"}, "spec": {}})
    app = web.Application()
    app.router.add_patch("/api/v1/persistentvolumes/{name}", store.patch)
    app.router.add_patch("/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}", store.patch)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    api = ApiClient(Configuration(host=f"http://{host}:{port}"))
    try:
        yield store, api
    finally:
        await api.close()
        await runner.cleanup()


def bind_claim(store: Store, binder: VolumeBinder, volume: str) -> None:
    """What the PV controller does once a PV names the claim: the claim gets the volume."""
    claim = store.objects[pvc_path("data")]
    claim["spec"]["volumeName"] = volume
    claim["metadata"].setdefault("annotations", {})[BIND_COMPLETED_ANNOTATION] = "yes"
    store.put(pvc_path("data"), claim)
    binder.observe(Change(Kind.PERSISTENT_VOLUME_CLAIM, NS, "data"))  # type: ignore[arg-type]


async def wait_for_patches(store: Store, count: int) -> None:
    async with asyncio.timeout(5), store.patched:
        await store.patched.wait_for(lambda: len(store.patches) >= count)


async def test_static_binding_sets_the_claim_ref_and_waits_for_the_pv_controller(
    world: tuple[Store, ApiClient],
) -> None:
    store, api = world
    binder = VolumeBinder(api, Cache(store), bind_timeout=5)
    task = asyncio.create_task(binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")]))
    await wait_for_patches(store, 1)
    path, patch = store.patches[0]
    assert path == pv_path("pv-1")
    assert patch["spec"]["claimRef"] == {
        "kind": "PersistentVolumeClaim",
        "apiVersion": "v1",
        "namespace": NS,
        "name": "data",
        "uid": "claim-uid",
        "resourceVersion": store.objects[pvc_path("data")]["metadata"]["resourceVersion"],
    }
    assert patch["metadata"]["annotations"] == {BOUND_BY_CONTROLLER_ANNOTATION: "yes"}
    assert patch["metadata"]["resourceVersion"] == "101", "the PV as the cache read it"
    await asyncio.sleep(0.05)
    assert not task.done(), "waits until the claim is bound"
    bind_claim(store, binder, "pv-1")
    async with asyncio.timeout(2):
        await task
    assert len(store.patches) == 1


async def test_provisioning_sets_selected_node_and_waits(world: tuple[Store, ApiClient]) -> None:
    store, api = world
    binder = VolumeBinder(api, Cache(store), bind_timeout=5)
    task = asyncio.create_task(binder.pre_bind(Pod(), NODE, [Binding("data", None)]))
    await wait_for_patches(store, 1)
    path, patch = store.patches[0]
    assert path == pvc_path("data")
    assert patch["metadata"]["annotations"] == {SELECTED_NODE_ANNOTATION: NODE}
    await asyncio.sleep(0.05)
    assert not task.done()
    store.put(pv_path("pv-new"), {"metadata": {"name": "pv-new"}, "spec": {}})
    bind_claim(store, binder, "pv-new")
    async with asyncio.timeout(2):
        await task


async def test_timeout_undoes_what_podium_wrote(world: tuple[Store, ApiClient]) -> None:
    store, api = world
    binder = VolumeBinder(api, Cache(store), bind_timeout=0.2)
    with pytest.raises(PreBindError, match=r"^binding volumes: context deadline exceeded$"):
        await binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")])
    pv = store.objects[pv_path("pv-1")]
    assert "claimRef" not in pv["spec"]
    assert BOUND_BY_CONTROLLER_ANNOTATION not in (pv["metadata"].get("annotations") or {})
    assert len(store.patches) == 2

    # The same for a provisioned claim's selected-node.
    with pytest.raises(PreBindError):
        await binder.pre_bind(Pod(), NODE, [Binding("data", None)])
    claim = store.objects[pvc_path("data")]
    assert SELECTED_NODE_ANNOTATION not in (claim["metadata"].get("annotations") or {})


async def test_a_claim_bound_meanwhile_is_not_undone(world: tuple[Store, ApiClient]) -> None:
    store, api = world
    cache = Cache(store)
    binder = VolumeBinder(api, cache, bind_timeout=5)
    task = asyncio.create_task(binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")]))
    await wait_for_patches(store, 1)
    # Bound by the PV controller, then the pod goes away before PreBind sees it complete.
    claim = store.objects[pvc_path("data")]
    claim["spec"]["volumeName"] = "pv-1"
    store.put(pvc_path("data"), claim)
    cache.assumed.clear()
    binder.observe(Change(Kind.POD, NS, "p", uid="pod-uid", event=EventType.DELETED))  # type: ignore[arg-type]
    with pytest.raises(PreBindError, match="no longer assumed"):
        await task
    assert store.objects[pv_path("pv-1")]["spec"]["claimRef"]["name"] == "data"
    assert len(store.patches) == 1


async def test_claim_ref_reset_by_the_pv_controller_fails_the_binding(
    world: tuple[Store, ApiClient],
) -> None:
    store, api = world
    binder = VolumeBinder(api, Cache(store), bind_timeout=5)
    task = asyncio.create_task(binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")]))
    await wait_for_patches(store, 1)
    pv = store.objects[pv_path("pv-1")]
    pv["spec"]["claimRef"]["uid"] = ""
    store.put(pv_path("pv-1"), pv)
    binder.observe(Change(Kind.PERSISTENT_VOLUME, "", "pv-1"))  # type: ignore[arg-type]
    with pytest.raises(PreBindError, match='ClaimRef got reset for pv "pv-1"'):
        await task


async def test_provisioner_giving_up_fails_the_binding(world: tuple[Store, ApiClient]) -> None:
    store, api = world
    binder = VolumeBinder(api, Cache(store), bind_timeout=5)
    task = asyncio.create_task(binder.pre_bind(Pod(), NODE, [Binding("data", None)]))
    await wait_for_patches(store, 1)
    claim = store.objects[pvc_path("data")]
    del claim["metadata"]["annotations"][SELECTED_NODE_ANNOTATION]
    store.put(pvc_path("data"), claim)
    binder.observe(Change(Kind.PERSISTENT_VOLUME_CLAIM, NS, "data"))  # type: ignore[arg-type]
    with pytest.raises(PreBindError, match='selectedNode annotation reset for PVC "data"'):
        await task
    assert len(store.patches) == 1, "the annotation is gone already: nothing to undo"


async def test_a_pv_taken_meanwhile_answers_conflict_and_nothing_is_overwritten(
    world: tuple[Store, ApiClient],
) -> None:
    store, api = world
    cache = Cache(store)
    binder = VolumeBinder(api, cache, bind_timeout=5)

    # The cache read the PV at one version; another writer changed it since.
    stale = cache.volume("pv-1")
    assert stale is not None
    store.put(pv_path("pv-1"), store.objects[pv_path("pv-1")])
    cache.volume = lambda name: stale  # type: ignore[method-assign]
    with pytest.raises(PreBindError, match="has been modified"):
        await binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")])
    assert "claimRef" not in store.objects[pv_path("pv-1")]["spec"]
    assert len(store.patches) == 1


async def test_nothing_is_written_when_every_claim_is_bound_or_the_lease_may_be_lost(
    world: tuple[Store, ApiClient],
) -> None:
    store, api = world
    binder = VolumeBinder(api, Cache(store), bind_timeout=5, may_bind=lambda: False)
    with pytest.raises(NotLeading):
        await binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")])
    assert store.patches == []
    bind_claim(store, binder, "pv-1")
    await VolumeBinder(api, Cache(store)).pre_bind(Pod(), NODE, [Binding("data", "pv-1")])
    assert store.patches == []


async def test_a_pv_out_of_the_nodes_reach_fails(world: tuple[Store, ApiClient]) -> None:
    store, api = world
    cache = Cache(store, affinity={"pv-1": {"node-2"}})
    binder = VolumeBinder(api, cache, bind_timeout=5)
    with pytest.raises(PreBindError, match="node affinity doesn't match node"):
        await binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")])
    assert "claimRef" not in store.objects[pv_path("pv-1")]["spec"], "undone"


async def test_a_refused_write_fails_the_binding(world: tuple[Store, ApiClient]) -> None:
    store, api = world
    store.refuse.append(500)
    binder = VolumeBinder(api, Cache(store), bind_timeout=5)
    with pytest.raises(PreBindError, match="refused 500"):
        await binder.pre_bind(Pod(), NODE, [Binding("data", "pv-1")])
    assert len(store.patches) == 1, "nothing written: nothing to undo"
