"""DynamicResources' PreBind and Unreserve: write each ResourceClaim's allocation and reservation
before the pod's Binding, and take the reservation back if the Binding then fails.

The core's DynamicResources filter allocates a pod's unallocated claims on the node it chooses,
and the cycle assumes that allocation in the cache (the claim shows allocated, its devices
taken) so later pods do not get the same devices. The decision carries, for each claim not yet
reserved for the pod, the allocation to write (``Decision.claims``). Before the Binding, as
kube-scheduler's plugin does (``bindClaim`` in pkg/scheduler/framework/plugins/dynamicresources):

- the claim is not read first: kube writes from the claim its informer holds and reads it only
  after a conflict. podium's cache keeps no claim object, so its first write is a strategic
  merge patch the apiserver applies to the claim as it stands, under the claim's uid (another
  uid is refused): for a claim podium allocated, the finalizer
  ``resource.kubernetes.io/delete-protection`` (so the claim is not deleted while allocated; a
  no-op when it is there), whose answer is the claim to write the status from; for a claim the
  pod only reserves, the pod's entry in ``status.reservedFor`` (merged by uid), which is then
  the whole write. The claim is read when that patch is refused (a conflict, a claim being
  deleted, a reservation on a claim not allocated yet) and after every conflict later;
- a claim deleted, replaced (another uid) or being deleted fails (a reservation the patch made
  on a claim being deleted is taken back);
- a claim podium allocated: if it is allocated already by someone else meanwhile, that fails
  ("got allocated elsewhere in the meantime"); else ``status.allocation`` is written, with the
  device configurations of the claim's classes and of the claim itself (``devices.config``),
  and the pod is added to ``status.reservedFor`` in the same status update;
- a claim the pod only reserves, shared with a pod of the same batch whose PreBind is still
  writing the allocation, is read again until the allocation shows (bounded by the request
  timeout), since the apiserver refuses a reservation on an unallocated claim;
- a 409 (the claim changed for another reason) reads it again and retries, a few times; when
  they are spent the pod's reservations are taken back and it is tried again.

Extended resources backed by DRA (kube's DRAExtendedResource): a pod asking an extended resource
a DeviceClass serves (``nvidia.com/gpu`` with no device plugin on the node) is given a claim
that does not exist yet (``ClaimReservationLike.extended``). PreBind creates it as kube-scheduler
does (``createExtendedResourceClaimInAPI``): ``generateName: <pod>-extended-resources-``, the pod
as controlling owner, the annotation ``resource.kubernetes.io/extended-resource-claim: "true"``;
tells the cache its name (``ClusterState.extended_claim_created``), writes its allocation and
reservation as for any claim, then records it in the pod's
``status.extendedResourceClaimStatus`` (the claim's name, and which request serves which
container's resource). A claim left by an earlier attempt is deleted first. If anything fails
afterwards, Unreserve deletes the claim it created (removing the finalizer first). A claim left
behind all the same (its deletion failed, or podium stopped between creating it and binding)
never outlives its use, as in kube-scheduler: when the pod next fits nowhere, the PostFilter
deletes it (``leftover``: the claim's deletion brings the pod back); when the pod is placed where
its devices come from a device plugin instead, PreBind deletes it before the Binding. A deleted
pod's claim goes with it (the pod owns it: the garbage collector deletes it, the resourceclaim
controller lifts the finalizer).

Once a claim's write succeeded the cache keeps its allocation until the informer shows it
(``ClusterState.claim_written``), whatever becomes of the pod. If a later claim or the Binding
fails, Unreserve removes the pod from ``status.reservedFor`` of the claims written (a strategic
merge patch deleting the entry by uid, as kube does); an allocation no pod reserves is then
released by the resourceclaim controller of kube-controller-manager. Nothing is written once
the leader lease may be lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from podium._core import Kind
from podium.pods import PodRef
from podium.prebind import PreBindError, write

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium._core import Change

__all__ = [
    "EXTENDED_RESOURCE_CLAIM_ANNOTATION",
    "FINALIZER",
    "PLUGIN_NAME",
    "ClaimBinder",
    "ClaimReservationLike",
    "claim_reservations",
]

log = logging.getLogger(__name__)

PLUGIN_NAME = "DynamicResources"
FINALIZER = "resource.kubernetes.io/delete-protection"
EXTENDED_RESOURCE_CLAIM_ANNOTATION = "resource.kubernetes.io/extended-resource-claim"
RESOURCE_API = "/apis/resource.k8s.io/v1"
_CONFLICT = 409
_NOT_FOUND = 404
# kube's retry.DefaultRetry: 5 attempts on conflict.
_ATTEMPTS = 5
_STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
# A first patch refused for the claim's state rather than the request: the claim is read, and
# what it shows decides, in kube's words. The apiserver (1.37) answers 422 for another uid
# ("field is immutable"), for a new finalizer on a claim being deleted and for a reservation on
# a claim not allocated; 409 for a conflict.
_READ_AND_RETRY = frozenset({_CONFLICT, 422})
# How often a claim shared with a pod whose allocation is being written is read again.
_ALLOCATION_POLL_SECONDS = 0.1


class ClaimReservationLike(Protocol):
    """``podium._core.ResourceClaimReservation``."""

    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def allocation(self) -> bytes | None: ...
    @property
    def extended(self) -> bytes | None: ...


@dataclass(frozen=True)
class _Created:
    """The claim PreBind created for the pod's extended resources, as a reservation to write."""

    name: str
    uid: str
    allocation: bytes | None
    extended: bytes | None = None


