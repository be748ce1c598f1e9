"""The scheduler's informer cache: reflectors feeding the Rust ``ClusterState``, and the routing
of what changed to the scheduling queue.

Every pod is cached, not only podium's: pods bound by other schedulers (or created with
``spec.nodeName``) occupy their nodes. The queue learns of podium's pending pods here, and of the
cluster events that may make parked pods schedulable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from podium._core import ClusterState, EventType, Kind, PendingPod
from podium.watch import BoundPodErrorHandler, Reflector, ReflectorOptions, Resource

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium._core import Change

log = logging.getLogger(__name__)

NODES = Resource(Kind.NODE, "/api/v1/nodes")
PODS = Resource(Kind.POD, "/api/v1/pods")
# NFD's topology-updater objects, one per node (named after it). Optional: without the CRD every
# node is a single NUMA zone. A malformed object is logged by its reflector (the message names the
# object and field) and the node is kept out of NUMA placement until the object is fixed.
NODE_RESOURCE_TOPOLOGIES = Resource(
    Kind.NODE_RESOURCE_TOPOLOGY,
    "/apis/topology.node.k8s.io/v1alpha2/noderesourcetopologies",
    optional=True,
)
PERSISTENT_VOLUMES = Resource(Kind.PERSISTENT_VOLUME, "/api/v1/persistentvolumes")
PERSISTENT_VOLUME_CLAIMS = Resource(Kind.PERSISTENT_VOLUME_CLAIM, "/api/v1/persistentvolumeclaims")
STORAGE_CLASSES = Resource(Kind.STORAGE_CLASS, "/apis/storage.k8s.io/v1/storageclasses")
# What VolumeBinding reads.
VOLUME_RESOURCES: tuple[Resource, ...] = (
    PERSISTENT_VOLUMES,
    PERSISTENT_VOLUME_CLAIMS,
    STORAGE_CLASSES,
)
# scheduler-plugins' PodGroups (gangs). Optional: without the CRD, grouped pods wait for their
# group and say so.
POD_GROUPS = Resource(Kind.POD_GROUP, "/apis/scheduling.x-k8s.io/v1alpha1/podgroups", optional=True)
# The Workload API's PodGroups (Kubernetes 1.37, beta behind the GenericWorkload feature gate and
# the scheduling.k8s.io/v1beta1 API). Optional: an apiserver that does not serve them answers
# 404, and pods linked to one with spec.schedulingGroup wait for it and say so.
WORKLOAD_POD_GROUPS = Resource(
    Kind.WORKLOAD_POD_GROUP, "/apis/scheduling.k8s.io/v1beta1/podgroups", optional=True
)
# scheduler-plugins' ElasticQuotas (CapacityScheduling). Optional: without the CRD, no quotas.
ELASTIC_QUOTAS = Resource(
    Kind.ELASTIC_QUOTA, "/apis/scheduling.x-k8s.io/v1alpha1/elasticquotas", optional=True
)
# Namespace labels, for pod affinity terms' namespaceSelector.
NAMESPACES = Resource(Kind.NAMESPACE, "/api/v1/namespaces")
# What preemption reads: pod priorities when spec.priority is unset, and disruption budgets.
# A malformed object is logged by its reflector (object and field named) and left out.
PRIORITY_CLASSES = Resource(Kind.PRIORITY_CLASS, "/apis/scheduling.k8s.io/v1/priorityclasses")
POD_DISRUPTION_BUDGETS = Resource(
    Kind.POD_DISRUPTION_BUDGET, "/apis/policy/v1/poddisruptionbudgets"
)
PREEMPTION_RESOURCES: tuple[Resource, ...] = (PRIORITY_CLASSES, POD_DISRUPTION_BUDGETS)
# What DynamicResources reads (resource.k8s.io/v1, GA since Kubernetes 1.34). Optional: on an
# apiserver that does not serve the API there are no devices, and pods with claims wait.
DEVICE_CLASSES = Resource(
    Kind.DEVICE_CLASS, "/apis/resource.k8s.io/v1/deviceclasses", optional=True
)
RESOURCE_SLICES = Resource(
    Kind.RESOURCE_SLICE, "/apis/resource.k8s.io/v1/resourceslices", optional=True
)
RESOURCE_CLAIMS = Resource(
    Kind.RESOURCE_CLAIM, "/apis/resource.k8s.io/v1/resourceclaims", optional=True
)
DRA_RESOURCES: tuple[Resource, ...] = (DEVICE_CLASSES, RESOURCE_SLICES, RESOURCE_CLAIMS)
CORE_RESOURCES: tuple[Resource, ...] = (
    NODES,
    PODS,
    NAMESPACES,
    NODE_RESOURCE_TOPOLOGIES,
    POD_GROUPS,
    WORKLOAD_POD_GROUPS,
    ELASTIC_QUOTAS,
    *VOLUME_RESOURCES,
    *PREEMPTION_RESOURCES,
    *DRA_RESOURCES,
)


class QueueSink(Protocol):
    """What the cache tells the scheduling queue."""

    def add(self, pod: PendingPod) -> None: ...
    def update(self, pod: PendingPod) -> None: ...
    def delete(self, uid: str) -> None: ...
    def move_all_to_active_or_backoff(self, reason: str) -> object: ...
    def move_group(self, key: tuple[str, str], reason: str) -> object: ...
    def move_groups(self, reason: str) -> object: ...
    def activate(self, uid: str) -> object: ...


class Cache:
    def __init__(
        self,
        api: ApiClient,
        scheduler_names: Iterable[str],
        queue: QueueSink,
        resources: Iterable[Resource] = CORE_RESOURCES,
        options: ReflectorOptions | None = None,
        on_group_change: Callable[[tuple[str, str]], None] | None = None,
        on_bound_pod_error: BoundPodErrorHandler | None = None,
    ) -> None:
        self.state = ClusterState(list(scheduler_names))
        self._queue = queue
        # Told (namespace, group) when a PodGroup or one of its pods changes.
        self._on_group_change = on_group_change
        # Told (namespace, name, uid, message) of each pod on a node podium cannot read whole
        # (say a podium.dev/allocation that is not its requests), as it is listed or changes.
        self._on_bound_pod_error = on_bound_pod_error
        # Those pods now, by uid: (namespace, name, message). Only pods with such an error are
        # kept, so this is as small as the number of them.
        self.bound_pod_errors: dict[str, tuple[str, str, str]] = {}
        self._known_pending: set[str] = set()
        # The quotas' tree errors (a bad podium.dev/parent) last logged, by quota.
        self._quota_errors: dict[str, str] = {}
        # Told every change after it is applied (VolumeBinding's PreBind waits on them).
        self.observers: list[Callable[[Change], None]] = []
        self._reflectors = [
            Reflector(
                api,
                self.state,
                resource,
                on_change=self._on_change,
                on_vanished=self._on_vanished,
                on_relist=self._on_relist,
                options=options,
                on_bound_pod_error=self._bound_pod_error,
            )
            for resource in resources
        ]

    @property
    def reflectors(self) -> list[Reflector]:
        return self._reflectors

    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self._reflectors)

    async def wait_synced(self) -> None:
        await asyncio.gather(*(r.synced.wait() for r in self._reflectors))

    async def run(self) -> None:
        """Run every reflector until cancelled."""
        async with asyncio.TaskGroup() as group:
            for reflector in self._reflectors:
                group.create_task(reflector.run(), name=f"reflector {reflector.resource.path}")

    def _on_change(self, change: Change) -> None:
        for observer in self.observers:
            observer(change)
        if self._on_group_change is not None:
            if change.kind in (Kind.POD_GROUP, Kind.WORKLOAD_POD_GROUP):
                self._on_group_change((change.namespace, change.name))
            elif change.kind == Kind.POD and change.pod_group:
                self._on_group_change((change.namespace, change.pod_group))
        if change.kind == Kind.POD:
            self._on_pod(change)
            return
        if change.kind == Kind.ELASTIC_QUOTA:
            self._quota_tree_changed()
        if change.kind in (Kind.NODE, Kind.NODE_RESOURCE_TOPOLOGY) and (
            change.relevant or change.event == EventType.DELETED
        ):
            # A node held for a pod (a nomination) may no longer take it: its pods are decided
            # again now, not after their backoff, so a hold never outlives its use.
            for uid in self.state.nominated_to(change.name):
                self._queue.activate(uid)
        if change.kind == Kind.RESOURCE_CLAIM and change.event == EventType.ADDED:
            # kube's queueing hint for a claim added: the pods that waited for it (their status
            # named it before the claim reached the cache) go on at once, without backoff.
            for uid in self.state.pending_naming_claim(change.namespace, change.name):
                pending = self.state.pending_pod(uid)
                if pending is not None:
                    self._queue.update(pending)
        if change.kind == Kind.NODE:
            if change.event in (EventType.ADDED, EventType.MODIFIED) and change.relevant:
                self._queue.move_all_to_active_or_backoff(f"Node{change.event.name.title()}")
        elif change.kind in (Kind.PRIORITY_CLASS, Kind.POD_DISRUPTION_BUDGET):
            # Only preemption reads them: nothing parked fits because of them.
            return
        elif change.kind in (Kind.POD_GROUP, Kind.WORKLOAD_POD_GROUP):
            # A group's change (its status written as other gangs are placed, too) concerns its
            # own members alone (kube's GangScheduling queueing hint).
            self._queue.move_group(
                (change.namespace, change.name), f"{change.kind.name}{change.event.name.title()}"
            )
        elif change.event in (EventType.ADDED, EventType.MODIFIED, EventType.DELETED):
            # Topology, volumes, namespaces, groups: any change may unblock a parked pod.
            self._queue.move_all_to_active_or_backoff(
                f"{change.kind.name}{change.event.name.title()}"
            )

    def _bound_pod_error(self, namespace: str, name: str, uid: str, message: str) -> None:
        if self.bound_pod_errors.get(uid) == (namespace, name, message):
            return
        self.bound_pod_errors[uid] = (namespace, name, message)
        if self._on_bound_pod_error is not None:
            self._on_bound_pod_error(namespace, name, uid, message)

    def _on_pod(self, change: Change) -> None:
        uid = change.uid
        if change.event != EventType.DELETED and change.error and change.node_name:
            self._bound_pod_error(change.namespace, change.name, uid, change.error)
        else:
            self.bound_pod_errors.pop(uid, None)
        if change.event != EventType.DELETED and self.state.is_assumed(uid):
            # Chosen and being bound: the binder owns it until the bind lands or fails.
            return
        pending = self.state.pending_pod(uid) if change.event != EventType.DELETED else None
        if pending is not None:
            if uid in self._known_pending:
                # Only a change beyond its status conditions (kube's isPodUpdated): the
                # PodScheduled=False that podium writes must not bring the pod back to be tried.
                if change.relevant:
                    self._queue.update(pending)
            else:
                self._known_pending.add(uid)
                self._queue.add(pending)
            return
        if uid in self._known_pending:
            # Bound, deleted, gated or finished: no longer the queue's.
            self._known_pending.discard(uid)
            self._queue.delete(uid)
        if change.event == EventType.DELETED or change.terminal:
            # Its resources are free now.
            self._queue.move_all_to_active_or_backoff("AssignedPodDelete")

    def _on_vanished(self, uids: list[str]) -> None:
        for uid in uids:
            if uid in self._known_pending:
                self._known_pending.discard(uid)
                self._queue.delete(uid)

    def _quota_tree_changed(self) -> None:
        """Logs each quota whose parent is bad (unknown, a cycle) once per message: the quota
        is a root meanwhile, which operators should hear of where they look first."""
        errors = {f"{q.namespace}/{q.name}": q.error for q in self.state.quotas() if q.error}
        for key, error in errors.items():
            if self._quota_errors.get(key) != error:
                log.warning("%s", error)
        self._quota_errors = errors

    def _on_relist(self, kind: Kind) -> None:
        if kind == Kind.ELASTIC_QUOTA:
            self._quota_tree_changed()
        if kind in (Kind.POD_GROUP, Kind.WORKLOAD_POD_GROUP):
            self._queue.move_groups(f"{kind.name}Relist")
            return
        if kind != Kind.POD:
            self._queue.move_all_to_active_or_backoff(f"{kind.name}Relist")
            return
        # The list applied pages without per-object changes: reconcile the queue with the cache.
        pending = {pod.uid: pod for pod in self.state.pending()}
        for uid in self._known_pending - pending.keys():
            self._queue.delete(uid)
        for uid, pod in pending.items():
            if uid in self._known_pending:
                self._queue.update(pod)
            else:
                self._queue.add(pod)
        self._known_pending = set(pending)
        self._queue.move_all_to_active_or_backoff("PodRelist")
