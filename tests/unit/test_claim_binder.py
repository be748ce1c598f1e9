"""DynamicResources' PreBind (``ClaimBinder``) against a scripted apiserver on loopback that keeps
ResourceClaims as the real one does for these writes: updates with resourceVersion
preconditions, strategic merge patches (finalizers merged as a set, ``status.reservedFor``
merged by uid), and what the real one (1.37) answers 422 to: another uid, a new finalizer on a
claim being deleted, a reservation on a claim not allocated.

kube-scheduler's bindClaim writes from the claim its informer holds and reads the claim only
after a conflict; podium's first write is a patch, so PreBind reads no claim unless a write is
refused. The same flows on the real apiserver: tests/integration/test_dra*.py."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration

from podium.dynamic_resources import FINALIZER, ClaimBinder
from podium.prebind import PreBindError

NS = "ns"
CLAIMS = f"/apis/resource.k8s.io/v1/namespaces/{NS}/resourceclaims"
ALLOCATION: dict[str, Any] = {
    "devices": {
        "results": [{"request": "gpu", "driver": "gpu.example.com", "pool": "n", "device": "g0"}]
    },
    "nodeSelector": {"nodeSelectorTerms": []},
}
JSON = dict[str, Any]


def _answer(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body))


def _refusal(status: int, message: str) -> web.Response:
    return _answer(status, {"kind": "Status", "message": message})


@dataclass
class Claims:
    """ResourceClaims by name; every write bumps the resourceVersion."""

    objects: dict[str, JSON] = field(default_factory=dict)
    version: int = 100
    # Every request: (method, path).
    requests: list[tuple[str, str]] = field(default_factory=list)
    # (method, path pattern, status): the next matching request is answered with the status.
    refuse: list[tuple[str, str, int]] = field(default_factory=list)
    # Called before each read is answered (another writer at work).
    on_read: Callable[[], None] | None = None

    def store(self, obj: JSON) -> JSON:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[obj["metadata"]["name"]] = obj
        return obj

    def add(self, name: str, *, allocated: bool = False, reserved: tuple[str, ...] = ()) -> JSON:
        status: JSON = {}
        if allocated:
            status["allocation"] = copy.deepcopy(ALLOCATION)
        if reserved:
            status["reservedFor"] = [{"resource": "pods", "name": u, "uid": u} for u in reserved]
        spec = {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu"}}]}}
        meta: JSON = {"name": name, "namespace": NS, "uid": f"uid-{name}"}
        if allocated:
            meta["finalizers"] = [FINALIZER]
        return self.store({"metadata": meta, "spec": spec, "status": status})

    @web.middleware
    async def record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        for i, (method, pattern, status) in enumerate(self.refuse):
            if method == request.method and re.search(pattern, request.path):
                del self.refuse[i]
                return _refusal(status, f"refused {status}")
        response: web.StreamResponse = await handler(request)
        return response

    def _current(self, request: web.Request) -> JSON | None:
        return self.objects.get(request.match_info["name"])

    async def get(self, request: web.Request) -> web.Response:
        if self.on_read is not None:
            self.on_read()
        current = self._current(request)
        if current is None:
            return _refusal(404, "not found")
        return _answer(200, current)

    async def create(self, request: web.Request) -> web.Response:
        obj = orjson.loads(await request.read())
        name = obj["metadata"].pop("generateName") + "x1"
        obj["metadata"].update(name=name, uid=f"uid-{name}")
        obj.setdefault("status", {})
        return _answer(201, self.store(obj))

    def _check(self, current: JSON, new: JSON) -> web.Response | None:
        """The apiserver's 422s: another uid, new finalizers on a claim being deleted, a
        reservation without an allocation."""
        if new["metadata"].get("uid", current["metadata"]["uid"]) != current["metadata"]["uid"]:
            return _refusal(422, "metadata.uid: field is immutable")
        added = set(new["metadata"].get("finalizers") or []) - set(
            current["metadata"].get("finalizers") or []
        )
        if added and current["metadata"].get("deletionTimestamp"):
            return _refusal(422, "no new finalizers can be added if the object is being deleted")
        status = new.get("status") or {}
        if status.get("reservedFor") and status.get("allocation") is None:
            return _refusal(422, "status.reservedFor: may not be set when not allocated")
        return None

    async def update(self, request: web.Request) -> web.Response:
        current = self._current(request)
        if current is None:
            return _refusal(404, "not found")
        new = orjson.loads(await request.read())
        if new["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            return _refusal(409, "the object has been modified")
        refused = self._check(current, new)
        if refused is not None:
            return refused
        updated = copy.deepcopy(current)
        if request.path.endswith("/status"):
            updated["status"] = new.get("status") or {}
        else:
            updated["metadata"]["finalizers"] = new["metadata"].get("finalizers") or []
        return _answer(200, self.store(updated))

    async def patch(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/strategic-merge-patch+json"
        current = self._current(request)
        if current is None:
            return _refusal(404, "not found")
        patch = orjson.loads(await request.read())
        updated = copy.deepcopy(current)
        meta = patch.get("metadata") or {}
        if "uid" in meta:
            updated["metadata"]["uid"] = meta["uid"]
        if not request.path.endswith("/status"):
            have = updated["metadata"].get("finalizers") or []
            updated["metadata"]["finalizers"] = have + [
                f for f in meta.get("finalizers") or [] if f not in have
            ]
        else:
            entries = list(updated["status"].get("reservedFor") or [])
            for entry in (patch.get("status") or {}).get("reservedFor") or []:
                entries = [e for e in entries if e["uid"] != entry["uid"]]
                if entry.get("$patch") != "delete":
                    entries.append(entry)
            updated["status"]["reservedFor"] = entries
        refused = self._check(current, updated)
        if refused is not None:
            return refused
        return _answer(200, self.store(updated))

    async def ok(self, request: web.Request) -> web.Response:
        return _answer(200, {"spec": {}})

    def claim_requests(self) -> list[tuple[str, str]]:
        """The requests on claims, paths relative to the namespace's claims."""
        return [(m, p.removeprefix(CLAIMS)) for m, p in self.requests if p.startswith(CLAIMS)]


