"""Replays kube-scheduler's outcome through podium's core and lists every disagreement.

The cache is fed the apiserver's list pages as they came (``ClusterState.apply_list``, as the
reflector does). The profile is podium's default one, renamed to the schedulerName the pods
carry so the core counts them as its own. Why judging against the final state is sound is
argued in ``generator``'s docstring. For a pod both leave pending, the FailedScheduling
messages are compared too (``messages``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from podium import _core
from podium.config import default_config

from . import messages

JSON = dict[str, Any]


@dataclass(frozen=True)
class Mismatch:
    pod: JSON
    kube: str  # kube-scheduler's verdict
    podium: str  # podium's, with its reasons

    def describe(self) -> str:
        meta = self.pod["metadata"]
        spec = {k: v for k, v in self.pod["spec"].items() if k not in _SPEC_NOISE}
        return (
            f"pod {meta['namespace']}/{meta['name']} labels={meta.get('labels', {})}\n"
            f"  kube-scheduler: {self.kube}\n  podium: {self.podium}\n"
            f"  spec: {orjson.dumps(spec).decode()}"
        )


# Fields the apiserver defaults that say nothing about scheduling.
_SPEC_NOISE = frozenset(
    {
        "dnsPolicy",
        "restartPolicy",
        "securityContext",
        "terminationGracePeriodSeconds",
        "enableServiceLinks",
        "preemptionPolicy",
    }
)


@dataclass(frozen=True)
class Outcome:
    """What kube-scheduler did, as listed from the apiserver afterwards."""

    node_pages: Sequence[bytes]
    pod_pages: Sequence[bytes]
    # Kind name -> pages, for PVs, claims and StorageClasses.
    volume_pages: Mapping[str, Sequence[bytes]] = dataclasses.field(default_factory=dict)

    def pods(self) -> list[JSON]:
        return [pod for page in self.pod_pages for pod in orjson.loads(page)["items"]]


def podium_profile(scheduler_name: str) -> _core.Profile:
    profile = default_config().profiles[0]
    return _core.Profile(dataclasses.replace(profile, scheduler_name=scheduler_name).core_spec())


def load_state(scheduler_name: str, outcome: Outcome) -> _core.ClusterState:
    state = _core.ClusterState([scheduler_name])
    feeds = [(_core.Kind[name], pages) for name, pages in outcome.volume_pages.items()]
    feeds += [(_core.Kind.NODE, outcome.node_pages), (_core.Kind.POD, outcome.pod_pages)]
    for kind, pages in feeds:
        for body in pages:
            page = state.apply_list(kind, body)
            if page.errors:
                raise AssertionError(f"podium could not parse {kind.name}s: {page.errors}")
    return state


def disagreements(
    scheduler_name: str, outcome: Outcome, judged: Iterable[str]
) -> tuple[list[Mismatch], int, int]:
    """Mismatches among the pods named in ``judged`` (names in their namespace); also returns
    how many placed and pending pods were judged."""
    names = set(judged)
    state = load_state(scheduler_name, outcome)
    snapshot = state.snapshot()
    profile = podium_profile(scheduler_name)
    mismatches: list[Mismatch] = []
    placed = pending = 0
    for pod in outcome.pods():
        if pod["metadata"]["name"] not in names:
            continue
        uid = pod["metadata"]["uid"]
        node = pod["spec"].get("nodeName")
        if node:
            placed += 1
            verdict = snapshot.explain_bound(uid, profile)
            if verdict.get(node) != []:
                mismatches.append(
                    Mismatch(
                        pod,
                        f"bound it to {node}",
                        f"infeasible on {node}: {verdict.get(node, 'node unknown to podium')}",
                    )
                )
        else:
            pending += 1
            verdict = snapshot.explain(uid, profile)
            feasible = sorted(n for n, reasons in verdict.items() if not reasons)
            kube_message = _unschedulable_message(pod)
            if feasible:
                mismatches.append(
                    Mismatch(
                        pod,
                        f"left it pending: {kube_message or '(no PodScheduled condition)'}",
                        f"feasible on {len(feasible)} node(s): {', '.join(feasible[:8])}",
                    )
                )
            elif kube_message is not None:
                # Infeasible everywhere, so deciding it places nothing in the snapshot.
                (decision,) = snapshot.schedule([uid], profile)
                problems = messages.differences(kube_message, decision.message)
                if problems:
                    mismatches.append(
                        Mismatch(
                            pod,
                            f"said: {kube_message}",
                            f"said: {decision.message}\n  differences: {'; '.join(problems)}",
                        )
                    )
    return mismatches, placed, pending


def _unschedulable_message(pod: JSON) -> str | None:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition.get("type") == "PodScheduled":
            return str(condition.get("message", condition.get("reason", "")))
    return None
