"""What podium's Python parts read of a pending pod, declared once, and the key of its gang.

``podium._core.PendingPod`` has all of it; the queue, the binder, preemption and gang logic are
written against ``PodLike`` so their tests can hand them plain dataclasses.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["GangKey", "PodLike", "PodRef", "gang_key"]

# (namespace, PodGroup name): a gang is the pods labelled with one PodGroup in one namespace.
GangKey = tuple[str, str]


class PodRef(Protocol):
    """A pod by identity: what the PreBind plugins and the binder name it by."""

    @property
    def uid(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...


class PodLike(PodRef, Protocol):
    @property
    def priority(self) -> int: ...
    @property
    def created(self) -> float: ...
    @property
    def pod_group(self) -> str | None:
        """The ``scheduling.x-k8s.io/pod-group`` label's value, if any."""
        ...


def gang_key(pod: PodLike) -> GangKey | None:
    """The gang ``pod`` belongs to; None for a pod outside gangs."""
    return (pod.namespace, pod.pod_group) if pod.pod_group else None