@dataclass
class Cache:
    written: list[str] = field(default_factory=list)

    def claim_written(self, uid: str, claim_uid: str) -> None:
        self.written.append(claim_uid)

    def extended_claim_created(self, uid: str, assumed_uid: str, name: str, claim_uid: str) -> None:
        pass

    def extended_claim_of(self, uid: str) -> tuple[str, str] | None:
        return None


@dataclass(frozen=True)
class Pod:
    uid: str = "pod-uid"
    namespace: str = NS
    name: str = "p"


@dataclass(frozen=True)
class Reservation:
    name: str
    uid: str
    allocation: bytes | None = None
    extended: bytes | None = None


def allocating(name: str) -> Reservation:
    return Reservation(name, f"uid-{name}", orjson.dumps(ALLOCATION))


def reserving(name: str) -> Reservation:
    return Reservation(name, f"uid-{name}")


@pytest.fixture
async def world() -> AsyncIterator[tuple[Claims, ClaimBinder, Cache]]:
    claims = Claims()
    app = web.Application(middlewares=[claims.record])
    one = f"{CLAIMS}/{{name}}"
    app.router.add_get(one, claims.get)
    app.router.add_put(one, claims.update)
    app.router.add_put(f"{one}/status", claims.update)
    app.router.add_patch(one, claims.patch)
    app.router.add_patch(f"{one}/status", claims.patch)
    app.router.add_post(CLAIMS, claims.create)
    app.router.add_get("/apis/resource.k8s.io/v1/deviceclasses/{name}", claims.ok)
    app.router.add_patch(f"/api/v1/namespaces/{NS}/pods/{{name}}/status", claims.ok)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    api = ApiClient(Configuration(host=f"http://{host}:{port}"))
    cache = Cache()
    try:
        yield claims, ClaimBinder(api, cache, request_timeout=2.0), cache
    finally:
        await api.close()
        await runner.cleanup()


async def test_an_allocation_is_written_without_reading_the_claim(
    world: tuple[Claims, ClaimBinder, Cache],
) -> None:
    claims, binder, cache = world
    claims.add("gpus")
    await binder.pre_bind(Pod(), [allocating("gpus")])
    # kube: Update (finalizer), UpdateStatus. No read first.
    assert claims.claim_requests() == [("PATCH", "/gpus"), ("PUT", "/gpus/status")]
    written = claims.objects["gpus"]
    assert written["metadata"]["finalizers"] == [FINALIZER]
    assert written["status"]["allocation"]["devices"]["results"] == ALLOCATION["devices"]["results"]
    assert written["status"]["reservedFor"] == [{"resource": "pods", "name": "p", "uid": "pod-uid"}]
    assert cache.written == ["uid-gpus"]


async def test_a_reservation_is_one_patch(world: tuple[Claims, ClaimBinder, Cache]) -> None:
    claims, binder, cache = world
    claims.add("shared", allocated=True, reserved=("other",))
    reserved = await binder.pre_bind(Pod(), [reserving("shared")])
    assert claims.claim_requests() == [("PATCH", "/shared/status")]
    assert [r["uid"] for r in claims.objects["shared"]["status"]["reservedFor"]] == [
        "other",
        "pod-uid",
    ]
    assert [r.name for r in reserved] == ["shared"]
    assert cache.written == ["uid-shared"]