class WrittenClaims(Protocol):
    """The part of ``podium._core.ClusterState`` PreBind tells what it wrote, and asks which
    claim an earlier attempt left."""

    def claim_written(self, uid: str, claim_uid: str) -> None: ...
    def extended_claim_created(
        self, uid: str, assumed_uid: str, name: str, claim_uid: str
    ) -> None: ...
    def extended_claim_of(self, uid: str) -> tuple[str, str] | None: ...


def claim_reservations(decision: object) -> Sequence[ClaimReservationLike]:
    """The claim reservations a decision carries; none for decisions without such a field."""
    # getattr, not isinstance against a runtime-checkable Protocol: this runs once per bind, and
    # such an isinstance inspects every member of the Protocol each time.
    found: Sequence[ClaimReservationLike] = getattr(decision, "claims", ())
    return found


@dataclass(frozen=True)
class Reserved:
    """A claim PreBind reserved for a pod: what Unreserve takes back."""

    namespace: str
    name: str
    uid: str
    # Created by PreBind for the pod's extended resources: Unreserve deletes it.
    created: bool = False


class ClaimBinder:
    def __init__(
        self,
        api: ApiClient,
        cache: WrittenClaims,
        *,
        request_timeout: float = 10.0,
        may_bind: Callable[[], bool] | None = None,
    ) -> None:
        self._api = api
        self._cache = cache
        self._request_timeout = request_timeout
        self._may_bind = may_bind
        self._writer = _ClaimWriter(api, cache, request_timeout=request_timeout, may_bind=may_bind)
        # Uids of the leftover claims being deleted: a pod tried again meanwhile deletes once.
        self._deleting: set[str] = set()

    def observe(self, change: Change) -> None:
        """Told every change the cache applied: forgets the configurations of a changed class."""
        if change.kind == Kind.DEVICE_CLASS:
            self._writer.class_changed(change.name)

    def has_leftover(self, uid: str) -> bool:
        """Whether an earlier attempt left a claim for the pod's extended resources."""
        return self._cache.extended_claim_of(uid) is not None

    def leftover(self, pod: PodRef) -> Coroutine[Any, Any, None] | None:
        """kube's PostFilter for a pod that fits nowhere: the deletion of the claim an earlier
        attempt made for its extended resources (its devices stay taken while it exists, and
        none of it is of use now), or None when there is none or it is being deleted. Its
        deletion is a cluster event: the pod is tried again, on a fresh claim."""
        left = self._cache.extended_claim_of(pod.uid)
        if left is None or left[1] in self._deleting:
            return None
        return self._delete_leftover(pod, *left)

    async def _delete_leftover(self, pod: PodRef, name: str, uid: str) -> None:
        self._deleting.add(uid)
        try:
            log.info(
                "deleting claim %s/%s left by an earlier attempt to schedule pod %s",
                pod.namespace,
                name,
                pod.name,
            )
            await self._delete_claim(pod.namespace, name, uid)
        finally:
            self._deleting.discard(uid)

    async def pre_bind(self, pod: PodRef, claims: Sequence[ClaimReservationLike]) -> list[Reserved]:
        """Writes every claim's allocation and reservation for ``pod``; the claims reserved.
        PreBindError (after taking back what it reserved) if one fails; NotLeading if the lease
        may be lost (nothing more written). A claim an earlier attempt made for the pod's
        extended resources goes first: the one written now (if any) replaces it."""
        left = self._cache.extended_claim_of(pod.uid)
        if left is not None:
            await self._delete_leftover(pod, *left)
        done: list[Reserved] = []
        try:
            for claim in claims:
                if claim.extended is not None:
                    await self._bind_extended(pod, claim, claim.extended, done)
                elif await self._writer.bind(pod, claim):
                    done.append(Reserved(pod.namespace, claim.name, claim.uid))
        except PreBindError:
            await self.unreserve(pod, done)
            raise
        return done

    async def unreserve(self, pod: PodRef, reserved: Sequence[Reserved]) -> None:
        """Removes ``pod`` from the claims' ``status.reservedFor``; failures are logged (the
        pod, retried, reserves again, and the resourceclaim controller drops reservations of
        pods that are gone)."""
        for claim in reserved:
            if claim.created:
                await self._delete_claim(claim.namespace, claim.name, claim.uid)
                continue
            await self._writer.unreserve(pod, claim)

    # -----------------------------------------------------------------------------------------

    async def _bind_extended(
        self,
        pod: PodRef,
        claim: ClaimReservationLike,
        extended: bytes,
        done: list[Reserved],
    ) -> None:
        """kube's bindClaim for the claim of the pod's extended resources: created, written,
        then recorded in the pod's status. The created claim is in ``done`` as soon as it
        exists, so a failure deletes it."""
        # The claim an earlier attempt left (the plan's "replaces") is deleted by pre_bind.
        plan = orjson.loads(extended)
        body = {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {
                "generateName": f"{pod.name}-extended-resources-",
                "namespace": pod.namespace,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": pod.name,
                        "uid": pod.uid,
                        "controller": True,
                    }
                ],
                "annotations": {EXTENDED_RESOURCE_CLAIM_ANNOTATION: "true"},
            },
            "spec": plan["spec"],
        }
        try:
            answer = await write(
                self._api,
                "POST",
                f"{RESOURCE_API}/namespaces/{pod.namespace}/resourceclaims",
                body,
                timeout=self._request_timeout,
                may_bind=self._may_bind,
            )
        except PreBindError as err:
            raise PreBindError(
                f"create claim for extended resources {pod.namespace}/{claim.name}: {err}",
                err.status,
            ) from err
        created = orjson.loads(answer)
        meta = created.get("metadata", {}) if isinstance(created, dict) else {}
        name, uid = str(meta.get("name", "")), str(meta.get("uid", ""))
        if not name or not uid:
            raise PreBindError(f"create claim for extended resources: no name in {created!r}")
        done.append(Reserved(pod.namespace, name, uid, created=True))
        self._cache.extended_claim_created(pod.uid, claim.uid, name, uid)
        log.info(
            "created claim %s/%s for the extended resources of pod %s",
            pod.namespace,
            name,
            pod.name,
        )
        # The claim as created is the one to write (kube's bindClaim gets it from the create).
        await self._writer.bind(pod, _Created(name, uid, claim.allocation), created)
        status = {
            "metadata": {"uid": pod.uid},
            "status": {
                "extendedResourceClaimStatus": {
                    "requestMappings": plan["requestMappings"],
                    "resourceClaimName": name,
                }
            },
        }
        try:
            await write(
                self._api,
                "PATCH",
                f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/status",
                status,
                content_type=_STRATEGIC_MERGE_PATCH,
                timeout=self._request_timeout,
                may_bind=self._may_bind,
            )
        except PreBindError as err:
            raise PreBindError(
                f"update pod {pod.namespace}/{pod.name} ExtendedResourceClaimStatus: {err}",
                err.status,
            ) from err

    async def _delete_claim(self, namespace: str, name: str, uid: str) -> None:
        """kube's deleteClaim: the finalizer removed first (it protects allocated claims), then
        the claim deleted; already gone is fine. Failures are logged: a claim left behind is
        deleted by the pod's next PreBind."""
        path = _claim_path(namespace, name)
        try:
            for _ in range(_ATTEMPTS):
                body = await write(
                    self._api, "GET", path, None, timeout=self._request_timeout, may_bind=None
                )
                obj = orjson.loads(body)
                metadata = obj.setdefault("metadata", {}) if isinstance(obj, dict) else {}
                if metadata.get("uid") != uid:
                    return
                finalizers = list(metadata.get("finalizers") or [])
                if FINALIZER not in finalizers:
                    break
                metadata["finalizers"] = [f for f in finalizers if f != FINALIZER]
                try:
                    await self._writer.put(
                        path, obj, f"remove finalizer of claim {namespace}/{name}"
                    )
                    break
                except PreBindError as err:
                    if err.status != _CONFLICT:
                        raise
            await write(
                self._api,
                "DELETE",
                path,
                {"preconditions": {"uid": uid}},
                timeout=self._request_timeout,
                may_bind=None,
            )
            log.info("deleted claim %s/%s", namespace, name)
        except PreBindError as err:
            if err.status == _NOT_FOUND:
                return
            log.warning("delete claim %s/%s: %s", namespace, name, err)


