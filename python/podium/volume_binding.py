"""VolumeBinding's PreBind: bind the volumes a placement counts on, then let the pod's Binding go.

The core's VolumeBinding filter finds, for each unbound ``WaitForFirstConsumer`` claim of a pod,
a free PersistentVolume reachable from the node, or a class that provisions there; the pod's
decision says which (``Decision.volumes``). Before the pod is bound, as kube-scheduler's binder
does (``BindPodVolumes`` in pkg/scheduler/framework/plugins/volumebinding/binder.go):

- a claim matched to a PV: the PV's ``spec.claimRef`` is set to the claim (with
  ``pv.kubernetes.io/bound-by-controller: "yes"`` when the PV was not already pre-bound to it);
- a claim to provision: ``volume.kubernetes.io/selected-node`` is set on it, for the
  provisioner;
- then it waits, up to the bind timeout (VolumeBinding's ``bindTimeoutSeconds``, 600 s as in
  kube), until the PV controller reports every claim fully bound (``spec.volumeName`` and
  ``pv.kubernetes.io/bind-completed``), reading podium's own cache: each change to a PV, claim,
  node or the pod wakes the check, so nothing polls the apiserver.

The writes are merge patches that carry the cached ``resourceVersion``: a PV someone else took
meanwhile answers 409 and nothing is overwritten. Before a write is sent the leader lease is
checked, as before the Binding. If the binding fails (a write refused, the PV controller resets
the claimRef, the provisioner gives up, the pod or node goes away, or the time is up) what podium
wrote is undone where nothing has been built on it yet (the claim is still unbound): the
claimRef and annotation it added to a PV, the selected-node it added to a claim. The binder then
forgets the pod and requeues it with backoff, with kube's ``FailedScheduling`` message
(``running PreBind plugin "VolumeBinding": binding volumes: ...``).

Two pods never get one PV: the cache reserves a PV for the pod that counts on it from its
assumption until the PV's claimRef shows (``ClusterState.assume`` checks the decision's PVs are
still free), and a claimRef for one claim keeps every other claim off the PV.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from podium._core import EventType, Kind
from podium.pods import PodRef
from podium.prebind import NotLeading, PreBindError, write

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium._core import Change

__all__ = [
    "BIND_COMPLETED_ANNOTATION",
    "BOUND_BY_CONTROLLER_ANNOTATION",
    "DEFAULT_BIND_TIMEOUT",
    "PLUGIN_NAME",
    "SELECTED_NODE_ANNOTATION",
    "NotLeading",
    "PreBindError",
    "VolumeBinder",
    "claim_bindings",
]

log = logging.getLogger(__name__)

PLUGIN_NAME = "VolumeBinding"
BOUND_BY_CONTROLLER_ANNOTATION = "pv.kubernetes.io/bound-by-controller"
BIND_COMPLETED_ANNOTATION = "pv.kubernetes.io/bind-completed"
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"
# kube-scheduler's VolumeBindingArgs.bindTimeoutSeconds default.
DEFAULT_BIND_TIMEOUT = 600.0
# A relist replaces cached objects without a change per object: the check runs this often even
# when nothing woke it. It reads the cache only.
_RECHECK_INTERVAL = 5.0
_MERGE_PATCH = "application/merge-patch+json"


class ClaimBindingLike(Protocol):
    """``podium._core.ClaimBinding``."""

    @property
    def claim(self) -> str: ...
    @property
    def volume(self) -> str | None: ...


def claim_bindings(decision: object) -> Sequence[ClaimBindingLike]:
    """The claim bindings a decision carries; none for decisions that have no such field."""
    # getattr, not isinstance against a runtime-checkable Protocol: this runs once per bind, and
    # such an isinstance inspects every member of the Protocol each time.
    found: Sequence[ClaimBindingLike] = getattr(decision, "volumes", ())
    return found


class ClaimView(Protocol):
    """``podium._core.ClaimInfo``: a claim as the cache has it."""

    @property
    def uid(self) -> str: ...
    @property
    def resource_version(self) -> int: ...
    @property
    def volume_name(self) -> str | None: ...
    @property
    def selected_node(self) -> str | None: ...
    @property
    def fully_bound(self) -> bool: ...


class VolumeView(Protocol):
    """``podium._core.VolumeInfo``: a PV as the cache has it."""

    @property
    def resource_version(self) -> int: ...
    @property
    def claim(self) -> tuple[str, str, str] | None: ...


class VolumeCache(Protocol):
    """The part of ``podium._core.ClusterState`` PreBind reads."""

    def claim(self, namespace: str, name: str) -> ClaimView | None: ...
    def volume(self, name: str) -> VolumeView | None: ...
    def volume_fits_node(self, volume: str, node: str) -> bool | None: ...
    def is_assumed(self, uid: str) -> bool: ...
    def has_node(self, node: str) -> bool: ...


@dataclass
class _StaticBinding:
    """A claim to bind to a PV, and what podium wrote to the PV for it."""

    claim: str
    volume: str
    # resourceVersion of the PV podium's patch produced (0: podium wrote nothing).
    written: int = 0
    # The patch set the claimRef where there was none (undo removes it).
    set_claim_ref: bool = False
    set_annotation: bool = False


@dataclass
class _Provision:
    """A claim to provision on the node, and what podium wrote to it."""

    claim: str
    written: int = 0
    set_annotation: bool = False


@dataclass
class _Plan:
    namespace: str
    name: str
    uid: str
    node: str
    static: list[_StaticBinding]
    provisions: list[_Provision]

    def keys(self) -> Iterator[tuple[str, ...]]:
        """What wakes its check: its PVs, claims, node and pod."""
        yield ("pod", self.uid)
        yield ("node", self.node)
        for s in self.static:
            yield ("pv", s.volume)
            yield ("pvc", self.namespace, s.claim)
        for p in self.provisions:
            yield ("pvc", self.namespace, p.claim)


class VolumeBinder:
    def __init__(
        self,
        api: ApiClient,
        cache: VolumeCache,
        *,
        bind_timeout: float = DEFAULT_BIND_TIMEOUT,
        request_timeout: float = 10.0,
        may_bind: Callable[[], bool] | None = None,
    ) -> None:
        if bind_timeout < 0:
            raise ValueError(f"bind_timeout must be >= 0 (got {bind_timeout})")
        self._api = api
        self._cache = cache
        self._bind_timeout = bind_timeout
        self._request_timeout = request_timeout
        self._may_bind = may_bind
        # Wake-up key -> the events of the checks waiting on it.
        self._waiters: dict[tuple[str, ...], set[asyncio.Event]] = {}

    def observe(self, change: Change) -> None:
        """Told every change the cache applied: wakes the checks the object concerns."""
        if not self._waiters:
            return
        kind = change.kind
        if kind == Kind.PERSISTENT_VOLUME:
            key: tuple[str, ...] = ("pv", change.name)
        elif kind == Kind.PERSISTENT_VOLUME_CLAIM:
            key = ("pvc", change.namespace, change.name)
        elif kind == Kind.POD:
            key = ("pod", change.uid)
        elif kind == Kind.NODE and change.event == EventType.DELETED:
            key = ("node", change.name)
        else:
            return
        for event in self._waiters.get(key, ()):
            event.set()

    async def pre_bind(self, pod: PodRef, node: str, bindings: Sequence[ClaimBindingLike]) -> None:
        """Bind ``bindings`` for ``pod`` placed on ``node`` and wait until the PV controller has
        bound every claim. PreBindError (after undoing its writes) if that fails or times out;
        NotLeading if the lease may be lost (nothing more written)."""
        plan = _Plan(
            pod.namespace,
            pod.name,
            pod.uid,
            node,
            [_StaticBinding(b.claim, b.volume) for b in bindings if b.volume is not None],
            [_Provision(b.claim) for b in bindings if b.volume is None],
        )
        if self._all_bound(plan):
            # kube's AssumePodVolumes: every claim fully bound already, nothing to do.
            return
        try:
            await self._update_api(plan)
            await self._wait(plan)
        except PreBindError as err:
            log.info(
                "binding volumes of %s/%s on %s failed: %s; undoing",
                plan.namespace,
                plan.name,
                node,
                err,
            )
            await self._undo(plan)
            raise

    # -----------------------------------------------------------------------------------------
    # Writes

    async def _update_api(self, plan: _Plan) -> None:
        """kube's bindAPIUpdate: claimRef on each chosen PV, selected-node on each claim to
        provision."""
        for s in plan.static:
            claim = self._cache.claim(plan.namespace, s.claim)
            pv = self._cache.volume(s.volume)
            if claim is None:
                raise PreBindError(f'persistentvolumeclaim "{s.claim}" not found')
            if pv is None:
                raise PreBindError(f'persistentvolume "{s.volume}" not found')
            if claim.fully_bound:
                continue
            bound_to_claim = pv.claim is not None and pv.claim[:2] == (plan.namespace, s.claim)
            if bound_to_claim and pv.claim is not None and pv.claim[2] == claim.uid:
                # Pre-bound to this very claim already (by a user, or an earlier attempt).
                continue
            # kube's GetBindVolumeToClaim: the claim's full reference, and bound-by-controller
            # unless the PV was pre-bound to this claim (by name, or with no uid yet).
            annotations: dict[str, Any] = {}
            pre_bound = bound_to_claim and pv.claim is not None and pv.claim[2] in ("", claim.uid)
            if not pre_bound:
                annotations[BOUND_BY_CONTROLLER_ANNOTATION] = "yes"
            patch: dict[str, Any] = {
                "metadata": _metadata(pv.resource_version, annotations),
                "spec": {
                    "claimRef": {
                        "kind": "PersistentVolumeClaim",
                        "apiVersion": "v1",
                        "namespace": plan.namespace,
                        "name": s.claim,
                        "uid": claim.uid,
                        "resourceVersion": str(claim.resource_version),
                    }
                },
            }
            s.written = await self._patch(f"/api/v1/persistentvolumes/{s.volume}", patch)
            s.set_claim_ref = pv.claim is None
            s.set_annotation = bool(annotations)
            log.info(
                "PersistentVolume %s bound to claim %s/%s for pod %s; waiting for the binding",
                s.volume,
                plan.namespace,
                s.claim,
                plan.name,
            )
        for p in plan.provisions:
            claim = self._cache.claim(plan.namespace, p.claim)
            if claim is None:
                raise PreBindError(f'persistentvolumeclaim "{p.claim}" not found')
            if claim.fully_bound or claim.selected_node == plan.node:
                continue
            patch = {
                "metadata": _metadata(claim.resource_version, {SELECTED_NODE_ANNOTATION: plan.node})
            }
            path = f"/api/v1/namespaces/{plan.namespace}/persistentvolumeclaims/{p.claim}"
            p.written = await self._patch(path, patch)
            p.set_annotation = True

    async def _patch(self, path: str, patch: dict[str, Any]) -> int:
        """Sends one merge patch; the resourceVersion it produced."""
        body = await write(
            self._api,
            "PATCH",
            path,
            patch,
            content_type=_MERGE_PATCH,
            timeout=self._request_timeout,
            may_bind=self._may_bind,
        )
        try:
            written = orjson.loads(body)["metadata"]["resourceVersion"]
            return int(written)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return 0

    # -----------------------------------------------------------------------------------------
    # Waiting for the PV controller

    async def _wait(self, plan: _Plan) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._bind_timeout
        event = asyncio.Event()
        keys = list(plan.keys())
        for key in keys:
            self._waiters.setdefault(key, set()).add(event)
        try:
            while True:
                event.clear()
                if self._check(plan):
                    log.info("all PVCs for pod %s/%s are bound", plan.namespace, plan.name)
                    return
                left = deadline - loop.time()
                if left <= 0:
                    raise PreBindError("binding volumes: context deadline exceeded")
                try:
                    async with asyncio.timeout(min(left, _RECHECK_INTERVAL)):
                        await event.wait()
                except TimeoutError:
                    pass
        finally:
            for key in keys:
                waiting = self._waiters.get(key)
                if waiting is not None:
                    waiting.discard(event)
                    if not waiting:
                        del self._waiters[key]

    def _check(self, plan: _Plan) -> bool:
        """kube's checkBindings, on the cache: True once every claim is fully bound;
        PreBindError when binding can no longer succeed; False to wait on."""
        cache = self._cache
        if not cache.is_assumed(plan.uid):
            # Deleted, or bound by someone else, or its node went away.
            raise PreBindError(
                f"binding volumes: pod {plan.namespace}/{plan.name} is no longer assumed on "
                f"node {plan.node!r}"
            )
        if not cache.has_node(plan.node):
            raise PreBindError(
                f'binding volumes: failed to get node "{plan.node}": node "{plan.node}" not found'
            )
        for s in plan.static:
            pv = cache.volume(s.volume)
            claim = cache.claim(plan.namespace, s.claim)
            if pv is None or claim is None:
                missing = f'pv "{s.volume}"' if pv is None else f'pvc "{s.claim}"'
                raise PreBindError(f"binding volumes: failed to check binding: {missing} not found")
            if pv.resource_version < s.written:
                # The cache has not seen podium's own write yet.
                return False
            self._check_affinity(s.volume, plan.node)
            if pv.claim is None or not pv.claim[2]:
                raise PreBindError(f'binding volumes: ClaimRef got reset for pv "{s.volume}"')
            if not claim.fully_bound:
                return False
        for p in plan.provisions:
            claim = cache.claim(plan.namespace, p.claim)
            if claim is None:
                raise PreBindError(
                    f'binding volumes: failed to check provisioning pvc: pvc "{p.claim}" not found'
                )
            if claim.resource_version < p.written:
                return False
            if claim.selected_node is None:
                raise PreBindError(
                    f'binding volumes: selectedNode annotation reset for PVC "{p.claim}"'
                )
            if claim.selected_node != plan.node:
                # The provisioner removes or changes it when it cannot provision there.
                raise PreBindError(f'binding volumes: provisioning failed for PVC "{p.claim}"')
            if claim.volume_name is not None:
                if cache.volume(claim.volume_name) is None:
                    return False  # the new PV is not cached yet
                self._check_affinity(claim.volume_name, plan.node)
            if not claim.fully_bound:
                return False
        return True

    def _check_affinity(self, volume: str, node: str) -> None:
        if self._cache.volume_fits_node(volume, node) is False:
            raise PreBindError(
                f'binding volumes: pv "{volume}" node affinity doesn\'t match node "{node}": '
                "no matching NodeSelectorTerms"
            )

    def _all_bound(self, plan: _Plan) -> bool:
        claims = [s.claim for s in plan.static] + [p.claim for p in plan.provisions]
        for name in claims:
            claim = self._cache.claim(plan.namespace, name)
            if claim is None or not claim.fully_bound:
                return False
        return True

    # -----------------------------------------------------------------------------------------
    # Undo

    async def _undo(self, plan: _Plan) -> None:
        """Takes back what podium wrote, where the claim is still unbound: once the PV
        controller has bound a claim, the binding stands (the pod, retried, follows it)."""
        for s in plan.static:
            if not s.set_claim_ref:
                # Nothing written, or the PV was pre-bound by name before (left as it was).
                continue
            pv = self._cache.volume(s.volume)
            claim = self._cache.claim(plan.namespace, s.claim)
            if pv is None or (claim is not None and claim.volume_name is not None):
                continue
            seen = pv.resource_version >= s.written
            if seen and (pv.claim is None or pv.claim[:2] != (plan.namespace, s.claim)):
                continue  # someone changed it since: theirs now
            metadata = _metadata(
                max(pv.resource_version, s.written),
                {BOUND_BY_CONTROLLER_ANNOTATION: None} if s.set_annotation else {},
            )
            with self._undo_errors(f"PersistentVolume {s.volume}"):
                await self._patch(
                    f"/api/v1/persistentvolumes/{s.volume}",
                    {"metadata": metadata, "spec": {"claimRef": None}},
                )
        for p in plan.provisions:
            if not p.set_annotation:
                continue
            claim = self._cache.claim(plan.namespace, p.claim)
            if claim is None or claim.volume_name is not None:
                continue
            seen = claim.resource_version >= p.written
            if seen and claim.selected_node != plan.node:
                continue
            metadata = _metadata(
                max(claim.resource_version, p.written), {SELECTED_NODE_ANNOTATION: None}
            )
            path = f"/api/v1/namespaces/{plan.namespace}/persistentvolumeclaims/{p.claim}"
            with self._undo_errors(f"PersistentVolumeClaim {plan.namespace}/{p.claim}"):
                await self._patch(path, {"metadata": metadata})

    @contextmanager
    def _undo_errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except PreBindError as err:
            # Changed meanwhile (409) or unreachable: the PV controller settles it; a claimRef
            # left behind only keeps the PV for the pod's own claim.
            log.warning("undo on %s not done: %s", what, err)


def _metadata(resource_version: int, annotations: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if resource_version:
        # A precondition: a PV or claim changed since podium read it answers 409.
        metadata["resourceVersion"] = str(resource_version)
    if annotations:
        metadata["annotations"] = annotations
    return metadata