async def test_a_conflict_reads_the_claim_and_writes_again(
    world: tuple[Claims, ClaimBinder, Cache],
) -> None:
    claims, binder, _ = world
    claims.add("gpus")
    claims.refuse.append(("PUT", r"/gpus/status$", 409))
    await binder.pre_bind(Pod(), [allocating("gpus")])
    assert claims.claim_requests() == [
        ("PATCH", "/gpus"),
        ("PUT", "/gpus/status"),
        ("GET", "/gpus"),
        ("PUT", "/gpus/status"),
    ]
    assert claims.objects["gpus"]["status"]["reservedFor"][0]["uid"] == "pod-uid"


async def test_conflicts_to_the_end_take_every_reservation_back(
    world: tuple[Claims, ClaimBinder, Cache],
) -> None:
    """kube's RetryOnConflict gives up after its attempts: PreBind fails, what it reserved is
    taken back, and the binder requeues the pod."""
    claims, binder, cache = world
    claims.add("shared", allocated=True)
    claims.add("gpus")
    claims.refuse.extend([("PUT", r"/gpus/status$", 409)] * 5)
    with pytest.raises(PreBindError) as raised:
        await binder.pre_bind(Pod(), [reserving("shared"), allocating("gpus")])
    assert raised.value.status == 409
    assert claims.objects["shared"]["status"]["reservedFor"] == []
    assert claims.objects["gpus"]["status"].get("allocation") is None
    assert claims.claim_requests()[-1] == ("PATCH", "/shared/status")
    assert cache.written == ["uid-shared"]


async def test_a_claim_replaced_or_being_deleted_is_read_and_refused_in_kubes_words(
    world: tuple[Claims, ClaimBinder, Cache],
) -> None:
    claims, binder, _ = world
    replaced = claims.add("gpus")
    replaced["metadata"]["uid"] = "another"
    with pytest.raises(PreBindError, match="claim ns/gpus got deleted in the meantime"):
        await binder.pre_bind(Pod(), [allocating("gpus")])
    assert claims.claim_requests() == [("PATCH", "/gpus"), ("GET", "/gpus")]
    claims.requests.clear()
    deleting = claims.add("gpus")
    deleting["metadata"].update(deletionTimestamp="2026-12-03T01:00:00Z", finalizers=["other"])
    with pytest.raises(PreBindError, match="claim ns/gpus got deleted in the meantime"):
        await binder.pre_bind(Pod(), [allocating("gpus")])
    assert claims.claim_requests() == [("PATCH", "/gpus"), ("GET", "/gpus")]
    assert claims.objects["gpus"]["metadata"]["finalizers"] == ["other"]


async def test_a_reservation_made_on_a_claim_being_deleted_is_taken_back(
    world: tuple[Claims, ClaimBinder, Cache],
) -> None:
    claims, binder, cache = world
    deleting = claims.add("shared", allocated=True)
    deleting["metadata"]["deletionTimestamp"] = "2026-12-03T01:00:00Z"
    with pytest.raises(PreBindError, match="claim ns/shared got deleted in the meantime"):
        await binder.pre_bind(Pod(), [reserving("shared")])
    assert claims.objects["shared"]["status"]["reservedFor"] == []
    assert cache.written == []


async def test_a_shared_claim_not_allocated_yet_is_read_until_it_is(
    world: tuple[Claims, ClaimBinder, Cache],
) -> None:
    """Another pod's PreBind is writing the allocation: the reservation is refused (422), the
    claim read until the allocation shows, then reserved."""
    claims, binder, _ = world
    claims.add("shared")
    polls = 0

    def allocate_on_second_read() -> None:
        nonlocal polls
        polls += 1
        if polls == 2:
            claims.objects["shared"]["status"]["allocation"] = copy.deepcopy(ALLOCATION)
            claims.store(claims.objects["shared"])

    claims.on_read = allocate_on_second_read
    await binder.pre_bind(Pod(), [reserving("shared")])
    assert claims.claim_requests()[0] == ("PATCH", "/shared/status")
    assert claims.claim_requests()[-1] == ("PUT", "/shared/status")
    assert polls == 2
    assert claims.objects["shared"]["status"]["reservedFor"][0]["uid"] == "pod-uid"


async def test_the_claim_made_for_extended_resources_is_written_as_created(
    world: tuple[Claims, ClaimBinder, Cache],
) -> None:
    claims, binder, cache = world
    plan = {
        "spec": {"devices": {"requests": [{"name": "container-0-request-0"}]}},
        "requestMappings": [],
    }
    extended = Reservation(
        "<extended-resources>",
        "<extended-resources>:pod-uid",
        orjson.dumps(ALLOCATION),
        orjson.dumps(plan),
    )
    reserved = await binder.pre_bind(Pod(), [extended])
    # kube: create, Update (finalizer), UpdateStatus.
    assert claims.claim_requests() == [
        ("POST", ""),
        ("PUT", "/p-extended-resources-x1"),
        ("PUT", "/p-extended-resources-x1/status"),
    ]
    assert [r.created for r in reserved] == [True]
    assert cache.written == ["uid-p-extended-resources-x1"]