class _ClaimWriter:
    """kube's bindClaim: one claim's allocation (with its devices' configuration) and the pod's
    reservation written to ``status``; the claim is read only when a first patch is refused for
    its state, and again on a conflict."""

    def __init__(
        self,
        api: ApiClient,
        cache: WrittenClaims,
        *,
        request_timeout: float,
        may_bind: Callable[[], bool] | None,
    ) -> None:
        self._api = api
        self._cache = cache
        self._request_timeout = request_timeout
        self._may_bind = may_bind
        # DeviceClass name -> its spec.config entries; dropped when the informer shows a change.
        self._class_configs: dict[str, list[dict[str, Any]]] = {}

    def class_changed(self, name: str) -> None:
        """DeviceClass ``name`` changed: its configurations are read again when next used."""
        self._class_configs.pop(name, None)

    async def bind(
        self, pod: PodRef, claim: ClaimReservationLike, known: dict[str, Any] | None = None
    ) -> bool:
        """kube's bindClaim; True once the pod is in the claim's reservedFor by this write (a
        reservation patch is such a write, whatever the claim held), False if the claim read
        shows it there already. ``known``: the claim as PreBind just created it."""
        ref = f"{pod.namespace}/{claim.name}"
        path = _claim_path(pod.namespace, claim.name)
        allocation = orjson.loads(claim.allocation) if claim.allocation is not None else None
        what = "allocation and reservation" if allocation is not None else "reservation"
        obj = known
        if obj is None:
            if allocation is None:
                if await self._reserve_by_patch(pod, claim, ref, path):
                    return True
            else:
                obj = await self._finalizer_by_patch(claim, ref, path)
        last: PreBindError | None = None
        for _ in range(_ATTEMPTS):
            if obj is None:
                obj = await self._allocated_or_ours(path, claim, allocation is not None)
            metadata = obj.setdefault("metadata", {})
            status = obj.get("status") or {}
            obj["status"] = status
            if metadata.get("uid") != claim.uid or metadata.get("deletionTimestamp"):
                raise PreBindError(f"claim {ref} got deleted in the meantime")
            reserved = list(status.get("reservedFor") or [])
            if any(r.get("uid") == pod.uid for r in reserved):
                return False
            if allocation is not None and status.get("allocation") is not None:
                raise PreBindError(f"claim {ref} got allocated elsewhere in the meantime")
            try:
                if allocation is not None:
                    finalizers = list(metadata.get("finalizers") or [])
                    if FINALIZER not in finalizers:
                        metadata["finalizers"] = [*finalizers, FINALIZER]
                        obj = await self.put(path, obj, f"add finalizer to claim {ref}")
                        status = obj.get("status") or {}
                        obj["status"] = status
                    status["allocation"] = await self._with_config(allocation, obj)
                status["reservedFor"] = [
                    *reserved,
                    {"resource": "pods", "name": pod.name, "uid": pod.uid},
                ]
                await self.put(f"{path}/status", obj, f"add {what} to claim {ref}")
            except PreBindError as err:
                if err.status != _CONFLICT:
                    raise
                last = err  # changed meanwhile: read it again
                obj = None
                continue
            self._cache.claim_written(pod.uid, claim.uid)
            log.info("reserved claim %s for pod %s (%s)", ref, pod.name, what)
            return True
        raise last or PreBindError(f"add {what} to claim {ref}: conflict")

    async def unreserve(self, pod: PodRef, claim: Reserved) -> None:
        """``pod`` removed from the claim's ``status.reservedFor`` (a strategic merge patch
        deleting its entry by uid, as kube's Unreserve); a failure is logged."""
        patch = {
            "metadata": {"uid": claim.uid},
            "status": {"reservedFor": [{"$patch": "delete", "uid": pod.uid}]},
        }
        try:
            await write(
                self._api,
                "PATCH",
                f"{_claim_path(claim.namespace, claim.name)}/status",
                patch,
                content_type=_STRATEGIC_MERGE_PATCH,
                timeout=self._request_timeout,
                may_bind=self._may_bind,
            )
        except PreBindError as err:
            log.warning(
                "unreserve %s/%s for pod %s: %s", claim.namespace, claim.name, pod.name, err
            )

    async def _patch(self, path: str, patch: dict[str, Any], name: str, what: str) -> Any:
        """A strategic merge patch of the claim; its answer, or None when it was refused for
        the claim's state (`_READ_AND_RETRY`: the caller then reads the claim)."""
        try:
            body = await write(
                self._api,
                "PATCH",
                path,
                patch,
                content_type=_STRATEGIC_MERGE_PATCH,
                timeout=self._request_timeout,
                may_bind=self._may_bind,
            )
        except PreBindError as err:
            if err.status in _READ_AND_RETRY:
                return None
            if err.status == _NOT_FOUND:
                raise PreBindError(f'resourceclaims.resource.k8s.io "{name}" not found') from err
            raise PreBindError(f"{what}: {err}", err.status) from err
        return orjson.loads(body)

    async def _finalizer_by_patch(
        self, claim: ClaimReservationLike, ref: str, path: str
    ) -> dict[str, Any] | None:
        """The finalizer added to the claim as it stands (finalizers merge as a set); the claim
        it answers, to write the allocation from, or None when the claim is to be read."""
        patch = {"metadata": {"uid": claim.uid, "finalizers": [FINALIZER]}}
        answer = await self._patch(path, patch, claim.name, f"add finalizer to claim {ref}")
        return answer if isinstance(answer, dict) else None

    async def _reserve_by_patch(
        self, pod: PodRef, claim: ClaimReservationLike, ref: str, path: str
    ) -> bool:
        """The pod added to the reservedFor of a claim allocated already, in one patch; False
        when the claim is to be read."""
        patch = {
            "metadata": {"uid": claim.uid},
            "status": {"reservedFor": [{"resource": "pods", "name": pod.name, "uid": pod.uid}]},
        }
        what = f"add reservation to claim {ref}"
        answer = await self._patch(f"{path}/status", patch, claim.name, what)
        if answer is None:
            return False
        metadata = answer.get("metadata") if isinstance(answer, dict) else None
        if isinstance(metadata, dict) and metadata.get("deletionTimestamp"):
            # kube reads the claim before reserving and refuses one being deleted: taken back.
            await self.unreserve(pod, Reserved(pod.namespace, claim.name, claim.uid))
            raise PreBindError(f"claim {ref} got deleted in the meantime")
        self._cache.claim_written(pod.uid, claim.uid)
        log.info("reserved claim %s for pod %s (reservation)", ref, pod.name)
        return True

    async def _allocated_or_ours(
        self, path: str, claim: ClaimReservationLike, ours: bool
    ) -> dict[str, Any]:
        """The claim, read fresh. A claim this pod only reserves, shared with a pod whose
        PreBind is writing its allocation, is read again until that allocation shows: the
        apiserver refuses a reservation on an unallocated claim."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._request_timeout
        while True:
            obj = await self._read(path, claim.name)
            allocated = (obj.get("status") or {}).get("allocation") is not None
            if ours or allocated or loop.time() >= deadline:
                return obj
            await asyncio.sleep(_ALLOCATION_POLL_SECONDS)

    async def _read(self, path: str, name: str) -> dict[str, Any]:
        try:
            body = await write(
                self._api,
                "GET",
                path,
                None,
                timeout=self._request_timeout,
                may_bind=None,
            )
        except PreBindError as err:
            if err.status == _NOT_FOUND:
                raise PreBindError(f'resourceclaims.resource.k8s.io "{name}" not found') from err
            raise
        decoded = orjson.loads(body)
        if not isinstance(decoded, dict):
            raise PreBindError(f"resourceclaim {name}: not an object")
        return decoded

    async def put(self, path: str, obj: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            body = await write(
                self._api,
                "PUT",
                path,
                obj,
                timeout=self._request_timeout,
                may_bind=self._may_bind,
            )
        except PreBindError as err:
            raise PreBindError(f"{what}: {err}", err.status) from err
        decoded = orjson.loads(body)
        return decoded if isinstance(decoded, dict) else obj

    async def _with_config(self, allocation: dict[str, Any], claim: dict[str, Any]) -> Any:
        """The allocation with ``devices.config``: each used class's configurations for the
        requests it served (FromClass), then the claim's own that apply (FromClaim)."""
        devices = claim.get("spec", {}).get("devices", {})
        results = allocation.get("devices", {}).get("results", [])
        used = list(dict.fromkeys(str(r["request"]) for r in results))
        classes = _request_classes(devices.get("requests") or [])
        config: list[dict[str, Any]] = []
        for request in used:
            class_name = classes.get(request)
            if class_name is None:
                continue
            for entry in await self._class_config(class_name):
                config.append({"source": "FromClass", "requests": [request], **entry})
        served = set(used) | {r.split("/", 1)[0] for r in used}
        for entry in devices.get("config") or []:
            requests = entry.get("requests") or []
            if not requests or served.intersection(requests):
                config.append({"source": "FromClaim", **entry})
        if config:
            allocation.setdefault("devices", {})["config"] = config
        return allocation

    async def _class_config(self, name: str) -> list[dict[str, Any]]:
        cached = self._class_configs.get(name)
        if cached is not None:
            return cached
        body = await write(
            self._api,
            "GET",
            f"{RESOURCE_API}/deviceclasses/{name}",
            None,
            timeout=self._request_timeout,
            may_bind=None,
        )
        decoded = orjson.loads(body)
        entries = decoded.get("spec", {}).get("config") or [] if isinstance(decoded, dict) else []
        self._class_configs[name] = entries
        return list(entries)


def _claim_path(namespace: str, name: str) -> str:
    return f"{RESOURCE_API}/namespaces/{namespace}/resourceclaims/{name}"


def _request_classes(requests: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Request name (``name`` or ``name/subrequest``) -> its DeviceClass."""
    out: dict[str, str] = {}
    for r in requests:
        name = str(r.get("name", ""))
        exactly = r.get("exactly")
        if isinstance(exactly, dict) and "deviceClassName" in exactly:
            out[name] = str(exactly["deviceClassName"])
        for sub in r.get("firstAvailable") or []:
            if "deviceClassName" in sub:
                out[f"{name}/{sub.get('name', '')}"] = str(sub["deviceClassName"])
    return out
